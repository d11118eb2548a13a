//! twofold: a self-hosted login server with TOTP two-factor authentication.
//!
//! The crate is laid out in the four layers of the design, and dependencies
//! only point inwards:
//!
//! - [`core`] is the domain without I/O: TOTP, code parsing, backup codes,
//!   provisioning URIs, the Rails-compatible encryption envelope, passwords.
//! - [`store`] is the database: migrations and one function per operation,
//!   each atomic, on SQLite or PostgreSQL.
//! - [`server`] is HTTP: the JSON API, the web portal, sessions, limits, the
//!   password-hashing pool and the audit trail.
//! - [`cli`] parses the command line, runs the admin commands and starts the
//!   server.
//!
//! [`config`] reads the environment that every command shares, and [`clock`]
//! is the one place that reads the system time.

pub mod cli;
pub mod clock;
pub mod config;
pub mod core;
pub mod server;
pub mod store;

//! End-to-end tests: the real binary, a real database, real authenticator
//! clients. One test binary, so the suite links once.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests fail loudly"
)]
#![allow(
    clippy::disallowed_methods,
    reason = "authenticator apps read the wall clock, and so do the tests that play them"
)]

mod abuse;
mod api;
mod bad_input;
mod browser;
mod cli;
mod fail2ban;
mod sessions;
mod support;

//! End-to-end tests: the real binary, a real database, real authenticator
//! clients. One test binary, so the suite links once.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, reason = "tests fail loudly")]

mod abuse;
mod api;
mod bad_input;
mod browser;
mod cli;
mod support;

//! The only module that reads the system clock.
//!
//! Everything else takes the time as a parameter, so tests can stand exactly
//! on a TOTP step boundary or just past an expiry without sleeping. Clippy's
//! `disallowed-methods` keeps other modules from calling `SystemTime::now`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, as stored in every table.
pub fn now() -> i64 {
    i64::try_from(since_epoch().as_secs()).unwrap_or(i64::MAX)
}

/// Microseconds since the Unix epoch, where events need a finer order.
pub fn now_micros() -> u64 {
    u64::try_from(since_epoch().as_micros()).unwrap_or(u64::MAX)
}

fn since_epoch() -> Duration {
    #[allow(clippy::disallowed_methods, reason = "this module is the clock")]
    let now = SystemTime::now();
    now.duration_since(UNIX_EPOCH).unwrap_or_default()
}

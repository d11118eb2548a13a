//! How strict the server is: session lifetimes, challenge rules, rate limits
//! and the second-factor lock. Every number has a documented default and an
//! environment variable (see the README's configuration table).

use crate::config::{parse_number, ConfigError};
use crate::store::limits::Limit;
use crate::store::sessions::SessionLifetime;

/// The design caps consecutive second-factor failures at 100; an operator
/// may choose fewer, never more.
pub const MAX_MFA_FAILURE_CAP: i64 = 100;

#[derive(Debug, Clone)]
pub struct Policy {
    pub session: SessionLifetime,
    /// Seconds an `mfa_token` lives.
    pub challenge_ttl: i64,
    /// Code attempts after which an `mfa_token` dies (a good code ends it
    /// sooner, so every counted attempt before death was a wrong one).
    pub challenge_max_attempts: i64,
    /// Consecutive wrong codes after which the factor locks.
    pub mfa_failure_cap: i64,
    pub password_per_account: Limit,
    pub password_per_ip: Limit,
    pub code_per_account: Limit,
    pub code_per_ip: Limit,
    /// Whether to take the client address from `X-Forwarded-For`, which is
    /// right only behind a reverse proxy that sets it.
    pub trust_forwarded_for: bool,
    /// Open connections served at once; more wait to be accepted.
    pub max_connections: usize,
    /// How long a connection may stay silent before it is closed.
    pub idle_timeout: std::time::Duration,
}

/// Reads a yes/no setting. Anything but a clear yes or no is an error: a
/// typo must not silently turn a security setting off.
fn parse_flag(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<bool, ConfigError> {
    let Some(value) = get(name) else {
        return Ok(false);
    };
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::Invalid {
            name,
            reason: "expected true or false".into(),
        }),
    }
}

impl Policy {
    pub fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let window = parse_number(get, "TWOFOLD_LIMIT_WINDOW_SECS", 900)?;
        let max_block = parse_number(get, "TWOFOLD_LIMIT_MAX_BLOCK_SECS", 86_400)?;
        let limit = |name, default| -> Result<Limit, ConfigError> {
            let max_hits = parse_number(get, name, default)?;
            Ok(Limit {
                max_hits,
                window,
                max_block: max_block.max(window),
            })
        };

        let cap: i64 = parse_number(get, "TWOFOLD_MFA_LOCK_AFTER", MAX_MFA_FAILURE_CAP)?;
        Ok(Policy {
            session: SessionLifetime {
                absolute: parse_number(get, "TWOFOLD_SESSION_TTL_SECS", 7 * 86_400)?,
                idle: parse_number(get, "TWOFOLD_SESSION_IDLE_SECS", 12 * 3_600)?,
            },
            challenge_ttl: 300,
            challenge_max_attempts: 5,
            mfa_failure_cap: cap.clamp(1, MAX_MFA_FAILURE_CAP),
            password_per_account: limit("TWOFOLD_PASSWORD_ATTEMPTS_PER_ACCOUNT", 5)?,
            password_per_ip: limit("TWOFOLD_PASSWORD_ATTEMPTS_PER_IP", 30)?,
            code_per_account: limit("TWOFOLD_CODE_ATTEMPTS_PER_ACCOUNT", 10)?,
            code_per_ip: limit("TWOFOLD_CODE_ATTEMPTS_PER_IP", 30)?,
            max_connections: parse_number(get, "TWOFOLD_MAX_CONNECTIONS", 512)?,
            idle_timeout: std::time::Duration::from_secs(
                parse_number(get, "TWOFOLD_IDLE_TIMEOUT_SECS", 15)?.max(1),
            ),
            trust_forwarded_for: parse_flag(get, "TWOFOLD_TRUST_FORWARDED_FOR")?,
        })
    }
}

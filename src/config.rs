//! Configuration shared by every command: environment variables, optionally
//! from a `.env` file, under the `TWOFOLD_*` names or the Rails
//! `ACTIVE_RECORD_ENCRYPTION_*` aliases.
//!
//! This module only reads and validates settings. It never invents keys:
//! generating them is `twofold keys init`, or `quickstart` which says so.

use std::net::SocketAddr;

use crate::core::keys::{KeyConfig, KeyText};

/// One of the three encryption keys, with every name it may be given under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyName {
    pub name: &'static str,
    pub alias: &'static str,
    pub label: &'static str,
}

pub const PRIMARY_KEY: KeyName = KeyName {
    name: "TWOFOLD_PRIMARY_KEY",
    alias: "ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY",
    label: "primary key",
};
pub const DETERMINISTIC_KEY: KeyName = KeyName {
    name: "TWOFOLD_DETERMINISTIC_KEY",
    alias: "ACTIVE_RECORD_ENCRYPTION_DETERMINISTIC_KEY",
    label: "deterministic key",
};
pub const KEY_DERIVATION_SALT: KeyName = KeyName {
    name: "TWOFOLD_KEY_DERIVATION_SALT",
    alias: "ACTIVE_RECORD_ENCRYPTION_KEY_DERIVATION_SALT",
    label: "key derivation salt",
};
pub const ALL_KEYS: [KeyName; 3] = [PRIMARY_KEY, DETERMINISTIC_KEY, KEY_DERIVATION_SALT];

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/twofold.db";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_ISSUER: &str = "twofold";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is not a valid value ({reason})")]
    Invalid { name: &'static str, reason: String },
}

/// Whether MFA can run: all three keys present, or the names of those missing.
#[derive(Debug)]
pub enum Keys {
    Present(KeyConfig),
    Missing(Vec<KeyName>),
}

#[derive(Debug)]
pub struct Config {
    pub database_url: String,
    pub listen: SocketAddr,
    pub public_url: String,
    /// Whether `public_url` was configured, or follows the listen address.
    public_url_set: bool,
    pub issuer: String,
    pub keys: Keys,
    pub policy: crate::server::policy::Policy,
    pub hasher: crate::server::hasher::HasherConfig,
}

impl Config {
    /// Reads the process environment (after `.env` has been loaded).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests need not touch the process
    /// environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());

        let listen_text = get("TWOFOLD_LISTEN").unwrap_or_else(|| DEFAULT_LISTEN.into());
        let listen = parse_listen("TWOFOLD_LISTEN", &listen_text)?;

        let public_url_set = get("TWOFOLD_PUBLIC_URL").is_some();
        let public_url = get("TWOFOLD_PUBLIC_URL").unwrap_or_else(|| format!("http://{listen}"));
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            return Err(ConfigError::Invalid {
                name: "TWOFOLD_PUBLIC_URL",
                reason: "it must start with http:// or https://".into(),
            });
        }

        Ok(Config {
            database_url: get("TWOFOLD_DATABASE_URL")
                .unwrap_or_else(|| DEFAULT_DATABASE_URL.into()),
            listen,
            public_url: public_url.trim_end_matches('/').to_owned(),
            public_url_set,
            issuer: get("TWOFOLD_ISSUER").unwrap_or_else(|| DEFAULT_ISSUER.into()),
            keys: read_keys(&get),
            policy: crate::server::policy::Policy::from_lookup(&get)?,
            hasher: crate::server::hasher::HasherConfig::from_lookup(&get)?,
        })
    }

    /// Listens elsewhere (`--listen`); an unconfigured public URL follows.
    pub fn set_listen(&mut self, listen: SocketAddr) {
        self.listen = listen;
        if !self.public_url_set {
            self.public_url = format!("http://{listen}");
        }
    }

    /// True when cookies must be `Secure` and HSTS sent.
    pub fn is_https(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

pub fn parse_listen(name: &'static str, text: &str) -> Result<SocketAddr, ConfigError> {
    text.parse().map_err(|_| ConfigError::Invalid {
        name,
        reason: format!("expected an address such as {DEFAULT_LISTEN}"),
    })
}

/// Parses an optional numeric setting, naming the variable when it is wrong.
pub fn parse_number<T: std::str::FromStr>(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
) -> Result<T, ConfigError> {
    match get(name) {
        None => Ok(default),
        Some(text) => text.trim().parse().map_err(|_| ConfigError::Invalid {
            name,
            reason: "expected a whole number".into(),
        }),
    }
}

/// Looks a key up under its own name first, then under the Rails alias.
pub fn lookup_key(get: &impl Fn(&str) -> Option<String>, key: KeyName) -> Option<String> {
    get(key.name).or_else(|| get(key.alias))
}

fn read_keys(get: &impl Fn(&str) -> Option<String>) -> Keys {
    let values = ALL_KEYS.map(|key| lookup_key(get, key));
    let missing: Vec<KeyName> = ALL_KEYS
        .iter()
        .zip(&values)
        .filter(|(_, v)| v.is_none())
        .map(|(k, _)| *k)
        .collect();
    let [Some(primary), Some(deterministic), Some(salt)] = values else {
        return Keys::Missing(missing);
    };

    // During rotation the primary key is a comma-separated list whose last
    // entry is current; the earlier ones stay readable.
    let primary = primary
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(KeyText::new)
        .collect();
    Keys::Present(KeyConfig {
        primary,
        deterministic: KeyText::new(deterministic),
        salt: KeyText::new(salt),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic, reason = "tests fail loudly")]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)]) -> Config {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned()).unwrap()
    }

    #[test]
    fn defaults_without_any_setting() {
        let c = config(&[]);
        assert_eq!(c.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(c.issuer, "twofold");
        assert_eq!(c.public_url, "http://127.0.0.1:8080");
        assert!(!c.is_https());
        let Keys::Missing(missing) = c.keys else {
            panic!("keys should be missing")
        };
        assert_eq!(missing, ALL_KEYS.to_vec());
    }

    #[test]
    fn the_public_url_follows_the_listen_address_unless_set() {
        let mut c = config(&[]);
        c.set_listen("127.0.0.1:9000".parse().unwrap());
        assert_eq!(c.public_url, "http://127.0.0.1:9000");

        let mut c = config(&[("TWOFOLD_PUBLIC_URL", "https://login.example.com/")]);
        c.set_listen("127.0.0.1:9000".parse().unwrap());
        assert_eq!(c.public_url, "https://login.example.com");
        assert!(c.is_https());
    }

    #[test]
    fn rails_aliases_are_accepted() {
        let c = config(&[
            ("ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY", "a"),
            ("ACTIVE_RECORD_ENCRYPTION_DETERMINISTIC_KEY", "b"),
            ("ACTIVE_RECORD_ENCRYPTION_KEY_DERIVATION_SALT", "c"),
        ]);
        assert!(matches!(c.keys, Keys::Present(_)));
    }

    #[test]
    fn one_missing_key_is_named() {
        let c = config(&[
            ("TWOFOLD_PRIMARY_KEY", "a"),
            ("TWOFOLD_KEY_DERIVATION_SALT", "  "),
        ]);
        let Keys::Missing(missing) = c.keys else {
            panic!("keys should be missing")
        };
        assert_eq!(missing, vec![DETERMINISTIC_KEY, KEY_DERIVATION_SALT]);
    }

    #[test]
    fn rotation_list_keeps_every_primary_key() {
        let c = config(&[
            ("TWOFOLD_PRIMARY_KEY", "old, new"),
            ("TWOFOLD_DETERMINISTIC_KEY", "b"),
            ("TWOFOLD_KEY_DERIVATION_SALT", "c"),
        ]);
        let Keys::Present(keys) = c.keys else {
            panic!("keys should be present")
        };
        assert_eq!(keys.primary.len(), 2);
    }

    #[test]
    fn bad_listen_address_names_the_variable() {
        let err = Config::from_lookup(|n| (n == "TWOFOLD_LISTEN").then(|| "nowhere".into()));
        assert!(err.unwrap_err().to_string().contains("TWOFOLD_LISTEN"));
    }
}

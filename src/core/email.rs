//! Email addresses as account names: trimmed, lower-cased, and checked for the
//! shape of an address, so that `Ann@Example.com` and `ann@example.com` are
//! one account.

use std::fmt;

/// The longest address SMTP allows; anything longer is refused unread.
const MAX_LEN: usize = 254;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("that is not a valid email address")]
pub struct EmailError;

impl Email {
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let trimmed = input.trim();
        if trimmed.len() > MAX_LEN || trimmed.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(EmailError);
        }

        let (local, domain) = trimmed.split_once('@').ok_or(EmailError)?;
        if local.is_empty() || domain.is_empty() || domain.contains('@') {
            return Err(EmailError);
        }
        Ok(Email(trimmed.to_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;

    #[test]
    fn case_and_surrounding_space_do_not_matter() {
        let a = Email::parse("  Ann@Example.COM ").unwrap();
        assert_eq!(a, Email::parse("ann@example.com").unwrap());
        assert_eq!(a.as_str(), "ann@example.com");
    }

    #[test]
    fn malformed_addresses_are_refused() {
        for bad in [
            "",
            "ann",
            "@example.com",
            "ann@",
            "a@b@c",
            "a b@c.d",
            "a\u{0}@b.c",
        ] {
            assert_eq!(Email::parse(bad), Err(EmailError), "{bad:?}");
        }
        assert_eq!(
            Email::parse(&format!("{}@x.io", "a".repeat(300))),
            Err(EmailError)
        );
    }
}

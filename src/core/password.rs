//! Passwords: the policy for new ones, and Argon2id hashing and verification
//! in the PHC string format.
//!
//! Parameters are OWASP's minimum for Argon2id (19 MiB, two passes, one lane).
//! Verification can reuse a caller-owned block buffer, which is what lets the
//! server's hashing pool keep its memory bounded under a storm of sign-ins.
//! This module does no scheduling: running hashes off the async runtime is
//! the server's job.

use std::fmt;

use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::{CryptoRng, RngCore};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

/// Memory cost in KiB: OWASP's minimum for Argon2id.
pub const MEMORY_KIB: u32 = 19 * 1024;
pub const PASSES: u32 = 2;
pub const LANES: u32 = 1;
const OUTPUT_LEN: usize = 32;

pub const MIN_LEN: usize = 10;
/// Longer passwords are refused before hashing, so a megabyte of input cannot
/// be used to make the server hash a megabyte.
pub const MAX_LEN: usize = 1024;

/// A password as typed. It never prints.
pub struct Password(SecretString);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    #[error("the password must be at least {MIN_LEN} characters")]
    TooShort,
    #[error("the password must be at most {MAX_LEN} bytes")]
    TooLong,
    #[error("the stored password hash is not a valid Argon2 PHC string")]
    BadHash,
}

impl Password {
    /// Wraps a password offered at sign-in. Only the length is checked, so
    /// that accounts made under an older policy can still sign in.
    pub fn for_sign_in(input: String) -> Result<Self, PasswordError> {
        if input.len() > MAX_LEN {
            return Err(PasswordError::TooLong);
        }
        Ok(Password(SecretString::from(input)))
    }

    /// Wraps a new password, enforcing the policy.
    pub fn new_password(input: String) -> Result<Self, PasswordError> {
        if input.chars().count() < MIN_LEN {
            return Err(PasswordError::TooShort);
        }
        Self::for_sign_in(input)
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(..)")
    }
}

pub fn params() -> Params {
    // The constants are valid Argon2 parameters, so this cannot fail; the
    // fallback keeps the function total without a panic.
    Params::new(MEMORY_KIB, PASSES, LANES, Some(OUTPUT_LEN)).unwrap_or_default()
}

fn hasher(params: Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a new password into a PHC string with a fresh random salt.
pub fn hash(
    password: &Password,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<String, PasswordError> {
    let salt = SaltString::generate(rng);
    hasher(params())
        .hash_password(password.expose().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| PasswordError::BadHash)
}

/// Verifies passwords against PHC strings, reusing one block buffer across
/// calls so that a worker allocates its 19 MiB once, not once per sign-in.
#[derive(Default)]
pub struct Verifier {
    blocks: Vec<Block>,
}

impl Verifier {
    pub fn verify(&mut self, password: &Password, phc: &str) -> Result<bool, PasswordError> {
        let parsed = PasswordHash::new(phc).map_err(|_| PasswordError::BadHash)?;
        let params = Params::try_from(&parsed).map_err(|_| PasswordError::BadHash)?;
        let expected = parsed.hash.ok_or(PasswordError::BadHash)?;
        let mut salt_buf = [0u8; 64];
        let salt = parsed
            .salt
            .ok_or(PasswordError::BadHash)?
            .decode_b64(&mut salt_buf)
            .map_err(|_| PasswordError::BadHash)?;

        self.blocks.resize(params.block_count(), Block::default());
        let mut out = vec![0u8; expected.len()];
        hasher(params)
            .hash_password_into_with_memory(
                password.expose().as_bytes(),
                salt,
                &mut out,
                &mut self.blocks,
            )
            .map_err(|_| PasswordError::BadHash)?;
        Ok(out.ct_eq(expected.as_bytes()).into())
    }

    /// Bytes held by the reused buffer, for the pool's memory accounting.
    pub fn buffer_bytes(&self) -> usize {
        self.blocks.len() * std::mem::size_of::<Block>()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;

    fn pw(s: &str) -> Password {
        Password::for_sign_in(s.to_owned()).unwrap()
    }

    #[test]
    fn hash_then_verify() {
        let phc = hash(&pw("correct horse battery"), &mut rand::thread_rng()).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        let mut v = Verifier::default();
        assert!(v.verify(&pw("correct horse battery"), &phc).unwrap());
        assert!(!v.verify(&pw("correct horse battery!"), &phc).unwrap());
        assert_eq!(v.buffer_bytes(), 19 * 1024 * 1024);
    }

    #[test]
    fn verifies_a_hash_made_by_another_implementation() {
        // Made with Python's argon2-cffi: argon2.low_level.hash_secret(b"hunter2hunter2",
        // b"somesaltsomesalt", time_cost=2, memory_cost=19456, parallelism=1,
        // hash_len=32, type=Type.ID).
        let phc = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$AOibD2LZ8Hxsbz0Sz0YI6B1RDStg/zBxWvA9KN6bick";
        let mut v = Verifier::default();
        assert!(v.verify(&pw("hunter2hunter2"), phc).unwrap());
        assert!(!v.verify(&pw("hunter2hunter3"), phc).unwrap());
    }

    #[test]
    fn policy() {
        assert_eq!(
            Password::new_password("short".into()).unwrap_err(),
            PasswordError::TooShort
        );
        assert_eq!(
            Password::for_sign_in("x".repeat(MAX_LEN + 1)).unwrap_err(),
            PasswordError::TooLong
        );
        assert!(Password::new_password("long enough!".into()).is_ok());
    }

    #[test]
    fn garbage_hash_is_an_error_not_a_panic() {
        let mut v = Verifier::default();
        for bad in [
            "",
            "$argon2id$",
            "plain",
            "$argon2id$v=19$m=1,t=1,p=1$xx$yy",
        ] {
            assert_eq!(
                v.verify(&pw("anything"), bad).unwrap_err(),
                PasswordError::BadHash
            );
        }
    }

    #[test]
    fn debug_does_not_print_the_password() {
        assert_eq!(format!("{:?}", pw("secret-value")), "Password(..)");
    }
}

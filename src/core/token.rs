//! Bearer secrets: session tokens and second-factor challenge tokens.
//!
//! A token is 256 random bits, handed out once in URL-safe base64. The
//! database keeps only its SHA-256 digest, so a copy of the database cannot be
//! replayed as a session. Lookups are by digest, which is why no
//! constant-time comparison is needed: an attacker learns nothing useful from
//! the timing of an index lookup on a hash of their own guess.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// The length of an encoded token: 32 bytes in unpadded base64.
const ENCODED_LEN: usize = 43;

#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Token(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the token is malformed")]
pub struct TokenError;

impl Token {
    pub fn generate(rng: &mut (impl RngCore + CryptoRng)) -> Self {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        let token = Token(URL_SAFE_NO_PAD.encode(bytes));
        bytes.zeroize();
        token
    }

    /// Accepts only strings that could have come from [`Token::generate`], so
    /// oversized or odd input never reaches the database.
    pub fn parse(input: &str) -> Result<Self, TokenError> {
        let input = input.trim();
        let well_formed = input.len() == ENCODED_LEN
            && input
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if well_formed {
            Ok(Token(input.to_owned()))
        } else {
            Err(TokenError)
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The digest under which the token is stored.
    pub fn digest(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(..)")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_parse_and_differ() {
        let mut rng = rand::thread_rng();
        let a = Token::generate(&mut rng);
        let b = Token::generate(&mut rng);
        assert_ne!(a.expose(), b.expose());
        assert_eq!(Token::parse(a.expose()).unwrap().digest(), a.digest());
    }

    #[test]
    fn digest_is_sha256_hex() {
        let t = Token::parse(&"A".repeat(43)).unwrap();
        // Computed independently: printf 'A%.0s' {1..43} | sha256sum
        assert_eq!(
            t.digest(),
            "0f007385b6f9d4b7eeb2748605afe1a984a0a3bfa3f014d09e2a784ce9e5cd1a"
        );
    }

    #[test]
    fn odd_input_is_refused() {
        for bad in [
            "",
            "short",
            &"A".repeat(44),
            &format!("{}=", "A".repeat(42)),
            "é",
        ] {
            assert_eq!(Token::parse(bad).unwrap_err(), TokenError, "{bad:?}");
        }
    }

    #[test]
    fn debug_does_not_show_the_token() {
        let t = Token::generate(&mut rand::thread_rng());
        assert!(!format!("{t:?}").contains(t.expose()));
    }
}

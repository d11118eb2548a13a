//! Backup codes: this module owns making a fresh set of one-time backup codes
//! and turning a code into the keyed digest that is the only form ever stored.
//! The codes use an alphabet without look-alike characters so they can be read
//! off paper and typed back without doubt, and the digest is an HMAC under a
//! server key so that a leaked database does not let anyone test guesses offline.

use std::fmt;

use data_encoding::HEXLOWER;
use hmac::digest::{Key, KeyInit};
use hmac::{Hmac, Mac};
use rand::{CryptoRng, RngCore};
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::code::BackupCode;

/// The characters a backup code is made of: upper-case letters and digits
/// without 0, 1, I and O, which are too easily confused with each other.
pub const ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";

/// How many backup codes a user is given at a time.
pub const COUNT: usize = 10;

/// How many characters each backup code has (40 bits of entropy).
pub const LENGTH: usize = 8;

/// Separates backup-code digests from any other use of the same key, and
/// names a version so the scheme can change without old digests colliding.
const DIGEST_CONTEXT: &[u8] = b"twofold-backup-code-v1:";

/// Makes a fresh set of distinct backup codes from a cryptographic random source.
#[must_use]
pub fn generate(rng: &mut (impl RngCore + CryptoRng)) -> Vec<BackupCode> {
    let mut codes: Vec<BackupCode> = Vec::with_capacity(COUNT);

    while codes.len() < COUNT {
        let fresh = random_code(rng).filter(|code| !contains(&codes, code));
        codes.extend(fresh);
    }

    codes
}

/// Draws one code of `LENGTH` random symbols.
///
/// It goes through `BackupCode::parse`, so a generated code is held to exactly
/// the rules that typed input is.
fn random_code(rng: &mut (impl RngCore + CryptoRng)) -> Option<BackupCode> {
    let mut bytes = Zeroizing::new([0u8; LENGTH]);
    rng.fill_bytes(bytes.as_mut_slice());

    let mut text = Zeroizing::new(String::with_capacity(LENGTH));
    text.extend(bytes.iter().filter_map(|&byte| symbol(byte)));

    BackupCode::parse(&text).ok()
}

/// Picks the alphabet symbol for one random byte.
///
/// The alphabet has 32 symbols and 32 divides 256, so keeping the low five
/// bits maps exactly eight byte values to each symbol: the choice is uniform,
/// with no modulo bias and no need to reject and redraw.
fn symbol(byte: u8) -> Option<char> {
    ALPHABET
        .get(usize::from(byte & 0x1f))
        .map(|&s| char::from(s))
}

/// Whether a code is already in the set; a repeat would leave the user with
/// fewer usable codes than the screen promises.
fn contains(codes: &[BackupCode], candidate: &BackupCode) -> bool {
    codes.iter().any(|code| code.as_str() == candidate.as_str())
}

/// The 32-byte key under which backup codes are digested.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct DigestKey([u8; 32]);

impl DigestKey {
    /// Wraps key material derived elsewhere from the deterministic key.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        DigestKey(bytes)
    }

    /// The stored form of a backup code: lower-case hex of
    /// HMAC-SHA256(key, "twofold-backup-code-v1:" followed by the code).
    ///
    /// The database finds a code by equality on this digest. That lookup does
    /// not need to be constant-time: without the key, the timing of a match on
    /// a keyed digest tells an attacker nothing about which code would produce it.
    #[must_use]
    pub fn digest(&self, code: &BackupCode) -> String {
        let mut mac = self.mac();

        mac.update(DIGEST_CONTEXT);
        mac.update(code.as_str().as_bytes());

        HEXLOWER.encode(&mac.finalize().into_bytes())
    }

    /// Starts an HMAC-SHA256 keyed with this key.
    ///
    /// HMAC pads a key shorter than the hash block with zeros (RFC 2104), so
    /// handing the crate our 32 bytes followed by zeros as a full 64-byte block
    /// is the same HMAC. We do it because the crate's block-sized constructor
    /// cannot fail, whereas its slice constructor returns an error that can
    /// never happen and that we would have no honest way to report.
    fn mac(&self) -> Hmac<Sha256> {
        let mut block = Key::<Hmac<Sha256>>::default();
        block
            .iter_mut()
            .zip(self.0.iter())
            .for_each(|(slot, &byte)| *slot = byte);

        let mac = <Hmac<Sha256> as KeyInit>::new(&block);
        block.as_mut_slice().zeroize();

        mac
    }
}

impl fmt::Debug for DigestKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DigestKey(..)")
    }
}

#[cfg(test)]
// Unwrapping is the clearest way for a test to say "this must succeed".
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    use std::collections::HashSet;

    fn key(first: u8) -> DigestKey {
        let mut bytes = [0u8; 32];
        bytes
            .iter_mut()
            .zip(first..)
            .for_each(|(slot, b)| *slot = b);
        DigestKey::from_bytes(bytes)
    }

    fn code(text: &str) -> BackupCode {
        BackupCode::parse(text).unwrap()
    }

    #[test]
    fn generates_ten_distinct_codes_from_the_alphabet() {
        let codes = generate(&mut rand::rngs::OsRng);
        let distinct: HashSet<&str> = codes.iter().map(BackupCode::as_str).collect();

        assert_eq!(codes.len(), COUNT);
        assert_eq!(distinct.len(), COUNT);
        for code in &codes {
            assert_eq!(code.as_str().len(), LENGTH);
            assert!(code.as_str().bytes().all(|b| ALPHABET.contains(&b)));
        }
    }

    #[test]
    fn generation_uses_every_symbol() {
        // 4,000 draws from 32 symbols miss one with probability far below 1e-50.
        let mut rng = StdRng::seed_from_u64(7);
        let seen: HashSet<u8> = (0..50)
            .flat_map(|_| generate(&mut rng))
            .flat_map(|code| code.as_str().bytes().collect::<Vec<_>>())
            .collect();

        assert_eq!(seen.len(), ALPHABET.len());
    }

    #[test]
    fn alphabet_has_no_look_alikes_and_no_repeats() {
        let distinct: HashSet<&u8> = ALPHABET.iter().collect();

        assert_eq!(distinct.len(), 32);
        assert!(!ALPHABET.iter().any(|b| b"01IO".contains(b)));
    }

    #[test]
    fn digest_is_stable() {
        let key = key(0);

        assert_eq!(key.digest(&code("ABCD2345")), key.digest(&code("ABCD2345")));
    }

    #[test]
    fn digest_matches_an_independent_hmac() {
        // Computed with Python: hmac.new(bytes(range(32)),
        // b"twofold-backup-code-v1:ABCD2345", hashlib.sha256).hexdigest()
        let expected = "c2648ca0ca180f671047d54718f3b536ced5718211570524976dd0e437a23cf4";

        assert_eq!(key(0).digest(&code("ABCD2345")), expected);
    }

    #[test]
    fn digest_matches_a_second_independent_hmac() {
        // Computed with Python: hmac.new(bytes(range(32)),
        // b"twofold-backup-code-v1:ZZZZ9999", hashlib.sha256).hexdigest()
        let expected = "026c9d77ec2f71f5c6ff96d9f4338c298bb2fed4fef8977fb5a27b7c53d8135e";

        assert_eq!(key(0).digest(&code("zzzz-9999")), expected);
    }

    #[test]
    fn digest_differs_for_different_codes_and_keys() {
        let first = key(0).digest(&code("ABCD2345"));

        assert_ne!(first, key(0).digest(&code("ABCD2346")));
        assert_ne!(first, key(1).digest(&code("ABCD2345")));
    }

    #[test]
    fn digest_ignores_how_the_code_was_typed() {
        let key = key(0);

        assert_eq!(
            key.digest(&code("abcd efgh")),
            key.digest(&code("ABCD-EFGH"))
        );
    }

    #[test]
    fn digest_is_lower_case_hex() {
        let digest = key(9).digest(&code("ABCD2345"));

        assert_eq!(digest.len(), 64);
        assert!(digest
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    }

    #[test]
    fn key_debug_is_redacted() {
        assert_eq!(format!("{:?}", key(0)), "DigestKey(..)");
    }
}

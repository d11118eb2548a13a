//! One-time passwords: this module owns HOTP (RFC 4226) and TOTP (RFC 6238),
//! the TOTP secret and its base32 form, and the check of a typed code against
//! the current time with one step of drift each way and protection against
//! replay. It never reads the clock: the time is always a parameter, so the
//! same inputs always give the same answer and tests can pin any moment.

use std::fmt;

use data_encoding::{Encoding, Specification, BASE32_NOPAD};
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use rand::{CryptoRng, RngCore};
use sha1::Sha1;
use sha2::{Sha256, Sha512};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use zeroize::Zeroizing;

use super::code::TotpCode;

/// The length of a TOTP time step in seconds.
pub const STEP_SECONDS: u64 = 30;

/// The number of digits in a TOTP code.
pub const DIGITS: u32 = 6;

/// The size of a freshly generated secret: 160 bits, as RFC 4226 recommends.
pub const SECRET_BYTES: usize = 20;

/// The hash under the HMAC. Authenticator apps and this server use SHA-1; the
/// others exist for the RFC 6238 test vectors and for future use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Sha1,
    Sha256,
    Sha512,
}

/// The HOTP value of `key` at `counter`, reduced to `digits` decimal digits.
///
/// This cannot fail in practice: HMAC takes keys of any length and every hash
/// here gives at least 20 bytes. Should it ever fail, the result is `u32::MAX`,
/// which no truncation can produce (they are below 2^31), so it matches no code.
#[must_use]
pub fn hotp(alg: Algorithm, key: &[u8], counter: u64, digits: u32) -> u32 {
    checked_hotp(alg, key, counter, digits).unwrap_or(u32::MAX)
}

/// HOTP, with the impossible failures of the HMAC crate's API kept visible.
fn checked_hotp(alg: Algorithm, key: &[u8], counter: u64, digits: u32) -> Option<u32> {
    let message = counter.to_be_bytes();

    let truncated = match alg {
        Algorithm::Sha1 => truncated_mac::<Hmac<Sha1>>(key, &message),
        Algorithm::Sha256 => truncated_mac::<Hmac<Sha256>>(key, &message),
        Algorithm::Sha512 => truncated_mac::<Hmac<Sha512>>(key, &message),
    }?;

    Some(reduce(truncated, digits))
}

/// Computes the MAC of `message` and applies dynamic truncation to it.
fn truncated_mac<M: Mac + KeyInit>(key: &[u8], message: &[u8]) -> Option<u32> {
    let mut mac = <M as Mac>::new_from_slice(key).ok()?;
    mac.update(message);

    dynamic_truncate(&mac.finalize().into_bytes())
}

/// RFC 4226 §5.3: the low four bits of the last byte choose an offset, and the
/// 31 bits read big-endian from there are the result.
///
/// The top bit is cleared so that signed and unsigned implementations agree.
fn dynamic_truncate(mac: &[u8]) -> Option<u32> {
    let offset = usize::from(mac.last()? & 0x0f);
    let window: [u8; 4] = mac.get(offset..offset + 4)?.try_into().ok()?;

    Some(u32::from_be_bytes(window) & 0x7fff_ffff)
}

/// Keeps the last `digits` decimal digits.
///
/// From ten digits on, the power of ten no longer fits in a `u32`, but then it
/// also exceeds every 31-bit truncation, so the value is already short enough.
fn reduce(truncated: u32, digits: u32) -> u32 {
    match 10u32.checked_pow(digits) {
        Some(modulus) => truncated % modulus,
        None => truncated,
    }
}

/// A TOTP shared secret. Its bytes are wiped when it is dropped and never
/// appear in debug output.
pub struct TotpSecret(Zeroizing<Vec<u8>>);

/// Why a stored or entered secret could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The text contains characters outside base32 or has an impossible length.
    #[error("the TOTP secret is not valid base32")]
    InvalidBase32,

    /// The text decodes to no bytes at all, which would be a secret anyone knows.
    #[error("the TOTP secret is empty")]
    Empty,
}

impl TotpSecret {
    /// Draws a new 160-bit secret from a cryptographic random source.
    pub fn generate(rng: &mut (impl RngCore + CryptoRng)) -> Self {
        let mut bytes = Zeroizing::new(vec![0u8; SECRET_BYTES]);
        rng.fill_bytes(&mut bytes);

        TotpSecret(bytes)
    }

    /// Wraps secret bytes obtained elsewhere, such as from decrypted storage.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        TotpSecret(Zeroizing::new(bytes))
    }

    /// Reads RFC 4648 base32 in either case, with or without `=` padding.
    ///
    /// Unused bits at the end are ignored rather than refused, as pyotp does,
    /// so that a secret another library wrote with an odd length still reads.
    ///
    /// # Errors
    ///
    /// `InvalidBase32` for characters outside base32 or an impossible length,
    /// and `Empty` when nothing is left once the padding is removed.
    pub fn from_base32(text: &str) -> Result<Self, SecretError> {
        let unpadded = text.trim_end_matches('=');

        let bytes = lenient_base32()?
            .decode(unpadded.as_bytes())
            .map_err(|_| SecretError::InvalidBase32)?;

        if bytes.is_empty() {
            return Err(SecretError::Empty);
        }

        Ok(TotpSecret::from_bytes(bytes))
    }

    /// The secret as RFC 4648 base32, upper case, without padding, as
    /// authenticator apps expect it in provisioning URIs and manual entry.
    pub fn to_base32(&self) -> String {
        BASE32_NOPAD.encode(&self.0)
    }

    /// The raw secret bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(..)")
    }
}

/// The standard base32 alphabet, decoding lower case as upper case and
/// ignoring unused trailing bits.
///
/// The specification is fixed, so building it cannot really fail; if it did,
/// reporting the secret as unreadable is the safe answer.
fn lenient_base32() -> Result<Encoding, SecretError> {
    let mut spec = Specification::new();
    spec.symbols.push_str("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567");
    spec.translate.from.push_str("abcdefghijklmnopqrstuvwxyz");
    spec.translate.to.push_str("ABCDEFGHIJKLMNOPQRSTUVWXYZ");
    spec.check_trailing_bits = false;

    spec.encoding().map_err(|_| SecretError::InvalidBase32)
}

/// The TOTP time step that contains the given Unix time.
#[must_use]
pub fn step_at(unix_seconds: u64) -> u64 {
    unix_seconds / STEP_SECONDS
}

/// The six-digit SHA-1 code for a time step, as an authenticator app shows it.
#[must_use]
pub fn code_at(secret: &TotpSecret, step: u64) -> TotpCode {
    TotpCode::from_number(hotp(Algorithm::Sha1, secret.as_bytes(), step, DIGITS))
}

/// Checks a typed code at `now_unix` and returns the step it matched.
///
/// The steps before, at and after now are tried, which forgives one step of
/// clock drift either way. A step at or before `last_used_step` never matches,
/// so a code that was accepted once cannot be accepted again; the caller must
/// record the returned step. All three steps are always computed and compared
/// in constant time, so the response time does not reveal which step, if any,
/// came close.
///
/// When several steps match (a one-in-a-million coincidence), the latest one
/// is returned, because recording it shuts out the most codes against replay.
#[must_use = "the matched step must be recorded, or the code can be replayed"]
pub fn verify(
    secret: &TotpSecret,
    code: &TotpCode,
    now_unix: u64,
    last_used_step: Option<u64>,
) -> Option<u64> {
    let mut found = Choice::from(0);
    let mut matched = 0u64;

    for step in window(step_at(now_unix)) {
        let hit = step_matches(secret, code, step) & is_fresh(step, last_used_step);
        matched.conditional_assign(&step, hit);
        found |= hit;
    }

    bool::from(found).then_some(matched)
}

/// The steps a code may belong to. Near zero the earlier step saturates and
/// repeats step zero, which is harmless.
fn window(now: u64) -> [u64; 3] {
    [now.saturating_sub(1), now, now.saturating_add(1)]
}

/// Whether the code for `step` equals the typed code, compared in constant time.
fn step_matches(secret: &TotpSecret, code: &TotpCode, step: u64) -> Choice {
    let expected = checked_hotp(Algorithm::Sha1, secret.as_bytes(), step, DIGITS);

    match expected.map(TotpCode::from_number) {
        Some(expected) => expected.as_str().as_bytes().ct_eq(code.as_str().as_bytes()),
        None => Choice::from(0),
    }
}

/// Whether `step` is later than the last step a code was accepted for.
fn is_fresh(step: u64, last_used_step: Option<u64>) -> Choice {
    let fresh = last_used_step.map_or(true, |last| step > last);

    Choice::from(u8::from(fresh))
}

#[cfg(test)]
// Unwrapping is the clearest way for a test to say "this must succeed".
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use data_encoding::HEXLOWER;

    const SEED_20: &[u8] = b"12345678901234567890";
    const SEED_32: &[u8] = b"12345678901234567890123456789012";
    const SEED_64: &[u8] = b"1234567890123456789012345678901234567890123456789012345678901234";
    const SEED_BASE32: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

    /// RFC 4226 Appendix D: counter, HMAC-SHA-1, truncated decimal, HOTP.
    const RFC4226: [(u64, &str, u32, u32); 10] = [
        (
            0,
            "cc93cf18508d94934c64b65d8ba7667fb7cde4b0",
            1284755224,
            755224,
        ),
        (
            1,
            "75a48a19d4cbe100644e8ac1397eea747a2d33ab",
            1094287082,
            287082,
        ),
        (
            2,
            "0bacb7fa082fef30782211938bc1c5e70416ff44",
            137359152,
            359152,
        ),
        (
            3,
            "66c28227d03a2d5529262ff016a1e6ef76557ece",
            1726969429,
            969429,
        ),
        (
            4,
            "a904c900a64b35909874b33e61c5938a8e15ed1c",
            1640338314,
            338314,
        ),
        (
            5,
            "a37e783d7b7233c083d4f62926c7a25f238d0316",
            868254676,
            254676,
        ),
        (
            6,
            "bc9cd28561042c83f219324d3c607256c03272ae",
            1918287922,
            287922,
        ),
        (
            7,
            "a4fb960c0bc06e1eabb804e5b397cdc4b45596fa",
            82162583,
            162583,
        ),
        (
            8,
            "1b3c89f65e6c9e883012052823443f048b4332db",
            673399871,
            399871,
        ),
        (
            9,
            "1637409809a679dc698207310c8c7fc07290d9e5",
            645520489,
            520489,
        ),
    ];

    /// RFC 6238 Appendix B: time, then the 8-digit SHA1, SHA256 and SHA512 codes.
    const RFC6238: [(u64, u32, u32, u32); 6] = [
        (59, 94287082, 46119246, 90693936),
        (1111111109, 7081804, 68084774, 25091201),
        (1111111111, 14050471, 67062674, 99943326),
        (1234567890, 89005924, 91819424, 93441116),
        (2000000000, 69279037, 90698825, 38618901),
        (20000000000, 65353130, 77737706, 47863826),
    ];

    fn seed() -> TotpSecret {
        TotpSecret::from_bytes(SEED_20.to_vec())
    }

    fn code(secret: &TotpSecret, step: u64) -> TotpCode {
        code_at(secret, step)
    }

    #[test]
    fn rfc4226_hmac_values() {
        for (counter, hex, _, _) in RFC4226 {
            let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(SEED_20).unwrap();
            mac.update(&counter.to_be_bytes());

            assert_eq!(
                HEXLOWER.encode(&mac.finalize().into_bytes()),
                hex,
                "count {counter}"
            );
        }
    }

    #[test]
    fn rfc4226_truncated_values() {
        for (counter, hex, truncated, _) in RFC4226 {
            let mac = HEXLOWER.decode(hex.as_bytes()).unwrap();

            assert_eq!(dynamic_truncate(&mac), Some(truncated), "count {counter}");
        }
    }

    #[test]
    fn rfc4226_hotp_values() {
        for (counter, _, _, expected) in RFC4226 {
            assert_eq!(
                hotp(Algorithm::Sha1, SEED_20, counter, 6),
                expected,
                "count {counter}"
            );
        }
    }

    #[test]
    fn rfc6238_sha1() {
        for (time, expected, _, _) in RFC6238 {
            assert_eq!(
                hotp(Algorithm::Sha1, SEED_20, step_at(time), 8),
                expected,
                "t={time}"
            );
        }
    }

    #[test]
    fn rfc6238_sha256() {
        for (time, _, expected, _) in RFC6238 {
            assert_eq!(
                hotp(Algorithm::Sha256, SEED_32, step_at(time), 8),
                expected,
                "t={time}"
            );
        }
    }

    #[test]
    fn rfc6238_sha512() {
        for (time, _, _, expected) in RFC6238 {
            assert_eq!(
                hotp(Algorithm::Sha512, SEED_64, step_at(time), 8),
                expected,
                "t={time}"
            );
        }
    }

    #[test]
    fn rfc6238_steps() {
        assert_eq!(step_at(59), 0x1);
        assert_eq!(step_at(1111111109), 0x023523EC);
        assert_eq!(step_at(1111111111), 0x023523ED);
        assert_eq!(step_at(1234567890), 0x0273EF07);
        assert_eq!(step_at(2000000000), 0x03F940AA);
        assert_eq!(step_at(20000000000), 0x27BC86AA);
    }

    #[test]
    fn six_digit_forms() {
        let secret = TotpSecret::from_base32(SEED_BASE32).unwrap();

        assert_eq!(code_at(&secret, step_at(59)).as_str(), "287082");
        assert_eq!(code_at(&secret, step_at(1111111109)).as_str(), "081804");
    }

    #[test]
    fn more_digits_than_fit_keep_the_whole_truncation() {
        assert_eq!(hotp(Algorithm::Sha1, SEED_20, 0, 10), 1284755224);
        assert_eq!(hotp(Algorithm::Sha1, SEED_20, 0, 0), 0);
    }

    #[test]
    fn base32_round_trip() {
        let secret = TotpSecret::from_base32(SEED_BASE32).unwrap();

        assert_eq!(secret.as_bytes(), SEED_20);
        assert_eq!(secret.to_base32(), SEED_BASE32);
    }

    #[test]
    fn base32_accepts_lower_case_and_padding() {
        let lower = TotpSecret::from_base32("gezdgnbvgy3tqojqgezdgnbvgy3tqojq").unwrap();
        let padded = TotpSecret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZA====").unwrap();
        let unpadded = TotpSecret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZA").unwrap();

        assert_eq!(lower.as_bytes(), SEED_20);
        assert_eq!(padded.as_bytes(), unpadded.as_bytes());
        assert_eq!(padded.as_bytes(), b"1234567890123456789012");
    }

    #[test]
    fn base32_longer_seeds_round_trip() {
        let seed_32 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZA";

        assert_eq!(
            TotpSecret::from_base32(seed_32).unwrap().as_bytes(),
            SEED_32
        );
        assert_eq!(
            TotpSecret::from_bytes(SEED_32.to_vec()).to_base32(),
            seed_32
        );
    }

    #[test]
    fn base32_ignores_unused_trailing_bits() {
        // "GEZB" carries 20 bits: two bytes and four unused bits, here not zero.
        assert_eq!(TotpSecret::from_base32("GEZB").unwrap().as_bytes(), b"12");
    }

    #[test]
    fn base32_refuses_garbage() {
        let invalid = Err(SecretError::InvalidBase32);

        assert_eq!(TotpSecret::from_base32("GEZDGNB1").map(|_| ()), invalid);
        assert_eq!(TotpSecret::from_base32("GEZ DGNBV").map(|_| ()), invalid);
        assert_eq!(TotpSecret::from_base32("G").map(|_| ()), invalid);
        assert_eq!(TotpSecret::from_base32("GE=ZDGNBV").map(|_| ()), invalid);
    }

    #[test]
    fn base32_refuses_empty() {
        assert_eq!(
            TotpSecret::from_base32("").map(|_| ()),
            Err(SecretError::Empty)
        );
        assert_eq!(
            TotpSecret::from_base32("====").map(|_| ()),
            Err(SecretError::Empty)
        );
    }

    #[test]
    fn generated_secrets_are_160_bits_and_differ() {
        let first = TotpSecret::generate(&mut rand::rngs::OsRng);
        let second = TotpSecret::generate(&mut rand::rngs::OsRng);

        assert_eq!(first.as_bytes().len(), 20);
        assert_eq!(first.to_base32().len(), 32);
        assert_ne!(first.as_bytes(), second.as_bytes());
    }

    #[test]
    fn secret_debug_is_redacted() {
        assert_eq!(format!("{:?}", seed()), "TotpSecret(..)");
    }

    #[test]
    fn step_boundaries() {
        assert_eq!(step_at(0), 0);
        assert_eq!(step_at(29), 0);
        assert_eq!(step_at(30), 1);
        assert_eq!(step_at(59), 1);
        assert_eq!(step_at(60), 2);
    }

    #[test]
    fn current_code_is_accepted() {
        let secret = seed();

        assert_eq!(verify(&secret, &code(&secret, 100), 3000, None), Some(100));
        assert_eq!(verify(&secret, &code(&secret, 100), 3029, None), Some(100));
    }

    #[test]
    fn one_step_of_drift_is_accepted_each_way() {
        let secret = seed();

        assert_eq!(verify(&secret, &code(&secret, 99), 3000, None), Some(99));
        assert_eq!(verify(&secret, &code(&secret, 101), 3000, None), Some(101));
    }

    #[test]
    fn two_steps_of_drift_are_refused() {
        let secret = seed();

        assert_eq!(verify(&secret, &code(&secret, 98), 3000, None), None);
        assert_eq!(verify(&secret, &code(&secret, 102), 3000, None), None);
    }

    #[test]
    fn window_moves_exactly_at_the_step_boundary() {
        let secret = seed();
        let step_two = code(&secret, 2);
        let step_zero = code(&secret, 0);

        // t=29 is step 0, so step 2 is two ahead; t=30 is step 1, one behind it.
        assert_eq!(verify(&secret, &step_two, 29, None), None);
        assert_eq!(verify(&secret, &step_two, 30, None), Some(2));

        // t=59 is step 1, one after step 0; t=60 is step 2, two after it.
        assert_eq!(verify(&secret, &step_zero, 59, None), Some(0));
        assert_eq!(verify(&secret, &step_zero, 60, None), None);
    }

    #[test]
    fn window_saturates_at_the_epoch() {
        let secret = seed();

        assert_eq!(verify(&secret, &code(&secret, 0), 0, None), Some(0));
        assert_eq!(verify(&secret, &code(&secret, 1), 0, None), Some(1));
        assert_eq!(verify(&secret, &code(&secret, 2), 0, None), None);
    }

    #[test]
    fn window_saturates_at_the_end_of_time() {
        let secret = seed();
        let last = step_at(u64::MAX);

        assert_eq!(
            verify(&secret, &code(&secret, last), u64::MAX, None),
            Some(last)
        );
    }

    #[test]
    fn rfc_code_verifies_at_its_time() {
        let secret = seed();
        let typed = TotpCode::parse("287 082").unwrap();

        assert_eq!(verify(&secret, &typed, 59, None), Some(1));
        assert_eq!(verify(&secret, &typed, 1111111109, None), None);
    }

    #[test]
    fn wrong_code_is_refused() {
        let secret = seed();
        let other = TotpSecret::from_bytes(SEED_32.to_vec());

        assert_eq!(verify(&other, &code(&secret, 100), 3000, None), None);
    }

    #[test]
    fn replayed_step_is_refused() {
        let secret = seed();
        let current = code(&secret, 100);

        assert_eq!(verify(&secret, &current, 3000, Some(100)), None);
        assert_eq!(verify(&secret, &current, 3000, Some(101)), None);
        assert_eq!(verify(&secret, &current, 3000, Some(u64::MAX)), None);
    }

    #[test]
    fn earlier_step_within_drift_is_refused_after_use() {
        let secret = seed();

        assert_eq!(verify(&secret, &code(&secret, 99), 3000, Some(99)), None);
        assert_eq!(
            verify(&secret, &code(&secret, 100), 3000, Some(99)),
            Some(100)
        );
    }

    #[test]
    fn later_step_is_accepted_after_use() {
        let secret = seed();

        assert_eq!(
            verify(&secret, &code(&secret, 101), 3000, Some(100)),
            Some(101)
        );
        assert_eq!(
            verify(&secret, &code(&secret, 101), 3030, Some(100)),
            Some(101)
        );
    }
}

//! The Rails Active Record Encryption envelope: how one secret becomes the
//! text stored in the database, and back. It owns the exact wire format
//! (AES-256-GCM, zlib for long values, compact JSON with base64 fields in
//! Rails' order) so that a value written here reads in a Rails app holding the
//! same keys and the other way round. It must not derive keys (that is
//! `keys`), touch storage, or ever put clear text or key bytes in an error.
//!
//! One property of the format is inherited, not chosen: Rails authenticates
//! the payload but not the headers, so a writer with database access can drop
//! or add the `c` flag. Adding it makes reading fail with
//! [`EnvelopeError::Corrupt`]; dropping it returns the compressed bytes, which
//! the caller's own parsing then rejects. Neither reveals a secret.

use std::io::{Read, Write};

use aes_gcm::aead::rand_core::CryptoRngCore;
use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::Aes256Gcm;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use flate2::Compression;
use rand::{CryptoRng, RngCore};
use serde::Deserialize;
use zeroize::Zeroizing;

use super::keys::{DerivedKey, Keyring};

/// Largest clear text an envelope may hold, in either direction. Secrets are
/// tiny; the cap exists so a compressed payload cannot inflate without bound.
pub const MAX_CLEAR_TEXT: usize = 1 << 20;

/// Rails compresses clear texts longer than this many bytes, and only those.
const COMPRESSION_THRESHOLD: usize = 140;

const IV_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Encodings Rails may name in the `e` header whose bytes read correctly as
/// UTF-8 or as plain bytes. Rails writes `e` only when a string is not UTF-8.
const READABLE_ENCODINGS: [&[u8]; 4] = [b"UTF-8", b"US-ASCII", b"ASCII-8BIT", b"BINARY"];

/// Why a stored value could not be read or a value could not be sealed.
///
/// No variant carries the value or a key, so every one is safe to log.
#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    /// The text is not an envelope at all: not JSON of the expected shape, a
    /// field is not base64, the IV or tag has the wrong length, or a header
    /// twofold does not know (such as Rails' envelope-key `k`) is present.
    /// Retrying cannot help; the stored value itself is wrong.
    #[error("the stored value is not an encrypted envelope")]
    Malformed,

    /// No configured key opens the value: none carries the id in its `i`
    /// header, or every candidate failed authentication. This is what keys
    /// from another installation look like, and also what a tampered payload
    /// or tag looks like, because GCM cannot tell the two apart.
    #[error(
        "no configured key can decrypt this value: were new keys generated on this server? \
         Use the keys from the old one."
    )]
    WrongKey,

    /// The value decrypted and authenticated, but it is marked compressed and
    /// does not inflate. Either its writer was faulty or someone set the
    /// unauthenticated `c` header.
    #[error("the value decrypted but its compressed content is damaged")]
    Corrupt,

    /// The clear text is, or would inflate to, more than [`MAX_CLEAR_TEXT`]
    /// bytes. Writing refuses such values too, so that twofold never stores a
    /// value it would refuse to read.
    #[error("the value is larger than an envelope may hold (1 MiB)")]
    TooLarge,

    /// The `e` header names a text encoding other than UTF-8, US-ASCII or
    /// binary, so the bytes would be misread as UTF-8. A Rails app wrote a
    /// non-UTF-8 string; re-save it as UTF-8 there.
    #[error("the value was stored in a text encoding other than UTF-8, US-ASCII or binary")]
    UnsupportedEncoding,
}

/// How the 12-byte GCM initialisation vector is chosen.
pub enum Iv<'r> {
    /// Fresh random bytes: what Rails uses by default and twofold always writes.
    Random(&'r mut dyn CryptoRngCore),
    /// HMAC-SHA256 of the clear text under the key, cut to 12 bytes, so equal
    /// clear texts give equal envelopes. This reveals which values are equal,
    /// which is the point for lookups and the risk otherwise.
    Deterministic,
}

impl Iv<'_> {
    fn bytes_for(self, key: &DerivedKey, payload: &[u8]) -> [u8; IV_LEN] {
        let mut iv = [0u8; IV_LEN];
        match self {
            Iv::Random(rng) => rng.fill_bytes(&mut iv),
            Iv::Deterministic => copy_prefix(&mut iv, key.mac(payload).as_slice()),
        }
        iv
    }
}

/// Seals `plaintext` under `key` into a Rails envelope.
///
/// With `store_key_reference` the key id goes into the `i` header, which lets
/// readers skip keys that cannot match, as Rails' `store_key_references` does.
pub fn encrypt(
    key: &DerivedKey,
    plaintext: &[u8],
    iv: Iv<'_>,
    store_key_reference: bool,
) -> Result<String, EnvelopeError> {
    check_length(plaintext)?;

    // As in Rails, a deterministic IV is the MAC of the bytes actually sealed,
    // which for long values are the compressed bytes. flate2 runs on the real
    // zlib, so those bytes are the ones Ruby's Zlib writes.
    let (mut payload, compressed) = compress_if_worth_it(plaintext);
    let iv = iv.bytes_for(key, &payload);
    let tag = seal(key, &iv, &mut payload)?;

    let key_id = store_key_reference.then(|| key.id());
    Ok(serialize(&payload, &iv, &tag, key_id, compressed))
}

fn check_length(plaintext: &[u8]) -> Result<(), EnvelopeError> {
    if plaintext.len() > MAX_CLEAR_TEXT {
        return Err(EnvelopeError::TooLarge);
    }
    Ok(())
}

/// Seals with a random IV and the key id, the way twofold writes every secret.
pub fn encrypt_random<R: RngCore + CryptoRng>(
    key: &DerivedKey,
    plaintext: &[u8],
    rng: &mut R,
) -> Result<String, EnvelopeError> {
    encrypt(key, plaintext, Iv::Random(rng), true)
}

/// Seals with the deterministic IV, byte for byte what Rails writes for an
/// attribute declared `deterministic: true`.
pub fn encrypt_deterministic(
    key: &DerivedKey,
    plaintext: &[u8],
    store_key_reference: bool,
) -> Result<String, EnvelopeError> {
    encrypt(key, plaintext, Iv::Deterministic, store_key_reference)
}

/// Opens a Rails envelope with the first of `keys` that authenticates it.
///
/// When the envelope names its key id, only keys with that id are tried. Ids
/// are four hex digits and can collide, so every key that matches is tried.
pub fn decrypt(keys: &[DerivedKey], envelope: &str) -> Result<Zeroizing<Vec<u8>>, EnvelopeError> {
    let message = Message::parse(envelope)?;

    let clear = keys
        .iter()
        .filter(|key| message.may_be_sealed_by(key))
        .find_map(|key| message.open(key))
        .ok_or(EnvelopeError::WrongKey)?;

    if message.compressed {
        inflate(&clear)
    } else {
        Ok(clear)
    }
}

impl Keyring {
    /// Seals a new secret under the current primary key.
    pub fn encrypt<R: RngCore + CryptoRng>(
        &self,
        plaintext: &[u8],
        rng: &mut R,
    ) -> Result<String, EnvelopeError> {
        encrypt_random(self.encrypt_with(), plaintext, rng)
    }

    /// Opens a stored secret with any primary key, current or retired.
    pub fn decrypt(&self, envelope: &str) -> Result<Zeroizing<Vec<u8>>, EnvelopeError> {
        decrypt(self.read(), envelope)
    }
}

/// The envelope as JSON. Unknown fields are refused so that a header twofold
/// does not understand fails loudly instead of being silently ignored.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    p: String,
    h: WireHeaders,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireHeaders {
    iv: String,
    at: String,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    i: Option<String>,
    #[serde(default)]
    c: bool,
}

/// An envelope with every field decoded and checked.
struct Message {
    payload: Vec<u8>,
    iv: [u8; IV_LEN],
    tag: [u8; TAG_LEN],
    key_id: Option<Vec<u8>>,
    compressed: bool,
}

impl Message {
    fn parse(envelope: &str) -> Result<Self, EnvelopeError> {
        let wire: Wire = serde_json::from_str(envelope).map_err(|_| EnvelopeError::Malformed)?;
        check_encoding(wire.h.e.as_deref())?;

        let payload = decode(&wire.p)?;
        if payload.len() > MAX_CLEAR_TEXT {
            return Err(EnvelopeError::TooLarge);
        }

        Ok(Self {
            payload,
            iv: decode_array(&wire.h.iv)?,
            tag: decode_array(&wire.h.at)?,
            key_id: wire.h.i.as_deref().map(decode).transpose()?,
            compressed: wire.h.c,
        })
    }

    fn may_be_sealed_by(&self, key: &DerivedKey) -> bool {
        self.key_id
            .as_deref()
            .map_or(true, |id| id == key.id().as_bytes())
    }

    fn open(&self, key: &DerivedKey) -> Option<Zeroizing<Vec<u8>>> {
        let mut buffer = Zeroizing::new(self.payload.clone());
        let cipher = Aes256Gcm::new(key.as_bytes().into());

        cipher
            .decrypt_in_place_detached((&self.iv).into(), b"", &mut buffer, (&self.tag).into())
            .ok()?;
        Some(buffer)
    }
}

fn check_encoding(header: Option<&str>) -> Result<(), EnvelopeError> {
    let Some(header) = header else {
        return Ok(());
    };

    let name = decode(header)?;
    if READABLE_ENCODINGS.contains(&name.as_slice()) {
        Ok(())
    } else {
        Err(EnvelopeError::UnsupportedEncoding)
    }
}

fn decode(field: &str) -> Result<Vec<u8>, EnvelopeError> {
    BASE64.decode(field).map_err(|_| EnvelopeError::Malformed)
}

fn decode_array<const N: usize>(field: &str) -> Result<[u8; N], EnvelopeError> {
    let bytes = decode(field)?;
    bytes.try_into().map_err(|_| EnvelopeError::Malformed)
}

fn seal(
    key: &DerivedKey,
    iv: &[u8; IV_LEN],
    buffer: &mut [u8],
) -> Result<[u8; TAG_LEN], EnvelopeError> {
    // AES-GCM refuses only messages near 64 GiB, far past the cap checked
    // before sealing, so this error cannot arise from an accepted value.
    let cipher = Aes256Gcm::new(key.as_bytes().into());
    let tag = cipher
        .encrypt_in_place_detached(iv.into(), b"", buffer)
        .map_err(|_| EnvelopeError::TooLarge)?;
    Ok(tag.into())
}

/// Writes the JSON by hand, because Rails' exact bytes matter for
/// deterministic values and a serializer does not promise field order. Every
/// value is base64 or `true`, and neither ever needs JSON escaping.
fn serialize(
    ciphertext: &[u8],
    iv: &[u8],
    tag: &[u8],
    key_id: Option<&str>,
    compressed: bool,
) -> String {
    let mut headers = format!(
        r#""iv":"{}","at":"{}""#,
        BASE64.encode(iv),
        BASE64.encode(tag)
    );
    if let Some(id) = key_id {
        headers.push_str(&format!(r#","i":"{}""#, BASE64.encode(id)));
    }
    if compressed {
        headers.push_str(r#","c":true"#);
    }

    format!(
        r#"{{"p":"{}","h":{{{headers}}}}}"#,
        BASE64.encode(ciphertext)
    )
}

fn compress_if_worth_it(plaintext: &[u8]) -> (Zeroizing<Vec<u8>>, bool) {
    if plaintext.len() > COMPRESSION_THRESHOLD {
        if let Some(compressed) = zlib(plaintext) {
            return (compressed, true);
        }
    }

    // Compressing into memory cannot fail in practice. Were it ever to, the
    // clear text sealed as is still makes a valid envelope, because `c` only
    // tells the reader to inflate.
    (Zeroizing::new(plaintext.to_vec()), false)
}

fn zlib(data: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    // Deflate grows incompressible input by a few bytes per 16 KiB block, so
    // this capacity holds any output and the buffer never reallocates, which
    // would leave a copy of the secret behind in freed memory. The encoder's
    // own window still frees its copy unwiped; flate2 offers no way to reach it.
    let capacity = data.len() + data.len() / 1024 + 64;
    let mut encoder = ZlibEncoder::new(Vec::with_capacity(capacity), Compression::default());

    encoder.write_all(data).ok()?;
    encoder.finish().ok().map(Zeroizing::new)
}

/// Inflates at most [`MAX_CLEAR_TEXT`] bytes, so a small payload cannot
/// expand into gigabytes.
fn inflate(compressed: &[u8]) -> Result<Zeroizing<Vec<u8>>, EnvelopeError> {
    // One byte past the cap is enough to tell "too large" from "exactly full".
    let mut reader = ZlibDecoder::new(compressed).take(MAX_CLEAR_TEXT as u64 + 1);
    let mut clear = Zeroizing::new(Vec::new());
    let mut chunk = Zeroizing::new([0u8; 4096]);

    loop {
        let read = reader
            .read(chunk.as_mut_slice())
            .map_err(|_| EnvelopeError::Corrupt)?;
        match chunk.get(..read) {
            Some([]) => break,
            Some(bytes) => push_wiping(&mut clear, bytes),
            None => return Err(EnvelopeError::Corrupt),
        }
    }

    if clear.len() > MAX_CLEAR_TEXT {
        return Err(EnvelopeError::TooLarge);
    }
    Ok(clear)
}

/// Appends to a buffer of clear text. When it must grow, the old buffer is
/// dropped through `Zeroizing` and so wiped, where `Vec`'s own growth would
/// free it with the clear text still in it.
fn push_wiping(buffer: &mut Zeroizing<Vec<u8>>, bytes: &[u8]) {
    let needed = buffer.len() + bytes.len();
    if needed > buffer.capacity() {
        let mut bigger = Zeroizing::new(Vec::with_capacity(needed.max(2 * buffer.capacity())));
        bigger.extend_from_slice(buffer);
        *buffer = bigger;
    }

    buffer.extend_from_slice(bytes);
}

fn copy_prefix(target: &mut [u8], source: &[u8]) {
    target
        .iter_mut()
        .zip(source)
        .for_each(|(slot, byte)| *slot = *byte);
}

#[cfg(test)]
mod tests {
    // Tests may unwrap and index: a failure should stop the test at the line
    // that broke, which is exactly what a panic there does.
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use std::sync::OnceLock;

    use super::super::keys::{KdfDigest, KeyConfig, KeyText};
    use super::*;
    use serde_json::Value;

    const PRIMARY: &str = "EGY8WhulUOXixybod7ZWwMIL68R9o5kC";
    const OLD_PRIMARY: &str = "oldPrimaryKey0123456789abcdefXYZ";
    const DETERMINISTIC: &str = "aEDiXjEZoBwoEdKWvxQEp5DXnVakd8zE";
    const SALT: &str = "xEY0dt6TZcAMg52K7O84wYzkjvbA62Hz";

    const TOTP_SECRET: &str = "JBSWY3DPEHPK3PXP";
    const EMAIL: &str = "agent@example.com";
    const CODES: &str = r#"["123456","654321"]"#;

    /// The TOTP secret under the SHA-256 deterministic key, without a key id.
    const SECRET_WITHOUT_ID: &str = r#"{"p":"XLA3aR81DovGCWLlQdmU9Q==","h":{"iv":"tXUxnJpUIV+JhZ7B","at":"FuunVpBXW35KFMeElv+L7A=="}}"#;

    /// The TOTP secret as Rails wrote it under the current primary key.
    const SECRET_WITH_ID: &str = r#"{"p":"O2tI2FYD51j2aGVHXpGXyQ==","h":{"iv":"VZWPyKXErwhJSjcR","at":"A8+5axqk4vlNYQMFf7YKoQ==","i":"MDM5ZQ=="}}"#;

    fn long_text() -> Vec<u8> {
        vec![b'A'; 141]
    }

    /// The vectors' keyring, with `[old_primary_key, primary_key]` as primary
    /// keys, and the SHA-1 deterministic key. PBKDF2 dominates the tests'
    /// running time, so these are derived once for all of them.
    fn vector_keys() -> &'static (Keyring, DerivedKey) {
        static KEYS: OnceLock<(Keyring, DerivedKey)> = OnceLock::new();
        KEYS.get_or_init(|| {
            let config = KeyConfig {
                primary: vec![KeyText::new(OLD_PRIMARY), KeyText::new(PRIMARY)],
                deterministic: KeyText::new(DETERMINISTIC),
                salt: KeyText::new(SALT),
            };
            let sha1 = DerivedKey::derive(&config.deterministic, &config.salt, KdfDigest::Sha1);
            (Keyring::derive(&config).unwrap(), sha1)
        })
    }

    fn keyring() -> &'static Keyring {
        &vector_keys().0
    }

    fn deterministic_key(digest: KdfDigest) -> &'static DerivedKey {
        match digest {
            KdfDigest::Sha1 => &vector_keys().1,
            KdfDigest::Sha256 => keyring().deterministic(),
        }
    }

    /// A key no vector was written with.
    fn stranger() -> DerivedKey {
        DerivedKey::from_bytes([9; 32])
    }

    /// Rewrites one field of an envelope through a JSON value, for tampering.
    fn edit(envelope: &str, change: impl FnOnce(&mut Value)) -> String {
        let mut value: Value = serde_json::from_str(envelope).unwrap();
        change(&mut value);
        value.to_string()
    }

    fn flip_first_bit(field: &mut Value) {
        let mut bytes = BASE64.decode(field.as_str().unwrap()).unwrap();
        bytes[0] ^= 1;
        *field = Value::String(BASE64.encode(bytes));
    }

    #[test]
    fn rails_dune_vector_reads_and_reproduces() {
        let key = DerivedKey::derive(
            &KeyText::new("test deterministic key"),
            &KeyText::new("testing key derivation salt"),
            KdfDigest::Sha1,
        );
        let stored =
            r#"{"p":"DIohhw==","h":{"iv":"wEPaDcJP3VNIxaiz","at":"X7+2xvvcu1k1if6Dy28Esw=="}}"#;

        assert_eq!(
            decrypt(std::slice::from_ref(&key), stored)
                .unwrap()
                .as_slice(),
            b"Dune"
        );
        assert_eq!(encrypt_deterministic(&key, b"Dune", false).unwrap(), stored);
    }

    #[test]
    fn deterministic_vectors_match_rails_byte_for_byte() {
        // (digest, clear text, store_key_references=false, store_key_references=true)
        let table: [(KdfDigest, &[u8], &str, &str); 8] = [
            (
                KdfDigest::Sha1,
                TOTP_SECRET.as_bytes(),
                r#"{"p":"ZFqmMNJgSb+ZHfiU9NgJZA==","h":{"iv":"/LpvMgQ1krBtOBra","at":"47Z/+u3Q0P6YuTCV7NH5iw=="}}"#,
                r#"{"p":"ZFqmMNJgSb+ZHfiU9NgJZA==","h":{"iv":"/LpvMgQ1krBtOBra","at":"47Z/+u3Q0P6YuTCV7NH5iw==","i":"NDk0Zg=="}}"#,
            ),
            (
                KdfDigest::Sha1,
                EMAIL.as_bytes(),
                r#"{"p":"MnLt0j9t4u79KcVpZsioVEQ=","h":{"iv":"3lRQG0OBfvZtDi0g","at":"oHkZjqcTdYYggSqczRugSg=="}}"#,
                r#"{"p":"MnLt0j9t4u79KcVpZsioVEQ=","h":{"iv":"3lRQG0OBfvZtDi0g","at":"oHkZjqcTdYYggSqczRugSg==","i":"NDk0Zg=="}}"#,
            ),
            (
                KdfDigest::Sha1,
                b"",
                r#"{"p":"","h":{"iv":"8m0IqOKH+1QY2hXB","at":"rzHE2XzEukGaGhxTVGgMXw=="}}"#,
                r#"{"p":"","h":{"iv":"8m0IqOKH+1QY2hXB","at":"rzHE2XzEukGaGhxTVGgMXw==","i":"NDk0Zg=="}}"#,
            ),
            (
                KdfDigest::Sha1,
                CODES.as_bytes(),
                r#"{"p":"qE10Wzu+Wn5VRePzR/GgaAvhkA==","h":{"iv":"pcgtr2kvSeepJnrf","at":"ihP/PbPE5bytCyuw9E0XxA=="}}"#,
                r#"{"p":"qE10Wzu+Wn5VRePzR/GgaAvhkA==","h":{"iv":"pcgtr2kvSeepJnrf","at":"ihP/PbPE5bytCyuw9E0XxA==","i":"NDk0Zg=="}}"#,
            ),
            (
                KdfDigest::Sha256,
                TOTP_SECRET.as_bytes(),
                SECRET_WITHOUT_ID,
                r#"{"p":"XLA3aR81DovGCWLlQdmU9Q==","h":{"iv":"tXUxnJpUIV+JhZ7B","at":"FuunVpBXW35KFMeElv+L7A==","i":"ZTkxNA=="}}"#,
            ),
            (
                KdfDigest::Sha256,
                EMAIL.as_bytes(),
                r#"{"p":"xG0eax4J6o9KoVZHiHaS8X4=","h":{"iv":"eKrdG8au/b2pDdt2","at":"fxlk6EwAVp1PS4h3U+aLqQ=="}}"#,
                r#"{"p":"xG0eax4J6o9KoVZHiHaS8X4=","h":{"iv":"eKrdG8au/b2pDdt2","at":"fxlk6EwAVp1PS4h3U+aLqQ==","i":"ZTkxNA=="}}"#,
            ),
            (
                KdfDigest::Sha256,
                b"",
                r#"{"p":"","h":{"iv":"U9VCm6uM1k8IccV1","at":"QeZjk0CqJjsKUXx4c6jyLg=="}}"#,
                r#"{"p":"","h":{"iv":"U9VCm6uM1k8IccV1","at":"QeZjk0CqJjsKUXx4c6jyLg==","i":"ZTkxNA=="}}"#,
            ),
            (
                KdfDigest::Sha256,
                CODES.as_bytes(),
                r#"{"p":"PTcPedHcGPzcnHakK/UlUP+tXA==","h":{"iv":"QtixPmVvWkUYl0ty","at":"8oImIfFxn6Nrdq46s+xPJw=="}}"#,
                r#"{"p":"PTcPedHcGPzcnHakK/UlUP+tXA==","h":{"iv":"QtixPmVvWkUYl0ty","at":"8oImIfFxn6Nrdq46s+xPJw==","i":"ZTkxNA=="}}"#,
            ),
        ];

        for (digest, clear, without_id, with_id) in table {
            let key = deterministic_key(digest);

            for (store_key_reference, expected) in [(false, without_id), (true, with_id)] {
                let written = encrypt_deterministic(key, clear, store_key_reference).unwrap();
                assert_eq!(written, expected, "{digest:?} {store_key_reference}");
                let read = decrypt(std::slice::from_ref(key), expected).unwrap();
                assert_eq!(read.as_slice(), clear, "{digest:?} {store_key_reference}");
            }
        }
    }

    // Rails' vectors for a 141-byte value hold zlib's exact output; flate2 is
    // built on the real zlib so that twofold writes the very same bytes.
    #[test]
    fn long_deterministic_vectors_are_compressed_exactly_as_rails_does() {
        // (digest, store_key_references=false, store_key_references=true)
        let table = [
            (
                KdfDigest::Sha1,
                r#"{"p":"pdOInf5xmfDICM0i","h":{"iv":"r8BYr+bB+NjD+CdX","at":"1MW/ngtjAhqN4+MxYByJmQ==","c":true}}"#,
                r#"{"p":"pdOInf5xmfDICM0i","h":{"iv":"r8BYr+bB+NjD+CdX","at":"1MW/ngtjAhqN4+MxYByJmQ==","i":"NDk0Zg==","c":true}}"#,
            ),
            (
                KdfDigest::Sha256,
                r#"{"p":"xVD/iehu352Yjz5L","h":{"iv":"4+4nIhuitueVkRJg","at":"uQuJSDs2B1wleDR28McJlA==","c":true}}"#,
                r#"{"p":"xVD/iehu352Yjz5L","h":{"iv":"4+4nIhuitueVkRJg","at":"uQuJSDs2B1wleDR28McJlA==","i":"ZTkxNA==","c":true}}"#,
            ),
        ];

        for (digest, without_id, with_id) in table {
            let key = deterministic_key(digest);
            for stored in [without_id, with_id] {
                let read = decrypt(std::slice::from_ref(key), stored).unwrap();
                assert_eq!(read.as_slice(), long_text(), "{stored}");
            }

            for (store_key_reference, expected) in [(false, without_id), (true, with_id)] {
                let written =
                    encrypt_deterministic(key, &long_text(), store_key_reference).unwrap();
                assert_eq!(written, expected, "{digest:?} {store_key_reference}");
            }
        }
    }

    // Settles which bytes Rails feeds to the IV's HMAC: the compressed ones.
    #[test]
    fn rails_derives_the_deterministic_iv_from_the_compressed_bytes() {
        let key = deterministic_key(KdfDigest::Sha256);
        let stored = r#"{"p":"xVD/iehu352Yjz5L","h":{"iv":"4+4nIhuitueVkRJg","at":"uQuJSDs2B1wleDR28McJlA==","c":true}}"#;
        let message = Message::parse(stored).unwrap();
        let compressed = message.open(key).unwrap();

        assert_eq!(Iv::Deterministic.bytes_for(key, &compressed), message.iv);
        assert_ne!(Iv::Deterministic.bytes_for(key, &long_text()), message.iv);
    }

    #[test]
    fn rails_values_read_with_current_and_old_keys() {
        let long = long_text();
        // (clear text, envelope); under the current key, then under the old one
        let table: [(&[u8], &str); 8] = [
            (TOTP_SECRET.as_bytes(), SECRET_WITH_ID),
            (
                TOTP_SECRET.as_bytes(),
                r#"{"p":"M0BMQZW7ZJop/W/zCDmTQg==","h":{"iv":"vR19s4m+/fhZHb3+","at":"f1beyGZpCQ7uvAlCV75FKw==","i":"NTRiNQ=="}}"#,
            ),
            (
                b"",
                r#"{"p":"","h":{"iv":"QOh95IbtW4dwmEMd","at":"2FGrhvltVPENcsTPe2vN7w==","i":"MDM5ZQ=="}}"#,
            ),
            (
                b"",
                r#"{"p":"","h":{"iv":"nPLDx5EWUFXvPEi7","at":"8xFTPFuRTT94jK6y/slDMA==","i":"NTRiNQ=="}}"#,
            ),
            (
                &long,
                r#"{"p":"5Ir0OkJkYOe6LZ00","h":{"iv":"TQmSaciJfnyVvakt","at":"27FyMsw53RJYdPmQeP9PQw==","i":"MDM5ZQ==","c":true}}"#,
            ),
            (
                &long,
                r#"{"p":"QfdYKMTmcniBJmEe","h":{"iv":"weWAoU8v1yDD6p5a","at":"CXl76HH1Qn8Pz2n9ezBJSA==","i":"NTRiNQ==","c":true}}"#,
            ),
            (
                CODES.as_bytes(),
                r#"{"p":"L5QM2kw5QESueUNQjrrkBYnqRQ==","h":{"iv":"Wdpc8yQ2WE9VBpfE","at":"1NdFanlaxSCfgov2Awl5AQ==","i":"MDM5ZQ=="}}"#,
            ),
            (
                CODES.as_bytes(),
                r#"{"p":"K/Pikb396F6AJU2vyeQfTG/Cvw==","h":{"iv":"S1lN3Zy8D4tO86xJ","at":"3tfGVSoPUS6y+ObueVVeiw==","i":"NTRiNQ=="}}"#,
            ),
        ];

        for (clear, stored) in table {
            assert_eq!(
                keyring().decrypt(stored).unwrap().as_slice(),
                clear,
                "{stored}"
            );
        }
    }

    #[test]
    fn random_encryption_round_trips_and_names_the_current_key() {
        let mut rng = rand::thread_rng();

        for clear in [
            b"".as_slice(),
            TOTP_SECRET.as_bytes(),
            &long_text(),
            &[0xff; 5000],
        ] {
            let first = keyring().encrypt(clear, &mut rng).unwrap();
            let second = keyring().encrypt(clear, &mut rng).unwrap();

            assert_ne!(first, second, "a random IV must differ between writes");
            assert!(first.contains(r#""i":"MDM5ZQ==""#), "{first}");
            assert_eq!(keyring().decrypt(&first).unwrap().as_slice(), clear);
        }
    }

    #[test]
    fn compression_starts_above_140_bytes() {
        let key = keyring().encrypt_with();
        let mut rng = rand::thread_rng();

        let at_threshold = encrypt_random(key, &[b'A'; 140], &mut rng).unwrap();
        let above = encrypt_random(key, &[b'A'; 141], &mut rng).unwrap();

        assert!(!at_threshold.contains(r#""c""#), "{at_threshold}");
        assert!(above.ends_with(r#","c":true}}"#), "{above}");
        assert!(encrypt_deterministic(key, &[b'A'; 140], false).is_ok());
    }

    #[test]
    fn keys_from_elsewhere_are_refused_as_wrong_key() {
        let keys = [stranger()];

        for stored in [SECRET_WITH_ID, SECRET_WITHOUT_ID] {
            assert_eq!(
                decrypt(&keys, stored),
                Err(EnvelopeError::WrongKey),
                "{stored}"
            );
            assert_eq!(
                decrypt(&[], stored),
                Err(EnvelopeError::WrongKey),
                "{stored}"
            );
        }
    }

    #[test]
    fn values_without_key_id_try_every_key() {
        let keys = [stranger(), deterministic_key(KdfDigest::Sha256).clone()];

        let read = decrypt(&keys, SECRET_WITHOUT_ID).unwrap();
        assert_eq!(read.as_slice(), TOTP_SECRET.as_bytes());
    }

    #[test]
    fn colliding_key_ids_try_every_matching_key() {
        let real = keyring().encrypt_with();
        let impostor = (0u32..)
            .map(|n| DerivedKey::from_bytes(std::array::from_fn(|i| n.to_le_bytes()[i % 4])))
            .find(|key| key.id() == real.id() && key.as_bytes() != real.as_bytes())
            .unwrap();

        let read = decrypt(&[impostor, real.clone()], SECRET_WITH_ID).unwrap();
        assert_eq!(read.as_slice(), TOTP_SECRET.as_bytes());
    }

    #[test]
    fn tampered_payload_tag_or_iv_is_refused() {
        let stored = keyring()
            .encrypt(TOTP_SECRET.as_bytes(), &mut rand::thread_rng())
            .unwrap();

        let tampered = [
            edit(&stored, |v| flip_first_bit(&mut v["p"])),
            edit(&stored, |v| flip_first_bit(&mut v["h"]["at"])),
            edit(&stored, |v| flip_first_bit(&mut v["h"]["iv"])),
        ];
        for envelope in tampered {
            assert_eq!(
                keyring().decrypt(&envelope),
                Err(EnvelopeError::WrongKey),
                "{envelope}"
            );
        }
    }

    #[test]
    fn garbage_is_malformed() {
        let valid = SECRET_WITHOUT_ID;
        let cases = [
            String::new(),
            TOTP_SECRET.to_owned(),
            "null".to_owned(),
            "[]".to_owned(),
            "{}".to_owned(),
            r#"{"p":""}"#.to_owned(),
            r#"{"p":"","h":{}}"#.to_owned(),
            edit(valid, |v| v["p"] = Value::from("not base64!")),
            edit(valid, |v| v["p"] = Value::from(5)),
            edit(valid, |v| v["h"]["iv"] = Value::from("AAAA")),
            edit(valid, |v| {
                v["h"]["at"] = Value::from(BASE64.encode([0u8; 15]))
            }),
            edit(valid, |v| v["h"]["c"] = Value::from("yes")),
            edit(valid, |v| v["h"]["i"] = Value::from("%%%")),
            edit(valid, |v| v["h"]["k"] = Value::from("AAAA")),
            edit(valid, |v| v["extra"] = Value::from(1)),
            valid.replacen(r#""iv""#, r#""iv":"AAAA","iv""#, 1),
        ];

        let keys = keyring().read();
        for envelope in cases {
            assert_eq!(
                decrypt(keys, &envelope),
                Err(EnvelopeError::Malformed),
                "{envelope}"
            );
        }
    }

    #[test]
    fn every_truncation_is_an_error() {
        let stored = keyring()
            .encrypt(&long_text(), &mut rand::thread_rng())
            .unwrap();

        for end in 0..stored.len() {
            assert!(
                keyring().decrypt(&stored[..end]).is_err(),
                "{}",
                &stored[..end]
            );
        }
    }

    #[test]
    fn encoding_header_is_accepted_only_for_byte_compatible_encodings() {
        let key = deterministic_key(KdfDigest::Sha256);
        let with = |e: &str| edit(SECRET_WITHOUT_ID, |v| v["h"]["e"] = Value::from(e));
        let secret: Result<Vec<u8>, EnvelopeError> = Ok(TOTP_SECRET.as_bytes().to_vec());
        let cases = [
            (with(&BASE64.encode("US-ASCII")), secret.clone()),
            (with(&BASE64.encode("ASCII-8BIT")), secret),
            (
                with(&BASE64.encode("ISO-8859-1")),
                Err(EnvelopeError::UnsupportedEncoding),
            ),
            (with("US-ASCII"), Err(EnvelopeError::Malformed)),
        ];

        for (envelope, expected) in cases {
            let result = decrypt(std::slice::from_ref(key), &envelope);
            assert_eq!(result.map(|clear| clear.to_vec()), expected, "{envelope}");
        }
    }

    #[test]
    fn compressed_flag_on_uncompressed_value_is_corrupt() {
        let key = deterministic_key(KdfDigest::Sha256);
        let flagged = edit(SECRET_WITHOUT_ID, |v| v["h"]["c"] = Value::from(true));

        let result = decrypt(std::slice::from_ref(key), &flagged);
        assert_eq!(result, Err(EnvelopeError::Corrupt));
    }

    #[test]
    fn zip_bombs_are_refused() {
        let key = stranger();
        let mut bomb = zlib(&vec![0u8; MAX_CLEAR_TEXT + 1]).unwrap();
        let iv = [7u8; IV_LEN];
        let tag = seal(&key, &iv, &mut bomb).unwrap();

        let stored = serialize(&bomb, &iv, &tag, Some(key.id()), true);
        assert!(stored.len() < 8 * 1024, "the bomb should be small on disk");
        assert_eq!(decrypt(&[key], &stored), Err(EnvelopeError::TooLarge));
    }

    #[test]
    fn exactly_the_cap_round_trips_and_one_more_byte_is_refused() {
        let key = stranger();
        let mut rng = rand::thread_rng();

        let full = encrypt_random(&key, &vec![b'x'; MAX_CLEAR_TEXT], &mut rng).unwrap();
        assert_eq!(
            decrypt(std::slice::from_ref(&key), &full).unwrap().len(),
            MAX_CLEAR_TEXT
        );

        let over = encrypt_random(&key, &vec![b'x'; MAX_CLEAR_TEXT + 1], &mut rng);
        assert_eq!(over, Err(EnvelopeError::TooLarge));
    }

    #[test]
    fn wrong_key_message_tells_the_operator_what_to_do() {
        assert_eq!(
            EnvelopeError::WrongKey.to_string(),
            "no configured key can decrypt this value: were new keys generated on this server? \
             Use the keys from the old one."
        );
    }
}

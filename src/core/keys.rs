//! Key material for encrypting secrets at rest: the operator's key texts, the
//! 32-byte keys derived from them exactly as Rails Active Record Encryption
//! derives them, and the keyring that says which key writes and which keys
//! read. It owns key derivation and key identifiers, and nothing else: it must
//! not read the environment, encrypt anything or print a key, so every type
//! here redacts its bytes in `Debug` and wipes them on drop.

use std::fmt;

use hmac::digest::Key;
use hmac::{Hmac, Mac};
use pbkdf2::pbkdf2_hmac;
use rand::distributions::Alphanumeric;
use rand::{CryptoRng, Rng, RngCore};
use secrecy::{ExposeSecret, SecretString};
use sha1::{Digest, Sha1};
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

/// Length of a derived key: AES-256 takes 32 bytes.
pub const KEY_LEN: usize = 32;

/// Length of a key text made by [`generate_key_text`], as `rails db:encryption:init` makes them.
pub const KEY_TEXT_LEN: usize = 32;

/// Rails fixes PBKDF2 at 2^16 iterations; any other count derives different keys.
const PBKDF2_ROUNDS: u32 = 1 << 16;

/// Rails names a key by the first four hex characters of the SHA-1 of its bytes.
const KEY_ID_LEN: usize = 4;

/// An operator-supplied key as text.
///
/// Rails feeds the text's UTF-8 bytes to PBKDF2 as the password, so the text
/// is never hex- or base64-decoded, even when it looks encoded.
pub struct KeyText(SecretString);

impl KeyText {
    /// Wraps a key text read from configuration.
    pub fn new(text: impl Into<String>) -> Self {
        Self(SecretString::from(text.into()))
    }

    /// Whether the text is empty, which a stray comma in a key list produces.
    pub fn is_empty(&self) -> bool {
        self.0.expose_secret().is_empty()
    }

    fn as_bytes(&self) -> &[u8] {
        self.0.expose_secret().as_bytes()
    }
}

impl From<String> for KeyText {
    fn from(text: String) -> Self {
        Self::new(text)
    }
}

impl fmt::Debug for KeyText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyText([REDACTED])")
    }
}

/// The three key texts an operator configures, named as Rails names them.
#[derive(Debug)]
pub struct KeyConfig {
    /// Keys that encrypt secrets. The last one is current and writes; the
    /// earlier ones stay readable while a rotation re-encrypts old values.
    pub primary: Vec<KeyText>,
    /// Key for deterministic values and for the backup-code digest subkeys.
    pub deterministic: KeyText,
    /// Salt for deriving every key above.
    pub salt: KeyText,
}

/// Why a [`KeyConfig`] cannot become a [`Keyring`].
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyConfigError {
    /// The primary key list is empty, so there is no key to encrypt with.
    #[error("no primary key is configured: run `twofold keys init` or reuse the Rails app's keys")]
    NoPrimaryKey,
    /// One key text is empty; `which` names it ("primary", "deterministic" or
    /// "salt"). An empty password would derive a key anyone can recompute.
    #[error("the {which} key is empty: check the configured value for a stray comma or blank")]
    EmptyKey {
        /// Which configured value is empty.
        which: &'static str,
    },
}

/// Makes a fresh key text: 32 characters of `[A-Za-z0-9]`, like `rails db:encryption:init`.
pub fn generate_key_text<R: RngCore + CryptoRng>(rng: &mut R) -> String {
    // `Alphanumeric` draws six random bits and rejects values past 61, so
    // every one of the 62 characters is equally likely; taking a byte modulo
    // 62 instead would favour the first eight.
    (0..KEY_TEXT_LEN)
        .map(|_| char::from(rng.sample(Alphanumeric)))
        .collect()
}

/// The hash inside PBKDF2's HMAC.
///
/// Rails derives with SHA-1 unless an app adopts the 7.1 defaults, which
/// switch to SHA-256, so values from older apps need SHA-1 to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KdfDigest {
    /// PBKDF2-HMAC-SHA1, Rails' default before the 7.1 defaults.
    Sha1,
    /// PBKDF2-HMAC-SHA256, Rails' 7.1 default and what twofold writes with.
    Sha256,
}

/// A 32-byte AES key derived from a [`KeyText`], with its public key id.
///
/// The bytes are wiped on drop and never printed; `Debug` shows only the id,
/// which Rails already writes in clear into every envelope's `i` header.
#[derive(Clone)]
pub struct DerivedKey {
    bytes: Zeroizing<[u8; KEY_LEN]>,
    id: String,
}

impl DerivedKey {
    /// Derives a key the way Rails does: PBKDF2 over the key text and salt text.
    pub fn derive(key: &KeyText, salt: &KeyText, digest: KdfDigest) -> Self {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        let (password, salt) = (key.as_bytes(), salt.as_bytes());

        match digest {
            KdfDigest::Sha1 => pbkdf2_hmac::<Sha1>(password, salt, PBKDF2_ROUNDS, &mut *bytes),
            KdfDigest::Sha256 => pbkdf2_hmac::<Sha256>(password, salt, PBKDF2_ROUNDS, &mut *bytes),
        }

        Self::with_id(bytes)
    }

    /// Wraps raw key bytes, for tests and for keys that arrive already derived.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self::with_id(Zeroizing::new(bytes))
    }

    /// The key id: the first four hex characters of SHA-1 of the key bytes.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The raw key bytes, for the cipher.
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.bytes
    }

    /// HMAC-SHA256 of `data` under this key.
    pub(crate) fn mac(&self, data: &[u8]) -> Zeroizing<[u8; 32]> {
        let mut mac = self.hmac();
        mac.update(data);
        Zeroizing::new(mac.finalize().into_bytes().into())
    }

    // The id is computed once here because decryption compares it against
    // every envelope's `i` header.
    fn with_id(bytes: Zeroizing<[u8; KEY_LEN]>) -> Self {
        let mut id = hex::encode(Sha1::digest(bytes.as_slice()));
        id.truncate(KEY_ID_LEN);
        Self { bytes, id }
    }

    // HMAC defines a key shorter than the hash's block as that key followed by
    // zeros (RFC 2104, section 2). Padding the 32-byte key to SHA-256's 64-byte
    // block by hand therefore yields the same MAC, and lets the type system
    // prove the length instead of a runtime check that cannot fail but would
    // still need an `unwrap`.
    fn hmac(&self) -> Hmac<Sha256> {
        let mut block = Key::<Hmac<Sha256>>::default();
        block
            .iter_mut()
            .zip(self.bytes.iter())
            .for_each(|(slot, byte)| *slot = *byte);

        let mac = <Hmac<Sha256> as hmac::digest::KeyInit>::new(&block);
        block.as_mut_slice().zeroize();
        mac
    }
}

impl fmt::Debug for DerivedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DerivedKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Every derived key twofold needs, each with its role.
#[derive(Debug)]
pub struct Keyring {
    /// The SHA-256 derivation of the current primary key; all writes use it.
    encrypt_with: DerivedKey,
    /// SHA-256 and SHA-1 derivations of every primary key, current first, so
    /// the common case is tried first and Rails 7.0 values stay readable.
    read: Vec<DerivedKey>,
    /// The SHA-256 derivation of the deterministic key.
    deterministic: DerivedKey,
}

impl Keyring {
    /// Derives every key from the configured texts. This runs PBKDF2 once per
    /// key and digest, so it belongs at start-up, not on a request path.
    pub fn derive(config: &KeyConfig) -> Result<Self, KeyConfigError> {
        check_not_empty(config)?;
        let salt = &config.salt;

        let read: Vec<DerivedKey> = config
            .primary
            .iter()
            .rev()
            .flat_map(|key| {
                [KdfDigest::Sha256, KdfDigest::Sha1].map(|d| DerivedKey::derive(key, salt, d))
            })
            .collect();

        let encrypt_with = read.first().cloned().ok_or(KeyConfigError::NoPrimaryKey)?;
        let deterministic = DerivedKey::derive(&config.deterministic, salt, KdfDigest::Sha256);
        Ok(Self {
            encrypt_with,
            read,
            deterministic,
        })
    }

    /// The key that encrypts every new value.
    pub fn encrypt_with(&self) -> &DerivedKey {
        &self.encrypt_with
    }

    /// The keys that may decrypt a stored value, in the order worth trying.
    pub fn read(&self) -> &[DerivedKey] {
        &self.read
    }

    /// The deterministic key, for values that must encrypt the same way twice.
    pub fn deterministic(&self) -> &DerivedKey {
        &self.deterministic
    }

    /// A 32-byte key for one purpose, HMAC-SHA256(deterministic key, `label`).
    ///
    /// Distinct labels give independent keys, so a digest keyed for one use
    /// (backup codes, say) can never be replayed as another.
    pub fn subkey(&self, label: &[u8]) -> Zeroizing<[u8; 32]> {
        self.deterministic.mac(label)
    }
}

fn check_not_empty(config: &KeyConfig) -> Result<(), KeyConfigError> {
    if config.primary.is_empty() {
        return Err(KeyConfigError::NoPrimaryKey);
    }

    let named = [
        ("deterministic", &config.deterministic),
        ("salt", &config.salt),
    ];
    let primaries = config.primary.iter().map(|key| ("primary", key));
    match primaries.chain(named).find(|(_, key)| key.is_empty()) {
        Some((which, _)) => Err(KeyConfigError::EmptyKey { which }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    // Tests may unwrap and index: a failure should stop the test at the line
    // that broke, which is exactly what a panic there does.
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use base64::engine::general_purpose::STANDARD as BASE64;
    use base64::Engine as _;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    const PRIMARY: &str = "EGY8WhulUOXixybod7ZWwMIL68R9o5kC";
    const OLD_PRIMARY: &str = "oldPrimaryKey0123456789abcdefXYZ";
    const DETERMINISTIC: &str = "aEDiXjEZoBwoEdKWvxQEp5DXnVakd8zE";
    const SALT: &str = "xEY0dt6TZcAMg52K7O84wYzkjvbA62Hz";

    /// The SHA-256 derivation of `primary_key`, whose id is `039e`.
    const PRIMARY_SHA256: &str = "fa93ae5ad24a1b6ca6552023279f39c23ee2099e98be06a905f8e58567452195";

    fn key_from_hex(hex_key: &str) -> DerivedKey {
        DerivedKey::from_bytes(hex::decode(hex_key).unwrap().try_into().unwrap())
    }

    fn config(primary: &[&str]) -> KeyConfig {
        KeyConfig {
            primary: primary.iter().map(|text| KeyText::new(*text)).collect(),
            deterministic: KeyText::new(DETERMINISTIC),
            salt: KeyText::new(SALT),
        }
    }

    #[test]
    fn derived_keys_match_rails() {
        // (digest, key text, salt text, derived key hex, key id, `i` header)
        let table = [
            (
                KdfDigest::Sha1,
                PRIMARY,
                SALT,
                "423c09a30911506cc97ad874f6d332ba99548f11c069123707c2f941d86f9320",
                "059a",
                "MDU5YQ==",
            ),
            (
                KdfDigest::Sha1,
                OLD_PRIMARY,
                SALT,
                "e0d636747bce14aa63612af1cd76ddbfd6dc0b9ebaf5259dc553cf36e04c0ab0",
                "992b",
                "OTkyYg==",
            ),
            (
                KdfDigest::Sha1,
                DETERMINISTIC,
                SALT,
                "d9c38d851e71d398f0a41ee267150915d6e14faf1935fd19e575234fdc0c1c5d",
                "494f",
                "NDk0Zg==",
            ),
            (
                KdfDigest::Sha256,
                PRIMARY,
                SALT,
                "fa93ae5ad24a1b6ca6552023279f39c23ee2099e98be06a905f8e58567452195",
                "039e",
                "MDM5ZQ==",
            ),
            (
                KdfDigest::Sha256,
                OLD_PRIMARY,
                SALT,
                "c2a96b385ffcbe57221b611ae6c685ff4d03bd06ffe84c194c286255054b53a4",
                "54b5",
                "NTRiNQ==",
            ),
            (
                KdfDigest::Sha256,
                DETERMINISTIC,
                SALT,
                "c01f96eb8d835b2621039fb501636cc794f7c852c864ba9b9042f3b8efb679a6",
                "e914",
                "ZTkxNA==",
            ),
            (
                KdfDigest::Sha1,
                "test deterministic key",
                "testing key derivation salt",
                "d61facbaf9e007152bc1dda663124c579f2c013964b1b151460f8fff3e989759",
                "",
                "",
            ),
        ];

        for (digest, text, salt, hex_key, id, header) in table {
            let key = DerivedKey::derive(&KeyText::new(text), &KeyText::new(salt), digest);
            assert_eq!(hex::encode(key.as_bytes()), hex_key, "{digest:?} {text}");
            if !id.is_empty() {
                assert_eq!(key.id(), id, "{digest:?} {text}");
                assert_eq!(BASE64.encode(key.id()), header, "{digest:?} {text}");
            }
        }
    }

    #[test]
    fn from_bytes_computes_the_same_id_as_derive() {
        assert_eq!(key_from_hex(PRIMARY_SHA256).id(), "039e");
    }

    #[test]
    fn keyring_orders_keys_current_first_with_both_digests() {
        let keyring = Keyring::derive(&config(&[OLD_PRIMARY, PRIMARY])).unwrap();

        let ids: Vec<&str> = keyring.read().iter().map(DerivedKey::id).collect();
        assert_eq!(ids, ["039e", "059a", "54b5", "992b"]);
        assert_eq!(keyring.encrypt_with().id(), "039e");
        assert_eq!(keyring.deterministic().id(), "e914");
    }

    #[test]
    fn keyring_refuses_missing_or_empty_keys() {
        let cases = [
            (config(&[]), KeyConfigError::NoPrimaryKey),
            (
                config(&[PRIMARY, ""]),
                KeyConfigError::EmptyKey { which: "primary" },
            ),
            (
                KeyConfig {
                    deterministic: KeyText::new(""),
                    ..config(&[PRIMARY])
                },
                KeyConfigError::EmptyKey {
                    which: "deterministic",
                },
            ),
            (
                KeyConfig {
                    salt: KeyText::new(""),
                    ..config(&[PRIMARY])
                },
                KeyConfigError::EmptyKey { which: "salt" },
            ),
        ];

        for (config, expected) in cases {
            assert_eq!(Keyring::derive(&config).unwrap_err(), expected);
        }
    }

    #[test]
    fn mac_with_padded_key_equals_hmac_over_the_plain_key() {
        let key = DerivedKey::from_bytes(std::array::from_fn(|i| i as u8));
        let mut reference = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
        reference.update(b"some data");

        let expected: [u8; 32] = reference.finalize().into_bytes().into();
        assert_eq!(*key.mac(b"some data"), expected);
    }

    #[test]
    fn subkeys_are_hmac_of_the_label_and_differ_per_label() {
        // Built by hand because only the deterministic key matters here.
        let keyring = Keyring {
            encrypt_with: DerivedKey::from_bytes([1; 32]),
            read: Vec::new(),
            deterministic: DerivedKey::from_bytes([2; 32]),
        };
        let mut reference =
            Hmac::<Sha256>::new_from_slice(keyring.deterministic().as_bytes()).unwrap();
        reference.update(b"backup codes");

        let expected: [u8; 32] = reference.finalize().into_bytes().into();
        assert_eq!(*keyring.subkey(b"backup codes"), expected);
        assert_ne!(*keyring.subkey(b"backup codes"), *keyring.subkey(b"other"));
    }

    #[test]
    fn generated_key_texts_are_32_alphanumerics_and_differ() {
        let mut rng = rand::thread_rng();
        let first = generate_key_text(&mut rng);
        let second = generate_key_text(&mut rng);

        for text in [&first, &second] {
            assert_eq!(text.len(), KEY_TEXT_LEN);
            assert!(text.chars().all(|c| c.is_ascii_alphanumeric()), "{text}");
        }
        assert_ne!(first, second);
    }

    #[test]
    fn generated_key_texts_use_the_whole_alphabet() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..100 {
            seen.extend(generate_key_text(&mut rng).chars());
        }

        assert_eq!(seen.len(), 62);
    }

    #[test]
    fn debug_output_never_shows_key_material() {
        let text = KeyText::new(PRIMARY);
        let key = key_from_hex(PRIMARY_SHA256);

        assert_eq!(format!("{text:?}"), "KeyText([REDACTED])");
        assert_eq!(format!("{key:?}"), r#"DerivedKey { id: "039e", .. }"#);
        assert!(!format!("{:?}", config(&[PRIMARY])).contains(PRIMARY));
        assert!(!format!("{key:?}").contains(&PRIMARY_SHA256[..8]));
    }
}

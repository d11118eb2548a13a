//! The account flows behind both the JSON API and the web portal: signing
//! in, the second step, enrolment, disabling and regenerating codes.
//!
//! Handlers parse requests and shape responses; everything that decides
//! (limits, hashing, code checks, state changes, audit) happens here once, so
//! a form post and a JSON call are held to exactly the same rules.

mod enrolment;
mod factor;
mod sign_in;

pub use enrolment::{MfaStatus, Setup};
pub use factor::FactorInput;
pub use sign_in::SignInOutcome;

use crate::core::backup::DigestKey;
use crate::core::keys::{KeyConfig, KeyConfigError, Keyring};
use crate::core::token::Token;
use crate::store::User;

use super::audit::{Event, Kind, Outcome};
use super::client::Client;
use super::error::{Error, Result};
use super::AppState;

/// The label under which the backup-code digest key is derived from the
/// deterministic key; changing it would orphan every stored digest.
const BACKUP_DIGEST_LABEL: &[u8] = b"twofold backup-code digests v1";

/// Key material MFA needs, derived once at start.
pub struct MfaKeys {
    pub keyring: Keyring,
    pub backup: DigestKey,
}

/// The label of the value that identifies the deterministic key in the
/// database; see [`MfaKeys::check_value`].
const KEY_CHECK_LABEL: &[u8] = b"twofold deterministic-key check v1";

impl MfaKeys {
    /// A value that identifies the deterministic key (and salt) without
    /// revealing them: SHA-256 of a labelled subkey. Stored once, it lets
    /// every later start tell whether the key still matches the backup-code
    /// digests, which would otherwise just stop matching.
    pub fn check_value(&self) -> String {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(*self.keyring.subkey(KEY_CHECK_LABEL)))
    }

    pub fn derive(config: &KeyConfig) -> std::result::Result<MfaKeys, KeyConfigError> {
        let keyring = Keyring::derive(config)?;
        let backup = DigestKey::from_bytes(*keyring.subkey(BACKUP_DIGEST_LABEL));
        Ok(MfaKeys { keyring, backup })
    }
}

impl AppState {
    pub(super) fn mfa_keys(&self) -> Result<&MfaKeys> {
        self.mfa.as_ref().ok_or(Error::FeatureUnavailable)
    }

    /// Starts a session for a user who has passed every factor.
    /// Starts a session for a user who has passed every factor their MFA
    /// state asked for. None when that state changed since `user` was read
    /// (say, MFA was enabled while the password hashed): no session is made.
    pub(super) async fn open_session(
        &self,
        user: &User,
        client: &Client,
        how: &str,
    ) -> Result<Option<Token>> {
        let token = Token::generate(&mut rand::thread_rng());
        let now = crate::clock::now();
        let digest = token.digest();
        let lifetime = self.policy.session;
        let created = self
            .store
            .create_session(&digest, &user.id, user.mfa_enabled(), lifetime, now)
            .await?;
        if !created {
            return Ok(None);
        }

        let event = Event::new(Kind::SignIn, Outcome::Success)
            .user(&user.id, &user.email)
            .detail(how);
        self.audit.record(event, client, now).await;
        Ok(Some(token))
    }

    /// Ends the session that made the request.
    pub async fn sign_out(&self, user: &User, token: &Token, client: &Client) -> Result<()> {
        self.store.revoke_session(&token.digest()).await?;
        let event = Event::new(Kind::SignOut, Outcome::Success).user(&user.id, &user.email);
        self.audit.record(event, client, crate::clock::now()).await;
        Ok(())
    }
}

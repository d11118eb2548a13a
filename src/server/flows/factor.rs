//! Checking a second factor for a user who has MFA on: the lock, the limits,
//! the atomic use of the code, and the audit of both outcomes.

use super::{AppState, Client, Error, Event, Kind, Outcome, Result};
use crate::core::code::{BackupCode, TotpCode};
use crate::core::totp::{self, TotpSecret};
use crate::server::limits::Scope;
use crate::store::User;

/// A second factor as submitted, before parsing.
#[derive(Debug, Clone)]
pub enum FactorInput {
    Totp(String),
    Backup(String),
    /// One field that may hold either, as on the web form.
    Either(String),
}

/// A second factor after parsing; `Malformed` is checked as a wrong code, so
/// odd input costs the guesser the same as a wrong guess.
enum Factor {
    Totp(TotpCode),
    Backup(BackupCode),
    Malformed { backup: bool },
}

impl FactorInput {
    /// Builds the input from the API's two optional fields.
    pub fn from_fields(otp_code: Option<String>, backup_code: Option<String>) -> Result<Self> {
        match (otp_code, backup_code) {
            (Some(code), None) => Ok(FactorInput::Totp(code)),
            (None, Some(code)) => Ok(FactorInput::Backup(code)),
            (None, None) => Err(Error::BadRequest("give otp_code or backup_code".into())),
            (Some(_), Some(_)) => Err(Error::BadRequest(
                "give otp_code or backup_code, not both".into(),
            )),
        }
    }

    pub fn kind_name(&self) -> &'static str {
        match self.parse() {
            Factor::Backup(_) | Factor::Malformed { backup: true } => "backup_code",
            Factor::Totp(_) | Factor::Malformed { backup: false } => "totp",
        }
    }

    fn parse(&self) -> Factor {
        match self {
            FactorInput::Totp(text) => {
                TotpCode::parse(text).map_or(Factor::Malformed { backup: false }, Factor::Totp)
            }
            FactorInput::Backup(text) => {
                BackupCode::parse(text).map_or(Factor::Malformed { backup: true }, Factor::Backup)
            }
            FactorInput::Either(text) => match (TotpCode::parse(text), BackupCode::parse(text)) {
                (Ok(code), _) => Factor::Totp(code),
                (_, Ok(code)) => Factor::Backup(code),
                _ => Factor::Malformed {
                    backup: text.trim().len() > 7,
                },
            },
        }
    }
}

impl AppState {
    /// Checks and uses up one second factor of `user`. A TOTP step or backup
    /// code that passes here can never pass again.
    pub(super) async fn check_factor(
        &self,
        user: &User,
        input: &FactorInput,
        client: &Client,
    ) -> Result<()> {
        self.mfa_keys()?;
        self.limit(Scope::Code, &user.id, Some(&user.email), client)
            .await?;

        let factor = input.parse();
        let accepted = match &factor {
            Factor::Totp(code) => self.use_totp(user, code, client).await?,
            Factor::Backup(code) => self.use_backup(user, code, client).await?,
            Factor::Malformed { .. } => false,
        };
        let kind = match factor {
            Factor::Backup(_) | Factor::Malformed { backup: true } => Kind::BackupCode,
            _ => Kind::TotpCode,
        };
        if accepted {
            self.forgive(Scope::Code, &user.id).await?;
            self.audit_user(kind, Outcome::Success, user, None, client)
                .await;
            return Ok(());
        }
        self.refuse_code(user, kind, client).await
    }

    async fn use_totp(&self, user: &User, code: &TotpCode, client: &Client) -> Result<bool> {
        if user.mfa_locked_at.is_some() {
            self.audit_user(
                Kind::TotpCode,
                Outcome::Blocked,
                user,
                Some("locked"),
                client,
            )
            .await;
            return Err(Error::MfaLocked);
        }
        let secret = self.stored_secret(user.otp_secret.as_deref())?;
        let now = u64::try_from(crate::clock::now()).unwrap_or(0);
        let last = user.otp_last_step.and_then(|s| u64::try_from(s).ok());

        let Some(step) = totp::verify(&secret, code, now, last) else {
            return Ok(false);
        };
        let step = i64::try_from(step).map_err(|e| Error::Internal(e.into()))?;
        Ok(self.store.use_totp_step(&user.id, step).await?)
    }

    async fn use_backup(&self, user: &User, code: &BackupCode, client: &Client) -> Result<bool> {
        let digest = self.mfa_keys()?.backup.digest(code);
        let used = self.store.use_backup_code(&user.id, &digest).await?;
        if used && user.mfa_locked_at.is_some() {
            self.audit_user(
                Kind::MfaUnlocked,
                Outcome::Success,
                user,
                Some("backup_code"),
                client,
            )
            .await;
        }
        Ok(used)
    }

    /// Records a wrong code: audited, counted towards the lock, and refused.
    pub(super) async fn refuse_code(&self, user: &User, kind: Kind, client: &Client) -> Result<()> {
        let now = crate::clock::now();
        self.audit_user(kind, Outcome::Failure, user, None, client)
            .await;
        let (_, locked_now) = self
            .store
            .record_mfa_failure(&user.id, self.policy.mfa_failure_cap, now)
            .await?;
        if locked_now {
            self.audit_user(Kind::MfaLocked, Outcome::Blocked, user, None, client)
                .await;
        }
        Err(Error::InvalidCode)
    }

    /// Decrypts a stored TOTP secret; a value the keys cannot read is an
    /// error naming the cause, never mistaken for a secret.
    pub(super) fn stored_secret(&self, envelope: Option<&str>) -> Result<TotpSecret> {
        let envelope = envelope.ok_or(Error::Unprocessable {
            code: "setup_required",
            message: "start the set-up first",
        })?;
        let plain = self
            .mfa_keys()?
            .keyring
            .decrypt(envelope)
            .map_err(Error::SecretUnreadable)?;
        let text = std::str::from_utf8(&plain).map_err(|e| Error::Internal(e.into()))?;
        TotpSecret::from_base32(text).map_err(|e| Error::Internal(anyhow::anyhow!("{e}")))
    }

    pub(super) async fn audit_user(
        &self,
        kind: Kind,
        outcome: Outcome,
        user: &User,
        detail: Option<&str>,
        client: &Client,
    ) {
        let mut event = Event::new(kind, outcome).user(&user.id, &user.email);
        event.detail = detail;
        self.audit.record(event, client, crate::clock::now()).await;
    }
}

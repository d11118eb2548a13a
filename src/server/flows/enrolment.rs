//! Turning MFA on and off, and replacing backup codes.

use qrcode::render::svg;
use qrcode::QrCode;
use serde::Serialize;

use super::factor::FactorInput;
use super::sign_in::hash_error;
use super::{AppState, Client, Error, Kind, Outcome, Result};
use crate::core::backup;
use crate::core::code::{BackupCode, TotpCode};
use crate::core::password::Password;
use crate::core::totp::{self, TotpSecret};
use crate::core::uri::provisioning_uri;
use crate::server::limits::Scope;
use crate::store::mfa::Enrolment;
use crate::store::User;

#[derive(Debug, Serialize)]
pub struct MfaStatus {
    pub feature_available: bool,
    pub enabled: bool,
    pub backup_codes_remaining: i64,
    pub locked: bool,
}

/// What a user needs to add the account to an authenticator app.
#[derive(Serialize)]
pub struct Setup {
    pub provisioning_url: String,
    pub secret: String,
    pub qr_svg: String,
}

const ALREADY_ENABLED: Error = Error::Unprocessable {
    code: "already_enabled",
    message: "two-factor authentication is already enabled",
};
const NOT_ENABLED: Error = Error::Unprocessable {
    code: "not_enabled",
    message: "two-factor authentication is not enabled",
};

impl AppState {
    pub async fn mfa_status(&self, user: &User) -> Result<MfaStatus> {
        let remaining = match user.mfa_enabled() {
            true => self.store.backup_codes_remaining(&user.id).await?,
            false => 0,
        };
        Ok(MfaStatus {
            feature_available: self.mfa.is_some(),
            enabled: user.mfa_enabled(),
            backup_codes_remaining: remaining,
            locked: user.mfa_locked_at.is_some(),
        })
    }

    /// Starts (or restarts) enrolment with a fresh secret.
    pub async fn begin_enrolment(&self, user: &User) -> Result<Setup> {
        let keys = self.mfa_keys()?;
        if user.mfa_enabled() {
            return Err(ALREADY_ENABLED);
        }

        let secret = TotpSecret::generate(&mut rand::thread_rng());
        let encoded = secret.to_base32();
        let stored = keys
            .keyring
            .encrypt(encoded.as_bytes(), &mut rand::thread_rng())
            .map_err(|e| Error::Internal(e.into()))?;
        if !self.store.set_pending_secret(&user.id, &stored).await? {
            return Err(ALREADY_ENABLED);
        }

        self.setup_for(user, encoded)
    }

    /// The pending enrolment again, for a user who mistyped the confirming
    /// code: the same secret they may already have scanned, not a new one.
    pub async fn pending_setup(&self, user: &User) -> Result<Setup> {
        self.mfa_keys()?;
        if user.mfa_enabled() {
            return Err(ALREADY_ENABLED);
        }

        let encoded = self.stored_secret(user.otp_secret.as_deref())?.to_base32();
        self.setup_for(user, encoded)
    }

    /// What an authenticator app needs for `user` and the base32 `secret`.
    fn setup_for(&self, user: &User, secret: String) -> Result<Setup> {
        let provisioning_url = provisioning_uri(Some(&self.issuer), &user.email, &secret);
        let qr_svg = qr_svg(&provisioning_url)?;
        Ok(Setup {
            provisioning_url,
            secret,
            qr_svg,
        })
    }

    /// Confirms enrolment with a first code and returns the backup codes,
    /// the only time they are ever shown.
    pub async fn confirm_enrolment(
        &self,
        user: &User,
        session_digest: &str,
        code: &str,
        client: &Client,
    ) -> Result<Vec<BackupCode>> {
        let keys = self.mfa_keys()?;
        if user.mfa_enabled() {
            return Err(ALREADY_ENABLED);
        }
        self.limit(Scope::Code, &user.id, Some(&user.email), client)
            .await?;
        let secret = self.stored_secret(user.otp_secret.as_deref())?;

        let step = TotpCode::parse(code).ok().and_then(|code| {
            let now = u64::try_from(crate::clock::now()).unwrap_or(0);
            totp::verify(
                &secret,
                &code,
                now,
                user.otp_last_step.and_then(|s| u64::try_from(s).ok()),
            )
        });
        let Some(step) = step.and_then(|s| i64::try_from(s).ok()) else {
            self.audit_user(
                Kind::MfaEnabled,
                Outcome::Failure,
                user,
                Some("wrong code"),
                client,
            )
            .await;
            return Err(Error::InvalidCode);
        };

        let codes = backup::generate(&mut rand::thread_rng());
        let digests: Vec<String> = codes.iter().map(|c| keys.backup.digest(c)).collect();
        let enrolment = Enrolment {
            user_id: &user.id,
            secret_envelope: user.otp_secret.as_deref().unwrap_or_default(),
            step,
            backup_digests: &digests,
            now: crate::clock::now(),
            keep_session: session_digest,
        };
        if !self.store.enable_mfa(&enrolment).await? {
            return Err(Error::InvalidCode);
        }

        self.forgive(Scope::Code, &user.id).await?;
        self.audit_user(Kind::MfaEnabled, Outcome::Success, user, None, client)
            .await;
        Ok(codes)
    }

    /// Turns MFA off after checking the password, then a code. The password
    /// comes first so that a wrong password never burns a backup code.
    pub async fn disable_mfa(
        &self,
        user: &User,
        session_digest: &str,
        password: String,
        factor: &FactorInput,
        client: &Client,
    ) -> Result<()> {
        self.mfa_keys()?;
        if !user.mfa_enabled() {
            return Err(NOT_ENABLED);
        }
        self.check_password(user, password, client).await?;

        self.check_factor(user, factor, client)
            .await
            .map_err(Error::in_profile)?;
        self.store
            .disable_mfa(&user.id, Some(session_digest))
            .await?;
        self.audit_user(Kind::MfaDisabled, Outcome::Success, user, None, client)
            .await;
        Ok(())
    }

    async fn check_password(&self, user: &User, password: String, client: &Client) -> Result<()> {
        const WRONG_PASSWORD: Error = Error::Unprocessable {
            code: "invalid_password",
            message: "the password is not correct",
        };
        let password = Password::for_sign_in(password).map_err(|_| WRONG_PASSWORD)?;
        let place = self.admit_password_check(&user.email, client).await?;

        let matches = self
            .hasher
            .verify(place, password, Some(&user.password_hash))
            .await
            .map_err(hash_error)?;
        if !matches {
            self.audit_user(
                Kind::MfaDisabled,
                Outcome::Failure,
                user,
                Some("wrong password"),
                client,
            )
            .await;
            return Err(WRONG_PASSWORD);
        }
        self.forgive(Scope::Password, &user.email).await
    }

    /// Replaces the backup codes after a fresh TOTP code.
    pub async fn regenerate_backup_codes(
        &self,
        user: &User,
        code: String,
        client: &Client,
    ) -> Result<Vec<BackupCode>> {
        let keys = self.mfa_keys()?;
        if !user.mfa_enabled() {
            return Err(NOT_ENABLED);
        }
        self.check_factor(user, &FactorInput::Totp(code), client)
            .await
            .map_err(Error::in_profile)?;

        let codes = backup::generate(&mut rand::thread_rng());
        let digests: Vec<String> = codes.iter().map(|c| keys.backup.digest(c)).collect();
        if !self
            .store
            .replace_backup_codes(&user.id, &digests, crate::clock::now())
            .await?
        {
            return Err(NOT_ENABLED);
        }
        self.audit_user(
            Kind::BackupCodesRegenerated,
            Outcome::Success,
            user,
            None,
            client,
        )
        .await;
        Ok(codes)
    }
}

/// Draws the provisioning URI as an inline SVG QR code, on the server, so
/// the secret never goes to a third-party QR service.
fn qr_svg(uri: &str) -> Result<String> {
    let code = QrCode::new(uri.as_bytes()).map_err(|e| Error::Internal(e.into()))?;
    let image = code
        .render::<svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    // The XML declaration is not allowed inside an HTML document.
    Ok(match image.split_once("?>") {
        Some((_, rest)) if image.starts_with("<?xml") => rest.trim_start().to_owned(),
        _ => image,
    })
}

//! Signing in: the password step, then, for accounts with MFA, the code step.

use super::factor::FactorInput;
use super::{AppState, Client, Error, Event, Kind, Outcome, Result};
use crate::core::email::Email;
use crate::core::password::Password;
use crate::core::token::Token;
use crate::server::hasher::{Admission, HashError};
use crate::server::limits::Scope;
use crate::store::User;

pub enum SignInOutcome {
    /// Signed in: MFA is off for this account.
    Session { user: User, token: Token },
    /// The password was right; a second factor is needed.
    MfaRequired { mfa_token: Token },
}

impl AppState {
    /// The password step. Unknown emails and wrong passwords are refused the
    /// same way, after the same hashing work.
    pub async fn sign_in_password(
        &self,
        email: &str,
        password: String,
        client: &Client,
    ) -> Result<SignInOutcome> {
        let (Ok(email), Ok(password)) = (Email::parse(email), Password::for_sign_in(password))
        else {
            return Err(Error::InvalidCredentials);
        };
        let place = self.admit_password_check(email.as_str(), client).await?;

        let user = self.store.user_by_email(&email).await?;
        let phc = user.as_ref().map(|u| u.password_hash.as_str());
        let matches = self
            .hasher
            .verify(place, password, phc)
            .await
            .map_err(hash_error)?;
        let Some(user) = user.filter(|_| matches) else {
            let event = Event::new(Kind::SignIn, Outcome::Failure)
                .email(email.as_str())
                .detail("password");
            self.audit.record(event, client, crate::clock::now()).await;
            return Err(Error::InvalidCredentials);
        };
        self.forgive(Scope::Password, email.as_str()).await?;

        if !user.mfa_enabled() {
            if let Some(token) = self.open_session(&user, client, "password").await? {
                return Ok(SignInOutcome::Session { user, token });
            }
            // MFA was turned on while the password was checked: the password
            // alone no longer suffices, so ask for the code like any sign-in.
            let fresh = self.store.user_by_id(&user.id).await?;
            let user = fresh.ok_or(Error::InvalidCredentials)?;
            return self.issue_challenge(&user, client).await;
        }
        self.issue_challenge(&user, client).await
    }

    async fn issue_challenge(&self, user: &User, client: &Client) -> Result<SignInOutcome> {
        // Never let a password alone through for an account that has MFA on,
        // even when the server lost its keys.
        if self.mfa.is_none() {
            let detail = Some("encryption keys missing");
            self.audit_user(Kind::SignIn, Outcome::Failure, user, detail, client)
                .await;
            return Err(Error::FeatureUnavailable);
        }

        let now = crate::clock::now();
        let mfa_token = Token::generate(&mut rand::thread_rng());
        self.store
            .create_challenge(
                &mfa_token.digest(),
                &user.id,
                now,
                self.policy.challenge_ttl,
            )
            .await?;
        let event = Event::new(Kind::ChallengeIssued, Outcome::Success).user(&user.id, &user.email);
        self.audit.record(event, client, now).await;
        Ok(SignInOutcome::MfaRequired { mfa_token })
    }

    /// The code step: a TOTP code or a backup code against a live challenge.
    pub async fn sign_in_second_factor(
        &self,
        mfa_token: &str,
        input: &FactorInput,
        client: &Client,
    ) -> Result<(User, Token)> {
        self.mfa_keys()?;
        let token = Token::parse(mfa_token).map_err(|_| Error::InvalidToken)?;
        let digest = token.digest();
        let now = crate::clock::now();
        let max = self.policy.challenge_max_attempts;

        // The attempt is counted before the code is checked, so parallel
        // submissions on one challenge cannot check more codes than allowed.
        let user_id = self
            .store
            .reserve_challenge_attempt(&digest, now, max)
            .await?
            .ok_or(Error::InvalidToken)?;
        let user = self
            .store
            .user_by_id(&user_id)
            .await?
            .ok_or(Error::InvalidToken)?;
        self.check_factor(&user, input, client).await?;

        if !self.store.consume_challenge(&digest).await? {
            return Err(Error::InvalidToken);
        }
        let token = self
            .open_session(&user, client, input.kind_name())
            .await?
            .ok_or(Error::InvalidToken)?;
        Ok((user, token))
    }
}

impl AppState {
    /// Everything a password check must pass before it may hash: a server
    /// that is already saturated refuses at once, without touching the
    /// database; then the attempt is counted against the limits, so a
    /// guesser sees 429; then it takes its place in the hashing queue.
    pub(super) async fn admit_password_check(
        &self,
        account: &str,
        client: &Client,
    ) -> Result<Admission> {
        if self.hasher.is_saturated() {
            return Err(hash_error(HashError::Overloaded));
        }
        self.limit(Scope::Password, account, Some(account), client)
            .await?;
        self.hasher.admit().map_err(hash_error)
    }
}

pub(super) fn hash_error(err: HashError) -> Error {
    match err {
        HashError::Overloaded => Error::Overloaded { retry_after: 1 },
        HashError::BadHash => Error::Internal(err.into()),
    }
}

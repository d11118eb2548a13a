//! Rate limits per client address and per account, counted in the database
//! (see [`crate::store::limits`]). Passwords and second-factor codes have
//! separate counters, so a user who typed a wrong code is not also barred
//! from typing their password.

use super::audit::{Event, Kind, Outcome};
use super::client::Client;
use super::error::{Error, Result};
use super::AppState;
use crate::store::limits::{Limit, Verdict};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Password,
    Code,
}

impl Scope {
    fn name(self) -> &'static str {
        match self {
            Scope::Password => "password",
            Scope::Code => "code",
        }
    }
}

impl AppState {
    fn limits_of(&self, scope: Scope) -> (Limit, Limit) {
        match scope {
            Scope::Password => (
                self.policy.password_per_ip,
                self.policy.password_per_account,
            ),
            Scope::Code => (self.policy.code_per_ip, self.policy.code_per_account),
        }
    }

    /// Counts one attempt for the client and for the account, before any
    /// work is done, and refuses it when either is over its limit.
    pub(super) async fn limit(
        &self,
        scope: Scope,
        account: &str,
        email: Option<&str>,
        client: &Client,
    ) -> Result<()> {
        let (per_ip, per_account) = self.limits_of(scope);
        let now = crate::clock::now();
        let ip_bucket = format!("{}:ip:{}", scope.name(), client.ip);
        let account_bucket = format!("{}:account:{account}", scope.name());

        let buckets = [
            (ip_bucket.as_str(), per_ip),
            (account_bucket.as_str(), per_account),
        ];
        let Verdict::Blocked { retry_after } = self.store.hit(&buckets, now).await? else {
            return Ok(());
        };

        let mut event = Event::new(Kind::RateLimited, Outcome::Blocked).detail(scope.name());
        event.email = email;
        self.audit.record(event, client, now).await;
        Err(Error::RateLimited { retry_after })
    }

    /// Clears the account's count after a success.
    pub(super) async fn forgive(&self, scope: Scope, account: &str) -> Result<()> {
        let bucket = format!("{}:account:{account}", scope.name());
        Ok(self.store.clear_hits(&bucket, crate::clock::now()).await?)
    }
}

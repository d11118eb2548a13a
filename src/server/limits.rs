//! Rate limits per client address and per account, counted in the database
//! (see [`crate::store::limits`]). Passwords and second-factor codes have
//! separate counters, so a user who typed a wrong code is not also barred
//! from typing their password.

use std::net::IpAddr;

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

/// The network a limit counts per: an IPv4 address, or the /64 an IPv6
/// address belongs to, since one host usually holds a whole /64 and could
/// otherwise pick a fresh address for every guess.
fn network_of(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let [a, b, c, d, ..] = v6.segments();
                format!("{a:x}:{b:x}:{c:x}:{d:x}::/64")
            }
        },
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
        let ip_bucket = format!("{}:ip:{}", scope.name(), network_of(client.ip));
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

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;

    #[test]
    fn ipv6_addresses_count_per_64() {
        let one: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let other: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let elsewhere: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(network_of(one), network_of(other));
        assert_ne!(network_of(one), network_of(elsewhere));
        assert_eq!(network_of(one), "2001:db8:1:2::/64");
    }

    #[test]
    fn ipv4_counts_per_address_also_when_mapped() {
        let v4: IpAddr = "203.0.113.9".parse().unwrap();
        let mapped: IpAddr = "::ffff:203.0.113.9".parse().unwrap();
        assert_eq!(network_of(v4), "203.0.113.9");
        assert_eq!(network_of(mapped), "203.0.113.9");
    }
}

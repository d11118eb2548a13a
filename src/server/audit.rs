//! The audit trail: every security event becomes a row in `audit_events` and
//! one structured log line on the `twofold::audit` target.
//!
//! The log line has a fixed shape so that fail2ban can match it (see
//! `docs/fail2ban.md`). Events carry who, where, what and how it went, and
//! never a secret, code, password or token.

use crate::store::audit::AuditRecord;
use crate::store::Store;

use super::client::Client;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    SignIn,
    ChallengeIssued,
    TotpCode,
    BackupCode,
    BackupCodesRegenerated,
    MfaEnabled,
    MfaDisabled,
    MfaReset,
    MfaLocked,
    MfaUnlocked,
    RateLimited,
    SignOut,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::SignIn => "sign_in",
            Kind::ChallengeIssued => "challenge_issued",
            Kind::TotpCode => "totp_code",
            Kind::BackupCode => "backup_code",
            Kind::BackupCodesRegenerated => "backup_codes_regenerated",
            Kind::MfaEnabled => "mfa_enabled",
            Kind::MfaDisabled => "mfa_disabled",
            Kind::MfaReset => "mfa_reset",
            Kind::MfaLocked => "mfa_locked",
            Kind::MfaUnlocked => "mfa_unlocked",
            Kind::RateLimited => "rate_limited",
            Kind::SignOut => "sign_out",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
    Blocked,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Blocked => "blocked",
        }
    }
}

/// One event, before it is written.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    pub kind: Kind,
    pub outcome: Outcome,
    pub user_id: Option<&'a str>,
    pub email: Option<&'a str>,
    /// Who acted, when not the user: an admin command, for instance.
    pub actor: Option<&'a str>,
    pub detail: Option<&'a str>,
}

impl<'a> Event<'a> {
    pub fn new(kind: Kind, outcome: Outcome) -> Self {
        Event {
            kind,
            outcome,
            user_id: None,
            email: None,
            actor: None,
            detail: None,
        }
    }

    pub fn user(mut self, id: &'a str, email: &'a str) -> Self {
        self.user_id = Some(id);
        self.email = Some(email);
        self
    }

    pub fn email(mut self, email: &'a str) -> Self {
        self.email = Some(email);
        self
    }

    pub fn actor(mut self, actor: &'a str) -> Self {
        self.actor = Some(actor);
        self
    }

    pub fn detail(mut self, detail: &'a str) -> Self {
        self.detail = Some(detail);
        self
    }
}

#[derive(Clone)]
pub struct Auditor {
    store: Store,
}

impl Auditor {
    pub fn new(store: Store) -> Self {
        Auditor { store }
    }

    /// Logs and stores the event. A failure to store is logged as an error
    /// but does not fail the request: the log line has already been written.
    pub async fn record(&self, event: Event<'_>, client: &Client, now: i64) {
        log(&event, client);
        let record = AuditRecord {
            id: time_ordered_id(),
            at: now,
            kind: event.kind.as_str().into(),
            outcome: event.outcome.as_str().into(),
            user_id: event.user_id.map(Into::into),
            email: event.email.map(Into::into),
            actor: event.actor.map(Into::into),
            ip: Some(client.ip.to_string()),
            user_agent: client.user_agent.clone(),
            detail: event.detail.map(Into::into),
        };
        if let Err(err) = self.store.insert_audit(&record).await {
            tracing::error!(error = %err, "cannot write an audit event to the database");
        }
    }
}

fn log(event: &Event<'_>, client: &Client) {
    let kind = event.kind.as_str();
    let outcome = event.outcome.as_str();
    let email = event.email.unwrap_or("-");
    let detail = event.detail.unwrap_or("-");
    // Display formatting (`%`) keeps values unquoted, so the line reads
    // `event=sign_in outcome=failure ip=203.0.113.9`, the shape the fail2ban
    // filter matches. None of these values can hold a space.
    if event.outcome == Outcome::Success {
        tracing::info!(target: "twofold::audit", event = %kind, outcome = %outcome, ip = %client.ip, email = %email, detail = %detail, "audit");
    } else {
        tracing::warn!(target: "twofold::audit", event = %kind, outcome = %outcome, ip = %client.ip, email = %email, detail = %detail, "audit");
    }
}

/// Sorts by time when compared as text: microseconds since the epoch as
/// fixed-width hex, then random bits so events in the same microsecond differ.
fn time_ordered_id() -> String {
    format!(
        "{:016x}{:08x}",
        crate::clock::now_micros(),
        rand::random::<u32>()
    )
}

//! What the portal tells a person when a flow refuses: one plain sentence per
//! error, the status that goes with it, and `Retry-After` when waiting helps.
//!
//! The wording is for people, not programs: it says what happened and what
//! to do next, and never reveals whether an account exists. Internal causes
//! are logged once, here, and never shown.

use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;

use super::message_page;
use crate::server::error::Error;

pub const WRONG_CODE: &str = "That code is not right. Type the newest code from your \
    authenticator app (codes change every 30 seconds), or one of your backup codes.";
pub const WRONG_TOTP: &str = "That code is not right. Type the newest 6-digit code from your \
    authenticator app; codes change every 30 seconds.";
pub const EXPIRED: &str = "This sign-in attempt has expired or was already used. For your safety, \
    please sign in again.";
pub const LOCKED: &str = "Codes from your authenticator app are locked for this account after too \
    many wrong tries. Use one of your backup codes instead, or ask an administrator to unlock it.";
pub const LOCKED_FOR_NEW_CODES: &str = "Codes from your authenticator app are locked for this \
    account after too many wrong tries. Signing in with a backup code unlocks them, and so can an \
    administrator.";

/// A refusal as the page shows it.
pub struct Problem {
    pub status: StatusCode,
    pub message: String,
    retry_after: Option<i64>,
}

impl Problem {
    /// Describes the error, logging its cause if the operator must know.
    pub fn of(err: Error) -> Problem {
        err.log();
        let retry_after = match &err {
            Error::RateLimited { retry_after } | Error::Overloaded { retry_after } => {
                Some(*retry_after)
            }
            _ => None,
        };
        Problem {
            status: err.status(),
            message: describe(&err),
            retry_after,
        }
    }

    /// Adds `Retry-After` to the page that shows this problem.
    pub fn finish(&self, mut response: Response) -> Response {
        if let Some(seconds) = self.retry_after {
            if let Ok(value) = HeaderValue::from_str(&seconds.max(1).to_string()) {
                response.headers_mut().insert(RETRY_AFTER, value);
            }
        }
        response
    }
}

/// A whole page for an error that has no form to return to.
pub fn error_page(err: &Error) -> Response {
    err.log();
    message_page(err.status(), "Something is in the way", &describe(err))
}

fn describe(err: &Error) -> String {
    match err {
        Error::InvalidCredentials => {
            "That email and password do not match an account. Check both and try again.".into()
        }
        Error::InvalidToken => EXPIRED.into(),
        Error::InvalidCode => WRONG_CODE.into(),
        Error::Unauthenticated => "Please sign in first.".into(),
        Error::FeatureUnavailable => {
            "Two-factor authentication is not available on this server right now. \
                                      Please tell the administrator."
                .into()
        }
        Error::MfaLocked => LOCKED.into(),
        Error::Unprocessable { code, message } => unprocessable(code, message),
        Error::BadRequest(_) => "The form could not be read. Reload the page and try again.".into(),
        Error::NotFound => "That page does not exist.".into(),
        Error::MethodNotAllowed => "That action is not available here.".into(),
        Error::RateLimited { retry_after } => {
            format!(
                "Too many attempts. For your safety, please wait {} and try again.",
                wait(*retry_after)
            )
        }
        Error::Overloaded { .. } => {
            "The server is busy right now. Please try again in a moment.".into()
        }
        Error::SecretUnreadable(_) => {
            "This account's second factor cannot be read with the server's current \
                                       keys. Please tell the administrator."
                .into()
        }
        Error::Internal(_) => {
            "Something went wrong on the server. It has been logged; please try again.".into()
        }
    }
}

fn unprocessable(code: &str, message: &str) -> String {
    match code {
        "invalid_code" => WRONG_CODE.into(),
        "invalid_password" => "That password is not right.".into(),
        "already_enabled" => "Two-factor authentication is already on for this account.".into(),
        "not_enabled" => "Two-factor authentication is not on for this account.".into(),
        "setup_required" => {
            "Start the set-up first: choose “Enable two-factor authentication”.".into()
        }
        _ => sentence(message),
    }
}

/// The flows' messages are lower-case clauses; a page shows sentences.
fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    let Some(first) = chars.next() else {
        return String::new();
    };
    let end = if message.ends_with('.') { "" } else { "." };
    format!("{}{}{end}", first.to_uppercase(), chars.as_str())
}

/// A wait as people say it, rounded up.
fn wait(seconds: i64) -> String {
    match seconds.max(1) {
        1 => "a second".into(),
        s @ 2..=59 => format!("{s} seconds"),
        60..=119 => "a minute".into(),
        s @ 120..=5399 => format!("{} minutes", (s + 59) / 60),
        s => format!("{} hours", (s + 3599) / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_read_naturally() {
        assert_eq!(wait(0), "a second");
        assert_eq!(wait(45), "45 seconds");
        assert_eq!(wait(61), "a minute");
        assert_eq!(wait(899), "15 minutes");
        assert_eq!(wait(86_400), "24 hours");
    }

    #[test]
    fn clauses_become_sentences() {
        assert_eq!(sentence("the thing is off"), "The thing is off.");
        assert_eq!(sentence("Done."), "Done.");
        assert_eq!(sentence(""), "");
    }

    #[test]
    fn rate_limits_say_how_long_to_wait() {
        let problem = Problem::of(Error::RateLimited { retry_after: 300 });
        assert_eq!(problem.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(problem.message.contains("5 minutes"), "{}", problem.message);
    }
}

//! The errors a request can end in, each with a status, a stable code and a
//! fixed public message. Internal causes are logged here, once, and never
//! sent to the client.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::core::envelope::EnvelopeError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Wrong email or password; the same for both, so accounts cannot be
    /// discovered.
    #[error("invalid email or password")]
    InvalidCredentials,
    /// The `mfa_token` is unknown, used, expired or worn out by failures.
    #[error("the sign-in attempt has expired or was already used; sign in again")]
    InvalidToken,
    /// A code that did not match, or was already used.
    #[error("the code is not valid")]
    InvalidCode,
    /// No session, or an expired one.
    #[error("sign in first")]
    Unauthenticated,
    /// The server has no encryption keys, so MFA cannot run.
    #[error("two-factor authentication is not available on this server: the operator must set the three encryption keys (see `twofold keys init`)")]
    FeatureUnavailable,
    /// Too many consecutive wrong codes: only a backup code or an admin
    /// frees the factor.
    #[error("too many wrong codes: the authenticator is locked; use a backup code or ask an administrator")]
    MfaLocked,
    /// The request cannot be done in the account's current state.
    #[error("{message}")]
    Unprocessable {
        code: &'static str,
        message: &'static str,
    },
    /// The request itself is malformed.
    #[error("{0}")]
    BadRequest(String),
    #[error("not found")]
    NotFound,
    /// The path exists, but not for this method.
    #[error("this method is not allowed here")]
    MethodNotAllowed,
    /// A limit was hit; try again after the given number of seconds.
    #[error("too many attempts; try again later")]
    RateLimited { retry_after: i64 },
    /// The password hasher is saturated.
    #[error("the server is busy; try again shortly")]
    Overloaded { retry_after: i64 },
    /// A stored secret does not decrypt with the configured keys.
    #[error("this account's second factor cannot be read with the server's keys; the operator must restore the original keys")]
    SecretUnreadable(#[source] EnvelopeError),
    /// Anything else: the server's fault, logged and hidden.
    #[error("something went wrong on the server; it has been logged")]
    Internal(#[source] anyhow::Error),
}

impl From<StoreError> for Error {
    fn from(err: StoreError) -> Self {
        Error::Internal(err.into())
    }
}

impl Error {
    pub fn status(&self) -> StatusCode {
        match self {
            Error::InvalidCredentials | Error::InvalidToken | Error::Unauthenticated => {
                StatusCode::UNAUTHORIZED
            }
            Error::InvalidCode | Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::FeatureUnavailable | Error::MfaLocked => StatusCode::FORBIDDEN,
            Error::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Error::NotFound => StatusCode::NOT_FOUND,
            Error::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Error::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::Overloaded { .. } | Error::SecretUnreadable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidCredentials => "invalid_credentials",
            Error::InvalidToken => "invalid_token",
            Error::InvalidCode => "invalid_code",
            Error::Unauthenticated => "unauthenticated",
            Error::FeatureUnavailable => "feature_unavailable",
            Error::MfaLocked => "mfa_locked",
            Error::Unprocessable { code, .. } => code,
            Error::BadRequest(_) => "invalid_request",
            Error::NotFound => "not_found",
            Error::MethodNotAllowed => "method_not_allowed",
            Error::RateLimited { .. } => "rate_limited",
            Error::Overloaded { .. } => "overloaded",
            Error::SecretUnreadable(_) => "secret_unreadable",
            Error::Internal(_) => "internal_error",
        }
    }

    /// Profile endpoints answer a wrong code with 422, as the parity product
    /// does, while the sign-in endpoint answers 400.
    pub fn in_profile(self) -> Self {
        match self {
            Error::InvalidCode => Error::Unprocessable {
                code: "invalid_code",
                message: "the code is not valid",
            },
            other => other,
        }
    }

    fn retry_after(&self) -> Option<i64> {
        match self {
            Error::RateLimited { retry_after } | Error::Overloaded { retry_after } => {
                Some(*retry_after)
            }
            _ => None,
        }
    }

    /// Logs what the operator needs to know, once, without the public text.
    pub fn log(&self) {
        match self {
            Error::Internal(cause) => {
                tracing::error!(error = %format!("{cause:#}"), "request failed")
            }
            Error::SecretUnreadable(cause) => {
                tracing::error!(error = %cause, "a stored TOTP secret does not decrypt with the configured keys")
            }
            _ => {}
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        self.log();
        let body = serde_json::json!({ "error": self.code(), "message": self.to_string() });
        let mut response = (self.status(), Json(body)).into_response();
        if let Some(seconds) = self.retry_after() {
            if let Ok(value) = HeaderValue::from_str(&seconds.max(1).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}

pub type Result<T> = std::result::Result<T, Error>;

//! Sessions at the HTTP edge: the `twofold_session` cookie, the bearer
//! header, and the extractor that turns either into the signed-in user.

use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use cookie::{Cookie, SameSite};

use super::error::Error;
use super::AppState;
use crate::core::token::Token;
use crate::store::User;

pub const COOKIE_NAME: &str = "twofold_session";

/// The signed-in user of a request, and the token that proves it.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user: User,
    pub token: Token,
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let token = presented_token(parts).ok_or(Error::Unauthenticated)?;
        let now = crate::clock::now();
        let user_id = state
            .store
            .session_user(&token.digest(), state.policy.session, now)
            .await?
            .ok_or(Error::Unauthenticated)?;
        let user = state
            .store
            .user_by_id(&user_id)
            .await?
            .ok_or(Error::Unauthenticated)?;
        Ok(SignedIn { user, token })
    }
}

/// Like [`SignedIn`], but absent instead of an error, for pages that show
/// something either way.
#[derive(Debug, Clone)]
pub struct MaybeSignedIn(pub Option<SignedIn>);

impl FromRequestParts<AppState> for MaybeSignedIn {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        match SignedIn::from_request_parts(parts, state).await {
            Ok(signed_in) => Ok(MaybeSignedIn(Some(signed_in))),
            Err(Error::Unauthenticated) => Ok(MaybeSignedIn(None)),
            Err(other) => Err(other),
        }
    }
}

/// The bearer token if one is sent, else the session cookie. Malformed
/// values count as absent.
pub fn presented_token(parts: &Parts) -> Option<Token> {
    let bearer = parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if let Some(token) = bearer {
        return Token::parse(token).ok();
    }
    cookie_value(parts, COOKIE_NAME).and_then(|v| Token::parse(&v).ok())
}

/// Reads one cookie from the request headers.
pub fn cookie_value(parts: &Parts, name: &str) -> Option<String> {
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| Cookie::parse(pair.trim().to_owned()).ok())
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
}

/// The session cookie: HttpOnly, SameSite=Lax, Secure under https, and no
/// longer-lived than the session itself.
pub fn session_cookie(token: &Token, max_age: i64, secure: bool) -> Cookie<'static> {
    Cookie::build((COOKIE_NAME, token.expose().to_owned()))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(time_duration(max_age))
        .build()
}

/// A cookie that tells the browser to forget the session.
pub fn clearing_cookie(secure: bool) -> Cookie<'static> {
    Cookie::build((COOKIE_NAME, ""))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(time_duration(0))
        .build()
}

fn time_duration(seconds: i64) -> cookie::time::Duration {
    cookie::time::Duration::seconds(seconds)
}

//! A sign-in between its two steps: after the right password, the browser
//! keeps the `mfa_token` and the `return_to` address in two short-lived
//! cookies until the code step. They are HttpOnly, SameSite=Strict, scoped to
//! `/login` and Secure under https, so neither ever appears in a URL, a page
//! or a script. The token itself is checked by the sign-in flow; the address
//! is re-checked by [`super::return_to`] when it is read back.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use cookie::{Cookie, SameSite};

use super::{append_cookie, return_to};
use crate::core::token::Token;
use crate::server::session::cookie_value;
use crate::server::AppState;

pub const TOKEN_COOKIE: &str = "twofold_mfa";
pub const RETURN_COOKIE: &str = "twofold_return_to";

/// Both cookies are sent only to the sign-in pages.
const PATH: &str = "/login";

/// The pending sign-in as the browser sent it back.
pub struct Pending {
    pub mfa_token: Option<String>,
    pub return_to: Option<String>,
}

impl Pending {
    pub fn read(parts: &Parts) -> Pending {
        let return_to = cookie_value(parts, RETURN_COOKIE)
            .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .filter(|path| return_to::safe(path).is_some());
        Pending {
            mfa_token: cookie_value(parts, TOKEN_COOKIE),
            return_to,
        }
    }
}

impl FromRequestParts<AppState> for Pending {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Pending::read(parts))
    }
}

/// Stores the pending sign-in for `lifetime` seconds, the life of the token.
/// The address is base64-encoded because a path may hold characters that a
/// cookie value may not.
pub fn remember(
    response: &mut Response,
    mfa_token: &Token,
    return_to: Option<&str>,
    lifetime: i64,
    secure: bool,
) {
    append_cookie(
        response,
        &short_cookie(
            TOKEN_COOKIE,
            mfa_token.expose().to_owned(),
            lifetime,
            secure,
        ),
    );
    match return_to.and_then(return_to::safe) {
        Some(path) => {
            let value = URL_SAFE_NO_PAD.encode(path);
            append_cookie(
                response,
                &short_cookie(RETURN_COOKIE, value, lifetime, secure),
            );
        }
        None => append_cookie(
            response,
            &short_cookie(RETURN_COOKIE, String::new(), 0, secure),
        ),
    }
}

/// Makes the browser drop both cookies, once the attempt is done or dead.
pub fn forget(response: &mut Response, secure: bool) {
    for name in [TOKEN_COOKIE, RETURN_COOKIE] {
        append_cookie(response, &short_cookie(name, String::new(), 0, secure));
    }
}

fn short_cookie(name: &'static str, value: String, max_age: i64, secure: bool) -> Cookie<'static> {
    Cookie::build((name, value))
        .path(PATH)
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(cookie::time::Duration::seconds(max_age))
        .build()
}

//! Cross-site request forgery protection for every form of the portal.
//!
//! Each browser gets a random token in the `twofold_csrf` cookie (HttpOnly,
//! SameSite=Strict, Secure under https), and every form carries the same
//! token in a hidden `csrf` field. A post is accepted only when the two match,
//! compared in constant time, and when its `Origin` header, if present, names
//! this site. Another site can make a browser post a form, but it can neither
//! read our cookie nor make the browser send it along, so it cannot forge the
//! field. This module refuses; it does not decide anything else.

use axum::extract::{Form, FromRequest, FromRequestParts, Request};
use axum::http::header::{HOST, ORIGIN};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::Response;
use cookie::{Cookie, SameSite};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::{append_cookie, message_page};
use crate::core::token::Token;
use crate::server::session::cookie_value;
use crate::server::AppState;

pub const COOKIE: &str = "twofold_csrf";

/// The browser's CSRF token, reused when its cookie is well formed, else
/// new. A new token must reach the browser, so pages pass it to
/// [`CsrfToken::attach`] on the way out.
pub struct CsrfToken {
    token: Token,
    fresh: bool,
    secure: bool,
}

impl FromRequestParts<AppState> for CsrfToken {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let existing = cookie_value(parts, COOKIE).and_then(|v| Token::parse(&v).ok());
        let fresh = existing.is_none();
        let token = existing.unwrap_or_else(|| Token::generate(&mut rand::thread_rng()));
        Ok(CsrfToken {
            token,
            fresh,
            secure: state.secure_cookies,
        })
    }
}

impl CsrfToken {
    pub fn value(&self) -> &str {
        self.token.expose()
    }

    /// Sets the cookie when the token is new. It lives as long as the browser
    /// session, so an open form keeps working until the browser closes.
    pub fn attach(&self, response: &mut Response) {
        if !self.fresh {
            return;
        }
        let cookie = Cookie::build((COOKIE, self.value().to_owned()))
            .path("/")
            .http_only(true)
            .same_site(SameSite::Strict)
            .secure(self.secure)
            .build();
        append_cookie(response, &cookie);
    }
}

/// A form body of type `T` that passed the CSRF checks. Use it as the last
/// extractor of every POST handler of the portal.
pub struct CsrfForm<T>(pub T);

/// The hidden field beside the form's own fields.
#[derive(Deserialize)]
struct Posted<T> {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    fields: T,
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (parts, body) = request.into_parts();
        if !origin_allowed(&parts, &state.public_url) {
            tracing::warn!(
                outcome = "refused",
                reason = "origin",
                "a form post came from another site"
            );
            return Err(refused());
        }
        let cookie = cookie_value(&parts, COOKIE).ok_or_else(refused)?;

        let request = Request::from_parts(parts, body);
        let Form(posted) = Form::<Posted<T>>::from_request(request, state)
            .await
            .map_err(|_| unreadable())?;
        if !matches(&cookie, &posted.csrf) {
            tracing::warn!(
                outcome = "refused",
                reason = "csrf_token",
                "a form post had no valid CSRF token"
            );
            return Err(refused());
        }
        Ok(CsrfForm(posted.fields))
    }
}

fn matches(cookie: &str, field: &str) -> bool {
    !cookie.is_empty() && bool::from(cookie.as_bytes().ct_eq(field.as_bytes()))
}

/// An absent `Origin` is allowed: older browsers and non-browser clients
/// omit it, and the token still has to match. A present one must be the
/// public origin or the origin the request was addressed to; `null`, which
/// browsers send for cross-site posts under our referrer policy, never is.
fn origin_allowed(parts: &Parts, public_url: &str) -> bool {
    let Some(origin) = parts.headers.get(ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    if origin.eq_ignore_ascii_case(origin_of(public_url)) {
        return true;
    }

    let host = parts.headers.get(HOST).and_then(|h| h.to_str().ok());
    let host = host.or_else(|| parts.uri.authority().map(|a| a.as_str()));
    let origin_host = origin.split_once("://").map(|(_, rest)| rest);
    matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
}

/// `scheme://host[:port]` of a URL, dropping any path.
fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let end = url
        .get(after_scheme..)
        .and_then(|rest| rest.find('/'))
        .map_or(url.len(), |i| after_scheme + i);
    url.get(..end).unwrap_or(url)
}

fn refused() -> Response {
    message_page(
        StatusCode::FORBIDDEN,
        "This form could not be accepted",
        "For your safety, twofold accepts forms only from its own pages. The page may have been \
         open for a long time, or the form was sent from another site. Go back, reload the page \
         and try again.",
    )
}

fn unreadable() -> Response {
    message_page(
        StatusCode::BAD_REQUEST,
        "This form could not be read",
        "The form arrived incomplete or in an unexpected shape. Go back, reload the page and try \
         again.",
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;
    use axum::http::Request as HttpRequest;

    fn parts(origin: Option<&str>, host: &str) -> Parts {
        let mut builder = HttpRequest::post("/login").header(HOST, host);
        if let Some(origin) = origin {
            builder = builder.header(ORIGIN, origin);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn origins_of_this_site_are_allowed() {
        let public = "https://login.example.com";
        assert!(origin_allowed(&parts(None, "x"), public));
        assert!(origin_allowed(
            &parts(Some("https://login.example.com"), "internal:8080"),
            public
        ));
        assert!(origin_allowed(
            &parts(Some("http://127.0.0.1:4000"), "127.0.0.1:4000"),
            public
        ));
    }

    #[test]
    fn other_origins_are_refused() {
        let public = "https://login.example.com/";
        assert!(!origin_allowed(
            &parts(Some("https://evil.example"), "login.example.com"),
            public
        ));
        assert!(!origin_allowed(
            &parts(Some("null"), "login.example.com"),
            public
        ));
        assert!(!origin_allowed(
            &parts(Some("https://login.example.com.evil.example"), "x"),
            public
        ));
    }

    #[test]
    fn the_origin_of_a_url_drops_its_path() {
        assert_eq!(
            origin_of("https://a.example:8443/auth/"),
            "https://a.example:8443"
        );
        assert_eq!(origin_of("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
    }

    #[test]
    fn tokens_must_match_exactly() {
        assert!(matches("abc", "abc"));
        assert!(!matches("abc", "abd"));
        assert!(!matches("abc", ""));
        assert!(!matches("", ""));
    }
}

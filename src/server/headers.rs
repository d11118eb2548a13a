//! Security headers on every response, pages and API alike.
//!
//! The policy allows only our own stylesheet and script, no frames, and forms
//! that post back to us; the QR code is inline SVG markup, which needs no
//! image source. Responses are not stored by caches unless a handler chose a
//! cache policy itself (the static assets do). HSTS is sent only when the
//! public URL is https, since over plain http it would be ignored at best and
//! misleading at worst.

use axum::extract::{Request, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

use super::AppState;

const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// `same-origin` rather than `no-referrer`: under `no-referrer` browsers
/// send `Origin: null` even on our own form posts, which would defeat the
/// origin check that guards them.
const REFERRER: &str = "same-origin";

const HSTS: &str = "max-age=31536000";

pub async fn security_headers(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();

    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static(REFERRER));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers
        .entry(CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));

    if state.secure_cookies {
        headers.insert(STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    }
    response
}

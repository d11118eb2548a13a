//! The web portal: server-rendered pages that work without JavaScript, for
//! signing in (password, then a code), signing out, and Profile → Security.
//!
//! Pages only translate between HTML forms and the account flows in
//! [`crate::server::flows`]; every decision (limits, hashing, code checks,
//! audit) is made there, so a form post and a JSON call obey the same rules.
//! Templates live in `templates/` and are checked at compile time by askama.
//! Every form goes through [`csrf::CsrfForm`]. Errors become a sentence on the
//! page with a fitting status, never a JSON body.

mod assets;
mod csrf;
mod enrol;
mod guard;
mod login;
mod messages;
mod pending;
mod return_to;
mod security;

use askama::Template;
use axum::extract::DefaultBodyLimit;
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use cookie::Cookie;

use super::AppState;
use csrf::CsrfToken;

/// Forms are a few short fields; anything larger is refused unread.
const FORM_LIMIT: usize = 16 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { see_other(return_to::DEFAULT) }))
        .route("/login", get(login::form).post(login::submit))
        .route("/login/mfa", get(login::code_form).post(login::code_submit))
        .route("/logout", post(login::sign_out))
        .route("/settings/security", get(security::show))
        .route("/settings/security/enable", post(enrol::begin))
        .route("/settings/security/confirm", post(enrol::confirm))
        .route("/settings/security/done", post(enrol::done))
        .route(
            "/settings/security/backup-codes",
            post(security::regenerate),
        )
        .route("/settings/security/disable", post(security::disable))
        .route("/static/style.css", get(assets::style))
        .route("/static/app.js", get(assets::script))
        .layer(DefaultBodyLimit::max(FORM_LIMIT))
}

/// What the layout around every page needs.
pub struct Chrome {
    pub csrf: String,
    pub signed_in_as: Option<String>,
    pub style_href: &'static str,
    pub script_href: &'static str,
}

impl Chrome {
    pub fn new(csrf: &CsrfToken, signed_in_as: Option<&str>) -> Chrome {
        Chrome {
            csrf: csrf.value().to_owned(),
            signed_in_as: signed_in_as.map(str::to_owned),
            style_href: assets::style_href(),
            script_href: assets::script_href(),
        }
    }

    /// For pages shown before a token exists, such as a refused form: they
    /// carry no form, so they need none.
    pub fn bare() -> Chrome {
        Chrome {
            csrf: String::new(),
            signed_in_as: None,
            style_href: assets::style_href(),
            script_href: assets::script_href(),
        }
    }
}

/// Renders a page with a status, attaching a new CSRF cookie if one was
/// made for it.
pub fn render(status: StatusCode, page: &impl Template, csrf: Option<&CsrfToken>) -> Response {
    let html = match page.render() {
        Ok(html) => html,
        Err(err) => {
            tracing::error!(error = %err, "a page template failed to render");
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The page could not be shown.",
            )
                .into_response();
        }
    };
    let mut response = (status, Html(html)).into_response();
    if let Some(csrf) = csrf {
        csrf.attach(&mut response);
    }
    response
}

/// A page that says one thing and offers a way back.
#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub chrome: Chrome,
    pub title: &'static str,
    pub message: String,
}

pub fn message_page(status: StatusCode, title: &'static str, message: &str) -> Response {
    let page = MessagePage {
        chrome: Chrome::bare(),
        title,
        message: message.to_owned(),
    };
    render(status, &page, None)
}

/// A 303, so the browser follows a form post with a GET.
pub fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    match HeaderValue::from_str(location) {
        Ok(value) => response.headers_mut().insert(LOCATION, value),
        Err(_) => response
            .headers_mut()
            .insert(LOCATION, HeaderValue::from_static(return_to::DEFAULT)),
    };
    response
}

pub fn append_cookie(response: &mut Response, cookie: &Cookie<'_>) {
    if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
        response.headers_mut().append(SET_COOKIE, value);
    }
}

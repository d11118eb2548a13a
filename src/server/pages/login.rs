//! Signing in and out through the portal: `/login` (email and password),
//! `/login/mfa` (one field for a code or a backup code) and `/logout`.
//!
//! The flows decide; these handlers keep the form filled in (never the
//! password), carry the pending sign-in between the two steps in
//! [`super::pending`] cookies, and send the user back to a safe `return_to`.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use serde::Deserialize;

use super::csrf::{CsrfForm, CsrfToken};
use super::guard::Viewer;
use super::messages::{self, Problem};
use super::pending::{self, Pending};
use super::{append_cookie, render, return_to, see_other, Chrome};
use crate::core::token::Token;
use crate::server::client::Client;
use crate::server::error::Error;
use crate::server::flows::{FactorInput, SignInOutcome};
use crate::server::session::{clearing_cookie, session_cookie};
use crate::server::AppState;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    chrome: Chrome,
    email: String,
    return_to: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "mfa.html")]
struct CodePage {
    chrome: Chrome,
    error: Option<String>,
    /// The attempt is over: offer a fresh sign-in instead of the field.
    expired: bool,
    login_href: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ReturnQuery {
    return_to: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LoginForm {
    email: String,
    password: String,
    return_to: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CodeForm {
    code: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SignOutForm {
    return_to: String,
}

/// `GET /login`. Someone already signed in goes straight on.
pub async fn form(viewer: Viewer, csrf: CsrfToken, uri: Uri) -> Response {
    let query = Query::<ReturnQuery>::try_from_uri(&uri)
        .map(|q| q.0)
        .unwrap_or_default();
    let return_to = return_to::safe(&query.return_to)
        .unwrap_or_default()
        .to_owned();
    if viewer.0.is_some() {
        return see_other(return_to::or_default(Some(&return_to)));
    }
    let page = LoginPage {
        chrome: Chrome::new(&csrf, None),
        email: String::new(),
        return_to,
        error: None,
    };
    render(StatusCode::OK, &page, Some(&csrf))
}

/// `POST /login`: the password step.
pub async fn submit(
    State(state): State<AppState>,
    client: Client,
    csrf: CsrfToken,
    CsrfForm(form): CsrfForm<LoginForm>,
) -> Response {
    let LoginForm {
        email,
        password,
        return_to,
    } = form;
    let return_to = return_to::safe(&return_to).unwrap_or_default().to_owned();
    if email.trim().is_empty() || password.is_empty() {
        let problem = "Type your email address and your password.".to_owned();
        return login_again(&csrf, email, return_to, StatusCode::BAD_REQUEST, problem);
    }

    match state.sign_in_password(&email, password, &client).await {
        Ok(SignInOutcome::Session { token, .. }) => signed_in(&state, &token, &return_to),
        Ok(SignInOutcome::MfaRequired { mfa_token }) => {
            let mut response = see_other("/login/mfa");
            let (ttl, secure) = (state.policy.challenge_ttl, state.secure_cookies);
            pending::remember(&mut response, &mfa_token, Some(&return_to), ttl, secure);
            response
        }
        Err(err) => {
            let problem = Problem::of(err);
            let response = login_again(
                &csrf,
                email,
                return_to,
                problem.status,
                problem.message.clone(),
            );
            problem.finish(response)
        }
    }
}

fn login_again(
    csrf: &CsrfToken,
    email: String,
    return_to: String,
    status: StatusCode,
    error: String,
) -> Response {
    let page = LoginPage {
        chrome: Chrome::new(csrf, None),
        email,
        return_to,
        error: Some(error),
    };
    render(status, &page, Some(csrf))
}

/// Starts the browser session and goes where the user was heading.
fn signed_in(state: &AppState, token: &Token, return_to: &str) -> Response {
    let mut response = see_other(return_to::or_default(Some(return_to)));
    let cookie = session_cookie(token, state.policy.session.absolute, state.secure_cookies);
    append_cookie(&mut response, &cookie);
    response
}

/// `GET /login/mfa`.
pub async fn code_form(csrf: CsrfToken, pending: Pending) -> Response {
    if pending.mfa_token.is_none() {
        return expired(&csrf, pending.return_to.as_deref());
    }
    code_page(&csrf, StatusCode::OK, None)
}

/// `POST /login/mfa`: the code step.
pub async fn code_submit(
    State(state): State<AppState>,
    client: Client,
    csrf: CsrfToken,
    pending: Pending,
    CsrfForm(form): CsrfForm<CodeForm>,
) -> Response {
    let Some(mfa_token) = pending.mfa_token.as_deref() else {
        return expired(&csrf, pending.return_to.as_deref());
    };
    if form.code.trim().is_empty() {
        let message = "Type the code from your authenticator app, or one of your backup codes.";
        return code_page(&csrf, StatusCode::BAD_REQUEST, Some(message.to_owned()));
    }

    match state
        .sign_in_second_factor(mfa_token, &FactorInput::Either(form.code), &client)
        .await
    {
        Ok((_, token)) => {
            let mut response = signed_in(
                &state,
                &token,
                pending.return_to.as_deref().unwrap_or_default(),
            );
            pending::forget(&mut response, state.secure_cookies);
            response
        }
        Err(Error::InvalidToken) => {
            let mut response = expired(&csrf, pending.return_to.as_deref());
            pending::forget(&mut response, state.secure_cookies);
            response
        }
        Err(err) => {
            let problem = Problem::of(err);
            problem.finish(code_page(
                &csrf,
                problem.status,
                Some(problem.message.clone()),
            ))
        }
    }
}

fn code_page(csrf: &CsrfToken, status: StatusCode, error: Option<String>) -> Response {
    let page = CodePage {
        chrome: Chrome::new(csrf, None),
        error,
        expired: false,
        login_href: String::new(),
    };
    render(status, &page, Some(csrf))
}

/// The attempt is unknown, used, timed out or worn out by wrong codes; only a
/// new sign-in helps, so the page offers one and no field.
fn expired(csrf: &CsrfToken, return_to: Option<&str>) -> Response {
    let page = CodePage {
        chrome: Chrome::new(csrf, None),
        error: Some(messages::EXPIRED.to_owned()),
        expired: true,
        login_href: return_to::login_path(return_to),
    };
    render(StatusCode::UNAUTHORIZED, &page, Some(csrf))
}

/// `POST /logout`: ends the session, if any, and forgets the cookie.
pub async fn sign_out(
    State(state): State<AppState>,
    client: Client,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<SignOutForm>,
) -> Response {
    if let Some(signed_in) = viewer.0 {
        if let Err(err) = state
            .sign_out(&signed_in.user, &signed_in.token, &client)
            .await
        {
            return messages::error_page(&err);
        }
    }
    let mut response = see_other(&return_to::login_path(Some(&form.return_to)));
    append_cookie(&mut response, &clearing_cookie(state.secure_cookies));
    response
}

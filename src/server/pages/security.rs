//! Profile → Security (`/settings/security`): whether two-factor
//! authentication is on, how many backup codes are left, and the forms to
//! make new backup codes or to turn it off. Turning it on lives in
//! [`super::enrol`]. Without encryption keys the page explains what the
//! operator must do, and offers no button that could not work.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use serde::Deserialize;

use super::csrf::{CsrfForm, CsrfToken};
use super::guard::PageUser;
use super::messages::{self, Problem};
use super::{enrol, render, return_to, see_other, Chrome};
use crate::server::client::Client;
use crate::server::error::Error;
use crate::server::flows::{FactorInput, MfaStatus};
use crate::server::session::SignedIn;
use crate::server::AppState;

/// At or below this many backup codes, the page warns.
const FEW_CODES: i64 = 2;

#[derive(Template)]
#[template(path = "security.html")]
struct SecurityPage {
    chrome: Chrome,
    email: String,
    /// `None` when the server has no keys, so MFA cannot run at all.
    status: Option<MfaStatus>,
    few_codes: bool,
    feedback: Feedback,
}

/// A notice after a finished action, or an error tied to one form and,
/// when it is about one field, to that field.
#[derive(Default)]
pub struct Feedback {
    pub notice: Option<&'static str>,
    pub form: &'static str,
    pub field: &'static str,
    pub error: Option<String>,
}

impl Feedback {
    pub fn error(form: &'static str, field: &'static str, message: String) -> Feedback {
        Feedback {
            notice: None,
            form,
            field,
            error: Some(message),
        }
    }

    pub fn error_in(&self, form: &str) -> Option<&str> {
        self.error.as_deref().filter(|_| self.form == form)
    }

    pub fn invalid(&self, field: &str) -> bool {
        self.error.is_some() && self.field == field
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct NoticeQuery {
    notice: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CodeForm {
    pub code: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DisableForm {
    password: String,
    code: String,
}

/// `GET /settings/security`. The notice names come from our own redirects;
/// anything else is ignored.
pub async fn show(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    csrf: CsrfToken,
    uri: Uri,
) -> Response {
    let query = Query::<NoticeQuery>::try_from_uri(&uri)
        .map(|q| q.0)
        .unwrap_or_default();
    let notice = match query.notice.as_str() {
        "enabled" => Some(
            "Two-factor authentication is on. You will be asked for a code each time you sign in.",
        ),
        "codes" => Some("Your new backup codes are ready. The old ones no longer work."),
        "disabled" => Some("Two-factor authentication is off."),
        _ => None,
    };
    let feedback = Feedback {
        notice,
        ..Feedback::default()
    };
    status_page(&state, &user, &csrf, StatusCode::OK, feedback).await
}

/// Renders the status view, with whatever feedback the last action left.
pub async fn status_page(
    state: &AppState,
    user: &SignedIn,
    csrf: &CsrfToken,
    status_code: StatusCode,
    feedback: Feedback,
) -> Response {
    let status = match state.mfa {
        Some(_) => match state.mfa_status(&user.user).await {
            Ok(status) => Some(status),
            Err(err) => return messages::error_page(&err),
        },
        None => None,
    };
    let few_codes = status
        .as_ref()
        .is_some_and(|s| s.enabled && s.backup_codes_remaining <= FEW_CODES);
    let page = SecurityPage {
        chrome: Chrome::new(csrf, Some(&user.user.email)),
        email: user.user.email.clone(),
        status,
        few_codes,
        feedback,
    };
    render(status_code, &page, Some(csrf))
}

/// `POST /settings/security/backup-codes`: new codes after a fresh TOTP code.
pub async fn regenerate(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    client: Client,
    csrf: CsrfToken,
    CsrfForm(form): CsrfForm<CodeForm>,
) -> Response {
    if form.code.trim().is_empty() {
        let feedback = Feedback::error(
            "regenerate",
            "regen-code",
            "Type the 6-digit code from your app.".into(),
        );
        return status_page(&state, &user, &csrf, StatusCode::BAD_REQUEST, feedback).await;
    }
    match state
        .regenerate_backup_codes(&user.user, form.code, &client)
        .await
    {
        Ok(codes) => enrol::show_codes(&state, &user, &csrf, &codes, enrol::After::Regenerated),
        Err(err) => {
            let (field, message) = match &err {
                Error::MfaLocked => ("regen-code", Some(messages::LOCKED_FOR_NEW_CODES)),
                e if is_code_error(e) => ("regen-code", Some(messages::WRONG_TOTP)),
                _ => ("", None),
            };
            refused(&state, &user, &csrf, "regenerate", field, message, err).await
        }
    }
}

/// `POST /settings/security/disable`: the password, then a code or a backup
/// code, in the one order the flow checks them.
pub async fn disable(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    client: Client,
    csrf: CsrfToken,
    CsrfForm(form): CsrfForm<DisableForm>,
) -> Response {
    let missing = match (form.password.is_empty(), form.code.trim().is_empty()) {
        (true, _) => Some(("disable-password", "Type your password.")),
        (_, true) => Some((
            "disable-code",
            "Type a code from your app, or one of your backup codes.",
        )),
        _ => None,
    };
    if let Some((field, message)) = missing {
        let feedback = Feedback::error("disable", field, message.into());
        return status_page(&state, &user, &csrf, StatusCode::BAD_REQUEST, feedback).await;
    }

    let digest = user.token.digest();
    let factor = FactorInput::Either(form.code);
    match state
        .disable_mfa(&user.user, &digest, form.password, &factor, &client)
        .await
    {
        Ok(()) => see_other(&format!("{}?notice=disabled", return_to::DEFAULT)),
        Err(err) => {
            let field = match &err {
                Error::Unprocessable {
                    code: "invalid_password",
                    ..
                } => "disable-password",
                e if is_code_error(e) || matches!(e, Error::MfaLocked) => "disable-code",
                _ => "",
            };
            refused(&state, &user, &csrf, "disable", field, None, err).await
        }
    }
}

fn is_code_error(err: &Error) -> bool {
    matches!(
        err,
        Error::InvalidCode
            | Error::Unprocessable {
                code: "invalid_code",
                ..
            }
    )
}

/// The status view again, with the error in the form that caused it.
async fn refused(
    state: &AppState,
    user: &SignedIn,
    csrf: &CsrfToken,
    form: &'static str,
    field: &'static str,
    message: Option<&str>,
    err: Error,
) -> Response {
    let problem = Problem::of(err);
    let text = message.map_or_else(|| problem.message.clone(), str::to_owned);
    let feedback = Feedback::error(form, field, text);
    problem.finish(status_page(state, user, csrf, problem.status, feedback).await)
}

//! Turning two-factor authentication on through the portal: the QR code and
//! the key for manual entry, the confirming code, and the backup codes shown
//! once with Download, Print and an "I have saved them" step. New backup
//! codes from the status page are shown by the same view.
//!
//! A wrong confirming code keeps the pending secret, so an app that already
//! scanned the QR code keeps working, and the page draws the same QR code and
//! key again from the stored secret (never from the form). "Start over"
//! makes a new secret on request.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::csrf::{CsrfForm, CsrfToken};
use super::guard::PageUser;
use super::messages::{self, Problem};
use super::security::{status_page, CodeForm, Feedback};
use super::{render, return_to, see_other, Chrome};
use crate::core::code::BackupCode;
use crate::server::client::Client;
use crate::server::error::Error;
use crate::server::session::SignedIn;
use crate::server::AppState;

#[derive(Template)]
#[template(path = "enrol.html")]
struct EnrolPage {
    chrome: Chrome,
    /// The QR code and grouped key, present right after a secret was made.
    setup: Option<(String, String)>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "backup_codes.html")]
struct CodesPage {
    chrome: Chrome,
    heading: &'static str,
    codes: Vec<String>,
    download: String,
    after: &'static str,
}

/// Why backup codes are on screen, which decides the notice afterwards.
#[derive(Clone, Copy)]
pub enum After {
    Enabled,
    Regenerated,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NoFields {}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DoneForm {
    after: String,
}

/// `POST /settings/security/enable`, also behind "Start over": a new
/// pending secret, shown as a QR code and as text.
pub async fn begin(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    csrf: CsrfToken,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Response {
    match state.begin_enrolment(&user.user).await {
        Ok(setup) => {
            let key = group_by_four(&setup.secret);
            enrol_page(
                &user,
                &csrf,
                StatusCode::OK,
                Some((setup.qr_svg, key)),
                None,
            )
        }
        Err(Error::Unprocessable {
            code: "already_enabled",
            ..
        }) => see_other(return_to::DEFAULT),
        Err(err) => {
            let problem = Problem::of(err);
            let feedback = Feedback::error("enable", "", problem.message.clone());
            problem.finish(status_page(&state, &user, &csrf, problem.status, feedback).await)
        }
    }
}

/// `POST /settings/security/confirm`: the first code turns MFA on.
pub async fn confirm(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    client: Client,
    csrf: CsrfToken,
    CsrfForm(form): CsrfForm<CodeForm>,
) -> Response {
    if form.code.trim().is_empty() {
        let message = "Type the 6-digit code your authenticator app shows.".to_owned();
        return enrol_page(&user, &csrf, StatusCode::BAD_REQUEST, None, Some(message));
    }
    let digest = user.token.digest();
    match state
        .confirm_enrolment(&user.user, &digest, &form.code, &client)
        .await
    {
        Ok(codes) => show_codes(&state, &user, &csrf, &codes, After::Enabled),
        Err(Error::Unprocessable {
            code: "already_enabled",
            ..
        }) => see_other(return_to::DEFAULT),
        Err(
            err @ Error::Unprocessable {
                code: "setup_required",
                ..
            },
        ) => {
            let problem = Problem::of(err);
            let feedback = Feedback::error("enable", "", problem.message.clone());
            status_page(&state, &user, &csrf, problem.status, feedback).await
        }
        Err(err) => {
            let problem = Problem::of(err);
            let message = match problem.status {
                StatusCode::BAD_REQUEST => messages::WRONG_TOTP.to_owned(),
                _ => problem.message.clone(),
            };
            // The same pending secret again, so the QR code and key stay on
            // screen for someone who has not scanned them yet.
            let setup = state
                .pending_setup(&user.user)
                .await
                .ok()
                .map(|setup| (setup.qr_svg, group_by_four(&setup.secret)));
            problem.finish(enrol_page(
                &user,
                &csrf,
                problem.status,
                setup,
                Some(message),
            ))
        }
    }
}

fn enrol_page(
    user: &SignedIn,
    csrf: &CsrfToken,
    status: StatusCode,
    setup: Option<(String, String)>,
    error: Option<String>,
) -> Response {
    let page = EnrolPage {
        chrome: Chrome::new(csrf, Some(&user.user.email)),
        setup,
        error,
    };
    render(status, &page, Some(csrf))
}

/// The one and only showing of a set of backup codes. The download is a
/// `data:` link made here, so the server never keeps a copy in clear.
pub fn show_codes(
    state: &AppState,
    user: &SignedIn,
    csrf: &CsrfToken,
    codes: &[BackupCode],
    after: After,
) -> Response {
    let codes: Vec<String> = codes.iter().map(BackupCode::grouped).collect();
    let (heading, after) = match after {
        After::Enabled => (
            "Two-factor authentication is on: save your backup codes",
            "enabled",
        ),
        After::Regenerated => ("Save your new backup codes", "codes"),
    };
    let page = CodesPage {
        chrome: Chrome::new(csrf, Some(&user.user.email)),
        heading,
        download: download_text(&state.issuer, &user.user.email, &codes),
        codes,
        after,
    };
    render(StatusCode::OK, &page, Some(csrf))
}

fn download_text(issuer: &str, email: &str, codes: &[String]) -> String {
    let mut text = format!(
        "Backup codes for {email} on {issuer}\n\n\
         Each code signs you in once, in place of a code from your authenticator app.\n\
         Keep them somewhere safe. Making new codes makes these stop working.\n\n"
    );
    for code in codes {
        text.push_str(code);
        text.push('\n');
    }
    text
}

/// `POST /settings/security/done`: the user has saved the codes. The
/// checkbox is required by the form itself; the server has nothing to check,
/// since the codes are already active.
pub async fn done(PageUser(_): PageUser, CsrfForm(form): CsrfForm<DoneForm>) -> Response {
    let notice = match form.after.as_str() {
        "codes" => "codes",
        _ => "enabled",
    };
    see_other(&format!("{}?notice={notice}", return_to::DEFAULT))
}

/// `JBSWY3DPEHPK3PXP` becomes `JBSW Y3DP EHPK 3PXP`, easier to copy by eye.
fn group_by_four(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    chars
        .chunks(4)
        .map(|group| group.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_grouped_by_four() {
        assert_eq!(group_by_four("JBSWY3DPEHPK3PXP"), "JBSW Y3DP EHPK 3PXP");
        assert_eq!(group_by_four("ABCDEF"), "ABCD EF");
        assert_eq!(group_by_four(""), "");
    }

    #[test]
    fn the_download_lists_every_code() {
        let text = download_text(
            "twofold",
            "ann@example.com",
            &["ABCD-EFGH".into(), "JKLM-NPQR".into()],
        );
        assert!(text.starts_with("Backup codes for ann@example.com on twofold\n"));
        assert!(text.ends_with("ABCD-EFGH\nJKLM-NPQR\n"));
    }
}

//! The JSON API. Field names and status codes follow the parity product, so
//! its clients feel at home; every error body is `{"error", "message"}`.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;

use super::client::Client;
use super::error::{Error, Result};
use super::flows::{FactorInput, SignInOutcome};
use super::session::{clearing_cookie, session_cookie, SignedIn};
use super::AppState;
use crate::core::token::Token;
use crate::store::User;

/// Request bodies larger than this are refused before parsing.
const BODY_LIMIT: usize = 64 * 1024;

pub fn routes(state: &AppState) -> Router<AppState> {
    let mfa = Router::new()
        .route(
            "/api/v1/profile/mfa",
            get(mfa_status).post(mfa_setup).delete(mfa_disable),
        )
        .route("/api/v1/profile/mfa/verify", post(mfa_verify))
        .route("/api/v1/profile/mfa/backup_codes", post(mfa_backup_codes))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_keys));
    Router::new()
        .route("/auth/sign_in", post(sign_in))
        .route("/auth/sign_out", delete(sign_out).post(sign_out))
        .route("/api/v1/profile", get(profile))
        .merge(mfa)
        .route("/api/v1/authz/forward-auth", get(forward_auth))
        .route("/healthz", get(healthz))
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
}

/// `axum::Json`, with rejections in our error shape instead of plain text.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(Error::BadRequest(rejection_message(&rejection))),
        }
    }
}

fn rejection_message(rejection: &JsonRejection) -> String {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => "send the body as application/json".into(),
        JsonRejection::JsonSyntaxError(_) => "the body is not valid JSON".into(),
        // serde's message names the field and the expected type, never a
        // stack trace or an internal path, so it is safe and useful to send.
        JsonRejection::JsonDataError(err) => {
            format!("the body does not fit the request: {}", err.body_text())
        }
        _ => "the request body could not be read".into(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignInRequest {
    email: Option<String>,
    password: Option<String>,
    mfa_token: Option<String>,
    otp_code: Option<String>,
    backup_code: Option<String>,
}

async fn sign_in(
    State(state): State<AppState>,
    client: Client,
    ApiJson(req): ApiJson<SignInRequest>,
) -> Result<Response> {
    if let Some(mfa_token) = req.mfa_token {
        let factor = FactorInput::from_fields(req.otp_code, req.backup_code)?;
        let (user, token) = state
            .sign_in_second_factor(&mfa_token, &factor, &client)
            .await?;
        return Ok(signed_in_response(&state, &user, &token));
    }

    let (Some(email), Some(password)) = (req.email, req.password) else {
        return Err(Error::BadRequest(
            "give email and password, or mfa_token and a code".into(),
        ));
    };
    match state.sign_in_password(&email, password, &client).await? {
        SignInOutcome::Session { user, token } => Ok(signed_in_response(&state, &user, &token)),
        SignInOutcome::MfaRequired { mfa_token } => Ok((
            StatusCode::PARTIAL_CONTENT,
            Json(json!({ "mfa_required": true, "mfa_token": mfa_token.expose() })),
        )
            .into_response()),
    }
}

fn user_json(user: &User) -> serde_json::Value {
    json!({ "id": user.id, "email": user.email, "mfa_enabled": user.mfa_enabled() })
}

fn signed_in_response(state: &AppState, user: &User, token: &Token) -> Response {
    let cookie = session_cookie(token, state.policy.session.absolute, state.secure_cookies);
    let body = json!({ "user": user_json(user), "access_token": token.expose() });
    let mut response = Json(body).into_response();
    set_cookie(response.headers_mut(), &cookie.to_string());
    response
}

pub(super) fn set_cookie(headers: &mut HeaderMap, cookie: &str) {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        headers.append(SET_COOKIE, value);
    }
}

async fn sign_out(
    State(state): State<AppState>,
    client: Client,
    signed_in: SignedIn,
) -> Result<Response> {
    state
        .sign_out(&signed_in.user, &signed_in.token, &client)
        .await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    set_cookie(
        response.headers_mut(),
        &clearing_cookie(state.secure_cookies).to_string(),
    );
    Ok(response)
}

async fn profile(signed_in: SignedIn) -> Json<serde_json::Value> {
    Json(user_json(&signed_in.user))
}

/// Every MFA endpoint answers 403 `feature_unavailable` without keys, even
/// the read-only ones and before the body is read, so clients see one
/// consistent signal.
async fn require_keys(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match state.mfa {
        Some(_) => next.run(request).await,
        None => Error::FeatureUnavailable.into_response(),
    }
}

async fn mfa_status(State(state): State<AppState>, signed_in: SignedIn) -> Result<Response> {
    Ok(Json(state.mfa_status(&signed_in.user).await?).into_response())
}

async fn mfa_setup(State(state): State<AppState>, signed_in: SignedIn) -> Result<Response> {
    Ok(Json(state.begin_enrolment(&signed_in.user).await?).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeRequest {
    otp_code: String,
}

async fn mfa_verify(
    State(state): State<AppState>,
    client: Client,
    signed_in: SignedIn,
    ApiJson(req): ApiJson<CodeRequest>,
) -> Result<Response> {
    let digest = signed_in.token.digest();
    let codes = state
        .confirm_enrolment(&signed_in.user, &digest, &req.otp_code, &client)
        .await
        .map_err(Error::in_profile)?;
    let codes: Vec<&str> = codes.iter().map(|c| c.as_str()).collect();
    Ok(Json(json!({ "enabled": true, "backup_codes": codes })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DisableRequest {
    password: String,
    otp_code: Option<String>,
    backup_code: Option<String>,
}

async fn mfa_disable(
    State(state): State<AppState>,
    client: Client,
    signed_in: SignedIn,
    ApiJson(req): ApiJson<DisableRequest>,
) -> Result<Response> {
    let factor = FactorInput::from_fields(req.otp_code, req.backup_code)?;
    let digest = signed_in.token.digest();
    state
        .disable_mfa(&signed_in.user, &digest, req.password, &factor, &client)
        .await?;
    Ok(Json(json!({ "enabled": false })).into_response())
}

async fn mfa_backup_codes(
    State(state): State<AppState>,
    client: Client,
    signed_in: SignedIn,
    ApiJson(req): ApiJson<CodeRequest>,
) -> Result<Response> {
    let codes = state
        .regenerate_backup_codes(&signed_in.user, req.otp_code, &client)
        .await?;
    let codes: Vec<&str> = codes.iter().map(|c| c.as_str()).collect();
    Ok(Json(json!({ "backup_codes": codes })).into_response())
}

/// For reverse proxies: 200 with the user's identity when the request
/// carries a fully signed-in session, 401 otherwise.
async fn forward_auth(signed_in: SignedIn) -> Response {
    let mut response = StatusCode::OK.into_response();
    for (name, value) in [
        ("remote-user", &signed_in.user.id),
        ("remote-email", &signed_in.user.email),
    ] {
        if let Ok(value) = HeaderValue::from_str(value) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

async fn healthz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, Json(json!({ "status": "ok" }))).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "health check: the database does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable" })),
            )
                .into_response()
        }
    }
}

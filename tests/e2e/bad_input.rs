//! Bad input gets a 4xx with the error body: never a 500, never a panic.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::spawn_app;

async fn raw(
    app: &crate::support::TestApp,
    path: &str,
    token: Option<&str>,
    content_type: &str,
    body: String,
) -> (StatusCode, Value) {
    let mut request = app
        .http
        .post(app.url(path))
        .header("content-type", content_type)
        .body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn assert_client_error(case: &str, (status, body): &(StatusCode, Value)) {
    assert!(status.is_client_error(), "{case}: {status}");
    assert!(
        body["error"].is_string() && body["message"].is_string(),
        "{case}: {body}"
    );
}

#[tokio::test]
async fn malformed_requests_get_clear_client_errors() {
    let app = spawn_app().await;
    app.add_user("bad@example.com");
    let token = app.token_for("bad@example.com").await;
    let (_, setup) = app
        .post("/api/v1/profile/mfa", Some(&token), json!({}))
        .await;
    assert!(setup["secret"].is_string());

    let huge = "9".repeat(10 * 1024);
    let cases: Vec<(&str, &str, Option<&str>, &str, String)> = vec![
        (
            "broken JSON",
            "/auth/sign_in",
            None,
            "application/json",
            "{\"email\":".into(),
        ),
        (
            "not JSON at all",
            "/auth/sign_in",
            None,
            "application/json",
            "hello".into(),
        ),
        (
            "wrong content type",
            "/auth/sign_in",
            None,
            "text/plain",
            "{}".into(),
        ),
        (
            "empty object",
            "/auth/sign_in",
            None,
            "application/json",
            "{}".into(),
        ),
        (
            "email is a number",
            "/auth/sign_in",
            None,
            "application/json",
            r#"{"email":5,"password":"x"}"#.into(),
        ),
        (
            "password missing",
            "/auth/sign_in",
            None,
            "application/json",
            r#"{"email":"bad@example.com"}"#.into(),
        ),
        (
            "array body",
            "/auth/sign_in",
            None,
            "application/json",
            "[1,2]".into(),
        ),
        (
            "unknown field",
            "/auth/sign_in",
            None,
            "application/json",
            r#"{"email":"a@b.c","password":"x","admin":true}"#.into(),
        ),
        (
            "non-ASCII email",
            "/auth/sign_in",
            None,
            "application/json",
            r#"{"email":"ü@ß.de","password":"pässwörd"}"#.into(),
        ),
        (
            "garbage mfa token",
            "/auth/sign_in",
            None,
            "application/json",
            r#"{"mfa_token":"../../etc","otp_code":"123456"}"#.into(),
        ),
        (
            "huge mfa token",
            "/auth/sign_in",
            None,
            "application/json",
            json!({"mfa_token": huge, "otp_code": "1"}).to_string(),
        ),
        (
            "both codes",
            "/auth/sign_in",
            None,
            "application/json",
            r#"{"mfa_token":"x","otp_code":"1","backup_code":"2"}"#.into(),
        ),
        (
            "10 kB code",
            "/api/v1/profile/mfa/verify",
            Some(&token),
            "application/json",
            json!({"otp_code": huge}).to_string(),
        ),
        (
            "non-ASCII code",
            "/api/v1/profile/mfa/verify",
            Some(&token),
            "application/json",
            r#"{"otp_code":"١٢٣٤٥٦"}"#.into(),
        ),
        (
            "code as number",
            "/api/v1/profile/mfa/verify",
            Some(&token),
            "application/json",
            r#"{"otp_code":123456}"#.into(),
        ),
        (
            "code missing",
            "/api/v1/profile/mfa/verify",
            Some(&token),
            "application/json",
            "{}".into(),
        ),
        (
            "null code",
            "/api/v1/profile/mfa/verify",
            Some(&token),
            "application/json",
            r#"{"otp_code":null}"#.into(),
        ),
        (
            "huge password",
            "/auth/sign_in",
            None,
            "application/json",
            json!({"email":"bad@example.com","password": "p".repeat(50_000)}).to_string(),
        ),
        (
            "oversized body",
            "/auth/sign_in",
            None,
            "application/json",
            json!({"email": "x".repeat(100_000), "password": "x"}).to_string(),
        ),
    ];
    for (case, path, token, content_type, body) in cases {
        assert_client_error(case, &raw(&app, path, token, content_type, body).await);
    }

    // After all that, the account still works and nothing was lost.
    let (status, _) = app
        .post("/api/v1/profile/mfa", Some(&token), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(!app.logs().contains("panicked"));
}

#[tokio::test]
async fn unknown_paths_and_missing_sessions_are_clean_errors() {
    let app = spawn_app().await;
    let response = app
        .http
        .get(app.url("/api/v1/profile"))
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "unauthenticated");

    for (method, path, status) in [
        (reqwest::Method::GET, "/no/such/page", StatusCode::NOT_FOUND),
        (
            reqwest::Method::PUT,
            "/auth/sign_in",
            StatusCode::METHOD_NOT_ALLOWED,
        ),
    ] {
        let response = app
            .http
            .request(method, app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{path}");
        let body: Value = response.json().await.unwrap();
        assert!(
            body["error"].is_string() && body["message"].is_string(),
            "{path}"
        );
    }
}

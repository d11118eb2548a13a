//! Session life: revocation on MFA changes and sign-out, expiry, and tokens
//! kept only as hashes.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{spawn_app, spawn_with, Options, PASSWORD};

async fn alive(app: &crate::support::TestApp, token: &str) -> bool {
    app.send(Method::GET, "/api/v1/profile", Some(token), None)
        .await
        .0
        == StatusCode::OK
}

#[tokio::test]
async fn enabling_disabling_and_resetting_mfa_revoke_other_sessions() {
    let app = spawn_app().await;
    app.add_user("s@example.com");
    let phone = app.token_for("s@example.com").await;
    let laptop = app.token_for("s@example.com").await;

    let (_, codes) = app.enrol(&laptop).await;
    assert!(
        alive(&app, &laptop).await,
        "the session that enabled MFA stays"
    );
    assert!(
        !alive(&app, &phone).await,
        "other sessions end when MFA is enabled"
    );

    let (_, body) = app.password_sign_in("s@example.com").await;
    let (_, body) = app
        .post(
            "/auth/sign_in",
            None,
            json!({ "mfa_token": body["mfa_token"], "backup_code": codes[0] }),
        )
        .await;
    let tablet = body["access_token"].as_str().unwrap().to_owned();
    let (status, _) = app
        .send(
            Method::DELETE,
            "/api/v1/profile/mfa",
            Some(&laptop),
            Some(json!({ "password": PASSWORD, "backup_code": codes[1] })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(alive(&app, &laptop).await);
    assert!(
        !alive(&app, &tablet).await,
        "other sessions end when MFA is disabled"
    );

    assert!(app
        .cli(&["mfa", "reset", "s@example.com"], None)
        .status
        .success());
    assert!(
        !alive(&app, &laptop).await,
        "an admin reset ends every session"
    );
}

#[tokio::test]
async fn sessions_expire_absolutely() {
    let app = spawn_with(Options {
        env: vec![("TWOFOLD_SESSION_TTL_SECS", "2".into())],
        ..Options::default()
    })
    .await;
    app.add_user("t@example.com");
    let token = app.token_for("t@example.com").await;
    assert!(alive(&app, &token).await);
    tokio::time::sleep(std::time::Duration::from_millis(3_100)).await;
    assert!(!alive(&app, &token).await);
}

#[tokio::test]
async fn sessions_expire_when_idle() {
    let app = spawn_with(Options {
        env: vec![("TWOFOLD_SESSION_IDLE_SECS", "1".into())],
        ..Options::default()
    })
    .await;
    app.add_user("i@example.com");
    let token = app.token_for("i@example.com").await;
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    assert!(!alive(&app, &token).await);
}

#[tokio::test]
async fn the_session_cookie_has_safe_flags() {
    let app = spawn_app().await;
    app.add_user("c@example.com");
    let response = reqwest::Client::new()
        .post(app.url("/auth/sign_in"))
        .json(&json!({ "email": "c@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("twofold_session="));
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(flag), "{cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain http gets no Secure flag: {cookie}"
    );
}

#[tokio::test]
async fn the_database_keeps_only_token_hashes() {
    if std::env::var("TWOFOLD_TEST_POSTGRES_URL").is_ok() {
        return; // This reads the SQLite file itself.
    }
    let app = spawn_app().await;
    app.add_user("h@example.com");
    let token = app.token_for("h@example.com").await;
    let (_, body) = {
        let token = app.token_for("h@example.com").await;
        app.enrol(&token).await;
        app.password_sign_in("h@example.com").await
    };
    let mfa_token = body["mfa_token"].as_str().unwrap().to_owned();

    let mut bytes = Vec::new();
    for name in ["twofold.db", "twofold.db-wal"] {
        bytes.extend(std::fs::read(app.dir.path().join(name)).unwrap_or_default());
    }
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains(&token) && !text.contains(&mfa_token));
}

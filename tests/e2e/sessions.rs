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
        .second_factor(&body["mfa_token"], "backup_code", &codes[0])
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

    let text = app.database_text();
    assert!(!text.contains(&token) && !text.contains(&mfa_token));
}

/// A password sign-in that is still hashing when MFA is turned on must not
/// come back with a session that skipped the second factor.
#[tokio::test]
async fn a_sign_in_racing_with_enabling_mfa_gets_a_challenge_not_a_session() {
    let app = spawn_with(Options {
        env: vec![
            ("TWOFOLD_HASH_WORKERS", "1".into()),
            ("TWOFOLD_HASH_QUEUE", "64".into()),
            ("TWOFOLD_PASSWORD_ATTEMPTS_PER_IP", "1000".into()),
        ],
        ..Options::default()
    })
    .await;
    app.add_user("race@example.com");
    let owner = app.token_for("race@example.com").await;
    let (_, setup) = app
        .post("/api/v1/profile/mfa", Some(&owner), json!({}))
        .await;
    let code = crate::support::oathtool(setup["secret"].as_str().unwrap(), crate::support::now());

    // Keep the only hashing worker busy, so the racing sign-in waits in line.
    let busy: Vec<_> = (0..12)
        .map(|i| {
            let url = app.url("/auth/sign_in");
            let body =
                json!({ "email": format!("nobody{i}@example.com"), "password": "not it at all" });
            tokio::spawn(async move { reqwest::Client::new().post(url).json(&body).send().await })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let racing = {
        let url = app.url("/auth/sign_in");
        let body = json!({ "email": "race@example.com", "password": PASSWORD });
        tokio::spawn(async move { reqwest::Client::new().post(url).json(&body).send().await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;

    let (status, body) = app
        .post(
            "/api/v1/profile/mfa/verify",
            Some(&owner),
            json!({ "otp_code": code }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        !racing.is_finished(),
        "the racing sign-in finished before MFA was on; the test proves nothing"
    );

    let response = racing.await.unwrap().unwrap();
    assert_eq!(
        response.status(),
        StatusCode::PARTIAL_CONTENT,
        "a session without the second factor"
    );
    for task in busy {
        let _ = task.await;
    }
}

/// Silent connections are closed, so a client that opens many and says
/// nothing cannot lock everyone else out.
#[tokio::test]
async fn idle_connections_cannot_hold_every_slot() {
    let app = spawn_with(Options {
        env: vec![
            ("TWOFOLD_MAX_CONNECTIONS", "4".into()),
            ("TWOFOLD_IDLE_TIMEOUT_SECS", "1".into()),
        ],
        ..Options::default()
    })
    .await;
    let address = app.base.trim_start_matches("http://").to_owned();
    let mut silent = Vec::new();
    for _ in 0..4 {
        silent.push(tokio::net::TcpStream::connect(&address).await.unwrap());
    }

    let response = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        reqwest::get(app.url("/healthz")),
    )
    .await
    .expect("a fifth client waited forever behind four silent ones")
    .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

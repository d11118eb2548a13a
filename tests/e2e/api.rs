//! The JSON API through a whole MFA life cycle.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{now, oathtool, spawn_app, spawn_with, Options, KEYS, PASSWORD};

#[tokio::test]
async fn mfa_life_cycle_over_http() {
    let app = spawn_app().await;
    app.add_user("Ann@Example.com");

    // Emails match whatever their case.
    let token = app.token_for("ann@EXAMPLE.com").await;
    let (status, profile) = app
        .send(Method::GET, "/api/v1/profile", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(profile["mfa_enabled"], false);

    // Set-up gives a URI in the ROTP format, a secret of 160 bits and a QR.
    let (status, setup) = app
        .post("/api/v1/profile/mfa", Some(&token), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let secret = setup["secret"].as_str().unwrap();
    assert_eq!(secret.len(), 32);
    assert_eq!(
        setup["provisioning_url"],
        format!(
            "otpauth://totp/twofold%20test:ann%40example.com?secret={secret}&issuer=twofold%20test"
        )
    );
    assert!(setup["qr_svg"].as_str().unwrap().starts_with("<svg"));

    // A wrong code does not enable; a code from oathtool does, once.
    let (status, body) = app
        .post(
            "/api/v1/profile/mfa/verify",
            Some(&token),
            json!({ "otp_code": "000000" }),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_code"))
    );
    let enrol_code = oathtool(secret, now());
    let (status, body) = app
        .post(
            "/api/v1/profile/mfa/verify",
            Some(&token),
            json!({ "otp_code": enrol_code }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let backup_codes: Vec<String> = body["backup_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().into())
        .collect();
    assert_eq!(backup_codes.len(), 10);
    let (status, _) = app
        .post(
            "/api/v1/profile/mfa/verify",
            Some(&token),
            json!({ "otp_code": enrol_code }),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "verify works only once"
    );

    let (_, status_body) = app
        .send(Method::GET, "/api/v1/profile/mfa", Some(&token), None)
        .await;
    assert_eq!(
        status_body,
        json!({ "feature_available": true, "enabled": true, "backup_codes_remaining": 10, "locked": false })
    );

    // The password alone now yields a challenge, not a session.
    let (status, body) = app.password_sign_in("ann@example.com").await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(body["mfa_required"], true);
    assert!(body.get("access_token").is_none());
    let mfa_token = body["mfa_token"].as_str().unwrap().to_owned();

    // The enrolment code cannot be replayed at sign-in.
    let (status, body) = app.second_factor(&mfa_token, "otp_code", &enrol_code).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_code"))
    );

    // The next step's code (one step of drift) signs in.
    let next_code = oathtool(secret, now() + 30);
    let (status, body) = app.second_factor(&mfa_token, "otp_code", &next_code).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"]["email"], "ann@example.com");
    let mfa_session = body["access_token"].as_str().unwrap().to_owned();

    // The challenge was single-use.
    let (status, body) = app.second_factor(&mfa_token, "otp_code", &next_code).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_token"))
    );

    // A replayed code is refused on a fresh challenge.
    let (_, body) = app.password_sign_in("ann@example.com").await;
    let mfa_token = body["mfa_token"].as_str().unwrap().to_owned();
    let (status, body) = app.second_factor(&mfa_token, "otp_code", &next_code).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_code"))
    );

    // A backup code works once, typed loosely.
    let loose = format!(
        " {}-{} ",
        backup_codes[0][..4].to_lowercase(),
        &backup_codes[0][4..]
    );
    let (status, body) = app.second_factor(&mfa_token, "backup_code", &loose).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, body) = app.password_sign_in("ann@example.com").await;
    let mfa_token = body["mfa_token"].as_str().unwrap().to_owned();
    let (status, _) = app
        .second_factor(&mfa_token, "backup_code", &backup_codes[0])
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a used backup code is refused"
    );
    let (_, status_body) = app
        .send(Method::GET, "/api/v1/profile/mfa", Some(&mfa_session), None)
        .await;
    assert_eq!(status_body["backup_codes_remaining"], 9);

    // Disabling checks the password before consuming the code.
    let (status, body) = app
        .send(
            Method::DELETE,
            "/api/v1/profile/mfa",
            Some(&mfa_session),
            Some(json!({ "password": "wrong password!", "backup_code": backup_codes[1] })),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_password"))
    );
    let (status, body) = app
        .send(
            Method::DELETE,
            "/api/v1/profile/mfa",
            Some(&mfa_session),
            Some(json!({ "password": PASSWORD, "backup_code": backup_codes[1] })),
        )
        .await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({ "enabled": false }))
    );

    // Signing in is back to the password alone.
    let (status, _) = app.password_sign_in("ann@example.com").await;
    assert_eq!(status, StatusCode::OK);

    // Nothing secret reached the log.
    let logs = app.logs();
    for secret_text in [
        secret,
        &enrol_code,
        &next_code,
        &backup_codes[0],
        PASSWORD,
        &mfa_session,
        &mfa_token,
    ] {
        assert!(!logs.contains(secret_text), "the log holds a secret");
    }
}

#[tokio::test]
async fn regenerating_backup_codes_retires_the_old_ones() {
    let app = spawn_app().await;
    app.add_user("bo@example.com");
    let token = app.token_for("bo@example.com").await;
    let (secret, old_codes) = app.enrol(&token).await;

    let code = oathtool(&secret, now() + 30);
    let (status, body) = app
        .post(
            "/api/v1/profile/mfa/backup_codes",
            Some(&token),
            json!({ "otp_code": code }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let new_codes = body["backup_codes"].as_array().unwrap();
    assert_eq!(new_codes.len(), 10);

    let (_, body) = app.password_sign_in("bo@example.com").await;
    let mfa_token = body["mfa_token"].as_str().unwrap();
    let (status, _) = app
        .second_factor(&mfa_token, "backup_code", &old_codes[0])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app
        .second_factor(&mfa_token, "backup_code", &new_codes[0])
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn unknown_email_and_wrong_password_look_the_same() {
    let app = spawn_app().await;
    app.add_user("cy@example.com");
    let wrong = app
        .post(
            "/auth/sign_in",
            None,
            json!({ "email": "cy@example.com", "password": "not the password" }),
        )
        .await;
    let unknown = app
        .post(
            "/auth/sign_in",
            None,
            json!({ "email": "nobody@example.com", "password": "not the password" }),
        )
        .await;
    assert_eq!(wrong.0, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong, unknown);
}

#[tokio::test]
async fn a_challenge_dies_after_five_wrong_codes() {
    let app = spawn_app().await;
    app.add_user("di@example.com");
    let token = app.token_for("di@example.com").await;
    let (secret, _) = app.enrol(&token).await;

    let (_, body) = app.password_sign_in("di@example.com").await;
    let mfa_token = body["mfa_token"].as_str().unwrap();
    for wrong in ["000000", "111111", "12345", "１２３", "abcdef"] {
        let (status, _) = app.second_factor(&mfa_token, "otp_code", &wrong).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    let good = oathtool(&secret, now() + 30);
    let (status, body) = app.second_factor(&mfa_token, "otp_code", &good).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_token"))
    );
}

#[tokio::test]
async fn without_keys_mfa_is_unavailable_but_passwords_work() {
    let app = spawn_with(Options {
        without_keys: true,
        ..Options::default()
    })
    .await;
    app.add_user("ed@example.com");
    let token = app.token_for("ed@example.com").await;

    for (method, path) in [
        (Method::GET, "/api/v1/profile/mfa"),
        (Method::POST, "/api/v1/profile/mfa"),
        (Method::POST, "/api/v1/profile/mfa/verify"),
        (Method::POST, "/api/v1/profile/mfa/backup_codes"),
        (Method::DELETE, "/api/v1/profile/mfa"),
    ] {
        let (status, body) = app
            .send(
                method,
                path,
                Some(&token),
                Some(json!({ "otp_code": "123456", "password": PASSWORD })),
            )
            .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::FORBIDDEN, Some("feature_unavailable")),
            "{path}"
        );
    }

    // One warning at start names every missing key and the command.
    let logs = app.logs();
    let warnings: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("MFA is unavailable"))
        .collect();
    assert_eq!(warnings.len(), 1, "{logs}");
    for (name, _) in KEYS {
        assert!(warnings[0].contains(name));
    }
    assert!(warnings[0].contains("twofold keys init"));
}

#[tokio::test]
async fn sign_out_ends_the_session() {
    let app = spawn_app().await;
    app.add_user("fi@example.com");
    let token = app.token_for("fi@example.com").await;
    let (status, _) = app
        .send(Method::DELETE, "/auth/sign_out", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app
        .send(Method::GET, "/api/v1/profile", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn forward_auth_reports_the_signed_in_user() {
    let app = spawn_app().await;
    app.add_user("gu@example.com");
    let token = app.token_for("gu@example.com").await;
    let response = app
        .http
        .get(app.url("/api/v1/authz/forward-auth"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["remote-email"], "gu@example.com");
    let response = reqwest::get(app.url("/api/v1/authz/forward-auth"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

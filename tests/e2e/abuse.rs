//! Abuse resistance under parallel attack against the real server: replay
//! races, backup-code races, password guessing, the second-factor lock and
//! the hashing pool's load shedding.

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{now, oathtool, spawn_with, Options, TestApp, PASSWORD};

/// Generous limits, so a test can make many honest requests and still see
/// the one guard it is about.
fn roomy() -> Options {
    Options {
        env: vec![
            ("TWOFOLD_PASSWORD_ATTEMPTS_PER_IP", "1000".into()),
            ("TWOFOLD_PASSWORD_ATTEMPTS_PER_ACCOUNT", "1000".into()),
            ("TWOFOLD_CODE_ATTEMPTS_PER_IP", "1000".into()),
            ("TWOFOLD_CODE_ATTEMPTS_PER_ACCOUNT", "1000".into()),
        ],
        ..Options::default()
    }
}

async fn challenges(app: &TestApp, email: &str, n: usize) -> Vec<String> {
    let mut tokens = Vec::new();
    for _ in 0..n {
        let (status, body) = app.password_sign_in(email).await;
        assert_eq!(status, StatusCode::PARTIAL_CONTENT, "{body}");
        tokens.push(body["mfa_token"].as_str().unwrap().to_owned());
    }
    tokens
}

async fn submit_all(app: &TestApp, tokens: &[String], field: &str, code: &str) -> Vec<StatusCode> {
    let requests = tokens.iter().map(|t| app.second_factor(t, field, code));
    join_all(requests)
        .await
        .into_iter()
        .map(|(status, _)| status)
        .collect()
}

#[tokio::test]
async fn one_totp_code_wins_once_among_twenty() {
    let app = spawn_with(roomy()).await;
    app.add_user("race@example.com");
    let token = app.token_for("race@example.com").await;
    let (secret, _) = app.enrol(&token).await;

    let tokens = challenges(&app, "race@example.com", 20).await;
    let code = oathtool(&secret, now() + 30);
    let statuses = submit_all(&app, &tokens, "otp_code", &code).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{statuses:?}"
    );
    assert!(statuses
        .iter()
        .all(|s| *s == StatusCode::OK || *s == StatusCode::BAD_REQUEST));
}

#[tokio::test]
async fn one_backup_code_wins_once_among_fifty() {
    let app = spawn_with(roomy()).await;
    app.add_user("race2@example.com");
    let token = app.token_for("race2@example.com").await;
    let (_, codes) = app.enrol(&token).await;

    let tokens = challenges(&app, "race2@example.com", 50).await;
    let statuses = submit_all(&app, &tokens, "backup_code", &codes[0]).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{statuses:?}"
    );
    let (_, status) = app
        .send(
            reqwest::Method::GET,
            "/api/v1/profile/mfa",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status["backup_codes_remaining"], 9);
}

#[tokio::test]
async fn password_guessing_is_cut_off_before_hashing() {
    let app = spawn_with(Options {
        env: vec![
            ("TWOFOLD_TRUST_FORWARDED_FOR", "true".into()),
            ("TWOFOLD_PASSWORD_ATTEMPTS_PER_ACCOUNT", "5".into()),
        ],
        ..Options::default()
    })
    .await;
    app.add_user("victim@example.com");
    let others: Vec<String> = (0..10).map(|i| format!("user{i}@example.com")).collect();
    for email in &others {
        app.add_user(email);
    }

    let attack =
        (0..100).map(|_| app.sign_in_from("203.0.113.66", "victim@example.com", "wrong guess!"));
    let honest = others
        .iter()
        .enumerate()
        .map(|(i, email)| app.sign_in_from(format!("198.51.100.{i}"), email, PASSWORD));
    let (attack, honest) = tokio::join!(join_all(attack), join_all(honest));

    assert!(
        honest.iter().all(|r| r.status() == StatusCode::OK),
        "honest users were refused"
    );
    let limited: Vec<&reqwest::Response> = attack
        .iter()
        .filter(|r| r.status() == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    let refused = attack
        .iter()
        .filter(|r| r.status() == StatusCode::UNAUTHORIZED)
        .count();
    assert!(refused <= 5, "{refused} passwords were checked");
    assert_eq!(limited.len() + refused, 100);
    assert!(limited
        .iter()
        .all(|r| r.headers().contains_key("retry-after")));

    // The audit trail agrees: at most five password checks, and blocks.
    let out = app.cli(&["audit", "--json", "--user", "victim@example.com"], None);
    let events: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let checks = events
        .iter()
        .filter(|e| e["kind"] == "sign_in" && e["outcome"] == "failure")
        .count();
    assert!(checks <= 5, "{checks}");
    assert!(events
        .iter()
        .any(|e| e["kind"] == "rate_limited" && e["ip"] == "203.0.113.66"));
}

#[tokio::test]
async fn consecutive_failures_lock_the_factor_until_a_backup_code() {
    let mut options = roomy();
    options.env.push(("TWOFOLD_MFA_LOCK_AFTER", "3".into()));
    let app = spawn_with(options).await;
    app.add_user("lock@example.com");
    let token = app.token_for("lock@example.com").await;
    let (secret, codes) = app.enrol(&token).await;

    let tokens = challenges(&app, "lock@example.com", 1).await;
    for wrong in ["000000", "000001", "000002"] {
        let (status, _) = app.second_factor(&tokens[0], "otp_code", &wrong).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    let good = oathtool(&secret, now() + 30);
    let (status, body) = app.second_factor(&tokens[0], "otp_code", &good).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("mfa_locked"))
    );

    let (status, _) = app
        .second_factor(&tokens[0], "backup_code", &codes[0])
        .await;
    assert_eq!(status, StatusCode::OK, "a backup code frees the factor");
    let tokens = challenges(&app, "lock@example.com", 1).await;
    let (status, _) = app.second_factor(&tokens[0], "otp_code", &good).await;
    assert_eq!(status, StatusCode::OK);

    let out = app.cli(&["audit", "--json"], None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("\"kind\":\"mfa_locked\""));
    assert!(text.contains("\"kind\":\"mfa_unlocked\""));
}

#[tokio::test]
async fn an_overloaded_hasher_sheds_load_with_503() {
    let app = spawn_with(Options {
        env: vec![
            ("TWOFOLD_HASH_WORKERS", "1".into()),
            ("TWOFOLD_HASH_QUEUE", "1".into()),
            ("TWOFOLD_HASH_DEADLINE_MS", "50".into()),
            ("TWOFOLD_PASSWORD_ATTEMPTS_PER_IP", "1000".into()),
            ("TWOFOLD_PASSWORD_ATTEMPTS_PER_ACCOUNT", "1000".into()),
        ],
        ..Options::default()
    })
    .await;
    let storm = (0..40).map(|i| {
        app.sign_in_from(
            "127.0.0.1",
            format!("nobody{i}@example.com"),
            "whatever pass",
        )
    });
    let responses = join_all(storm).await;
    let shed: Vec<&reqwest::Response> = responses
        .iter()
        .filter(|r| r.status() == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    assert!(!shed.is_empty(), "nothing was shed");
    assert!(shed.iter().all(|r| r.headers().contains_key("retry-after")));
    assert!(responses.iter().all(|r| matches!(
        r.status(),
        StatusCode::UNAUTHORIZED | StatusCode::SERVICE_UNAVAILABLE
    )));
}

#[tokio::test]
async fn parallel_guesses_on_one_challenge_check_at_most_five_codes() {
    let app = spawn_with(roomy()).await;
    app.add_user("guess@example.com");
    let token = app.token_for("guess@example.com").await;
    app.enrol(&token).await;

    let tokens = challenges(&app, "guess@example.com", 1).await;
    let same = vec![tokens[0].clone(); 30];
    let statuses = submit_all(&app, &same, "otp_code", "000000").await;
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::BAD_REQUEST)
        .count();
    let dead = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    assert!(
        checked <= 5,
        "{checked} codes were checked on one challenge"
    );
    assert_eq!(checked + dead, 30, "{statuses:?}");
}

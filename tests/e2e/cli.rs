//! The command line: keys, accounts and the admin MFA commands.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{command, listening_address, now, oathtool, spawn_app, TestApp};

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn keys_init_prints_three_fresh_keys_both_ways() {
    let app = spawn_app().await;
    let out = app.cli(&["keys", "init"], None);
    assert!(out.status.success());
    let text = stdout(&out);
    for name in [
        "primary_key: ",
        "deterministic_key: ",
        "key_derivation_salt: ",
        "TWOFOLD_PRIMARY_KEY=",
        "TWOFOLD_DETERMINISTIC_KEY=",
        "TWOFOLD_KEY_DERIVATION_SALT=",
    ] {
        let value = text.split(name).nth(1).unwrap().lines().next().unwrap();
        assert_eq!(value.len(), 32, "{name}");
        assert!(value.chars().all(|c| c.is_ascii_alphanumeric()));
    }
    assert_ne!(stdout(&app.cli(&["keys", "init"], None)), text);
}

#[tokio::test]
async fn keys_check_marks_each_key_and_fails_when_one_is_missing() {
    let mut app = spawn_app().await;
    let out = app.cli(&["keys", "check"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).matches("present").count(), 3);

    app.env.retain(|(k, _)| k != "TWOFOLD_DETERMINISTIC_KEY");
    let out = app.cli(&["keys", "check"], None);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.lines()
            .any(|l| l.contains("missing") && l.contains("TWOFOLD_DETERMINISTIC_KEY")),
        "{text}"
    );

    // The Rails names work too.
    app.env.push((
        "ACTIVE_RECORD_ENCRYPTION_DETERMINISTIC_KEY".into(),
        "TestDeterministicKey0123456789ab".into(),
    ));
    assert!(app.cli(&["keys", "check"], None).status.success());
}

#[tokio::test]
async fn admin_commands_reset_and_reissue() {
    let app = spawn_app().await;
    for email in ["a@example.com", "b@example.com"] {
        app.add_user(email);
    }
    let (secret_a, _) = enrolled(&app, "a@example.com").await;
    enrolled(&app, "b@example.com").await;

    // Unknown emails are named, with status 1.
    for args in [
        ["mfa", "reset", "nobody@example.com"],
        ["mfa", "generate-backup-codes", "nobody@example.com"],
    ] {
        let out = app.cli(&args, None);
        assert_eq!(out.status.code(), Some(1));
        assert!(stderr(&out).contains("nobody@example.com"));
    }

    // New backup codes: ten, printed, and they work.
    let out = app.cli(&["mfa", "generate-backup-codes", "a@example.com"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let codes: Vec<String> = stdout(&out)
        .lines()
        .filter(|l| l.len() == 9 && l.as_bytes()[4] == b'-')
        .map(String::from)
        .collect();
    assert_eq!(codes.len(), 10);
    let (_, body) = app.password_sign_in("a@example.com").await;
    let (status, _) = app
        .second_factor(&body["mfa_token"], "backup_code", &codes[3])
        .await;
    assert_eq!(status, StatusCode::OK);

    // Reset one: password alone signs in again; codes for MFA-off users are an error.
    let out = app.cli(&["mfa", "reset", "a@example.com"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        app.password_sign_in("a@example.com").await.0,
        StatusCode::OK
    );
    let out = app.cli(&["mfa", "generate-backup-codes", "a@example.com"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(!oathtool(&secret_a, now()).is_empty());

    // Reset everyone: asks first, and a "no" changes nothing.
    let out = app.cli(&["mfa", "reset-all"], Some("no\n"));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        app.password_sign_in("b@example.com").await.0,
        StatusCode::PARTIAL_CONTENT
    );
    let out = app.cli(&["mfa", "reset-all"], Some("yes\n"));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        app.password_sign_in("b@example.com").await.0,
        StatusCode::OK
    );

    enrolled(&app, "b@example.com").await;
    let out = app.cli(&["mfa", "reset-all", "--yes"], None);
    assert!(out.status.success());
    assert_eq!(
        app.password_sign_in("b@example.com").await.0,
        StatusCode::OK
    );
}

async fn enrolled(app: &TestApp, email: &str) -> (String, Vec<String>) {
    let token = app.token_for(email).await;
    app.enrol(&token).await
}

#[tokio::test]
async fn user_add_refuses_duplicates_and_weak_passwords() {
    let app = spawn_app().await;
    app.add_user("dup@example.com");
    let out = app.cli(
        &["user", "add", "DUP@example.com", "--password-stdin"],
        Some("another long password\n"),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("dup@example.com"));
    let out = app.cli(
        &["user", "add", "weak@example.com", "--password-stdin"],
        Some("short\n"),
    );
    assert_eq!(out.status.code(), Some(1));
}

#[tokio::test]
async fn the_database_holds_no_secret_in_clear() {
    let app = spawn_app().await;
    if std::env::var("TWOFOLD_TEST_POSTGRES_URL").is_ok() {
        return; // The file check below is about the SQLite file.
    }
    app.add_user("enc@example.com");
    let (secret, codes) = enrolled(&app, "enc@example.com").await;
    drop_server_and_checkpoint(&app);

    let text = app.database_text();
    assert!(
        text.contains("\"p\":"),
        "the secret is stored in the Rails envelope"
    );
    assert!(!text.contains(&secret));
    for code in &codes {
        assert!(!text.contains(code.as_str()));
    }
}

fn drop_server_and_checkpoint(app: &TestApp) {
    // Reading through the CLI forces the pages into the files.
    let out = app.cli(&["audit", "--json"], None);
    assert!(out.status.success());
}

/// Runs `serve` with the app's environment and reports how it ended; a
/// server that starts is stopped after a few seconds.
fn serve_outcome(app: &TestApp) -> (Option<i32>, String) {
    use std::io::Read;
    let mut child = command(app.dir.path(), &app.env)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            return (status.code(), err);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    (None, String::new())
}

fn set_env(app: &mut TestApp, name: &str, value: &str) {
    app.env.retain(|(k, _)| k != name);
    app.env.push((name.into(), value.into()));
}

#[tokio::test]
async fn wrong_keys_are_loud_and_rotation_keeps_users_signed_in() {
    let mut app = spawn_app().await;
    app.add_user("rot@example.com");
    let (secret, _) = enrolled(&app, "rot@example.com").await;
    let old = crate::support::KEYS[0].1;
    let new = "NewPrimaryKey0123456789abcdefghi";

    // Keys from another installation: check fails and serve refuses to start.
    set_env(&mut app, "TWOFOLD_PRIMARY_KEY", new);
    let out = app.cli(&["keys", "check"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("Use the keys from the old one"),
        "{}",
        stdout(&out)
    );
    let (code, err) = serve_outcome(&app);
    assert_eq!(
        code,
        Some(1),
        "the server started with keys that cannot read its secrets"
    );
    assert!(
        err.contains("cannot read 1 of 1 stored TOTP secrets"),
        "{err}"
    );

    // Rotation: with both keys listed, rotate re-encrypts under the new one,
    // after which the new key alone reads everything.
    set_env(&mut app, "TWOFOLD_PRIMARY_KEY", &format!("{old},{new}"));
    let out = app.cli(&["keys", "rotate"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("Re-encrypted 1"), "{}", stdout(&out));
    set_env(&mut app, "TWOFOLD_PRIMARY_KEY", new);
    assert!(app.cli(&["keys", "check"], None).status.success());

    let restarted = crate::support::start(tempfile::tempdir().unwrap(), app.env.clone()).await;
    let (_, body) = restarted.password_sign_in("rot@example.com").await;
    let code = oathtool(&secret, now() + 30);
    let (status, body) = restarted
        .second_factor(&body["mfa_token"], "otp_code", &code)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn audit_lists_and_filters_events() {
    let app = spawn_app().await;
    app.add_user("au@example.com");
    app.add_user("other@example.com");
    let token = app.token_for("au@example.com").await;
    app.enrol(&token).await;
    let (status, _) = app
        .post(
            "/auth/sign_in",
            None,
            json!({ "email": "au@example.com", "password": "wrong password" }),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    app.token_for("other@example.com").await;
    assert!(app
        .cli(&["mfa", "reset", "au@example.com"], None)
        .status
        .success());

    let all = stdout(&app.cli(&["audit"], None));
    for kind in ["sign_in", "mfa_enabled", "mfa_reset"] {
        assert!(all.contains(kind), "{kind} missing from:\n{all}");
    }

    let failed = stdout(&app.cli(&["audit", "--failed"], None));
    assert_eq!(failed.lines().count(), 1, "{failed}");
    assert!(failed.contains("failure") && failed.contains("au@example.com"));

    let json_lines = stdout(&app.cli(
        &[
            "audit",
            "--json",
            "--user",
            "AU@example.com",
            "--since",
            "1h",
        ],
        None,
    ));
    let events: Vec<serde_json::Value> = json_lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(events.iter().all(|e| e["email"] == "au@example.com"));
    let reset = events.iter().find(|e| e["kind"] == "mfa_reset").unwrap();
    assert_eq!(reset["actor"], "cli", "the audit says who reset MFA");
    assert!(events
        .iter()
        .all(|e| e["ip"].is_string() && e["at"].is_i64()));

    let out = app.cli(&["audit", "--since", "soon"], None);
    assert_eq!(out.status.code(), Some(1));

    // The trail names no secret: no password, and no token.
    let dump = stdout(&app.cli(&["audit", "--json"], None));
    assert!(!dump.contains(crate::support::PASSWORD) && !dump.contains(&token));
}

#[tokio::test]
async fn quickstart_makes_keys_and_an_account_and_serves_mfa() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().unwrap();
    let mut child = command(dir.path(), &[])
        .args(["quickstart", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let guard = KillOnDrop(&mut child);

    let mut printed = BufReader::new(guard.0.stdout.take().unwrap()).lines();
    let password = printed
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| {
            l.trim()
                .strip_prefix("password:")
                .map(|p| p.trim().to_owned())
        })
        .expect("quickstart prints the first account's password");
    // Keep reading, as a terminal would: a closed pipe would fail its writes.
    std::thread::spawn(move || printed.for_each(drop));
    let mut logged = BufReader::new(guard.0.stderr.take().unwrap()).lines();
    let mut said = String::new();
    let mut address = String::new();
    for line in logged.by_ref().map_while(Result::ok) {
        said.push_str(&line);
        if let Some(found) = listening_address(&line) {
            address = found;
            break;
        }
    }
    std::thread::spawn(move || logged.for_each(|l| eprintln!("server: {l:?}")));
    assert!(
        said.contains("generated three") && said.contains("data/keys.env (mode 0600)"),
        "quickstart says loudly that it made keys: {said}"
    );
    let mode = std::fs::metadata(dir.path().join("data/keys.env"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let folder = std::fs::metadata(dir.path().join("data"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(folder & 0o777, 0o700);

    // The account signs in, and MFA is available with the generated keys.
    let http = reqwest::Client::new();
    let base = format!("http://{address}");
    let body: serde_json::Value = http
        .post(format!("{base}/auth/sign_in"))
        .json(&json!({ "email": "admin@example.com", "password": password }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = body["access_token"].as_str().unwrap();
    let status = http
        .get(format!("{base}/api/v1/profile/mfa"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(status.status(), StatusCode::OK);

    // Admin commands in the same folder find quickstart's keys.
    let check = command(dir.path(), &[])
        .args(["keys", "check"])
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", stdout(&check));
}

struct KillOnDrop<'a>(&'a mut std::process::Child);

impl Drop for KillOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn a_changed_deterministic_key_is_loud_too() {
    let mut app = spawn_app().await;
    app.add_user("det@example.com");
    enrolled(&app, "det@example.com").await;

    // Only the deterministic key differs: secrets still decrypt, but every
    // backup-code digest would silently stop matching.
    set_env(
        &mut app,
        "TWOFOLD_DETERMINISTIC_KEY",
        "AnotherDeterministicKey012345678",
    );
    let out = app.cli(&["keys", "check"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("deterministic key"),
        "{}",
        stdout(&out)
    );

    let out = app.cli(&["mfa", "generate-backup-codes", "det@example.com"], None);
    assert_eq!(
        out.status.code(),
        Some(1),
        "codes issued under the wrong key"
    );
    assert!(stderr(&out).contains("Use the keys from the old one"));

    let (code, err) = serve_outcome(&app);
    assert_eq!(code, Some(1));
    assert!(err.contains("deterministic key"), "{err}");
}

#[tokio::test]
async fn a_closed_log_pipe_does_not_stop_the_server() {
    use std::io::{BufRead, BufReader};

    let dir = tempfile::tempdir().unwrap();
    let env = [(
        "TWOFOLD_DATABASE_URL".to_owned(),
        "sqlite://t.db".to_owned(),
    )];
    let mut child = command(dir.path(), &env)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let guard = KillOnDrop(&mut child);
    let address = BufReader::new(guard.0.stderr.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .find_map(|l| listening_address(&l))
        .unwrap();
    // The reader is gone: every log line from now on hits a closed pipe.

    let http = reqwest::Client::new();
    for _ in 0..3 {
        let response = http
            .post(format!("http://{address}/auth/sign_in"))
            .json(&json!({ "email": "a@example.com", "password": "not a password" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
}

//! The documented fail2ban filter, run by the real `fail2ban-regex` against
//! log lines the real server wrote.

use std::process::Command;

use crate::support::{spawn_with, Options};

#[tokio::test]
async fn the_fail2ban_filter_bans_exactly_the_failing_addresses() {
    let app = spawn_with(Options {
        env: vec![("TWOFOLD_TRUST_FORWARDED_FOR", "1".into())],
        ..Options::default()
    })
    .await;
    app.add_user("f2b@example.com");
    for (ip, password) in [
        ("203.0.113.9", "wrong password"),
        ("198.51.100.7", crate::support::PASSWORD),
        ("2001:db8::1", "also wrong!"),
    ] {
        app.sign_in_from(ip, "f2b@example.com", password).await;
    }

    let log = app.dir.path().join("twofold.log");
    // A last line without its newline is one fail2ban would still be waiting on.
    std::fs::write(&log, app.wait_for_log("twofold::audit", 3).await + "\n").unwrap();
    let filter = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/contrib/fail2ban/filter.d/twofold.conf"
    );
    let out = Command::new("fail2ban-regex")
        .args(["-o", "ip"])
        .arg(&log)
        .arg(filter)
        .output()
        .expect("fail2ban-regex must be installed (apt-get install fail2ban)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let banned: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        banned,
        ["203.0.113.9", "2001:db8::1"],
        "log:\n{}",
        app.logs()
    );
}

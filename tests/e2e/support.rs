//! The test harness: starts the real `twofold` binary on port 0 with a fresh
//! database (a SQLite file in a temporary folder, or a new PostgreSQL
//! database when `TWOFOLD_TEST_POSTGRES_URL` is set), and drives it over
//! HTTP and through its command line.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::StatusCode;
use serde_json::{json, Value};

/// Keys made for these tests only.
pub const KEYS: [(&str, &str); 3] = [
    ("TWOFOLD_PRIMARY_KEY", "TestPrimaryKey0123456789abcdefgh"),
    (
        "TWOFOLD_DETERMINISTIC_KEY",
        "TestDeterministicKey0123456789ab",
    ),
    (
        "TWOFOLD_KEY_DERIVATION_SALT",
        "TestKeyDerivationSalt0123456789a",
    ),
];

pub const PASSWORD: &str = "correct horse battery staple";

pub struct TestApp {
    pub base: String,
    pub dir: tempfile::TempDir,
    pub env: Vec<(String, String)>,
    pub http: reqwest::Client,
    pub logs: Arc<Mutex<Vec<String>>>,
    child: Child,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Default)]
pub struct Options {
    pub without_keys: bool,
    pub env: Vec<(&'static str, String)>,
}

pub async fn spawn_app() -> TestApp {
    spawn_with(Options::default()).await
}

pub async fn spawn_with(options: Options) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut env: Vec<(String, String)> = vec![
        ("TWOFOLD_DATABASE_URL".into(), database_url(&dir).await),
        ("TWOFOLD_ISSUER".into(), "twofold test".into()),
        ("RUST_LOG".into(), "info".into()),
        // Test machines are busy; only the test about deadlines needs a
        // short one, and it sets its own.
        ("TWOFOLD_HASH_DEADLINE_MS".into(), "30000".into()),
    ];
    if !options.without_keys {
        env.extend(KEYS.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    }
    env.extend(options.env.into_iter().map(|(k, v)| (k.to_string(), v)));
    start(dir, env).await
}

/// Starts the server with exactly this environment and folder.
pub async fn start(dir: tempfile::TempDir, env: Vec<(String, String)>) -> TestApp {
    let mut child = command(dir.path(), &env)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let logs = Arc::new(Mutex::new(Vec::new()));
    let address = read_address(child.stderr.take().unwrap(), Arc::clone(&logs));
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    TestApp {
        base: format!("http://{address}"),
        dir,
        env,
        http,
        logs,
        child,
    }
}

/// Reads the server's log until it names its address, then keeps draining
/// it into `logs` so tests can look for what must never be logged.
fn read_address(stderr: std::process::ChildStderr, logs: Arc<Mutex<Vec<String>>>) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(address) = listening_address(&line) {
                let _ = tx.send(address);
            }
            logs.lock().unwrap().push(line);
        }
        let _ = tx.send(String::new());
    });
    let address = rx.recv_timeout(Duration::from_secs(60)).unwrap();
    assert!(!address.is_empty(), "the server did not start");
    address
}

async fn database_url(dir: &tempfile::TempDir) -> String {
    match std::env::var("TWOFOLD_TEST_POSTGRES_URL") {
        Ok(base) => fresh_postgres_database(&base).await,
        Err(_) => format!("sqlite://{}", dir.path().join("twofold.db").display()),
    }
}

async fn fresh_postgres_database(base: &str) -> String {
    use sqlx::Connection;
    let name = format!("twofold_test_{:016x}", rand_u64());
    let mut admin = sqlx::PgConnection::connect(&format!("{base}/postgres"))
        .await
        .unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    format!("{base}/{name}")
}

fn rand_u64() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    nanos
        ^ (u64::from(std::process::id()) << 32)
        ^ COUNTER
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// The address in the server's "listening" log line, if `line` is that one.
pub fn listening_address(line: &str) -> Option<String> {
    let rest = line.split("twofold is listening").nth(1)?;
    let address = rest.split("address=").nth(1)?.split_whitespace().next()?;
    Some(address.to_owned())
}

/// The twofold binary, run in `dir` with exactly `env` (and `PATH`).
pub fn command(dir: &Path, env: &[(String, String)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_twofold"));
    command
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        command.env(k, v);
    }
    command
}

impl TestApp {
    /// Runs a command-line subcommand against the same database and keys.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut child = command(self.dir.path(), &self.env)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
        drop(input);
        child.wait_with_output().unwrap()
    }

    pub fn add_user(&self, email: &str) {
        let out = self.cli(
            &["user", "add", email, "--password-stdin"],
            Some(&format!("{PASSWORD}\n")),
        );
        assert!(
            out.status.success(),
            "user add failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The SQLite database and its write-ahead log, as text, to search for
    /// anything that must never be stored in clear.
    pub fn database_text(&self) -> String {
        let mut bytes = Vec::new();
        for name in ["twofold.db", "twofold.db-wal"] {
            bytes.extend(std::fs::read(self.dir.path().join(name)).unwrap_or_default());
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Signs in through a trusted proxy that reports the client as `ip`.
    pub async fn sign_in_from(
        &self,
        ip: impl AsRef<str>,
        email: impl AsRef<str>,
        password: &str,
    ) -> reqwest::Response {
        reqwest::Client::new()
            .post(self.url("/auth/sign_in"))
            .header("x-forwarded-for", ip.as_ref())
            .json(&json!({ "email": email.as_ref(), "password": password }))
            .send()
            .await
            .unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends JSON with an optional bearer token and returns status and body.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::POST, path, token, Some(body))
            .await
    }

    /// Sends the second step of a sign-in: a challenge token and a code in
    /// `field` (`otp_code` or `backup_code`).
    pub async fn second_factor(
        &self,
        mfa_token: &(impl serde::Serialize + ?Sized),
        field: &str,
        code: &(impl serde::Serialize + ?Sized),
    ) -> (StatusCode, Value) {
        let mut body = json!({ "mfa_token": mfa_token });
        body[field] = json!(code);
        self.post("/auth/sign_in", None, body).await
    }

    /// Signs in with a password and returns the response.
    pub async fn password_sign_in(&self, email: &str) -> (StatusCode, Value) {
        self.post(
            "/auth/sign_in",
            None,
            json!({ "email": email, "password": PASSWORD }),
        )
        .await
    }

    /// Signs in an account without MFA and returns its access token.
    pub async fn token_for(&self, email: &str) -> String {
        let (status, body) = self.password_sign_in(email).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// Enrols the signed-in user with MFA and returns the secret and the
    /// backup codes, using a code computed by oathtool.
    pub async fn enrol(&self, token: &str) -> (String, Vec<String>) {
        let (status, setup) = self
            .post("/api/v1/profile/mfa", Some(token), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{setup}");
        let secret = setup["secret"].as_str().unwrap().to_owned();
        let code = oathtool(&secret, now());
        let (status, body) = self
            .post(
                "/api/v1/profile/mfa/verify",
                Some(token),
                json!({ "otp_code": code }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let codes = body["backup_codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect();
        (secret, codes)
    }

    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }

    /// Waits until `count` log lines contain `needle`: the server writes its
    /// log asynchronously, so a line may land just after the response.
    pub async fn wait_for_log(&self, needle: &str, count: usize) -> String {
        for _ in 0..100 {
            let logs = self.logs();
            if logs.lines().filter(|l| l.contains(needle)).count() >= count {
                return logs;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "the log never had {count} lines with {needle:?}:\n{}",
            self.logs()
        );
    }
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A TOTP code for `secret` at `unix` seconds, computed by oathtool, an
/// authenticator twofold has no part in.
pub fn oathtool(secret: &str, unix: i64) -> String {
    let out = Command::new("oathtool")
        .args(["--totp", "--base32", &format!("--now=@{unix}"), secret])
        .env("TZ", "UTC")
        .output()
        .expect("oathtool must be installed (apt-get install oathtool)");
    assert!(
        out.status.success(),
        "oathtool: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

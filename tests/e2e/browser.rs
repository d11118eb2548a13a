//! The web portal in a real headless Chromium, driven through chromedriver:
//! a whole MFA life cycle through the pages, the messages a person sees when
//! something is wrong, and the portal's defences (CSRF, open redirects,
//! security headers). Codes come from oathtool, never from twofold.
//!
//! Every page visited is saved to `test-artifacts/screenshots/`, so a person
//! can look at what the browser showed.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use reqwest::header::{CONTENT_TYPE, LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{now, oathtool, spawn_app, spawn_with, Options, TestApp, PASSWORD};

/// The Chromium flags from the brief: headless, no sandbox (the tests run
/// as root in a container), and nothing that phones home, since the machine
/// has no network and Chromium would otherwise flood refused connections.
const CHROMIUM_ARGS: [&str; 11] = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1000",
    "--lang=en-US",
];

const WIDTH: u32 = 1280;
const HEIGHT: u32 = 1000;

/// chromedriver and the Chromium it starts, killed together when dropped,
/// even when a test fails half-way.
struct Driver {
    child: Child,
    profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        // chromedriver leads its own process group, so the group holds
        // exactly it and the browser it started. Each member is killed by its
        // own positive id: procps 4's `kill` turns a negative group id into
        // -1, which would signal every process on the machine.
        let group = self.child.id();
        for pid in group_members(group).into_iter().filter(|&pid| pid != group) {
            let _ = Command::new("kill")
                .args(["-s", "KILL", "--", &pid.to_string()])
                .status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The processes whose process group is `group`, read from /proc.
fn group_members(group: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut members = Vec::new();
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // The command name may hold spaces and parentheses; the fields after
        // its closing parenthesis are state, parent and then process group.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map_or("", |(_, rest)| rest)
            .split_whitespace()
            .collect();
        if pid > 1
            && pid != std::process::id()
            && fields.get(2).and_then(|g| g.parse::<u32>().ok()) == Some(group)
        {
            members.push(pid);
        }
    }
    members
}

struct Browser {
    client: Client,
    base: String,
    _driver: Driver,
}

impl Browser {
    async fn start(app: &TestApp) -> Browser {
        let port = free_port();
        let profile = tempfile::tempdir().unwrap();
        let child = spawn_chromedriver(port);
        let driver = Driver { child, profile };

        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|a| a.to_string()).collect();
        args.push(format!(
            "--user-data-dir={}",
            driver.profile.path().display()
        ));
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": "/usr/bin/chromium", "args": args }),
        );

        let client = connect(port, capabilities).await;
        Browser {
            client,
            base: app.base.clone(),
            _driver: driver,
        }
    }

    async fn goto(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap();
    }

    async fn path(&self) -> String {
        self.client.current_url().await.unwrap().path().to_owned()
    }

    /// Waits for a navigation a click started to land on `path`.
    async fn wait_for_path(&self, path: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.path().await != path {
            assert!(
                Instant::now() < deadline,
                "expected {path}, still on {}",
                self.path().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn fill(&self, css: &str, text: &str) {
        let field = self.client.find(Locator::Css(css)).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }

    /// Clicks something that loads a new page, and waits until it has: the
    /// old document must be gone and the new one fully loaded.
    async fn submit(&self, css: &str) {
        let old = self.client.find(Locator::Css("html")).await.unwrap();
        self.click(css).await;
        let deadline = Instant::now() + Duration::from_secs(15);
        while old.tag_name().await.is_ok() {
            assert!(
                Instant::now() < deadline,
                "clicking {css} loaded no new page"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        while self
            .client
            .execute("return document.readyState", vec![])
            .await
            .unwrap()
            != "complete"
        {
            assert!(
                Instant::now() < deadline,
                "the page after {css} did not finish loading"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    async fn text(&self, css: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    async fn attr(&self, css: &str, name: &str) -> Option<String> {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .attr(name)
            .await
            .unwrap()
    }

    /// What a field holds now, as opposed to the markup's `value`.
    async fn value(&self, css: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap()
            .unwrap_or_default()
    }

    async fn count(&self, css: &str) -> usize {
        self.client.find_all(Locator::Css(css)).await.unwrap().len()
    }

    async fn body(&self) -> String {
        self.text("body").await
    }

    async fn sign_in(&self, login_path: &str, email: &str) {
        self.goto(login_path).await;
        self.fill("#email", email).await;
        self.fill("#password", PASSWORD).await;
        self.submit("form[action='/login'] button[type=submit]")
            .await;
    }

    async fn sign_out(&self) {
        self.submit("form[action='/logout'] button").await;
        self.wait_for_path("/login").await;
    }

    /// Saves the whole page, not just the window, by growing the window to
    /// the page's height for the shot.
    async fn shot(&self, name: &str) {
        self.shot_at(name, WIDTH).await;
    }

    /// The same at a phone's width, to see the layout narrow.
    async fn phone_shot(&self, name: &str) {
        self.shot_at(name, 390).await;
    }

    /// Sizes the viewport, not the window, to `width` by the page's height:
    /// even headless, the window keeps a frame that the viewport lacks.
    async fn shot_at(&self, name: &str, width: u32) {
        self.client.set_window_size(WIDTH, HEIGHT).await.unwrap();
        let script = "return [window.outerWidth - window.innerWidth, \
                      window.outerHeight - window.innerHeight]";
        let frame = self.client.execute(script, vec![]).await.unwrap();
        let (frame_w, frame_h) = (
            frame[0].as_u64().unwrap() as u32,
            frame[1].as_u64().unwrap() as u32,
        );
        self.client
            .set_window_size(width + frame_w, HEIGHT)
            .await
            .unwrap();
        let height = self
            .client
            .execute("return document.documentElement.scrollHeight", vec![])
            .await
            .unwrap();
        let height = height.as_u64().unwrap() as u32;
        self.client
            .set_window_size(width + frame_w, height.max(600) + frame_h)
            .await
            .unwrap();

        let png = self.client.screenshot().await.unwrap();
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
        self.client.set_window_size(WIDTH, HEIGHT).await.unwrap();
    }

    async fn close(self) {
        self.client.close().await.unwrap();
    }
}

fn screenshot_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("test-artifacts/screenshots")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn_chromedriver(port: u16) -> Child {
    use std::os::unix::process::CommandExt;
    Command::new("/usr/bin/chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("chromedriver must be installed (apt-get install chromium chromium-driver)")
}

/// chromedriver takes a moment to listen; retry until it answers.
async fn connect(port: u16, capabilities: serde_json::Map<String, serde_json::Value>) -> Client {
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let attempt = ClientBuilder::new(connector.clone())
            .capabilities(capabilities.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await;
        match attempt {
            Ok(client) => return client,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(err) => panic!("cannot start a browser session: {err}"),
        }
    }
}

/// The key shown for manual entry, without the spaces that group it.
async fn manual_key(browser: &Browser) -> String {
    browser
        .text("#manual-key")
        .await
        .split_whitespace()
        .collect()
}

#[tokio::test]
async fn a_user_turns_mfa_on_signs_in_with_codes_and_turns_it_off() {
    let app = spawn_app().await;
    app.add_user("ann@example.com");
    let b = Browser::start(&app).await;

    // 1. Sign in with the password alone, then enable MFA on the Security page.
    b.goto("/login").await;
    b.shot("01-login").await;
    b.phone_shot("01-login-phone").await;
    b.sign_in("/login", "ann@example.com").await;
    b.wait_for_path("/settings/security").await;
    assert!(b.body().await.contains("Two-factor authentication"));
    assert_eq!(b.text(".badge").await, "Off");
    b.shot("02-security-off").await;

    b.submit("form[action='/settings/security/enable'] button")
        .await;
    b.wait_for_path("/settings/security/enable").await;
    assert_eq!(b.count(".qr svg").await, 1, "the QR code is drawn inline");
    let key_text = b.text("#manual-key").await;
    assert!(
        key_text.split(' ').all(|group| group.len() <= 4),
        "the key is grouped by four: {key_text}"
    );
    let secret = manual_key(&b).await;
    assert_eq!(secret.len(), 32);
    b.shot("03-enrol-qr").await;
    b.phone_shot("03-enrol-qr-phone").await;

    // A mistyped code says so and shows the same key again, not a new one.
    b.fill("#confirm-code", "000000").await;
    b.submit("form[action='/settings/security/confirm'] button")
        .await;
    b.wait_for_path("/settings/security/confirm").await;
    assert!(b.count("#confirm-error[role='alert']").await == 1);
    assert_eq!(
        manual_key(&b).await,
        secret,
        "the pending secret is shown again"
    );
    assert_eq!(b.count(".qr svg").await, 1);
    b.shot("03b-enrol-wrong-code").await;

    b.fill("#confirm-code", &oathtool(&secret, now())).await;
    b.submit("form[action='/settings/security/confirm'] button")
        .await;
    b.wait_for_path("/settings/security/confirm").await;

    // 2. The backup codes, shown once, with Download, Print and a saved step.
    let mut codes = Vec::new();
    for element in b
        .client
        .find_all(Locator::Css("#backup-codes code"))
        .await
        .unwrap()
    {
        codes.push(element.text().await.unwrap());
    }
    assert_eq!(codes.len(), 10, "{codes:?}");
    let download = b.attr("#download-codes", "download").await;
    assert_eq!(download.as_deref(), Some("twofold-backup-codes.txt"));
    let href = b.attr("#download-codes", "href").await.unwrap();
    assert!(href.starts_with("data:text/plain;charset=utf-8,"), "{href}");
    assert!(
        codes.iter().all(|code| href.contains(code.as_str())),
        "the download holds every code"
    );
    let print = b.client.find(Locator::Css("#print-codes")).await.unwrap();
    assert!(
        print.is_displayed().await.unwrap(),
        "the script shows the Print button"
    );
    assert!(b.body().await.contains("I have saved these backup codes"));
    b.shot("04-backup-codes").await;
    b.phone_shot("04-backup-codes-phone").await;

    b.click("#saved").await;
    b.submit("form[action='/settings/security/done'] button")
        .await;
    b.wait_for_path("/settings/security").await;
    assert_eq!(b.text(".badge").await, "On");
    assert!(b
        .text("[role=status]")
        .await
        .contains("Two-factor authentication is on"));
    assert!(b.body().await.contains("Backup codes left: 10"));
    b.shot("05-security-on").await;
    b.phone_shot("05-security-on-phone").await;

    // 3 and 4. Sign out, then back in with the next code from oathtool (the
    // enrolment code's step can never be used again).
    b.sign_out().await;
    b.sign_in("/login", "ann@example.com").await;
    b.wait_for_path("/login/mfa").await;
    assert_eq!(
        b.attr("#code", "autocomplete").await.as_deref(),
        Some("one-time-code")
    );
    assert_eq!(b.attr("#code", "inputmode").await.as_deref(), Some("text"));
    assert_eq!(b.attr("#code", "maxlength").await, None);
    assert!(b.text("#code-hint").await.contains("backup codes"));
    b.shot("06-mfa-prompt").await;
    b.phone_shot("06-mfa-prompt-phone").await;
    b.fill("#code", &oathtool(&secret, now() + 30)).await;
    b.submit("form[action='/login/mfa'] button").await;
    b.wait_for_path("/settings/security").await;
    assert_eq!(b.text(".badge").await, "On");

    // 5. Sign out, then back in with a backup code, typed in lower case.
    b.sign_out().await;
    b.sign_in("/login", "ann@example.com").await;
    b.wait_for_path("/login/mfa").await;
    b.fill("#code", &codes[0].to_lowercase()).await;
    b.submit("form[action='/login/mfa'] button").await;
    b.wait_for_path("/settings/security").await;
    assert!(b.body().await.contains("Backup codes left: 9"));

    // 6. Turn MFA off with the password and another backup code.
    b.fill("#disable-password", PASSWORD).await;
    b.fill("#disable-code", &codes[1]).await;
    b.submit("form[action='/settings/security/disable'] button")
        .await;
    b.wait_for_path("/settings/security").await;
    assert_eq!(b.text(".badge").await, "Off");
    assert!(b
        .text("[role=status]")
        .await
        .contains("Two-factor authentication is off"));
    assert_eq!(
        b.count("form[action='/settings/security/enable'] button")
            .await,
        1
    );
    b.shot("07-security-disabled").await;

    // Codes and secrets never reach the log.
    let logs = app.logs();
    assert!(
        !logs.contains(&secret) && !logs.contains(&codes[2]),
        "a secret was logged"
    );
    b.close().await;
}

#[tokio::test]
async fn a_wrong_code_keeps_the_user_on_the_code_page_and_says_why() {
    let app = spawn_app().await;
    app.add_user("bob@example.com");
    let token = app.token_for("bob@example.com").await;
    let (secret, _) = app.enrol(&token).await;
    let b = Browser::start(&app).await;

    b.sign_in("/login", "bob@example.com").await;
    b.wait_for_path("/login/mfa").await;
    let right = oathtool(&secret, now() + 30);
    let wrong: String = right
        .chars()
        .map(|c| {
            if c == '9' {
                '0'
            } else {
                char::from(c as u8 + 1)
            }
        })
        .collect();
    b.fill("#code", &wrong).await;
    b.submit("form[action='/login/mfa'] button").await;

    assert_eq!(b.path().await, "/login/mfa");
    let alert = b.text("[role=alert]").await;
    assert!(alert.starts_with("That code is not right"), "{alert}");
    assert_eq!(
        b.attr("#code", "aria-invalid").await.as_deref(),
        Some("true")
    );
    let described_by = b.attr("#code", "aria-describedby").await.unwrap();
    assert!(
        described_by.split(' ').any(|id| id == "code-error"),
        "{described_by}"
    );
    b.shot("08-mfa-wrong-code").await;

    // When the attempt is gone, the page says so and offers a fresh start.
    b.client.delete_cookie("twofold_mfa").await.unwrap();
    b.fill("#code", &right).await;
    b.submit("form[action='/login/mfa'] button").await;
    assert!(b
        .text("[role=alert]")
        .await
        .contains("sign-in attempt has expired"));
    assert_eq!(b.count("#code").await, 0);
    b.shot("09-mfa-expired").await;
    b.submit("a.button[href^='/login']").await;
    b.wait_for_path("/login").await;

    // A wrong password keeps the email, never the password.
    b.fill("#email", "bob@example.com").await;
    b.fill("#password", "not the password").await;
    b.submit("form[action='/login'] button[type=submit]").await;
    assert!(b.text("[role=alert]").await.contains("do not match"));
    assert_eq!(b.value("#email").await, "bob@example.com");
    assert_eq!(b.value("#password").await, "");
    b.shot("10-login-wrong-password").await;
    b.close().await;
}

#[tokio::test]
async fn without_keys_the_security_page_explains_and_offers_no_enable_button() {
    let app = spawn_with(Options {
        without_keys: true,
        ..Default::default()
    })
    .await;
    app.add_user("cy@example.com");
    let b = Browser::start(&app).await;

    b.sign_in("/login", "cy@example.com").await;
    b.wait_for_path("/settings/security").await;
    let body = b.body().await;
    assert!(
        body.contains("Two-factor authentication is unavailable on this server"),
        "{body}"
    );
    assert!(body.contains("twofold keys init"));
    assert!(
        body.contains("TWOFOLD_PRIMARY_KEY") && body.contains(".env") && body.contains("Restart")
    );
    assert_eq!(
        b.count("form[action^='/settings/security'] button").await,
        0,
        "no dead buttons"
    );
    b.shot("11-security-unavailable").await;
    b.close().await;
}

#[tokio::test]
async fn return_to_stays_on_this_site_and_survives_the_code_step() {
    let app = spawn_app().await;
    app.add_user("dee@example.com");
    let b = Browser::start(&app).await;

    // Another site as the destination is ignored.
    b.sign_in("/login?return_to=//evil.example", "dee@example.com")
        .await;
    b.wait_for_path("/settings/security").await;
    let url = b.client.current_url().await.unwrap();
    assert_eq!(url.host_str(), Some("127.0.0.1"));
    b.sign_out().await;

    // A path on this site is followed, through the code step too.
    let token = app.token_for("dee@example.com").await;
    let (secret, _) = app.enrol(&token).await;
    b.sign_in("/login?return_to=/healthz", "dee@example.com")
        .await;
    b.wait_for_path("/login/mfa").await;
    b.fill("#code", &oathtool(&secret, now() + 30)).await;
    b.submit("form[action='/login/mfa'] button").await;
    b.wait_for_path("/healthz").await;
    b.close().await;
}

/// The hidden CSRF field of a page, as the server wrote it.
fn csrf_field(html: &str) -> String {
    let start = html.find(r#"name="csrf" value=""#).unwrap() + r#"name="csrf" value=""#.len();
    html[start..].split('"').next().unwrap().to_owned()
}

#[tokio::test]
async fn cross_site_posts_are_refused_and_same_site_ones_accepted() {
    let app = spawn_app().await;
    app.add_user("eve@example.com");
    let form = [("email", "eve@example.com"), ("password", PASSWORD)];
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // A post from another site, without the token, is refused with a page.
    let response = plain
        .post(app.url("/login"))
        .header("Origin", "https://evil.example")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(
        response.headers().get(SET_COOKIE).is_none(),
        "no session for a forged post"
    );
    assert!(response.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("could not be accepted"));

    // A browser of ours, with its cookie and the field, gets through only from our origin.
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = browser.get(app.url("/login")).send().await.unwrap();
    let csrf_cookie = page
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect::<Vec<_>>();
    assert!(csrf_cookie.iter().any(|c| c.starts_with("twofold_csrf=")
        && c.contains("HttpOnly")
        && c.contains("SameSite=Strict")));
    let token = csrf_field(&page.text().await.unwrap());
    let with_token = [
        ("email", "eve@example.com"),
        ("password", PASSWORD),
        ("csrf", token.as_str()),
    ];

    let forged = browser
        .post(app.url("/login"))
        .header("Origin", "null")
        .form(&with_token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        forged.status(),
        StatusCode::FORBIDDEN,
        "a null origin is not ours"
    );
    let missing = browser
        .post(app.url("/login"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(
        missing.status(),
        StatusCode::FORBIDDEN,
        "the field is required"
    );

    let accepted = browser
        .post(app.url("/login"))
        .header("Origin", &app.base)
        .form(&with_token)
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), StatusCode::SEE_OTHER);
    assert_eq!(accepted.headers()[LOCATION], "/settings/security");
    let session = accepted
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|c| c.starts_with("twofold_session="));
    let session = session.unwrap();
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Lax"),
        "{session}"
    );

    // Signed in, a forged sign-out is refused and the session lives on.
    let forged = browser
        .post(app.url("/logout"))
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let security = browser
        .get(app.url("/settings/security"))
        .send()
        .await
        .unwrap();
    assert_eq!(security.status(), StatusCode::OK);
}

#[tokio::test]
async fn pages_and_api_carry_security_headers_and_the_mfa_step_keeps_secrets_out_of_urls() {
    let app = spawn_app().await;
    app.add_user("fay@example.com");
    let token = app.token_for("fay@example.com").await;
    app.enrol(&token).await;
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    for path in ["/login", "/healthz", "/settings/security"] {
        let response = client.get(app.url(path)).send().await.unwrap();
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
            "{path}: {csp}"
        );
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["x-frame-options"], "DENY");
        assert_eq!(headers["cache-control"], "no-store", "{path}");
        assert!(headers.get("referrer-policy").is_some());
        assert!(
            headers.get("strict-transport-security").is_none(),
            "no HSTS over http"
        );
    }
    let anonymous = client
        .get(app.url("/settings/security"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        anonymous.headers()[LOCATION],
        "/login?return_to=/settings/security"
    );

    let style = client
        .get(app.url("/static/style.css"))
        .send()
        .await
        .unwrap();
    assert!(style.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("max-age=31536000"));

    // The password step hands over the attempt in a short-lived cookie, not the URL.
    let page = client
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let form = [
        ("email", "fay@example.com"),
        ("password", PASSWORD),
        ("csrf", &csrf_field(&page)),
    ];
    let response = client
        .post(app.url("/login"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/login/mfa");
    let cookies: Vec<&str> = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    let mfa = cookies
        .iter()
        .find(|c| c.starts_with("twofold_mfa="))
        .unwrap();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/login", "Max-Age=300"] {
        assert!(mfa.contains(flag), "{flag} missing in {mfa}");
    }
}

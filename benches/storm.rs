//! A storm of 1,000 simultaneous sign-ins against the real release binary.
//!
//! The goal it checks: peak resident memory stays at or below
//! idle + workers × Argon2 memory + 16 MiB, however many sign-ins arrive at
//! once, because hashing runs on a fixed pool with reused buffers and excess
//! work is shed with 503. It also reports how fast shed requests are
//! answered, against the latency of a trivial request measured in the same
//! run. Run it with `cargo bench --bench storm`; it prints its figures and
//! exits non-zero when the memory goal is missed.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a benchmark fails loudly"
)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::future::join_all;

const STORM: usize = 1_000;
const HASH_MIB: u64 = 19;
const MARGIN_MIB: u64 = 16;
/// Clients that keep the hashers saturated: more than the hashing places,
/// fewer than the connection cap, so the probe still gets a connection.
const FLOOD: usize = 128;
/// How fast a sign-in must be refused when the hashers are saturated.
const SHED_GOAL: Duration = Duration::from_millis(10);
/// The hasher's default deadline (TWOFOLD_HASH_DEADLINE_MS).
const DEADLINE: Duration = Duration::from_millis(2_000);

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

async fn run() {
    let dir = tempfile::tempdir().unwrap();
    let workers = std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1);
    let (mut child, base) = start(&dir);
    let pid = child.id();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();

    // "Idle" is a server that has answered requests but hashed no password
    // yet, so the workers' buffers are inside the budget, not inside idle.
    let baseline = median_latency(&client, &format!("{base}/healthz")).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle = rss_kib(pid, "VmRSS");

    let started = Instant::now();
    let results = join_all((0..STORM).map(|i| sign_in(&client, &base, i))).await;
    let elapsed = started.elapsed();
    let peak = rss_kib(pid, "VmHWM");

    let saturated = while_saturated(&base).await;
    let _ = child.kill();
    let _ = child.wait();

    report_saturated(&saturated);
    if !report(workers, idle, peak, baseline, elapsed, &results) {
        std::process::exit(1);
    }
}

/// Latencies measured one request at a time on a warm connection while a
/// flood keeps every worker and queue place busy, so the hashers hold every
/// core: sign-ins (which should be shed at once) next to a trivial request,
/// in the same conditions.
struct Saturated {
    shed: Vec<Duration>,
    admitted: usize,
    trivial: Vec<Duration>,
}

async fn while_saturated(base: &str) -> Saturated {
    let flood_client = reqwest::Client::new();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flood: Vec<_> = (0..FLOOD)
        .map(|i| {
            let (client, base, stop) = (flood_client.clone(), base.to_owned(), stop.clone());
            tokio::spawn(async move {
                // Refused clients come back soon, as browsers do, but not in a
                // tight loop: the point is to keep every hashing place taken,
                // not to measure how fast this process can spin.
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    if sign_in(&client, &base, 10_000 + i).await.0 == 503 {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;

    let probe = reqwest::Client::new();
    let mut result = Saturated {
        shed: Vec::new(),
        admitted: 0,
        trivial: Vec::new(),
    };
    for i in 0..100 {
        let (status, took) = sign_in(&probe, base, 20_000 + i).await;
        match status {
            503 => result.shed.push(took),
            _ => result.admitted += 1,
        }
        let started = Instant::now();
        let _ = probe.get(format!("{base}/healthz")).send().await;
        result.trivial.push(started.elapsed());
    }

    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    join_all(flood).await;
    result.shed.sort();
    result.trivial.sort();
    result
}

fn report_saturated(s: &Saturated) {
    println!("while saturated (one request at a time on a warm connection, flood of {FLOOD} in parallel):");
    println!(
        "  sign-in shed with 503: {} of {}, p50 {:.2?}, p99 {:.2?}",
        s.shed.len(),
        s.shed.len() + s.admitted,
        percentile(&s.shed, 0.5),
        percentile(&s.shed, 0.99)
    );
    println!(
        "  trivial request (baseline): p50 {:.2?}, p99 {:.2?}",
        percentile(&s.trivial, 0.5),
        percentile(&s.trivial, 0.99)
    );
    let p99 = percentile(&s.shed, 0.99);
    let verdict = if p99 < SHED_GOAL { "PASS" } else { "MISS" };
    println!("{verdict}: shed sign-ins answered in {p99:.2?} at p99 (goal: under {SHED_GOAL:?})");
}

fn start(dir: &tempfile::TempDir) -> (std::process::Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_twofold"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(dir.path())
        .env(
            "TWOFOLD_DATABASE_URL",
            format!("sqlite://{}", dir.path().join("storm.db").display()),
        )
        .env("TWOFOLD_PASSWORD_ATTEMPTS_PER_IP", "1000000")
        .env("TWOFOLD_PASSWORD_ATTEMPTS_PER_ACCOUNT", "1000000")
        .env("RUST_LOG", "warn,twofold=info,twofold::audit=off")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut lines = stderr.lines();
    let address = loop {
        let line = lines.next().expect("the server exited").unwrap();
        if let Some(rest) = line.split("address=").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    (child, format!("http://{address}"))
}

/// An unknown email each time: every one costs a full hash of the dummy.
async fn sign_in(client: &reqwest::Client, base: &str, i: usize) -> (u16, Duration) {
    let started = Instant::now();
    let body = serde_json::json!({ "email": format!("storm{i}@example.com"), "password": "not the password" });
    let status = match client
        .post(format!("{base}/auth/sign_in"))
        .json(&body)
        .send()
        .await
    {
        Ok(response) => response.status().as_u16(),
        Err(_) => 0,
    };
    (status, started.elapsed())
}

async fn median_latency(client: &reqwest::Client, url: &str) -> Duration {
    let mut samples = Vec::new();
    for _ in 0..50 {
        let started = Instant::now();
        client.get(url).send().await.unwrap();
        samples.push(started.elapsed());
    }
    samples.sort();
    samples[samples.len() / 2]
}

fn rss_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p) as usize]
}

/// Prints the storm's figures; false when the memory goal is missed.
fn report(
    workers: usize,
    idle: u64,
    peak: u64,
    baseline: Duration,
    elapsed: Duration,
    results: &[(u16, Duration)],
) -> bool {
    let budget = idle + (workers as u64 * HASH_MIB + MARGIN_MIB) * 1024;
    let count = |code| results.iter().filter(|(s, _)| *s == code).count();
    // A shed request is either refused at once (queue full) or answered when
    // its deadline passes; for the latter, what counts is the overshoot.
    let shed = |f: &dyn Fn(Duration) -> Option<Duration>| {
        let mut v: Vec<Duration> = results
            .iter()
            .filter(|(s, _)| *s == 503)
            .filter_map(|(_, d)| f(*d))
            .collect();
        v.sort();
        v
    };
    let immediate = shed(&|d| (d < DEADLINE).then_some(d));
    let overshoot = shed(&|d| d.checked_sub(DEADLINE));

    println!("storm: {STORM} simultaneous sign-ins, {workers} hash workers, {elapsed:.2?} in all");
    println!(
        "  answers: {} × 401, {} × 503, {} × other",
        count(401),
        count(503),
        STORM - count(401) - count(503)
    );
    println!("  idle RSS   {:>8} KiB", idle);
    println!("  peak RSS   {:>8} KiB", peak);
    println!(
        "  budget     {:>8} KiB  (idle + {workers} × {HASH_MIB} MiB + {MARGIN_MIB} MiB)",
        budget
    );
    println!("  trivial request (same run, baseline) p50 {baseline:.2?}");
    println!(
        "  shed at once (queue full): {} answers, p50 {:.2?}, p99 {:.2?}",
        immediate.len(),
        percentile(&immediate, 0.5),
        percentile(&immediate, 0.99)
    );
    println!(
        "  shed at the {DEADLINE:?} deadline: {} answers, overshoot p50 {:.2?}, p99 {:.2?}",
        overshoot.len(),
        percentile(&overshoot, 0.5),
        percentile(&overshoot, 0.99)
    );
    if peak > budget {
        println!("FAIL: peak RSS is {} KiB over budget", peak - budget);
        return false;
    }
    println!(
        "PASS: peak RSS within budget ({} KiB to spare)",
        budget - peak
    );
    true
}

//! The command line: argument parsing, the admin commands, and `serve`.
//!
//! Every command reads the same configuration as the server. Errors go to
//! stderr with exit status 1, and name the thing and the fix.

mod admin;
mod audit;
mod keys;
mod serve;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "twofold",
    version,
    about = "A self-hosted login server with TOTP two-factor authentication"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        /// Address to listen on (default: TWOFOLD_LISTEN or 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<String>,
    },
    /// Run the server on ./data with working MFA: creates keys and a first
    /// account when there are none. For trying twofold, not for production.
    Quickstart {
        #[arg(long)]
        listen: Option<String>,
    },
    /// Generate, check or rotate the encryption keys.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Manage accounts.
    #[command(subcommand)]
    User(admin::UserCommand),
    /// Reset MFA or issue backup codes for users.
    #[command(subcommand)]
    Mfa(admin::MfaCommand),
    /// List audit events.
    Audit(audit::AuditArgs),
}

/// Where `quickstart` keeps the keys it generated. Every command reads the
/// file when it exists, so the server and the admin commands keep working
/// with quickstart's keys after it has run.
pub const QUICKSTART_KEYS: &str = "data/keys.env";

pub fn main() -> ExitCode {
    // A .env file in the working directory, then quickstart's keys, fill in
    // what the real environment does not set; neither overrides it.
    let _ = dotenvy::dotenv();
    let quickstart_keys = dotenvy::from_path(QUICKSTART_KEYS).is_ok();
    let cli = Cli::parse();
    init_logging(matches!(
        cli.command,
        Command::Serve { .. } | Command::Quickstart { .. }
    ));
    if quickstart_keys {
        tracing::info!(
            file = QUICKSTART_KEYS,
            "read settings from quickstart's key file"
        );
    }

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => return fail(&anyhow::Error::from(err)),
    };
    match runtime.block_on(run(cli.command)) {
        Ok(code) => code,
        Err(err) => fail(&err),
    }
}

async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve { listen } => serve::serve(listen).await,
        Command::Quickstart { listen } => serve::quickstart(listen).await,
        Command::Keys(command) => keys::run(command).await,
        Command::User(command) => admin::user(command).await,
        Command::Mfa(command) => admin::mfa(command).await,
        Command::Audit(args) => audit::run(args).await,
    }
}

fn fail(err: &anyhow::Error) -> ExitCode {
    eprintln!("error: {err:#}");
    ExitCode::FAILURE
}

/// Logs go to stderr. The server logs its lifecycle at `info`; the admin
/// commands only warnings, so their output stays readable. `RUST_LOG`
/// overrides both, and `TWOFOLD_LOG_FORMAT=json` gives one JSON object per
/// line for log shippers.
fn init_logging(server: bool) {
    let default = if server { "info" } else { "warn" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(|| LogSink);
    if std::env::var("TWOFOLD_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Standard error, for logs, where a failed write is dropped: a closed or
/// broken log pipe must never take the server, and everyone's sign-ins,
/// down with it.
struct LogSink;

impl std::io::Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = std::io::stderr().write_all(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = std::io::stderr().flush();
        Ok(())
    }
}

/// Hashes a new account's password off the async runtime: Argon2 takes
/// tens of milliseconds of CPU and must not stall it.
async fn hash_new_password(password: crate::core::password::Password) -> anyhow::Result<String> {
    let hashed = tokio::task::spawn_blocking(move || {
        crate::core::password::hash(&password, &mut rand::thread_rng())
    });
    Ok(hashed.await??)
}

/// Loads configuration and opens the database, as every command does.
async fn open() -> anyhow::Result<(crate::config::Config, crate::store::Store)> {
    use anyhow::Context;
    let config = crate::config::Config::from_env().context("invalid configuration")?;
    let store = crate::store::Store::connect(&config.database_url)
        .await
        .with_context(|| {
            format!(
                "cannot open the database at {}",
                redact_url(&config.database_url)
            )
        })?;
    Ok((config, store))
}

/// Hides a password in a database URL before it is printed.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = url.get(scheme + 3..at).unwrap_or_default();
            let user = userinfo.split(':').next().unwrap_or_default();
            format!(
                "{}{user}:***{}",
                url.get(..scheme + 3).unwrap_or_default(),
                url.get(at..).unwrap_or_default()
            )
        }
        _ => url.to_owned(),
    }
}

//! `serve` and `quickstart`.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};
use tokio::net::TcpListener;

use super::keys::{
    check_stored_secrets, deterministic_key_matches, generate_env_lines, wrong_deterministic_key,
    SecretCheck,
};
use super::QUICKSTART_KEYS;
use crate::config::{parse_listen, Config, Keys};
use crate::core::email::Email;
use crate::core::password::Password;
use crate::server::flows::MfaKeys;
use crate::server::{self, AppState};
use crate::store::Store;

const QUICKSTART_DIR: &str = "data";
const QUICKSTART_EMAIL: &str = "admin@example.com";

pub async fn serve(listen: Option<String>) -> anyhow::Result<ExitCode> {
    let (mut config, store) = super::open().await?;
    if let Some(listen) = listen {
        config.set_listen(parse_listen("--listen", &listen)?);
    }
    run_server(config, store).await
}

/// Starts the server after the checks every start needs: keys present or
/// loudly absent, and able to read what the database holds.
async fn run_server(config: Config, store: Store) -> anyhow::Result<ExitCode> {
    match &config.keys {
        Keys::Missing(missing) => {
            let names: Vec<&str> = missing.iter().map(|k| k.name).collect();
            tracing::warn!(
                missing = %names.join(", "),
                "MFA is unavailable: encryption keys are missing. Run `twofold keys init` and set the printed keys in the environment or .env, then restart"
            );
        }
        Keys::Present(keys) => {
            let mfa = MfaKeys::derive(keys)?;
            if let SecretCheck {
                unreadable: bad @ 1..,
                total,
                ..
            } = check_stored_secrets(&store, &mfa.keyring).await?
            {
                bail!(
                    "the configured keys cannot read {bad} of {total} stored TOTP secrets: \
                     were new keys generated on this server? Use the keys from the old one"
                );
            }
            if !deterministic_key_matches(&store, &mfa).await? {
                return Err(wrong_deterministic_key());
            }
        }
    }

    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let state = AppState::new(&config, store)?;
    let address = listener.local_addr().unwrap_or(config.listen);
    tracing::info!(%address, public_url = %config.public_url, "twofold is listening");
    server::serve(state, listener).await?;
    Ok(ExitCode::SUCCESS)
}

/// Runs on ./data with working MFA, inventing keys and a first account when
/// there are none, and saying so.
pub async fn quickstart(listen: Option<String>) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(QUICKSTART_DIR)
        .with_context(|| format!("cannot create ./{QUICKSTART_DIR}"))?;
    // The folder holds the keys and the database: only its owner may enter.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(QUICKSTART_DIR, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot restrict ./{QUICKSTART_DIR} to its owner"))?;
    }
    if matches!(Config::from_env()?.keys, Keys::Missing(_)) {
        ensure_quickstart_keys()?;
        dotenvy::from_path(QUICKSTART_KEYS)
            .with_context(|| format!("cannot read {QUICKSTART_KEYS}"))?;
    }

    let (mut config, store) = super::open().await?;
    if let Some(listen) = listen {
        config.set_listen(parse_listen("--listen", &listen)?);
    }
    if store.count_users().await? == 0 {
        create_first_account(&store).await?;
    }
    println!("Open {}/login in a browser.", config.public_url);
    run_server(config, store).await
}

fn ensure_quickstart_keys() -> anyhow::Result<()> {
    if Path::new(QUICKSTART_KEYS).exists() {
        eprintln!("Using the encryption keys in {QUICKSTART_KEYS}.");
        return Ok(());
    }

    let mut file = open_private(QUICKSTART_KEYS)?;
    writeln!(
        file,
        "# Made by `twofold quickstart`. Keep this file secret and back it up:"
    )?;
    writeln!(file, "# without these keys nobody with MFA on can sign in.")?;
    file.write_all(generate_env_lines().as_bytes())?;
    eprintln!();
    eprintln!("!! No encryption keys were configured, so quickstart generated three and wrote");
    eprintln!("!! them to {QUICKSTART_KEYS} (mode 0600). Back that file up: losing it locks out");
    eprintln!("!! every user with MFA on. For production, run `twofold keys init` and set the");
    eprintln!("!! keys in the environment instead.");
    eprintln!();
    Ok(())
}

/// Creates a file readable only by its owner.
fn open_private(path: &str) -> anyhow::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .with_context(|| format!("cannot create {path}"))
}

async fn create_first_account(store: &Store) -> anyhow::Result<()> {
    let text = crate::core::keys::generate_key_text(&mut rand::thread_rng());
    let password = Password::new_password(text.clone())?;
    let hash = super::hash_new_password(password).await?;
    store
        .create_user(&Email::parse(QUICKSTART_EMAIL)?, &hash, crate::clock::now())
        .await?;

    println!();
    println!("Created a first account. Sign in with:");
    println!("  email:    {QUICKSTART_EMAIL}");
    println!("  password: {text}");
    println!("This password is shown only once.");
    println!();
    Ok(())
}

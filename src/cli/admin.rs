//! `user add` and the `mfa` admin commands.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context};
use clap::Subcommand;

use crate::config::{Config, Keys};
use crate::core::backup;
use crate::core::email::Email;
use crate::core::password::Password;
use crate::server::audit::{Auditor, Event, Kind, Outcome};
use crate::server::client::Client;
use crate::server::flows::MfaKeys;
use crate::store::{Store, StoreError, User};

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create an account.
    Add {
        email: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Subcommand)]
pub enum MfaCommand {
    /// Turn MFA off for one user, clearing secret, backup codes and replay state.
    Reset { email: String },
    /// Replace one user's backup codes and print the new ones.
    GenerateBackupCodes { email: String },
    /// Turn MFA off for every user.
    ResetAll {
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

/// Recorded as the actor of admin actions in the audit trail.
const ACTOR: &str = "cli";

pub async fn user(command: UserCommand) -> anyhow::Result<ExitCode> {
    let UserCommand::Add {
        email,
        password_stdin,
    } = command;
    let email = Email::parse(&email).map_err(|e| anyhow!("{e}: {email:?}"))?;
    let password = Password::new_password(read_password(password_stdin)?)?;
    let (_, store) = super::open().await?;

    let hash = super::hash_new_password(password).await?;
    match store.create_user(&email, &hash, crate::clock::now()).await {
        Ok(_) => println!("Created {email}."),
        Err(StoreError::Duplicate) => bail!("an account with the email {email} already exists"),
        Err(err) => return Err(err.into()),
    }
    Ok(ExitCode::SUCCESS)
}

fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    if from_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from stdin")?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    let first = rpassword::prompt_password("Password: ")?;
    if rpassword::prompt_password("Again: ")? != first {
        bail!("the two passwords differ");
    }
    Ok(first)
}

pub async fn mfa(command: MfaCommand) -> anyhow::Result<ExitCode> {
    let (config, store) = super::open().await?;
    let audit = Auditor::new(store.clone());
    match command {
        MfaCommand::Reset { email } => reset(&store, &audit, &email).await?,
        MfaCommand::GenerateBackupCodes { email } => {
            generate_codes(&config, &store, &audit, &email).await?
        }
        MfaCommand::ResetAll { yes } => reset_all(&store, &audit, yes).await?,
    }
    Ok(ExitCode::SUCCESS)
}

async fn find_user(store: &Store, email: &str) -> anyhow::Result<User> {
    let parsed = Email::parse(email).map_err(|_| anyhow!("no user with the email {email}"))?;
    store
        .user_by_email(&parsed)
        .await?
        .ok_or_else(|| anyhow!("no user with the email {email}"))
}

async fn record(audit: &Auditor, kind: Kind, user: Option<&User>, detail: Option<&str>) {
    let mut event = Event::new(kind, Outcome::Success).actor(ACTOR);
    if let Some(user) = user {
        event = event.user(&user.id, &user.email);
    }
    event.detail = detail;
    audit
        .record(event, &Client::local(), crate::clock::now())
        .await;
}

async fn reset(store: &Store, audit: &Auditor, email: &str) -> anyhow::Result<()> {
    let user = find_user(store, email).await?;
    let was_on = store.disable_mfa(&user.id, None).await?;
    let revoked = store.revoke_user_sessions(&user.id, None).await?;
    let state = if was_on { "was on" } else { "was already off" };
    record(audit, Kind::MfaReset, Some(&user), Some(state)).await;
    println!(
        "MFA reset for {} (it {state}); {revoked} sessions signed out.",
        user.email
    );
    Ok(())
}

async fn generate_codes(
    config: &Config,
    store: &Store,
    audit: &Auditor,
    email: &str,
) -> anyhow::Result<()> {
    let Keys::Present(keys) = &config.keys else {
        bail!("MFA is unavailable: the encryption keys are missing (see `twofold keys check`)");
    };
    let user = find_user(store, email).await?;
    if !user.mfa_enabled() {
        bail!(
            "MFA is not enabled for {}: there are no backup codes to replace",
            user.email
        );
    }

    let keys = MfaKeys::derive(keys)?;
    if !super::keys::deterministic_key_matches(store, &keys).await? {
        return Err(super::keys::wrong_deterministic_key());
    }
    let codes = backup::generate(&mut rand::thread_rng());
    let digests: Vec<String> = codes.iter().map(|c| keys.backup.digest(c)).collect();
    if !store
        .replace_backup_codes(&user.id, &digests, crate::clock::now())
        .await?
    {
        bail!(
            "MFA was turned off for {} meanwhile; no codes were issued",
            user.email
        );
    }
    record(audit, Kind::BackupCodesRegenerated, Some(&user), None).await;

    println!(
        "New backup codes for {} (the old ones no longer work):",
        user.email
    );
    for code in &codes {
        println!("{}", code.grouped());
    }
    Ok(())
}

async fn reset_all(store: &Store, audit: &Auditor, yes: bool) -> anyhow::Result<()> {
    if !yes && !confirm("Turn MFA off for EVERY user? Type 'yes' to go on: ")? {
        bail!("nothing was changed");
    }
    let count = store.disable_mfa_for_all().await?;
    let revoked = store.revoke_all_sessions().await?;
    record(audit, Kind::MfaReset, None, Some("all users")).await;
    println!("MFA reset for {count} users; {revoked} sessions signed out.");
    Ok(())
}

fn confirm(prompt: &str) -> anyhow::Result<bool> {
    eprint!("{prompt}");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim().eq_ignore_ascii_case("yes"))
}

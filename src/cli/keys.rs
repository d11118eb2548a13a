//! `keys init`, `keys check` and `keys rotate`.

use std::process::ExitCode;

use anyhow::bail;
use clap::Subcommand;

use crate::config::{Config, Keys, ALL_KEYS};
use crate::core::keys::{generate_key_text, Keyring};
use crate::server::flows::MfaKeys;
use crate::store::Store;

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Print three fresh keys, as YAML and as .env lines.
    Init,
    /// Say which keys are set, and whether they read the stored secrets.
    Check,
    /// Add a new primary key, or re-encrypt every secret with the current one.
    Rotate,
}

pub async fn run(command: KeysCommand) -> anyhow::Result<ExitCode> {
    match command {
        KeysCommand::Init => {
            init();
            Ok(ExitCode::SUCCESS)
        }
        KeysCommand::Check => check().await,
        KeysCommand::Rotate => rotate().await,
    }
}

fn init() {
    let mut rng = rand::thread_rng();
    let [primary, deterministic, salt] = [(); 3].map(|()| generate_key_text(&mut rng));
    println!("# Keep these secret, keep a backup, and use different keys per environment.");
    println!("active_record_encryption:");
    println!("  primary_key: {primary}");
    println!("  deterministic_key: {deterministic}");
    println!("  key_derivation_salt: {salt}");
    println!();
    println!("# Or as .env lines:");
    print!("{}", env_lines([&primary, &deterministic, &salt]));
}

/// Three fresh keys as `.env` lines.
pub fn generate_env_lines() -> String {
    let mut rng = rand::thread_rng();
    let keys = [(); 3].map(|()| generate_key_text(&mut rng));
    env_lines([&keys[0], &keys[1], &keys[2]])
}

fn env_lines(values: [&str; 3]) -> String {
    ALL_KEYS
        .iter()
        .zip(values)
        .map(|(key, value)| format!("{}={value}\n", key.name))
        .collect()
}

/// How many stored secrets the keys can read.
pub struct SecretCheck {
    pub total: usize,
    pub unreadable: usize,
}

pub async fn check_stored_secrets(store: &Store, keyring: &Keyring) -> anyhow::Result<SecretCheck> {
    let secrets = store.all_secrets().await?;
    let unreadable = secrets
        .iter()
        .filter(|(_, value)| keyring.decrypt(value).is_err())
        .count();
    Ok(SecretCheck {
        total: secrets.len(),
        unreadable,
    })
}

/// Where the deterministic key's check value is kept.
const KEY_CHECK_SETTING: &str = "deterministic_key_check";

/// Whether the configured deterministic key is the one this database's
/// backup codes were made with. The first call records it.
pub async fn deterministic_key_matches(store: &Store, keys: &MfaKeys) -> anyhow::Result<bool> {
    let ours = keys.check_value();
    Ok(store.setting_or_insert(KEY_CHECK_SETTING, &ours).await? == ours)
}

/// The error for a deterministic key that does not match the database.
pub fn wrong_deterministic_key() -> anyhow::Error {
    anyhow::anyhow!(
        "the deterministic key or the key derivation salt is not the one this database's backup \
         codes were made with: were new keys generated on this server? Use the keys from the old one"
    )
}

async fn check() -> anyhow::Result<ExitCode> {
    let config = Config::from_env()?;
    let missing = match &config.keys {
        Keys::Missing(missing) => missing.clone(),
        Keys::Present(_) => Vec::new(),
    };
    for key in ALL_KEYS {
        let mark = if missing.contains(&key) {
            "✗ missing"
        } else {
            "✓ present"
        };
        println!("{mark:10} {} ({} also accepted)", key.name, key.alias);
    }
    let Keys::Present(keys) = &config.keys else {
        println!("MFA is unavailable. On a new server, run `twofold keys init` and set the missing keys.");
        println!(
            "If users here already have MFA on, set the keys this server used before instead:"
        );
        println!("new keys cannot read their secrets.");
        return Ok(ExitCode::FAILURE);
    };

    let (_, store) = super::open().await?;
    let mfa = MfaKeys::derive(keys)?;
    if !deterministic_key_matches(&store, &mfa).await? {
        println!("✗ {}", wrong_deterministic_key());
        return Ok(ExitCode::FAILURE);
    }
    let result = check_stored_secrets(&store, &mfa.keyring).await?;
    if result.unreadable > 0 {
        println!(
            "✗ {} of {} stored secrets do not decrypt with these keys: were new keys generated on this server? Use the keys from the old one.",
            result.unreadable, result.total
        );
        return Ok(ExitCode::FAILURE);
    }
    println!(
        "✓ all {} stored secrets decrypt with these keys",
        result.total
    );
    Ok(ExitCode::SUCCESS)
}

/// Rotation is two steps so that no running server is ever handed a secret
/// it cannot read: first the operator adds a new key to the list (every node
/// can then read both), then the secrets are re-encrypted under it.
async fn rotate() -> anyhow::Result<ExitCode> {
    let config = Config::from_env()?;
    let Keys::Present(keys) = &config.keys else {
        bail!("keys are missing: run `twofold keys check` to see which");
    };
    if keys.primary.len() < 2 {
        let new_key = generate_key_text(&mut rand::thread_rng());
        println!("Step 1 of 2. Append a new primary key to the list, on every node:");
        println!("  TWOFOLD_PRIMARY_KEY=<your current primary key>,{new_key}");
        println!(
            "Restart, then run `twofold keys rotate` again to re-encrypt every secret with it."
        );
        return Ok(ExitCode::SUCCESS);
    }

    let (_, store) = super::open().await?;
    let keyring = Keyring::derive(keys)?;
    let mut rewritten = 0;
    for (user_id, value) in store.all_secrets().await? {
        let plain = keyring
            .decrypt(&value)
            .map_err(|e| anyhow::anyhow!("secret of user {user_id}: {e}"))?;
        let fresh = keyring.encrypt(&plain, &mut rand::thread_rng())?;
        if store.replace_secret(&user_id, &value, &fresh).await? {
            rewritten += 1;
        }
    }
    println!("Re-encrypted {rewritten} secrets with the newest primary key.");
    println!("Once every node runs with the new list, the older keys may be removed from it.");
    Ok(ExitCode::SUCCESS)
}

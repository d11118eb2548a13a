//! The database: migrations and one function per operation.
//!
//! Every function is a single statement or a single transaction, so that the
//! checks which guard security (a TOTP step only moves forward, a backup code
//! is consumed once, a challenge is used once) hold when many requests race
//! on many nodes. The same SQL runs on SQLite and PostgreSQL through sqlx's
//! `Any` driver; this module knows nothing of HTTP or of the domain rules
//! beyond what the schema must enforce.

pub mod audit;
pub mod challenges;
pub mod limits;
pub mod mfa;
pub mod sessions;
pub mod settings;
pub mod users;

use std::path::Path;

use sqlx::any::{AnyPoolOptions, AnyQueryResult};
use sqlx::AnyPool;
use tracing::instrument;

pub use users::User;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An account with this email exists already.
    #[error("an account with that email already exists")]
    Duplicate,
    /// The database URL names a scheme other than sqlite:// or postgres://.
    #[error("unsupported database URL: use sqlite://PATH or postgres://…")]
    UnsupportedUrl,
    /// The database could not be opened or created.
    #[error("cannot open the database: {0}")]
    Connect(#[source] sqlx::Error),
    /// The schema could not be brought up to date.
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Any other failure of the database; the operation did not happen.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

pub type Result<T> = std::result::Result<T, StoreError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
}

impl Store {
    /// Opens the database named by `url`, creating a SQLite file (and its
    /// folder) when missing, and applies any pending migrations.
    #[instrument(skip_all)]
    pub async fn connect(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = backend_of(url)?;
        let url = match backend {
            Backend::Sqlite => sqlite_url(url)?,
            Backend::Postgres => url.to_owned(),
        };

        let pool = AnyPoolOptions::new()
            .max_connections(pool_size(backend))
            // A database that does not answer fails requests within seconds,
            // rather than holding every connection for half a minute.
            .acquire_timeout(std::time::Duration::from_secs(5))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // In WAL mode, NORMAL syncs at checkpoints rather than
                        // at every commit: the database cannot be corrupted,
                        // and a power cut loses at most the last moments.
                        sqlx::query("PRAGMA synchronous = NORMAL")
                            .execute(conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .map_err(StoreError::Connect)?;
        if backend == Backend::Sqlite {
            // WAL lets readers proceed while one writer commits; the setting
            // is stored in the file, so running it on each start is enough.
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await?;
        }
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Store { pool })
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Answers whether the database responds, for `/healthz`.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

fn backend_of(url: &str) -> Result<Backend> {
    if url.starts_with("sqlite:") {
        Ok(Backend::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Backend::Postgres)
    } else {
        Err(StoreError::UnsupportedUrl)
    }
}

/// SQLite allows one writer at a time, so a large pool only adds contention;
/// PostgreSQL takes more.
fn pool_size(backend: Backend) -> u32 {
    match backend {
        Backend::Sqlite => 4,
        Backend::Postgres => 16,
    }
}

/// Makes sure the folder of a SQLite file exists and asks sqlx to create the
/// file, so that the first start needs no set-up.
fn sqlite_url(url: &str) -> Result<String> {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path != ":memory:" {
        if let Some(parent) = Path::new(path)
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
        {
            std::fs::create_dir_all(parent).map_err(|e| StoreError::Connect(sqlx::Error::Io(e)))?;
        }
    }
    let query = if query.is_empty() {
        "mode=rwc".to_owned()
    } else {
        query.to_owned()
    };
    Ok(format!("sqlite://{path}?{query}"))
}

/// True when a statement changed exactly one row: the signal that an atomic
/// check-and-set won.
fn changed_one(result: &AnyQueryResult) -> bool {
    result.rows_affected() == 1
}

/// Maps a unique-constraint violation to [`StoreError::Duplicate`].
fn duplicate_or(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Duplicate,
        _ => StoreError::Database(err),
    }
}

/// A random identifier for new rows: 128 bits, hex.
pub fn new_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

//! Accounts: creation and lookup by email or id.

use sqlx::FromRow;
use tracing::instrument;

use super::{duplicate_or, new_id, Result, Store};
use crate::core::email::Email;

/// An account as stored. `otp_secret` is still encrypted.
#[derive(Debug, Clone, FromRow)]
pub struct User {
    pub id: String,
    pub email: String,
    pub password_hash: String,
    pub otp_secret: Option<String>,
    mfa_enabled: i64,
    pub otp_last_step: Option<i64>,
    pub mfa_failures: i64,
    pub mfa_locked_at: Option<i64>,
}

impl User {
    pub fn mfa_enabled(&self) -> bool {
        self.mfa_enabled != 0
    }
}

const COLUMNS: &str = "id, email, password_hash, otp_secret, mfa_enabled, otp_last_step, \
                       mfa_failures, mfa_locked_at";

impl Store {
    #[instrument(skip_all)]
    pub async fn create_user(&self, email: &Email, password_hash: &str, now: i64) -> Result<User> {
        let id = new_id();
        sqlx::query(
            "INSERT INTO users (id, email, password_hash, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&id)
        .bind(email.as_str())
        .bind(password_hash)
        .bind(now)
        .execute(self.pool())
        .await
        .map_err(duplicate_or)?;
        Ok(User {
            id,
            email: email.as_str().to_owned(),
            password_hash: password_hash.to_owned(),
            otp_secret: None,
            mfa_enabled: 0,
            otp_last_step: None,
            mfa_failures: 0,
            mfa_locked_at: None,
        })
    }

    #[instrument(skip_all)]
    pub async fn user_by_email(&self, email: &Email) -> Result<Option<User>> {
        let sql = format!("SELECT {COLUMNS} FROM users WHERE email = $1");
        Ok(sqlx::query_as(&sql)
            .bind(email.as_str())
            .fetch_optional(self.pool())
            .await?)
    }

    #[instrument(skip_all)]
    pub async fn user_by_id(&self, id: &str) -> Result<Option<User>> {
        let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
        Ok(sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?)
    }

    #[instrument(skip_all)]
    pub async fn count_users(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(self.pool())
            .await?)
    }
}

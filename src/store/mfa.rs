//! Second-factor state: the encrypted TOTP secret, the replay guard, backup
//! code digests, and the consecutive-failure lock.
//!
//! The guards live in the `WHERE` clauses, so a check and its write are one
//! statement: of any number of parallel submissions of one code, exactly one
//! changes a row.

use sqlx::{Any, Transaction};
use tracing::instrument;

use super::{changed_one, Result, Store};

/// What an enrolment writes when its code checks out.
pub struct Enrolment<'a> {
    pub user_id: &'a str,
    /// The envelope that the code was checked against, so that a concurrent
    /// "start again" with a new secret cannot be enabled by the old code.
    pub secret_envelope: &'a str,
    pub step: i64,
    pub backup_digests: &'a [String],
    pub now: i64,
    /// The session that enrols, which survives into the new epoch; every
    /// other session of the user ends.
    pub keep_session: &'a str,
}

/// What turning MFA off writes, for one user or for all: no secret, no
/// replay state, no lock, and a new session epoch. One definition, so a
/// reset of everyone clears exactly what a reset of one user clears.
const MFA_OFF: &str = "mfa_enabled = 0, mfa_enabled_at = NULL, otp_secret = NULL, \
                       otp_last_step = NULL, mfa_failures = 0, mfa_locked_at = NULL, \
                       session_epoch = session_epoch + 1";

impl Store {
    /// Stores a new pending secret; refused (false) once MFA is enabled.
    #[instrument(skip_all, fields(user_id = %user_id))]
    pub async fn set_pending_secret(&self, user_id: &str, envelope: &str) -> Result<bool> {
        let result =
            sqlx::query("UPDATE users SET otp_secret = $1 WHERE id = $2 AND mfa_enabled = 0")
                .bind(envelope)
                .bind(user_id)
                .execute(self.pool())
                .await?;
        Ok(changed_one(&result))
    }

    /// Turns MFA on and stores the first backup codes, in one transaction.
    /// False when the secret changed, MFA is already on, or the step is not
    /// later than the last one used.
    #[instrument(skip_all, fields(user_id = %e.user_id))]
    pub async fn enable_mfa(&self, e: &Enrolment<'_>) -> Result<bool> {
        let mut tx = self.pool().begin().await?;
        let result = sqlx::query(
            "UPDATE users SET mfa_enabled = 1, mfa_enabled_at = $1, otp_last_step = $2, \
             mfa_failures = 0, mfa_locked_at = NULL, session_epoch = session_epoch + 1 \
             WHERE id = $3 AND mfa_enabled = 0 AND otp_secret = $4 \
             AND (otp_last_step IS NULL OR otp_last_step < $2)",
        )
        .bind(e.now)
        .bind(e.step)
        .bind(e.user_id)
        .bind(e.secret_envelope)
        .execute(&mut *tx)
        .await?;
        if !changed_one(&result) {
            return Ok(false);
        }

        write_backup_codes(&mut tx, e.user_id, e.backup_digests, e.now).await?;
        keep_session(&mut tx, e.user_id, Some(e.keep_session)).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Records that `step` was used, if it is later than the last one. This
    /// is the replay guard: the same code can win only once.
    #[instrument(skip_all, fields(user_id = %user_id))]
    pub async fn use_totp_step(&self, user_id: &str, step: i64) -> Result<bool> {
        let result = sqlx::query(
            "UPDATE users SET otp_last_step = $1, mfa_failures = 0 \
             WHERE id = $2 AND mfa_enabled = 1 AND mfa_locked_at IS NULL \
             AND (otp_last_step IS NULL OR otp_last_step < $1)",
        )
        .bind(step)
        .bind(user_id)
        .execute(self.pool())
        .await?;
        Ok(changed_one(&result))
    }

    /// Consumes one backup code. A backup code also frees a locked second
    /// factor, since it proves possession of what the user saved at enrolment.
    #[instrument(skip_all, fields(user_id = %user_id))]
    pub async fn use_backup_code(&self, user_id: &str, digest: &str) -> Result<bool> {
        let mut tx = self.pool().begin().await?;
        let result = sqlx::query("DELETE FROM backup_codes WHERE user_id = $1 AND digest = $2")
            .bind(user_id)
            .bind(digest)
            .execute(&mut *tx)
            .await?;
        if !changed_one(&result) {
            return Ok(false);
        }

        sqlx::query("UPDATE users SET mfa_failures = 0, mfa_locked_at = NULL WHERE id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Replaces every backup code of a user with MFA on; false when it is off.
    #[instrument(skip_all, fields(user_id = %user_id))]
    pub async fn replace_backup_codes(
        &self,
        user_id: &str,
        digests: &[String],
        now: i64,
    ) -> Result<bool> {
        let mut tx = self.pool().begin().await?;
        let enabled: Option<i64> =
            sqlx::query_scalar("SELECT mfa_enabled FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
        if enabled != Some(1) {
            return Ok(false);
        }

        sqlx::query("DELETE FROM backup_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        write_backup_codes(&mut tx, user_id, digests, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    #[instrument(skip_all, fields(user_id = %user_id))]
    pub async fn backup_codes_remaining(&self, user_id: &str) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM backup_codes WHERE user_id = $1")
                .bind(user_id)
                .fetch_one(self.pool())
                .await?,
        )
    }

    /// Turns MFA off and forgets the secret, backup codes, replay state and
    /// lock, and ends every session but `keep`. Returns whether MFA had been on.
    #[instrument(skip_all, fields(user_id = %user_id))]
    pub async fn disable_mfa(&self, user_id: &str, keep: Option<&str>) -> Result<bool> {
        let mut tx = self.pool().begin().await?;
        let was_on: Option<i64> = sqlx::query_scalar("SELECT mfa_enabled FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?;
        sqlx::query(&format!("UPDATE users SET {MFA_OFF} WHERE id = $1"))
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM backup_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        keep_session(&mut tx, user_id, keep).await?;
        tx.commit().await?;
        Ok(was_on == Some(1))
    }

    /// Turns MFA off for everyone; returns how many users had it on.
    #[instrument(skip_all)]
    pub async fn disable_mfa_for_all(&self) -> Result<u64> {
        let mut tx = self.pool().begin().await?;
        let sql =
            format!("UPDATE users SET {MFA_OFF} WHERE mfa_enabled = 1 OR otp_secret IS NOT NULL");
        let result = sqlx::query(&sql).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM backup_codes")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(result.rows_affected())
    }

    /// Counts one more consecutive second-factor failure and locks the factor
    /// when `cap` is reached. Returns the new count and whether this failure
    /// is the one that locked it.
    #[instrument(skip_all, fields(user_id = %user_id))]
    pub async fn record_mfa_failure(
        &self,
        user_id: &str,
        cap: i64,
        now: i64,
    ) -> Result<(i64, bool)> {
        let failures: i64 = sqlx::query_scalar(
            "UPDATE users SET mfa_failures = mfa_failures + 1 WHERE id = $1 RETURNING mfa_failures",
        )
        .bind(user_id)
        .fetch_one(self.pool())
        .await?;
        let locked = sqlx::query(
            "UPDATE users SET mfa_locked_at = $1 \
             WHERE id = $2 AND mfa_locked_at IS NULL AND mfa_failures >= $3",
        )
        .bind(now)
        .bind(user_id)
        .bind(cap)
        .execute(self.pool())
        .await?;
        Ok((failures, changed_one(&locked)))
    }

    /// Every stored secret, for checking and rotating keys.
    pub async fn all_secrets(&self) -> Result<Vec<(String, String)>> {
        Ok(
            sqlx::query_as("SELECT id, otp_secret FROM users WHERE otp_secret IS NOT NULL")
                .fetch_all(self.pool())
                .await?,
        )
    }

    /// Rewrites one secret, but only if it still holds the value read, so a
    /// rotation racing with an enrolment never overwrites the newer secret.
    pub async fn replace_secret(&self, user_id: &str, old: &str, new: &str) -> Result<bool> {
        let result =
            sqlx::query("UPDATE users SET otp_secret = $1 WHERE id = $2 AND otp_secret = $3")
                .bind(new)
                .bind(user_id)
                .bind(old)
                .execute(self.pool())
                .await?;
        Ok(changed_one(&result))
    }
}

/// Moves the session `keep` (if any) into the user's new epoch, inside the
/// transaction that started it, so the session that made the change lives on.
async fn keep_session(
    tx: &mut Transaction<'_, Any>,
    user_id: &str,
    keep: Option<&str>,
) -> Result<()> {
    let Some(keep) = keep else { return Ok(()) };
    sqlx::query(
        "UPDATE sessions SET epoch = (SELECT session_epoch FROM users WHERE id = $1) \
         WHERE token_digest = $2 AND user_id = $1",
    )
    .bind(user_id)
    .bind(keep)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn write_backup_codes(
    tx: &mut Transaction<'_, Any>,
    user_id: &str,
    digests: &[String],
    now: i64,
) -> Result<()> {
    for digest in digests {
        sqlx::query("INSERT INTO backup_codes (user_id, digest, created_at) VALUES ($1, $2, $3)")
            .bind(user_id)
            .bind(digest)
            .bind(now)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

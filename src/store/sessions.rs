//! Signed-in sessions, stored under the digest of their token.

use tracing::instrument;

use super::{changed_one, Result, Store};

/// How long a session lives, absolutely and without use.
#[derive(Debug, Clone, Copy)]
pub struct SessionLifetime {
    pub absolute: i64,
    pub idle: i64,
}

/// Sessions are touched at most this often, so that every request does not
/// turn into a write.
const TOUCH_EVERY: i64 = 60;

impl Store {
    /// Creates a session in the user's current epoch, only if the user's MFA
    /// is still in the state the caller checked (`mfa_enabled`). False when
    /// it changed meanwhile: the caller's view is stale and no session exists.
    #[instrument(skip_all, fields(user_id = %user_id))]
    pub async fn create_session(
        &self,
        token_digest: &str,
        user_id: &str,
        mfa_enabled: bool,
        lifetime: SessionLifetime,
        now: i64,
    ) -> Result<bool> {
        let result = sqlx::query(
            "INSERT INTO sessions \
             (token_digest, user_id, created_at, last_seen_at, expires_at, epoch) \
             SELECT $1, id, $3, $3, $4, session_epoch FROM users \
             WHERE id = $2 AND mfa_enabled = $5",
        )
        .bind(token_digest)
        .bind(user_id)
        .bind(now)
        .bind(now.saturating_add(lifetime.absolute))
        .bind(i64::from(mfa_enabled))
        .execute(self.pool())
        .await?;
        Ok(changed_one(&result))
    }

    /// The user of a live session, refreshing its idle timer.
    #[instrument(skip_all)]
    pub async fn session_user(
        &self,
        token_digest: &str,
        lifetime: SessionLifetime,
        now: i64,
    ) -> Result<Option<String>> {
        let row: Option<(String, i64)> = sqlx::query_as(
            "SELECT s.user_id, s.last_seen_at FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_digest = $1 AND s.expires_at > $2 AND s.last_seen_at > $3 \
             AND s.epoch = u.session_epoch",
        )
        .bind(token_digest)
        .bind(now)
        .bind(now.saturating_sub(lifetime.idle))
        .fetch_optional(self.pool())
        .await?;
        let Some((user_id, last_seen)) = row else {
            return Ok(None);
        };

        if now - last_seen >= TOUCH_EVERY {
            sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE token_digest = $2")
                .bind(now)
                .bind(token_digest)
                .execute(self.pool())
                .await?;
        }
        Ok(Some(user_id))
    }

    #[instrument(skip_all)]
    pub async fn revoke_session(&self, token_digest: &str) -> Result<bool> {
        let result = sqlx::query("DELETE FROM sessions WHERE token_digest = $1")
            .bind(token_digest)
            .execute(self.pool())
            .await?;
        Ok(changed_one(&result))
    }

    /// Revokes every session of a user except, optionally, the one in use.
    #[instrument(skip_all, fields(user_id = %user_id))]
    pub async fn revoke_user_sessions(&self, user_id: &str, keep: Option<&str>) -> Result<u64> {
        let result = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_digest <> $2")
            .bind(user_id)
            .bind(keep.unwrap_or(""))
            .execute(self.pool())
            .await?;
        Ok(result.rows_affected())
    }

    #[instrument(skip_all)]
    pub async fn revoke_all_sessions(&self) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM sessions")
            .execute(self.pool())
            .await?
            .rows_affected())
    }

    /// Deletes expired sessions and challenges; called now and then.
    pub async fn purge_expired(&self, now: i64, idle: i64) -> Result<()> {
        sqlx::query(
            "DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2 \
             OR epoch < (SELECT session_epoch FROM users WHERE users.id = sessions.user_id)",
        )
        .bind(now)
        .bind(now.saturating_sub(idle))
        .execute(self.pool())
        .await?;
        sqlx::query("DELETE FROM mfa_challenges WHERE expires_at <= $1")
            .bind(now)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}

//! Second-factor challenges: the `mfa_token` handed out after a correct
//! password. Single-use, short-lived, and dead after a few wrong codes.

use tracing::instrument;

use super::{changed_one, Result, Store};

impl Store {
    #[instrument(skip_all, fields(user_id = %user_id))]
    pub async fn create_challenge(
        &self,
        token_digest: &str,
        user_id: &str,
        now: i64,
        ttl: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO mfa_challenges (token_digest, user_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(token_digest)
        .bind(user_id)
        .bind(now)
        .bind(now.saturating_add(ttl))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Counts one attempt against a live challenge (not expired, not used,
    /// fewer than `max_attempts` so far) and returns its user; None when the
    /// challenge is dead. Counting first is what bounds parallel attempts.
    #[instrument(skip_all)]
    pub async fn reserve_challenge_attempt(
        &self,
        token_digest: &str,
        now: i64,
        max_attempts: i64,
    ) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "UPDATE mfa_challenges SET failures = failures + 1 \
             WHERE token_digest = $1 AND expires_at > $2 AND failures < $3 \
             RETURNING user_id",
        )
        .bind(token_digest)
        .bind(now)
        .bind(max_attempts)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Uses the challenge up after a good code. Only one caller can win.
    #[instrument(skip_all)]
    pub async fn consume_challenge(&self, token_digest: &str) -> Result<bool> {
        let result = sqlx::query("DELETE FROM mfa_challenges WHERE token_digest = $1")
            .bind(token_digest)
            .execute(self.pool())
            .await?;
        Ok(changed_one(&result))
    }
}

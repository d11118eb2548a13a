//! Second-factor challenges: the `mfa_token` handed out after a correct
//! password. Single-use, short-lived, and dead after a few wrong codes.

use tracing::instrument;

use super::{changed_one, Result, Store};

#[derive(Debug, Clone)]
pub struct Challenge {
    pub user_id: String,
    pub failures: i64,
}

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

    /// A live challenge: not expired, not used, not worn out by failures.
    #[instrument(skip_all)]
    pub async fn live_challenge(
        &self,
        token_digest: &str,
        now: i64,
        max_failures: i64,
    ) -> Result<Option<Challenge>> {
        let row: Option<(String, i64)> = sqlx::query_as(
            "SELECT user_id, failures FROM mfa_challenges \
             WHERE token_digest = $1 AND expires_at > $2 AND failures < $3",
        )
        .bind(token_digest)
        .bind(now)
        .bind(max_failures)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|(user_id, failures)| Challenge { user_id, failures }))
    }

    /// Counts a wrong code against the challenge and returns the new count.
    #[instrument(skip_all)]
    pub async fn fail_challenge(&self, token_digest: &str) -> Result<i64> {
        let failures: Option<i64> = sqlx::query_scalar(
            "UPDATE mfa_challenges SET failures = failures + 1 WHERE token_digest = $1 RETURNING failures",
        )
        .bind(token_digest)
        .fetch_optional(self.pool())
        .await?;
        Ok(failures.unwrap_or(i64::MAX))
    }

    /// Uses the challenge up. Only one caller can win.
    #[instrument(skip_all)]
    pub async fn consume_challenge(
        &self,
        token_digest: &str,
        now: i64,
        max_failures: i64,
    ) -> Result<bool> {
        let result = sqlx::query(
            "DELETE FROM mfa_challenges WHERE token_digest = $1 AND expires_at > $2 AND failures < $3",
        )
        .bind(token_digest)
        .bind(now)
        .bind(max_failures)
        .execute(self.pool())
        .await?;
        Ok(changed_one(&result))
    }
}

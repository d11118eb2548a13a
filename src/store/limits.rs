//! Rate-limit counters, kept in the database so that every node and every
//! restart sees the same counts.
//!
//! A bucket counts hits in a fixed window. The hit that goes over the limit
//! blocks the bucket, and each block in a row lasts twice as long as the one
//! before, up to a cap. A bucket that then stays quiet for a whole window
//! after its block is forgiven and starts again from one window.

use sqlx::{Any, Transaction};
use tracing::instrument;

use super::{Result, Store};

/// The shape of one limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max_hits: i64,
    pub window: i64,
    pub max_block: i64,
}

/// What a hit was told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    Blocked { retry_after: i64 },
}

/// Doublings stop here; the cap on the block applies anyway, this only keeps
/// the shift from overflowing.
const MAX_DOUBLINGS: i64 = 20;

impl Store {
    /// Counts one hit against each bucket, in one transaction, and says
    /// whether the request may proceed (blocked if any bucket is). The count
    /// is taken before the caller does any work, so that parallel requests
    /// cannot all slip in under the limit.
    #[instrument(skip_all)]
    pub async fn hit(&self, buckets: &[(&str, Limit)], now: i64) -> Result<Verdict> {
        let mut tx = self.pool().begin().await?;
        let mut retry_after = 0;
        // Every caller lists buckets in the same order, so concurrent
        // transactions lock rows in the same order and cannot deadlock.
        for (bucket, limit) in buckets {
            if let Verdict::Blocked { retry_after: wait } =
                hit_one(&mut tx, bucket, *limit, now).await?
            {
                retry_after = retry_after.max(wait);
            }
        }
        tx.commit().await?;
        Ok(match retry_after {
            0 => Verdict::Allowed,
            wait => Verdict::Blocked { retry_after: wait },
        })
    }

    /// Forgets the hits of a bucket after a success that proves them honest.
    /// A running block stays, and so does the memory of past blocks.
    #[instrument(skip_all)]
    pub async fn clear_hits(&self, bucket: &str, now: i64) -> Result<()> {
        sqlx::query("UPDATE rate_limits SET hits = 0 WHERE bucket = $1 AND blocked_until <= $2")
            .bind(bucket)
            .bind(now)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}

async fn hit_one(
    tx: &mut Transaction<'_, Any>,
    bucket: &str,
    limit: Limit,
    now: i64,
) -> Result<Verdict> {
    let (hits, strikes, blocked_until): (i64, i64, i64) = sqlx::query_as(
        "INSERT INTO rate_limits (bucket, window_start, hits) VALUES ($1, $2, 1) \
         ON CONFLICT (bucket) DO UPDATE SET \
           strikes = CASE WHEN rate_limits.blocked_until + $3 <= $2 \
                          AND rate_limits.window_start + $3 <= $2 THEN 0 \
                          ELSE rate_limits.strikes END, \
           hits = CASE WHEN rate_limits.blocked_until > $2 THEN rate_limits.hits \
                       WHEN rate_limits.window_start + $3 <= $2 THEN 1 \
                       ELSE rate_limits.hits + 1 END, \
           window_start = CASE WHEN rate_limits.blocked_until > $2 \
                                 THEN rate_limits.window_start \
                               WHEN rate_limits.window_start + $3 <= $2 THEN $2 \
                               ELSE rate_limits.window_start END \
         RETURNING hits, strikes, blocked_until",
    )
    .bind(bucket)
    .bind(now)
    .bind(limit.window)
    .fetch_one(&mut **tx)
    .await?;

    if blocked_until > now {
        return Ok(Verdict::Blocked {
            retry_after: blocked_until - now,
        });
    }
    if hits <= limit.max_hits {
        return Ok(Verdict::Allowed);
    }

    let block = block_length(limit, strikes);
    sqlx::query(
        "UPDATE rate_limits SET strikes = strikes + 1, blocked_until = $1, \
         window_start = $2, hits = 0 WHERE bucket = $3",
    )
    .bind(now.saturating_add(block))
    .bind(now)
    .bind(bucket)
    .execute(&mut **tx)
    .await?;
    Ok(Verdict::Blocked { retry_after: block })
}

fn block_length(limit: Limit, strikes: i64) -> i64 {
    let doublings = strikes.clamp(0, MAX_DOUBLINGS);
    limit
        .window
        .saturating_mul(1i64 << doublings)
        .min(limit.max_block)
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_double_up_to_the_cap() {
        let limit = Limit {
            max_hits: 5,
            window: 60,
            max_block: 600,
        };
        let lengths: Vec<i64> = (0..6).map(|s| block_length(limit, s)).collect();
        assert_eq!(lengths, vec![60, 120, 240, 480, 600, 600]);
        assert_eq!(block_length(limit, i64::MAX), 600);
    }
}

//! The audit trail: one row per security event. Rows never hold a secret,
//! code, password or token; callers pass only who, where, what and how it
//! went.

use sqlx::FromRow;
use tracing::instrument;

use super::{Result, Store};

#[derive(Debug, Clone, Default, FromRow, serde::Serialize)]
pub struct AuditRecord {
    pub id: String,
    pub at: i64,
    pub kind: String,
    pub outcome: String,
    pub user_id: Option<String>,
    pub email: Option<String>,
    pub actor: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub detail: Option<String>,
}

/// Which events `twofold audit` lists.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub failed_only: bool,
    pub email: Option<String>,
    pub since: Option<i64>,
    pub limit: i64,
}

impl Store {
    #[instrument(skip_all, fields(kind = %record.kind))]
    pub async fn insert_audit(&self, record: &AuditRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO audit_events \
             (id, at, kind, outcome, user_id, email, actor, ip, user_agent, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&record.id)
        .bind(record.at)
        .bind(&record.kind)
        .bind(&record.outcome)
        .bind(&record.user_id)
        .bind(&record.email)
        .bind(&record.actor)
        .bind(&record.ip)
        .bind(&record.user_agent)
        .bind(&record.detail)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The newest events matching `filter`, oldest first.
    pub async fn list_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>> {
        let mut rows: Vec<AuditRecord> = sqlx::query_as(
            "SELECT id, at, kind, outcome, user_id, email, actor, ip, user_agent, detail \
             FROM audit_events \
             WHERE ($1 = 0 OR outcome <> 'success') AND ($2 = '' OR email = $2) AND at >= $3 \
             ORDER BY id DESC LIMIT $4",
        )
        .bind(i64::from(filter.failed_only))
        .bind(filter.email.as_deref().unwrap_or(""))
        .bind(filter.since.unwrap_or(0))
        .bind(filter.limit)
        .fetch_all(self.pool())
        .await?;
        rows.reverse();
        Ok(rows)
    }
}

//! Installation-wide settings: small named values.

use tracing::instrument;

use super::{Result, Store};

impl Store {
    #[instrument(skip_all, fields(name = %name))]
    pub async fn setting(&self, name: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
                .bind(name)
                .fetch_optional(self.pool())
                .await?,
        )
    }

    /// Records a value unless one is there already; returns the value that
    /// is stored afterwards, so concurrent first starts agree on one.
    #[instrument(skip_all, fields(name = %name))]
    pub async fn setting_or_insert(&self, name: &str, value: &str) -> Result<String> {
        sqlx::query(
            "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(value)
        .execute(self.pool())
        .await?;
        Ok(self
            .setting(name)
            .await?
            .unwrap_or_else(|| value.to_owned()))
    }
}

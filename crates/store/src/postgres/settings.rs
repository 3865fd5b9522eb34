//! The organisation settings: `SettingsStore` for PostgreSQL.

use async_trait::async_trait;
use portcullis_domain::{Actor, Settings};

use super::{PostgresDirectory, col, execute, insert_audit, pg_err, query_opt};
use crate::types::now_millis;
use crate::{Result, SettingsStore, StoreError, events};

#[async_trait]
impl SettingsStore for PostgresDirectory {
    async fn get_settings(&self) -> Result<Settings> {
        let client = self.client().await?;
        match query_opt(&client, "SELECT body FROM settings WHERE id = 1", &[]).await? {
            None => Ok(Settings::default()),
            Some(r) => {
                let body: serde_json::Value = col(&r, "body")?;
                serde_json::from_value(body)
                    .map_err(|e| StoreError::Corrupt(format!("settings: {e}")))
            }
        }
    }

    async fn put_settings(&self, actor: Actor, settings: Settings) -> Result<Settings> {
        let body = serde_json::to_value(&settings)
            .map_err(|e| StoreError::Corrupt(format!("settings: {e}")))?;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        execute(
            &tx,
            "INSERT INTO settings (id, body, updated_at) VALUES (1, $1, $2) \
             ON CONFLICT (id) DO UPDATE SET body = EXCLUDED.body, updated_at = EXCLUDED.updated_at",
            &[&body, &now_millis()],
        )
        .await?;
        insert_audit(&tx, &events::settings(actor)).await?;
        tx.commit().await.map_err(pg_err)?;
        Ok(settings)
    }
}

//! The organisation settings: `SettingsStore` in SQLite.

use async_trait::async_trait;
use deadpool_sqlite::rusqlite::params;
use portcullis_domain::{Actor, Settings};

use super::{SqliteDirectory, corrupt, query_opt};
use crate::types::now_millis;
use crate::{Result, SettingsStore, events};

#[async_trait]
impl SettingsStore for SqliteDirectory {
    async fn get_settings(&self) -> Result<Settings> {
        self.read(|conn| {
            let body = query_opt(conn, "SELECT body FROM settings WHERE id = 1", [], |row| {
                Ok(row.get::<_, String>(0)?)
            })?;
            match body {
                None => Ok(Settings::default()),
                Some(body) => serde_json::from_str(&body).map_err(|e| corrupt("settings.body", e)),
            }
        })
        .await
    }

    async fn put_settings(&self, actor: Actor, settings: Settings) -> Result<Settings> {
        let body = serde_json::to_string(&settings).map_err(|e| corrupt("settings", e))?;
        self.write(move |tx| {
            tx.prepare_cached(
                "INSERT INTO settings (id, body, updated_at) VALUES (1, ?1, ?2) \
                 ON CONFLICT (id) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
            )?
            .execute(params![body, now_millis().timestamp_millis()])?;
            Ok((settings, events::settings(actor)))
        })
        .await
    }
}

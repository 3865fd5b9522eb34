//! The provisioning connection and records: `ProvisioningStore` in SQLite.

use async_trait::async_trait;
use deadpool_sqlite::rusqlite::params;
use portcullis_domain::{
    AccountId, Actor, PermissionSetId, ProvisioningConnection, ProvisioningRecord,
};

use super::{SqliteDirectory, corrupt, query_opt};
use crate::{ProvisioningStore, Result, events};

#[async_trait]
impl ProvisioningStore for SqliteDirectory {
    async fn get_provisioning_connection(&self) -> Result<Option<ProvisioningConnection>> {
        self.read(|conn| {
            query_opt(
                conn,
                "SELECT body FROM provisioning_connection WHERE id = 1",
                [],
                |row| Ok(row.get::<_, String>(0)?),
            )?
            .map(|body| {
                serde_json::from_str(&body).map_err(|e| corrupt("provisioning_connection", e))
            })
            .transpose()
        })
        .await
    }

    async fn put_provisioning_connection(
        &self,
        actor: Actor,
        connection: Option<ProvisioningConnection>,
    ) -> Result<()> {
        let body = connection
            .as_ref()
            .map(|c| serde_json::to_string(c).map_err(|e| corrupt("provisioning_connection", e)))
            .transpose()?;
        self.write(move |tx| {
            let verb = match body {
                Some(body) => {
                    tx.prepare_cached(
                        "INSERT INTO provisioning_connection (id, body) VALUES (1, ?1) \
                         ON CONFLICT (id) DO UPDATE SET body = excluded.body",
                    )?
                    .execute(params![body])?;
                    "put"
                }
                None => {
                    tx.prepare_cached("DELETE FROM provisioning_connection")?
                        .execute([])?;
                    "delete"
                }
            };
            Ok(((), events::provisioning_connection(actor, verb)))
        })
        .await
    }

    async fn list_provisioning_records(&self) -> Result<Vec<ProvisioningRecord>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT body FROM provisioning_records ORDER BY account_id, permission_set_id",
            )?;
            let bodies = stmt
                .query_map([], |row| row.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            bodies
                .iter()
                .map(|b| serde_json::from_str(b).map_err(|e| corrupt("provisioning_records", e)))
                .collect()
        })
        .await
    }

    async fn put_provisioning_record(&self, record: ProvisioningRecord) -> Result<()> {
        let body =
            serde_json::to_string(&record).map_err(|e| corrupt("provisioning_records", e))?;
        self.with_conn(move |conn| {
            conn.prepare_cached(
                "INSERT INTO provisioning_records (account_id, permission_set_id, body) \
                 VALUES (?1, ?2, ?3) ON CONFLICT (account_id, permission_set_id) \
                 DO UPDATE SET body = excluded.body",
            )?
            .execute(params![
                record.account_id.as_str(),
                record.permission_set_id.to_string(),
                body
            ])?;
            Ok(())
        })
        .await
    }

    async fn delete_provisioning_record(
        &self,
        account: &AccountId,
        permission_set: PermissionSetId,
    ) -> Result<()> {
        let account = account.as_str().to_owned();
        self.with_conn(move |conn| {
            conn.prepare_cached(
                "DELETE FROM provisioning_records WHERE account_id = ?1 AND permission_set_id = ?2",
            )?
            .execute(params![account, permission_set.to_string()])?;
            Ok(())
        })
        .await
    }
}

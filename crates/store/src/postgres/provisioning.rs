//! The provisioning connection and records: `ProvisioningStore` for PostgreSQL.

use async_trait::async_trait;
use portcullis_domain::{
    AccountId, Actor, PermissionSetId, ProvisioningConnection, ProvisioningRecord,
};

use super::{PostgresDirectory, col, execute, insert_audit, pg_err, query, query_opt};
use crate::{ProvisioningStore, Result, StoreError, events};

fn to_json<T: serde::Serialize>(what: &str, v: &T) -> Result<serde_json::Value> {
    serde_json::to_value(v).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn from_json<T: serde::de::DeserializeOwned>(what: &str, v: serde_json::Value) -> Result<T> {
    serde_json::from_value(v).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

#[async_trait]
impl ProvisioningStore for PostgresDirectory {
    async fn get_provisioning_connection(&self) -> Result<Option<ProvisioningConnection>> {
        let client = self.client().await?;
        query_opt(
            &client,
            "SELECT body FROM provisioning_connection WHERE id = 1",
            &[],
        )
        .await?
        .map(|r| from_json("provisioning_connection", col(&r, "body")?))
        .transpose()
    }

    async fn put_provisioning_connection(
        &self,
        actor: Actor,
        connection: Option<ProvisioningConnection>,
    ) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        let verb = match &connection {
            Some(c) => {
                execute(
                    &tx,
                    "INSERT INTO provisioning_connection (id, body) VALUES (1, $1) \
                     ON CONFLICT (id) DO UPDATE SET body = EXCLUDED.body",
                    &[&to_json("provisioning_connection", c)?],
                )
                .await?;
                "put"
            }
            None => {
                execute(&tx, "DELETE FROM provisioning_connection", &[]).await?;
                "delete"
            }
        };
        insert_audit(&tx, &events::provisioning_connection(actor, verb)).await?;
        tx.commit().await.map_err(pg_err)
    }

    async fn list_provisioning_records(&self) -> Result<Vec<ProvisioningRecord>> {
        let client = self.client().await?;
        query(
            &client,
            "SELECT body FROM provisioning_records ORDER BY account_id, permission_set_id",
            &[],
        )
        .await?
        .iter()
        .map(|r| from_json("provisioning_records", col(r, "body")?))
        .collect()
    }

    async fn put_provisioning_record(&self, record: ProvisioningRecord) -> Result<()> {
        let client = self.client().await?;
        execute(
            &client,
            "INSERT INTO provisioning_records (account_id, permission_set_id, body) \
             VALUES ($1, $2, $3) ON CONFLICT (account_id, permission_set_id) \
             DO UPDATE SET body = EXCLUDED.body",
            &[
                &record.account_id.as_str(),
                &record.permission_set_id.as_uuid(),
                &to_json("provisioning_records", &record)?,
            ],
        )
        .await?;
        Ok(())
    }

    async fn delete_provisioning_record(
        &self,
        account: &AccountId,
        permission_set: PermissionSetId,
    ) -> Result<()> {
        let client = self.client().await?;
        execute(
            &client,
            "DELETE FROM provisioning_records WHERE account_id = $1 AND permission_set_id = $2",
            &[&account.as_str(), &permission_set.as_uuid()],
        )
        .await?;
        Ok(())
    }
}

//! Passwords and MFA devices for PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use portcullis_domain::{
    Actor, DisplayName, MfaDevice, MfaDeviceId, MfaDeviceKind, NewMfaDevice, PasswordRecord, UserId,
};
use tokio_postgres::Row;

use super::{
    PostgresDirectory, col, execute, exists, insert_audit, millis, parsed, pg_err, query, query_opt,
};
use crate::types::now_millis;
use crate::{CredentialStore, MfaDeviceStore, Result, StoreError, events};

/// The device columns, as [`device_from_row`] reads them.
const DEVICE_COLS: &str =
    "id, user_id, kind, name, secret, credential_id, created_at, last_used_at";

fn device_from_row(r: &Row) -> Result<MfaDevice> {
    Ok(MfaDevice {
        id: col(r, "id")?,
        user_id: UserId::from_uuid(col(r, "user_id")?),
        kind: parsed("kind", col::<String>(r, "kind")?.parse())?,
        name: parsed("name", DisplayName::parse(col::<String>(r, "name")?))?,
        secret: col(r, "secret")?,
        credential_id: col(r, "credential_id")?,
        created_at: col(r, "created_at")?,
        last_used_at: col(r, "last_used_at")?,
    })
}

/// The conflict of a user who already has as many devices of `kind` as allowed.
fn too_many(kind: MfaDeviceKind) -> StoreError {
    let message = match kind {
        MfaDeviceKind::AuthenticatorApp => {
            format!("at most {} authenticator apps per user", kind.limit())
        }
        MfaDeviceKind::Webauthn => {
            format!(
                "at most {} security keys or passkeys per user",
                kind.limit()
            )
        }
    };
    StoreError::Conflict {
        field: "kind",
        message,
    }
}

/// Locks the user's row for the rest of the transaction (so that concurrent changes to the
/// user's credentials take turns); `NotFound("user")` when there is no such user.
async fn lock_user(tx: &deadpool_postgres::Transaction<'_>, user: UserId) -> Result<()> {
    if exists(
        tx,
        "SELECT 1 FROM users WHERE id = $1 FOR UPDATE",
        &[&user.as_uuid()],
    )
    .await?
    {
        Ok(())
    } else {
        Err(StoreError::NotFound("user"))
    }
}

#[async_trait]
impl CredentialStore for PostgresDirectory {
    async fn get_password(&self, user: UserId) -> Result<Option<PasswordRecord>> {
        let client = self.client().await?;
        let row = query_opt(
            &client,
            "SELECT hash, must_change, updated_at FROM user_passwords WHERE user_id = $1",
            &[&user.as_uuid()],
        )
        .await?;
        row.map(|r| {
            Ok(PasswordRecord {
                hash: col(&r, "hash")?,
                must_change: col(&r, "must_change")?,
                updated_at: col(&r, "updated_at")?,
            })
        })
        .transpose()
    }

    async fn set_password(
        &self,
        actor: Actor,
        user: UserId,
        hash: String,
        must_change: bool,
    ) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        lock_user(&tx, user).await?;
        execute(
            &tx,
            "INSERT INTO user_passwords (user_id, hash, must_change, updated_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (user_id) DO UPDATE SET \
             hash = EXCLUDED.hash, must_change = EXCLUDED.must_change, \
             updated_at = EXCLUDED.updated_at",
            &[&user.as_uuid(), &hash, &must_change, &now_millis()],
        )
        .await?;
        insert_audit(&tx, &events::password(actor, user, must_change)).await?;
        tx.commit().await.map_err(pg_err)
    }

    async fn rehash_password(&self, user: UserId, hash: String) -> Result<()> {
        let client = self.client().await?;
        let n = execute(
            &client,
            "UPDATE user_passwords SET hash = $2 WHERE user_id = $1",
            &[&user.as_uuid(), &hash],
        )
        .await?;
        if n == 0 {
            return Err(StoreError::NotFound("password"));
        }
        Ok(())
    }
}

#[async_trait]
impl MfaDeviceStore for PostgresDirectory {
    async fn add_mfa_device(&self, actor: Actor, device: NewMfaDevice) -> Result<MfaDevice> {
        let created = MfaDevice {
            id: MfaDeviceId::new_v4(),
            user_id: device.user_id,
            kind: device.kind,
            name: device.name,
            secret: device.secret,
            credential_id: device.credential_id,
            created_at: now_millis(),
            last_used_at: None,
        };
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        // The user's row lock makes concurrent adds for one user take turns, so two of them
        // cannot both pass the count.
        lock_user(&tx, created.user_id).await?;
        let count: i64 = match query_opt(
            &tx,
            "SELECT count(*) AS n FROM mfa_devices WHERE user_id = $1 AND kind = $2",
            &[&created.user_id.as_uuid(), &created.kind.as_str()],
        )
        .await?
        {
            Some(r) => col(&r, "n")?,
            None => 0,
        };
        if usize::try_from(count).unwrap_or(usize::MAX) >= created.kind.limit() {
            return Err(too_many(created.kind));
        }
        execute(
            &tx,
            "INSERT INTO mfa_devices (id, user_id, kind, name, secret, credential_id, \
             last_totp_step, created_at, last_used_at) \
             VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, NULL)",
            &[
                &created.id,
                &created.user_id.as_uuid(),
                &created.kind.as_str(),
                &created.name.as_str(),
                &created.secret,
                &created.credential_id,
                &created.created_at,
            ],
        )
        .await?;
        let event = events::mfa_device(actor, "create", created.user_id, created.id, created.kind);
        insert_audit(&tx, &event).await?;
        tx.commit().await.map_err(pg_err)?;
        Ok(created)
    }

    async fn list_mfa_devices(&self, user: UserId) -> Result<Vec<MfaDevice>> {
        let client = self.client().await?;
        let sql = format!(
            "SELECT {DEVICE_COLS} FROM mfa_devices WHERE user_id = $1 ORDER BY created_at, id"
        );
        let rows = query(&client, &sql, &[&user.as_uuid()]).await?;
        rows.iter().map(device_from_row).collect()
    }

    async fn find_mfa_device_by_credential(
        &self,
        credential_id: &str,
    ) -> Result<Option<MfaDevice>> {
        let client = self.client().await?;
        let sql = format!("SELECT {DEVICE_COLS} FROM mfa_devices WHERE credential_id = $1");
        let row = query_opt(&client, &sql, &[&credential_id]).await?;
        row.as_ref().map(device_from_row).transpose()
    }

    async fn rename_mfa_device(
        &self,
        actor: Actor,
        user: UserId,
        id: MfaDeviceId,
        name: DisplayName,
    ) -> Result<MfaDevice> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        let sql = format!(
            "UPDATE mfa_devices SET name = $3 WHERE id = $1 AND user_id = $2 \
             RETURNING {DEVICE_COLS}"
        );
        let device = match query_opt(&tx, &sql, &[&id, &user.as_uuid(), &name.as_str()]).await? {
            Some(r) => device_from_row(&r)?,
            None => return Err(StoreError::NotFound("mfa device")),
        };
        insert_audit(
            &tx,
            &events::mfa_device(actor, "update", user, id, device.kind),
        )
        .await?;
        tx.commit().await.map_err(pg_err)?;
        Ok(device)
    }

    async fn delete_mfa_device(&self, actor: Actor, user: UserId, id: MfaDeviceId) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        let kind = match query_opt(
            &tx,
            "DELETE FROM mfa_devices WHERE id = $1 AND user_id = $2 RETURNING kind",
            &[&id, &user.as_uuid()],
        )
        .await?
        {
            Some(r) => parsed("kind", col::<String>(&r, "kind")?.parse())?,
            None => return Err(StoreError::NotFound("mfa device")),
        };
        insert_audit(&tx, &events::mfa_device(actor, "delete", user, id, kind)).await?;
        tx.commit().await.map_err(pg_err)
    }

    async fn record_mfa_use(
        &self,
        user: UserId,
        id: MfaDeviceId,
        at: DateTime<Utc>,
        totp_step: Option<i64>,
        secret: Option<Vec<u8>>,
    ) -> Result<bool> {
        let client = self.client().await?;
        let at = millis(at);
        // One statement each. With a step, a concurrent use of the same step waits for the
        // first one's row lock, then re-checks the condition against the new row and changes
        // nothing: exactly one use of a step succeeds.
        let n = match totp_step {
            Some(step) => {
                execute(
                    &client,
                    "UPDATE mfa_devices SET last_totp_step = $3, last_used_at = $4, \
                     secret = coalesce($5, secret) \
                     WHERE id = $1 AND user_id = $2 \
                     AND (last_totp_step IS NULL OR last_totp_step < $3)",
                    &[&id, &user.as_uuid(), &step, &at, &secret],
                )
                .await?
            }
            None => {
                execute(
                    &client,
                    "UPDATE mfa_devices SET last_used_at = $3, secret = coalesce($4, secret) \
                     WHERE id = $1 AND user_id = $2",
                    &[&id, &user.as_uuid(), &at, &secret],
                )
                .await?
            }
        };
        Ok(n > 0)
    }
}

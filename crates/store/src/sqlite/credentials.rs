//! Passwords and MFA devices in SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_sqlite::rusqlite::{Connection, Row, params};
use portcullis_domain::{
    Actor, DisplayName, MfaDevice, MfaDeviceId, MfaDeviceKind, NewMfaDevice, PasswordRecord, UserId,
};

use super::users::user_exists;
use super::{
    SqliteDirectory, col_parse, col_text, col_time, col_time_opt, conflict, exists, query_all,
    query_opt,
};
use crate::types::now_millis;
use crate::{CredentialStore, MfaDeviceStore, Result, StoreError, events};

/// The device columns, in the order [`device_row`] reads them.
const DEVICE_COLS: &str =
    "id, user_id, kind, name, secret, credential_id, created_at, last_used_at";

fn device_row(row: &Row<'_>) -> Result<MfaDevice> {
    Ok(MfaDevice {
        id: col_parse(row, 0, "mfa_devices.id")?,
        user_id: col_parse(row, 1, "mfa_devices.user_id")?,
        kind: col_parse(row, 2, "mfa_devices.kind")?,
        name: col_text(row, 3, "mfa_devices.name", DisplayName::parse)?,
        secret: row.get(4)?,
        credential_id: row.get(5)?,
        created_at: col_time(row, 6)?,
        last_used_at: col_time_opt(row, 7)?,
    })
}

fn load_device(conn: &Connection, user: UserId, id: MfaDeviceId) -> Result<Option<MfaDevice>> {
    query_opt(
        conn,
        &format!("SELECT {DEVICE_COLS} FROM mfa_devices WHERE id = ?1 AND user_id = ?2"),
        params![id.to_string(), user.to_string()],
        device_row,
    )
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

#[async_trait]
impl CredentialStore for SqliteDirectory {
    async fn get_password(&self, user: UserId) -> Result<Option<PasswordRecord>> {
        self.read(move |conn| {
            query_opt(
                conn,
                "SELECT hash, must_change, updated_at FROM user_passwords WHERE user_id = ?1",
                [user.to_string()],
                |row| {
                    Ok(PasswordRecord {
                        hash: row.get(0)?,
                        must_change: row.get(1)?,
                        updated_at: col_time(row, 2)?,
                    })
                },
            )
        })
        .await
    }

    async fn set_password(
        &self,
        actor: Actor,
        user: UserId,
        hash: String,
        must_change: bool,
    ) -> Result<()> {
        self.write(move |tx| {
            if !user_exists(tx, user)? {
                return Err(StoreError::NotFound("user"));
            }
            tx.prepare_cached(
                "INSERT INTO user_passwords (user_id, hash, must_change, updated_at) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (user_id) DO UPDATE SET \
                 hash = excluded.hash, must_change = excluded.must_change, \
                 updated_at = excluded.updated_at",
            )?
            .execute(params![
                user.to_string(),
                hash,
                must_change,
                now_millis().timestamp_millis(),
            ])?;
            Ok(((), events::password(actor, user, must_change)))
        })
        .await
    }

    async fn rehash_password(&self, user: UserId, hash: String) -> Result<()> {
        self.with_conn(move |conn| {
            let n = conn
                .prepare_cached("UPDATE user_passwords SET hash = ?2 WHERE user_id = ?1")?
                .execute(params![user.to_string(), hash])?;
            if n == 0 {
                return Err(StoreError::NotFound("password"));
            }
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl MfaDeviceStore for SqliteDirectory {
    async fn add_mfa_device(&self, actor: Actor, device: NewMfaDevice) -> Result<MfaDevice> {
        self.write(move |tx| {
            // BEGIN IMMEDIATE: no other writer runs between the count and the insert.
            if !user_exists(tx, device.user_id)? {
                return Err(StoreError::NotFound("user"));
            }
            let count: i64 = tx
                .prepare_cached(
                    "SELECT count(*) FROM mfa_devices WHERE user_id = ?1 AND kind = ?2",
                )?
                .query_row(
                    params![device.user_id.to_string(), device.kind.as_str()],
                    |row| row.get(0),
                )?;
            if usize::try_from(count).unwrap_or(usize::MAX) >= device.kind.limit() {
                return Err(too_many(device.kind));
            }
            if let Some(credential_id) = &device.credential_id
                && exists(
                    tx,
                    "SELECT 1 FROM mfa_devices WHERE credential_id = ?1",
                    [credential_id],
                )?
            {
                return Err(conflict(
                    "credentialId",
                    "an MFA device with this credential id already exists",
                ));
            }
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
            tx.prepare_cached(
                "INSERT INTO mfa_devices (id, user_id, kind, name, secret, credential_id, \
                 last_totp_step, created_at, last_used_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, ?7, NULL)",
            )?
            .execute(params![
                created.id.to_string(),
                created.user_id.to_string(),
                created.kind.as_str(),
                created.name.as_str(),
                created.secret,
                created.credential_id,
                created.created_at.timestamp_millis(),
            ])?;
            let event =
                events::mfa_device(actor, "create", created.user_id, created.id, created.kind);
            Ok((created, event))
        })
        .await
    }

    async fn list_mfa_devices(&self, user: UserId) -> Result<Vec<MfaDevice>> {
        self.read(move |conn| {
            // rowid breaks ties between devices added in the same millisecond: later is newer.
            query_all(
                conn,
                &format!(
                    "SELECT {DEVICE_COLS} FROM mfa_devices WHERE user_id = ?1 \
                     ORDER BY created_at, rowid"
                ),
                [user.to_string()],
                device_row,
            )
        })
        .await
    }

    async fn find_mfa_device_by_credential(
        &self,
        credential_id: &str,
    ) -> Result<Option<MfaDevice>> {
        let credential_id = credential_id.to_owned();
        self.read(move |conn| {
            query_opt(
                conn,
                &format!("SELECT {DEVICE_COLS} FROM mfa_devices WHERE credential_id = ?1"),
                [credential_id],
                device_row,
            )
        })
        .await
    }

    async fn rename_mfa_device(
        &self,
        actor: Actor,
        user: UserId,
        id: MfaDeviceId,
        name: DisplayName,
    ) -> Result<MfaDevice> {
        self.write(move |tx| {
            let n = tx
                .prepare_cached("UPDATE mfa_devices SET name = ?3 WHERE id = ?1 AND user_id = ?2")?
                .execute(params![id.to_string(), user.to_string(), name.as_str()])?;
            if n == 0 {
                return Err(StoreError::NotFound("mfa device"));
            }
            let device = load_device(tx, user, id)?.ok_or(StoreError::NotFound("mfa device"))?;
            let event = events::mfa_device(actor, "update", user, id, device.kind);
            Ok((device, event))
        })
        .await
    }

    async fn delete_mfa_device(&self, actor: Actor, user: UserId, id: MfaDeviceId) -> Result<()> {
        self.write(move |tx| {
            let kind: Option<MfaDeviceKind> = query_opt(
                tx,
                "DELETE FROM mfa_devices WHERE id = ?1 AND user_id = ?2 RETURNING kind",
                params![id.to_string(), user.to_string()],
                |row| col_parse(row, 0, "mfa_devices.kind"),
            )?;
            let kind = kind.ok_or(StoreError::NotFound("mfa device"))?;
            Ok(((), events::mfa_device(actor, "delete", user, id, kind)))
        })
        .await
    }

    async fn record_mfa_use(
        &self,
        user: UserId,
        id: MfaDeviceId,
        at: DateTime<Utc>,
        totp_step: Option<i64>,
        secret: Option<Vec<u8>>,
    ) -> Result<bool> {
        self.with_conn(move |conn| {
            let at = at.timestamp_millis();
            // One statement each: SQLite runs it atomically, so of two uses of the same step
            // only one changes the row.
            let n = match totp_step {
                Some(step) => conn
                    .prepare_cached(
                        "UPDATE mfa_devices SET last_totp_step = ?3, last_used_at = ?4, \
                         secret = coalesce(?5, secret) \
                         WHERE id = ?1 AND user_id = ?2 \
                         AND (last_totp_step IS NULL OR last_totp_step < ?3)",
                    )?
                    .execute(params![id.to_string(), user.to_string(), step, at, secret])?,
                None => conn
                    .prepare_cached(
                        "UPDATE mfa_devices SET last_used_at = ?3, secret = coalesce(?4, secret) \
                         WHERE id = ?1 AND user_id = ?2",
                    )?
                    .execute(params![id.to_string(), user.to_string(), at, secret])?,
            };
            Ok(n > 0)
        })
        .await
    }
}

//! Applications and application assignments in SQLite.

use std::collections::HashSet;

use async_trait::async_trait;
use deadpool_sqlite::rusqlite::{Connection, Row, params};
use portcullis_domain::{
    Actor, Application, ApplicationAssignment, ApplicationId, ApplicationKind, Description,
    DisplayName, NewApplication, OidcSettings, Page, PageRequest, Principal, SamlSettings, UserId,
};

use super::accounts::{check_principal, principal_columns, principal_row};
use super::{
    SqliteDirectory, col_parse, col_text, col_time, conflict, corrupt, exists, fold_case, limit,
    query_all, query_opt,
};
use crate::types::{
    check_oidc_kind, check_saml_kind, check_secret_holder, keeps_secret, now_millis,
    oidc_from_json, oidc_to_json, saml_from_json, saml_to_json,
};
use crate::{ApplicationStore, Result, StoreError, events};

const APPLICATION_COLS: &str =
    "id, name, description, kind, enabled, created_at, updated_at, oidc, saml";
const APPLICATION_COLS_A: &str =
    "a.id, a.name, a.description, a.kind, a.enabled, a.created_at, a.updated_at, a.oidc, a.saml";

fn application_row(row: &Row<'_>) -> Result<Application> {
    Ok(Application {
        id: col_parse(row, 0, "applications.id")?,
        name: col_text(row, 1, "applications.name", DisplayName::parse)?,
        description: col_text(row, 2, "applications.description", Description::parse)?,
        kind: col_parse::<ApplicationKind>(row, 3, "applications.kind")?,
        enabled: row.get(4)?,
        created_at: col_time(row, 5)?,
        updated_at: col_time(row, 6)?,
        oidc: col_oidc(row, 7)?,
        saml: col_saml(row, 8)?,
    })
}

/// The nullable `oidc` JSON text column.
fn col_oidc(row: &Row<'_>, idx: usize) -> Result<Option<OidcSettings>> {
    let text: Option<String> = row.get(idx)?;
    text.map(|t| {
        serde_json::from_str::<serde_json::Value>(&t)
            .map_err(|e| corrupt("applications.oidc", e))
            .and_then(oidc_from_json)
    })
    .transpose()
}

/// The nullable `saml` JSON text column.
fn col_saml(row: &Row<'_>, idx: usize) -> Result<Option<SamlSettings>> {
    let text: Option<String> = row.get(idx)?;
    text.map(|t| {
        serde_json::from_str::<serde_json::Value>(&t)
            .map_err(|e| corrupt("applications.saml", e))
            .and_then(saml_from_json)
    })
    .transpose()
}

/// The `saml` column's value for `settings`.
fn saml_text(settings: Option<&SamlSettings>) -> Result<Option<String>> {
    settings
        .map(|o| saml_to_json(o).map(|v| v.to_string()))
        .transpose()
}

/// The `oidc` column's value for `settings`.
fn oidc_text(settings: Option<&OidcSettings>) -> Result<Option<String>> {
    settings
        .map(|o| oidc_to_json(o).map(|v| v.to_string()))
        .transpose()
}

/// The page key: `lower(name)` (the backend's Unicode-aware override), a slash, the id.
fn application_key(a: &Application) -> String {
    format!("{}/{}", fold_case(a.name.as_str()), a.id)
}

fn load_application(conn: &Connection, id: ApplicationId) -> Result<Option<Application>> {
    query_opt(
        conn,
        &format!("SELECT {APPLICATION_COLS} FROM applications WHERE id = ?1"),
        [id.to_string()],
        application_row,
    )
}

fn application_exists(conn: &Connection, id: ApplicationId) -> Result<bool> {
    exists(
        conn,
        "SELECT 1 FROM applications WHERE id = ?1",
        [id.to_string()],
    )
}

#[async_trait]
impl ApplicationStore for SqliteDirectory {
    async fn create_application(&self, actor: Actor, app: NewApplication) -> Result<Application> {
        check_oidc_kind(app.kind, app.oidc.as_ref())?;
        check_saml_kind(app.kind, app.saml.as_ref())?;
        let oidc = oidc_text(app.oidc.as_ref())?;
        let saml = saml_text(app.saml.as_ref())?;
        self.write(move |tx| {
            let id = ApplicationId::new();
            let now = now_millis();
            tx.prepare_cached(
                "INSERT INTO applications (id, name, description, kind, enabled, oidc, created_at, \
                 updated_at, saml) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8)",
            )?
            .execute(params![
                id.to_string(),
                app.name.as_str(),
                app.description.as_str(),
                app.kind.as_str(),
                app.enabled,
                oidc,
                now.timestamp_millis(),
                saml,
            ])?;
            let created = Application {
                id,
                name: app.name,
                description: app.description,
                kind: app.kind,
                enabled: app.enabled,
                oidc: app.oidc,
                saml: app.saml,
                created_at: now,
                updated_at: now,
            };
            Ok((created, events::application(actor, "create", id)))
        })
        .await
    }

    async fn get_application(&self, id: ApplicationId) -> Result<Application> {
        self.read(move |conn| {
            load_application(conn, id)?.ok_or(StoreError::NotFound("application"))
        })
        .await
    }

    async fn list_applications(&self, page: PageRequest) -> Result<Page<Application>> {
        self.read(move |conn| {
            let rows = match &page.after {
                None => query_all(
                    conn,
                    &format!(
                        "SELECT {APPLICATION_COLS} FROM applications ORDER BY lower(name), id LIMIT ?1"
                    ),
                    [limit(&page)],
                    application_row,
                )?,
                Some(after) => {
                    // A key without a slash compares as a name with an empty id.
                    let (name, id) = after.rsplit_once('/').unwrap_or((after.as_str(), ""));
                    query_all(
                        conn,
                        &format!(
                            "SELECT {APPLICATION_COLS} FROM applications \
                             WHERE (lower(name), id) > (?1, ?2) ORDER BY lower(name), id LIMIT ?3"
                        ),
                        params![name, id, limit(&page)],
                        application_row,
                    )?
                }
            };
            Ok(Page::from_rows(rows, page.size, application_key))
        })
        .await
    }

    async fn update_application(
        &self,
        actor: Actor,
        id: ApplicationId,
        app: NewApplication,
    ) -> Result<Application> {
        check_oidc_kind(app.kind, app.oidc.as_ref())?;
        check_saml_kind(app.kind, app.saml.as_ref())?;
        let oidc = oidc_text(app.oidc.as_ref())?;
        let saml = saml_text(app.saml.as_ref())?;
        let keep_secret = keeps_secret(app.oidc.as_ref());
        self.write(move |tx| {
            let current = load_application(tx, id)?.ok_or(StoreError::NotFound("application"))?;
            if current.kind != app.kind {
                return Err(conflict("kind", "an application's kind cannot be changed"));
            }
            let now = now_millis();
            tx.prepare_cached(
                "UPDATE applications SET name = ?2, description = ?3, enabled = ?4, oidc = ?5, \
                 updated_at = ?6, saml = ?8, \
                 client_secret_hash = CASE WHEN ?7 THEN client_secret_hash END \
                 WHERE id = ?1",
            )?
            .execute(params![
                id.to_string(),
                app.name.as_str(),
                app.description.as_str(),
                app.enabled,
                oidc,
                now.timestamp_millis(),
                keep_secret,
                saml,
            ])?;
            let updated = Application {
                id,
                name: app.name,
                description: app.description,
                kind: current.kind,
                enabled: app.enabled,
                oidc: app.oidc,
                saml: app.saml,
                created_at: current.created_at,
                updated_at: now,
            };
            Ok((updated, events::application(actor, "update", id)))
        })
        .await
    }

    async fn delete_application(&self, actor: Actor, id: ApplicationId) -> Result<()> {
        self.write(move |tx| {
            let n = tx
                .prepare_cached("DELETE FROM applications WHERE id = ?1")?
                .execute([id.to_string()])?;
            if n == 0 {
                return Err(StoreError::NotFound("application"));
            }
            // What people allowed the application goes with it.
            tx.prepare_cached("DELETE FROM oidc_consents WHERE client_id = ?1")?
                .execute([id.to_string()])?;
            Ok(((), events::application(actor, "delete", id)))
        })
        .await
    }

    async fn assign_application(&self, actor: Actor, a: ApplicationAssignment) -> Result<()> {
        self.write(move |tx| {
            if !application_exists(tx, a.application_id)? {
                return Err(StoreError::InvalidReference {
                    field: "applicationId",
                    entity: "application",
                });
            }
            check_principal(tx, a.principal)?;
            let (user_id, group_id) = principal_columns(a.principal);
            if exists(
                tx,
                "SELECT 1 FROM application_assignments WHERE application_id = ?1 \
                 AND user_id IS ?2 AND group_id IS ?3",
                params![a.application_id.to_string(), user_id, group_id],
            )? {
                return Err(conflict("assignment", "this assignment already exists"));
            }
            tx.prepare_cached(
                "INSERT INTO application_assignments (application_id, user_id, group_id, created_at) \
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                a.application_id.to_string(),
                user_id,
                group_id,
                now_millis().timestamp_millis(),
            ])?;
            Ok(((), events::application_assignment(actor, "create", &a)))
        })
        .await
    }

    async fn unassign_application(&self, actor: Actor, a: ApplicationAssignment) -> Result<()> {
        self.write(move |tx| {
            let (user_id, group_id) = principal_columns(a.principal);
            let n = tx
                .prepare_cached(
                    "DELETE FROM application_assignments WHERE application_id = ?1 \
                     AND user_id IS ?2 AND group_id IS ?3",
                )?
                .execute(params![a.application_id.to_string(), user_id, group_id])?;
            if n == 0 {
                return Err(StoreError::NotFound("assignment"));
            }
            Ok(((), events::application_assignment(actor, "delete", &a)))
        })
        .await
    }

    async fn list_application_assignments(&self, app: ApplicationId) -> Result<Vec<Principal>> {
        self.read(move |conn| {
            if !application_exists(conn, app)? {
                return Err(StoreError::NotFound("application"));
            }
            query_all(
                conn,
                "SELECT user_id, group_id FROM application_assignments WHERE application_id = ?1 \
                 ORDER BY user_id IS NULL, coalesce(user_id, group_id)",
                [app.to_string()],
                |row| principal_row(row, 0, "application_assignments principal"),
            )
        })
        .await
    }

    async fn user_applications(&self, user: UserId) -> Result<Vec<Application>> {
        self.read(move |conn| {
            query_all(
                conn,
                &format!(
                    "SELECT {APPLICATION_COLS_A} FROM applications a WHERE a.enabled = 1 \
                     AND a.id IN (SELECT application_id FROM application_assignments \
                        WHERE user_id = ?1 \
                           OR group_id IN (SELECT group_id FROM group_members WHERE user_id = ?1)) \
                     ORDER BY lower(a.name), a.id"
                ),
                [user.to_string()],
                application_row,
            )
        })
        .await
    }

    async fn set_client_secret(
        &self,
        actor: Actor,
        id: ApplicationId,
        hash: Vec<u8>,
    ) -> Result<()> {
        self.write(move |tx| {
            let current = load_application(tx, id)?.ok_or(StoreError::NotFound("application"))?;
            check_secret_holder(current.kind, current.oidc.as_ref())?;
            tx.prepare_cached("UPDATE applications SET client_secret_hash = ?2 WHERE id = ?1")?
                .execute(params![id.to_string(), hash])?;
            Ok(((), events::client_secret(actor, id)))
        })
        .await
    }

    async fn client_secret_hash(&self, id: ApplicationId) -> Result<Option<Vec<u8>>> {
        self.read(move |conn| {
            query_opt(
                conn,
                "SELECT client_secret_hash FROM applications WHERE id = ?1",
                [id.to_string()],
                |row| Ok(row.get::<_, Option<Vec<u8>>>(0)?),
            )?
            .ok_or(StoreError::NotFound("application"))
        })
        .await
    }

    async fn set_application_icon(
        &self,
        actor: Actor,
        id: ApplicationId,
        content_type: String,
        body: Vec<u8>,
    ) -> Result<()> {
        self.write(move |tx| {
            if !application_exists(tx, id)? {
                return Err(StoreError::NotFound("application"));
            }
            tx.prepare_cached(
                "INSERT INTO application_icons (application_id, content_type, body, updated_at) \
                 VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (application_id) DO UPDATE \
                 SET content_type = excluded.content_type, body = excluded.body, \
                     updated_at = excluded.updated_at",
            )?
            .execute(params![
                id.to_string(),
                content_type,
                body,
                now_millis().timestamp_millis(),
            ])?;
            let event =
                events::application_icon(actor, "set", id, Some((&content_type, body.len())));
            Ok(((), event))
        })
        .await
    }

    async fn delete_application_icon(&self, actor: Actor, id: ApplicationId) -> Result<()> {
        self.write(move |tx| {
            let n = tx
                .prepare_cached("DELETE FROM application_icons WHERE application_id = ?1")?
                .execute([id.to_string()])?;
            if n == 0 {
                return Err(StoreError::NotFound("icon"));
            }
            Ok(((), events::application_icon(actor, "delete", id, None)))
        })
        .await
    }

    async fn get_application_icon(&self, id: ApplicationId) -> Result<Option<(String, Vec<u8>)>> {
        self.read(move |conn| {
            query_opt(
                conn,
                "SELECT content_type, body FROM application_icons WHERE application_id = ?1",
                [id.to_string()],
                |row| Ok((row.get::<_, String>(0)?, row.get::<_, Vec<u8>>(1)?)),
            )
        })
        .await
    }

    async fn application_icon_ids(&self, ids: &[ApplicationId]) -> Result<HashSet<ApplicationId>> {
        if ids.is_empty() {
            return Ok(HashSet::new());
        }
        // One statement over a JSON array of the ids: no SQL built from values.
        let ids = serde_json::to_string(&ids.iter().map(ToString::to_string).collect::<Vec<_>>())
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.read(move |conn| {
            let found = query_all(
                conn,
                "SELECT application_id FROM application_icons \
                 WHERE application_id IN (SELECT value FROM json_each(?1))",
                [ids],
                |row| col_parse::<ApplicationId>(row, 0, "application_icons.application_id"),
            )?;
            Ok(found.into_iter().collect())
        })
        .await
    }
}

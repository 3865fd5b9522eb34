//! Business applications and their assignments: `ApplicationStore` for PostgreSQL.

use std::collections::HashSet;

use async_trait::async_trait;
use portcullis_domain::{
    Actor, Application, ApplicationAssignment, ApplicationId, ApplicationKind, Description,
    DisplayName, NewApplication, Page, PageRequest, Principal, UserId,
};
use tokio_postgres::Row;
use uuid::Uuid;

use super::accounts::{check_principal, principal_columns, principal_from_row};
use super::{
    PostgresDirectory, col, execute, exists, insert_audit, keyed_page, limit, parsed, pg_err,
    query, query_opt,
};
use crate::types::{
    check_oidc_kind, check_saml_kind, check_secret_holder, keeps_secret, now_millis,
    oidc_from_json, oidc_to_json, saml_from_json, saml_to_json,
};
use crate::{ApplicationStore, Result, StoreError, events};

const APP_COLS: &str = "ap.id, ap.name, ap.description, ap.kind, ap.enabled, ap.oidc, ap.saml, \
     ap.created_at, ap.updated_at, lower(ap.name) AS sort_key";

fn application_from_row(r: &Row) -> Result<Application> {
    let kind: String = col(r, "kind")?;
    Ok(Application {
        id: ApplicationId::from_uuid(col(r, "id")?),
        name: parsed("name", DisplayName::parse(col::<String>(r, "name")?))?,
        description: parsed(
            "description",
            Description::parse(col::<String>(r, "description")?),
        )?,
        kind: parsed("kind", kind.parse::<ApplicationKind>())?,
        enabled: col(r, "enabled")?,
        oidc: col::<Option<serde_json::Value>>(r, "oidc")?
            .map(oidc_from_json)
            .transpose()?,
        saml: col::<Option<serde_json::Value>>(r, "saml")?
            .map(saml_from_json)
            .transpose()?,
        created_at: col(r, "created_at")?,
        updated_at: col(r, "updated_at")?,
    })
}

/// An application with its page key, `"{lower(name)}/{id}"`.
fn keyed_application(r: &Row) -> Result<(String, Application)> {
    let app = application_from_row(r)?;
    let sort: String = col(r, "sort_key")?;
    Ok((format!("{sort}/{}", app.id), app))
}

#[async_trait]
impl ApplicationStore for PostgresDirectory {
    async fn create_application(&self, actor: Actor, app: NewApplication) -> Result<Application> {
        check_oidc_kind(app.kind, app.oidc.as_ref())?;
        check_saml_kind(app.kind, app.saml.as_ref())?;
        let oidc = app.oidc.as_ref().map(oidc_to_json).transpose()?;
        let saml = app.saml.as_ref().map(saml_to_json).transpose()?;
        let now = now_millis();
        let created = Application {
            id: ApplicationId::new(),
            name: app.name,
            description: app.description,
            kind: app.kind,
            enabled: app.enabled,
            oidc: app.oidc,
            saml: app.saml,
            created_at: now,
            updated_at: now,
        };
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        execute(
            &tx,
            "INSERT INTO applications (id, name, description, kind, enabled, oidc, created_at, \
             updated_at, saml) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)",
            &[
                &created.id.as_uuid(),
                &created.name.as_str(),
                &created.description.as_str(),
                &created.kind.as_str(),
                &created.enabled,
                &oidc,
                &now,
                &saml,
            ],
        )
        .await?;
        insert_audit(&tx, &events::application(actor, "create", created.id)).await?;
        tx.commit().await.map_err(pg_err)?;
        Ok(created)
    }

    async fn get_application(&self, id: ApplicationId) -> Result<Application> {
        let client = self.client().await?;
        let sql = format!("SELECT {APP_COLS} FROM applications ap WHERE ap.id = $1");
        match query_opt(&client, &sql, &[&id.as_uuid()]).await? {
            Some(r) => application_from_row(&r),
            None => Err(StoreError::NotFound("application")),
        }
    }

    async fn list_applications(&self, page: PageRequest) -> Result<Page<Application>> {
        let client = self.client().await?;
        let n = limit(page.size);
        let rows = match &page.after {
            None => {
                let sql = format!(
                    "SELECT {APP_COLS} FROM applications ap \
                     ORDER BY lower(ap.name) COLLATE \"C\", ap.id LIMIT $1"
                );
                query(&client, &sql, &[&n]).await?
            }
            Some(after) => {
                // The name part may itself contain '/', the id never does.
                let Some((name, id)) = after.rsplit_once('/') else {
                    return Ok(keyed_page(Vec::new(), page.size));
                };
                let Ok(id) = Uuid::parse_str(id) else {
                    return Ok(keyed_page(Vec::new(), page.size));
                };
                let sql = format!(
                    "SELECT {APP_COLS} FROM applications ap \
                     WHERE (lower(ap.name) COLLATE \"C\", ap.id) > ($1::text COLLATE \"C\", $2::uuid) \
                     ORDER BY lower(ap.name) COLLATE \"C\", ap.id LIMIT $3"
                );
                query(&client, &sql, &[&name, &id, &n]).await?
            }
        };
        let rows = rows
            .iter()
            .map(keyed_application)
            .collect::<Result<Vec<_>>>()?;
        Ok(keyed_page(rows, page.size))
    }

    async fn update_application(
        &self,
        actor: Actor,
        id: ApplicationId,
        app: NewApplication,
    ) -> Result<Application> {
        check_oidc_kind(app.kind, app.oidc.as_ref())?;
        check_saml_kind(app.kind, app.saml.as_ref())?;
        let oidc = app.oidc.as_ref().map(oidc_to_json).transpose()?;
        let saml = app.saml.as_ref().map(saml_to_json).transpose()?;
        let now = now_millis();
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        let sql = format!("SELECT {APP_COLS} FROM applications ap WHERE ap.id = $1 FOR UPDATE");
        let current = match query_opt(&tx, &sql, &[&id.as_uuid()]).await? {
            Some(r) => application_from_row(&r)?,
            None => return Err(StoreError::NotFound("application")),
        };
        if current.kind != app.kind {
            return Err(StoreError::Conflict {
                field: "kind",
                message: format!(
                    "an application's kind cannot be changed (it is {})",
                    current.kind
                ),
            });
        }
        execute(
            &tx,
            "UPDATE applications SET name = $2, description = $3, enabled = $4, oidc = $5, \
             updated_at = $6, saml = $8, \
             client_secret_hash = CASE WHEN $7 THEN client_secret_hash END \
             WHERE id = $1",
            &[
                &id.as_uuid(),
                &app.name.as_str(),
                &app.description.as_str(),
                &app.enabled,
                &oidc,
                &now,
                &keeps_secret(app.oidc.as_ref()),
                &saml,
            ],
        )
        .await?;
        insert_audit(&tx, &events::application(actor, "update", id)).await?;
        tx.commit().await.map_err(pg_err)?;
        Ok(Application {
            id,
            name: app.name,
            description: app.description,
            kind: current.kind,
            enabled: app.enabled,
            oidc: app.oidc,
            saml: app.saml,
            created_at: current.created_at,
            updated_at: now,
        })
    }

    async fn delete_application(&self, actor: Actor, id: ApplicationId) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        let n = execute(
            &tx,
            "DELETE FROM applications WHERE id = $1",
            &[&id.as_uuid()],
        )
        .await?;
        if n == 0 {
            return Err(StoreError::NotFound("application"));
        }
        // What people allowed the application goes with it.
        execute(
            &tx,
            "DELETE FROM oidc_consents WHERE client_id = $1",
            &[&id.to_string()],
        )
        .await?;
        insert_audit(&tx, &events::application(actor, "delete", id)).await?;
        tx.commit().await.map_err(pg_err)
    }

    async fn assign_application(&self, actor: Actor, a: ApplicationAssignment) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        if !exists(
            &tx,
            "SELECT 1 FROM applications WHERE id = $1 FOR KEY SHARE",
            &[&a.application_id.as_uuid()],
        )
        .await?
        {
            return Err(StoreError::InvalidReference {
                field: "applicationId",
                entity: "application",
            });
        }
        check_principal(&tx, &a.principal).await?;
        let (user_id, group_id) = principal_columns(&a.principal);
        execute(
            &tx,
            "INSERT INTO application_assignments (application_id, user_id, group_id, created_at) \
             VALUES ($1, $2, $3, $4)",
            &[
                &a.application_id.as_uuid(),
                &user_id,
                &group_id,
                &now_millis(),
            ],
        )
        .await?;
        insert_audit(&tx, &events::application_assignment(actor, "create", &a)).await?;
        tx.commit().await.map_err(pg_err)
    }

    async fn unassign_application(&self, actor: Actor, a: ApplicationAssignment) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        let sql = match a.principal {
            Principal::User(_) => {
                "DELETE FROM application_assignments WHERE application_id = $1 AND user_id = $2"
            }
            Principal::Group(_) => {
                "DELETE FROM application_assignments WHERE application_id = $1 AND group_id = $2"
            }
        };
        let n = execute(
            &tx,
            sql,
            &[&a.application_id.as_uuid(), &a.principal.uuid()],
        )
        .await?;
        if n == 0 {
            return Err(StoreError::NotFound("assignment"));
        }
        insert_audit(&tx, &events::application_assignment(actor, "delete", &a)).await?;
        tx.commit().await.map_err(pg_err)
    }

    async fn list_application_assignments(&self, app: ApplicationId) -> Result<Vec<Principal>> {
        let client = self.client().await?;
        let rows = query(
            &client,
            "SELECT user_id, group_id FROM application_assignments WHERE application_id = $1 \
             ORDER BY (user_id IS NULL), COALESCE(user_id, group_id)",
            &[&app.as_uuid()],
        )
        .await?;
        if rows.is_empty()
            && !exists(
                &client,
                "SELECT 1 FROM applications WHERE id = $1",
                &[&app.as_uuid()],
            )
            .await?
        {
            return Err(StoreError::NotFound("application"));
        }
        rows.iter().map(principal_from_row).collect()
    }

    async fn user_applications(&self, user: UserId) -> Result<Vec<Application>> {
        let client = self.client().await?;
        let sql = format!(
            "SELECT {APP_COLS} FROM applications ap WHERE ap.enabled AND ap.id IN ( \
                 SELECT aa.application_id FROM application_assignments aa \
                 WHERE aa.user_id = $1 \
                    OR aa.group_id = ANY (ARRAY( \
                        SELECT m.group_id FROM group_members m WHERE m.user_id = $1))) \
             ORDER BY lower(ap.name) COLLATE \"C\", ap.id"
        );
        let rows = query(&client, &sql, &[&user.as_uuid()]).await?;
        rows.iter().map(application_from_row).collect()
    }

    async fn set_client_secret(
        &self,
        actor: Actor,
        id: ApplicationId,
        hash: Vec<u8>,
    ) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        let sql = format!("SELECT {APP_COLS} FROM applications ap WHERE ap.id = $1 FOR UPDATE");
        let current = match query_opt(&tx, &sql, &[&id.as_uuid()]).await? {
            Some(r) => application_from_row(&r)?,
            None => return Err(StoreError::NotFound("application")),
        };
        check_secret_holder(current.kind, current.oidc.as_ref())?;
        execute(
            &tx,
            "UPDATE applications SET client_secret_hash = $2 WHERE id = $1",
            &[&id.as_uuid(), &hash],
        )
        .await?;
        insert_audit(&tx, &events::client_secret(actor, id)).await?;
        tx.commit().await.map_err(pg_err)
    }

    async fn client_secret_hash(&self, id: ApplicationId) -> Result<Option<Vec<u8>>> {
        let client = self.client().await?;
        match query_opt(
            &client,
            "SELECT client_secret_hash FROM applications WHERE id = $1",
            &[&id.as_uuid()],
        )
        .await?
        {
            Some(r) => col(&r, "client_secret_hash"),
            None => Err(StoreError::NotFound("application")),
        }
    }

    async fn set_application_icon(
        &self,
        actor: Actor,
        id: ApplicationId,
        content_type: String,
        body: Vec<u8>,
    ) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        if !exists(
            &tx,
            "SELECT 1 FROM applications WHERE id = $1 FOR KEY SHARE",
            &[&id.as_uuid()],
        )
        .await?
        {
            return Err(StoreError::NotFound("application"));
        }
        execute(
            &tx,
            "INSERT INTO application_icons (application_id, content_type, body, updated_at) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (application_id) DO UPDATE \
             SET content_type = EXCLUDED.content_type, body = EXCLUDED.body, \
                 updated_at = EXCLUDED.updated_at",
            &[&id.as_uuid(), &content_type, &body, &now_millis()],
        )
        .await?;
        let event = events::application_icon(actor, "set", id, Some((&content_type, body.len())));
        insert_audit(&tx, &event).await?;
        tx.commit().await.map_err(pg_err)
    }

    async fn delete_application_icon(&self, actor: Actor, id: ApplicationId) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        let n = execute(
            &tx,
            "DELETE FROM application_icons WHERE application_id = $1",
            &[&id.as_uuid()],
        )
        .await?;
        if n == 0 {
            return Err(StoreError::NotFound("icon"));
        }
        insert_audit(&tx, &events::application_icon(actor, "delete", id, None)).await?;
        tx.commit().await.map_err(pg_err)
    }

    async fn get_application_icon(&self, id: ApplicationId) -> Result<Option<(String, Vec<u8>)>> {
        let client = self.client().await?;
        query_opt(
            &client,
            "SELECT content_type, body FROM application_icons WHERE application_id = $1",
            &[&id.as_uuid()],
        )
        .await?
        .map(|r| Ok((col(&r, "content_type")?, col(&r, "body")?)))
        .transpose()
    }

    async fn application_icon_ids(&self, ids: &[ApplicationId]) -> Result<HashSet<ApplicationId>> {
        if ids.is_empty() {
            return Ok(HashSet::new());
        }
        let ids: Vec<Uuid> = ids.iter().map(|id| id.as_uuid()).collect();
        let client = self.client().await?;
        let rows = query(
            &client,
            "SELECT application_id FROM application_icons WHERE application_id = ANY ($1)",
            &[&ids],
        )
        .await?;
        rows.iter()
            .map(|r| Ok(ApplicationId::from_uuid(col(r, "application_id")?)))
            .collect()
    }
}

//! People: `UserStore` for PostgreSQL.

use async_trait::async_trait;
use portcullis_domain::{
    Actor, DisplayName, Email, NewUser, Page, PageRequest, PersonName, User, UserAttributes,
    UserId, UserName, UserPatch,
};
use tokio_postgres::Row;

use super::{
    PostgresDirectory, col, execute, insert_audit, keyed_page, limit, opt_parsed, parsed, pg_err,
    query, query_opt,
};
use crate::types::now_millis;
use crate::{Result, StoreError, UserStore, events};

/// The user columns (table alias `u`) plus the sort key.
pub(super) const USER_COLS: &str = "u.id, u.user_name, u.email, u.display_name, u.given_name, \
     u.family_name, u.enabled, u.created_at, u.updated_at, u.attributes, \
     lower(u.user_name) AS sort_key";

pub(super) fn user_from_row(r: &Row) -> Result<User> {
    Ok(User {
        id: UserId::from_uuid(col(r, "id")?),
        user_name: parsed("user_name", UserName::parse(col::<String>(r, "user_name")?))?,
        email: parsed("email", Email::parse(col::<String>(r, "email")?))?,
        display_name: parsed(
            "display_name",
            DisplayName::parse(col::<String>(r, "display_name")?),
        )?,
        given_name: opt_parsed(r, "given_name", PersonName::parse)?,
        family_name: opt_parsed(r, "family_name", PersonName::parse)?,
        enabled: col(r, "enabled")?,
        created_at: col(r, "created_at")?,
        updated_at: col(r, "updated_at")?,
        attributes: serde_json::from_value(col(r, "attributes")?)
            .map_err(|e| StoreError::Corrupt(format!("users.attributes: {e}")))?,
    })
}

/// The `attributes` column's JSON.
fn attributes_json(a: &UserAttributes) -> Result<serde_json::Value> {
    serde_json::to_value(a).map_err(|e| StoreError::Corrupt(format!("users.attributes: {e}")))
}

/// A user with its page key (the lower-cased user name).
pub(super) fn keyed_user(r: &Row) -> Result<(String, User)> {
    Ok((col(r, "sort_key")?, user_from_row(r)?))
}

const SELECT_BY_ID: &str = "SELECT u.id, u.user_name, u.email, u.display_name, u.given_name, \
     u.family_name, u.enabled, u.created_at, u.updated_at, u.attributes, \
     lower(u.user_name) AS sort_key FROM users u WHERE u.id = $1";

#[async_trait]
impl UserStore for PostgresDirectory {
    async fn create_user(&self, actor: Actor, user: NewUser) -> Result<User> {
        let now = now_millis();
        let created = User {
            id: UserId::new(),
            user_name: user.user_name,
            email: user.email,
            display_name: user.display_name,
            given_name: user.given_name,
            family_name: user.family_name,
            enabled: user.enabled,
            created_at: now,
            updated_at: now,
            attributes: user.attributes,
        };
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        execute(
            &tx,
            "INSERT INTO users (id, user_name, email, display_name, given_name, family_name, \
             enabled, created_at, updated_at, attributes) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9)",
            &[
                &created.id.as_uuid(),
                &created.user_name.as_str(),
                &created.email.as_str(),
                &created.display_name.as_str(),
                &created.given_name.as_ref().map(PersonName::as_str),
                &created.family_name.as_ref().map(PersonName::as_str),
                &created.enabled,
                &now,
                &attributes_json(&created.attributes)?,
            ],
        )
        .await?;
        insert_audit(&tx, &events::user(actor, "create", created.id)).await?;
        tx.commit().await.map_err(pg_err)?;
        Ok(created)
    }

    async fn get_user(&self, id: UserId) -> Result<User> {
        let client = self.client().await?;
        match query_opt(&client, SELECT_BY_ID, &[&id.as_uuid()]).await? {
            Some(r) => user_from_row(&r),
            None => Err(StoreError::NotFound("user")),
        }
    }

    async fn find_user_by_name(&self, name: &UserName) -> Result<Option<User>> {
        let client = self.client().await?;
        let row = query_opt(
            &client,
            "SELECT u.id, u.user_name, u.email, u.display_name, u.given_name, u.family_name, \
             u.enabled, u.created_at, u.updated_at, u.attributes, lower(u.user_name) AS sort_key \
             FROM users u WHERE lower(u.user_name) COLLATE \"C\" = lower($1) COLLATE \"C\"",
            &[&name.as_str()],
        )
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn list_users(&self, page: PageRequest) -> Result<Page<User>> {
        let client = self.client().await?;
        let n = limit(page.size);
        let rows = match &page.after {
            None => {
                let sql = format!(
                    "SELECT {USER_COLS} FROM users u \
                     ORDER BY lower(u.user_name) COLLATE \"C\" LIMIT $1"
                );
                query(&client, &sql, &[&n]).await?
            }
            Some(after) => {
                let sql = format!(
                    "SELECT {USER_COLS} FROM users u WHERE lower(u.user_name) COLLATE \"C\" > $1 \
                     ORDER BY lower(u.user_name) COLLATE \"C\" LIMIT $2"
                );
                query(&client, &sql, &[after, &n]).await?
            }
        };
        let rows = rows.iter().map(keyed_user).collect::<Result<Vec<_>>>()?;
        Ok(keyed_page(rows, page.size))
    }

    async fn update_user(&self, actor: Actor, id: UserId, patch: UserPatch) -> Result<User> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        let current =
            match query_opt(&tx, &format!("{SELECT_BY_ID} FOR UPDATE"), &[&id.as_uuid()]).await? {
                Some(r) => user_from_row(&r)?,
                None => return Err(StoreError::NotFound("user")),
            };
        let mut updated = patch.apply(&current);
        updated.updated_at = now_millis();
        execute(
            &tx,
            "UPDATE users SET user_name = $2, email = $3, display_name = $4, given_name = $5, \
             family_name = $6, enabled = $7, updated_at = $8, attributes = $9 WHERE id = $1",
            &[
                &id.as_uuid(),
                &updated.user_name.as_str(),
                &updated.email.as_str(),
                &updated.display_name.as_str(),
                &updated.given_name.as_ref().map(PersonName::as_str),
                &updated.family_name.as_ref().map(PersonName::as_str),
                &updated.enabled,
                &updated.updated_at,
                &attributes_json(&updated.attributes)?,
            ],
        )
        .await?;
        insert_audit(&tx, &events::user(actor, "update", id)).await?;
        tx.commit().await.map_err(pg_err)?;
        Ok(updated)
    }

    async fn delete_user(&self, actor: Actor, id: UserId) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        let n = execute(&tx, "DELETE FROM users WHERE id = $1", &[&id.as_uuid()]).await?;
        if n == 0 {
            return Err(StoreError::NotFound("user"));
        }
        insert_audit(&tx, &events::user(actor, "delete", id)).await?;
        tx.commit().await.map_err(pg_err)
    }
}

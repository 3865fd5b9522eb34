//! People: `UserStore` in SQLite.

use async_trait::async_trait;
use deadpool_sqlite::rusqlite::{Connection, Row, params};
use portcullis_domain::{
    Actor, DisplayName, Email, NewUser, Page, PageRequest, PersonName, User, UserAttributes,
    UserId, UserName, UserPatch,
};

use super::{
    SqliteDirectory, col_parse, col_text, col_text_opt, col_time, conflict, corrupt, exists,
    fold_case, limit, query_all, query_opt,
};
use crate::types::now_millis;
use crate::{Result, StoreError, UserStore, events};

/// The user columns, in the order [`user_row`] reads them.
const USER_COLS: &str = "id, user_name, email, display_name, given_name, family_name, enabled, \
                         created_at, updated_at, attributes";
/// The same, qualified by the alias `u`.
pub(super) const USER_COLS_U: &str = "u.id, u.user_name, u.email, u.display_name, u.given_name, u.family_name, \
                           u.enabled, u.created_at, u.updated_at, u.attributes";

pub(super) fn user_row(row: &Row<'_>) -> Result<User> {
    Ok(User {
        id: col_parse(row, 0, "users.id")?,
        user_name: col_text(row, 1, "users.user_name", UserName::parse)?,
        email: col_text(row, 2, "users.email", Email::parse)?,
        display_name: col_text(row, 3, "users.display_name", DisplayName::parse)?,
        given_name: col_text_opt(row, 4, "users.given_name", PersonName::parse)?,
        family_name: col_text_opt(row, 5, "users.family_name", PersonName::parse)?,
        enabled: row.get(6)?,
        created_at: col_time(row, 7)?,
        updated_at: col_time(row, 8)?,
        attributes: {
            let text: String = row.get(9)?;
            serde_json::from_str(&text).map_err(|e| corrupt("users.attributes", e))?
        },
    })
}

/// The `attributes` column's JSON.
fn attributes_text(a: &UserAttributes) -> Result<String> {
    serde_json::to_string(a).map_err(|e| StoreError::Corrupt(format!("users.attributes: {e}")))
}

/// The page key of a user (and of a member): the user name lower-cased as `lower()` does (the
/// backend's Unicode-aware override).
pub(super) fn user_key(u: &User) -> String {
    fold_case(u.user_name.as_str())
}

fn load_user(conn: &Connection, id: UserId) -> Result<Option<User>> {
    query_opt(
        conn,
        &format!("SELECT {USER_COLS} FROM users WHERE id = ?1"),
        [id.to_string()],
        user_row,
    )
}

/// Refuses a user name or email another user (not `id`) already has.
fn check_user_unique(conn: &Connection, id: UserId, name: &UserName, email: &Email) -> Result<()> {
    if exists(
        conn,
        "SELECT 1 FROM users WHERE lower(user_name) = lower(?1) AND id <> ?2",
        params![name.as_str(), id.to_string()],
    )? {
        return Err(conflict(
            "userName",
            "a user with this userName already exists",
        ));
    }
    if exists(
        conn,
        "SELECT 1 FROM users WHERE lower(email) = lower(?1) AND id <> ?2",
        params![email.as_str(), id.to_string()],
    )? {
        return Err(conflict("email", "a user with this email already exists"));
    }
    Ok(())
}

pub(super) fn user_exists(conn: &Connection, id: UserId) -> Result<bool> {
    exists(conn, "SELECT 1 FROM users WHERE id = ?1", [id.to_string()])
}

#[async_trait]
impl UserStore for SqliteDirectory {
    async fn create_user(&self, actor: Actor, user: NewUser) -> Result<User> {
        self.write(move |tx| {
            let id = UserId::new();
            check_user_unique(tx, id, &user.user_name, &user.email)?;
            let now = now_millis();
            tx.prepare_cached(
                "INSERT INTO users (id, user_name, email, display_name, given_name, family_name, \
                 enabled, created_at, updated_at, attributes) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9)",
            )?
            .execute(params![
                id.to_string(),
                user.user_name.as_str(),
                user.email.as_str(),
                user.display_name.as_str(),
                user.given_name.as_ref().map(PersonName::as_str),
                user.family_name.as_ref().map(PersonName::as_str),
                user.enabled,
                now.timestamp_millis(),
                attributes_text(&user.attributes)?,
            ])?;
            let created = User {
                id,
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
            Ok((created, events::user(actor, "create", id)))
        })
        .await
    }

    async fn get_user(&self, id: UserId) -> Result<User> {
        self.read(move |conn| load_user(conn, id)?.ok_or(StoreError::NotFound("user")))
            .await
    }

    async fn find_user_by_name(&self, name: &UserName) -> Result<Option<User>> {
        let name = name.as_str().to_owned();
        self.read(move |conn| {
            query_opt(
                conn,
                &format!("SELECT {USER_COLS} FROM users WHERE lower(user_name) = lower(?1)"),
                [name],
                user_row,
            )
        })
        .await
    }

    async fn list_users(&self, page: PageRequest) -> Result<Page<User>> {
        self.read(move |conn| {
            let rows = match &page.after {
                None => query_all(
                    conn,
                    &format!("SELECT {USER_COLS} FROM users ORDER BY lower(user_name) LIMIT ?1"),
                    [limit(&page)],
                    user_row,
                )?,
                Some(after) => query_all(
                    conn,
                    &format!(
                        "SELECT {USER_COLS} FROM users WHERE lower(user_name) > ?1 \
                         ORDER BY lower(user_name) LIMIT ?2"
                    ),
                    params![after, limit(&page)],
                    user_row,
                )?,
            };
            Ok(Page::from_rows(rows, page.size, user_key))
        })
        .await
    }

    async fn update_user(&self, actor: Actor, id: UserId, patch: UserPatch) -> Result<User> {
        self.write(move |tx| {
            let current = load_user(tx, id)?.ok_or(StoreError::NotFound("user"))?;
            let mut updated = patch.apply(&current);
            check_user_unique(tx, id, &updated.user_name, &updated.email)?;
            updated.updated_at = now_millis();
            tx.prepare_cached(
                "UPDATE users SET user_name = ?2, email = ?3, display_name = ?4, given_name = ?5, \
                 family_name = ?6, enabled = ?7, updated_at = ?8, attributes = ?9 WHERE id = ?1",
            )?
            .execute(params![
                id.to_string(),
                updated.user_name.as_str(),
                updated.email.as_str(),
                updated.display_name.as_str(),
                updated.given_name.as_ref().map(PersonName::as_str),
                updated.family_name.as_ref().map(PersonName::as_str),
                updated.enabled,
                updated.updated_at.timestamp_millis(),
                attributes_text(&updated.attributes)?,
            ])?;
            Ok((updated, events::user(actor, "update", id)))
        })
        .await
    }

    async fn delete_user(&self, actor: Actor, id: UserId) -> Result<()> {
        self.write(move |tx| {
            let n = tx
                .prepare_cached("DELETE FROM users WHERE id = ?1")?
                .execute([id.to_string()])?;
            if n == 0 {
                return Err(StoreError::NotFound("user"));
            }
            Ok(((), events::user(actor, "delete", id)))
        })
        .await
    }
}

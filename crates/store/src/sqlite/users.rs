//! Users, groups and group membership in SQLite.

use async_trait::async_trait;
use deadpool_sqlite::rusqlite::{Connection, Row, params};
use portcullis_domain::{
    Actor, Description, DisplayName, Email, Group, GroupId, NewGroup, NewUser, Page, PageRequest,
    PersonName, User, UserId, UserName, UserPatch,
};

use super::{
    SqliteDirectory, col_parse, col_text, col_text_opt, col_time, conflict, exists, fold_case,
    limit, query_all, query_opt,
};
use crate::types::now_millis;
use crate::{GroupStore, Result, StoreError, UserStore, events};

/// The user columns, in the order [`user_row`] reads them.
const USER_COLS: &str =
    "id, user_name, email, display_name, given_name, family_name, enabled, created_at, updated_at";
/// The same, qualified by the alias `u`.
const USER_COLS_U: &str = "u.id, u.user_name, u.email, u.display_name, u.given_name, u.family_name, \
                           u.enabled, u.created_at, u.updated_at";

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
    })
}

/// The group columns, in the order [`group_row`] reads them.
const GROUP_COLS: &str = "id, name, description, created_at, updated_at";
const GROUP_COLS_G: &str = "g.id, g.name, g.description, g.created_at, g.updated_at";

pub(super) fn group_row(row: &Row<'_>) -> Result<Group> {
    Ok(Group {
        id: col_parse(row, 0, "groups.id")?,
        name: col_text(row, 1, "groups.name", DisplayName::parse)?,
        description: col_text(row, 2, "groups.description", Description::parse)?,
        created_at: col_time(row, 3)?,
        updated_at: col_time(row, 4)?,
    })
}

/// The page key of a user (and of a member): the user name lower-cased as `lower()` does (the
/// backend's Unicode-aware override).
fn user_key(u: &User) -> String {
    fold_case(u.user_name.as_str())
}

/// The page key of a group: its name lower-cased as `lower()` does (the backend's Unicode-aware
/// override).
fn group_key(g: &Group) -> String {
    fold_case(g.name.as_str())
}

fn load_user(conn: &Connection, id: UserId) -> Result<Option<User>> {
    query_opt(
        conn,
        &format!("SELECT {USER_COLS} FROM users WHERE id = ?1"),
        [id.to_string()],
        user_row,
    )
}

fn load_group(conn: &Connection, id: GroupId) -> Result<Option<Group>> {
    query_opt(
        conn,
        &format!("SELECT {GROUP_COLS} FROM groups WHERE id = ?1"),
        [id.to_string()],
        group_row,
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

/// Refuses a group name another group (not `id`) already has.
fn check_group_unique(conn: &Connection, id: GroupId, name: &DisplayName) -> Result<()> {
    if exists(
        conn,
        "SELECT 1 FROM groups WHERE lower(name) = lower(?1) AND id <> ?2",
        params![name.as_str(), id.to_string()],
    )? {
        return Err(conflict("name", "a group with this name already exists"));
    }
    Ok(())
}

pub(super) fn user_exists(conn: &Connection, id: UserId) -> Result<bool> {
    exists(conn, "SELECT 1 FROM users WHERE id = ?1", [id.to_string()])
}

pub(super) fn group_exists(conn: &Connection, id: GroupId) -> Result<bool> {
    exists(conn, "SELECT 1 FROM groups WHERE id = ?1", [id.to_string()])
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
                 enabled, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
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
                 family_name = ?6, enabled = ?7, updated_at = ?8 WHERE id = ?1",
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

#[async_trait]
impl GroupStore for SqliteDirectory {
    async fn create_group(&self, actor: Actor, group: NewGroup) -> Result<Group> {
        self.write(move |tx| {
            let id = GroupId::new();
            check_group_unique(tx, id, &group.name)?;
            let now = now_millis();
            tx.prepare_cached(
                "INSERT INTO groups (id, name, description, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?4)",
            )?
            .execute(params![
                id.to_string(),
                group.name.as_str(),
                group.description.as_str(),
                now.timestamp_millis(),
            ])?;
            let created = Group {
                id,
                name: group.name,
                description: group.description,
                created_at: now,
                updated_at: now,
            };
            Ok((created, events::group(actor, "create", id)))
        })
        .await
    }

    async fn get_group(&self, id: GroupId) -> Result<Group> {
        self.read(move |conn| load_group(conn, id)?.ok_or(StoreError::NotFound("group")))
            .await
    }

    async fn list_groups(&self, page: PageRequest) -> Result<Page<Group>> {
        self.read(move |conn| {
            let rows = match &page.after {
                None => query_all(
                    conn,
                    &format!("SELECT {GROUP_COLS} FROM groups ORDER BY lower(name) LIMIT ?1"),
                    [limit(&page)],
                    group_row,
                )?,
                Some(after) => query_all(
                    conn,
                    &format!(
                        "SELECT {GROUP_COLS} FROM groups WHERE lower(name) > ?1 \
                         ORDER BY lower(name) LIMIT ?2"
                    ),
                    params![after, limit(&page)],
                    group_row,
                )?,
            };
            Ok(Page::from_rows(rows, page.size, group_key))
        })
        .await
    }

    async fn update_group(&self, actor: Actor, id: GroupId, group: NewGroup) -> Result<Group> {
        self.write(move |tx| {
            let current = load_group(tx, id)?.ok_or(StoreError::NotFound("group"))?;
            check_group_unique(tx, id, &group.name)?;
            let now = now_millis();
            tx.prepare_cached(
                "UPDATE groups SET name = ?2, description = ?3, updated_at = ?4 WHERE id = ?1",
            )?
            .execute(params![
                id.to_string(),
                group.name.as_str(),
                group.description.as_str(),
                now.timestamp_millis(),
            ])?;
            let updated = Group {
                id,
                name: group.name,
                description: group.description,
                created_at: current.created_at,
                updated_at: now,
            };
            Ok((updated, events::group(actor, "update", id)))
        })
        .await
    }

    async fn delete_group(&self, actor: Actor, id: GroupId) -> Result<()> {
        self.write(move |tx| {
            let n = tx
                .prepare_cached("DELETE FROM groups WHERE id = ?1")?
                .execute([id.to_string()])?;
            if n == 0 {
                return Err(StoreError::NotFound("group"));
            }
            Ok(((), events::group(actor, "delete", id)))
        })
        .await
    }

    async fn add_member(&self, actor: Actor, group: GroupId, user: UserId) -> Result<()> {
        self.write(move |tx| {
            if !group_exists(tx, group)? {
                return Err(StoreError::NotFound("group"));
            }
            if !user_exists(tx, user)? {
                return Err(StoreError::InvalidReference {
                    field: "userId",
                    entity: "user",
                });
            }
            tx.prepare_cached(
                "INSERT INTO group_members (group_id, user_id) VALUES (?1, ?2) \
                 ON CONFLICT (group_id, user_id) DO NOTHING",
            )?
            .execute([group.to_string(), user.to_string()])?;
            Ok(((), events::membership(actor, "add", group, user)))
        })
        .await
    }

    async fn remove_member(&self, actor: Actor, group: GroupId, user: UserId) -> Result<()> {
        self.write(move |tx| {
            let n = tx
                .prepare_cached("DELETE FROM group_members WHERE group_id = ?1 AND user_id = ?2")?
                .execute([group.to_string(), user.to_string()])?;
            if n == 0 {
                return Err(StoreError::NotFound("membership"));
            }
            Ok(((), events::membership(actor, "remove", group, user)))
        })
        .await
    }

    async fn list_members(&self, group: GroupId, page: PageRequest) -> Result<Page<User>> {
        self.read(move |conn| {
            if !group_exists(conn, group)? {
                return Err(StoreError::NotFound("group"));
            }
            let rows = query_all(
                conn,
                &format!(
                    "SELECT {USER_COLS_U} FROM group_members m JOIN users u ON u.id = m.user_id \
                     WHERE m.group_id = ?1 AND (?2 IS NULL OR lower(u.user_name) > ?2) \
                     ORDER BY lower(u.user_name) LIMIT ?3"
                ),
                params![group.to_string(), page.after, limit(&page)],
                user_row,
            )?;
            Ok(Page::from_rows(rows, page.size, user_key))
        })
        .await
    }

    async fn list_user_groups(&self, user: UserId) -> Result<Vec<Group>> {
        self.read(move |conn| {
            query_all(
                conn,
                &format!(
                    "SELECT {GROUP_COLS_G} FROM group_members m JOIN groups g ON g.id = m.group_id \
                     WHERE m.user_id = ?1 ORDER BY lower(g.name), g.id"
                ),
                [user.to_string()],
                group_row,
            )
        })
        .await
    }
}

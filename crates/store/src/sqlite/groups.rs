//! Groups and group membership: `GroupStore` in SQLite.

use async_trait::async_trait;
use deadpool_sqlite::rusqlite::{Connection, Row, params};
use portcullis_domain::{
    Actor, Description, DisplayName, Group, GroupId, NewGroup, Page, PageRequest, User, UserId,
};

use super::users::{USER_COLS_U, user_exists, user_key, user_row};
use super::{
    SqliteDirectory, col_parse, col_text, col_time, conflict, exists, fold_case, limit, query_all,
    query_opt,
};
use crate::types::now_millis;
use crate::{GroupStore, Result, StoreError, events};

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

/// The page key of a group: its name lower-cased as `lower()` does (the backend's Unicode-aware
/// override).
fn group_key(g: &Group) -> String {
    fold_case(g.name.as_str())
}

fn load_group(conn: &Connection, id: GroupId) -> Result<Option<Group>> {
    query_opt(
        conn,
        &format!("SELECT {GROUP_COLS} FROM groups WHERE id = ?1"),
        [id.to_string()],
        group_row,
    )
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

pub(super) fn group_exists(conn: &Connection, id: GroupId) -> Result<bool> {
    exists(conn, "SELECT 1 FROM groups WHERE id = ?1", [id.to_string()])
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

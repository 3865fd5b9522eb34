//! Groups and membership: `GroupStore` for PostgreSQL.

use async_trait::async_trait;
use portcullis_domain::{
    Actor, Description, DisplayName, Group, GroupId, NewGroup, Page, PageRequest, User, UserId,
};
use tokio_postgres::Row;

use super::users::{USER_COLS, keyed_user};
use super::{
    PostgresDirectory, col, execute, exists, insert_audit, keyed_page, limit, parsed, pg_err,
    query, query_opt,
};
use crate::types::now_millis;
use crate::{GroupStore, Result, StoreError, events};

const GROUP_COLS: &str =
    "g.id, g.name, g.description, g.created_at, g.updated_at, lower(g.name) AS sort_key";

fn group_from_row(r: &Row) -> Result<Group> {
    Ok(Group {
        id: GroupId::from_uuid(col(r, "id")?),
        name: parsed("name", DisplayName::parse(col::<String>(r, "name")?))?,
        description: parsed(
            "description",
            Description::parse(col::<String>(r, "description")?),
        )?,
        created_at: col(r, "created_at")?,
        updated_at: col(r, "updated_at")?,
    })
}

fn keyed_group(r: &Row) -> Result<(String, Group)> {
    Ok((col(r, "sort_key")?, group_from_row(r)?))
}

const GROUP_EXISTS: &str = "SELECT 1 FROM groups WHERE id = $1";

#[async_trait]
impl GroupStore for PostgresDirectory {
    async fn create_group(&self, actor: Actor, group: NewGroup) -> Result<Group> {
        let now = now_millis();
        let created = Group {
            id: GroupId::new(),
            name: group.name,
            description: group.description,
            created_at: now,
            updated_at: now,
        };
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        execute(
            &tx,
            "INSERT INTO groups (id, name, description, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4)",
            &[
                &created.id.as_uuid(),
                &created.name.as_str(),
                &created.description.as_str(),
                &now,
            ],
        )
        .await?;
        insert_audit(&tx, &events::group(actor, "create", created.id)).await?;
        tx.commit().await.map_err(pg_err)?;
        Ok(created)
    }

    async fn get_group(&self, id: GroupId) -> Result<Group> {
        let client = self.client().await?;
        let sql = format!("SELECT {GROUP_COLS} FROM groups g WHERE g.id = $1");
        match query_opt(&client, &sql, &[&id.as_uuid()]).await? {
            Some(r) => group_from_row(&r),
            None => Err(StoreError::NotFound("group")),
        }
    }

    async fn list_groups(&self, page: PageRequest) -> Result<Page<Group>> {
        let client = self.client().await?;
        let n = limit(page.size);
        let rows = match &page.after {
            None => {
                let sql = format!(
                    "SELECT {GROUP_COLS} FROM groups g ORDER BY lower(g.name) COLLATE \"C\" LIMIT $1"
                );
                query(&client, &sql, &[&n]).await?
            }
            Some(after) => {
                let sql = format!(
                    "SELECT {GROUP_COLS} FROM groups g WHERE lower(g.name) COLLATE \"C\" > $1 \
                     ORDER BY lower(g.name) COLLATE \"C\" LIMIT $2"
                );
                query(&client, &sql, &[after, &n]).await?
            }
        };
        let rows = rows.iter().map(keyed_group).collect::<Result<Vec<_>>>()?;
        Ok(keyed_page(rows, page.size))
    }

    async fn update_group(&self, actor: Actor, id: GroupId, group: NewGroup) -> Result<Group> {
        let now = now_millis();
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        let row = query_opt(
            &tx,
            "UPDATE groups SET name = $2, description = $3, updated_at = $4 WHERE id = $1 \
             RETURNING created_at",
            &[
                &id.as_uuid(),
                &group.name.as_str(),
                &group.description.as_str(),
                &now,
            ],
        )
        .await?;
        let Some(row) = row else {
            return Err(StoreError::NotFound("group"));
        };
        let created_at = col(&row, "created_at")?;
        insert_audit(&tx, &events::group(actor, "update", id)).await?;
        tx.commit().await.map_err(pg_err)?;
        Ok(Group {
            id,
            name: group.name,
            description: group.description,
            created_at,
            updated_at: now,
        })
    }

    async fn delete_group(&self, actor: Actor, id: GroupId) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        let n = execute(&tx, "DELETE FROM groups WHERE id = $1", &[&id.as_uuid()]).await?;
        if n == 0 {
            return Err(StoreError::NotFound("group"));
        }
        insert_audit(&tx, &events::group(actor, "delete", id)).await?;
        tx.commit().await.map_err(pg_err)
    }

    async fn add_member(&self, actor: Actor, group: GroupId, user: UserId) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        if !exists(
            &tx,
            "SELECT 1 FROM groups WHERE id = $1 FOR KEY SHARE",
            &[&group.as_uuid()],
        )
        .await?
        {
            return Err(StoreError::NotFound("group"));
        }
        if !exists(
            &tx,
            "SELECT 1 FROM users WHERE id = $1 FOR KEY SHARE",
            &[&user.as_uuid()],
        )
        .await?
        {
            return Err(StoreError::InvalidReference {
                field: "userId",
                entity: "user",
            });
        }
        execute(
            &tx,
            "INSERT INTO group_members (group_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&group.as_uuid(), &user.as_uuid()],
        )
        .await?;
        insert_audit(&tx, &events::membership(actor, "add", group, user)).await?;
        tx.commit().await.map_err(pg_err)
    }

    async fn remove_member(&self, actor: Actor, group: GroupId, user: UserId) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        let n = execute(
            &tx,
            "DELETE FROM group_members WHERE group_id = $1 AND user_id = $2",
            &[&group.as_uuid(), &user.as_uuid()],
        )
        .await?;
        if n == 0 {
            return Err(StoreError::NotFound("membership"));
        }
        insert_audit(&tx, &events::membership(actor, "remove", group, user)).await?;
        tx.commit().await.map_err(pg_err)
    }

    async fn list_members(&self, group: GroupId, page: PageRequest) -> Result<Page<User>> {
        let client = self.client().await?;
        let n = limit(page.size);
        let rows = match &page.after {
            None => {
                let sql = format!(
                    "SELECT {USER_COLS} FROM group_members m JOIN users u ON u.id = m.user_id \
                     WHERE m.group_id = $1 ORDER BY lower(u.user_name) COLLATE \"C\" LIMIT $2"
                );
                query(&client, &sql, &[&group.as_uuid(), &n]).await?
            }
            Some(after) => {
                let sql = format!(
                    "SELECT {USER_COLS} FROM group_members m JOIN users u ON u.id = m.user_id \
                     WHERE m.group_id = $1 AND lower(u.user_name) COLLATE \"C\" > $2 \
                     ORDER BY lower(u.user_name) COLLATE \"C\" LIMIT $3"
                );
                query(&client, &sql, &[&group.as_uuid(), after, &n]).await?
            }
        };
        if rows.is_empty() && !exists(&client, GROUP_EXISTS, &[&group.as_uuid()]).await? {
            return Err(StoreError::NotFound("group"));
        }
        let rows = rows.iter().map(keyed_user).collect::<Result<Vec<_>>>()?;
        Ok(keyed_page(rows, page.size))
    }

    async fn list_user_groups(&self, user: UserId) -> Result<Vec<Group>> {
        let client = self.client().await?;
        let sql = format!(
            "SELECT {GROUP_COLS} FROM group_members m JOIN groups g ON g.id = m.group_id \
             WHERE m.user_id = $1 ORDER BY lower(g.name) COLLATE \"C\", g.id"
        );
        let rows = query(&client, &sql, &[&user.as_uuid()]).await?;
        rows.iter().map(group_from_row).collect()
    }
}

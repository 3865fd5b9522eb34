//! Accounts, permission sets and account assignments in SQLite.

use async_trait::async_trait;
use deadpool_sqlite::rusqlite::types::Value;
use deadpool_sqlite::rusqlite::{Connection, Row, params, params_from_iter};
use portcullis_domain::{
    Account, AccountAssignment, AccountId, AccountKind, Actor, ConsoleUrl, Description,
    DisplayName, Email, NewAccount, NewPermissionSet, Page, PageRequest, PermissionSet,
    PermissionSetDuration, PermissionSetId, Principal, PrincipalType, RoleName, UserId,
};

use super::groups::group_exists;
use super::users::user_exists;
use super::{
    SqliteDirectory, col_parse, col_text, col_text_opt, col_time, conflict, corrupt, exists, limit,
    query_all, query_opt,
};
use crate::types::{aws_from_json, aws_to_json, now_millis, policies_from_json, policies_to_json};
use crate::{
    AccountStore, AssignmentFilter, AssignmentStore, Entitlement, PermissionSetStore, Result,
    StoreError, events,
};

const ACCOUNT_COLS: &str = "id, name, email, console_url, created_at, updated_at, aws";

fn account_row(row: &Row<'_>) -> Result<Account> {
    Ok(Account {
        id: col_text(row, 0, "accounts.id", AccountId::parse)?,
        name: col_text(row, 1, "accounts.name", DisplayName::parse)?,
        email: col_text(row, 2, "accounts.email", Email::parse)?,
        console_url: col_text_opt(row, 3, "accounts.console_url", ConsoleUrl::parse)?,
        created_at: col_time(row, 4)?,
        updated_at: col_time(row, 5)?,
        kind: col_aws(row, 6)?,
    })
}

/// The nullable `aws` JSON text column: absent for a native account.
fn col_aws(row: &Row<'_>, idx: usize) -> Result<AccountKind> {
    let text: Option<String> = row.get(idx)?;
    aws_from_json(
        text.map(|t| serde_json::from_str(&t).map_err(|e| corrupt("accounts.aws", e)))
            .transpose()?,
    )
}

/// The `aws` column's value for `kind`.
fn aws_text(kind: &AccountKind) -> Result<Option<String>> {
    Ok(aws_to_json(kind)?.map(|v| v.to_string()))
}

const PERMISSION_SET_COLS: &str =
    "id, name, description, session_duration_seconds, created_at, updated_at, policies";

fn permission_set_row(row: &Row<'_>) -> Result<PermissionSet> {
    let seconds: i64 = row.get(3)?;
    let session_duration = u64::try_from(seconds)
        .map_err(|e| corrupt("permission_sets.session_duration_seconds", e))
        .and_then(|s| {
            PermissionSetDuration::from_seconds(s)
                .map_err(|e| corrupt("permission_sets.session_duration_seconds", e))
        })?;
    Ok(PermissionSet {
        id: col_parse(row, 0, "permission_sets.id")?,
        name: col_text(row, 1, "permission_sets.name", RoleName::parse)?,
        description: col_text(row, 2, "permission_sets.description", Description::parse)?,
        session_duration,
        created_at: col_time(row, 4)?,
        updated_at: col_time(row, 5)?,
        policies: policies_from_json(
            serde_json::from_str(&row.get::<_, String>(6)?)
                .map_err(|e| corrupt("permission_sets.policies", e))?,
        )?,
    })
}

fn duration_param(d: PermissionSetDuration) -> i64 {
    // At most 12 hours: always fits.
    i64::try_from(d.seconds()).unwrap_or(i64::MAX)
}

fn load_account(conn: &Connection, id: &AccountId) -> Result<Option<Account>> {
    query_opt(
        conn,
        &format!("SELECT {ACCOUNT_COLS} FROM accounts WHERE id = ?1"),
        [id.as_str()],
        account_row,
    )
}

fn load_permission_set(conn: &Connection, id: PermissionSetId) -> Result<Option<PermissionSet>> {
    query_opt(
        conn,
        &format!("SELECT {PERMISSION_SET_COLS} FROM permission_sets WHERE id = ?1"),
        [id.to_string()],
        permission_set_row,
    )
}

fn check_permission_set_unique(
    conn: &Connection,
    id: PermissionSetId,
    name: &RoleName,
) -> Result<()> {
    if exists(
        conn,
        "SELECT 1 FROM permission_sets WHERE name = ?1 AND id <> ?2",
        params![name.as_str(), id.to_string()],
    )? {
        return Err(conflict(
            "name",
            "a permission set with this name already exists",
        ));
    }
    Ok(())
}

/// `InvalidReference { field: "principalId" }` unless the principal exists.
pub(super) fn check_principal(conn: &Connection, principal: Principal) -> Result<()> {
    let (found, entity) = match principal {
        Principal::User(id) => (user_exists(conn, id)?, "user"),
        Principal::Group(id) => (group_exists(conn, id)?, "group"),
    };
    if found {
        Ok(())
    } else {
        Err(StoreError::InvalidReference {
            field: "principalId",
            entity,
        })
    }
}

/// The `(user_id, group_id)` column values of a principal.
pub(super) fn principal_columns(principal: Principal) -> (Option<String>, Option<String>) {
    match principal {
        Principal::User(id) => (Some(id.to_string()), None),
        Principal::Group(id) => (None, Some(id.to_string())),
    }
}

/// A principal from its `(user_id, group_id)` columns at `idx` and `idx + 1`.
pub(super) fn principal_row(row: &Row<'_>, idx: usize, what: &str) -> Result<Principal> {
    let user: Option<String> = row.get(idx)?;
    let group: Option<String> = row.get(idx + 1)?;
    match (user, group) {
        (Some(u), None) => u.parse().map(Principal::User).map_err(|e| corrupt(what, e)),
        (None, Some(g)) => g
            .parse()
            .map(Principal::Group)
            .map_err(|e| corrupt(what, e)),
        _ => Err(corrupt(
            what,
            "exactly one of user_id and group_id must be set",
        )),
    }
}

/// Assignments with their principal as (type, id) columns, so they can be ordered and compared
/// as the page key says.
const ASSIGNMENTS_VIEW: &str = "SELECT account_id, permission_set_id, \
     CASE WHEN user_id IS NOT NULL THEN 'USER' ELSE 'GROUP' END AS principal_type, \
     coalesce(user_id, group_id) AS principal_id FROM account_assignments";

fn assignment_row(row: &Row<'_>) -> Result<AccountAssignment> {
    let kind: PrincipalType = col_parse(row, 2, "account_assignments principal type")?;
    let id: uuid::Uuid = col_parse(row, 3, "account_assignments principal id")?;
    Ok(AccountAssignment {
        account_id: col_text(row, 0, "account_assignments.account_id", AccountId::parse)?,
        permission_set_id: col_parse(row, 1, "account_assignments.permission_set_id")?,
        principal: Principal::from_parts(kind, id),
    })
}

fn assignment_key(a: &AccountAssignment) -> String {
    format!(
        "{}/{}/{}/{}",
        a.account_id,
        a.permission_set_id,
        a.principal.principal_type(),
        a.principal.uuid()
    )
}

#[async_trait]
impl AccountStore for SqliteDirectory {
    async fn create_account(&self, actor: Actor, account: NewAccount) -> Result<Account> {
        self.write(move |tx| {
            if exists(
                tx,
                "SELECT 1 FROM accounts WHERE id = ?1",
                [account.id.as_str()],
            )? {
                return Err(conflict(
                    "accountId",
                    "an account with this accountId already exists",
                ));
            }
            let now = now_millis();
            tx.prepare_cached(
                "INSERT INTO accounts (id, name, email, console_url, created_at, updated_at, aws) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
            )?
            .execute(params![
                account.id.as_str(),
                account.name.as_str(),
                account.email.as_str(),
                account.console_url.as_ref().map(ConsoleUrl::as_str),
                now.timestamp_millis(),
                aws_text(&account.kind)?,
            ])?;
            let event = events::account(actor, "create", &account.id);
            let created = Account {
                id: account.id,
                name: account.name,
                email: account.email,
                console_url: account.console_url,
                created_at: now,
                updated_at: now,
                kind: account.kind,
            };
            Ok((created, event))
        })
        .await
    }

    async fn get_account(&self, id: &AccountId) -> Result<Account> {
        let id = id.clone();
        self.read(move |conn| load_account(conn, &id)?.ok_or(StoreError::NotFound("account")))
            .await
    }

    async fn get_accounts(&self, ids: &[AccountId]) -> Result<Vec<Account>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // One statement over a JSON array of the ids: no SQL built from values.
        let ids = serde_json::to_string(&ids.iter().map(AccountId::as_str).collect::<Vec<_>>())
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.read(move |conn| {
            query_all(
                conn,
                &format!(
                    "SELECT {ACCOUNT_COLS} FROM accounts \
                     WHERE id IN (SELECT value FROM json_each(?1)) ORDER BY id"
                ),
                [ids],
                account_row,
            )
        })
        .await
    }

    async fn list_accounts(&self, page: PageRequest) -> Result<Page<Account>> {
        self.read(move |conn| {
            let rows = query_all(
                conn,
                &format!(
                    "SELECT {ACCOUNT_COLS} FROM accounts WHERE (?1 IS NULL OR id > ?1) \
                     ORDER BY id LIMIT ?2"
                ),
                params![page.after, limit(&page)],
                account_row,
            )?;
            Ok(Page::from_rows(rows, page.size, |a| a.id.to_string()))
        })
        .await
    }

    async fn update_account(&self, actor: Actor, account: NewAccount) -> Result<Account> {
        self.write(move |tx| {
            let current = load_account(tx, &account.id)?.ok_or(StoreError::NotFound("account"))?;
            let now = now_millis();
            tx.prepare_cached(
                "UPDATE accounts SET name = ?2, email = ?3, console_url = ?4, updated_at = ?5, \
                 aws = ?6 WHERE id = ?1",
            )?
            .execute(params![
                account.id.as_str(),
                account.name.as_str(),
                account.email.as_str(),
                account.console_url.as_ref().map(ConsoleUrl::as_str),
                now.timestamp_millis(),
                aws_text(&account.kind)?,
            ])?;
            let event = events::account(actor, "update", &account.id);
            let updated = Account {
                id: account.id,
                name: account.name,
                email: account.email,
                console_url: account.console_url,
                created_at: current.created_at,
                updated_at: now,
                kind: account.kind,
            };
            Ok((updated, event))
        })
        .await
    }

    async fn delete_account(&self, actor: Actor, id: &AccountId) -> Result<()> {
        let id = id.clone();
        self.write(move |tx| {
            let n = tx
                .prepare_cached("DELETE FROM accounts WHERE id = ?1")?
                .execute([id.as_str()])?;
            if n == 0 {
                return Err(StoreError::NotFound("account"));
            }
            Ok(((), events::account(actor, "delete", &id)))
        })
        .await
    }
}

#[async_trait]
impl PermissionSetStore for SqliteDirectory {
    async fn create_permission_set(
        &self,
        actor: Actor,
        ps: NewPermissionSet,
    ) -> Result<PermissionSet> {
        self.write(move |tx| {
            let id = PermissionSetId::new();
            check_permission_set_unique(tx, id, &ps.name)?;
            let now = now_millis();
            tx.prepare_cached(
                "INSERT INTO permission_sets (id, name, description, session_duration_seconds, \
                 created_at, updated_at, policies) VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
            )?
            .execute(params![
                id.to_string(),
                ps.name.as_str(),
                ps.description.as_str(),
                duration_param(ps.session_duration),
                now.timestamp_millis(),
                policies_to_json(&ps.policies)?.to_string(),
            ])?;
            let created = PermissionSet {
                id,
                name: ps.name,
                description: ps.description,
                session_duration: ps.session_duration,
                policies: ps.policies,
                created_at: now,
                updated_at: now,
            };
            Ok((created, events::permission_set(actor, "create", id)))
        })
        .await
    }

    async fn get_permission_set(&self, id: PermissionSetId) -> Result<PermissionSet> {
        self.read(move |conn| {
            load_permission_set(conn, id)?.ok_or(StoreError::NotFound("permission set"))
        })
        .await
    }

    async fn list_permission_sets(&self, page: PageRequest) -> Result<Page<PermissionSet>> {
        self.read(move |conn| {
            let rows = query_all(
                conn,
                &format!(
                    "SELECT {PERMISSION_SET_COLS} FROM permission_sets \
                     WHERE (?1 IS NULL OR name > ?1) ORDER BY name LIMIT ?2"
                ),
                params![page.after, limit(&page)],
                permission_set_row,
            )?;
            Ok(Page::from_rows(rows, page.size, |p| p.name.to_string()))
        })
        .await
    }

    async fn update_permission_set(
        &self,
        actor: Actor,
        id: PermissionSetId,
        ps: NewPermissionSet,
    ) -> Result<PermissionSet> {
        self.write(move |tx| {
            let current =
                load_permission_set(tx, id)?.ok_or(StoreError::NotFound("permission set"))?;
            check_permission_set_unique(tx, id, &ps.name)?;
            let now = now_millis();
            tx.prepare_cached(
                "UPDATE permission_sets SET name = ?2, description = ?3, \
                 session_duration_seconds = ?4, updated_at = ?5, policies = ?6 WHERE id = ?1",
            )?
            .execute(params![
                id.to_string(),
                ps.name.as_str(),
                ps.description.as_str(),
                duration_param(ps.session_duration),
                now.timestamp_millis(),
                policies_to_json(&ps.policies)?.to_string(),
            ])?;
            let updated = PermissionSet {
                id,
                name: ps.name,
                description: ps.description,
                session_duration: ps.session_duration,
                policies: ps.policies,
                created_at: current.created_at,
                updated_at: now,
            };
            Ok((updated, events::permission_set(actor, "update", id)))
        })
        .await
    }

    async fn delete_permission_set(&self, actor: Actor, id: PermissionSetId) -> Result<()> {
        self.write(move |tx| {
            let n = tx
                .prepare_cached("DELETE FROM permission_sets WHERE id = ?1")?
                .execute([id.to_string()])?;
            if n == 0 {
                return Err(StoreError::NotFound("permission set"));
            }
            Ok(((), events::permission_set(actor, "delete", id)))
        })
        .await
    }
}

#[async_trait]
impl AssignmentStore for SqliteDirectory {
    async fn create_assignment(&self, actor: Actor, a: AccountAssignment) -> Result<()> {
        self.write(move |tx| {
            if !exists(tx, "SELECT 1 FROM accounts WHERE id = ?1", [a.account_id.as_str()])? {
                return Err(StoreError::InvalidReference {
                    field: "accountId",
                    entity: "account",
                });
            }
            if !exists(
                tx,
                "SELECT 1 FROM permission_sets WHERE id = ?1",
                [a.permission_set_id.to_string()],
            )? {
                return Err(StoreError::InvalidReference {
                    field: "permissionSetId",
                    entity: "permission set",
                });
            }
            check_principal(tx, a.principal)?;
            let (user_id, group_id) = principal_columns(a.principal);
            if exists(
                tx,
                "SELECT 1 FROM account_assignments WHERE account_id = ?1 AND permission_set_id = ?2 \
                 AND user_id IS ?3 AND group_id IS ?4",
                params![a.account_id.as_str(), a.permission_set_id.to_string(), user_id, group_id],
            )? {
                return Err(conflict("assignment", "this assignment already exists"));
            }
            tx.prepare_cached(
                "INSERT INTO account_assignments (account_id, permission_set_id, user_id, group_id, \
                 created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                a.account_id.as_str(),
                a.permission_set_id.to_string(),
                user_id,
                group_id,
                now_millis().timestamp_millis(),
            ])?;
            Ok(((), events::assignment(actor, "create", &a)))
        })
        .await
    }

    async fn delete_assignment(&self, actor: Actor, a: &AccountAssignment) -> Result<()> {
        let a = a.clone();
        self.write(move |tx| {
            let (user_id, group_id) = principal_columns(a.principal);
            let n = tx
                .prepare_cached(
                    "DELETE FROM account_assignments WHERE account_id = ?1 \
                     AND permission_set_id = ?2 AND user_id IS ?3 AND group_id IS ?4",
                )?
                .execute(params![
                    a.account_id.as_str(),
                    a.permission_set_id.to_string(),
                    user_id,
                    group_id
                ])?;
            if n == 0 {
                return Err(StoreError::NotFound("assignment"));
            }
            Ok(((), events::assignment(actor, "delete", &a)))
        })
        .await
    }

    async fn list_assignments(
        &self,
        filter: &AssignmentFilter,
        page: PageRequest,
    ) -> Result<Page<AccountAssignment>> {
        let filter = filter.clone();
        self.read(move |conn| {
            let mut conditions: Vec<&str> = Vec::new();
            let mut values: Vec<Value> = Vec::new();
            if let Some(account) = &filter.account_id {
                conditions.push("account_id = ?");
                values.push(Value::Text(account.to_string()));
            }
            if let Some(ps) = filter.permission_set_id {
                conditions.push("permission_set_id = ?");
                values.push(Value::Text(ps.to_string()));
            }
            if let Some(p) = filter.principal {
                conditions.push("principal_type = ? AND principal_id = ?");
                values.push(Value::Text(p.principal_type().to_string()));
                values.push(Value::Text(p.uuid().to_string()));
            }
            if let Some(after) = &page.after {
                // A key with fewer parts compares as if the missing parts were empty.
                let mut parts = after.splitn(4, '/');
                conditions.push(
                    "(account_id, permission_set_id, principal_type, principal_id) > (?, ?, ?, ?)",
                );
                for _ in 0..4 {
                    values.push(Value::Text(parts.next().unwrap_or_default().to_owned()));
                }
            }
            let filter_sql = if conditions.is_empty() {
                String::new()
            } else {
                format!("WHERE {}", conditions.join(" AND "))
            };
            values.push(Value::Integer(limit(&page)));
            let sql = format!(
                "SELECT * FROM ({ASSIGNMENTS_VIEW}) {filter_sql} \
                 ORDER BY account_id, permission_set_id, principal_type, principal_id LIMIT ?"
            );
            let rows = query_all(conn, &sql, params_from_iter(values), assignment_row)?;
            Ok(Page::from_rows(rows, page.size, assignment_key))
        })
        .await
    }

    async fn user_entitlements(&self, user: UserId) -> Result<Vec<Entitlement>> {
        self.read(move |conn| {
            query_all(
                conn,
                "SELECT DISTINCT a.account_id, a.permission_set_id, p.name \
                 FROM account_assignments a JOIN permission_sets p ON p.id = a.permission_set_id \
                 WHERE a.user_id = ?1 \
                    OR a.group_id IN (SELECT group_id FROM group_members WHERE user_id = ?1) \
                 ORDER BY a.account_id, p.name",
                [user.to_string()],
                |row| {
                    Ok(Entitlement {
                        account_id: col_text(
                            row,
                            0,
                            "account_assignments.account_id",
                            AccountId::parse,
                        )?,
                        permission_set_id: col_parse(
                            row,
                            1,
                            "account_assignments.permission_set_id",
                        )?,
                        role_name: col_text(row, 2, "permission_sets.name", RoleName::parse)?,
                    })
                },
            )
        })
        .await
    }
}

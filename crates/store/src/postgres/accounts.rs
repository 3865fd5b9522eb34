//! Accounts, permission sets and account assignments for PostgreSQL.

use async_trait::async_trait;
use portcullis_domain::{
    AccountAssignment, AccountId, Actor, ConsoleUrl, Description, DisplayName, Email, NewAccount,
    NewPermissionSet, Page, PageRequest, PermissionSet, PermissionSetDuration, PermissionSetId,
    Principal, PrincipalType, RoleName, UserId,
};
use tokio_postgres::Row;
use uuid::Uuid;

use super::{
    PostgresDirectory, Query, col, execute, exists, insert_audit, limit, opt_parsed, parsed,
    pg_err, query, query_opt, where_clause,
};
use crate::types::{aws_from_json, aws_to_json, now_millis, policies_from_json, policies_to_json};
use crate::{
    Account, AccountStore, AssignmentFilter, AssignmentStore, Entitlement, PermissionSetStore,
    Result, StoreError, events,
};

const ACCOUNT_COLS: &str = "id, name, email, console_url, created_at, updated_at, aws";

fn account_from_row(r: &Row) -> Result<Account> {
    Ok(Account {
        id: parsed("id", AccountId::parse(col::<String>(r, "id")?))?,
        name: parsed("name", DisplayName::parse(col::<String>(r, "name")?))?,
        email: parsed("email", Email::parse(col::<String>(r, "email")?))?,
        console_url: opt_parsed(r, "console_url", ConsoleUrl::parse)?,
        created_at: col(r, "created_at")?,
        updated_at: col(r, "updated_at")?,
        kind: aws_from_json(col(r, "aws")?)?,
    })
}

const PS_COLS: &str =
    "id, name, description, session_duration_seconds, created_at, updated_at, policies";

fn permission_set_from_row(r: &Row) -> Result<PermissionSet> {
    let seconds: i32 = col(r, "session_duration_seconds")?;
    let seconds = u64::try_from(seconds)
        .map_err(|_| StoreError::Corrupt(format!("session_duration_seconds: {seconds}")))?;
    Ok(PermissionSet {
        id: PermissionSetId::from_uuid(col(r, "id")?),
        name: parsed("name", RoleName::parse(col::<String>(r, "name")?))?,
        description: parsed(
            "description",
            Description::parse(col::<String>(r, "description")?),
        )?,
        session_duration: parsed(
            "session_duration_seconds",
            PermissionSetDuration::from_seconds(seconds),
        )?,
        created_at: col(r, "created_at")?,
        updated_at: col(r, "updated_at")?,
        policies: policies_from_json(col(r, "policies")?)?,
    })
}

fn duration_param(d: PermissionSetDuration) -> Result<i32> {
    i32::try_from(d.seconds())
        .map_err(|_| StoreError::Corrupt(format!("session duration {} too large", d.seconds())))
}

#[async_trait]
impl AccountStore for PostgresDirectory {
    async fn create_account(&self, actor: Actor, account: NewAccount) -> Result<Account> {
        let now = now_millis();
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        execute(
            &tx,
            "INSERT INTO accounts (id, name, email, console_url, created_at, updated_at, aws) \
             VALUES ($1, $2, $3, $4, $5, $5, $6)",
            &[
                &account.id.as_str(),
                &account.name.as_str(),
                &account.email.as_str(),
                &account.console_url.as_ref().map(ConsoleUrl::as_str),
                &now,
                &aws_to_json(&account.kind)?,
            ],
        )
        .await?;
        insert_audit(&tx, &events::account(actor, "create", &account.id)).await?;
        tx.commit().await.map_err(pg_err)?;
        Ok(Account {
            id: account.id,
            name: account.name,
            email: account.email,
            console_url: account.console_url,
            created_at: now,
            updated_at: now,
            kind: account.kind,
        })
    }

    async fn get_account(&self, id: &AccountId) -> Result<Account> {
        let client = self.client().await?;
        let sql = format!("SELECT {ACCOUNT_COLS} FROM accounts WHERE id = $1");
        match query_opt(&client, &sql, &[&id.as_str()]).await? {
            Some(r) => account_from_row(&r),
            None => Err(StoreError::NotFound("account")),
        }
    }

    async fn get_accounts(&self, ids: &[AccountId]) -> Result<Vec<Account>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let client = self.client().await?;
        let ids: Vec<&str> = ids.iter().map(AccountId::as_str).collect();
        let sql = format!("SELECT {ACCOUNT_COLS} FROM accounts WHERE id = ANY($1) ORDER BY id");
        query(&client, &sql, &[&ids])
            .await?
            .iter()
            .map(account_from_row)
            .collect()
    }

    async fn list_accounts(&self, page: PageRequest) -> Result<Page<Account>> {
        let client = self.client().await?;
        let n = limit(page.size);
        let rows = match &page.after {
            None => {
                let sql = format!("SELECT {ACCOUNT_COLS} FROM accounts ORDER BY id LIMIT $1");
                query(&client, &sql, &[&n]).await?
            }
            Some(after) => {
                let sql = format!(
                    "SELECT {ACCOUNT_COLS} FROM accounts WHERE id > $1 ORDER BY id LIMIT $2"
                );
                query(&client, &sql, &[after, &n]).await?
            }
        };
        let rows = rows
            .iter()
            .map(account_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_rows(rows, page.size, |a| a.id.to_string()))
    }

    async fn update_account(&self, actor: Actor, account: NewAccount) -> Result<Account> {
        let now = now_millis();
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        let row = query_opt(
            &tx,
            "UPDATE accounts SET name = $2, email = $3, console_url = $4, updated_at = $5, \
             aws = $6 WHERE id = $1 RETURNING created_at",
            &[
                &account.id.as_str(),
                &account.name.as_str(),
                &account.email.as_str(),
                &account.console_url.as_ref().map(ConsoleUrl::as_str),
                &now,
                &aws_to_json(&account.kind)?,
            ],
        )
        .await?;
        let Some(row) = row else {
            return Err(StoreError::NotFound("account"));
        };
        let created_at = col(&row, "created_at")?;
        insert_audit(&tx, &events::account(actor, "update", &account.id)).await?;
        tx.commit().await.map_err(pg_err)?;
        Ok(Account {
            id: account.id,
            name: account.name,
            email: account.email,
            console_url: account.console_url,
            created_at,
            updated_at: now,
            kind: account.kind,
        })
    }

    async fn delete_account(&self, actor: Actor, id: &AccountId) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        let n = execute(&tx, "DELETE FROM accounts WHERE id = $1", &[&id.as_str()]).await?;
        if n == 0 {
            return Err(StoreError::NotFound("account"));
        }
        insert_audit(&tx, &events::account(actor, "delete", id)).await?;
        tx.commit().await.map_err(pg_err)
    }
}

#[async_trait]
impl PermissionSetStore for PostgresDirectory {
    async fn create_permission_set(
        &self,
        actor: Actor,
        ps: NewPermissionSet,
    ) -> Result<PermissionSet> {
        let now = now_millis();
        let id = PermissionSetId::new();
        let seconds = duration_param(ps.session_duration)?;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        execute(
            &tx,
            "INSERT INTO permission_sets (id, name, description, session_duration_seconds, \
             created_at, updated_at, policies) VALUES ($1, $2, $3, $4, $5, $5, $6)",
            &[
                &id.as_uuid(),
                &ps.name.as_str(),
                &ps.description.as_str(),
                &seconds,
                &now,
                &policies_to_json(&ps.policies)?,
            ],
        )
        .await?;
        insert_audit(&tx, &events::permission_set(actor, "create", id)).await?;
        tx.commit().await.map_err(pg_err)?;
        Ok(PermissionSet {
            id,
            name: ps.name,
            description: ps.description,
            session_duration: ps.session_duration,
            policies: ps.policies,
            created_at: now,
            updated_at: now,
        })
    }

    async fn get_permission_set(&self, id: PermissionSetId) -> Result<PermissionSet> {
        let client = self.client().await?;
        let sql = format!("SELECT {PS_COLS} FROM permission_sets WHERE id = $1");
        match query_opt(&client, &sql, &[&id.as_uuid()]).await? {
            Some(r) => permission_set_from_row(&r),
            None => Err(StoreError::NotFound("permission set")),
        }
    }

    async fn list_permission_sets(&self, page: PageRequest) -> Result<Page<PermissionSet>> {
        let client = self.client().await?;
        let n = limit(page.size);
        let rows = match &page.after {
            None => {
                let sql = format!("SELECT {PS_COLS} FROM permission_sets ORDER BY name LIMIT $1");
                query(&client, &sql, &[&n]).await?
            }
            Some(after) => {
                let sql = format!(
                    "SELECT {PS_COLS} FROM permission_sets WHERE name > $1 ORDER BY name LIMIT $2"
                );
                query(&client, &sql, &[after, &n]).await?
            }
        };
        let rows = rows
            .iter()
            .map(permission_set_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_rows(rows, page.size, |p| p.name.to_string()))
    }

    async fn update_permission_set(
        &self,
        actor: Actor,
        id: PermissionSetId,
        ps: NewPermissionSet,
    ) -> Result<PermissionSet> {
        let now = now_millis();
        let seconds = duration_param(ps.session_duration)?;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        let row = query_opt(
            &tx,
            "UPDATE permission_sets SET name = $2, description = $3, \
             session_duration_seconds = $4, updated_at = $5, policies = $6 WHERE id = $1 \
             RETURNING created_at",
            &[
                &id.as_uuid(),
                &ps.name.as_str(),
                &ps.description.as_str(),
                &seconds,
                &now,
                &policies_to_json(&ps.policies)?,
            ],
        )
        .await?;
        let Some(row) = row else {
            return Err(StoreError::NotFound("permission set"));
        };
        let created_at = col(&row, "created_at")?;
        insert_audit(&tx, &events::permission_set(actor, "update", id)).await?;
        tx.commit().await.map_err(pg_err)?;
        Ok(PermissionSet {
            id,
            name: ps.name,
            description: ps.description,
            session_duration: ps.session_duration,
            policies: ps.policies,
            created_at,
            updated_at: now,
        })
    }

    async fn delete_permission_set(&self, actor: Actor, id: PermissionSetId) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        let n = execute(
            &tx,
            "DELETE FROM permission_sets WHERE id = $1",
            &[&id.as_uuid()],
        )
        .await?;
        if n == 0 {
            return Err(StoreError::NotFound("permission set"));
        }
        insert_audit(&tx, &events::permission_set(actor, "delete", id)).await?;
        tx.commit().await.map_err(pg_err)
    }
}

/// The (user_id, group_id) pair of a principal.
pub(super) fn principal_columns(p: &Principal) -> (Option<Uuid>, Option<Uuid>) {
    match p {
        Principal::User(id) => (Some(id.as_uuid()), None),
        Principal::Group(id) => (None, Some(id.as_uuid())),
    }
}

/// Reads a principal from `user_id` / `group_id` columns.
pub(super) fn principal_from_row(r: &Row) -> Result<Principal> {
    let user: Option<Uuid> = col(r, "user_id")?;
    let group: Option<Uuid> = col(r, "group_id")?;
    match (user, group) {
        (Some(u), None) => Ok(Principal::from_parts(PrincipalType::User, u)),
        (None, Some(g)) => Ok(Principal::from_parts(PrincipalType::Group, g)),
        _ => Err(StoreError::Corrupt(
            "assignment must name exactly one of user_id and group_id".into(),
        )),
    }
}

/// Checks, inside a transaction, that a principal exists (locking it against deletion).
pub(super) async fn check_principal(
    tx: &deadpool_postgres::Transaction<'_>,
    p: &Principal,
) -> Result<()> {
    let (sql, entity) = match p {
        Principal::User(_) => ("SELECT 1 FROM users WHERE id = $1 FOR KEY SHARE", "user"),
        Principal::Group(_) => ("SELECT 1 FROM groups WHERE id = $1 FOR KEY SHARE", "group"),
    };
    if exists(tx, sql, &[&p.uuid()]).await? {
        Ok(())
    } else {
        Err(StoreError::InvalidReference {
            field: "principalId",
            entity,
        })
    }
}

fn assignment_from_row(r: &Row) -> Result<AccountAssignment> {
    Ok(AccountAssignment {
        account_id: parsed(
            "account_id",
            AccountId::parse(col::<String>(r, "account_id")?),
        )?,
        permission_set_id: PermissionSetId::from_uuid(col(r, "permission_set_id")?),
        principal: principal_from_row(r)?,
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

/// The principal type as the listing orders it (byte order: GROUP before USER).
const PTYPE: &str = "(CASE WHEN user_id IS NULL THEN 'GROUP' ELSE 'USER' END) COLLATE \"C\"";

#[async_trait]
impl AssignmentStore for PostgresDirectory {
    async fn create_assignment(&self, actor: Actor, a: AccountAssignment) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        if !exists(
            &tx,
            "SELECT 1 FROM accounts WHERE id = $1 FOR KEY SHARE",
            &[&a.account_id.as_str()],
        )
        .await?
        {
            return Err(StoreError::InvalidReference {
                field: "accountId",
                entity: "account",
            });
        }
        if !exists(
            &tx,
            "SELECT 1 FROM permission_sets WHERE id = $1 FOR KEY SHARE",
            &[&a.permission_set_id.as_uuid()],
        )
        .await?
        {
            return Err(StoreError::InvalidReference {
                field: "permissionSetId",
                entity: "permission set",
            });
        }
        check_principal(&tx, &a.principal).await?;
        let (user_id, group_id) = principal_columns(&a.principal);
        execute(
            &tx,
            "INSERT INTO account_assignments (account_id, permission_set_id, user_id, group_id, \
             created_at) VALUES ($1, $2, $3, $4, $5)",
            &[
                &a.account_id.as_str(),
                &a.permission_set_id.as_uuid(),
                &user_id,
                &group_id,
                &now_millis(),
            ],
        )
        .await?;
        insert_audit(&tx, &events::assignment(actor, "create", &a)).await?;
        tx.commit().await.map_err(pg_err)
    }

    async fn delete_assignment(&self, actor: Actor, a: &AccountAssignment) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        let sql = match a.principal {
            Principal::User(_) => {
                "DELETE FROM account_assignments \
                 WHERE account_id = $1 AND permission_set_id = $2 AND user_id = $3"
            }
            Principal::Group(_) => {
                "DELETE FROM account_assignments \
                 WHERE account_id = $1 AND permission_set_id = $2 AND group_id = $3"
            }
        };
        let n = execute(
            &tx,
            sql,
            &[
                &a.account_id.as_str(),
                &a.permission_set_id.as_uuid(),
                &a.principal.uuid(),
            ],
        )
        .await?;
        if n == 0 {
            return Err(StoreError::NotFound("assignment"));
        }
        insert_audit(&tx, &events::assignment(actor, "delete", a)).await?;
        tx.commit().await.map_err(pg_err)
    }

    async fn list_assignments(
        &self,
        filter: &AssignmentFilter,
        page: PageRequest,
    ) -> Result<Page<AccountAssignment>> {
        let mut q = Query::new(
            "SELECT account_id, permission_set_id, user_id, group_id FROM account_assignments",
        );
        let mut conds = Vec::new();
        if let Some(account) = &filter.account_id {
            conds.push(format!("account_id = {}", q.param(account.to_string())));
        }
        if let Some(ps) = filter.permission_set_id {
            conds.push(format!("permission_set_id = {}", q.param(ps.as_uuid())));
        }
        match filter.principal {
            Some(Principal::User(id)) => conds.push(format!("user_id = {}", q.param(id.as_uuid()))),
            Some(Principal::Group(id)) => {
                conds.push(format!("group_id = {}", q.param(id.as_uuid())));
            }
            None => {}
        }
        if let Some(after) = &page.after {
            // account/permission set/type/principal; an unparsable key matches nothing.
            let mut parts = after.splitn(4, '/');
            let (Some(account), Some(ps), Some(ptype), Some(pid)) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return Ok(Page::from_rows(Vec::new(), page.size, assignment_key));
            };
            let (Ok(ps), Ok(pid)) = (Uuid::parse_str(ps), Uuid::parse_str(pid)) else {
                return Ok(Page::from_rows(Vec::new(), page.size, assignment_key));
            };
            let (a, p, t, i) = (
                q.param(account.to_owned()),
                q.param(ps),
                q.param(ptype.to_owned()),
                q.param(pid),
            );
            conds.push(format!(
                "(account_id, permission_set_id, {PTYPE}, COALESCE(user_id, group_id)) > \
                 ({a}::text, {p}::uuid, {t}::text COLLATE \"C\", {i}::uuid)"
            ));
        }
        q.push(&where_clause(&conds));
        let n = q.param(limit(page.size));
        q.push(&format!(
            " ORDER BY account_id, permission_set_id, {PTYPE}, COALESCE(user_id, group_id) LIMIT {n}"
        ));
        let client = self.client().await?;
        let rows = q.rows(&client).await?;
        let rows = rows
            .iter()
            .map(assignment_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_rows(rows, page.size, assignment_key))
    }

    async fn user_entitlements(&self, user: UserId) -> Result<Vec<Entitlement>> {
        let client = self.client().await?;
        let rows = query(
            &client,
            "SELECT DISTINCT a.account_id, a.permission_set_id, p.name \
             FROM account_assignments a JOIN permission_sets p ON p.id = a.permission_set_id \
             WHERE a.user_id = $1 \
                OR a.group_id = ANY (ARRAY( \
                    SELECT m.group_id FROM group_members m WHERE m.user_id = $1)) \
             ORDER BY a.account_id, p.name",
            &[&user.as_uuid()],
        )
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Entitlement {
                    account_id: parsed(
                        "account_id",
                        AccountId::parse(col::<String>(r, "account_id")?),
                    )?,
                    permission_set_id: PermissionSetId::from_uuid(col(r, "permission_set_id")?),
                    role_name: parsed("name", RoleName::parse(col::<String>(r, "name")?))?,
                })
            })
            .collect()
    }
}

//! PostgreSQL backend (deadpool-postgres).
//!
//! One pool of `tokio-postgres` connections; every mutating call is one transaction that makes
//! the change and writes its audit event. Orderings and keyset comparisons use
//! `lower(x) COLLATE "C"` (byte order, as SQLite compares) so that they match the indexes.
//!
//! The trait implementations are split by aggregate, with the same file names as the SQLite
//! backend: [`users`] (`UserStore`), [`groups`] (`GroupStore`), [`accounts`] (`AccountStore`,
//! `PermissionSetStore`, `AssignmentStore`), [`applications`] (`ApplicationStore`),
//! [`settings`] (`SettingsStore`), [`signing_keys`] (`SigningKeyStore`), [`admin_tokens`]
//! (`AdminTokenStore`), [`audit`] (`AuditLog`), [`credentials`] (`CredentialStore`,
//! `MfaDeviceStore`) and [`consents`] (`ConsentStore`).
//!
//! PostgreSQL only: [`listen`] (hearing other nodes' changes) and `tests` (behaviour specific to
//! this backend).

mod accounts;
mod admin_tokens;
mod applications;
mod audit;
mod consents;
mod credentials;
mod groups;
mod listen;
mod provisioning;
mod settings;
mod signing_keys;
#[cfg(test)]
mod tests;
mod users;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use portcullis_domain::{NewAuditEvent, Page, PageSize, ValidationError};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSql, ToSql};
use tokio_postgres::{NoTls, Row};

pub use listen::{CHANNEL as CHANGE_CHANNEL, spawn_change_listener};

use crate::types::now_millis;
use crate::{Directory, Result, StoreError};

mod embedded {
    refinery::embed_migrations!("migrations/postgres");
}

/// The key of the advisory lock held while migrating, so that nodes starting together take
/// turns (any fixed value; "portcull" in ASCII).
const MIGRATION_LOCK: i64 = 0x706f_7274_6375_6c6c;

/// How long to wait for a connection (new or from the pool) before reporting the database
/// unavailable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The directory in PostgreSQL.
#[derive(Clone)]
pub struct PostgresDirectory {
    pool: Pool,
}

impl std::fmt::Debug for PostgresDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = self.pool.status();
        f.debug_struct("PostgresDirectory")
            .field("max_size", &status.max_size)
            .field("size", &status.size)
            .field("available", &status.available)
            .finish()
    }
}

impl PostgresDirectory {
    /// Builds a pool of at most `max_connections` connections to `url` (a libpq-style URL or
    /// key/value string). Connections are opened lazily; nothing is migrated here.
    pub fn connect(url: &str, max_connections: usize) -> Result<Self> {
        let mut config: tokio_postgres::Config = url.parse().map_err(StoreError::unavailable)?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("portcullis");
        }
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(max_connections.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(CONNECT_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(StoreError::unavailable)?;
        Ok(Self { pool })
    }

    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Client> {
        self.pool.get().await.map_err(StoreError::unavailable)
    }

    async fn migrate_locked(client: &mut deadpool_postgres::Client) -> Result<()> {
        let pg: &mut tokio_postgres::Client = client;
        let report = embedded::migrations::runner()
            .run_async(pg)
            .await
            .map_err(StoreError::unavailable)?;
        for m in report.applied_migrations() {
            tracing::info!(migration = %m, "applied PostgreSQL migration");
        }
        Ok(())
    }
}

#[async_trait]
impl Directory for PostgresDirectory {
    async fn migrate(&self) -> Result<()> {
        let mut client = self.client().await?;
        client
            .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(pg_err)?;
        let result = Self::migrate_locked(&mut client).await;
        let unlocked = client
            .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(pg_err);
        result?;
        unlocked.map(|_| ())
    }

    async fn ping(&self) -> Result<()> {
        let client = self.client().await?;
        query(&client, "SELECT 1", &[]).await.map(|_| ())
    }

    fn backend(&self) -> &'static str {
        "postgres"
    }
}

// ---- helpers shared by the submodules ----

/// Maps a database error to the store's terms: uniqueness and reference violations by
/// constraint name, everything else as unavailable.
pub(crate) fn pg_err(e: tokio_postgres::Error) -> StoreError {
    let Some(db) = e.as_db_error() else {
        return StoreError::unavailable(e);
    };
    let constraint = db.constraint().unwrap_or("");
    if db.code() == &SqlState::UNIQUE_VIOLATION {
        let (field, message) = match constraint {
            "users_user_name_key" => ("userName", "a user with this userName already exists"),
            "users_email_key" => ("email", "a user with this email already exists"),
            "groups_name_key" => ("name", "a group with this name already exists"),
            "accounts_pkey" => ("accountId", "an account with this accountId already exists"),
            "permission_sets_name_key" => {
                ("name", "a permission set with this name already exists")
            }
            "account_assignments_user_key" | "account_assignments_group_key" => {
                ("assignment", "this account assignment already exists")
            }
            "application_assignments_user_key" | "application_assignments_group_key" => {
                ("assignment", "this application assignment already exists")
            }
            "signing_keys_pkey" => ("kid", "a signing key with this kid already exists"),
            "mfa_devices_credential_id_key" => (
                "credentialId",
                "an MFA device with this credential id already exists",
            ),
            "admin_tokens_token_hash_key" => {
                ("token", "an admin token with this hash already exists")
            }
            _ => ("id", "this record already exists"),
        };
        return StoreError::Conflict {
            field,
            message: message.to_owned(),
        };
    }
    if db.code() == &SqlState::FOREIGN_KEY_VIOLATION {
        let (field, entity) = match constraint {
            "group_members_group_id_fkey" => return StoreError::NotFound("group"),
            "group_members_user_id_fkey" => ("userId", "user"),
            "user_passwords_user_id_fkey"
            | "mfa_devices_user_id_fkey"
            | "oidc_consents_user_id_fkey" => {
                return StoreError::NotFound("user");
            }
            c if c.ends_with("_account_id_fkey") => ("accountId", "account"),
            c if c.ends_with("_permission_set_id_fkey") => ("permissionSetId", "permission set"),
            c if c.ends_with("_application_id_fkey") => ("applicationId", "application"),
            c if c.ends_with("_user_id_fkey") => ("principalId", "user"),
            c if c.ends_with("_group_id_fkey") => ("principalId", "group"),
            _ => return StoreError::unavailable(e),
        };
        return StoreError::InvalidReference { field, entity };
    }
    StoreError::unavailable(e)
}

/// Runs a cached prepared statement and returns its rows.
pub(crate) async fn query<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>> {
    let st = c.prepare_cached(sql).await.map_err(pg_err)?;
    c.query(&st, params).await.map_err(pg_err)
}

/// Runs a cached prepared statement and returns its row, if any.
pub(crate) async fn query_opt<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Option<Row>> {
    let st = c.prepare_cached(sql).await.map_err(pg_err)?;
    c.query_opt(&st, params).await.map_err(pg_err)
}

/// Runs a cached prepared statement and returns how many rows it changed.
pub(crate) async fn execute<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<u64> {
    let st = c.prepare_cached(sql).await.map_err(pg_err)?;
    c.execute(&st, params).await.map_err(pg_err)
}

/// Whether a statement (`SELECT 1 … WHERE …`) finds a row.
pub(crate) async fn exists<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<bool> {
    Ok(query_opt(c, sql, params).await?.is_some())
}

/// Writes one audit event (inside the caller's transaction).
pub(crate) async fn insert_audit(
    tx: &deadpool_postgres::Transaction<'_>,
    event: &NewAuditEvent,
) -> Result<()> {
    let actor = event.actor.to_string();
    execute(
        tx,
        "INSERT INTO audit_events (time, actor, action, target, details) VALUES ($1, $2, $3, $4, $5)",
        &[&now_millis(), &actor, &event.action, &event.target, &event.details],
    )
    .await
    .map(|_| ())
}

/// Reads a column, reporting a type mismatch or unexpected NULL as corrupt data.
pub(crate) fn col<'a, T: FromSql<'a>>(row: &'a Row, name: &str) -> Result<T> {
    row.try_get(name)
        .map_err(|e| StoreError::Corrupt(format!("column {name}: {e}")))
}

/// Turns a domain validation failure on stored data into `Corrupt`.
pub(crate) fn parsed<T>(what: &str, r: std::result::Result<T, ValidationError>) -> Result<T> {
    r.map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

/// Reads an optional text column through a domain constructor.
pub(crate) fn opt_parsed<T>(
    row: &Row,
    name: &str,
    parse: impl Fn(String) -> std::result::Result<T, ValidationError>,
) -> Result<Option<T>> {
    col::<Option<String>>(row, name)?
        .map(|s| parsed(name, parse(s)))
        .transpose()
}

/// `LIMIT` for a page: one more row than fits, to learn whether more follow.
pub(crate) fn limit(size: PageSize) -> i64 {
    i64::from(size.get()) + 1
}

/// Builds a page from rows that carry their sort key.
pub(crate) fn keyed_page<T>(rows: Vec<(String, T)>, size: PageSize) -> Page<T> {
    Page::from_rows(rows, size, |(k, _)| k.clone()).map(|(_, t)| t)
}

/// A caller-supplied time at the precision stored (milliseconds), so that what is returned
/// equals what is read back (and matches the SQLite backend).
pub(crate) fn millis(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

/// A statement assembled from optional conditions, with its parameters.
pub(crate) struct Query {
    pub sql: String,
    params: Vec<Box<dyn ToSql + Sync + Send>>,
}

impl Query {
    pub fn new(sql: impl Into<String>) -> Self {
        Self {
            sql: sql.into(),
            params: Vec::new(),
        }
    }

    /// Adds a parameter and returns its placeholder (`$n`).
    pub fn param(&mut self, v: impl ToSql + Sync + Send + 'static) -> String {
        self.params.push(Box::new(v));
        format!("${}", self.params.len())
    }

    pub fn push(&mut self, s: &str) {
        self.sql.push_str(s);
    }

    pub async fn rows<C: GenericClient>(&self, c: &C) -> Result<Vec<Row>> {
        let params: Vec<&(dyn ToSql + Sync)> = self
            .params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect();
        query(c, &self.sql, &params).await
    }
}

/// Joins conditions into a `WHERE` clause (empty when there are none).
pub(crate) fn where_clause(conds: &[String]) -> String {
    if conds.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conds.join(" AND "))
    }
}

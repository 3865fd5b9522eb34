//! Embedded SQLite backend (deadpool-sqlite).
//!
//! Every call borrows a pooled connection and runs its SQL on a blocking thread through
//! `interact`. Every change runs in one `BEGIN IMMEDIATE` transaction together with its audit
//! event. UUIDs are stored as lower-case hyphenated TEXT, times as INTEGER milliseconds since the
//! Unix epoch (UTC) and booleans as INTEGER 0/1.
//!
//! The trait implementations are split by aggregate, with the same file names as the PostgreSQL
//! backend: [`users`] (`UserStore`), [`groups`] (`GroupStore`), [`accounts`] (`AccountStore`,
//! `PermissionSetStore`, `AssignmentStore`), [`applications`] (`ApplicationStore`),
//! [`settings`] (`SettingsStore`), [`signing_keys`] (`SigningKeyStore`), [`admin_tokens`]
//! (`AdminTokenStore`), [`audit`] (`AuditLog`), [`credentials`] (`CredentialStore`,
//! `MfaDeviceStore`) and [`consents`] (`ConsentStore`).

mod accounts;
mod admin_tokens;
mod applications;
mod audit;
mod consents;
mod credentials;
mod groups;
mod provisioning;
mod settings;
mod signing_keys;
mod users;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_sqlite::rusqlite::functions::{Context, FunctionFlags};
use deadpool_sqlite::rusqlite::types::{Value, ValueRef};
use deadpool_sqlite::rusqlite::{self, Connection, Params, Row, Transaction, TransactionBehavior};
use deadpool_sqlite::{Config, Hook, HookError, Pool, Runtime};
use portcullis_domain::{NewAuditEvent, PageRequest};

use crate::types::now_millis;
use crate::{Directory, Result, StoreError};

mod embedded {
    refinery::embed_migrations!("migrations/sqlite");
}

/// The directory in an SQLite database file.
#[derive(Clone)]
pub struct SqliteDirectory {
    pool: Pool,
}

impl std::fmt::Debug for SqliteDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = self.pool.status();
        f.debug_struct("SqliteDirectory")
            .field("max_size", &status.max_size)
            .field("size", &status.size)
            .finish_non_exhaustive()
    }
}

/// How many connections the pool holds at most. SQLite serialises writers anyway.
const MAX_CONNECTIONS: usize = 4;

/// Settings every connection needs, applied once when the pool opens it (before any statement,
/// migrations included, runs on it).
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    register_unicode_lower(conn)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.busy_timeout(Duration::from_millis(5000))?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(())
}

/// Overrides SQLite's built-in `lower()` (which folds ASCII only) with a Unicode-aware one,
/// [`str::to_lowercase`], the same folding as PostgreSQL's `lower()` and as the page keys built
/// in Rust ([`fold_case`]). The unique indexes on `lower(...)` and the listing order depend on it,
/// so every connection must have it before touching the schema.
fn register_unicode_lower(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        "lower",
        1,
        FunctionFlags::SQLITE_UTF8
            | FunctionFlags::SQLITE_DETERMINISTIC
            | FunctionFlags::SQLITE_INNOCUOUS,
        unicode_lower,
    )
}

/// The body of the `lower()` override: NULL stays NULL, text is lower-cased, numbers and blobs
/// pass through unchanged. Never panics (text that is not valid UTF-8 is folded lossily).
fn unicode_lower(ctx: &Context<'_>) -> rusqlite::Result<Value> {
    if ctx.is_empty() {
        return Ok(Value::Null);
    }
    Ok(match ctx.get_raw(0) {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(r) => Value::Real(r),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
        ValueRef::Text(t) => Value::Text(fold_case(&String::from_utf8_lossy(t))),
    })
}

/// Lower-cases `s` exactly as the `lower()` SQL function does on this backend.
fn fold_case(s: &str) -> String {
    s.to_lowercase()
}

impl SqliteDirectory {
    /// Opens (lazily: connections are made on first use) the database file at `path`, creating
    /// it if needed. Does not migrate: call [`Directory::migrate`].
    pub fn open(path: &Path) -> Result<Self> {
        let pool = Config::new(path)
            .builder(Runtime::Tokio1)
            .map_err(StoreError::unavailable)?
            .max_size(MAX_CONNECTIONS)
            .post_create(Hook::async_fn(|conn, _| {
                Box::pin(async move {
                    conn.interact(|c| configure(c))
                        .await
                        .map_err(|e| HookError::message(format!("configuring a connection: {e}")))?
                        .map_err(HookError::Backend)
                })
            }))
            .build()
            .map_err(StoreError::unavailable)?;
        Ok(Self { pool })
    }

    /// Runs `f` on a pooled connection.
    async fn with_conn<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let conn = self.pool.get().await.map_err(StoreError::unavailable)?;
        conn.interact(f)
            .await
            .map_err(|e| StoreError::Unavailable(format!("database call failed: {e}").into()))?
    }

    /// Runs a read-only `f` on a pooled connection.
    async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        self.with_conn(move |conn| f(conn)).await
    }

    /// Runs `f` in an immediate transaction, then records the audit event it returns in the same
    /// transaction and commits. Nothing is stored when `f` fails.
    async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<(T, NewAuditEvent)> + Send + 'static,
    {
        self.with_conn(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let (value, event) = f(&tx)?;
            insert_audit(&tx, &event)?;
            tx.commit()?;
            Ok(value)
        })
        .await
    }
}

/// Appends one audit event, timed now.
fn insert_audit(conn: &Connection, event: &NewAuditEvent) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO audit_events (time, actor, action, target, details) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(rusqlite::params![
        now_millis().timestamp_millis(),
        event.actor.to_string(),
        event.action,
        event.target,
        event.details,
    ])?;
    Ok(())
}

/// Unique indexes and the conflict each one means (the backstop behind the explicit checks).
const UNIQUE_RULES: &[(&str, &str, &str)] = &[
    (
        "users_user_name_key",
        "userName",
        "a user with this userName already exists",
    ),
    (
        "users_email_key",
        "email",
        "a user with this email already exists",
    ),
    (
        "groups_name_key",
        "name",
        "a group with this name already exists",
    ),
    (
        "accounts.id",
        "accountId",
        "an account with this accountId already exists",
    ),
    (
        "permission_sets.name",
        "name",
        "a permission set with this name already exists",
    ),
    (
        "account_assignments",
        "assignment",
        "this assignment already exists",
    ),
    (
        "application_assignments",
        "assignment",
        "this assignment already exists",
    ),
    (
        "signing_keys.kid",
        "kid",
        "a signing key with this kid already exists",
    ),
    (
        "mfa_devices.credential_id",
        "credentialId",
        "an MFA device with this credential id already exists",
    ),
    (
        "admin_tokens.token_hash",
        "token",
        "an administrator token with this secret already exists",
    ),
];

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(failure, Some(message)) = &e
            && failure.code == rusqlite::ErrorCode::ConstraintViolation
            && matches!(
                failure.extended_code,
                rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            )
            && let Some((_, field, text)) = UNIQUE_RULES
                .iter()
                .find(|(needle, _, _)| message.contains(needle))
        {
            return StoreError::Conflict {
                field,
                message: (*text).to_owned(),
            };
        }
        StoreError::unavailable(e)
    }
}

/// A conflict on `field`.
fn conflict(field: &'static str, message: &str) -> StoreError {
    StoreError::Conflict {
        field,
        message: message.to_owned(),
    }
}

/// A stored value that no longer parses.
fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

/// Whether the query returns a row.
fn exists<P: Params>(conn: &Connection, sql: &str, params: P) -> Result<bool> {
    Ok(conn.prepare_cached(sql)?.exists(params)?)
}

/// Every row of a query, converted by `f`.
fn query_all<T, P: Params>(
    conn: &Connection,
    sql: &str,
    params: P,
    f: impl Fn(&Row<'_>) -> Result<T>,
) -> Result<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(f(row)?);
    }
    Ok(out)
}

/// The first row of a query, if any, converted by `f`.
fn query_opt<T, P: Params>(
    conn: &Connection,
    sql: &str,
    params: P,
    f: impl Fn(&Row<'_>) -> Result<T>,
) -> Result<Option<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    match rows.next()? {
        Some(row) => f(row).map(Some),
        None => Ok(None),
    }
}

/// A TEXT column parsed with `FromStr` (UUID ids, kinds, …).
fn col_parse<T>(row: &Row<'_>, idx: usize, what: &str) -> Result<T>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    let s: String = row.get(idx)?;
    s.parse().map_err(|e| corrupt(what, e))
}

/// A TEXT column checked by a domain constructor.
fn col_text<T, E: std::fmt::Display>(
    row: &Row<'_>,
    idx: usize,
    what: &str,
    parse: impl FnOnce(String) -> std::result::Result<T, E>,
) -> Result<T> {
    let s: String = row.get(idx)?;
    parse(s).map_err(|e| corrupt(what, e))
}

/// A nullable TEXT column checked by a domain constructor.
fn col_text_opt<T, E: std::fmt::Display>(
    row: &Row<'_>,
    idx: usize,
    what: &str,
    parse: impl FnOnce(String) -> std::result::Result<T, E>,
) -> Result<Option<T>> {
    let s: Option<String> = row.get(idx)?;
    s.map(parse).transpose().map_err(|e| corrupt(what, e))
}

/// An INTEGER milliseconds column as a time.
fn col_time(row: &Row<'_>, idx: usize) -> Result<DateTime<Utc>> {
    let ms: i64 = row.get(idx)?;
    from_millis(ms)
}

/// A nullable INTEGER milliseconds column as a time.
fn col_time_opt(row: &Row<'_>, idx: usize) -> Result<Option<DateTime<Utc>>> {
    let ms: Option<i64> = row.get(idx)?;
    ms.map(from_millis).transpose()
}

fn from_millis(ms: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| corrupt("time", format!("{ms} is out of range")))
}

/// A time at the stored precision (milliseconds).
fn truncate_millis(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

/// `size + 1`, the row count that tells whether another page follows.
fn limit(page: &PageRequest) -> i64 {
    i64::from(page.size.get()) + 1
}

#[async_trait]
impl Directory for SqliteDirectory {
    async fn migrate(&self) -> Result<()> {
        self.with_conn(|conn| {
            embedded::migrations::runner()
                .run(conn)
                .map(|_| ())
                .map_err(StoreError::unavailable)
        })
        .await
    }

    async fn ping(&self) -> Result<()> {
        self.read(|conn| {
            let one: i64 = conn.query_row("SELECT 1", [], |row| row.get(0))?;
            if one == 1 {
                Ok(())
            } else {
                Err(corrupt("ping", "SELECT 1 did not return 1"))
            }
        })
        .await
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }
}

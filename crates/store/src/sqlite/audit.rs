//! The audit log: `AuditLog` in SQLite (the events of directory changes are written with the
//! change, by [`insert_audit`](super::insert_audit)).

use async_trait::async_trait;
use deadpool_sqlite::rusqlite::types::Value;
use deadpool_sqlite::rusqlite::{Row, TransactionBehavior, params_from_iter};
use portcullis_domain::{AuditEvent, AuditFilter, NewAuditEvent, Page, PageRequest};

use super::{SqliteDirectory, col_time, insert_audit, limit, query_all};
use crate::{AuditLog, Result};

fn audit_row(row: &Row<'_>) -> Result<AuditEvent> {
    Ok(AuditEvent {
        id: row.get(0)?,
        time: col_time(row, 1)?,
        actor: row.get(2)?,
        action: row.get(3)?,
        target: row.get(4)?,
        details: row.get(5)?,
    })
}

#[async_trait]
impl AuditLog for SqliteDirectory {
    async fn record_event(&self, event: NewAuditEvent) -> Result<()> {
        self.with_conn(move |conn| insert_audit(conn, &event)).await
    }

    async fn record_events(&self, events: Vec<NewAuditEvent>) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        self.with_conn(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            for event in &events {
                insert_audit(&tx, event)?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn list_audit_events(
        &self,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<Page<AuditEvent>> {
        let filter = filter.clone();
        let after = match page.after.as_deref().map(str::parse::<i64>) {
            None => None,
            Some(Ok(id)) => Some(id),
            // Not a key this listing ever handed out: nothing follows it.
            Some(Err(_)) => {
                return Ok(Page {
                    items: Vec::new(),
                    next: None,
                });
            }
        };
        self.read(move |conn| {
            let mut conditions: Vec<&str> = Vec::new();
            let mut values: Vec<Value> = Vec::new();
            if let Some(since) = filter.since {
                conditions.push("time >= ?");
                values.push(Value::Integer(since.timestamp_millis()));
            }
            if let Some(until) = filter.until {
                conditions.push("time < ?");
                values.push(Value::Integer(until.timestamp_millis()));
            }
            if let Some(actor) = filter.actor {
                conditions.push("actor = ?");
                values.push(Value::Text(actor));
            }
            if let Some(action) = filter.action {
                match action.strip_suffix(".*") {
                    Some(stem) => {
                        // `user.*` matches `user.create` and `user.x.y`, not `user` or `users.x`.
                        let prefix = format!("{stem}.");
                        conditions.push("substr(action, 1, ?) = ?");
                        values.push(Value::Integer(
                            i64::try_from(prefix.chars().count()).unwrap_or(i64::MAX),
                        ));
                        values.push(Value::Text(prefix));
                    }
                    None => {
                        conditions.push("action = ?");
                        values.push(Value::Text(action));
                    }
                }
            }
            if let Some(after) = after {
                conditions.push("id < ?");
                values.push(Value::Integer(after));
            }
            let filter_sql = if conditions.is_empty() {
                String::new()
            } else {
                format!("WHERE {}", conditions.join(" AND "))
            };
            values.push(Value::Integer(limit(&page)));
            let sql = format!(
                "SELECT id, time, actor, action, target, details FROM audit_events {filter_sql} \
                 ORDER BY id DESC LIMIT ?"
            );
            let rows = query_all(conn, &sql, params_from_iter(values), audit_row)?;
            Ok(Page::from_rows(rows, page.size, |e| e.id.to_string()))
        })
        .await
    }
}

//! The audit log: `AuditLog` for PostgreSQL (the events of directory changes are written with
//! the change, by [`insert_audit`](super::insert_audit)).

use async_trait::async_trait;
use portcullis_domain::{AuditEvent, AuditFilter, NewAuditEvent, Page, PageRequest};
use tokio_postgres::Row;

use super::{PostgresDirectory, Query, col, execute, limit, where_clause};
use crate::types::now_millis;
use crate::{AuditLog, Result};

fn audit_event_from_row(r: &Row) -> Result<AuditEvent> {
    Ok(AuditEvent {
        id: col(r, "id")?,
        time: col(r, "time")?,
        actor: col(r, "actor")?,
        action: col(r, "action")?,
        target: col(r, "target")?,
        details: col(r, "details")?,
    })
}

/// Escapes `%`, `_` and `\` for a `LIKE` pattern (backslash is the default escape).
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[async_trait]
impl AuditLog for PostgresDirectory {
    async fn record_event(&self, event: NewAuditEvent) -> Result<()> {
        let client = self.client().await?;
        execute(
            &client,
            "INSERT INTO audit_events (time, actor, action, target, details) \
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &now_millis(),
                &event.actor.to_string(),
                &event.action,
                &event.target,
                &event.details,
            ],
        )
        .await
        .map(|_| ())
    }

    async fn record_events(&self, events: Vec<NewAuditEvent>) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let n = events.len();
        let (mut actors, mut actions, mut targets, mut details) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for e in events {
            actors.push(e.actor.to_string());
            actions.push(e.action);
            targets.push(e.target);
            details.push(e.details);
        }
        // One statement (atomic on its own) whose text does not depend on the batch size, so it
        // stays one cached prepared statement. `ORDER BY` the position makes ids follow the
        // order given.
        let client = self.client().await?;
        execute(
            &client,
            "INSERT INTO audit_events (time, actor, action, target, details) \
             SELECT $1, e.actor, e.action, e.target, e.details \
             FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) \
             WITH ORDINALITY AS e(actor, action, target, details, n) \
             ORDER BY e.n",
            &[&now_millis(), &actors, &actions, &targets, &details],
        )
        .await
        .map(|_| ())
    }

    async fn list_audit_events(
        &self,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<Page<AuditEvent>> {
        let mut q = Query::new("SELECT id, time, actor, action, target, details FROM audit_events");
        let mut conds = Vec::new();
        if let Some(since) = filter.since {
            conds.push(format!("time >= {}", q.param(since)));
        }
        if let Some(until) = filter.until {
            conds.push(format!("time < {}", q.param(until)));
        }
        if let Some(actor) = &filter.actor {
            conds.push(format!("actor = {}", q.param(actor.clone())));
        }
        if let Some(action) = &filter.action {
            match action.strip_suffix(".*") {
                Some(prefix) => {
                    let pattern = format!("{}.%", like_escape(prefix));
                    conds.push(format!("action LIKE {}", q.param(pattern)));
                }
                None => conds.push(format!("action = {}", q.param(action.clone()))),
            }
        }
        if let Some(after) = &page.after {
            let Ok(after) = after.parse::<i64>() else {
                return Ok(Page::from_rows(Vec::new(), page.size, |e: &AuditEvent| {
                    e.id.to_string()
                }));
            };
            conds.push(format!("id < {}", q.param(after)));
        }
        q.push(&where_clause(&conds));
        let n = q.param(limit(page.size));
        q.push(&format!(" ORDER BY id DESC LIMIT {n}"));
        let client = self.client().await?;
        let rows = q.rows(&client).await?;
        let rows = rows
            .iter()
            .map(audit_event_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_rows(rows, page.size, |e| e.id.to_string()))
    }
}

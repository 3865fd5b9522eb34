//! `/admin/v1/audit-events`: the audit log, newest first.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use portcullis_domain::{AuditEvent, AuditFilter, FieldErrors, ValidationError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::AdminPrincipal;
use super::error::{ApiError, ErrorBody};
use super::paging::{next_token, page_request};
use crate::Admin;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEventView {
    pub event_id: i64,
    pub time: DateTime<Utc>,
    /// `system`, `bootstrap`, `admin-token:<id>` or `user:<id>`.
    pub actor: String,
    /// `<noun>.<verb>`, e.g. `user.create`.
    pub action: String,
    pub target: String,
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
}

impl From<AuditEvent> for AuditEventView {
    fn from(e: AuditEvent) -> Self {
        Self {
            event_id: e.id,
            time: e.time,
            actor: e.actor,
            action: e.action,
            target: e.target,
            details: e.details.and_then(|d| serde_json::from_str(&d).ok()),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEventList {
    pub events: Vec<AuditEventView>,
    pub next_token: Option<String>,
}

/// Filters and paging. `since`/`until` are RFC 3339 times; `action` may end in `.*` for a prefix.
#[derive(Debug, Default, Serialize, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// 1–1000, default 100.
    #[param(minimum = 1, maximum = 1000)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_results: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

fn time(raw: &str) -> Result<DateTime<Utc>, ValidationError> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| ValidationError::new("must be an RFC 3339 time such as 2026-01-31T12:00:00Z"))
}

#[utoipa::path(get, path = "/admin/v1/audit-events", tag = "audit", params(AuditQuery),
    responses((status = 200, body = AuditEventList), (status = 400, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    _admin: AdminPrincipal,
    state: web::Data<Admin>,
    q: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let mut e = FieldErrors::new();
    let since = q.since.as_deref().and_then(|v| e.check("since", time(v)));
    let until = q.until.as_deref().and_then(|v| e.check("until", time(v)));
    let filter = e.finish(|| {
        Some(AuditFilter {
            since,
            until,
            actor: q.actor.clone(),
            action: q.action.clone(),
        })
    })?;
    let page = page_request(q.max_results, q.next_token.as_deref())?;
    let page = state.directory.list_audit_events(&filter, page).await?;
    Ok(HttpResponse::Ok().json(AuditEventList {
        next_token: next_token(page.next),
        events: page.items.into_iter().map(Into::into).collect(),
    }))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/audit-events").route(web::get().to(list)));
}

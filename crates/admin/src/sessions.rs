//! `/admin/v1/users/{userId}/sessions`, `/one-time-password` and `/mfa-devices`: a person's
//! portal sessions, first-sign-in passwords and MFA devices.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use portcullis_domain::{MfaDevice, NewAuditEvent, UserId};
use portcullis_sessions::{PortalSession, SessionError, SessionId};
use portcullis_signin::delivery::{MessagePurpose, OutgoingMessage};
use portcullis_signin::password::generate_one_time_password;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::auth::AdminPrincipal;
use super::error::{ApiError, ErrorBody};
use super::wire::{optional_json, parse_id};
use crate::Admin;

impl From<SessionError> for ApiError {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::Unavailable(_) => ApiError::SessionsUnavailable(e),
            SessionError::Corrupt(_) => {
                ApiError::Internal(anyhow::Error::new(e).context("session store"))
            }
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    /// SHA-256 of the session token (the token itself is never shown).
    pub session_id: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Authentication methods (RFC 8176): `pwd`, `otp`, `mfa`.
    pub amr: Vec<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl From<PortalSession> for SessionView {
    fn from(s: PortalSession) -> Self {
        Self {
            session_id: s.id.to_string(),
            created_at: s.created_at,
            expires_at: s.expires_at,
            amr: s.amr,
            ip: s.client.ip,
            user_agent: s.client.user_agent,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    pub sessions: Vec<SessionView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RevokedSessions {
    pub revoked: usize,
}

async fn user_id(state: &Admin, raw: &str) -> Result<UserId, ApiError> {
    let id: UserId = parse_id("userId", raw)?;
    state.directory.get_user(id).await?;
    Ok(id)
}

#[utoipa::path(get, path = "/admin/v1/users/{userId}/sessions", tag = "users",
    params(("userId" = Uuid, Path)),
    responses((status = 200, body = SessionList), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    _admin: AdminPrincipal,
    state: web::Data<Admin>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = user_id(&state, &path).await?;
    let sessions = state.sessions.list_user_sessions(id).await?;
    Ok(HttpResponse::Ok().json(SessionList {
        sessions: sessions.into_iter().map(Into::into).collect(),
    }))
}

#[utoipa::path(delete, path = "/admin/v1/users/{userId}/sessions", tag = "users",
    params(("userId" = Uuid, Path)),
    responses((status = 200, body = RevokedSessions), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn revoke_all(
    admin: AdminPrincipal,
    state: web::Data<Admin>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = user_id(&state, &path).await?;
    let revoked = state.sessions.revoke_user_sessions(id).await?;
    let event = NewAuditEvent::new(admin.actor, "user.sessions.revoke", format!("user:{id}"))
        .with_details(serde_json::json!({ "revoked": revoked }).to_string());
    state.directory.record_event(event).await?;
    Ok(HttpResponse::Ok().json(RevokedSessions { revoked }))
}

#[utoipa::path(delete, path = "/admin/v1/users/{userId}/sessions/{sessionId}", tag = "users",
    params(("userId" = Uuid, Path), ("sessionId" = String, Path)),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn revoke_one(
    admin: AdminPrincipal,
    state: web::Data<Admin>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let id = user_id(&state, &path.0).await?;
    let session = SessionId::parse(&path.1)
        .ok_or_else(|| ApiError::field("sessionId", "must be 64 hexadecimal digits"))?;
    if !state.sessions.revoke_session(id, &session).await? {
        return Err(ApiError::NotFound("session not found".into()));
    }
    let event = NewAuditEvent::new(admin.actor, "user.session.revoke", format!("user:{id}"))
        .with_details(serde_json::json!({ "sessionId": session }).to_string());
    state.directory.record_event(event).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// How to hand over a one-time password.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OneTimePasswordRequest {
    /// `RETURN` (default): shown once in this response, for the administrator to hand over.
    /// `EMAIL`: sent to the person's email address and not shown.
    #[schema(pattern = r"^(RETURN|EMAIL)$")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OneTimePasswordResponse {
    /// `RETURN` or `EMAIL`.
    pub delivery: &'static str,
    /// The password, only with `RETURN`. The person must choose a new one when signing in.
    pub one_time_password: Option<String>,
}

impl std::fmt::Debug for OneTimePasswordResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OneTimePasswordResponse")
            .field("delivery", &self.delivery)
            .finish_non_exhaustive()
    }
}

#[utoipa::path(post, path = "/admin/v1/users/{userId}/one-time-password", tag = "users",
    params(("userId" = Uuid, Path)), request_body = OneTimePasswordRequest,
    responses((status = 200, body = OneTimePasswordResponse), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 502, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn one_time_password(
    admin: AdminPrincipal,
    state: web::Data<Admin>,
    path: web::Path<String>,
    req: actix_web::HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    // The body is optional, but one that is sent must be JSON and valid: not ignored.
    let body: Option<OneTimePasswordRequest> = optional_json(&req, &body)?;
    let id: UserId = parse_id("userId", &path)?;
    let email = match body.and_then(|b| b.delivery).as_deref() {
        None | Some("RETURN") => false,
        Some("EMAIL") => true,
        Some(_) => return Err(ApiError::field("delivery", "must be RETURN or EMAIL")),
    };
    let user = state.directory.get_user(id).await?;
    let password = generate_one_time_password();
    let hash = state
        .signin
        .passwords
        .hash(&password)
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    if email {
        let message = OutgoingMessage {
            to: user.email.clone(),
            to_name: Some(user.display_name.to_string()),
            subject: "Your Portcullis one-time password".into(),
            text: format!(
                "Hello {},\n\nAn administrator created a one-time password for you: {}\n\nSign in at {}/start with your username ({}) and this password; you will then choose your own.\n",
                user.display_name,
                password.expose(),
                state.oidc.auth.issuer_url(),
                user.user_name
            ),
            purpose: MessagePurpose::OneTimePassword,
        };
        // Sent before it is stored: a failed delivery changes nothing.
        state
            .signin
            .sender
            .send(message)
            .await
            .map_err(|e| ApiError::Delivery(e.to_string()))?;
    }
    state
        .directory
        .set_password(admin.actor, id, hash, true)
        .await?;
    Ok(HttpResponse::Ok().json(OneTimePasswordResponse {
        delivery: if email { "EMAIL" } else { "RETURN" },
        one_time_password: (!email).then(|| password.expose().to_owned()),
    }))
}

/// A password set by an administrator.
#[derive(Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetPassword {
    /// Checked against the password policy (length, common passwords) when set.
    #[schema(required = true, nullable = false, min_length = 1)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// When true (the default) the person must choose a new password at their next sign-in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temporary: Option<bool>,
}

impl std::fmt::Debug for SetPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SetPassword")
            .field("temporary", &self.temporary)
            .finish_non_exhaustive()
    }
}

#[utoipa::path(put, path = "/admin/v1/users/{userId}/password", tag = "users",
    params(("userId" = Uuid, Path)), request_body = SetPassword,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn set_password(
    admin: AdminPrincipal,
    state: web::Data<Admin>,
    path: web::Path<String>,
    body: web::Json<SetPassword>,
) -> Result<HttpResponse, ApiError> {
    let id: UserId = parse_id("userId", &path)?;
    let body = body.into_inner();
    let password = portcullis_signin::password::Password::new(
        body.password
            .ok_or_else(|| ApiError::field("password", "is required"))?,
    );
    let user = state.directory.get_user(id).await?;
    state
        .signin
        .passwords
        .check_policy(&password, &user)
        .map_err(|m| ApiError::field("password", m))?;
    let hash = state
        .signin
        .passwords
        .hash(&password)
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    state
        .directory
        .set_password(admin.actor, id, hash, body.temporary.unwrap_or(true))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MfaDeviceView {
    pub device_id: Uuid,
    /// `AUTHENTICATOR_APP` or `WEBAUTHN`.
    pub kind: &'static str,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<MfaDevice> for MfaDeviceView {
    fn from(d: MfaDevice) -> Self {
        Self {
            device_id: d.id,
            kind: d.kind.as_str(),
            name: d.name.into(),
            created_at: d.created_at,
            last_used_at: d.last_used_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MfaDeviceList {
    pub devices: Vec<MfaDeviceView>,
}

#[utoipa::path(get, path = "/admin/v1/users/{userId}/mfa-devices", tag = "users",
    params(("userId" = Uuid, Path)),
    responses((status = 200, body = MfaDeviceList), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_devices(
    _admin: AdminPrincipal,
    state: web::Data<Admin>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = user_id(&state, &path).await?;
    let devices = state.directory.list_mfa_devices(id).await?;
    Ok(HttpResponse::Ok().json(MfaDeviceList {
        devices: devices.into_iter().map(Into::into).collect(),
    }))
}

#[utoipa::path(delete, path = "/admin/v1/users/{userId}/mfa-devices/{deviceId}", tag = "users",
    params(("userId" = Uuid, Path), ("deviceId" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete_device(
    admin: AdminPrincipal,
    state: web::Data<Admin>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let id = user_id(&state, &path.0).await?;
    let device =
        Uuid::parse_str(&path.1).map_err(|_| ApiError::field("deviceId", "must be a UUID"))?;
    state
        .directory
        .delete_mfa_device(admin.actor, id, device)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/users/{userId}/sessions")
            .route(web::get().to(list))
            .route(web::delete().to(revoke_all)),
    )
    .service(
        web::resource("/users/{userId}/sessions/{sessionId}").route(web::delete().to(revoke_one)),
    )
    .service(
        web::resource("/users/{userId}/one-time-password").route(web::post().to(one_time_password)),
    )
    .service(web::resource("/users/{userId}/password").route(web::put().to(set_password)))
    .service(web::resource("/users/{userId}/mfa-devices").route(web::get().to(list_devices)))
    .service(
        web::resource("/users/{userId}/mfa-devices/{deviceId}")
            .route(web::delete().to(delete_device)),
    );
}

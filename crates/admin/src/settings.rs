//! `/admin/v1/settings`: portal session lifetime, MFA policy, email one-time passwords.

use actix_web::{HttpResponse, web};
use portcullis_domain::{
    FieldErrors, MfaPolicy, MfaPrompt, MfaType, NoDeviceAction, SessionLifetime, Settings,
    ValidationError,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::AdminPrincipal;
use super::error::{ApiError, ErrorBody};
use crate::Admin;

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MfaView {
    /// `EVERY_SIGN_IN`, `CONTEXT_CHANGE` or `NEVER`.
    #[schema(pattern = r"^(EVERY_SIGN_IN|CONTEXT_CHANGE|NEVER)$")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// Any of `AUTHENTICATOR_APP`, `WEBAUTHN`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_types: Option<Vec<String>>,
    /// `REQUIRE_REGISTRATION`, `EMAIL_CODE`, `BLOCK` or `ALLOW`.
    #[schema(pattern = r"^(REQUIRE_REGISTRATION|EMAIL_CODE|BLOCK|ALLOW)$")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_device_action: Option<String>,
}

/// The settings (GET), or the ones to change (PUT: omitted fields keep their value).
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SettingsView {
    /// Portal session lifetime, ISO-8601: `PT15M` to `P90D`, default `PT8H`.
    #[schema(
        pattern = r"^P([0-9]+W|[0-9]+D|([0-9]+D)?T([0-9]+H([0-9]+M)?([0-9]+S)?|[0-9]+M([0-9]+S)?|[0-9]+S))$"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_duration: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mfa: Option<MfaView>,
    /// Users created without a password get an emailed one-time password at first sign-in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_otp: Option<bool>,
}

fn name_of<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl From<Settings> for SettingsView {
    fn from(s: Settings) -> Self {
        Self {
            session_duration: Some(s.session_lifetime.to_iso8601()),
            mfa: Some(MfaView {
                prompt: Some(name_of(&s.mfa.prompt())),
                allowed_types: Some(s.mfa.allowed_types().iter().map(name_of).collect()),
                no_device_action: Some(name_of(&s.mfa.no_device())),
            }),
            email_otp: Some(s.email_otp),
        }
    }
}

fn parse_enum<T: DeserializeOwned>(raw: &str, allowed: &str) -> Result<T, ValidationError> {
    serde_json::from_value(serde_json::Value::String(raw.to_owned()))
        .map_err(|_| ValidationError::new(format!("must be one of {allowed}")))
}

pub(crate) fn apply(body: SettingsView, cur: Settings) -> Result<Settings, FieldErrors> {
    let mut e = FieldErrors::new();
    let session_lifetime = match body.session_duration {
        Some(v) => e.check("sessionDuration", SessionLifetime::parse_iso8601(&v)),
        None => Some(cur.session_lifetime),
    };
    let mfa_body = body.mfa.unwrap_or(MfaView {
        prompt: None,
        allowed_types: None,
        no_device_action: None,
    });
    let prompt = match mfa_body.prompt {
        Some(v) => e.check(
            "mfa.prompt",
            parse_enum::<MfaPrompt>(&v, "EVERY_SIGN_IN, CONTEXT_CHANGE, NEVER"),
        ),
        None => Some(cur.mfa.prompt()),
    };
    let types = match mfa_body.allowed_types {
        Some(list) => list
            .iter()
            .map(|t| {
                e.check(
                    "mfa.allowedTypes",
                    parse_enum::<MfaType>(t, "AUTHENTICATOR_APP, WEBAUTHN"),
                )
            })
            .collect::<Option<Vec<_>>>(),
        None => Some(cur.mfa.allowed_types().to_vec()),
    };
    let no_device = match mfa_body.no_device_action {
        Some(v) => e.check(
            "mfa.noDeviceAction",
            parse_enum::<NoDeviceAction>(&v, "REQUIRE_REGISTRATION, EMAIL_CODE, BLOCK, ALLOW"),
        ),
        None => Some(cur.mfa.no_device()),
    };
    let mfa = match (prompt, types, no_device) {
        (Some(p), Some(t), Some(n)) => e.check("mfa", MfaPolicy::new(p, t, n)),
        _ => None,
    };
    e.finish(|| {
        Some(Settings {
            session_lifetime: session_lifetime?,
            mfa: mfa?,
            email_otp: body.email_otp.unwrap_or(cur.email_otp),
        })
    })
}

#[utoipa::path(get, path = "/admin/v1/settings", tag = "settings",
    responses((status = 200, body = SettingsView)),
    security(("bearer" = [])))]
pub async fn get(
    _admin: AdminPrincipal,
    state: web::Data<Admin>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(SettingsView::from(state.directory.get_settings().await?)))
}

#[utoipa::path(put, path = "/admin/v1/settings", tag = "settings", request_body = SettingsView,
    responses((status = 200, body = SettingsView), (status = 400, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn put(
    admin: AdminPrincipal,
    state: web::Data<Admin>,
    body: web::Json<SettingsView>,
) -> Result<HttpResponse, ApiError> {
    let current = state.directory.get_settings().await?;
    let next = apply(body.into_inner(), current)?;
    let stored = state.directory.put_settings(admin.actor, next).await?;
    Ok(HttpResponse::Ok().json(SettingsView::from(stored)))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/settings")
            .route(web::get().to(get))
            .route(web::put().to(put)),
    );
}

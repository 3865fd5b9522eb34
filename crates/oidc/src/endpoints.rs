//! Userinfo (OIDC Core §5.3), revocation (RFC 7009) and introspection (RFC 7662).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_domain::UserId;
use serde_json::{Value, json};

use super::clients::PresentedClient;
use super::error::OAuthError;
use super::token::form_params;
use super::tokens::user_claims;
use crate::Oidc;

/// A live access token's claims.
#[derive(Debug)]
pub struct LiveAccess {
    pub claims: serde_json::Map<String, Value>,
    /// The person, for user tokens (not for `client_credentials`).
    pub user: Option<UserId>,
}

impl Oidc {
    /// Verifies an RFC 9068 access token of ours and checks it is still alive: not revoked, and
    /// (for a person's token) its family and portal session live. `Ok(None)` when it is not.
    pub async fn live_access_token(&self, token: &str) -> Result<Option<LiveAccess>, OAuthError> {
        let verified = match self.keys.verify(token).await {
            Ok(v) => v,
            Err(super::keys::KeyError::Rejected(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if verified.typ.as_deref() != Some("at+jwt") {
            return Ok(None);
        }
        let claims = verified.claims;
        let Some(jti) = claims.get("jti").and_then(Value::as_str) else {
            return Ok(None);
        };
        if self.is_jti_revoked(jti).await? {
            return Ok(None);
        }
        let user = match claims.get("sid").and_then(Value::as_str) {
            Some(family) => match self.live_family(family).await? {
                Some((record, _)) => Some(record.user_id),
                None => return Ok(None),
            },
            None => None,
        };
        Ok(Some(LiveAccess { claims, user }))
    }
}

fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
        .filter(|t| !t.is_empty())
}

fn invalid_token(description: &str) -> HttpResponse {
    HttpResponse::Unauthorized()
        .insert_header((
            header::WWW_AUTHENTICATE,
            format!("Bearer error=\"invalid_token\", error_description=\"{description}\""),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({"error": "invalid_token", "error_description": description}))
}

/// `GET|POST /oauth2/userinfo`: the bearer token in the header, or (POST) as `access_token`.
pub async fn userinfo(oidc: web::Data<Oidc>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let token = match bearer(&req) {
        Some(t) => Some(t),
        None if req.method() == actix_web::http::Method::POST => form_params(&req, &body)
            .ok()
            .and_then(|p| p.get("access_token").cloned()),
        None => None,
    };
    let Some(token) = token else {
        return HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"portcullis\""))
            .json(json!({"error": "invalid_request", "error_description": "a bearer access token is required"}));
    };
    let outcome: Result<HttpResponse, OAuthError> = async {
        let Some(live) = oidc.live_access_token(&token).await? else {
            return Ok(invalid_token("the access token is invalid, expired or revoked"));
        };
        let Some(user_id) = live.user else {
            return Ok(invalid_token("the access token does not belong to a person"));
        };
        let scopes: Vec<String> = live
            .claims
            .get("scope")
            .and_then(Value::as_str)
            .unwrap_or("")
            .split(' ')
            .map(str::to_owned)
            .collect();
        if !scopes.iter().any(|s| s == "openid") {
            return Ok(HttpResponse::Forbidden()
                .insert_header((header::WWW_AUTHENTICATE, "Bearer error=\"insufficient_scope\", scope=\"openid\""))
                .json(json!({"error": "insufficient_scope", "error_description": "the token was not granted the openid scope"})));
        }
        let with_groups = scopes.iter().any(|s| s == "groups");
        let (user, groups) = oidc.user_and_groups(user_id, with_groups).await?;
        Ok(HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(Value::Object(user_claims(&user, &groups, &scopes))))
    }
    .await;
    outcome.unwrap_or_else(|e| e.to_json(false))
}

/// The authenticated client of a revocation or introspection request, and the form.
async fn authenticated(
    oidc: &Oidc,
    req: &HttpRequest,
    body: &[u8],
) -> Result<
    (
        super::clients::Client,
        std::collections::HashMap<String, String>,
    ),
    OAuthError,
> {
    let params = form_params(req, body)?;
    let presented = PresentedClient::from_request(
        req,
        params.get("client_id").map(String::as_str),
        params.get("client_secret").map(String::as_str),
    )?;
    let (client, _) = oidc.authenticate_client(&presented).await?;
    Ok((client, params))
}

/// `POST /oauth2/revoke` (RFC 7009): refresh tokens revoke their whole family; access tokens are
/// refused from now on. Unknown tokens are answered 200 as well.
pub async fn revoke(oidc: web::Data<Oidc>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let basic = req.headers().contains_key(header::AUTHORIZATION);
    let outcome: Result<(), OAuthError> = async {
        let (client, params) = authenticated(&oidc, &req, &body).await?;
        let Some(token) = params.get("token").filter(|t| !t.is_empty()) else {
            return Err(OAuthError::invalid_request("token is required"));
        };
        if let Some(record) = oidc.peek_refresh(token).await? {
            if record.grant.client_id == client.id {
                oidc.delete_refresh(token).await?;
                oidc.revoke_family(&record.family).await?;
            }
            return Ok(());
        }
        if let Ok(verified) = oidc.keys.verify(token).await {
            let owned = verified.claims.get("client_id").and_then(Value::as_str)
                == Some(client.id.as_str());
            let jti = verified.claims.get("jti").and_then(Value::as_str);
            let exp = verified.claims.get("exp").and_then(Value::as_i64);
            if let (true, Some(jti), Some(exp)) = (owned, jti, exp) {
                let until = chrono::DateTime::from_timestamp(exp, 0)
                    .unwrap_or_else(|| oidc.auth.clock.now());
                oidc.revoke_jti(jti, until).await?;
            }
        }
        Ok(())
    }
    .await;
    match outcome {
        Ok(()) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish(),
        Err(e) => e.to_json(basic),
    }
}

/// Whether an access token is the calling client's business: issued to it, or meant for it
/// (its client id in `aud`). Any other client learns only `active: false` (RFC 7662 §4: the
/// server decides what a caller may learn).
fn concerns(claims: &serde_json::Map<String, Value>, client_id: &str) -> bool {
    let issued_to = claims.get("client_id").and_then(Value::as_str) == Some(client_id);
    let audience = match claims.get("aud") {
        Some(Value::String(a)) => a == client_id,
        Some(Value::Array(all)) => all.iter().any(|a| a.as_str() == Some(client_id)),
        _ => false,
    };
    issued_to || audience
}

/// `POST /oauth2/introspect` (RFC 7662), for authenticated clients, about their own tokens.
pub async fn introspect(oidc: web::Data<Oidc>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let basic = req.headers().contains_key(header::AUTHORIZATION);
    let outcome: Result<Value, OAuthError> = async {
        let (client, params) = authenticated(&oidc, &req, &body).await?;
        let Some(token) = params.get("token").filter(|t| !t.is_empty()) else {
            return Err(OAuthError::invalid_request("token is required"));
        };
        if let Some(live) = oidc.live_access_token(token).await?
            && concerns(&live.claims, &client.id)
        {
            let mut out = serde_json::Map::new();
            out.insert("active".into(), json!(true));
            out.insert("token_type".into(), json!("Bearer"));
            for k in [
                "scope",
                "client_id",
                "sub",
                "exp",
                "iat",
                "iss",
                "aud",
                "jti",
                "auth_time",
            ] {
                if let Some(v) = live.claims.get(k) {
                    out.insert(k.into(), v.clone());
                }
            }
            if let Some(user) = live.user
                && let Ok(u) = oidc.auth.directory.get_user(user).await
            {
                out.insert("username".into(), json!(u.user_name.to_string()));
            }
            return Ok(Value::Object(out));
        }
        if let Some(record) = oidc.peek_refresh(token).await?
            && record.grant.client_id == client.id
            && oidc.live_family(&record.family).await?.is_some()
        {
            return Ok(json!({
                "active": true,
                "token_type": "refresh_token",
                "client_id": record.grant.client_id,
                "sub": record.grant.user_id.to_string(),
                "scope": record.grant.scope_string(),
                "exp": record.expires_at.timestamp(),
            }));
        }
        Ok(json!({"active": false}))
    }
    .await;
    match outcome {
        Ok(v) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(v),
        Err(e) => e.to_json(basic),
    }
}

//! The AWS SSO-OIDC API (`RegisterClient`, `StartDeviceAuthorization`, `CreateToken`) at the root
//! paths, JSON with camelCase keys, errors with `x-amzn-ErrorType` — so `aws sso login` and the
//! AWS SDKs work unmodified. Access tokens from here are opaque and live in the session store.
//! Wire facts: docs/design/oidc.md.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_domain::{GrantType, RedirectUri, Scope};
use serde::Deserialize;
use serde_json::json;

use super::clients::PresentedClient;
use super::error::OAuthError;
use super::token::TokenRequest;
use crate::Oidc;

/// The scope the AWS CLI asks for when it names none.
const DEFAULT_SCOPE: &str = "sso:account:access";

pub(crate) fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, OAuthError> {
    serde_json::from_slice(body)
        .map_err(|e| OAuthError::invalid_request(format!("the request body is not valid: {e}")))
}

fn ok(body: serde_json::Value) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

fn metadata(description: impl Into<String>) -> OAuthError {
    OAuthError::new("invalid_client_metadata", description)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RegisterClient {
    client_name: Option<String>,
    client_type: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    grant_types: Vec<String>,
    #[serde(default)]
    redirect_uris: Vec<String>,
    issuer_url: Option<String>,
    #[allow(dead_code)]
    entitled_application_arn: Option<String>,
}

/// Bounds of a registration: anyone may register (unauthenticated, as the AWS CLI does), so
/// what one registration may hold is small.
const MAX_NAME_CHARS: usize = 64;
const MAX_SCOPES: usize = 10;
const MAX_SCOPE_CHARS: usize = 64;
const MAX_REDIRECT_URIS: usize = 5;
const MAX_REDIRECT_URI_CHARS: usize = 256;
const REGISTRATIONS_NS: &str = "sso-registrations";
const HOUR: std::time::Duration = std::time::Duration::from_secs(3_600);

/// A checked `RegisterClient` request.
pub(crate) struct Registration {
    pub(crate) name: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) grants: Vec<GrantType>,
    pub(crate) redirect_uris: Vec<String>,
}

/// Checks a `RegisterClient` request. A self-registered client may use the device flow and, with
/// loopback redirect URIs only (`http://127.0.0.1:PORT/…`, `http://[::1]:PORT/…`, as the AWS CLI
/// does), the authorization code grant; a person consents before it gets their authority.
pub(crate) fn check_registration(r: RegisterClient) -> Result<Registration, OAuthError> {
    let name = r
        .client_name
        .map(|n| n.trim().to_owned())
        .filter(|n| {
            !n.is_empty() && n.chars().count() <= MAX_NAME_CHARS && !n.chars().any(char::is_control)
        })
        .ok_or_else(|| {
            OAuthError::invalid_request(format!(
                "clientName is required (1 to {MAX_NAME_CHARS} characters, no control characters)"
            ))
        })?;
    match r.client_type.as_deref() {
        Some("public") => {}
        Some(_) => return Err(metadata("clientType must be public")),
        None => return Err(OAuthError::invalid_request("clientType is required")),
    }
    if r.scopes.len() > MAX_SCOPES {
        return Err(OAuthError::invalid_scope(format!(
            "at most {MAX_SCOPES} scopes may be registered"
        )));
    }
    let mut scopes: Vec<String> = Vec::new();
    for s in &r.scopes {
        if s.chars().count() > MAX_SCOPE_CHARS || Scope::parse(s.as_str()).is_err() {
            return Err(OAuthError::invalid_scope(format!(
                "scope {} is not valid (at most {MAX_SCOPE_CHARS} printable characters)",
                s.chars().take(MAX_SCOPE_CHARS).collect::<String>()
            )));
        }
        if !scopes.contains(s) {
            scopes.push(s.clone());
        }
    }
    if scopes.is_empty() {
        scopes.push(DEFAULT_SCOPE.to_owned());
    }
    let mut grants: Vec<GrantType> = Vec::new();
    for g in &r.grant_types {
        let grant: GrantType = g
            .parse()
            .map_err(|_| metadata("a grant type is not supported"))?;
        if grant == GrantType::ClientCredentials {
            return Err(metadata(
                "client_credentials is not available to registered clients",
            ));
        }
        if !grants.contains(&grant) {
            grants.push(grant);
        }
    }
    if grants.is_empty() {
        grants = vec![GrantType::DeviceCode, GrantType::RefreshToken];
    }
    if r.redirect_uris.len() > MAX_REDIRECT_URIS {
        return Err(OAuthError::new(
            "invalid_redirect_uri",
            format!("at most {MAX_REDIRECT_URIS} redirect URIs may be registered"),
        ));
    }
    for u in &r.redirect_uris {
        let loopback = u.len() <= MAX_REDIRECT_URI_CHARS
            && RedirectUri::parse(u).is_ok_and(|uri| uri.is_loopback_ip());
        if !loopback {
            return Err(OAuthError::new(
                "invalid_redirect_uri",
                "a registered client may only redirect to this computer: \
                 http://127.0.0.1:PORT/… or http://[::1]:PORT/…",
            ));
        }
    }
    if grants.contains(&GrantType::AuthorizationCode) && r.redirect_uris.is_empty() {
        return Err(OAuthError::new(
            "invalid_redirect_uri",
            "the authorization_code grant needs at least one redirect URI",
        ));
    }
    Ok(Registration {
        name,
        scopes,
        grants,
        redirect_uris: r.redirect_uris,
    })
}

/// `POST /client/register`.
pub async fn register(oidc: web::Data<Oidc>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let outcome: Result<serde_json::Value, OAuthError> = async {
        let r: RegisterClient = parse(&body)?;
        if let Some(issuer) = &r.issuer_url
            && !oidc.is_start_url(issuer)
            && issuer.trim_end_matches('/') != oidc.auth.issuer_url()
        {
            return Err(OAuthError::invalid_request(
                "issuerUrl is not this identity center",
            ));
        }
        let reg = check_registration(r)?;
        // Counted before anything is stored: at most so many per address and hour.
        let address = portcullis_auth::throttle::address_key(&oidc.auth.client_address(&req));
        let made = oidc
            .auth
            .sessions
            .increment(REGISTRATIONS_NS, &address, HOUR)
            .await?;
        if made > oidc.config.registrations_per_hour {
            return Err(OAuthError::new(
                "throttled",
                "too many client registrations from this address; try again later",
            ));
        }
        let (id, secret, stored) = oidc
            .register_client(
                reg.name,
                reg.scopes,
                reg.grants.iter().map(|g| g.as_str().to_owned()).collect(),
                reg.redirect_uris,
            )
            .await?;
        let base = oidc.auth.issuer_url();
        Ok(json!({
            "clientId": id,
            "clientSecret": secret,
            "clientIdIssuedAt": stored.issued_at.timestamp(),
            "clientSecretExpiresAt": stored.expires_at.timestamp(),
            "authorizationEndpoint": format!("{base}/authorize"),
            "tokenEndpoint": format!("{base}/token"),
        }))
    }
    .await;
    outcome.map(ok).unwrap_or_else(|e| e.to_aws())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StartDevice {
    client_id: Option<String>,
    client_secret: Option<String>,
    start_url: Option<String>,
}

fn presented(id: Option<String>, secret: Option<String>) -> PresentedClient {
    PresentedClient {
        client_id: id,
        client_secret: secret,
        basic: false,
    }
}

/// `POST /device_authorization`.
pub async fn device_authorization(oidc: web::Data<Oidc>, body: web::Bytes) -> HttpResponse {
    let outcome: Result<serde_json::Value, OAuthError> = async {
        let r: StartDevice = parse(&body)?;
        let (client, _) = oidc
            .authenticate_client(&presented(r.client_id, r.client_secret))
            .await?;
        let Some(start_url) = r.start_url else {
            return Err(OAuthError::invalid_request("startUrl is required"));
        };
        if !oidc.is_start_url(&start_url) {
            return Err(OAuthError::invalid_request(format!(
                "startUrl must be this identity center's sign-in URL, {}/start",
                oidc.auth.issuer_url()
            )));
        }
        let scopes = client
            .settings
            .allowed_scopes
            .iter()
            .map(|s| s.as_str().to_owned())
            .collect();
        let d = oidc.start_device(&client, scopes).await?;
        Ok(json!({
            "deviceCode": d.device_code,
            "userCode": d.user_code,
            "verificationUri": d.verification_uri,
            "verificationUriComplete": d.verification_uri_complete,
            "expiresIn": d.expires_in,
            "interval": d.interval,
        }))
    }
    .await;
    outcome.map(ok).unwrap_or_else(|e| e.to_aws())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateToken {
    client_id: Option<String>,
    client_secret: Option<String>,
    grant_type: Option<String>,
    device_code: Option<String>,
    code: Option<String>,
    refresh_token: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    scope: Option<Vec<String>>,
}

/// `POST /token`.
pub async fn create_token(oidc: web::Data<Oidc>, body: web::Bytes) -> HttpResponse {
    let outcome = async {
        let r: CreateToken = parse(&body)?;
        let (client, _) = oidc
            .authenticate_client(&presented(r.client_id, r.client_secret))
            .await?;
        let Some(grant_type) = r.grant_type else {
            return Err(OAuthError::invalid_request("grantType is required"));
        };
        let request = TokenRequest {
            grant_type,
            code: r.code,
            redirect_uri: r.redirect_uri,
            code_verifier: r.code_verifier,
            refresh_token: r.refresh_token,
            device_code: r.device_code,
            scope: r.scope.filter(|s| !s.is_empty()),
        };
        oidc.exchange(&client, request, true).await
    }
    .await;
    match outcome {
        Ok(tokens) => ok(tokens.to_aws_json()),
        Err(e) => e.to_aws(),
    }
}

impl Oidc {
    /// Whether `url` is our sign-in URL (`{public_url}/start`, with or without a trailing slash
    /// or the `#` the AWS console appends).
    pub fn is_start_url(&self, url: &str) -> bool {
        let url = url.split('#').next().unwrap_or("").trim_end_matches('/');
        url == format!("{}/start", self.auth.issuer_url())
    }
}

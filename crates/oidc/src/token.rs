//! The token endpoint (`POST /oauth2/token`): authorization code, refresh token, client
//! credentials and device code grants, with `client_secret_basic`, `client_secret_post` and
//! `none` client authentication. The grant logic is shared with the SSO-OIDC API's `/token`.

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_domain::GrantType;

use super::authorize::{pkce_matches, single_params};
use super::clients::{Client, PresentedClient};
use super::error::OAuthError;
use super::tokens::IssuedTokens;
use crate::Oidc;

/// What a token request asks for, whatever its encoding.
#[derive(Debug, Default)]
pub struct TokenRequest {
    pub grant_type: String,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
    pub device_code: Option<String>,
    /// `None` when not given; the requested scopes otherwise.
    pub scope: Option<Vec<String>>,
}

/// Whether a request's body is form-encoded (RFC 6749 §3.2).
pub fn is_form(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// Parses a form body into single-valued parameters.
pub fn form_params(req: &HttpRequest, body: &[u8]) -> Result<HashMap<String, String>, OAuthError> {
    if !is_form(req) {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    single_params(pairs).map_err(OAuthError::invalid_request)
}

/// `POST /oauth2/token`.
pub async fn token(oidc: web::Data<Oidc>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let basic = req.headers().contains_key(header::AUTHORIZATION);
    match token_inner(&oidc, &req, &body).await {
        Ok(tokens) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"))
            .json(tokens.to_oauth_json()),
        Err(e) => e.to_json(basic),
    }
}

async fn token_inner(
    oidc: &Oidc,
    req: &HttpRequest,
    body: &[u8],
) -> Result<IssuedTokens, OAuthError> {
    let params = form_params(req, body)?;
    let get = |k: &str| params.get(k).filter(|v| !v.is_empty()).cloned();
    let presented = PresentedClient::from_request(
        req,
        params.get("client_id").map(String::as_str),
        params.get("client_secret").map(String::as_str),
    )?;
    let (client, _) = oidc.authenticate_client(&presented).await?;
    let Some(grant_type) = get("grant_type") else {
        return Err(OAuthError::invalid_request("grant_type is required"));
    };
    let request = TokenRequest {
        grant_type,
        code: get("code"),
        redirect_uri: get("redirect_uri"),
        code_verifier: get("code_verifier"),
        refresh_token: get("refresh_token"),
        device_code: get("device_code"),
        scope: get("scope").map(|s| {
            s.split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        }),
    };
    oidc.exchange(&client, request, false).await
}

impl Oidc {
    /// Runs a grant for an authenticated client. `opaque`: access tokens for the SSO-OIDC API.
    pub async fn exchange(
        &self,
        client: &Client,
        request: TokenRequest,
        opaque: bool,
    ) -> Result<IssuedTokens, OAuthError> {
        let grant: GrantType = request.grant_type.parse().map_err(|_| {
            OAuthError::new(
                "unsupported_grant_type",
                format!("grant_type {} is not supported", request.grant_type),
            )
        })?;
        if !client.allows(grant) {
            return Err(OAuthError::unauthorized_client(format!(
                "this client may not use the {} grant",
                grant.as_str()
            )));
        }
        let outcome = match grant {
            GrantType::AuthorizationCode => self.code_grant(client, request, opaque).await,
            GrantType::RefreshToken => self.refresh_grant(client, request, opaque).await,
            GrantType::ClientCredentials => self.client_credentials_grant(client, request).await,
            GrantType::DeviceCode => self.device_grant(client, request, opaque).await,
        };
        self.auth.metrics.token(grant.as_str(), outcome.is_ok());
        if outcome.is_ok()
            && let Err(e) = self.mark_registration_used(client).await
        {
            tracing::warn!(error = %e.description, "could not extend a used client registration");
        }
        outcome
    }

    async fn code_grant(
        &self,
        client: &Client,
        request: TokenRequest,
        opaque: bool,
    ) -> Result<IssuedTokens, OAuthError> {
        let Some(code) = request.code else {
            return Err(OAuthError::invalid_request("code is required"));
        };
        let record = self.waiting_code(&code).await?;
        if record.grant.client_id != client.id {
            return Err(OAuthError::invalid_grant(
                "the authorization code was issued to another client",
            ));
        }
        let redirect_ok = match request.redirect_uri.as_deref() {
            Some(given) => given == record.redirect_uri,
            None => !record.redirect_uri_presented,
        };
        if !redirect_ok {
            return Err(OAuthError::invalid_grant(
                "redirect_uri differs from the authorization request's",
            ));
        }
        match (&record.code_challenge, &request.code_verifier) {
            (Some(challenge), Some(verifier)) if pkce_matches(challenge, verifier) => {}
            (Some(_), _) => {
                return Err(OAuthError::invalid_grant(
                    "the PKCE code_verifier does not match",
                ));
            }
            (None, Some(_)) => {
                return Err(OAuthError::invalid_grant(
                    "a code_verifier was sent but the authorization request had no code_challenge",
                ));
            }
            (None, None) => {}
        }
        let Some(session) = self
            .live_session(record.grant.user_id, &record.grant.session_id)
            .await?
        else {
            return Err(OAuthError::invalid_grant("the portal session has ended"));
        };
        let (family, mut writes) = self.new_family(client, &record.grant, &session).await?;
        let (tokens, more) = self
            .prepare_user_tokens(client, &record.grant, &family, &session, opaque)
            .await?;
        writes.extend(more);
        // The code is spent here, with everything it grants, or not at all.
        self.redeem_code(&code, &family, &writes).await?;
        Ok(tokens)
    }

    async fn client_credentials_grant(
        &self,
        client: &Client,
        request: TokenRequest,
    ) -> Result<IssuedTokens, OAuthError> {
        if client.settings.client_type == portcullis_domain::ClientType::Public {
            return Err(OAuthError::unauthorized_client(
                "public clients cannot use client_credentials",
            ));
        }
        let allowed: Vec<String> = client
            .settings
            .allowed_scopes
            .iter()
            .map(|s| s.as_str().to_owned())
            .collect();
        let scopes = match request.scope {
            None => allowed,
            Some(asked) => {
                if let Some(bad) = asked.iter().find(|s| !allowed.contains(s)) {
                    return Err(OAuthError::invalid_scope(format!(
                        "scope {bad} is not allowed for this client"
                    )));
                }
                asked
            }
        };
        self.issue_client_token(client, scopes).await
    }
}

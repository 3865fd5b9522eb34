//! The authorization endpoint (`/oauth2/authorize`, and `/authorize` for the AWS CLI): code flow
//! with PKCE, single sign-on from the portal session, `prompt`, `max_age`, `response_mode`.
//! Errors before the redirect URI is trusted are shown to the person; every later error goes back
//! to the client, as RFC 6749 §4.1.2.1 says.

use std::collections::HashMap;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use portcullis_domain::{GrantType, UserId};
use portcullis_store::StoreError;
use sha2::{Digest, Sha256};

use super::clients::{Client, ClientSource};
use super::error::OAuthError;
use super::grants::{CodeRecord, Grant};
use crate::Oidc;
use crate::pages::unavailable;
use portcullis_auth::PageError;
pub use portcullis_auth::web::single_params;

/// Where and how to answer the client once its redirect URI is trusted.
#[derive(Debug)]
pub struct Reply {
    pub redirect_uri: String,
    pub state: Option<String>,
    pub form_post: bool,
    pub issuer: String,
}

impl Reply {
    /// Sends `params` (plus `state` and `iss`, RFC 9207) back to the client.
    pub fn send(&self, mut params: Vec<(&str, String)>) -> HttpResponse {
        if let Some(state) = &self.state {
            params.push(("state", state.clone()));
        }
        params.push(("iss", self.issuer.clone()));
        if self.form_post {
            return form_post(&self.redirect_uri, &params);
        }
        let mut url = match url::Url::parse(&self.redirect_uri) {
            Ok(u) => u,
            Err(_) => {
                return PageError::cannot_complete(StatusCode::BAD_REQUEST, "invalid redirect URI")
                    .error_response();
            }
        };
        url.query_pairs_mut()
            .extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())));
        HttpResponse::Found()
            .insert_header((header::LOCATION, url.as_str()))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish()
    }

    pub fn error(&self, e: &OAuthError) -> HttpResponse {
        self.send(vec![
            ("error", e.code.to_owned()),
            ("error_description", e.description.clone()),
        ])
    }
}

const FORM_POST_SCRIPT: &str = "document.forms[0].submit();";

/// `response_mode=form_post`: a page that posts the answer to the client at once. Its own CSP
/// allows exactly its one script and a form posting to the client's origin.
fn form_post(action: &str, params: &[(&str, String)]) -> HttpResponse {
    use portcullis_auth::web::html_escape;
    let inputs: String = params
        .iter()
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                html_escape(k),
                html_escape(v)
            )
        })
        .collect();
    let body = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Signing in…</title></head>\
         <body><form method=\"post\" action=\"{}\">{inputs}\
         <noscript><button type=\"submit\">Continue</button></noscript></form>\
         <script>{FORM_POST_SCRIPT}</script></body></html>",
        html_escape(action)
    );
    let hash = STANDARD.encode(Sha256::digest(FORM_POST_SCRIPT.as_bytes()));
    let origin = url::Url::parse(action)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            format!(
                "default-src 'none'; script-src 'sha256-{hash}'; form-action {origin}; \
                 frame-ancestors 'none'; base-uri 'none'"
            ),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

/// Whether a PKCE challenge is well formed: 43 base64url characters (a SHA-256), after the one
/// trailing `=` the AWS CLI leaves off is tolerated either way.
pub(crate) fn normalise_challenge(raw: &str) -> Option<String> {
    let c = raw.trim_end_matches('=');
    (c.len() == 43
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    .then(|| c.to_owned())
}

/// Whether `verifier` proves `challenge` (RFC 7636 §4.6, S256 only).
pub fn pkce_matches(challenge: &str, verifier: &str) -> bool {
    let valid = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    valid && URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) == challenge
}

/// `GET /oauth2/authorize`.
pub async fn authorize_get(
    oidc: web::Data<Oidc>,
    req: HttpRequest,
    q: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    authorize(&oidc, &req, q.into_inner()).await
}

/// `POST /oauth2/authorize` (form-encoded, OIDC Core §3.1.2.1).
pub async fn authorize_post(
    oidc: web::Data<Oidc>,
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    authorize(&oidc, &req, form.into_inner()).await
}

async fn authorize(
    oidc: &Oidc,
    req: &HttpRequest,
    pairs: Vec<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let params =
        single_params(pairs).map_err(|e| PageError::cannot_complete(StatusCode::BAD_REQUEST, e))?;
    // Coming back from a sign-in this endpoint asked for: the request as it was parked.
    let Some(key) = params.get("resume") else {
        return authorize_with(oidc, req, params, Resumed::default()).await;
    };
    if params.len() > 1 {
        return Err(PageError::cannot_complete(
            StatusCode::BAD_REQUEST,
            "A resumed sign-in request carries nothing but its reference.",
        ));
    }
    let Some(parked) = oidc.parked(key).await.map_err(unavailable)? else {
        return Err(PageError::cannot_complete(
            StatusCode::BAD_REQUEST,
            "This sign-in request has expired. Start again from the application.",
        ));
    };
    let resumed = Resumed {
        login_after: parked.login_after,
        decision: Decision::Ask,
    };
    authorize_with(oidc, req, parked.params, resumed).await
}

/// What the server itself knows of a request beyond its parameters (kept server-side, never
/// taken from the client).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Resumed {
    /// Only a sign-in at or after this instant (Unix seconds) satisfies the request: set when
    /// this endpoint sent the person to sign in again for `prompt=login` or `max_age`.
    pub login_after: Option<i64>,
    pub decision: Decision,
}

/// The person's answer on the consent page, when the request comes back from it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) enum Decision {
    /// No answer yet: ask when consent is needed and not remembered.
    #[default]
    Ask,
    Allowed,
    Denied,
}

/// The authorization request `params`, checked and answered.
pub(super) async fn authorize_with(
    oidc: &Oidc,
    req: &HttpRequest,
    params: HashMap<String, String>,
    resumed: Resumed,
) -> Result<HttpResponse, PageError> {
    let refuse = |text| Err(PageError::cannot_complete(StatusCode::BAD_REQUEST, text));
    let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let Some(client_id) = get("client_id") else {
        return refuse("The request names no client (client_id).");
    };
    let Some(client) = oidc.find_client(client_id).await.map_err(unavailable)? else {
        return refuse("The application asking you to sign in is not known here, or is disabled.");
    };
    let redirect_uri = match get("redirect_uri") {
        Some(r) if client.redirect_matches(r) => r.to_owned(),
        Some(_) => {
            return refuse(
                "The application sent you to an address it has not registered (redirect_uri).",
            );
        }
        None if client.settings.redirect_uris.len() == 1 => {
            client.settings.redirect_uris[0].as_str().to_owned()
        }
        None => return refuse("The request has no redirect_uri."),
    };
    let form_post = match get("response_mode") {
        None | Some("query") => false,
        Some("form_post") => true,
        Some(_) => false,
    };
    let reply = Reply {
        redirect_uri,
        state: get("state").map(str::to_owned),
        form_post,
        issuer: oidc.auth.issuer_url(),
    };
    if !matches!(get("response_mode"), None | Some("query" | "form_post")) {
        return Ok(reply.error(&OAuthError::invalid_request(
            "response_mode must be query or form_post",
        )));
    }
    // The client hears every refusal of its request; a failure of ours is the person's page.
    match authorize_trusted(oidc, req, &client, &params, &reply, resumed).await {
        Ok(resp) => Ok(resp),
        Err(e) if e.code == "temporarily_unavailable" => Err(unavailable(e)),
        Err(e) => Ok(reply.error(&e)),
    }
}

/// Everything after the redirect URI is known to be the client's.
async fn authorize_trusted(
    oidc: &Oidc,
    req: &HttpRequest,
    client: &Client,
    params: &HashMap<String, String>,
    reply: &Reply,
    resumed: Resumed,
) -> Result<HttpResponse, OAuthError> {
    let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
    match get("response_type") {
        Some("code") => {}
        Some(_) => {
            return Err(OAuthError::new(
                "unsupported_response_type",
                "only response_type=code is supported",
            ));
        }
        None => return Err(OAuthError::invalid_request("response_type is required")),
    }
    if !client.allows(GrantType::AuthorizationCode) {
        return Err(OAuthError::unauthorized_client(
            "this client may not use the authorization code grant",
        ));
    }
    let scopes = requested_scopes(params, client)?;
    let code_challenge = match (get("code_challenge"), get("code_challenge_method")) {
        (None, None) if client.requires_pkce() => {
            return Err(OAuthError::invalid_request(
                "this client must use PKCE (code_challenge with code_challenge_method=S256)",
            ));
        }
        (None, None) => None,
        (Some(c), Some("S256")) => Some(normalise_challenge(c).ok_or_else(|| {
            OAuthError::invalid_request("code_challenge must be 43 base64url characters")
        })?),
        (_, Some("plain")) | (Some(_), None) => {
            return Err(OAuthError::invalid_request(
                "the plain PKCE method is not supported; use code_challenge_method=S256",
            ));
        }
        (None, Some(_)) => return Err(OAuthError::invalid_request("code_challenge is missing")),
        (_, Some(_)) => {
            return Err(OAuthError::invalid_request(
                "code_challenge_method must be S256",
            ));
        }
    };
    let prompt: Vec<&str> = get("prompt")
        .unwrap_or("")
        .split(' ')
        .filter(|p| !p.is_empty())
        .collect();
    if prompt.contains(&"none") && prompt.len() > 1 {
        return Err(OAuthError::invalid_request(
            "prompt=none cannot be combined",
        ));
    }
    let max_age =
        match get("max_age") {
            Some(m) => Some(m.parse::<i64>().ok().filter(|m| *m >= 0).ok_or_else(|| {
                OAuthError::invalid_request("max_age must be a number of seconds")
            })?),
            None => None,
        };
    let login_after = resumed.login_after;

    let current = oidc.auth.current(req).await?;
    let now = oidc.auth.clock.now();
    let fresh_enough = |created: chrono::DateTime<chrono::Utc>| {
        max_age.is_none_or(|m| (now - created).num_seconds() <= m)
            && login_after.is_none_or(|t| created.timestamp() >= t)
    };
    let must_sign_in = match &current {
        None => true,
        Some(c) => {
            (prompt.contains(&"login") && login_after.is_none())
                || !fresh_enough(c.session.created_at)
        }
    };
    if must_sign_in {
        if prompt.contains(&"none") {
            return Err(OAuthError::new("login_required", "the person must sign in"));
        }
        return send_to_sign_in(oidc, req, params, current.is_some(), now.timestamp()).await;
    }
    let Some(current) = current else {
        return Err(OAuthError::new("login_required", "the person must sign in"));
    };
    if !oidc.assigned(current.user.id, client).await? {
        tracing::info!(client = %client.id, "refused an authorization: the person is not assigned to the application");
        return Err(OAuthError::access_denied(
            "you are not assigned to this application",
        ));
    }
    if resumed.decision == Decision::Denied {
        return Err(OAuthError::access_denied(
            "the person did not allow this application",
        ));
    }
    if resumed.decision == Decision::Ask
        && client.needs_consent()
        && (prompt.contains(&"consent")
            || !oidc.has_consent(current.user.id, client, &scopes).await?)
    {
        if prompt.contains(&"none") {
            return Err(OAuthError::new(
                "consent_required",
                "the person must allow this application first",
            ));
        }
        return oidc
            .ask_consent(req, client, &current, &scopes, &reply.redirect_uri, params)
            .await;
    }
    let grant = Grant {
        user_id: current.user.id,
        session_id: current.session.id.clone(),
        client_id: client.id.clone(),
        scopes,
        auth_time: current.session.created_at,
        amr: current.session.amr.clone(),
        nonce: get("nonce").map(str::to_owned),
    };
    let code = oidc
        .issue_code(&CodeRecord {
            grant,
            redirect_uri: reply.redirect_uri.clone(),
            redirect_uri_presented: params.contains_key("redirect_uri"),
            code_challenge,
        })
        .await?;
    Ok(reply.send(vec![("code", code)]))
}

impl Oidc {
    /// Whether `user` may use `client`: assigned to its application (directly or through a
    /// group); a client that registered itself belongs to no application and is anyone's.
    pub(crate) async fn assigned(&self, user: UserId, client: &Client) -> Result<bool, StoreError> {
        let ClientSource::Application(app) = client.source else {
            return Ok(true);
        };
        Ok(self
            .auth
            .directory
            .user_applications(user)
            .await?
            .iter()
            .any(|a| a.id == app))
    }
}

/// The scopes a request asks for, each once: `scope` (the AWS CLI sends `scopes`), each one the
/// client may ask for; a registered client that names none gets the ones it registered.
pub(super) fn requested_scopes(
    params: &HashMap<String, String>,
    client: &Client,
) -> Result<Vec<String>, OAuthError> {
    let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let scope_text = get("scope").or(get("scopes")).unwrap_or("");
    let mut scopes: Vec<String> = Vec::new();
    for s in scope_text.split(' ').filter(|s| !s.is_empty()) {
        if !client.knows_scope(s) {
            return Err(OAuthError::invalid_scope(format!("unknown scope {s}")));
        }
        if !scopes.iter().any(|x| x == s) {
            scopes.push(s.to_owned());
        }
    }
    if scopes.is_empty() && client.source == ClientSource::Registered {
        scopes = client
            .settings
            .allowed_scopes
            .iter()
            .map(|s| s.as_str().to_owned())
            .collect();
    }
    Ok(scopes)
}

/// Sends the person to sign in, and back here afterwards. When they must sign in again despite a
/// session, the request is parked server-side with "only a sign-in after now counts", and the way
/// back names only the parked request.
async fn send_to_sign_in(
    oidc: &Oidc,
    req: &HttpRequest,
    params: &HashMap<String, String>,
    reauth: bool,
    now: i64,
) -> Result<HttpResponse, OAuthError> {
    let fresh_login = reauth || params.contains_key("prompt") || params.contains_key("max_age");
    let return_to = if fresh_login {
        // `prompt=login` and `max_age` are answered by the sign-in about to happen.
        let mut kept = params.clone();
        kept.remove("max_age");
        if let Some(prompt) = kept.remove("prompt") {
            let rest: Vec<&str> = prompt
                .split(' ')
                .filter(|p| !p.is_empty() && *p != "login")
                .collect();
            if !rest.is_empty() {
                kept.insert("prompt".into(), rest.join(" "));
            }
        }
        let key = oidc
            .park(&super::consent::Parked {
                params: kept,
                login_after: Some(now),
                session_id: None,
            })
            .await?;
        format!("{}?resume={key}", req.path())
    } else {
        let mut back = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in params {
            back.append_pair(k, v);
        }
        format!("{}?{}", req.path(), back.finish())
    };
    let mut start = url::form_urlencoded::Serializer::new(String::new());
    start.append_pair("return_to", &return_to);
    if reauth {
        start.append_pair("reauth", "1");
    }
    Ok(HttpResponse::Found()
        .insert_header((header::LOCATION, format!("/start?{}", start.finish())))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

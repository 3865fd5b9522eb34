//! The Accounts tab's per-role actions that belong to the identity provider: the **Management
//! console** sign-in (a short-lived signed token handed to the account's console URL) and the
//! filter script. The **Access keys** page needs the credential broker, so the server composes it
//! (`access_keys.rs`) from the pieces here and in `pages.rs`.
//!
//! Both have effects (a token, an audit record). Access keys are a form `POST` with the CSRF
//! token, whose plain `GET` asks first ([`continue_page`]); the console is a link (see
//! [`console`] for why) that asks first only when another site started the navigation.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_domain::{Account, AccountId, Actor, NewAuditEvent, RoleName, SigningAlgorithm};
use portcullis_store::{Entitlement, StoreError};
use serde::Deserialize;

use crate::Portal;
use crate::pages::ContinuePage;
use portcullis_auth::web::{Csrf, page, random_token, started_here};
use portcullis_auth::{PageError, Principal, SignedIn};

/// How long a console sign-in token lives: long enough for one redirect.
pub const CONSOLE_TOKEN_SECONDS: i64 = 60;
/// The JWT `typ` of a console sign-in token.
const CONSOLE_TOKEN_TYP: &str = "JWT";

impl Portal {
    /// The account of a request and the entitlement (role and permission set) when `current`
    /// holds that role there now (directly or through a group); otherwise the 404 of
    /// [`PageError::not_held`] — the same whether the account exists or not — or 503 when the
    /// directory fails.
    pub async fn held_role(
        &self,
        current: &Principal,
        account_id: &str,
        role: &str,
    ) -> Result<(Account, Entitlement), PageError> {
        let (Ok(account_id), Ok(role)) = (AccountId::parse(account_id), RoleName::parse(role))
        else {
            return Err(PageError::not_held());
        };
        let entitlements = self
            .auth
            .directory
            .user_entitlements(current.user.id)
            .await?;
        let Some(entitlement) = entitlements
            .into_iter()
            .find(|e| e.account_id == account_id && e.role_name == role)
        else {
            return Err(PageError::not_held());
        };
        match self.auth.directory.get_account(&account_id).await {
            Ok(account) => Ok((account, entitlement)),
            Err(StoreError::NotFound(_)) => Err(PageError::not_held()),
            Err(e) => Err(e.into()),
        }
    }
}

// ---- The console sign-in. ----

/// What the confirmation page's button does.
#[derive(Debug, Clone)]
pub enum ContinueAction {
    /// Posts the page's own address with the CSRF token.
    Post,
    /// Follows this link (one of our paths).
    Link(String),
}

/// The one-button page that asks before a portal action with effects.
pub fn continue_page(
    portal: &Portal,
    req: &HttpRequest,
    heading: String,
    text: String,
    action: ContinueAction,
    button: &'static str,
) -> HttpResponse {
    let csrf = Csrf::for_form(&portal.auth.cookies, req);
    let (action, post) = match action {
        ContinueAction::Post => (req.path().to_owned(), true),
        ContinueAction::Link(href) => (href, false),
    };
    let body = ContinuePage {
        csrf: csrf.token,
        heading,
        text,
        action,
        post,
        button,
    };
    page(StatusCode::OK, &body, csrf.cookie.into_iter().collect())
}

#[derive(Debug, Deserialize)]
pub struct ConsoleQuery {
    role: Option<String>,
}

/// `GET /portal/accounts/{account_id}/console?role=…`: checks the entitlement, signs a 60-second
/// ES256 JWT for the console (`docs/broker.md`, "Management console") and redirects (303) to the
/// account's console URL with `token` added to its query.
///
/// A `GET`, not a form `POST`: our CSP's `form-action 'self'` makes browsers refuse a form whose
/// answer redirects to another origin. The token can only go to the account's configured console
/// and only names the signed-in person, and a navigation started by another site
/// (`Sec-Fetch-Site: cross-site`/`same-site`) is asked to confirm first.
#[tracing::instrument(skip_all, fields(account = %path.as_str()))]
async fn console(
    portal: web::Data<Portal>,
    req: HttpRequest,
    path: web::Path<String>,
    q: web::Query<ConsoleQuery>,
    current: SignedIn,
) -> Result<HttpResponse, PageError> {
    let role = q.role.clone().unwrap_or_default();
    let (account, entitlement) = portal.held_role(&current, &path, &role).await?;
    let role = entitlement.role_name.clone();
    let aws = account.kind.aws().cloned();
    let console = account
        .console_url
        .as_ref()
        .and_then(|c| url::Url::parse(c.as_str()).ok());
    if aws.is_none() && console.is_none() {
        return Err(PageError::not_held());
    }
    if !started_here(&req) {
        let query: String =
            url::form_urlencoded::byte_serialize(role.as_str().as_bytes()).collect();
        return Ok(continue_page(
            &portal,
            &req,
            format!("Open the console of {}", account.name),
            format!(
                "Another site sent you here. Open the management console of {} ({}) as {}?",
                account.name, account.id, role
            ),
            ContinueAction::Link(format!("{}?role={query}", req.path())),
            "Open the console",
        ));
    }
    // A real AWS account: SAML sign-in to its console, in this role.
    if let Some(aws) = &aws {
        return crate::aws_console::aws_console(&portal, &current, &account, &entitlement, aws)
            .await;
    }
    let Some(console) = console else {
        return Err(PageError::not_held());
    };
    let now = portal.auth.clock.now().timestamp();
    let jti = random_token(16);
    let claims = serde_json::json!({
        "iss": portal.auth.issuer_url(),
        "sub": current.user.id.to_string(),
        "aud": console.origin().ascii_serialization(),
        "iat": now,
        "exp": now + CONSOLE_TOKEN_SECONDS,
        "jti": jti,
        "account_id": account.id.as_str(),
        "role": role.as_str(),
        "preferred_username": current.user.user_name.as_str(),
    });
    let token = portal
        .oidc
        .keys
        .sign(SigningAlgorithm::ES256, CONSOLE_TOKEN_TYP, &claims)
        .await
        .map_err(PageError::unavailable)?;
    let event = console_signin_event(&current, &account, &role, serde_json::json!({ "jti": jti }));
    portal.auth.directory.record_event(event).await?;
    let mut location = console;
    location.query_pairs_mut().append_pair("token", &token);
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location.as_str()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

/// The audit record of a console sign-in: who, where, as what, and what `how` adds (the token's
/// `jti`, or the SAML sign-in's method and role ARN).
pub(crate) fn console_signin_event(
    current: &Principal,
    account: &Account,
    role: &RoleName,
    how: serde_json::Value,
) -> NewAuditEvent {
    let mut details = serde_json::json!({
        "userName": current.user.user_name.as_str(),
        "accountId": account.id.as_str(),
        "roleName": role.as_str(),
    });
    if let (Some(d), serde_json::Value::Object(extra)) = (details.as_object_mut(), how) {
        d.extend(extra);
    }
    NewAuditEvent::new(
        Actor::User(current.user.id),
        "portal.console.signin",
        format!("account:{}", account.id),
    )
    .with_details(details.to_string())
}

async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header(("Cache-Control", "no-cache"))
        .body(include_str!("../static/portal-accounts.js"))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/static/portal-accounts.js", web::get().to(script))
        .route(
            "/portal/accounts/{account_id}/console",
            web::get().to(console),
        );
}

//! The portal's **Access keys** page, composed here because it needs both halves: the person's
//! portal session and the page from the identity provider, the credentials from the broker
//! (which never import each other).
//!
//! `POST /portal/accounts/{account_id}/roles/{role}/credentials` (the Accounts tab's form, with
//! its CSRF token) mints role credentials — audited by the broker with client `portal` — and
//! answers the page. A plain `GET` of the same address mints nothing: it answers a one-button
//! page that asks first, so a link, a prefetch or a cross-site image cannot issue credentials.
//! The signed-in person is resolved once (the [`SignedIn`] extractor), the path parsed once,
//! and the broker checks the entitlement once (as it mints, for `POST`).
//! Every answer is `Cache-Control: no-store` (`web::page`), so the secret stays out of caches.

use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_auth::page::{CheckedForm, CsrfField};
use portcullis_auth::web::{Csrf, page};
use portcullis_auth::{PageError, SignedIn};
use portcullis_broker::{BrokerError, Caller};
use portcullis_domain::{Account, AccountId, RoleName};
use portcullis_store::StoreError;
use serde::Deserialize;

use crate::Portal;
use crate::accounts::{ContinueAction, continue_page};
use crate::pages::AccessKeysPage;

/// The region the page suggests for `aws configure sso` (the CLI needs one; Portcullis ignores
/// it and accepts any).
const SSO_REGION: &str = "us-east-1";

#[derive(Debug, Deserialize)]
pub struct KeysForm {
    #[serde(default)]
    csrf: String,
}

impl CsrfField for KeysForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// The account and role the path names, as the broker's caller for this person; a path that
/// names no valid account or role is not held (404, the same as one not assigned).
async fn requested(
    portal: &Portal,
    current: &SignedIn,
    path: web::Path<(String, String)>,
) -> Result<(Caller, Account, RoleName), PageError> {
    let (account_id, role) = path.into_inner();
    let (Ok(account_id), Ok(role)) = (AccountId::parse(&account_id), RoleName::parse(&role)) else {
        return Err(PageError::not_held());
    };
    let account = match portal.auth.directory.get_account(&account_id).await {
        Ok(account) => account,
        Err(StoreError::NotFound(_)) => return Err(PageError::not_held()),
        Err(e) => return Err(PageError::unavailable(e)),
    };
    Ok((portal.broker.caller_for_page(current), account, role))
}

/// The page for what the broker refused: not held (or not parseable) is 404; anything else is
/// a failure of ours.
fn refused(e: BrokerError) -> PageError {
    match e {
        BrokerError::NotFound(_) => PageError::not_held(),
        // What the broker says is meant for the person (an account whose keys come from its
        // own cloud, for one).
        BrokerError::InvalidRequest(why) => PageError::portal(
            actix_web::http::StatusCode::BAD_REQUEST,
            "No access keys here",
            why,
        ),
        // The account's own STS refused (its message tells the administrator what to fix).
        BrokerError::Upstream(u) if u.refused => PageError::portal(
            actix_web::http::StatusCode::BAD_REQUEST,
            "The account refused",
            u.to_string(),
        ),
        e => PageError::unavailable(e),
    }
}

/// `GET …/credentials`: asks before minting.
async fn ask(
    portal: web::Data<Portal>,
    req: HttpRequest,
    current: SignedIn,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (caller, account, role) = requested(&portal, &current, path).await?;
    portal
        .broker
        .check_held(&caller, &account.id, &role)
        .await
        .map_err(refused)?;
    Ok(continue_page(
        &portal,
        &req,
        format!("Access keys for {role}"),
        format!(
            "Get short-lived credentials for {role} in {} ({})? Each request issues new ones \
             and is recorded.",
            account.name, account.id
        ),
        ContinueAction::Post,
        "Show access keys",
    ))
}

/// `POST …/credentials` (form: `csrf`): mints and shows the credentials.
#[tracing::instrument(skip_all, fields(account = %path.0, role = %path.1))]
async fn show(
    portal: web::Data<Portal>,
    req: HttpRequest,
    _form: CheckedForm<KeysForm>,
    current: SignedIn,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (caller, account, role) = requested(&portal, &current, path).await?;
    let credentials = portal
        .broker
        .get_role_credentials(&caller, &account.id, &role)
        .await
        .map_err(refused)?;
    let expiration = chrono::DateTime::from_timestamp_millis(credentials.expiration_ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default();
    let endpoint = portal.auth.issuer_url();
    let csrf = Csrf::for_form(&portal.auth.cookies, &req);
    let body = AccessKeysPage {
        csrf: csrf.token,
        display_name: current.user.display_name.to_string(),
        account_id: account.id.to_string(),
        account_name: account.name.to_string(),
        profile: format!("{}_{}", account.id, role),
        role: role.to_string(),
        access_key_id: credentials.access_key_id,
        secret_access_key: credentials.secret_access_key,
        session_token: credentials.session_token,
        expiration,
        start_url: format!("{endpoint}/start"),
        endpoint,
        sso_region: SSO_REGION,
    };
    Ok(page(
        actix_web::http::StatusCode::OK,
        &body,
        csrf.cookie.into_iter().collect(),
    ))
}

/// Mounts the Access keys page; needs `web::Data<Portal>` and `web::Data<Auth>` in the app.
pub fn routes(cfg: &mut web::ServiceConfig) {
    const PATH: &str = "/portal/accounts/{account_id}/roles/{role}/credentials";
    cfg.route(PATH, web::get().to(ask))
        .route(PATH, web::post().to(show));
}

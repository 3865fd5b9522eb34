//! The portal's **Access keys** page, composed here because it needs both halves: the person's
//! portal session and the page from the identity provider, the credentials from the broker
//! (which never import each other).
//!
//! `POST /portal/accounts/{account_id}/roles/{role}/credentials` (the Accounts tab's form, with
//! its CSRF token) mints role credentials — audited by the broker with client `portal` — and
//! answers the page. A plain `GET` of the same address mints nothing: it answers a one-button
//! page that asks first, so a link, a prefetch or a cross-site image cannot issue credentials.
//! Every answer is `Cache-Control: no-store` (`web::page`), so the secret stays out of caches.

use crate::Portal;
use crate::accounts::{ContinueAction, continue_page, held_role, not_held, signed_in};
use crate::pages::AccessKeysPage;
use crate::to_sign_in;
use crate::{forbidden_form, unavailable};
use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_auth::web::{Csrf, SESSION_COOKIE, page};
use portcullis_broker::BrokerError;
use portcullis_sessions::SessionToken;
use serde::Deserialize;

/// The client the broker's audit record names for credentials taken from the portal page.
pub const PORTAL_CLIENT: &str = "portal";
/// The region the page suggests for `aws configure sso` (the CLI needs one; Portcullis ignores
/// it and accepts any).
const SSO_REGION: &str = "us-east-1";

#[derive(Debug, Deserialize)]
pub struct KeysForm {
    #[serde(default)]
    csrf: String,
}

/// `GET …/credentials`: asks before minting.
async fn ask(
    portal: web::Data<Portal>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let current = match signed_in(&portal, &req).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let (account_id, role) = path.into_inner();
    let (account, role) = match held_role(&portal, &current, &account_id, &role).await {
        Ok(held) => held,
        Err(resp) => return resp,
    };
    continue_page(
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
    )
}

/// `POST …/credentials` (form: `csrf`): mints and shows the credentials.
#[tracing::instrument(skip_all, fields(account = %path.0, role = %path.1))]
async fn show(
    portal: web::Data<Portal>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    form: web::Form<KeysForm>,
) -> HttpResponse {
    if !Csrf::verify(&portal.auth.cookies, &req, &form.csrf) {
        return forbidden_form();
    }
    let current = match signed_in(&portal, &req).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let (account_id, role) = path.into_inner();
    let (account, role) = match held_role(&portal, &current, &account_id, &role).await {
        Ok(held) => held,
        Err(resp) => return resp,
    };
    // The broker authenticates the same session afresh and checks the entitlement again itself.
    let Some(raw) = portal.auth.cookies.read(&req, SESSION_COOKIE) else {
        return to_sign_in(&portal, &req);
    };
    let minted = match portal
        .broker
        .authenticate_session(&SessionToken::from_presented(raw), PORTAL_CLIENT)
        .await
    {
        Ok(caller) => {
            portal
                .broker
                .get_role_credentials(&caller, Some(account.id.as_str()), Some(role.as_str()))
                .await
        }
        Err(e) => Err(e),
    };
    let credentials = match minted {
        Ok(c) => c,
        Err(BrokerError::Unauthorized(_)) => return to_sign_in(&portal, &req),
        Err(BrokerError::NotFound(_) | BrokerError::InvalidRequest(_)) => return not_held(),
        Err(e) => {
            tracing::error!(error = ?e, "minting role credentials for the portal failed");
            return unavailable();
        }
    };
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
    page(
        actix_web::http::StatusCode::OK,
        &body,
        csrf.cookie.into_iter().collect(),
    )
}

/// Mounts the Access keys page; needs `web::Data<Portal>` and `web::Data<Broker>` in the app.
pub fn routes(cfg: &mut web::ServiceConfig) {
    const PATH: &str = "/portal/accounts/{account_id}/roles/{role}/credentials";
    cfg.route(PATH, web::get().to(ask))
        .route(PATH, web::post().to(show));
}

//! The portal: the Accounts tab (each account, the roles held there, a console link and access
//! keys) and the Applications tab (launch links), plus the person's connected apps. It composes
//! the surfaces below it through their public APIs: the broker mints access keys, the SAML IdP
//! answers an IdP-initiated launch, the OIDC provider lists and revokes consents.
//!
//! May import: `portcullis-oidc`, `portcullis-saml`, `portcullis-broker`, `portcullis-auth` and
//! the floors below. Never `admin` (its sibling) nor a concrete backend.

pub mod access_keys;
pub mod accounts;
mod aws_console;
pub mod connected;
pub mod icons;
pub mod launch;
mod pages;

use std::collections::BTreeMap;
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_auth::{Auth, PageError, SignedIn};
use portcullis_broker::Broker;
use portcullis_domain::Federation;
use portcullis_oidc::Oidc;
use portcullis_saml::Saml;
use serde::Deserialize;

use crate::pages::{AccountEntry, ApplicationEntry, PortalPage, initials};
use portcullis_auth::web::{Csrf, page, see_other};

/// What the portal pages compose.
#[derive(Debug)]
pub struct Portal {
    pub auth: Arc<Auth>,
    pub oidc: Arc<Oidc>,
    pub saml: Arc<Saml>,
    pub broker: Arc<Broker>,
}

#[derive(Debug, Deserialize)]
pub struct PortalQuery {
    tab: Option<String>,
}

// ---- The pages. ----

/// `GET /portal`.
pub async fn portal(
    portal: web::Data<Portal>,
    req: HttpRequest,
    q: web::Query<PortalQuery>,
    current: SignedIn,
) -> Result<HttpResponse, PageError> {
    let tab = if q.tab.as_deref() == Some("applications") {
        "applications"
    } else {
        "accounts"
    };
    let mut accounts = Vec::new();
    let mut applications = Vec::new();
    if tab == "accounts" {
        let entitlements = portal
            .auth
            .directory
            .user_entitlements(current.user.id)
            .await?;
        let mut by_account: BTreeMap<portcullis_domain::AccountId, Vec<String>> = BTreeMap::new();
        for e in entitlements {
            by_account
                .entry(e.account_id)
                .or_default()
                .push(e.role_name.to_string());
        }
        let ids: Vec<portcullis_domain::AccountId> = by_account.keys().cloned().collect();
        // One query for every account (one deleted since the entitlements were read is left out).
        let found = portal.auth.directory.get_accounts(&ids).await?;
        for a in found {
            let Some(mut roles) = by_account.remove(&a.id) else {
                continue;
            };
            // A role held both directly and through a group is listed once.
            roles.sort();
            roles.dedup();
            accounts.push(AccountEntry {
                id: a.id.to_string(),
                name: a.name.to_string(),
                email: a.email.to_string(),
                roles,
                // A console link, or SAML sign-in to a real AWS account.
                console: a.console_url.is_some()
                    || a.kind
                        .aws()
                        .is_some_and(|aws| aws.federation == Federation::Saml),
            });
        }
    } else {
        let apps = portal
            .auth
            .directory
            .user_applications(current.user.id)
            .await?;
        // One query for which of them have an uploaded icon.
        let ids: Vec<portcullis_domain::ApplicationId> = apps.iter().map(|a| a.id).collect();
        let with_icon = portal.auth.directory.application_icon_ids(&ids).await?;
        applications = apps
            .into_iter()
            .map(|a| ApplicationEntry {
                initials: initials(a.name.as_str()),
                icon_url: with_icon
                    .contains(&a.id)
                    .then(|| format!("/applications/{}/icon", a.id)),
                launch_url: launch_url(&portal.auth.issuer_url(), &a),
                name: a.name.to_string(),
                description: a.description.to_string(),
            })
            .collect();
    }
    let csrf = Csrf::for_form(&portal.auth.cookies, &req);
    let body = PortalPage {
        csrf: csrf.token,
        display_name: current.user.display_name.to_string(),
        user_name: current.user.user_name.to_string(),
        expires_at: current
            .session
            .expires_at
            .format("%Y-%m-%d %H:%M UTC")
            .to_string(),
        tab,
        accounts,
        applications,
    };
    Ok(page(
        StatusCode::OK,
        &body,
        csrf.cookie.into_iter().collect(),
    ))
}

async fn root() -> HttpResponse {
    see_other("/start", vec![])
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(root))
        .route("/portal", web::get().to(portal));
    connected::routes(cfg);
    accounts::routes(cfg);
    access_keys::routes(cfg);
    icons::routes(cfg);
    cfg.route(
        "/applications/{applicationId}/launch",
        web::get().to(launch::launch),
    );
}

/// The portal's launch link: `/applications/{id}/launch` (see `crate::launch`), for every
/// application that can be launched from here.
fn launch_url(issuer: &str, app: &portcullis_domain::Application) -> Option<String> {
    crate::launch::launchable(issuer, app).then(|| format!("/applications/{}/launch", app.id))
}

//! The portal: the Accounts tab (each account and the roles held there) and the Applications
//! tab. The credential broker and the SAML/OIDC work add console links, access keys and launch
//! links to these entries. `devices` is the MFA devices page.

pub mod accounts;
pub mod connected;
pub mod devices;
pub mod icons;

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::Idp;
use crate::pages::{AccountEntry, ApplicationEntry, PortalPage, initials};
use crate::session::{current_session, has_session_cookie};
use crate::signin::unavailable;
use crate::web::{Csrf, page, see_other};

#[derive(Debug, Deserialize)]
pub struct PortalQuery {
    tab: Option<String>,
}

/// Where a request without a valid session goes: sign-in, remembering where it was going, and
/// saying why when a session had existed.
pub fn to_sign_in(idp: &Idp, req: &HttpRequest) -> HttpResponse {
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/portal");
    let return_to: String = url::form_urlencoded::byte_serialize(path.as_bytes()).collect();
    let expired = if has_session_cookie(idp, req) {
        "&expired=1"
    } else {
        ""
    };
    see_other(
        &format!("/start?return_to={return_to}{expired}"),
        vec![idp.cookies.removal(crate::web::SESSION_COOKIE)],
    )
}

/// `GET /portal`.
pub async fn portal(
    idp: web::Data<Idp>,
    req: HttpRequest,
    q: web::Query<PortalQuery>,
) -> HttpResponse {
    let current = match current_session(&idp, &req).await {
        Ok(Some(c)) => c,
        Ok(None) => return to_sign_in(&idp, &req),
        Err(_) => return unavailable(),
    };
    let tab = if q.tab.as_deref() == Some("applications") {
        "applications"
    } else {
        "accounts"
    };
    let mut accounts = Vec::new();
    let mut applications = Vec::new();
    if tab == "accounts" {
        let entitlements = match idp.directory.user_entitlements(current.user.id).await {
            Ok(e) => e,
            Err(_) => return unavailable(),
        };
        let mut by_account: BTreeMap<portcullis_domain::AccountId, Vec<String>> = BTreeMap::new();
        for e in entitlements {
            by_account
                .entry(e.account_id)
                .or_default()
                .push(e.role_name.to_string());
        }
        let ids: Vec<portcullis_domain::AccountId> = by_account.keys().cloned().collect();
        // One query for every account (one deleted since the entitlements were read is left out).
        let found = match idp.directory.get_accounts(&ids).await {
            Ok(found) => found,
            Err(_) => return unavailable(),
        };
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
                console: a.console_url.is_some(),
            });
        }
    } else {
        let apps = match idp.directory.user_applications(current.user.id).await {
            Ok(a) => a,
            Err(_) => return unavailable(),
        };
        // One query for which of them have an uploaded icon.
        let ids: Vec<portcullis_domain::ApplicationId> = apps.iter().map(|a| a.id).collect();
        let with_icon = match idp.directory.application_icon_ids(&ids).await {
            Ok(found) => found,
            Err(_) => return unavailable(),
        };
        applications = apps
            .into_iter()
            .map(|a| ApplicationEntry {
                initials: initials(a.name.as_str()),
                icon_url: with_icon
                    .contains(&a.id)
                    .then(|| format!("/applications/{}/icon", a.id)),
                launch_url: launch_url(&idp.issuer_url(), &a),
                name: a.name.to_string(),
                description: a.description.to_string(),
            })
            .collect();
    }
    let csrf = Csrf::for_form(&idp.cookies, &req);
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
    page(StatusCode::OK, &body, csrf.cookie.into_iter().collect())
}

async fn root() -> HttpResponse {
    see_other("/start", vec![])
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(root))
        .route("/portal", web::get().to(portal));
    devices::routes(cfg);
    connected::routes(cfg);
    accounts::routes(cfg);
    icons::routes(cfg);
}

/// The portal's launch link: `/applications/{id}/launch` (see `crate::saml::launch`), for every
/// application that can be launched from here.
fn launch_url(issuer: &str, app: &portcullis_domain::Application) -> Option<String> {
    crate::saml::launch::launchable(issuer, app).then(|| format!("/applications/{}/launch", app.id))
}

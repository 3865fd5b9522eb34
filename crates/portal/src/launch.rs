//! `/applications/{applicationId}/launch`: the portal's launch link. A SAML application gets an
//! IdP-initiated Response (SAML Profiles §4.1.5, unsolicited) posted to its default ACS; an OIDC
//! application is sent to its `initiate_login_uri` with `iss` (OpenID Connect Core §4), or to the
//! origin of its first https redirect URI. Someone not assigned to the application gets a page; a
//! launch that another site started is confirmed first (as the console link is).

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_domain::{Application, ApplicationId, ApplicationKind};

use crate::Portal;
use crate::accounts::{ContinueAction, continue_page};
use portcullis_auth::web::started_here;
use portcullis_auth::{PageError, SignedIn};
use portcullis_saml::{ServiceProvider, sso};

/// Where a launched OIDC application is sent.
pub fn oidc_launch_url(issuer: &str, app: &Application) -> Option<String> {
    let oidc = app.oidc.as_ref()?;
    if let Some(uri) = &oidc.initiate_login_uri {
        let mut url = uri.clone();
        url.query_pairs_mut().append_pair("iss", issuer);
        return Some(url.into());
    }
    oidc.redirect_uris
        .iter()
        .find(|r| r.url().scheme() == "https")
        .map(|r| format!("{}/", r.url().origin().ascii_serialization()))
}

/// Whether the portal can launch `app` at all.
pub fn launchable(issuer: &str, app: &Application) -> bool {
    match app.kind {
        ApplicationKind::Oidc => oidc_launch_url(issuer, app).is_some(),
        ApplicationKind::Saml => app.saml.as_ref().is_some_and(|s| s.default_acs().is_some()),
    }
}

/// `GET /applications/{applicationId}/launch`.
pub async fn launch(
    portal: web::Data<Portal>,
    req: HttpRequest,
    path: web::Path<String>,
    current: SignedIn,
) -> Result<HttpResponse, PageError> {
    let not_yours = || {
        Err(PageError::cannot_complete(
            StatusCode::FORBIDDEN,
            "You are not assigned to this application. Ask your administrator for access.",
        ))
    };
    let Ok(id) = path.parse::<uuid::Uuid>().map(ApplicationId::from_uuid) else {
        return not_yours();
    };
    let apps = portal
        .auth
        .directory
        .user_applications(current.user.id)
        .await?;
    let Some(app) = apps.into_iter().find(|a| a.id == id && a.enabled) else {
        tracing::info!(application = %id, "refused a launch: the person is not assigned");
        return not_yours();
    };
    // Like the console link: a launch another site started (`Sec-Fetch-Site: cross-site` or
    // `same-site`) is confirmed first, so no site can make the browser post an assertion.
    if !started_here(&req) {
        return Ok(continue_page(
            &portal,
            &req,
            format!("Open {}", app.name),
            format!("Another site sent you here. Sign in to {} now?", app.name),
            ContinueAction::Link(req.path().to_owned()),
            "Open the application",
        ));
    }
    let cannot = || {
        Err(PageError::cannot_complete(
            StatusCode::CONFLICT,
            "This application is not configured for launching from the portal yet.",
        ))
    };
    match app.kind {
        ApplicationKind::Oidc => match oidc_launch_url(&portal.auth.issuer_url(), &app) {
            Some(url) => Ok(HttpResponse::Found()
                .insert_header((header::LOCATION, url))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .finish()),
            None => cannot(),
        },
        ApplicationKind::Saml => {
            let Some(settings) = app.saml.clone() else {
                return cannot();
            };
            let Some(acs) = settings.default_acs().map(|a| a.url.as_str().to_owned()) else {
                return cannot();
            };
            let relay = settings
                .default_relay_state
                .clone()
                .or_else(|| settings.start_url.as_ref().map(|u| u.as_str().to_owned()));
            let sp = ServiceProvider { app, settings };
            sso::issue(&portal.saml, &current, &sp, &acs, None, relay.as_deref()).await
        }
    }
}

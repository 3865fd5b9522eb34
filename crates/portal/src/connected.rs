//! `/portal/connected`: the applications a person allowed to act for them (their consents), and
//! withdrawing one — which also ends the tokens that application holds for them.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_domain::Actor;
use serde::Deserialize;

use crate::Portal;
use crate::pages::{ConnectedEntry, ConnectedPage};
use portcullis_auth::page::{CheckedForm, CsrfField};
use portcullis_auth::web::{Csrf, page, see_other};
use portcullis_auth::{PageError, Principal, SignedIn};
use portcullis_oidc::consent::{ConsentError, describe_scopes};

const DATE: &str = "%Y-%m-%d %H:%M UTC";

async fn connected_page(
    portal: &Portal,
    req: &HttpRequest,
    current: &Principal,
    notice: Option<&str>,
    error: Option<&str>,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let consents = portal.oidc.consents(current.user.id).await?;
    let entries = consents
        .into_iter()
        .map(|c| ConnectedEntry {
            scopes: describe_scopes(&c.scopes),
            granted: c.granted_at.format(DATE).to_string(),
            expires: c.expires_at.map(|e| e.format(DATE).to_string()),
            name: c.client_name,
            client_id: c.client_id,
        })
        .collect();
    let csrf = Csrf::for_form(&portal.auth.cookies, req);
    let body = ConnectedPage {
        csrf: csrf.token,
        display_name: current.user.display_name.to_string(),
        entries,
        notice: notice.map(str::to_owned),
        error: error.map(str::to_owned),
    };
    Ok(page(status, &body, csrf.cookie.into_iter().collect()))
}

#[derive(Debug, Deserialize)]
pub struct ConnectedQuery {
    revoked: Option<String>,
}

/// `GET /portal/connected`.
pub async fn list(
    portal: web::Data<Portal>,
    req: HttpRequest,
    q: web::Query<ConnectedQuery>,
    current: SignedIn,
) -> Result<HttpResponse, PageError> {
    let notice = q
        .revoked
        .is_some()
        .then_some("Access was withdrawn; the application was signed out.");
    connected_page(&portal, &req, &current, notice, None, StatusCode::OK).await
}

#[derive(Debug, Deserialize)]
pub struct RevokeForm {
    csrf: String,
    client_id: String,
}

impl CsrfField for RevokeForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /portal/connected/revoke`: the form is checked first, then the session.
pub async fn revoke(
    portal: web::Data<Portal>,
    req: HttpRequest,
    form: CheckedForm<RevokeForm>,
) -> Result<HttpResponse, PageError> {
    let current = portal.auth.signed_in(&req).await?;
    let user = current.user.id;
    match portal
        .oidc
        .revoke_consent(Actor::User(user), user, &form.client_id)
        .await
    {
        Ok(()) => Ok(see_other("/portal/connected?revoked=1", vec![])),
        Err(ConsentError::NotFound) => connected_page(
            &portal,
            &req,
            &current,
            None,
            Some(
                "That application has no access to withdraw (it may have been withdrawn already).",
            ),
            StatusCode::NOT_FOUND,
        )
        .await,
        Err(e) => Err(PageError::unavailable(e)),
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/portal/connected", web::get().to(list))
        .route("/portal/connected/revoke", web::post().to(revoke));
}

//! `/portal/connected`: the applications a person allowed to act for them (their consents), and
//! withdrawing one — which also ends the tokens that application holds for them.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_domain::Actor;
use serde::Deserialize;

use super::to_sign_in;
use crate::Idp;
use crate::oidc::consent::{ConsentError, describe_scopes};
use crate::pages::{ConnectedEntry, ConnectedPage};
use crate::session::{Current, current_session};
use crate::signin::{forbidden_form, unavailable};
use crate::web::{Csrf, page, see_other};

const DATE: &str = "%Y-%m-%d %H:%M UTC";

async fn connected_page(
    idp: &Idp,
    req: &HttpRequest,
    current: &Current,
    notice: Option<&str>,
    error: Option<&str>,
    status: StatusCode,
) -> HttpResponse {
    let consents = match idp.consents(current.user.id).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "could not list a person's consents");
            return unavailable();
        }
    };
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
    let csrf = Csrf::for_form(&idp.cookies, req);
    let body = ConnectedPage {
        csrf: csrf.token,
        display_name: current.user.display_name.to_string(),
        entries,
        notice: notice.map(str::to_owned),
        error: error.map(str::to_owned),
    };
    page(status, &body, csrf.cookie.into_iter().collect())
}

#[derive(Debug, Deserialize)]
pub struct ConnectedQuery {
    revoked: Option<String>,
}

/// `GET /portal/connected`.
pub async fn list(
    idp: web::Data<Idp>,
    req: HttpRequest,
    q: web::Query<ConnectedQuery>,
) -> HttpResponse {
    let current = match current_session(&idp, &req).await {
        Ok(Some(c)) => c,
        Ok(None) => return to_sign_in(&idp, &req),
        Err(_) => return unavailable(),
    };
    let notice = q
        .revoked
        .is_some()
        .then_some("Access was withdrawn; the application was signed out.");
    connected_page(&idp, &req, &current, notice, None, StatusCode::OK).await
}

#[derive(Debug, Deserialize)]
pub struct RevokeForm {
    csrf: String,
    client_id: String,
}

/// `POST /portal/connected/revoke`.
pub async fn revoke(
    idp: web::Data<Idp>,
    req: HttpRequest,
    form: web::Form<RevokeForm>,
) -> HttpResponse {
    if !Csrf::verify(&idp.cookies, &req, &form.csrf) {
        return forbidden_form();
    }
    let current = match current_session(&idp, &req).await {
        Ok(Some(c)) => c,
        Ok(None) => return to_sign_in(&idp, &req),
        Err(_) => return unavailable(),
    };
    let user = current.user.id;
    match idp
        .revoke_consent(Actor::User(user), user, &form.client_id)
        .await
    {
        Ok(()) => see_other("/portal/connected?revoked=1", vec![]),
        Err(ConsentError::NotFound) => connected_page(
            &idp,
            &req,
            &current,
            None,
            Some(
                "That application has no access to withdraw (it may have been withdrawn already).",
            ),
            StatusCode::NOT_FOUND,
        )
        .await,
        Err(e) => {
            tracing::warn!(error = %e, "could not revoke a consent");
            unavailable()
        }
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/portal/connected", web::get().to(list))
        .route("/portal/connected/revoke", web::post().to(revoke));
}

//! SP-initiated single logout (SAML Profiles §4.4): a LogoutRequest by HTTP-Redirect or HTTP-POST
//! at `/saml/slo` ends the portal session of the browser that brings it, and is answered with a
//! signed LogoutResponse by the same binding (a query signature for Redirect, an enveloped XML
//! signature for POST) to the SP's registered SingleLogoutService.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_sessions::SessionToken;

use super::response::{self, SUCCESS};
use super::sso::{Binding, authenticate, inbound, inbound_redirect, refusal_text};
use super::xml;
use super::{auto_post, error_page, unavailable};
use crate::Idp;
use crate::pages::MessagePage;
use crate::web::{SESSION_COOKIE, page};

/// `GET /saml/slo` (HTTP-Redirect).
pub async fn slo_redirect(idp: web::Data<Idp>, req: HttpRequest) -> HttpResponse {
    let (xml, query) = match inbound_redirect(req.query_string()) {
        Ok(m) => m,
        Err(r) => return *r,
    };
    let relay_state = query.relay_state();
    handle(
        &idp,
        &req,
        xml,
        relay_state,
        &Binding::Redirect { query: &query },
    )
    .await
}

/// `POST /saml/slo` (HTTP-POST).
pub async fn slo_post(
    idp: web::Data<Idp>,
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
) -> HttpResponse {
    let (xml, relay_state) = match inbound(form.into_inner(), xml::decode_post) {
        Ok(m) => m,
        Err(r) => return *r,
    };
    handle(&idp, &req, xml, relay_state, &Binding::Post).await
}

async fn handle(
    idp: &Idp,
    req: &HttpRequest,
    xml: String,
    relay_state: Option<String>,
    binding: &Binding<'_>,
) -> HttpResponse {
    let issuer = match xml::parse_logout_request(&xml) {
        Ok(r) => r.issuer.and_then(|i| i.value).unwrap_or_default(),
        Err(e) => return error_page(StatusCode::BAD_REQUEST, refusal_text(&e)),
    };
    let sp = match idp.find_service_provider(issuer.trim()).await {
        Ok(Some(sp)) => sp,
        Ok(None) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "The application asking to sign you out is not known here.",
            );
        }
        Err(_) => return unavailable(),
    };
    let xml = match authenticate(&sp, binding, xml, "LogoutRequest") {
        Ok(x) => x,
        Err(text) => return error_page(StatusCode::BAD_REQUEST, text),
    };
    let request = match xml::parse_logout_request(&xml) {
        Ok(r) => r,
        Err(e) => return error_page(StatusCode::BAD_REQUEST, refusal_text(&e)),
    };
    // Ends this browser's portal session (whatever the NameID: the session is what is signed in).
    if let Some(raw) = idp.cookies.read(req, SESSION_COOKIE)
        && idp
            .sessions
            .revoke_token(&SessionToken::from_presented(raw))
            .await
            .is_err()
    {
        return unavailable();
    }
    tracing::info!(application = %sp.app.id, "ended a portal session by SAML single logout");
    let removal = idp.cookies.removal(SESSION_COOKIE);
    let Some(slo_url) = sp.settings.slo_url.as_ref().map(|u| u.as_str().to_owned()) else {
        return page(
            StatusCode::OK,
            &MessagePage {
                heading: "You are signed out",
                text: "Your portal session has ended.".into(),
                link: "/start",
                link_text: "Sign in again",
            },
            vec![removal],
        );
    };
    let Ok(key) = idp.saml_keys.signing_key().await else {
        return unavailable();
    };
    let in_response_to = request.id.unwrap_or_default();
    let now = idp.clock.now();
    let post = matches!(binding, Binding::Post);
    let Ok(body) = response::logout_response(
        &idp.saml_entity_id(),
        &slo_url,
        &in_response_to,
        SUCCESS,
        now,
        &key,
        post,
    ) else {
        return unavailable();
    };
    if post {
        let mut resp = auto_post(&slo_url, "SAMLResponse", &body, relay_state.as_deref());
        let _ = resp.add_cookie(&removal);
        return resp;
    }
    let enc = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
    let mut signed = format!("SAMLResponse={}", enc(&xml::encode_redirect(&body)));
    if let Some(r) = &relay_state {
        signed.push_str(&format!("&RelayState={}", enc(r)));
    }
    signed.push_str(&format!("&SigAlg={}", enc(xml::RSA_SHA256)));
    let Ok(signature) = xml::sign_query(&signed, key.key_der()) else {
        return unavailable();
    };
    let sep = if slo_url.contains('?') { '&' } else { '?' };
    HttpResponse::Found()
        .insert_header((
            header::LOCATION,
            format!("{slo_url}{sep}{signed}&Signature={}", enc(&signature)),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(removal)
        .finish()
}

//! SP-initiated single logout (SAML Profiles §4.4): a LogoutRequest by HTTP-Redirect or HTTP-POST
//! at `/saml/slo` from a registered SP (signature checked as for AuthnRequests). It ends the
//! portal session of the browser that brings it only when the request is fresh (`IssueInstant`
//! within the allowed clock skew, `NotOnOrAfter` not past), never seen before (its ID, per SP, in the flow store), addressed
//! to us (`Destination`, when given), and names that session's person and session: the `NameID`
//! we issued to this SP for the person, and, when given, the session's `SessionIndex`. Otherwise
//! nobody is signed out and the answer says `Requester` (`RequestDenied`, or `UnknownPrincipal`
//! for another person or session). The answer is a signed LogoutResponse to the SP's
//! SingleLogoutService (a query signature for Redirect, an enveloped XML signature for POST), by
//! the request's binding when the SP accepts it there, else by one the SP declared.

use std::time::Duration;

use actix_web::cookie::Cookie;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, TimeDelta, Utc};
use portcullis_domain::{NameIdFormat, SamlBinding};
use portcullis_sessions::SessionToken;

use crate::Saml;
use crate::response::{self, REQUEST_DENIED, REQUESTER, SUCCESS, UNKNOWN_PRINCIPAL};
use crate::sso::{Binding, authenticate, inbound, inbound_redirect, refusal_text, refused};
use crate::xml::{self, LogoutRequest, Message, XmlError};
use crate::{ServiceProvider, auto_post};
use portcullis_auth::page::MessagePage;
use portcullis_auth::web::{SESSION_COOKIE, page};
use portcullis_auth::{PageError, Principal};

/// LogoutRequest IDs seen, per SP, for as long as their `IssueInstant` is acceptable.
const SEEN_NS: &str = "saml-logout-id";
/// Transient NameIDs issued, per session and SP (a transient NameID cannot be recomputed).
const TRANSIENT_NS: &str = "saml-transient";

fn transient_key(session_index: &str, entity_id: &str, name_id: &str) -> String {
    format!("{session_index}|{entity_id}|{name_id}")
}

/// Remembers a transient NameID issued for the session with `session_index` until the session
/// ends, so that a LogoutRequest naming it can be matched.
pub async fn remember_transient(
    saml: &Saml,
    session_index: &str,
    entity_id: &str,
    name_id: &str,
    session_expires: DateTime<Utc>,
) -> Result<(), portcullis_sessions::SessionError> {
    let ttl = (session_expires - saml.auth.clock.now())
        .to_std()
        .unwrap_or(Duration::from_secs(1));
    saml.auth
        .sessions
        .put(
            TRANSIENT_NS,
            &transient_key(session_index, entity_id, name_id),
            b"1",
            ttl,
        )
        .await
}

/// `GET /saml/slo` (HTTP-Redirect).
pub async fn slo_redirect(
    saml: web::Data<Saml>,
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let (xml, query) = inbound_redirect(req.query_string())?;
    let relay_state = query.relay_state();
    handle(
        &saml,
        &req,
        xml,
        relay_state,
        &Binding::Redirect { query: &query },
    )
    .await
}

/// `POST /saml/slo` (HTTP-POST).
pub async fn slo_post(
    saml: web::Data<Saml>,
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    let (xml, relay_state) = inbound(form.into_inner(), xml::decode_post)?;
    handle(&saml, &req, xml, relay_state, &Binding::Post).await
}

/// Why a checked LogoutRequest ends nothing.
enum Refusal {
    /// `Requester` with this second-level status, and why (for the log).
    Status(&'static str, &'static str),
    /// A store of ours failed: the person's 503 page (its cause logged there).
    Unavailable(PageError),
}

impl From<portcullis_sessions::SessionError> for Refusal {
    fn from(e: portcullis_sessions::SessionError) -> Self {
        Self::Unavailable(e.into())
    }
}

/// The checks of a LogoutRequest from `sp`: `Ok(Some(token))` is the session to end, `Ok(None)`
/// that this browser has no live session (nothing to end).
async fn check(
    saml: &Saml,
    req: &HttpRequest,
    sp: &ServiceProvider,
    request: &LogoutRequest,
) -> Result<Option<SessionToken>, Refusal> {
    let deny = |why| Refusal::Status(REQUEST_DENIED, why);
    let now = saml.auth.clock.now();
    if request.version.as_deref() != Some("2.0") {
        return Err(deny("version is not 2.0"));
    }
    let Some(id) = request
        .id
        .as_deref()
        .filter(|i| !i.is_empty() && i.len() <= 256)
    else {
        return Err(deny("bad ID"));
    };
    let skew = TimeDelta::from_std(saml.config.max_clock_skew).unwrap_or(TimeDelta::minutes(3));
    match request.issue_instant {
        Some(t) if (t - now).abs() <= skew => {}
        _ => {
            return Err(deny(
                "IssueInstant missing or outside the allowed clock skew",
            ));
        }
    }
    // NotOnOrAfter (SAML Core §3.7.1), when given, must be a time and not yet past.
    if let Some(raw) = &request.not_on_or_after {
        match DateTime::parse_from_rfc3339(raw.trim()) {
            Ok(t) if now < t.with_timezone(&Utc) + skew => {}
            _ => return Err(deny("NotOnOrAfter is past or not a time")),
        }
    }
    if let Some(dest) = &request.destination
        && dest != &format!("{}/saml/slo", saml.auth.issuer_url())
    {
        return Err(deny("wrong Destination"));
    }
    let seen_key = format!("{}|{id}", sp.settings.entity_id);
    let first = saml
        .auth
        .sessions
        .put_if_absent(SEEN_NS, &seen_key, b"1", saml.config.max_clock_skew * 2)
        .await?;
    if !first {
        return Err(deny("replayed request ID"));
    }
    let Some(name_id) = request
        .name_id
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
    else {
        return Err(deny("no NameID"));
    };
    let Some(current) = saml.auth.current(req).await? else {
        return Ok(None);
    };
    let index = saml.saml_session_index(&current.session.id.to_string());
    let indexes = &request.session_indexes;
    if !indexes.is_empty() && !indexes.contains(&index) {
        return Err(Refusal::Status(
            UNKNOWN_PRINCIPAL,
            "SessionIndex is not this browser's session",
        ));
    }
    if !names(saml, sp, &current, &index, name_id).await? {
        return Err(Refusal::Status(
            UNKNOWN_PRINCIPAL,
            "NameID is not this browser's person",
        ));
    }
    Ok(saml
        .auth
        .cookies
        .read(req, SESSION_COOKIE)
        .map(SessionToken::from_presented))
}

/// Whether `name_id` is the NameID we issue to `sp` for the person of `current`.
async fn names(
    saml: &Saml,
    sp: &ServiceProvider,
    current: &Principal,
    session_index: &str,
    name_id: &str,
) -> Result<bool, Refusal> {
    let entity_id = &sp.settings.entity_id;
    match sp.settings.name_id_format {
        NameIdFormat::Transient => Ok(saml
            .auth
            .sessions
            .get(
                TRANSIENT_NS,
                &transient_key(session_index, entity_id, name_id),
            )
            .await?
            .is_some()),
        format => Ok(response::name_id(format, &current.user, entity_id, &saml.names) == name_id),
    }
}

async fn handle(
    saml: &Saml,
    req: &HttpRequest,
    xml: String,
    relay_state: Option<String>,
    binding: &Binding<'_>,
) -> Result<HttpResponse, PageError> {
    let not_xml = |e: XmlError| refused(StatusCode::BAD_REQUEST, refusal_text(&e));
    let message = Message::parse(&xml).map_err(not_xml)?;
    // As for AuthnRequests: only the Issuer is used before the signature is checked.
    let request = message.logout_request().map_err(not_xml)?;
    let issuer = request.issuer.as_deref().unwrap_or_default();
    let Some(sp) = saml.find_service_provider(issuer.trim()).await? else {
        return Err(refused(
            StatusCode::BAD_REQUEST,
            "The application asking to sign you out is not known here.",
        ));
    };
    authenticate(&sp, binding, &message, "LogoutRequest")
        .map_err(|text| refused(StatusCode::BAD_REQUEST, text))?;
    let status = match check(saml, req, &sp, &request).await {
        Ok(session) => {
            if let Some(token) = session {
                saml.auth.sessions.revoke_token(&token).await?;
                tracing::info!(application = %sp.app.id, "ended a portal session by SAML single logout");
            }
            None
        }
        Err(Refusal::Unavailable(e)) => return Err(e),
        Err(Refusal::Status(second, why)) => {
            tracing::info!(application = %sp.app.id, "refused a LogoutRequest: {why}");
            Some(second)
        }
    };
    let reply = Reply {
        sp: &sp,
        binding,
        in_response_to: request.id.as_deref().unwrap_or_default(),
        relay_state: relay_state.as_deref(),
    };
    match status {
        None => {
            reply
                .send(
                    saml,
                    SUCCESS,
                    None,
                    Some(saml.auth.cookies.removal(SESSION_COOKIE)),
                )
                .await
        }
        Some(second) => reply.send(saml, REQUESTER, Some(second), None).await,
    }
}

/// Whether the LogoutResponse goes by POST: by the request's binding when the SP accepts it at
/// its SLO URL (or declared none), else by the first binding it declared.
fn reply_by_post(declared: &[SamlBinding], request: &Binding<'_>) -> bool {
    let came_by = match request {
        Binding::Post => SamlBinding::HttpPost,
        Binding::Redirect { .. } => SamlBinding::HttpRedirect,
    };
    let by = if declared.contains(&came_by) {
        came_by
    } else {
        declared.first().copied().unwrap_or(came_by)
    };
    by == SamlBinding::HttpPost
}

/// Where and how the LogoutResponse goes.
struct Reply<'a> {
    sp: &'a ServiceProvider,
    binding: &'a Binding<'a>,
    in_response_to: &'a str,
    relay_state: Option<&'a str>,
}

impl Reply<'_> {
    /// The LogoutResponse with `status` (and `second`), removing the session cookie with
    /// `removal`; a page when the SP has no SingleLogoutService.
    async fn send(
        &self,
        saml: &Saml,
        status: &str,
        second: Option<&str>,
        removal: Option<Cookie<'static>>,
    ) -> Result<HttpResponse, PageError> {
        let Some(slo_url) = self
            .sp
            .settings
            .slo_url
            .as_ref()
            .map(|u| u.as_str().to_owned())
        else {
            return match removal {
                Some(removal) => Ok(page(
                    StatusCode::OK,
                    &MessagePage {
                        heading: "You are signed out",
                        text: "Your portal session has ended.".into(),
                        link: "/start",
                        link_text: "Sign in again",
                    },
                    vec![removal],
                )),
                None => Err(refused(
                    StatusCode::BAD_REQUEST,
                    "This sign-out request was refused: it is not current, or it is not about \
                     you. You are still signed in.",
                )),
            };
        };
        let key = crate::sso::signing_key(saml).await?;
        let post = reply_by_post(&self.sp.settings.slo_bindings, self.binding);
        let body = response::logout_response(
            &saml.saml_entity_id(),
            &slo_url,
            self.in_response_to,
            (status, second),
            saml.auth.clock.now(),
            &key,
            post,
        )
        .map_err(PageError::unavailable)?;
        if post {
            let mut resp = auto_post(&slo_url, "SAMLResponse", &body, self.relay_state);
            if let Some(removal) = &removal {
                resp.add_cookie(removal).map_err(PageError::unavailable)?;
            }
            return Ok(resp);
        }
        let enc = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
        let mut signed = format!("SAMLResponse={}", enc(&xml::encode_redirect(&body)));
        if let Some(r) = self.relay_state {
            signed.push_str(&format!("&RelayState={}", enc(r)));
        }
        signed.push_str(&format!("&SigAlg={}", enc(xml::RSA_SHA256)));
        let signature = key
            .signer()
            .sign_query(&signed)
            .map_err(PageError::unavailable)?;
        let sep = if slo_url.contains('?') { '&' } else { '?' };
        let mut resp = HttpResponse::Found();
        resp.insert_header((
            header::LOCATION,
            format!("{slo_url}{sep}{signed}&Signature={}", enc(&signature)),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"));
        if let Some(removal) = removal {
            resp.cookie(removal);
        }
        Ok(resp.finish())
    }
}

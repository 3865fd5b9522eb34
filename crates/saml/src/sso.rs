//! SP-initiated Web Browser SSO (SAML Profiles §4.1): the AuthnRequest arrives by HTTP-Redirect
//! or HTTP-POST at `/saml/sso`. Until its Issuer is a registered SP and its ACS one registered for
//! it, problems are shown to the person; after that they go back to the SP as a status Response.
//! A checked request from a signed-in browser is answered at once (the auto-posting Response in
//! the same response), as is a passive one; otherwise it is parked under a random key and the
//! person continues at `/saml/continue` after signing in, where the Response is issued once.

use std::sync::Arc;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, TimeDelta, Utc};
use portcullis_domain::ApplicationId;
use serde::{Deserialize, Serialize};

use crate::Saml;
use crate::binding::RedirectQuery;
use crate::keys::SamlKey;
use crate::response::{self, REQUEST_DENIED, REQUESTER, RESPONDER};
use crate::xml::{self, Message, XmlError};
use crate::{ServiceProvider, auto_post};
use portcullis_auth::PageError;

const PENDING_NS: &str = "saml-pending";
const SEEN_NS: &str = "saml-request-id";

/// The `SAMLRequest` (decoded with `decode`, which depends on the binding) and `RelayState` of an
/// inbound message, each parameter at most once; otherwise the error page to show.
pub fn inbound(
    pairs: Vec<(String, String)>,
    decode: fn(&str) -> Result<String, XmlError>,
) -> Result<(String, Option<String>), PageError> {
    let refuse = |text: String| refused(StatusCode::BAD_REQUEST, text);
    let mut p = portcullis_auth::web::single_params(pairs).map_err(|e| refuse(format!("{e}.")))?;
    let Some(message) = p.remove("SAMLRequest") else {
        return Err(refuse("The request has no SAMLRequest.".into()));
    };
    let xml = decode(&message).map_err(|e| refuse(refusal_text(&e)))?;
    Ok((xml, p.remove("RelayState")))
}

/// A Redirect-binding message from the raw query: the decoded XML, the parsed query (whose
/// signature [`authenticate`] checks over the octets as received), or the error page to show.
pub fn inbound_redirect(raw_query: &str) -> Result<(String, RedirectQuery), PageError> {
    let refuse = |text: String| refused(StatusCode::BAD_REQUEST, text);
    let query = RedirectQuery::parse(raw_query, "SAMLRequest").map_err(refuse)?;
    let Some(message) = query.message() else {
        return Err(refuse("The request has no SAMLRequest.".into()));
    };
    let xml = xml::decode_redirect(message).map_err(|e| refuse(refusal_text(&e)))?;
    Ok((xml, query))
}

/// A request that cannot be answered to the SP (its ACS is not trusted yet), told to the person.
pub fn refused(status: StatusCode, text: impl Into<String>) -> PageError {
    PageError::cannot_complete(status, text)
}

/// How an inbound message arrived.
#[derive(Debug)]
pub enum Binding<'a> {
    Redirect { query: &'a RedirectQuery },
    Post,
}

/// Why an inbound message was not accepted from this SP.
pub fn refusal_text(e: &XmlError) -> String {
    match e {
        XmlError::Algorithm => {
            "The request is signed with an algorithm not accepted here (SHA-1 needs an \
             administrator's opt-in)."
                .into()
        }
        XmlError::BadSignature => "The request's signature does not verify.".into(),
        XmlError::TooLarge => "The request is too large.".into(),
        XmlError::Dtd => "The request contains a document type declaration.".into(),
        other => format!("The request is not valid: {other}."),
    }
}

/// Checks the signature of a message from `sp`: a query signature (Redirect), or for a POST
/// message an enveloped signature covering its root, which must be `expected`. Unsigned messages
/// pass only when the SP need not sign.
pub fn authenticate(
    sp: &ServiceProvider,
    binding: &Binding<'_>,
    message: &Message<'_>,
    expected: &str,
) -> Result<(), String> {
    let cert = sp.certificate_der();
    let allow_sha1 = sp.settings.allow_sha1;
    let signed = match binding {
        Binding::Redirect { query } => match query.signature() {
            Some((sig_alg, sig)) => {
                let cert = cert.ok_or(
                    "The request is signed, but no certificate is registered for this application.",
                )?;
                if !query.has_sig_alg() {
                    return Err("SigAlg is missing.".into());
                }
                xml::verify_query_signature(
                    &query.signed_octets(),
                    sig,
                    sig_alg,
                    &cert,
                    allow_sha1,
                )
                .map_err(|e| refusal_text(&e))?;
                true
            }
            None => false,
        },
        Binding::Post if message.has_signature() => match cert {
            Some(cert) => {
                if message.root_name() != expected {
                    return Err("The signature does not cover the request.".into());
                }
                message
                    .verify(&cert, allow_sha1)
                    .map_err(|e| refusal_text(&e))?;
                true
            }
            None => false,
        },
        Binding::Post => false,
    };
    if !signed && sp.settings.require_signed_requests {
        return Err("This application must sign its requests, and this one is not signed.".into());
    }
    Ok(())
}

/// A request waiting for the person to sign in.
#[derive(Debug, Serialize, Deserialize)]
pub struct Pending {
    pub application_id: ApplicationId,
    pub request_id: Option<String>,
    pub acs_url: String,
    pub relay_state: Option<String>,
    pub is_passive: bool,
    /// ForceAuthn: only a sign-in after this time counts.
    pub login_after: Option<DateTime<Utc>>,
}

/// `GET /saml/sso` (HTTP-Redirect binding).
pub async fn sso_redirect(
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

/// `POST /saml/sso` (HTTP-POST binding).
pub async fn sso_post(
    saml: web::Data<Saml>,
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    let (xml, relay_state) = inbound(form.into_inner(), xml::decode_post)?;
    handle(&saml, &req, xml, relay_state, &Binding::Post).await
}

#[tracing::instrument(skip_all)]
async fn handle(
    saml: &Saml,
    req: &HttpRequest,
    xml: String,
    relay_state: Option<String>,
    binding: &Binding<'_>,
) -> Result<HttpResponse, PageError> {
    let not_xml = |e: XmlError| refused(StatusCode::BAD_REQUEST, refusal_text(&e));
    let message = Message::parse(&xml).map_err(not_xml)?;
    // Nothing of it is used before its signature is checked but the Issuer, to find whose key
    // checks it; a signature must cover the whole request, so what was read is what is signed.
    let request = message.authn_request().map_err(not_xml)?;
    let issuer = request.issuer.as_deref().unwrap_or_default();
    let Some(sp) = saml.find_service_provider(issuer.trim()).await? else {
        tracing::info!("refused an AuthnRequest from an unknown service provider");
        return Err(refused(
            StatusCode::BAD_REQUEST,
            "The application asking you to sign in is not known here, or is disabled.",
        ));
    };
    authenticate(&sp, binding, &message, "AuthnRequest").map_err(|text| {
        tracing::info!(application = %sp.app.id, "refused an AuthnRequest: {text}");
        refused(StatusCode::BAD_REQUEST, text)
    })?;
    let acs_url = match (
        request.assertion_consumer_service_url.as_deref(),
        request.assertion_consumer_service_index,
    ) {
        (Some(url), _) => sp
            .settings
            .acs
            .iter()
            .find(|a| a.url.as_str() == url)
            .map(|a| a.url.as_str().to_owned()),
        (None, Some(i)) => sp
            .settings
            .acs
            .iter()
            .find(|a| usize::from(a.index) == i)
            .map(|a| a.url.as_str().to_owned()),
        (None, None) => sp.settings.default_acs().map(|a| a.url.as_str().to_owned()),
    };
    let Some(acs_url) = acs_url else {
        tracing::info!(application = %sp.app.id, "refused an AuthnRequest: unregistered ACS");
        return Err(refused(
            StatusCode::BAD_REQUEST,
            "The application asked for the answer to go to an address it has not registered.",
        ));
    };
    // From here on the ACS is trusted: problems go back to the SP.
    let now = saml.auth.clock.now();
    let fail = |text: &str| {
        tracing::info!(application = %sp.app.id, "refused an AuthnRequest: {text}");
        status_response(
            saml,
            &acs_url,
            Some(&request.id),
            REQUESTER,
            Some(REQUEST_DENIED),
            relay_state.as_deref(),
            now,
        )
    };
    if request.version != "2.0" {
        return fail("version is not 2.0").await;
    }
    let skew = TimeDelta::from_std(saml.config.max_clock_skew).unwrap_or(TimeDelta::minutes(3));
    if (request.issue_instant - now).abs() > skew {
        return fail("IssueInstant outside the allowed clock skew").await;
    }
    if let Some(dest) = &request.destination
        && dest != &format!("{}/saml/sso", saml.auth.issuer_url())
    {
        return fail("wrong Destination").await;
    }
    if request.id.is_empty() || request.id.len() > 256 {
        return fail("bad ID").await;
    }
    let seen_key = format!("{}|{}", sp.settings.entity_id, request.id);
    let first = saml
        .auth
        .sessions
        .put_if_absent(
            SEEN_NS,
            &seen_key,
            b"1",
            saml.config.max_clock_skew * 2 + saml.config.pending_lifetime,
        )
        .await?;
    if !first {
        return fail("replayed request ID").await;
    }
    let is_passive = request.is_passive.unwrap_or(false);
    let force_authn = request.force_authn.unwrap_or(false);
    // Signed in already (and no fresh sign-in asked for), or passive: answered in this response,
    // as Keycloak does; only a person who must sign in first waits at /saml/continue.
    if !force_authn || is_passive {
        let current = saml.auth.current(req).await?;
        match current {
            Some(current) if !force_authn => {
                return issue(
                    saml,
                    &current,
                    &sp,
                    &acs_url,
                    Some(&request.id),
                    relay_state.as_deref(),
                )
                .await;
            }
            _ if is_passive => {
                return status_response(
                    saml,
                    &acs_url,
                    Some(&request.id),
                    RESPONDER,
                    Some(response::NO_PASSIVE),
                    relay_state.as_deref(),
                    now,
                )
                .await;
            }
            _ => {}
        }
    }
    let pending = Pending {
        application_id: sp.app.id,
        request_id: Some(request.id.clone()),
        acs_url,
        relay_state,
        is_passive,
        login_after: force_authn.then_some(now),
    };
    let key = portcullis_auth::web::random_token(24);
    let bytes = serde_json::to_vec(&pending).map_err(PageError::unavailable)?;
    saml.auth
        .sessions
        .put(PENDING_NS, &key, &bytes, saml.config.pending_lifetime)
        .await?;
    Ok(found(&format!("/saml/continue?r={key}")))
}

fn found(location: &str) -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// The key to sign with; a failure of ours is the 503 page.
pub(crate) async fn signing_key(saml: &Saml) -> Result<Arc<SamlKey>, PageError> {
    saml.keys
        .signing_key()
        .await
        .map_err(PageError::unavailable)
}

/// A signed status-only Response posted to the SP.
pub async fn status_response(
    saml: &Saml,
    acs_url: &str,
    in_response_to: Option<&str>,
    top: &str,
    second: Option<&str>,
    relay_state: Option<&str>,
    now: DateTime<Utc>,
) -> Result<HttpResponse, PageError> {
    let key = signing_key(saml).await?;
    let xml = response::status_only(
        &saml.saml_entity_id(),
        acs_url,
        in_response_to,
        top,
        second,
        now,
        &key,
    )
    .map_err(PageError::unavailable)?;
    Ok(auto_post(acs_url, "SAMLResponse", &xml, relay_state))
}

#[derive(Debug, Deserialize)]
pub struct ContinueQuery {
    r: String,
}

/// `GET /saml/continue?r=…`: answers a parked request once the person is signed in.
pub async fn continue_sign_in(
    saml: web::Data<Saml>,
    req: HttpRequest,
    q: web::Query<ContinueQuery>,
) -> Result<HttpResponse, PageError> {
    let gone = || {
        Err(refused(
            StatusCode::BAD_REQUEST,
            "This sign-in request has expired or was already answered. Start again from the application.",
        ))
    };
    let Some(pending) = saml
        .auth
        .sessions
        .get(PENDING_NS, &q.r)
        .await?
        .and_then(|b| serde_json::from_slice::<Pending>(&b).ok())
    else {
        return gone();
    };
    let current = saml.auth.current(&req).await?;
    let fresh = current
        .as_ref()
        .filter(|c| pending.login_after.is_none_or(|t| c.session.created_at > t));
    let now = saml.auth.clock.now();
    let Some(current) = fresh else {
        if pending.is_passive {
            if let Err(e) = saml.auth.sessions.delete(PENDING_NS, &q.r).await {
                // It expires on its own; the SP is answered either way.
                tracing::warn!(error = %e, "could not forget an answered passive request");
            }
            return status_response(
                &saml,
                &pending.acs_url,
                pending.request_id.as_deref(),
                RESPONDER,
                Some(response::NO_PASSIVE),
                pending.relay_state.as_deref(),
                now,
            )
            .await;
        }
        let back = format!("/saml/continue?r={}", q.r);
        let mut start = url::form_urlencoded::Serializer::new(String::new());
        start.append_pair("return_to", &back);
        if current.is_some() {
            start.append_pair("reauth", "1");
        }
        return Ok(found(&format!("/start?{}", start.finish())));
    };
    // Single use: of two tabs continuing the same request, one answers.
    if saml.auth.sessions.take(PENDING_NS, &q.r).await?.is_none() {
        return gone();
    }
    let sp = match saml
        .auth
        .directory
        .get_application(pending.application_id)
        .await
    {
        Ok(app) if app.enabled => match app.saml.clone() {
            Some(settings) => ServiceProvider { app, settings },
            None => return gone(),
        },
        Ok(_) | Err(portcullis_store::StoreError::NotFound(_)) => return gone(),
        Err(e) => return Err(e.into()),
    };
    issue(
        &saml,
        current,
        &sp,
        &pending.acs_url,
        pending.request_id.as_deref(),
        pending.relay_state.as_deref(),
    )
    .await
}

/// Issues the Response for a signed-in person: `RequestDenied` when they are not assigned.
pub async fn issue(
    saml: &Saml,
    current: &portcullis_auth::Principal,
    sp: &ServiceProvider,
    acs_url: &str,
    request_id: Option<&str>,
    relay_state: Option<&str>,
) -> Result<HttpResponse, PageError> {
    let now = saml.auth.clock.now();
    let assigned = saml
        .auth
        .directory
        .user_applications(current.user.id)
        .await?
        .iter()
        .any(|a| a.id == sp.app.id);
    if !assigned {
        tracing::info!(application = %sp.app.id, "refused an assertion: the person is not assigned to the application");
        return status_response(
            saml,
            acs_url,
            request_id,
            REQUESTER,
            Some(REQUEST_DENIED),
            relay_state,
            now,
        )
        .await;
    }
    let groups = if sp
        .settings
        .attributes
        .iter()
        .any(|m| m.value == "${user:groups}")
    {
        saml.auth
            .directory
            .list_user_groups(current.user.id)
            .await?
            .into_iter()
            .map(|g| g.name.to_string())
            .collect()
    } else {
        Vec::new()
    };
    let key = signing_key(saml).await?;
    let name_id = response::name_id(
        sp.settings.name_id_format,
        &current.user,
        &sp.settings.entity_id,
        &saml.names,
    );
    let session_index = saml.saml_session_index(&current.session.id.to_string());
    if sp.settings.name_id_format == portcullis_domain::NameIdFormat::Transient {
        crate::slo::remember_transient(
            saml,
            &session_index,
            &sp.settings.entity_id,
            &name_id,
            current.session.expires_at,
        )
        .await?;
    }
    let grant = response::Grant {
        issuer: &saml.saml_entity_id(),
        sp: &sp.settings,
        acs_url,
        in_response_to: request_id,
        name_id,
        subject: response::Subject {
            user: &current.user,
            groups,
            authn_instant: current.session.created_at,
            session_index,
            session_expires: current.session.expires_at,
        },
        now,
    };
    let xml = response::success(&grant, &key).map_err(PageError::unavailable)?;
    tracing::info!(application = %sp.app.id, user = %current.user.id, "issued a SAML assertion");
    Ok(auto_post(acs_url, "SAMLResponse", &xml, relay_state))
}

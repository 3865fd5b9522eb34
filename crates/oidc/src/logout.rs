//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): ends the portal session and the
//! tokens of the grant the ID token came from, then returns to a registered
//! `post_logout_redirect_uri` with `state`. Unless the `id_token_hint` came from this browser's
//! own session (its `sid` and `sub` are the current session's), the person confirms first, so a
//! link on another site — with or without someone's ID token — cannot sign them out.

use std::collections::HashMap;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use super::authorize::single_params;
use super::clients::Client;
use super::error::OAuthError;
use crate::Oidc;
use crate::pages::{LogoutConfirmPage, MessagePage};
use portcullis_auth::web::{Csrf, SESSION_COOKIE, page};

fn message(
    status: StatusCode,
    heading: &'static str,
    text: &str,
    cookies: Vec<actix_web::cookie::Cookie<'static>>,
) -> HttpResponse {
    page(
        status,
        &MessagePage {
            heading,
            text: text.to_owned(),
            link: "/start",
            link_text: "Sign in again",
        },
        cookies,
    )
}

/// `GET /oauth2/logout`.
pub async fn logout_get(
    oidc: web::Data<Oidc>,
    req: HttpRequest,
    q: web::Query<Vec<(String, String)>>,
) -> HttpResponse {
    logout(&oidc, &req, q.into_inner(), false).await
}

/// `POST /oauth2/logout` (the RP's form post, or the confirmation form).
pub async fn logout_post(
    oidc: web::Data<Oidc>,
    req: HttpRequest,
    f: web::Form<Vec<(String, String)>>,
) -> HttpResponse {
    logout(&oidc, &req, f.into_inner(), true).await
}

async fn logout(
    oidc: &Oidc,
    req: &HttpRequest,
    pairs: Vec<(String, String)>,
    posted: bool,
) -> HttpResponse {
    let params: HashMap<String, String> = match single_params(pairs) {
        Ok(p) => p,
        Err(e) => {
            return message(
                StatusCode::BAD_REQUEST,
                "Sign-out request not valid",
                &e,
                vec![],
            );
        }
    };
    match logout_inner(oidc, req, &params, posted).await {
        Ok(resp) => resp,
        Err(e) if e.code == "temporarily_unavailable" => message(
            StatusCode::SERVICE_UNAVAILABLE,
            "Temporarily unavailable",
            "Signing out is temporarily unavailable. Try again shortly.",
            vec![],
        ),
        Err(e) => message(
            StatusCode::BAD_REQUEST,
            "Sign-out request not valid",
            &e.description,
            vec![],
        ),
    }
}

async fn logout_inner(
    oidc: &Oidc,
    req: &HttpRequest,
    params: &HashMap<String, String>,
    posted: bool,
) -> Result<HttpResponse, OAuthError> {
    let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
    // The hint may have expired: that is normal at logout; its signature and issuer still count.
    let hint = match get("id_token_hint") {
        Some(t) => match oidc.keys.verify_allowing_expired(t).await {
            Ok(v) if v.typ.as_deref() != Some("at+jwt") => Some(v.claims),
            Ok(_) | Err(super::keys::KeyError::Rejected(_)) => {
                return Err(OAuthError::invalid_request(
                    "id_token_hint is not an ID token we issued",
                ));
            }
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    let hinted_client = hint.as_ref().and_then(|c| c.get("aud")).and_then(|a| {
        a.as_str()
            .map(str::to_owned)
            .or_else(|| a.get(0).and_then(Value::as_str).map(str::to_owned))
    });
    if let (Some(a), Some(b)) = (&hinted_client, get("client_id"))
        && a != b
    {
        return Err(OAuthError::invalid_request(
            "client_id does not match the id_token_hint",
        ));
    }
    let client_id = hinted_client.or_else(|| get("client_id").map(str::to_owned));
    let client: Option<Client> = match &client_id {
        Some(id) => oidc.find_client(id).await?,
        None => None,
    };
    let redirect = match get("post_logout_redirect_uri") {
        Some(uri) => {
            let registered = client.as_ref().is_some_and(|c| {
                c.settings
                    .post_logout_redirect_uris
                    .iter()
                    .any(|r| r.as_str() == uri)
            });
            if !registered {
                return Err(OAuthError::invalid_request(
                    "post_logout_redirect_uri is not registered for this client",
                ));
            }
            Some(uri.to_owned())
        }
        None => None,
    };
    // The hint speaks for this browser's session only when it came from it: its `sid` (the
    // token family) belongs to the current session and its `sub` is the current person. Another
    // person's token, or one from an earlier session, proves nothing about who is asking.
    let current = oidc.auth.current(req).await?;
    let hinted_family = hint
        .as_ref()
        .and_then(|c| c.get("sid"))
        .and_then(Value::as_str);
    let hint_is_current = match (&current, hinted_family) {
        (Some(c), Some(family)) => {
            let sub = hint
                .as_ref()
                .and_then(|h| h.get("sub"))
                .and_then(Value::as_str);
            sub == Some(c.user.id.to_string().as_str())
                && oidc.live_family(family).await?.is_some_and(|(record, _)| {
                    record.session_id == c.session.id && record.user_id == c.user.id
                })
        }
        _ => false,
    };
    let confirmed = posted
        && get("confirm") == Some("1")
        && get("csrf").is_some_and(|c| Csrf::verify(&oidc.auth.cookies, req, c));
    if current.is_some() && !hint_is_current && !confirmed {
        let csrf = Csrf::for_form(&oidc.auth.cookies, req);
        let mut confirm = page(
            StatusCode::OK,
            &LogoutConfirmPage {
                csrf: csrf.token,
                application: client.as_ref().map(|c| c.name.clone()),
                client_id: client_id.clone(),
                post_logout_redirect_uri: redirect.clone(),
                state: get("state").map(str::to_owned),
            },
            csrf.cookie.into_iter().collect(),
        );
        if let Some(to) = &redirect {
            portcullis_auth::web::allow_form_redirect(&mut confirm, to);
        }
        return Ok(confirm);
    }
    // End this browser's portal session (every grant made from it dies with it), and the grant
    // the ID token came from when it is this session's.
    if let Some(c) = &current {
        if hint_is_current && let Some(family) = hinted_family {
            oidc.revoke_family(family).await?;
        }
        oidc.auth
            .sessions
            .revoke_session(c.user.id, &c.session.id)
            .await?;
    }
    let removal = vec![oidc.auth.cookies.removal(SESSION_COOKIE)];
    let Some(uri) = redirect else {
        return Ok(message(
            StatusCode::OK,
            "You have signed out",
            "Your Portcullis session has ended.",
            removal,
        ));
    };
    let mut url = url::Url::parse(&uri).map_err(|_| OAuthError::invalid_request("bad redirect"))?;
    if let Some(state) = get("state") {
        url.query_pairs_mut().append_pair("state", state);
    }
    let mut resp = HttpResponse::Found();
    resp.insert_header((header::LOCATION, url.as_str()))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    for c in removal {
        resp.cookie(c);
    }
    Ok(resp.finish())
}

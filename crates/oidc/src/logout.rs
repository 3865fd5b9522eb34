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
use super::keys::KeyError;
use crate::Oidc;
use crate::pages::{LogoutConfirmPage, MessagePage, unavailable};
use portcullis_auth::PageError;
use portcullis_auth::web::{Csrf, SESSION_COOKIE, page};

/// A sign-out request that is not valid, said to the person (400).
fn not_valid(text: impl Into<String>) -> PageError {
    PageError::Message {
        status: StatusCode::BAD_REQUEST,
        heading: "Sign-out request not valid",
        text: text.into(),
        link: "/start",
        link_text: "Sign in again",
    }
}

/// An `OAuthError` from below: ours (503) when a store failed, else the request is not valid.
fn refused(e: OAuthError) -> PageError {
    if e.code == "temporarily_unavailable" {
        unavailable(e)
    } else {
        not_valid(e.description)
    }
}

/// `GET /oauth2/logout`.
pub async fn logout_get(
    oidc: web::Data<Oidc>,
    req: HttpRequest,
    q: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    logout(&oidc, &req, q.into_inner(), false).await
}

/// `POST /oauth2/logout` (the RP's form post, or the confirmation form).
pub async fn logout_post(
    oidc: web::Data<Oidc>,
    req: HttpRequest,
    f: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    logout(&oidc, &req, f.into_inner(), true).await
}

async fn logout(
    oidc: &Oidc,
    req: &HttpRequest,
    pairs: Vec<(String, String)>,
    posted: bool,
) -> Result<HttpResponse, PageError> {
    let params: HashMap<String, String> = single_params(pairs).map_err(not_valid)?;
    let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
    // The hint may have expired: that is normal at logout; its signature and issuer still count.
    let hint = match get("id_token_hint") {
        Some(t) => match oidc.keys.verify_allowing_expired(t).await {
            Ok(v) if v.typ.as_deref() != Some("at+jwt") => Some(v.claims),
            Ok(_) | Err(KeyError::Rejected(_)) => {
                return Err(not_valid("id_token_hint is not an ID token we issued"));
            }
            Err(e) => return Err(PageError::unavailable(e)),
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
        return Err(not_valid("client_id does not match the id_token_hint"));
    }
    let client_id = hinted_client.or_else(|| get("client_id").map(str::to_owned));
    let client: Option<Client> = match &client_id {
        Some(id) => oidc.find_client(id).await.map_err(refused)?,
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
                return Err(not_valid(
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
                && oidc
                    .live_family(family)
                    .await
                    .map_err(refused)?
                    .is_some_and(|(record, _)| {
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
            oidc.revoke_family(family).await.map_err(refused)?;
        }
        oidc.auth
            .sessions
            .revoke_session(c.user.id, &c.session.id)
            .await?;
    }
    let removal = vec![oidc.auth.cookies.removal(SESSION_COOKIE)];
    let Some(uri) = redirect else {
        return Ok(page(
            StatusCode::OK,
            &MessagePage {
                heading: "You have signed out",
                text: "Your Portcullis session has ended.".into(),
                link: "/start",
                link_text: "Sign in again",
            },
            removal,
        ));
    };
    let mut url = url::Url::parse(&uri).map_err(|_| not_valid("bad redirect"))?;
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

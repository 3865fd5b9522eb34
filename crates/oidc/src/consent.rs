//! Consent before a client gets a person's authority. Clients that registered themselves through
//! the SSO-OIDC API (`/client/register`, unauthenticated: anyone can make one) always ask; an
//! administrator's application asks when its `requireConsent` is on. The page names the client as
//! it was registered, what it asks for, and where the answer goes; the person's "Allow" is
//! remembered per person + client + scopes for the client's lifetime (until they or an
//! administrator revoke it, which also ends the tokens the client holds for them).
//!
//! Requests waiting for a sign-in or an answer are parked server-side (`Parked`): the browser
//! carries only a random reference, so nothing the client sends can claim "already signed in
//! again" or "already consented".

use std::collections::HashMap;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_domain::{Actor, Consent, UserId};
use portcullis_sessions::SessionId;
use portcullis_store::StoreError;
use serde::{Deserialize, Serialize};

use super::authorize::{Decision, Resumed, authorize_with, requested_scopes};
use super::clients::{Client, ClientSource};
use super::error::OAuthError;
use super::grants::Pending;
use crate::Oidc;
use crate::pages::{ConsentPage, ScopeLine, unavailable};
use portcullis_auth::page::{CheckedForm, CsrfField};
use portcullis_auth::web::{Csrf, page};
use portcullis_auth::{PageError, Principal};

/// Namespace of parked authorization requests.
const PARKED_NS: &str = "oidc-authz";
/// How long a parked request waits (as long as a sign-in may take).
const PARKED_TTL: Duration = Duration::from_secs(15 * 60);
/// Namespace of the (person, client) → token families index: a counter `{user}:{client}` hands
/// out slots, slot `{user}:{client}:{n}` names one family. Lets a revoked consent end the
/// client's tokens without scanning, and without a read-modify-write that two grants at once
/// could lose.
const FAMILIES_NS: &str = "oidc-client-families";
/// The longest a family can live (the longest portal session).
const FAMILY_INDEX_WINDOW: Duration = Duration::from_secs(90 * 86_400);
/// The scope that lets a client reach the person's accounts (the portal API).
pub const ACCOUNTS_SCOPE: &str = "sso:account:access";

/// Why a consent could not be revoked.
#[derive(Debug, thiserror::Error)]
pub enum ConsentError {
    #[error("there is no such consent")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Sessions(#[from] portcullis_sessions::SessionError),
}

/// An authorization request waiting server-side for a sign-in or a consent answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Parked {
    pub params: HashMap<String, String>,
    /// Only a sign-in at or after this instant (Unix seconds) satisfies the request.
    pub login_after: Option<i64>,
    /// For a consent question: the portal session it was asked in (only that session answers).
    pub session_id: Option<SessionId>,
}

impl Client {
    /// Whether people are asked before this client gets their authority.
    pub fn needs_consent(&self) -> bool {
        self.source == ClientSource::Registered || self.settings.require_consent
    }
}

/// What each scope means, in words a person can judge.
pub fn describe_scopes(scopes: &[String]) -> Vec<ScopeLine> {
    scopes
        .iter()
        .map(|s| ScopeLine {
            name: s.clone(),
            text: match s.as_str() {
                "openid" => "Know who you are (your user id)".into(),
                "profile" => "See your name and user name".into(),
                "email" => "See your email address".into(),
                "groups" => "See the groups you belong to".into(),
                "offline_access" => "Stay connected while you are not signed in".into(),
                ACCOUNTS_SCOPE => {
                    "Access your AWS accounts: get credentials for every role you have".into()
                }
                _ => "A permission this application asked for by name".into(),
            },
        })
        .collect()
}

impl Oidc {
    pub(super) async fn park(&self, parked: &Parked) -> Result<String, OAuthError> {
        let key = portcullis_auth::web::random_token(24);
        self.put_json(PARKED_NS, &key, parked, PARKED_TTL).await?;
        Ok(key)
    }

    pub(super) async fn parked(&self, key: &str) -> Result<Option<Parked>, OAuthError> {
        self.get_json(PARKED_NS, key).await
    }

    /// Whether the person already allowed `client` every one of `scopes`.
    pub(super) async fn has_consent(
        &self,
        user: UserId,
        client: &Client,
        scopes: &[String],
    ) -> Result<bool, OAuthError> {
        let now = self.auth.clock.now();
        Ok(self
            .auth
            .directory
            .get_consent(user, &client.id, now)
            .await?
            .is_some_and(|c| c.covers(scopes)))
    }

    /// Parks the request and shows the consent page.
    pub(super) async fn ask_consent(
        &self,
        req: &HttpRequest,
        client: &Client,
        current: &Principal,
        scopes: &[String],
        redirect_uri: &str,
        params: &HashMap<String, String>,
    ) -> Result<HttpResponse, OAuthError> {
        let key = self
            .park(&Parked {
                params: params.clone(),
                login_after: None,
                session_id: Some(current.session.id.clone()),
            })
            .await?;
        let destination = url::Url::parse(redirect_uri)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_else(|_| redirect_uri.to_owned());
        let csrf = Csrf::for_form(&self.auth.cookies, req);
        let mut answer = page(
            StatusCode::OK,
            &ConsentPage {
                csrf: csrf.token,
                request: key,
                application: client.name.clone(),
                client_id: client.id.clone(),
                self_registered: client.source == ClientSource::Registered,
                accounts: scopes.iter().any(|s| s == ACCOUNTS_SCOPE),
                scopes: describe_scopes(scopes),
                destination,
                user_name: current.user.user_name.to_string(),
            },
            csrf.cookie.into_iter().collect(),
        );
        // The answer to the form is a redirect to the client.
        portcullis_auth::web::allow_form_redirect(&mut answer, redirect_uri);
        Ok(answer)
    }

    /// Remembers that the person allowed `client` these scopes (with what they allowed it
    /// before), for as long as the client's registration lives.
    pub(crate) async fn remember_consent(
        &self,
        user: UserId,
        client: &Client,
        scopes: &[String],
    ) -> Result<(), OAuthError> {
        let now = self.auth.clock.now();
        let mut all = scopes.to_vec();
        if let Some(before) = self
            .auth
            .directory
            .get_consent(user, &client.id, now)
            .await?
        {
            all.extend(before.scopes);
        }
        let consent = Consent {
            user_id: user,
            client_id: client.id.clone(),
            client_name: client.name.clone(),
            scopes: all,
            granted_at: now,
            expires_at: client.registered_until,
        };
        self.auth
            .directory
            .grant_consent(Actor::User(user), consent)
            .await?;
        Ok(())
    }

    /// Notes that `family` holds the authority `user` gave `client_id`, so that revoking the
    /// consent can end it: a slot is taken now, the note is a write committed with the family.
    pub(crate) async fn index_family(
        &self,
        user: UserId,
        client_id: &str,
        family: &str,
        ttl: Duration,
    ) -> Result<Pending, OAuthError> {
        let base = format!("{user}:{client_id}");
        let slot = self
            .auth
            .sessions
            .increment(FAMILIES_NS, &base, FAMILY_INDEX_WINDOW)
            .await?;
        Ok(Pending {
            ns: FAMILIES_NS,
            key: format!("{base}:{slot}"),
            value: family.as_bytes().to_vec(),
            ttl,
        })
    }

    /// Withdraws the person's consent to a client and ends every token the client holds for
    /// them.
    pub async fn revoke_consent(
        &self,
        actor: Actor,
        user: UserId,
        client_id: &str,
    ) -> Result<(), ConsentError> {
        self.auth
            .directory
            .revoke_consent(actor, user, client_id)
            .await
            .map_err(|e| match e {
                StoreError::NotFound(_) => ConsentError::NotFound,
                other => ConsentError::Store(other),
            })?;
        let base = format!("{user}:{client_id}");
        let issued = self
            .auth
            .sessions
            .get(FAMILIES_NS, &base)
            .await?
            .and_then(|raw| String::from_utf8(raw).ok()?.parse::<u64>().ok())
            .unwrap_or(0);
        for slot in 1..=issued {
            let key = format!("{base}:{slot}");
            if let Some(family) = self.auth.sessions.take(FAMILIES_NS, &key).await? {
                self.grants()
                    .revoke_family(&String::from_utf8_lossy(&family))
                    .await
                    .map_err(portcullis_sessions::SessionError::from)?;
            }
        }
        tracing::info!(client = %client_id, user = %user, slots = issued, "revoked a consent and the client's tokens");
        Ok(())
    }

    /// The person's consents, for the portal and the admin API.
    pub async fn consents(&self, user: UserId) -> Result<Vec<Consent>, StoreError> {
        self.auth
            .directory
            .list_consents(user, self.auth.clock.now())
            .await
    }
}

#[derive(Debug, Deserialize)]
pub struct ConsentForm {
    csrf: String,
    request: String,
    decision: String,
}

impl CsrfField for ConsentForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /oauth2/consent`: the person's answer. The parked request is taken (one answer per
/// question) and answered as if it had just arrived, now with the decision.
///
/// Without a session the answer is a page (401), not a sign-in: the question belongs to the
/// session it was asked in, and sign-in could not come back to a form's answer.
pub async fn consent_post(
    oidc: web::Data<Oidc>,
    req: HttpRequest,
    form: CheckedForm<ConsentForm>,
) -> Result<HttpResponse, PageError> {
    let decision = match form.decision.as_str() {
        "allow" => Decision::Allowed,
        "deny" => Decision::Denied,
        _ => {
            return Err(PageError::portal(
                StatusCode::BAD_REQUEST,
                "Unknown choice",
                "Choose Allow or Deny.",
            ));
        }
    };
    let Some(current) = oidc.auth.current(&req).await? else {
        return Err(PageError::portal(
            StatusCode::UNAUTHORIZED,
            "Your session has ended",
            "Sign in again from the application.",
        ));
    };
    let parked = oidc
        .take_json::<Parked>(PARKED_NS, &form.request)
        .await
        .map_err(unavailable)?
        .filter(|p| p.session_id.as_ref() == Some(&current.session.id))
        .ok_or_else(|| {
            PageError::portal(
                StatusCode::BAD_REQUEST,
                "This request has expired",
                "It was already answered, or it took too long. Start again from the application.",
            )
        })?;
    if decision == Decision::Allowed {
        let client = match parked.params.get("client_id") {
            Some(id) => oidc.find_client(id).await.map_err(unavailable)?,
            None => None,
        };
        // Gone meanwhile: the request answers for itself below.
        if let Some(client) = client {
            // A request whose scopes are no longer valid answers for itself.
            let Ok(scopes) = requested_scopes(&parked.params, &client) else {
                return authorize_with(&oidc, &req, parked.params, Resumed::default()).await;
            };
            oidc.remember_consent(current.user.id, &client, &scopes)
                .await
                .map_err(unavailable)?;
        }
    }
    let resumed = Resumed {
        login_after: parked.login_after,
        decision,
    };
    authorize_with(&oidc, &req, parked.params, resumed).await
}

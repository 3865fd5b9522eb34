//! Device authorization (RFC 8628): the device asks for a code pair, the person approves or
//! denies at `/device` in a signed-in browser, and the device polls the token endpoint.

use std::time::Duration;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_domain::GrantType;
use rand::Rng;
use serde::Deserialize;

use super::clients::{Client, ClientSource, PresentedClient};
use super::consent::{ACCOUNTS_SCOPE, describe_scopes};
use super::error::OAuthError;
use super::grants::Grant;
use super::token::{TokenRequest, form_params};
use super::tokens::IssuedTokens;
use crate::Oidc;
use crate::pages::{DeviceAsker, DevicePage, MessagePage, unavailable};
use portcullis_auth::page::{CheckedForm, CsrfField};
use portcullis_auth::web::{Csrf, page};
use portcullis_auth::{PageError, SignedIn};

pub use portcullis_sessions::grants::{DEVICE_NS, USER_CODE_NS};
const GUESS_NS: &str = "oidc-device-guess";
/// Wrong user codes a person may enter in `GUESS_WINDOW` (the codes have 20^8 values).
const MAX_GUESSES: u64 = 20;
const GUESS_WINDOW: Duration = Duration::from_secs(15 * 60);
const STARTS_NS: &str = "oidc-device-starts";
/// Device authorizations one client may have started within a device-code lifetime: each is
/// stored until it expires, and a client can be anyone who registered one.
const MAX_STARTS_PER_CLIENT: u64 = 100;
/// Base-20 consonants: no vowels (no words), nothing that looks like a digit (RFC 8628 §6.1).
const ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";

pub use portcullis_sessions::grants::{DeviceKey, DeviceRecord, DeviceStatus};

/// What a device authorization returns (the RFC 8628 names; the SSO-OIDC API renames them).
#[derive(Debug, Clone)]
pub struct DeviceStart {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: String,
    pub expires_in: u64,
    pub interval: u64,
}

fn new_user_code() -> String {
    let mut rng = rand::rng();
    let mut code = String::with_capacity(9);
    for i in 0..8 {
        if i == 4 {
            code.push('-');
        }
        code.push(ALPHABET[rng.random_range(0..ALPHABET.len())] as char);
    }
    code
}

/// A user code as typed: case and separators ignored.
fn normalise_user_code(raw: &str) -> Option<String> {
    let letters: String = raw
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (letters.len() == 8 && letters.bytes().all(|b| ALPHABET.contains(&b)))
        .then(|| format!("{}-{}", &letters[..4], &letters[4..]))
}

impl Oidc {
    /// Starts a device authorization for an authenticated client.
    pub async fn start_device(
        &self,
        client: &Client,
        scopes: Vec<String>,
    ) -> Result<DeviceStart, OAuthError> {
        if !client.allows(GrantType::DeviceCode) {
            return Err(OAuthError::unauthorized_client(
                "this client may not use the device authorization grant",
            ));
        }
        if let Some(bad) = scopes.iter().find(|s| !client.knows_scope(s)) {
            return Err(OAuthError::invalid_scope(format!("unknown scope {bad}")));
        }
        let lifetime = self.config.device_code_lifetime;
        let started = self
            .auth
            .sessions
            .increment(STARTS_NS, &client.id, lifetime)
            .await?;
        if started > MAX_STARTS_PER_CLIENT {
            return Err(OAuthError::new(
                "slow_down",
                "this client started too many device authorizations; wait for some to expire",
            ));
        }
        let interval = self.config.device_poll_interval.as_secs().max(1);
        let device_code = portcullis_auth::web::random_token(32);
        let user_code = new_user_code();
        let record = DeviceRecord {
            client_id: client.id.clone(),
            scopes,
            user_code: user_code.clone(),
            status: DeviceStatus::Pending,
            interval,
            last_poll: None,
            expires_at: self.auth.clock.now()
                + chrono::Duration::from_std(lifetime).unwrap_or_default(),
        };
        self.grants()
            .start_device(&device_code, &record, lifetime)
            .await?;
        let base = self.auth.public_url.as_str().trim_end_matches('/');
        Ok(DeviceStart {
            device_code,
            verification_uri: format!("{base}/device"),
            verification_uri_complete: format!("{base}/device?user_code={user_code}"),
            user_code,
            expires_in: lifetime.as_secs(),
            interval,
        })
    }

    /// A device's poll of the token endpoint.
    pub(super) async fn device_grant(
        &self,
        client: &Client,
        request: TokenRequest,
        opaque: bool,
    ) -> Result<IssuedTokens, OAuthError> {
        let Some(device_code) = request.device_code else {
            return Err(OAuthError::invalid_request("device_code is required"));
        };
        let key = DeviceKey::of(&device_code);
        let grants = self.grants();
        let expired =
            || OAuthError::new("expired_token", "the device code has expired; start again");
        let Some(mut record) = grants.device(&key).await? else {
            return Err(expired());
        };
        if record.client_id != client.id {
            return Err(OAuthError::invalid_grant(
                "the device code was issued to another client",
            ));
        }
        let now = self.auth.clock.now();
        if record.expires_at <= now {
            return Err(expired());
        }
        if let Some(last) = record.last_poll
            && (now - last).num_seconds() < record.interval as i64
        {
            record.interval += 5;
            record.last_poll = Some(now);
            grants.update_device(&key, &record).await?;
            return Err(OAuthError::new(
                "slow_down",
                format!(
                    "polling too fast; wait {} seconds between requests",
                    record.interval
                ),
            ));
        }
        match record.status {
            DeviceStatus::Pending => {
                record.last_poll = Some(now);
                grants.update_device(&key, &record).await?;
                Err(OAuthError::new(
                    "authorization_pending",
                    "the person has not yet approved this device",
                ))
            }
            DeviceStatus::Denied => {
                grants.forget_device(&key).await?;
                Err(OAuthError::access_denied("the person denied this device"))
            }
            DeviceStatus::Approved { ref grant } => {
                let Some(session) = self.live_session(grant.user_id, &grant.session_id).await?
                else {
                    return Err(OAuthError::invalid_grant(
                        "the approving portal session has ended",
                    ));
                };
                let (family, mut writes) = self.new_family(client, grant, &session).await?;
                let (tokens, more) = self
                    .prepare_user_tokens(client, grant, &family, &session, opaque)
                    .await?;
                writes.extend(more);
                // The device code is spent here, with everything it grants, or not at all.
                if !grants.redeem_device(&key, &record, &writes).await? {
                    return Err(expired());
                }
                Ok(tokens)
            }
        }
    }

    /// The pending device authorization a user code names.
    async fn pending_device(
        &self,
        user_code: &str,
    ) -> Result<Option<(DeviceKey, DeviceRecord)>, OAuthError> {
        Ok(self.grants().pending_device(user_code).await?)
    }
}

/// `POST /oauth2/device_authorization`.
pub async fn device_authorization(
    oidc: web::Data<Oidc>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let basic = req.headers().contains_key(header::AUTHORIZATION);
    let outcome = async {
        let params = form_params(&req, &body)?;
        let presented = PresentedClient::from_request(
            &req,
            params.get("client_id").map(String::as_str),
            params.get("client_secret").map(String::as_str),
        )?;
        let (client, _) = oidc.authenticate_client(&presented).await?;
        let scopes = params
            .get("scope")
            .map(|s| {
                s.split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        oidc.start_device(&client, scopes).await
    }
    .await;
    match outcome {
        Ok(d) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(serde_json::json!({
                "device_code": d.device_code,
                "user_code": d.user_code,
                "verification_uri": d.verification_uri,
                "verification_uri_complete": d.verification_uri_complete,
                "expires_in": d.expires_in,
                "interval": d.interval,
            })),
        Err(e) => e.to_json(basic),
    }
}

#[derive(Debug, Deserialize)]
pub struct DeviceQuery {
    user_code: Option<String>,
}

fn device_page(
    oidc: &Oidc,
    req: &HttpRequest,
    status: StatusCode,
    user_code: String,
    application: Option<DeviceAsker>,
    error: Option<String>,
) -> HttpResponse {
    let csrf = Csrf::for_form(&oidc.auth.cookies, req);
    page(
        status,
        &DevicePage {
            csrf: csrf.token,
            user_code,
            application,
            error,
        },
        csrf.cookie.into_iter().collect(),
    )
}

/// Counts a user code the person typed, before it is looked up (so that two requests at once
/// cannot both slip under the limit); `false` when they have used up their guesses. A code that
/// turns out valid gives its count back with [`valid_guess`].
async fn reserve_guess(
    oidc: &Oidc,
    user: portcullis_domain::UserId,
) -> Result<bool, portcullis_sessions::SessionError> {
    let n = oidc
        .auth
        .sessions
        .increment(GUESS_NS, &user.to_string(), GUESS_WINDOW)
        .await?;
    Ok(n <= MAX_GUESSES)
}

async fn valid_guess(
    oidc: &Oidc,
    user: portcullis_domain::UserId,
) -> Result<(), portcullis_sessions::SessionError> {
    oidc.auth
        .sessions
        .decrement(GUESS_NS, &user.to_string())
        .await
}

fn too_many_guesses(oidc: &Oidc, req: &HttpRequest) -> HttpResponse {
    device_page(
        oidc,
        req,
        StatusCode::TOO_MANY_REQUESTS,
        String::new(),
        None,
        Some("Too many wrong codes. Wait a few minutes and try again.".into()),
    )
}

/// `GET /device`: enter a code, or (with `?user_code=`) see which application asks; without a
/// session, to sign-in and back here.
pub async fn device_get(
    oidc: web::Data<Oidc>,
    req: HttpRequest,
    q: web::Query<DeviceQuery>,
    current: SignedIn,
) -> Result<HttpResponse, PageError> {
    let Some(raw) = q.user_code.as_deref().filter(|c| !c.trim().is_empty()) else {
        return Ok(device_page(
            &oidc,
            &req,
            StatusCode::OK,
            String::new(),
            None,
            None,
        ));
    };
    let wrong = |oidc: &Oidc| {
        Ok(device_page(
            oidc,
            &req,
            StatusCode::BAD_REQUEST,
            raw.to_owned(),
            None,
            Some("That code is not valid, or has expired. Check the code on your device.".into()),
        ))
    };
    if !reserve_guess(&oidc, current.user.id).await? {
        return Ok(too_many_guesses(&oidc, &req));
    }
    let Some(code) = normalise_user_code(raw) else {
        return wrong(&oidc);
    };
    let Some((_, record)) = oidc.pending_device(&code).await.map_err(unavailable)? else {
        return wrong(&oidc);
    };
    let Some(client) = oidc
        .find_client(&record.client_id)
        .await
        .map_err(unavailable)?
    else {
        return wrong(&oidc);
    };
    valid_guess(&oidc, current.user.id).await?;
    let asker = DeviceAsker {
        name: client.name.clone(),
        client_id: client.id.clone(),
        self_registered: client.source == ClientSource::Registered,
        accounts: record.scopes.iter().any(|s| s == ACCOUNTS_SCOPE),
        scopes: describe_scopes(&record.scopes),
    };
    Ok(device_page(
        &oidc,
        &req,
        StatusCode::OK,
        code,
        Some(asker),
        None,
    ))
}

#[derive(Debug, Deserialize)]
pub struct DeviceForm {
    csrf: String,
    user_code: String,
    action: String,
}

impl CsrfField for DeviceForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// What the person is told after answering, with a link to the portal.
fn answered(heading: &'static str, text: String) -> HttpResponse {
    page(
        StatusCode::OK,
        &MessagePage {
            heading,
            text,
            link: "/portal",
            link_text: "Go to your portal",
        },
        vec![],
    )
}

/// `POST /device`: allow or deny. The form is checked first; without a session, to sign-in.
pub async fn device_post(
    oidc: web::Data<Oidc>,
    req: HttpRequest,
    form: CheckedForm<DeviceForm>,
) -> Result<HttpResponse, PageError> {
    let current = oidc.auth.signed_in(&req).await?;
    let approve = match form.action.as_str() {
        "approve" => true,
        "deny" => false,
        _ => {
            return Err(PageError::portal(
                StatusCode::BAD_REQUEST,
                "Unknown choice",
                "Choose Allow or Deny.",
            ));
        }
    };
    let not_valid = |text: &str| {
        Err(PageError::portal(
            StatusCode::BAD_REQUEST,
            "Code not valid",
            text,
        ))
    };
    if !reserve_guess(&oidc, current.user.id).await? {
        return Ok(too_many_guesses(&oidc, &req));
    }
    let Some(code) = normalise_user_code(&form.user_code) else {
        return not_valid("That code is not valid, or has expired.");
    };
    let Some((key, mut record)) = oidc.pending_device(&code).await.map_err(unavailable)? else {
        return not_valid("That code is not valid, or has expired. Start again on your device.");
    };
    let Some(client) = oidc
        .find_client(&record.client_id)
        .await
        .map_err(unavailable)?
    else {
        return not_valid("The application is no longer available.");
    };
    valid_guess(&oidc, current.user.id).await?;
    let allowed = approve && oidc.assigned(current.user.id, &client).await?;
    if allowed && client.needs_consent() {
        oidc.remember_consent(current.user.id, &client, &record.scopes)
            .await
            .map_err(unavailable)?;
    }
    record.status = if allowed {
        DeviceStatus::Approved {
            grant: Grant {
                user_id: current.user.id,
                session_id: current.session.id.clone(),
                client_id: client.id.clone(),
                scopes: record.scopes.clone(),
                auth_time: current.session.created_at,
                amr: current.session.amr.clone(),
                nonce: None,
            },
        }
    } else {
        DeviceStatus::Denied
    };
    oidc.grants()
        .update_device(&key, &record)
        .await
        .map_err(|e| unavailable(e.into()))?;
    if allowed {
        Ok(answered(
            "Device connected",
            format!(
                "{} may now act as you. You can close this window and return to your device.",
                client.name
            ),
        ))
    } else if approve {
        Err(PageError::portal(
            StatusCode::FORBIDDEN,
            "Not allowed",
            format!(
                "You are not assigned to {}. Ask your administrator for access.",
                client.name
            ),
        ))
    } else {
        Ok(answered(
            "Request denied",
            "The device was not connected. You can close this window.".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_are_unambiguous_and_normalise() {
        for _ in 0..100 {
            let c = new_user_code();
            assert_eq!(c.len(), 9);
            assert_eq!(normalise_user_code(&c).as_deref(), Some(c.as_str()));
            assert_eq!(
                normalise_user_code(&c.to_lowercase().replace('-', " ")).as_deref(),
                Some(c.as_str())
            );
        }
        assert_eq!(
            normalise_user_code("ABCD-EFGH"),
            None,
            "vowels are never in a code"
        );
        assert_eq!(normalise_user_code("BCDF-GHJ"), None);
    }
}

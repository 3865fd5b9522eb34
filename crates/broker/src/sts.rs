//! STS `GetCallerIdentity` (query protocol, SigV4, service `sts`) at `POST /`: how a resource
//! service learns who signed a request with broker credentials — the call the AWS SDKs make,
//! and the pattern HashiCorp Vault's AWS auth method uses. Wire facts: AWS-WIRE.md ("STS").

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use portcullis_auth::principal::live_user;
use portcullis_domain::{AccountId, RoleName, UserId, UserName};
use sha2::{Digest, Sha256};

use crate::error::{VerifyError, xml_escape};
use crate::{Broker, sigv4};

const ACTION: &str = "GetCallerIdentity";
const VERSION: &str = "2011-06-15";
const XMLNS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::post().to(get_caller_identity));
}

/// `GET /` carrying a presigned signature (`X-Amz-Algorithm` in the query string); every other
/// `GET /` is left to whatever else answers it (the portal).
pub fn presigned_routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/",
        web::get()
            .guard(actix_web::guard::fn_guard(|ctx| {
                ctx.head().uri.query().is_some_and(|q| {
                    q.split('&')
                        .any(|p| p.split('=').next() == Some("X-Amz-Algorithm"))
                })
            }))
            .to(get_caller_identity),
    );
}

/// Who signed a request, as verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerIdentity {
    pub account_id: AccountId,
    pub role_name: RoleName,
    pub user_id: UserId,
    pub user_name: UserName,
    pub access_key_id: String,
    pub expires_at: DateTime<Utc>,
    /// `arn:aws:sts::{account}:assumed-role/{role}/{userName}`.
    pub arn: String,
    /// STS's `UserId` of an assumed role: `{role id}:{session name}`.
    pub aws_user_id: String,
}

/// A stable, AWS-shaped role id (`AROA` + 17 base-32 characters) for an (account, permission set).
fn role_id(account: &AccountId, permission_set: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let digest = Sha256::digest(format!("{account}/{permission_set}").as_bytes());
    let mut id = String::from("AROA");
    id.extend(
        digest
            .iter()
            .take(17)
            .map(|b| char::from(ALPHABET[usize::from(b % 32)])),
    );
    id
}

impl Broker {
    /// Verifies a SigV4-signed request (any region, service `sts`) and re-checks that its person
    /// is enabled and still holds the role: an administrator's change applies to the very next
    /// request. Shared by STS `GetCallerIdentity` and gRPC `VerifyCredentials`.
    pub async fn verify_request(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<CallerIdentity, VerifyError> {
        self.verify_signed(request, sigv4::SERVICE).await
    }

    /// As [`Broker::verify_request`], for a request whose signature is scoped to `service` (a
    /// resource service verifying requests made to itself, through gRPC `VerifyCredentials`).
    #[tracing::instrument(skip_all, fields(service))]
    pub async fn verify_signed(
        &self,
        request: http::Request<Vec<u8>>,
        service: &str,
    ) -> Result<CallerIdentity, VerifyError> {
        let now = self.clock.now();
        let claims = sigv4::verify(
            self.keys.clone(),
            request,
            service,
            now,
            self.config.allowed_skew,
        )
        .await?;
        if live_user(self.directory.as_ref(), claims.user_id)
            .await?
            .is_none()
        {
            return Err(VerifyError::AccessDenied(
                "the person these credentials were issued to is disabled or deleted".into(),
            ));
        }
        let held = self
            .directory
            .user_entitlements(claims.user_id)
            .await?
            .iter()
            .any(|e| {
                e.account_id == claims.account_id && e.permission_set_id == claims.permission_set_id
            });
        if !held {
            return Err(VerifyError::AccessDenied(format!(
                "{} is no longer assigned the role {} in account {}",
                claims.user_name, claims.role_name, claims.account_id
            )));
        }
        let arn = format!(
            "arn:aws:sts::{}:assumed-role/{}/{}",
            claims.account_id, claims.role_name, claims.user_name
        );
        let aws_user_id = format!(
            "{}:{}",
            role_id(&claims.account_id, &claims.permission_set_id.to_string()),
            claims.user_name
        );
        Ok(CallerIdentity {
            expires_at: DateTime::from_timestamp_millis(claims.expires_at_ms).unwrap_or(now),
            account_id: claims.account_id,
            role_name: claims.role_name,
            user_id: claims.user_id,
            user_name: claims.user_name,
            access_key_id: claims.access_key_id,
            arn,
            aws_user_id,
        })
    }
}

/// The actix request as an http 1.x request (actix-web speaks http 0.2): method, path and
/// query, every header value in order, the body.
fn to_http1(req: &HttpRequest, body: Vec<u8>) -> Result<http::Request<Vec<u8>>, VerifyError> {
    let malformed = || VerifyError::IncompleteSignature("the request is malformed".into());
    let mut builder = http::Request::builder()
        .method(
            http::Method::from_bytes(req.method().as_str().as_bytes()).map_err(|_| malformed())?,
        )
        .uri(req.uri().to_string());
    for (name, value) in req.headers().iter() {
        builder = builder.header(name.as_str(), value.as_bytes());
    }
    builder.body(body).map_err(|_| malformed())
}

/// `Action` and `Version` from the form body or the query string.
fn check_action(req: &HttpRequest, body: &[u8]) -> Result<(), VerifyError> {
    let params: Vec<(String, String)> = url::form_urlencoded::parse(body)
        .into_owned()
        .chain(url::form_urlencoded::parse(req.query_string().as_bytes()).into_owned())
        .collect();
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    match (get("Action"), get("Version")) {
        (Some(ACTION), Some(VERSION)) => Ok(()),
        (Some(ACTION), v) => Err(VerifyError::InvalidAction(format!(
            "Could not find operation {ACTION} for version {}",
            v.unwrap_or("NO_VERSION_SPECIFIED")
        ))),
        (Some(other), _) => Err(VerifyError::InvalidAction(format!(
            "Could not find operation {other}: only {ACTION} is available"
        ))),
        (None, _) => Err(VerifyError::InvalidAction(format!(
            "Action is required; only {ACTION} is available"
        ))),
    }
}

/// `POST /` with `Action=GetCallerIdentity&Version=2011-06-15` (or `GET /` with them and a
/// presigned signature in the query string).
async fn get_caller_identity(
    broker: web::Data<Broker>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let request_id = uuid::Uuid::new_v4().to_string();
    let outcome = async {
        let request = to_http1(&req, body.to_vec())?;
        let identity = broker.verify_request(request).await?;
        check_action(&req, &body)?;
        Ok::<_, VerifyError>(identity)
    }
    .await;
    match outcome {
        Ok(id) => {
            tracing::debug!(account = %id.account_id, role = %id.role_name, access_key_id = %id.access_key_id, "caller identified");
            let body = format!(
                "<GetCallerIdentityResponse xmlns=\"{XMLNS}\"><GetCallerIdentityResult>\
                 <Arn>{}</Arn><UserId>{}</UserId><Account>{}</Account></GetCallerIdentityResult>\
                 <ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>\
                 </GetCallerIdentityResponse>",
                xml_escape(&id.arn),
                xml_escape(&id.aws_user_id),
                id.account_id
            );
            HttpResponse::Ok()
                .content_type("text/xml")
                .insert_header(("x-amzn-RequestId", request_id))
                .body(body)
        }
        Err(e) => {
            tracing::info!(code = e.code(), "GetCallerIdentity refused");
            e.to_response(&request_id)
        }
    }
}

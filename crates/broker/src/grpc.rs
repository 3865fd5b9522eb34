//! The gRPC services of proto/: `portcullis.broker.v1.CredentialBroker` (the portal API's
//! operations, and `VerifyCredentials` for resource services) and
//! `portcullis.sessions.v1.SessionValidation` (portal-session validation and revocation). They
//! call the same [`Broker`] as the HTTP APIs, so the rules are the same; only the error shapes
//! differ (gRPC status codes; a verification refusal is an answer, not an error).
//! [`serve`] runs them on a listener of their own.

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use portcullis_auth::principal::live_user;
use portcullis_sessions::{SessionError, SessionToken};
use portcullis_store::StoreError;
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status};

use crate::error::{BrokerError, VerifyError};
use crate::wire::{parse_account, parse_account_role};
use crate::{Broker, Caller};

/// The generated messages, servers and clients.
#[allow(
    missing_docs,
    missing_debug_implementations,
    clippy::all,
    clippy::pedantic
)]
pub mod proto {
    pub mod broker {
        tonic::include_proto!("portcullis.broker.v1");
    }
    pub mod sessions {
        tonic::include_proto!("portcullis.sessions.v1");
    }
}

use proto::broker::credential_broker_server::{CredentialBroker, CredentialBrokerServer};
use proto::broker::{self as pb};
use proto::sessions::session_validation_server::{SessionValidation, SessionValidationServer};
use proto::sessions::{self as ps};

fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: i32::try_from(t.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

fn store_status(e: &StoreError) -> Status {
    tracing::error!(error = ?e, "gRPC request failed in the directory");
    match e {
        StoreError::Unavailable(_) => Status::unavailable("the directory is unavailable"),
        _ => Status::internal("internal error"),
    }
}

fn session_status(e: &SessionError) -> Status {
    tracing::error!(error = ?e, "gRPC request failed in the session store");
    match e {
        SessionError::Unavailable(_) => Status::unavailable("the session store is unavailable"),
        SessionError::Corrupt(_) => Status::internal("internal error"),
    }
}

impl From<BrokerError> for Status {
    fn from(e: BrokerError) -> Self {
        match e {
            BrokerError::Unauthorized(m) => Status::unauthenticated(m),
            BrokerError::InvalidRequest(m) => Status::invalid_argument(m),
            BrokerError::NotFound(m) => Status::not_found(m),
            e @ BrokerError::TooManyRequests => Status::resource_exhausted(e.to_string()),
            BrokerError::Store(e) => store_status(&e),
            BrokerError::Sessions(e) => session_status(&e),
            BrokerError::Upstream(u) if u.refused => Status::failed_precondition(u.to_string()),
            BrokerError::Upstream(u) => Status::unavailable(u.to_string()),
        }
    }
}

/// The access token of a call: `authorization: Bearer …` or `x-amz-sso_bearer_token`.
fn bearer(metadata: &MetadataMap) -> Option<String> {
    let get = |k: &str| metadata.get(k).and_then(|v| v.to_str().ok());
    get("authorization")
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .or_else(|| get(crate::portal::BEARER_HEADER))
        .map(str::to_owned)
}

/// `CredentialBroker`.
#[derive(Debug, Clone)]
pub struct BrokerService {
    broker: Arc<Broker>,
}

impl BrokerService {
    async fn caller(&self, metadata: &MetadataMap) -> Result<Caller, Status> {
        Ok(self
            .broker
            .authenticate(bearer(metadata).as_deref())
            .await?)
    }
}

fn max_results(n: u32) -> Option<String> {
    (n != 0).then(|| n.to_string())
}

#[tonic::async_trait]
impl CredentialBroker for BrokerService {
    async fn list_accounts(
        &self,
        request: Request<pb::ListAccountsRequest>,
    ) -> Result<Response<pb::ListAccountsResponse>, Status> {
        let caller = self.caller(request.metadata()).await?;
        let r = request.into_inner();
        let page = self
            .broker
            .list_accounts(
                &caller,
                max_results(r.max_results).as_deref(),
                non_empty(&r.next_token),
            )
            .await?;
        Ok(Response::new(pb::ListAccountsResponse {
            accounts: page
                .items
                .into_iter()
                .map(|a| pb::Account {
                    account_id: a.account_id,
                    account_name: a.account_name,
                    email_address: a.email_address,
                })
                .collect(),
            next_token: page.next_token.unwrap_or_default(),
        }))
    }

    async fn list_account_roles(
        &self,
        request: Request<pb::ListAccountRolesRequest>,
    ) -> Result<Response<pb::ListAccountRolesResponse>, Status> {
        let caller = self.caller(request.metadata()).await?;
        let r = request.into_inner();
        let account = parse_account(non_empty(&r.account_id))?;
        let page = self
            .broker
            .list_account_roles(
                &caller,
                &account,
                max_results(r.max_results).as_deref(),
                non_empty(&r.next_token),
            )
            .await?;
        Ok(Response::new(pb::ListAccountRolesResponse {
            roles: page
                .items
                .into_iter()
                .map(|r| pb::Role {
                    role_name: r.role_name,
                    account_id: r.account_id,
                })
                .collect(),
            next_token: page.next_token.unwrap_or_default(),
        }))
    }

    async fn get_role_credentials(
        &self,
        request: Request<pb::GetRoleCredentialsRequest>,
    ) -> Result<Response<pb::GetRoleCredentialsResponse>, Status> {
        let caller = self.caller(request.metadata()).await?;
        let r = request.into_inner();
        let (account, role) =
            parse_account_role(non_empty(&r.account_id), non_empty(&r.role_name))?;
        let c = self
            .broker
            .get_role_credentials(&caller, &account, &role)
            .await?;
        let expiration = DateTime::from_timestamp_millis(c.expiration_ms).map(timestamp);
        Ok(Response::new(pb::GetRoleCredentialsResponse {
            credentials: Some(pb::RoleCredentials {
                access_key_id: c.access_key_id,
                secret_access_key: c.secret_access_key,
                session_token: c.session_token,
                expiration,
            }),
        }))
    }

    async fn verify_credentials(
        &self,
        request: Request<pb::VerifyCredentialsRequest>,
    ) -> Result<Response<pb::VerifyCredentialsResponse>, Status> {
        let r = request.into_inner();
        let service = non_empty(&r.service).unwrap_or(crate::sigv4::SERVICE);
        let outcome = match signed_request(&r) {
            Ok(req) => self.broker.verify_signed(req, service).await,
            Err(e) => Err(e),
        };
        let result = match outcome {
            Ok(id) => pb::verify_credentials_response::Result::Identity(pb::CallerIdentity {
                account_id: id.account_id.to_string(),
                role_name: id.role_name.to_string(),
                user_id: id.user_id.to_string(),
                user_name: id.user_name.to_string(),
                access_key_id: id.access_key_id,
                arn: id.arn,
                expiration: Some(timestamp(id.expires_at)),
            }),
            Err(VerifyError::Store(e)) => return Err(store_status(&e)),
            Err(e) => pb::verify_credentials_response::Result::Refusal(pb::Refusal {
                code: e.code().to_owned(),
                message: e.to_string(),
            }),
        };
        Ok(Response::new(pb::VerifyCredentialsResponse {
            result: Some(result),
        }))
    }
}

/// The request a resource service handed over, as an http request.
fn signed_request(r: &pb::VerifyCredentialsRequest) -> Result<http::Request<Vec<u8>>, VerifyError> {
    let malformed =
        |what: &str| VerifyError::IncompleteSignature(format!("the request's {what} is malformed"));
    let method = http::Method::from_bytes(r.method.as_bytes()).map_err(|_| malformed("method"))?;
    let path = if r.path.is_empty() {
        "/"
    } else {
        r.path.as_str()
    };
    let mut builder = http::Request::builder().method(method).uri(path);
    for h in &r.headers {
        let name =
            http::HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| malformed("header"))?;
        let value = http::HeaderValue::from_str(&h.value).map_err(|_| malformed("header"))?;
        builder = builder.header(name, value);
    }
    builder.body(r.body.clone()).map_err(|_| malformed("path"))
}

/// `SessionValidation`.
#[derive(Debug, Clone)]
pub struct SessionsService {
    broker: Arc<Broker>,
}

#[tonic::async_trait]
impl SessionValidation for SessionsService {
    async fn validate_session(
        &self,
        request: Request<ps::ValidateSessionRequest>,
    ) -> Result<Response<ps::ValidateSessionResponse>, Status> {
        let raw = request.into_inner().session_token;
        let invalid = || {
            Response::new(ps::ValidateSessionResponse {
                valid: false,
                session: None,
            })
        };
        if raw.is_empty() || raw.len() > 1024 {
            return Ok(invalid());
        }
        let token = SessionToken::from_presented(raw);
        let Some(session) = self
            .broker
            .sessions
            .get_session(&token)
            .await
            .map_err(|e| session_status(&e))?
        else {
            return Ok(invalid());
        };
        let Some(user) = live_user(self.broker.directory.as_ref(), session.user_id)
            .await
            .map_err(|e| store_status(&e))?
        else {
            return Ok(invalid());
        };
        Ok(Response::new(ps::ValidateSessionResponse {
            valid: true,
            session: Some(ps::Session {
                session_id: session.id.to_string(),
                user_id: user.id.to_string(),
                user_name: user.user_name.to_string(),
                created_at: Some(timestamp(session.created_at)),
                expires_at: Some(timestamp(session.expires_at)),
                amr: session.amr,
            }),
        }))
    }

    async fn revoke_session(
        &self,
        request: Request<ps::RevokeSessionRequest>,
    ) -> Result<Response<ps::RevokeSessionResponse>, Status> {
        let raw = request.into_inner().session_token;
        if raw.is_empty() || raw.len() > 1024 {
            return Ok(Response::new(ps::RevokeSessionResponse { revoked: false }));
        }
        let token = SessionToken::from_presented(raw);
        let sessions = &self.broker.sessions;
        let live = sessions
            .get_session(&token)
            .await
            .map_err(|e| session_status(&e))?
            .is_some();
        sessions
            .revoke_token(&token)
            .await
            .map_err(|e| session_status(&e))?;
        Ok(Response::new(ps::RevokeSessionResponse { revoked: live }))
    }
}

/// Serves both services on `listener` (bound by the caller: port 0 in tests) until `shutdown`
/// completes.
pub async fn serve(
    broker: Arc<Broker>,
    listener: std::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    tonic::transport::Server::builder()
        .add_service(CredentialBrokerServer::new(BrokerService {
            broker: broker.clone(),
        }))
        .add_service(SessionValidationServer::new(SessionsService { broker }))
        .serve_with_incoming_shutdown(
            tonic::transport::server::TcpIncoming::from(listener),
            shutdown,
        )
        .await?;
    Ok(())
}

//! The credential broker: turns a person's portal session (through an SSO-OIDC access token) into
//! short-lived credentials scoped to one account and one role, and tells resource services who
//! signed a request with them.
//!
//! - [`Broker`] is the service: entitlements, minting, verification. It takes the stores as trait
//!   objects and a key derived from the master key by the server; it knows no HTTP.
//! - [`routes`] mounts the AWS-compatible surfaces at the root paths: the portal API of the `sso`
//!   service (`/assignment/accounts`, `/assignment/roles`, `/federation/credentials`, `/logout`;
//!   `portal.rs`) and STS `GetCallerIdentity` (`POST /`, and `GET /` with a presigned query
//!   string through [`presigned_routes`]; `sts.rs`, `sigv4.rs`, `presigned.rs`).
//!
//! Credentials are self-contained (`credentials.rs`): the session token is sealed (AES-256-GCM)
//! and names account, role, person and expiry; the secret is derived from the access key id and
//! expiry under a key, so verification needs nothing stored. Entitlements are read from the
//! directory on every request, so an administrator's change takes effect at once on every node.
//! Operator notes and wire facts: docs/broker.md.

mod audit;
#[cfg(test)]
mod audit_tests;
mod aws_xml;
mod cloud;
mod credentials;
mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod grpc;
#[cfg(test)]
mod grpc_tests;
mod paging;
mod portal;
mod presigned;
pub mod provisioning;
mod service;
mod sigv4;
#[cfg(test)]
mod sigv4_tests;
mod sts;
#[cfg(test)]
mod tests;
mod wire;

use std::sync::Arc;
use std::time::Duration;

use portcullis_sessions::{Clock, Sessions};
use portcullis_store::Directory;

pub use cloud::Upstream;
pub use credentials::{RoleCredentials, SessionClaims};
pub use error::{BrokerError, VerifyError};
pub use service::{AccountSummary, Caller, Channel, Listing, RoleSummary};
pub use sts::CallerIdentity;

/// Settings of the broker (the server's defaults suit most deployments).
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// Portal API requests one access token may make per [`BrokerConfig::throttle_window`]
    /// before `TooManyRequestsException`.
    pub requests_per_window: u64,
    pub throttle_window: Duration,
    /// How far a signed request's time may be from ours (AWS allows 5 minutes).
    pub allowed_skew: Duration,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        Self {
            requests_per_window: 600,
            throttle_window: Duration::from_secs(60),
            allowed_skew: Duration::from_secs(5 * 60),
        }
    }
}

/// At most this many issuance audit records share one commit.
const AUDIT_BATCH: usize = 256;

/// The credential broker.
pub struct Broker {
    pub(crate) directory: Arc<dyn Directory>,
    pub(crate) sessions: Arc<dyn Sessions>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) keys: Arc<credentials::Keys>,
    pub(crate) config: BrokerConfig,
    pub(crate) issued: opentelemetry::metrics::Counter<u64>,
    /// Writes issuance audit records, many per commit.
    pub(crate) audit: audit::AuditQueue,
    /// How accounts that are real clouds are reached; `None`: they get no credentials.
    pub(crate) cloud: Option<cloud::Cloud>,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker")
            .field("directory", &self.directory.backend())
            .field("sessions", &self.sessions.backend())
            .field("config", &self.config)
            .field("keys", &"<redacted>")
            .finish()
    }
}

impl Broker {
    /// A broker over these stores. `key` is derived from the master key by the server
    /// (`"portcullis broker credentials v1"`); every node must be given the same one, since it
    /// seals session tokens and derives secrets. Starts the audit writer on the current tokio
    /// runtime, so it must be called inside one; the writer ends when the broker is dropped.
    pub fn new(
        directory: Arc<dyn Directory>,
        sessions: Arc<dyn Sessions>,
        clock: Arc<dyn Clock>,
        key: [u8; 32],
    ) -> Self {
        Self {
            audit: audit::AuditQueue::spawn(directory.clone(), AUDIT_BATCH),
            directory,
            sessions,
            clock,
            keys: Arc::new(credentials::Keys::new(&key)),
            config: BrokerConfig::default(),
            issued: credentials_counter(&opentelemetry::metrics::MeterProvider::meter(
                &opentelemetry::metrics::NoopMeterProvider::new(),
                "portcullis",
            )),
            cloud: None,
        }
    }

    /// Reaches accounts that are real clouds through their STS, with SAML assertions from
    /// `assertions` (the SAML IdP) and ID tokens from `tokens` (the OpenID provider). Without it,
    /// such accounts get no credentials.
    pub fn with_cloud(
        mut self,
        assertions: Arc<dyn portcullis_auth::federation::CloudAssertions>,
        tokens: Arc<dyn portcullis_auth::federation::WebIdentityTokens>,
    ) -> Result<Self, reqwest::Error> {
        self.cloud = Some(cloud::Cloud::new(assertions, tokens)?);
        Ok(self)
    }

    pub fn with_config(mut self, config: BrokerConfig) -> Self {
        self.config = config;
        self
    }

    /// Counts issued credentials with this meter's `portcullis.credentials.issued`.
    pub fn with_metrics(mut self, meter: &opentelemetry::metrics::Meter) -> Self {
        self.issued = credentials_counter(meter);
        self
    }
}

fn credentials_counter(
    meter: &opentelemetry::metrics::Meter,
) -> opentelemetry::metrics::Counter<u64> {
    meter
        .u64_counter("portcullis.credentials.issued")
        .with_description("Account-role credentials issued, by where they were asked for")
        .with_unit("{credential}")
        .build()
}

/// Mounts the portal API and STS `GetCallerIdentity`; needs `web::Data<Broker>` in the app.
/// `POST /` is STS; nothing else in Portcullis answers `POST /`.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    portal::routes(cfg);
    sts::routes(cfg);
}

/// STS `GetCallerIdentity` through a presigned URL (`GET /?Action=…&X-Amz-Algorithm=…`). Only
/// such requests are taken, so mount this before anything else that answers `GET /`.
pub fn presigned_routes(cfg: &mut actix_web::web::ServiceConfig) {
    sts::presigned_routes(cfg);
}

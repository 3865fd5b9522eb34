//! Wiring of the credential broker: the same directory, session store and clock as the identity
//! provider, and a key of its own derived from the master key (so every node seals session
//! tokens and derives secrets alike, and credentials survive restarts).

use std::sync::Arc;

use actix_web::web;
use portcullis_auth::federation::{CloudAssertions, WebIdentityTokens};
use portcullis_broker::{Broker, BrokerConfig};
use portcullis_sessions::{Clock, Sessions};
use portcullis_store::Directory;

/// The label the broker's key is derived under (`derive_key(master, BROKER_KEY_LABEL)`).
/// Changing it invalidates every credential already issued.
pub const BROKER_KEY_LABEL: &str = "portcullis broker credentials v1";

/// Builds the broker, ready to be registered as `web::Data` beside its routes; accounts that are
/// real clouds are reached with assertions from `assertions` (the SAML IdP) and web-identity
/// tokens from `tokens` (the OpenID provider).
pub fn build(
    directory: Arc<dyn Directory>,
    sessions: Arc<dyn Sessions>,
    clock: Arc<dyn Clock>,
    key: [u8; 32],
    (assertions, tokens): (Arc<dyn CloudAssertions>, Arc<dyn WebIdentityTokens>),
    meter: &opentelemetry::metrics::Meter,
) -> anyhow::Result<web::Data<Broker>> {
    Ok(web::Data::new(
        Broker::new(directory, sessions, clock, key)
            .with_config(BrokerConfig::default())
            .with_metrics(meter)
            .with_cloud(assertions, tokens)?,
    ))
}

/// Serves the broker's gRPC services (proto/portcullis/{broker,sessions}/v1) on `listener` until
/// `stop` turns true — the same signal that ends the HTTP server.
pub fn spawn_grpc(
    broker: &web::Data<Broker>,
    listener: std::net::TcpListener,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let broker = broker.clone().into_inner();
    tokio::spawn(async move {
        let stopped = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        if let Err(e) = portcullis_broker::grpc::serve(broker, listener, stopped).await {
            tracing::error!(error = %e, "the gRPC server stopped");
        }
    })
}

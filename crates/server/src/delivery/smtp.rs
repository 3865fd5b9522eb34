//! Delivery by SMTP (lettre), with implicit TLS, required STARTTLS, or — for local relays and
//! tests only — no encryption.

use std::time::Duration;

use anyhow::Context as _;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::{DeliveryError, MessageSender, OutgoingMessage, build_email};
use crate::config::{SmtpConfig, SmtpSecurity};

/// Sends each message through an SMTP server, one connection per message.
///
/// TLS uses rustls with an explicitly chosen crypto provider (aws-lc-rs), so it works whether
/// or not a process-wide default provider is installed.
pub struct SmtpSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    host: String,
    port: u16,
    security: SmtpSecurity,
}

impl std::fmt::Debug for SmtpSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The transport holds the credentials: never show it.
        f.debug_struct("SmtpSender")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl SmtpSender {
    /// Prepares the transport (TLS settings included); nothing is connected until a send.
    pub fn new(config: &SmtpConfig) -> anyhow::Result<Self> {
        let from: Mailbox = config
            .from
            .parse()
            .with_context(|| format!("delivery.smtp.from '{}' is not an address", config.from))?;
        let host = config.host.trim().to_owned();
        let port = config.effective_port();
        let builder = match config.security {
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&host),
            SmtpSecurity::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&host),
            SmtpSecurity::Plain => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
                &host,
            )),
        }
        .with_context(|| format!("cannot prepare TLS for delivery.smtp.host '{host}'"))?;
        let mut builder = builder
            .port(port)
            .timeout(Some(Duration::from_secs(config.timeout_seconds.max(1))));
        if let (Some(user), Some(password)) = (&config.username, &config.password) {
            builder =
                builder.credentials(Credentials::new(user.clone(), password.expose().to_owned()));
        }
        Ok(Self {
            transport: builder.build(),
            from,
            host,
            port,
            security: config.security,
        })
    }
}

/// Permanent SMTP failures (5xx) are the receiver's refusal; anything else may pass later.
fn map_error(e: lettre::transport::smtp::Error) -> DeliveryError {
    if e.is_permanent() {
        DeliveryError::Rejected(e.to_string())
    } else {
        DeliveryError::Unavailable(Box::new(e))
    }
}

#[async_trait::async_trait]
impl MessageSender for SmtpSender {
    async fn send(&self, message: OutgoingMessage) -> Result<(), DeliveryError> {
        let email = build_email(&self.from, &message)?;
        self.transport.send(email).await.map_err(map_error)?;
        tracing::debug!(to = %message.to, purpose = %message.purpose, server = %self.host, "message sent by SMTP");
        Ok(())
    }

    fn describe(&self) -> String {
        format!("smtp {}:{}", self.host, self.port)
    }
}

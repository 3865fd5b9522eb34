//! Delivery by a signed webhook, for SMS or chat gateways.
//!
//! # The request
//!
//! `POST {url}` with `Content-Type: application/json` and the body
//!
//! ```json
//! {"to": "ada@example.com", "toName": "Ada Lovelace", "subject": "Your sign-in code",
//!  "text": "…", "purpose": "SIGN_IN_CODE", "sentAt": "2025-01-31T12:00:00Z"}
//! ```
//!
//! `toName` is `null` when unknown; `purpose` is `SIGN_IN_CODE`, `ONE_TIME_PASSWORD` or
//! `VERIFICATION_CODE`.
//!
//! # Verifying the signature
//!
//! Each request carries two headers:
//!
//! * `X-Portcullis-Timestamp: <unix seconds>` — when the request was signed;
//! * `X-Portcullis-Signature: sha256=<hex>` — the lower-case hex HMAC-SHA256, keyed with the
//!   configured `delivery.webhook.secret` (its UTF-8 bytes), of the string
//!   `"<timestamp>.<body>"`: the timestamp header's value, a full stop, and the raw request body
//!   exactly as received (before any JSON parsing).
//!
//! A receiver recomputes the HMAC, compares it with the header in constant time, and rejects
//! requests whose timestamp is more than a few minutes from its own clock (replays). For
//! example, in Python:
//!
//! ```text
//! expected = hmac.new(secret, f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
//! ok = hmac.compare_digest("sha256=" + expected, signature) and abs(time.time() - int(ts)) < 300
//! ```
//!
//! # The answer
//!
//! Any 2xx means delivered. 408 and 429 are taken as "try later" (unavailable); any other 4xx
//! means the gateway refused the message (rejected); a 5xx, a redirect, a timeout (10 s) or a
//! connection failure means unavailable. Redirects are not followed.

use std::time::Duration;

use anyhow::Context as _;
use portcullis_auth::derive::hmac_sha256;
use reqwest::StatusCode;
use serde::Serialize;

use super::{DeliveryError, MessageSender, OutgoingMessage};
use crate::config::{Secret, WebhookConfig};

/// How long one webhook call may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// The header holding the signing time, in Unix seconds.
pub const TIMESTAMP_HEADER: &str = "X-Portcullis-Timestamp";
/// The header holding `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
pub const SIGNATURE_HEADER: &str = "X-Portcullis-Signature";

/// POSTs each message as signed JSON to a gateway.
#[derive(Debug)]
pub struct WebhookSender {
    client: reqwest::Client,
    url: url::Url,
    secret: Secret,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Payload<'a> {
    to: &'a str,
    to_name: Option<&'a str>,
    subject: &'a str,
    text: &'a str,
    purpose: &'static str,
    sent_at: String,
}

impl WebhookSender {
    /// Checks the URL (https, or http for localhost / 127.0.0.1) and prepares the client.
    pub fn new(config: &WebhookConfig) -> anyhow::Result<Self> {
        let url = url::Url::parse(&config.url)
            .with_context(|| format!("delivery.webhook.url '{}' is not a URL", config.url))?;
        let loopback = is_loopback(&url);
        match url.scheme() {
            "https" if url.host_str().is_some() => {}
            "http" if loopback => {}
            _ => anyhow::bail!(
                "delivery.webhook.url must be an https:// URL (http:// only for localhost and 127.0.0.1)"
            ),
        }
        let secret = config
            .secret
            .clone()
            .context("delivery.webhook.secret (or secret_file) is required")?;
        let mut builder = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Portcullis/", env!("CARGO_PKG_VERSION")));
        if loopback {
            // A proxy from the environment must never see (or break) a local gateway.
            builder = builder.no_proxy();
        }
        let client = builder
            .build()
            .context("cannot prepare the webhook HTTP client")?;
        Ok(Self {
            client,
            url,
            secret,
        })
    }
}

fn is_loopback(url: &url::Url) -> bool {
    matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"))
}

/// `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mac = hmac_sha256(secret, &[timestamp.to_string().as_bytes(), b".", body]);
    format!("sha256={}", hex::encode(mac))
}

fn classify(status: StatusCode) -> Result<(), DeliveryError> {
    if status.is_success() {
        Ok(())
    } else if status.is_client_error()
        && status != StatusCode::REQUEST_TIMEOUT
        && status != StatusCode::TOO_MANY_REQUESTS
    {
        Err(DeliveryError::Rejected(format!(
            "the webhook answered {status}"
        )))
    } else {
        Err(DeliveryError::Unavailable(
            format!("the webhook answered {status}").into(),
        ))
    }
}

#[async_trait::async_trait]
impl MessageSender for WebhookSender {
    async fn send(&self, message: OutgoingMessage) -> Result<(), DeliveryError> {
        let now = chrono::Utc::now();
        let payload = Payload {
            to: message.to.as_str(),
            to_name: message.to_name.as_deref(),
            subject: &message.subject,
            text: &message.text,
            purpose: message.purpose.as_str(),
            sent_at: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        };
        let body =
            serde_json::to_vec(&payload).map_err(|e| DeliveryError::Unavailable(Box::new(e)))?;
        let timestamp = now.timestamp();
        let response = self
            .client
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(
                SIGNATURE_HEADER,
                signature(self.secret.expose().as_bytes(), timestamp, &body),
            )
            .body(body)
            .send()
            .await
            // The URL may carry a token in its query: keep it out of errors and logs.
            .map_err(|e| DeliveryError::Unavailable(Box::new(e.without_url())))?;
        classify(response.status())?;
        tracing::debug!(to = %message.to, purpose = %message.purpose, "message sent to the webhook");
        Ok(())
    }

    fn describe(&self) -> String {
        // Without query or credentials, which may be secret.
        let mut shown = self.url.clone();
        shown.set_query(None);
        let _ = shown.set_password(None);
        let _ = shown.set_username("");
        format!("webhook {shown}")
    }
}

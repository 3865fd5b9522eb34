//! The `[delivery]` section: how codes and one-time passwords reach people.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{Config, ConfigError, Secret};

/// How sign-in codes and one-time passwords reach people: SMTP, a webhook, or (neither set)
/// `.eml` files in `data_dir/outbox`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryConfig {
    pub smtp: Option<SmtpConfig>,
    pub webhook: Option<WebhookConfig>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// The mail server's host name (also the name its TLS certificate must carry).
    pub host: String,
    /// Unset: 465 with `tls`, 587 with `starttls`, 25 with `none`.
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub security: SmtpSecurity,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<Secret>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// The sender: `id@example.com` or `Portcullis <id@example.com>`.
    pub from: String,
    #[serde(default = "default_smtp_timeout")]
    pub timeout_seconds: u64,
}

fn default_smtp_timeout() -> u64 {
    30
}

impl SmtpConfig {
    /// The configured port, or the usual one for the security mode.
    pub fn effective_port(&self) -> u16 {
        self.port.unwrap_or(match self.security {
            SmtpSecurity::Tls => 465,
            SmtpSecurity::Starttls => 587,
            SmtpSecurity::Plain => 25,
        })
    }
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SmtpSecurity {
    /// Implicit TLS from the first byte (usually port 465).
    #[serde(rename = "tls")]
    Tls,
    /// Plain connection upgraded with STARTTLS, which the server must offer (usually port 587).
    #[default]
    #[serde(rename = "starttls")]
    Starttls,
    /// No encryption at all: only for a local relay or tests.
    #[serde(rename = "none")]
    Plain,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Where messages are POSTed: `https://…` (`http://` only for localhost / 127.0.0.1).
    pub url: String,
    /// Key of the HMAC-SHA256 signature sent in `X-Portcullis-Signature`.
    #[serde(default)]
    pub secret: Option<Secret>,
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
}

/// Where the configuration sends codes.
#[derive(Debug, Clone)]
pub enum DeliveryTarget {
    /// `.eml` files in this directory.
    Outbox(PathBuf),
    Smtp(SmtpConfig),
    Webhook(WebhookConfig),
}

impl Config {
    /// Where codes go; checks the `delivery` section. Secrets must already be resolved (as
    /// [`Config::load`] does).
    pub fn delivery_target(&self) -> Result<DeliveryTarget, ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(m));
        match (&self.delivery.smtp, &self.delivery.webhook) {
            (None, None) => Ok(DeliveryTarget::Outbox(self.data_dir.join("outbox"))),
            (Some(_), Some(_)) => invalid(
                "delivery.smtp and delivery.webhook are both set: choose one way to deliver codes"
                    .into(),
            ),
            (Some(smtp), None) => {
                if smtp.host.trim().is_empty() || smtp.host.contains(['/', ' ', ':']) {
                    return invalid(format!(
                        "delivery.smtp.host '{}' must be a host name such as mail.example.com",
                        smtp.host
                    ));
                }
                if smtp.port == Some(0) {
                    return invalid("delivery.smtp.port must be between 1 and 65535".into());
                }
                if let Err(e) = smtp.from.parse::<lettre::message::Mailbox>() {
                    return invalid(format!(
                        "delivery.smtp.from '{}' is not an address such as \
                         'Portcullis <id@example.com>': {e}",
                        smtp.from
                    ));
                }
                if smtp.timeout_seconds == 0 || smtp.timeout_seconds > 600 {
                    return invalid(
                        "delivery.smtp.timeout_seconds must be between 1 and 600".into(),
                    );
                }
                match (&smtp.username, &smtp.password) {
                    (Some(_), None) => {
                        return invalid(
                            "delivery.smtp.username is set without delivery.smtp.password \
                             (or password_file)"
                                .into(),
                        );
                    }
                    (None, Some(_)) => {
                        return invalid(
                            "delivery.smtp.password is set without delivery.smtp.username".into(),
                        );
                    }
                    _ => {}
                }
                Ok(DeliveryTarget::Smtp(smtp.clone()))
            }
            (None, Some(webhook)) => {
                let Ok(url) = url::Url::parse(&webhook.url) else {
                    return invalid(format!(
                        "delivery.webhook.url '{}' is not a URL",
                        webhook.url
                    ));
                };
                let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
                match url.scheme() {
                    "https" if url.host_str().is_some() => {}
                    "http" if loopback => {}
                    _ => {
                        return invalid(
                            "delivery.webhook.url must be an https:// URL \
                             (http:// is allowed only for localhost and 127.0.0.1)"
                                .into(),
                        );
                    }
                }
                match &webhook.secret {
                    None => invalid(
                        "delivery.webhook.secret (or secret_file) is required: it signs each request"
                            .into(),
                    ),
                    Some(s) if s.expose().len() < 16 => invalid(
                        "delivery.webhook.secret must be at least 16 characters".into(),
                    ),
                    Some(_) => Ok(DeliveryTarget::Webhook(webhook.clone())),
                }
            }
        }
    }
}

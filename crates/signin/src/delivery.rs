//! Delivering sign-in codes and one-time passwords to people.
//!
//! The identity provider only knows this interface; the server crate supplies the concrete
//! senders (SMTP, a signed webhook for SMS or chat gateways, or an outbox directory of `.eml`
//! files for development and air-gapped set-ups).

use std::fmt;

use portcullis_domain::Email;

/// Why a message goes out (lets senders and templates differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessagePurpose {
    /// A code that completes a sign-in by email.
    SignInCode,
    /// A one-time password sent as a second factor.
    OneTimePassword,
    /// A code that proves the person controls an address.
    VerificationCode,
}

impl MessagePurpose {
    /// The wire name: `SIGN_IN_CODE`, `ONE_TIME_PASSWORD` or `VERIFICATION_CODE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignInCode => "SIGN_IN_CODE",
            Self::OneTimePassword => "ONE_TIME_PASSWORD",
            Self::VerificationCode => "VERIFICATION_CODE",
        }
    }
}

impl fmt::Display for MessagePurpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One message to one person. `text` holds the code: it is never shown by `Debug`.
#[derive(Clone)]
pub struct OutgoingMessage {
    pub to: Email,
    pub to_name: Option<String>,
    pub subject: String,
    /// The plain-text body; it contains the code.
    pub text: String,
    pub purpose: MessagePurpose,
}

impl fmt::Debug for OutgoingMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutgoingMessage")
            .field("to", &self.to)
            .field("to_name", &self.to_name)
            .field("subject", &self.subject)
            .field("text", &"<redacted>")
            .field("purpose", &self.purpose)
            .finish()
    }
}

/// Why a message could not be delivered.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The receiver refused the message for good (bad address, unknown mailbox, 4xx from a
    /// webhook): retrying the same message will not help.
    #[error("message rejected: {0}")]
    Rejected(String),
    /// The delivery service could not be reached or failed for now: try again later.
    #[error("delivery service unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Sends messages to people. Implementations never log the message text.
#[async_trait::async_trait]
pub trait MessageSender: Send + Sync + fmt::Debug {
    /// Delivers one message (or hands it to a service that will).
    async fn send(&self, message: OutgoingMessage) -> Result<(), DeliveryError>;

    /// For logs and readiness: "smtp mail.example.com:587", "webhook https://…", "outbox /data/outbox".
    fn describe(&self) -> String;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_the_text() {
        let message = OutgoingMessage {
            to: Email::parse("ada@example.com").unwrap_or_else(|e| panic!("{e}")),
            to_name: Some("Ada".into()),
            subject: "Your sign-in code".into(),
            text: "Your code is 482913".into(),
            purpose: MessagePurpose::SignInCode,
        };
        let shown = format!("{message:?}");
        assert!(!shown.contains("482913"), "{shown}");
        assert!(shown.contains("ada@example.com"));
        assert_eq!(
            MessagePurpose::OneTimePassword.as_str(),
            "ONE_TIME_PASSWORD"
        );
    }
}

//! The concrete ways Portcullis delivers sign-in codes and one-time passwords: SMTP, a signed
//! webhook (for SMS or chat gateways), or an outbox directory of `.eml` files. The
//! configuration's `delivery` section chooses one; [`build_sender`] makes it.

pub mod outbox;
pub mod smtp;
pub mod webhook;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use anyhow::Context as _;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
pub use portcullis_signin::delivery::{
    DeliveryError, MessagePurpose, MessageSender, OutgoingMessage,
};

pub use outbox::OutboxSender;
pub use smtp::SmtpSender;
pub use webhook::WebhookSender;

use crate::config::{Config, DeliveryTarget};

/// Makes the sender the configuration selects: SMTP, the webhook, or (neither configured) the
/// outbox in `data_dir/outbox`, which it creates.
pub fn build_sender(config: &Config) -> anyhow::Result<Arc<dyn MessageSender>> {
    let sender: Arc<dyn MessageSender> = match config.delivery_target()? {
        DeliveryTarget::Smtp(smtp) => Arc::new(SmtpSender::new(&smtp)?),
        DeliveryTarget::Webhook(webhook) => Arc::new(WebhookSender::new(&webhook)?),
        DeliveryTarget::Outbox(dir) => {
            let from = outbox_from(config.public_base())?;
            Arc::new(
                OutboxSender::new(&dir, from)
                    .with_context(|| format!("cannot create the outbox {}", dir.display()))?,
            )
        }
    };
    Ok(sender)
}

/// The sender of outbox messages: `Portcullis <no-reply@HOST>` for the public URL's host name.
fn outbox_from(public_base: &str) -> anyhow::Result<Mailbox> {
    let host = url::Url::parse(public_base)
        .ok()
        .and_then(|u| u.domain().map(str::to_owned))
        .unwrap_or_else(|| "localhost".into());
    format!("Portcullis <no-reply@{host}>")
        .parse()
        .or_else(|_| "Portcullis <no-reply@localhost>".parse())
        .context("cannot make the outbox sender address")
}

/// Builds the RFC 5322 message: text/plain UTF-8, a Date and a Message-ID in the sender's domain.
pub(crate) fn build_email(
    from: &Mailbox,
    message: &OutgoingMessage,
) -> Result<Message, DeliveryError> {
    let address: lettre::Address = message.to.as_str().parse().map_err(|_| {
        DeliveryError::Rejected(format!("'{}' is not a deliverable address", message.to))
    })?;
    let to = Mailbox::new(message.to_name.clone(), address);
    let message_id = format!("<{}@{}>", uuid::Uuid::new_v4(), from.email.domain());
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(message.subject.clone())
        .message_id(Some(message_id))
        .date_now()
        .header(ContentType::TEXT_PLAIN)
        .body(message.text.clone())
        .map_err(|e| DeliveryError::Rejected(format!("cannot build the message: {e}")))
}

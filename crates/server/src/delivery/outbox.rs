//! Delivery into a directory: each message becomes an RFC 5322 `.eml` file that any mail
//! client can open. For development, demos and set-ups without a mail server.

use std::io;
use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use lettre::message::Mailbox;
use tokio::io::AsyncWriteExt as _;

use super::{DeliveryError, MessageSender, OutgoingMessage, build_email};

/// Writes each message as `<UTC timestamp>-<uuid>.eml` (mode 0600) into its directory (0700).
#[derive(Debug)]
pub struct OutboxSender {
    dir: PathBuf,
    from: Mailbox,
}

impl OutboxSender {
    /// Creates the directory (and its parents) with mode 0700 when missing, and tightens an
    /// existing one to 0700.
    pub fn new(dir: &Path, from: Mailbox) -> io::Result<Self> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            from,
        })
    }

    /// The directory messages are written to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    async fn write(&self, name: &str, content: &[u8]) -> io::Result<PathBuf> {
        // Written under a hidden name, then renamed: a reader never sees half a message.
        let partial = self.dir.join(format!(".{name}.partial"));
        let path = self.dir.join(name);
        let result = async {
            let mut file = tokio::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&partial)
                .await?;
            file.write_all(content).await?;
            file.sync_all().await?;
            drop(file);
            tokio::fs::rename(&partial, &path).await
        }
        .await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&partial).await;
        }
        result.map(|()| path)
    }
}

#[async_trait::async_trait]
impl MessageSender for OutboxSender {
    async fn send(&self, message: OutgoingMessage) -> Result<(), DeliveryError> {
        let email = build_email(&self.from, &message)?;
        let name = format!(
            "{}-{}.eml",
            chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ"),
            uuid::Uuid::new_v4()
        );
        let path = self
            .write(&name, &email.formatted())
            .await
            .map_err(|e| DeliveryError::Unavailable(Box::new(e)))?;
        tracing::info!(path = %path.display(), to = %message.to, "message written to the outbox");
        Ok(())
    }

    fn describe(&self) -> String {
        format!("outbox {}", self.dir.display())
    }
}

//! First-start duties: the master key (embedded mode) and the bootstrap administrator token.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use portcullis_domain::{Actor, DisplayName, NewAdminToken};
use portcullis_store::Directory;
use rand::RngCore;

use crate::config::{Config, DatabaseTarget};
use portcullis_admin::auth::{generate_token, hash_token};

/// File (in the data directory) that receives a generated bootstrap token.
pub const BOOTSTRAP_TOKEN_FILE: &str = "bootstrap-admin-token";
/// File (in the data directory) that receives a generated master key in embedded mode.
pub const MASTER_KEY_FILE: &str = "master-key";

/// The 32-byte key that encrypts private keys and MFA secrets at rest.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl MasterKey {
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    fn decode(text: &str) -> anyhow::Result<Self> {
        let bytes = STANDARD
            .decode(text.trim())
            .context("the master key must be base64 (e.g. `openssl rand -base64 32`)")?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| anyhow::anyhow!("the master key must decode to exactly 32 bytes"))?;
        Ok(Self(key))
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

/// Writes `contents` to a new file readable only by its owner (0600), replacing any old one.
pub fn write_private_file(path: &Path, contents: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(&tmp)?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// The configured master key; in embedded mode one is generated into the data directory on
/// first start. With PostgreSQL every node must share it, so it must be configured.
pub fn master_key(config: &Config) -> anyhow::Result<MasterKey> {
    if let Some(k) = &config.master_key {
        return MasterKey::decode(k.expose()).context("PORTCULLIS__MASTER_KEY");
    }
    if let Ok(DatabaseTarget::Postgres(_)) = config.database_target() {
        bail!(
            "PORTCULLIS__MASTER_KEY or PORTCULLIS__MASTER_KEY_FILE is required with PostgreSQL \
             (every node must use the same key); generate one with `openssl rand -base64 32`"
        );
    }
    let path = config.data_dir.join(MASTER_KEY_FILE);
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        return MasterKey::decode(&text).with_context(|| path.display().to_string());
    }
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    write_private_file(&path, &STANDARD.encode(key))
        .with_context(|| format!("writing {}", path.display()))?;
    tracing::info!(path = %path.display(), "generated a master key; back it up with the data directory");
    Ok(MasterKey(key))
}

/// What start-up did about the bootstrap token (for the log and for tests).
#[derive(Debug, PartialEq, Eq)]
pub enum Bootstrap {
    /// The configured token exists (created now or earlier).
    Configured,
    /// The configured token was revoked through the admin API: it stays refused.
    ConfiguredRevoked,
    /// A token was generated and written to this file.
    Generated(PathBuf),
    /// Tokens exist already; nothing to do.
    NotNeeded,
}

/// Makes sure an administrator can get in: the configured bootstrap token exists (unless it was
/// revoked: that sticks), or — when the directory has no admin token at all — a new one is
/// generated into the data directory.
pub async fn bootstrap_admin(
    config: &Config,
    directory: &dyn Directory,
) -> anyhow::Result<Bootstrap> {
    let name = |s: &str| DisplayName::parse(s).map_err(|e| anyhow::anyhow!(e.message));
    if let Some(token) = &config.admin.bootstrap_token {
        let hash = hash_token(token.expose());
        // Revocation sticks: the configured token is not brought back at the next start.
        if directory.bootstrap_token_revoked(&hash).await? {
            tracing::warn!(
                "the configured bootstrap admin token (admin.bootstrap_token) was revoked and \
                 stays refused; remove it from the configuration, and set a new one only if no \
                 administrator token is left"
            );
            return Ok(Bootstrap::ConfiguredRevoked);
        }
        if directory
            .find_admin_token(&hash, chrono::Utc::now())
            .await?
            .is_none()
        {
            let created = directory
                .create_admin_token(
                    Actor::System,
                    NewAdminToken {
                        name: name("bootstrap (configured)")?,
                        hash,
                        expires_at: None,
                        bootstrap: true,
                    },
                )
                .await;
            match created {
                Ok(_) => {}
                // Several nodes starting together on one database race here: another one
                // created the same token between our look-up and our insert.
                Err(portcullis_store::StoreError::Conflict { .. })
                    if directory
                        .find_admin_token(&hash, chrono::Utc::now())
                        .await?
                        .is_some() => {}
                Err(e) => return Err(e.into()),
            }
        }
        return Ok(Bootstrap::Configured);
    }
    if !directory.list_admin_tokens().await?.is_empty() {
        return Ok(Bootstrap::NotNeeded);
    }
    let (token, hash) = generate_token();
    let path = config.data_dir.join(BOOTSTRAP_TOKEN_FILE);
    write_private_file(&path, &format!("{token}\n"))
        .with_context(|| format!("writing {}", path.display()))?;
    directory
        .create_admin_token(
            Actor::System,
            NewAdminToken {
                name: name("bootstrap")?,
                hash,
                expires_at: None,
                bootstrap: true,
            },
        )
        .await?;
    tracing::warn!(
        path = %path.display(),
        "no administrator token existed: generated a bootstrap admin token into this file (mode 0600); \
         use it with `portcullis admin` or as `Authorization: Bearer`, then create named tokens and revoke it"
    );
    Ok(Bootstrap::Generated(path))
}

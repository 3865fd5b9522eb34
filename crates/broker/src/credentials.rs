//! Role credentials as `GetRoleCredentials` returns them, and how the broker reads them back.
//!
//! - `accessKeyId`: `ASIA` + 16 random characters of the base-32 alphabet (upper case and 2–7),
//!   the shape of AWS temporary keys.
//! - `sessionToken`: `base64url(version ‖ nonce ‖ AES-256-GCM(claims JSON))` — the sealed form
//!   of [`SecretBox`] — with associated data [`TOKEN_AAD`]. It carries everything verification
//!   needs; it cannot be read or changed without the key.
//! - `secretAccessKey`: the first 40 characters of base64(HMAC-SHA256(secret key, `v1|akid|exp`)).
//!   Derived, never stored: whoever holds the key recomputes it from the token's claims.
//!
//! The two keys (sealing session and page tokens, deriving secrets) are derived from the broker
//! key by HMAC with distinct labels, so no key serves two purposes; the associated data keeps a
//! session token from opening as a page token.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use portcullis_auth::derive::{derive, hmac_sha256};
use portcullis_auth::seal::SecretBox;
use portcullis_domain::{AccountId, PermissionSetId, RoleName, UserId, UserName};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// The labels the two keys are derived by. Changing one invalidates every credential issued.
const SEAL_LABEL: &[u8] = b"session-token seal";
const SECRET_LABEL: &[u8] = b"secret access key";
/// Binds a sealed value to what it is: a session token never opens as a page token.
pub(crate) const TOKEN_AAD: &[u8] = b"portcullis broker session token v1";
pub(crate) const PAGE_AAD: &[u8] = b"portcullis broker next token v1";
/// The base-32 alphabet AWS key ids are drawn from.
const KEY_ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
/// Sealed values longer than this are refused before decoding (a session token is ~600 bytes).
const MAX_SEALED_LEN: usize = 4096;

/// The broker's keys. Never printed.
pub(crate) struct Keys {
    seal: SecretBox,
    secret: [u8; 32],
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(<redacted>)")
    }
}

/// Why a sealed value did not open. Deliberately uninformative.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rejected;

impl Keys {
    pub(crate) fn new(key: &[u8; 32]) -> Self {
        Self {
            seal: SecretBox::new(&derive(key, SEAL_LABEL)),
            secret: derive(key, SECRET_LABEL),
        }
    }

    /// Encrypts and authenticates `plaintext` for `aad`; base64url without padding.
    pub(crate) fn seal(&self, plaintext: &[u8], aad: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(self.seal.seal(plaintext, aad))
    }

    /// Opens what [`Keys::seal`] made with the same `aad`.
    pub(crate) fn open(&self, sealed: &str, aad: &[u8]) -> Result<Vec<u8>, Rejected> {
        if sealed.len() > MAX_SEALED_LEN {
            return Err(Rejected);
        }
        let raw = URL_SAFE_NO_PAD.decode(sealed).map_err(|_| Rejected)?;
        self.seal.open(&raw, aad).map_err(|_| Rejected)
    }

    /// The secret access key that goes with these claims.
    pub(crate) fn secret_for(&self, claims: &SessionClaims) -> String {
        let mac = hmac_sha256(
            &self.secret,
            &[
                b"v1|",
                claims.access_key_id.as_bytes(),
                b"|",
                claims.expires_at_ms.to_string().as_bytes(),
            ],
        );
        // 32 bytes are 43 base64 characters: 40 of them carry 240 bits.
        let mut s = STANDARD_NO_PAD.encode(mac);
        s.truncate(40);
        s
    }

    /// Mints the credentials for `claims`.
    pub(crate) fn mint(&self, claims: &SessionClaims) -> RoleCredentials {
        // Serialising plain strings and numbers cannot fail.
        let json = serde_json::to_vec(claims).unwrap_or_default();
        RoleCredentials {
            access_key_id: claims.access_key_id.clone(),
            secret_access_key: self.secret_for(claims),
            session_token: self.seal(&json, TOKEN_AAD),
            expiration_ms: claims.expires_at_ms,
        }
    }

    /// The claims inside a session token, if it is one of ours and untouched. Says nothing about
    /// expiry: the caller decides with its clock.
    pub(crate) fn open_token(&self, token: &str) -> Result<SessionClaims, Rejected> {
        let json = self.open(token, TOKEN_AAD)?;
        serde_json::from_slice(&json).map_err(|_| Rejected)
    }
}

/// A fresh access key id: `ASIA` and 16 characters of the base-32 alphabet.
pub(crate) fn new_access_key_id() -> String {
    let mut rng = rand::rng();
    let mut id = String::with_capacity(20);
    id.push_str("ASIA");
    for _ in 0..16 {
        id.push(char::from(
            KEY_ID_ALPHABET[rng.random_range(0..KEY_ID_ALPHABET.len())],
        ));
    }
    id
}

/// What a session token says: who may act as which role in which account, until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionClaims {
    pub account_id: AccountId,
    pub role_name: RoleName,
    pub permission_set_id: PermissionSetId,
    pub user_id: UserId,
    pub user_name: UserName,
    pub access_key_id: String,
    /// Epoch milliseconds.
    pub issued_at_ms: i64,
    /// Epoch milliseconds; the credentials are refused from this instant on.
    pub expires_at_ms: i64,
    /// The SSO-OIDC client the access token was issued to.
    pub client_id: String,
}

/// Credentials for one account and role. `Debug` shows neither the secret nor the token.
#[derive(Clone, PartialEq, Eq)]
pub struct RoleCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    /// Epoch milliseconds (the `expiration` of `GetRoleCredentials`).
    pub expiration_ms: i64,
}

impl std::fmt::Debug for RoleCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoleCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &"<redacted>")
            .field("expiration_ms", &self.expiration_ms)
            .finish()
    }
}

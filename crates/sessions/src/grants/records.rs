//! What the grant store keeps, as it is serialized. These shapes are the stored form of tokens
//! already issued: change them only in ways old records still decode into.

use chrono::{DateTime, Utc};
use portcullis_domain::UserId;
use serde::{Deserialize, Serialize};

use crate::SessionId;

/// A person's authorization of a client: what every code, refresh token and device approval
/// carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Grant {
    pub user_id: UserId,
    pub session_id: SessionId,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub auth_time: DateTime<Utc>,
    pub amr: Vec<String>,
    pub nonce: Option<String>,
}

impl Grant {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
    pub fn scope_string(&self) -> String {
        self.scopes.join(" ")
    }
}

/// An authorization code waiting to be redeemed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeRecord {
    pub grant: Grant,
    pub redirect_uri: String,
    /// Whether the authorization request named `redirect_uri` (it may be left out when exactly
    /// one is registered); if it did, the token request must repeat it (RFC 6749 §4.1.3).
    #[serde(default = "yes")]
    pub redirect_uri_presented: bool,
    pub code_challenge: Option<String>,
}

fn yes() -> bool {
    true
}

/// One grant's token family: deleting it revokes every token that came from the grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FamilyRecord {
    pub user_id: UserId,
    pub session_id: SessionId,
    pub client_id: String,
}

/// A live refresh token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefreshRecord {
    pub grant: Grant,
    pub family: String,
    pub expires_at: DateTime<Utc>,
}

/// What a rotated refresh token leaves behind until it would have expired.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Rotated {
    pub family: String,
    pub client_id: String,
    pub user_id: UserId,
    pub rotated_at: DateTime<Utc>,
    /// The answer the rotation gave, sealed by the caller (under a key only the old token
    /// opens); the store never reads it.
    pub answer: Vec<u8>,
}

/// Where a device authorization stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "state")]
pub enum DeviceStatus {
    Pending,
    Approved { grant: Grant },
    Denied,
}

/// A device authorization in flight (RFC 8628).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceRecord {
    pub client_id: String,
    pub scopes: Vec<String>,
    pub user_code: String,
    pub status: DeviceStatus,
    pub interval: u64,
    pub last_poll: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Records written before the grant store existed still decode, and encode the same way.
    #[test]
    fn stored_form_is_unchanged() {
        let grant = r#"{"userId":"0190a0b4-7c1e-7a3b-9f00-000000000001","sessionId":"ab","clientId":"c","scopes":["openid"],"authTime":"2026-01-01T00:00:00Z","amr":["pwd"],"nonce":null}"#;
        let refresh =
            format!(r#"{{"grant":{grant},"family":"f","expiresAt":"2026-01-01T01:00:00Z"}}"#);
        let decoded: RefreshRecord = serde_json::from_str(&refresh).unwrap();
        assert_eq!(serde_json::to_string(&decoded).unwrap(), refresh);
        // A code from before `redirectUriPresented` was kept had always presented it.
        let code = format!(
            r#"{{"grant":{grant},"redirectUri":"https://a.example/cb","codeChallenge":null}}"#
        );
        let decoded: CodeRecord = serde_json::from_str(&code).unwrap();
        assert!(decoded.redirect_uri_presented);
        let family =
            r#"{"userId":"0190a0b4-7c1e-7a3b-9f00-000000000001","sessionId":"ab","clientId":"c"}"#;
        let decoded: FamilyRecord = serde_json::from_str(family).unwrap();
        assert_eq!(serde_json::to_string(&decoded).unwrap(), family);
        let device = format!(
            r#"{{"clientId":"c","scopes":[],"userCode":"BCDF-GHJK","status":{{"state":"approved","grant":{grant}}},"interval":5,"lastPoll":null,"expiresAt":"2026-01-01T00:10:00Z"}}"#
        );
        let decoded: DeviceRecord = serde_json::from_str(&device).unwrap();
        assert_eq!(serde_json::to_string(&decoded).unwrap(), device);
    }
}

//! Provisioning permission sets into `aws` accounts: the connection Portcullis reaches AWS by,
//! and what it remembers of each (account, permission set) it provisioned.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::text::string_type;
use crate::{AccountId, PermissionSetId, RoleName, ValidationError};

use super::{AwsRegion, StsEndpoint};

string_type!(
    /// An AWS access key id: 16 to 128 letters and digits (`AKIA…`, `ASIA…`).
    AccessKeyId,
    |s| {
        if (16..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Ok(())
        } else {
            Err(ValidationError::new(
                "must be an AWS access key id: 16 to 128 letters and digits",
            ))
        }
    }
);

string_type!(
    /// An IAM role name (1–64 of `A-Z a-z 0-9 + = , . @ _ -`), such as
    /// `OrganizationAccountAccessRole`.
    IamRoleName,
    |s| {
        if (1..=64).contains(&s.len())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
        {
            Ok(())
        } else {
            Err(ValidationError::new(
                "must be an IAM role name: 1 to 64 of letters, digits and + = , . @ _ -",
            ))
        }
    }
);

/// How Portcullis reaches AWS to provision: an access key of a principal allowed to manage IAM
/// (in the management account, say), and optionally the role it assumes in each other account.
/// The secret access key is stored only sealed (AES-256-GCM under a key derived from the master
/// key); it never leaves the server again.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProvisioningConnection {
    pub access_key_id: AccessKeyId,
    /// The sealed secret access key (base64 in the stored JSON).
    #[serde(with = "sealed_base64")]
    pub sealed_secret: Vec<u8>,
    /// The region for STS and Organizations (`us-east-1` when absent); IAM is global.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<AwsRegion>,
    /// One endpoint for IAM, STS and Organizations, instead of AWS's public ones (LocalStack,
    /// moto, a private cloud).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<StsEndpoint>,
    /// The role assumed in every account other than the key's own
    /// (`arn:aws:iam::{accountId}:role/{name}`); absent: the key is used in every account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_role_name: Option<IamRoleName>,
    /// Whether a change of a permission set, an account or an assignment provisions at once
    /// (otherwise it waits for "provision now").
    pub auto_provision: bool,
    pub updated_at: DateTime<Utc>,
}

impl std::fmt::Debug for ProvisioningConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProvisioningConnection")
            .field("access_key_id", &self.access_key_id)
            .field("sealed_secret", &"<sealed>")
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("member_role_name", &self.member_role_name)
            .field("auto_provision", &self.auto_provision)
            .finish()
    }
}

mod sealed_base64 {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        STANDARD.decode(s).map_err(serde::de::Error::custom)
    }
}

/// What Portcullis last did for one permission set in one account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProvisioningRecord {
    pub account_id: AccountId,
    pub permission_set_id: PermissionSetId,
    /// The permission set's name when last attempted (kept after the set is deleted).
    pub permission_set_name: RoleName,
    /// The role it made (what removal deletes).
    pub role_arn: String,
    /// The fingerprint of what is in the account, after the last success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioned: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioned_at: Option<DateTime<Utc>>,
    /// The fingerprint of the last attempt, and AWS's message when it failed.
    pub attempted: String,
    pub attempted_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What [`ProvisioningRecord::attempted`] says of an attempt to remove the role.
pub const REMOVAL_ATTEMPT: &str = "removal";

/// Where one (account, permission set) stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProvisioningState {
    /// The account has what the permission set says now.
    InSync,
    /// Never provisioned, or the permission set (or the account's settings) changed since.
    OutOfDate,
    /// The last attempt, for what the permission set says now, failed with this message.
    Failed(String),
    /// The last assignment went: the role is still in the account until the next run removes it.
    PendingRemoval,
}

impl ProvisioningState {
    /// `wanted`: the fingerprint of what the account should have, `None` when the permission set
    /// is no longer assigned in it.
    pub fn of(record: Option<&ProvisioningRecord>, wanted: Option<&str>) -> Self {
        match (record, wanted) {
            (Some(r), None) => match &r.error {
                Some(e) if r.attempted == REMOVAL_ATTEMPT => Self::Failed(e.clone()),
                _ => Self::PendingRemoval,
            },
            (None, None) => Self::PendingRemoval,
            (None, Some(_)) => Self::OutOfDate,
            (Some(r), Some(w)) => match (&r.error, r.attempted == w) {
                (Some(e), true) => Self::Failed(e.clone()),
                _ if r.provisioned.as_deref() == Some(w) => Self::InSync,
                _ => Self::OutOfDate,
            },
        }
    }

    /// `inSync`, `outOfDate`, `failed`, `pendingRemoval`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InSync => "inSync",
            Self::OutOfDate => "outOfDate",
            Self::Failed(_) => "failed",
            Self::PendingRemoval => "pendingRemoval",
        }
    }
}

impl std::fmt::Display for ProvisioningState {
    /// `in sync`, `out of date`, `failed: <AWS's message>`, `pending removal`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::InSync => f.write_str("in sync"),
            Self::OutOfDate => f.write_str("out of date"),
            Self::Failed(m) => write!(f, "failed: {m}"),
            Self::PendingRemoval => f.write_str("pending removal"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(
        provisioned: Option<&str>,
        attempted: &str,
        error: Option<&str>,
    ) -> ProvisioningRecord {
        ProvisioningRecord {
            account_id: AccountId::parse("111122223333").unwrap(),
            permission_set_id: PermissionSetId::new(),
            permission_set_name: RoleName::parse("Dev").unwrap(),
            role_arn: "arn:aws:iam::111122223333:role/Dev".into(),
            provisioned: provisioned.map(str::to_owned),
            provisioned_at: None,
            attempted: attempted.into(),
            attempted_at: Utc::now(),
            error: error.map(str::to_owned),
        }
    }

    #[test]
    fn states() {
        use ProvisioningState::*;
        assert_eq!(ProvisioningState::of(None, Some("a")), OutOfDate);
        let done = record(Some("a"), "a", None);
        assert_eq!(ProvisioningState::of(Some(&done), Some("a")), InSync);
        assert_eq!(ProvisioningState::of(Some(&done), Some("b")), OutOfDate);
        assert_eq!(ProvisioningState::of(Some(&done), None), PendingRemoval);
        let failed = record(Some("a"), "b", Some("NoSuchEntity: no policy"));
        let state = ProvisioningState::of(Some(&failed), Some("b"));
        assert_eq!(state.to_string(), "failed: NoSuchEntity: no policy");
        assert_eq!(state.code(), "failed");
        // A failure of an older version is not the news: the set changed since.
        assert_eq!(ProvisioningState::of(Some(&failed), Some("c")), OutOfDate);
        // A removal that failed says why.
        let stuck = record(Some("a"), REMOVAL_ATTEMPT, Some("AccessDenied: no"));
        assert_eq!(
            ProvisioningState::of(Some(&stuck), None),
            Failed("AccessDenied: no".into())
        );
        // Back to what is provisioned: in sync again, whatever failed in between.
        let back = record(Some("a"), "a", None);
        assert_eq!(ProvisioningState::of(Some(&back), Some("a")), InSync);
    }

    #[test]
    fn the_secret_stays_out_of_debug() {
        let c = ProvisioningConnection {
            access_key_id: AccessKeyId::parse("AKIAIOSFODNN7EXAMPLE").unwrap(),
            sealed_secret: vec![1, 2, 3],
            region: None,
            endpoint: None,
            member_role_name: Some(IamRoleName::parse("OrganizationAccountAccessRole").unwrap()),
            auto_provision: true,
            updated_at: Utc::now(),
        };
        let shown = format!("{c:?}");
        assert!(
            shown.contains("<sealed>") && !shown.contains("[1, 2, 3]"),
            "{shown}"
        );
        let json = serde_json::to_string(&c).unwrap();
        assert!(json.contains(r#""sealedSecret":"AQID""#), "{json}");
        assert_eq!(
            serde_json::from_str::<ProvisioningConnection>(&json).unwrap(),
            c
        );
        assert!(AccessKeyId::parse("short").is_err());
        assert!(IamRoleName::parse("has space").is_err());
    }
}

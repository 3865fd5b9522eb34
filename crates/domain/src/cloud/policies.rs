//! What a permission set's role may do in an `aws` account, as IAM Identity Center models it:
//! AWS managed policies (by ARN), customer managed policies (by name and path, the same policy
//! created in each account by its owner), one inline policy, and an optional permissions
//! boundary.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ValidationError;

/// The most managed policies (AWS and customer managed together) one permission set attaches:
/// IAM's largest quota of managed policies per role (the default quota is 10).
pub const MAX_MANAGED_POLICIES: usize = 20;

/// The longest inline policy, in characters other than white space: IAM's limit of the inline
/// policies of one role together (IAM does not count white space).
pub const MAX_INLINE_POLICY_CHARS: usize = 10_240;

/// The policies a permission set's role gets. All empty for a native-only permission set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CloudPolicies {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aws_managed_policies: Vec<ManagedPolicyArn>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub customer_managed_policies: Vec<PolicyReference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline_policy: Option<InlinePolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions_boundary: Option<PermissionsBoundary>,
}

impl CloudPolicies {
    /// Checks what each value cannot check alone: how many managed policies, and no policy
    /// named twice. Returns the field at fault.
    pub fn check(&self) -> Result<(), (&'static str, ValidationError)> {
        if self.aws_managed_policies.len() + self.customer_managed_policies.len()
            > MAX_MANAGED_POLICIES
        {
            return Err((
                "awsManagedPolicies",
                ValidationError::new(format!(
                    "at most {MAX_MANAGED_POLICIES} managed policies (AWS and customer managed \
                     together) can be attached to a role"
                )),
            ));
        }
        let mut arns: Vec<&str> = self
            .aws_managed_policies
            .iter()
            .map(|a| a.as_str())
            .collect();
        arns.sort_unstable();
        if arns.windows(2).any(|w| w[0] == w[1]) {
            return Err((
                "awsManagedPolicies",
                ValidationError::new("names a policy twice"),
            ));
        }
        let mut refs: Vec<_> = self.customer_managed_policies.iter().collect();
        refs.sort();
        if refs.windows(2).any(|w| w[0] == w[1]) {
            return Err((
                "customerManagedPolicies",
                ValidationError::new("names a policy twice"),
            ));
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// An AWS managed policy: `arn:{partition}:iam::aws:policy/{path}{name}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ManagedPolicyArn(String);

impl ManagedPolicyArn {
    pub fn parse(s: impl Into<String>) -> Result<Self, ValidationError> {
        let s = s.into();
        let bad = || {
            ValidationError::new(
                "must be an AWS managed policy ARN such as arn:aws:iam::aws:policy/ReadOnlyAccess",
            )
        };
        let rest = ["aws", "aws-cn", "aws-us-gov"]
            .iter()
            .find_map(|p| s.strip_prefix(&format!("arn:{p}:iam::aws:policy/")))
            .ok_or_else(bad)?;
        let (path, name) = match rest.rsplit_once('/') {
            Some((path, name)) => (format!("/{path}/"), name),
            None => ("/".to_owned(), rest),
        };
        PolicyReference::new(name, &path).map_err(|_| bad())?;
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ManagedPolicyArn {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(s)
    }
}

impl From<ManagedPolicyArn> for String {
    fn from(v: ManagedPolicyArn) -> String {
        v.0
    }
}

impl fmt::Display for ManagedPolicyArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A customer managed policy, by name and path: the policy of that name the account's owner
/// created in each account (`arn:aws:iam::{accountId}:policy{path}{name}`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "PolicyReferenceWire", into = "PolicyReferenceWire")]
pub struct PolicyReference {
    name: String,
    path: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PolicyReferenceWire {
    name: String,
    #[serde(default)]
    path: Option<String>,
}

impl PolicyReference {
    /// `name`: 1–128 of `A-Z a-z 0-9 + = , . @ _ -`; `path`: `/`, or `/`-delimited words of the
    /// same characters starting and ending in `/`, at most 512 characters.
    pub fn new(name: &str, path: &str) -> Result<Self, ValidationError> {
        let iam = |c: char| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c);
        if name.is_empty() || name.len() > 128 || !name.chars().all(iam) {
            return Err(ValidationError::new(
                "a policy name must be 1 to 128 of letters, digits and + = , . @ _ -",
            ));
        }
        let path_ok = path.len() <= 512
            && path.starts_with('/')
            && path.ends_with('/')
            && (path == "/"
                || path[1..path.len() - 1]
                    .split('/')
                    .all(|w| !w.is_empty() && w.chars().all(iam)));
        if !path_ok {
            return Err(ValidationError::new(
                "a policy path must be / or start and end with / (such as /team/)",
            ));
        }
        Ok(Self {
            name: name.to_owned(),
            path: path.to_owned(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// The policy's ARN in `account`, in `partition` (`aws`, `aws-cn`, `aws-us-gov`).
    pub fn arn_in(&self, partition: &str, account: &str) -> String {
        format!(
            "arn:{partition}:iam::{account}:policy{}{}",
            self.path, self.name
        )
    }
}

impl TryFrom<PolicyReferenceWire> for PolicyReference {
    type Error = ValidationError;
    fn try_from(w: PolicyReferenceWire) -> Result<Self, Self::Error> {
        Self::new(&w.name, w.path.as_deref().unwrap_or("/"))
    }
}

impl From<PolicyReference> for PolicyReferenceWire {
    fn from(r: PolicyReference) -> Self {
        Self {
            name: r.name,
            path: Some(r.path),
        }
    }
}

/// An inline policy: a JSON object of at most [`MAX_INLINE_POLICY_CHARS`] characters besides
/// white space, kept as the administrator wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct InlinePolicy(String);

impl InlinePolicy {
    pub fn parse(s: impl Into<String>) -> Result<Self, ValidationError> {
        let s = s.into();
        let chars = s.chars().filter(|c| !c.is_whitespace()).count();
        if chars > MAX_INLINE_POLICY_CHARS {
            return Err(ValidationError::new(format!(
                "is {chars} characters long (without white space); IAM allows \
                 {MAX_INLINE_POLICY_CHARS}"
            )));
        }
        match serde_json::from_str::<serde_json::Value>(&s) {
            Ok(serde_json::Value::Object(o)) if o.contains_key("Statement") => Ok(Self(s)),
            Ok(_) => Err(ValidationError::new(
                "must be a JSON policy document: an object with a Statement",
            )),
            Err(e) => Err(ValidationError::new(format!("is not JSON: {e}"))),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The document without insignificant white space, in the order written: what IAM keeps,
    /// and what decides whether two documents are the same policy.
    pub fn compact(&self) -> String {
        serde_json::from_str::<serde_json::Value>(&self.0)
            .map(|v| v.to_string())
            .unwrap_or_else(|_| self.0.clone())
    }
}

impl TryFrom<String> for InlinePolicy {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(s)
    }
}

impl From<InlinePolicy> for String {
    fn from(v: InlinePolicy) -> String {
        v.0
    }
}

/// The permissions boundary of a permission set's role: an AWS managed policy or a customer
/// managed one (the shape of Identity Center's `PermissionsBoundary`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum PermissionsBoundary {
    ManagedPolicyArn(ManagedPolicyArn),
    CustomerManagedPolicyReference(PolicyReference),
}

impl PermissionsBoundary {
    /// The boundary policy's ARN in `account`.
    pub fn arn_in(&self, partition: &str, account: &str) -> String {
        match self {
            Self::ManagedPolicyArn(a) => a.as_str().to_owned(),
            Self::CustomerManagedPolicyReference(r) => r.arn_in(partition, account),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn managed_policy_arns() {
        assert!(ManagedPolicyArn::parse("arn:aws:iam::aws:policy/ReadOnlyAccess").is_ok());
        assert!(
            ManagedPolicyArn::parse("arn:aws:iam::aws:policy/job-function/ViewOnlyAccess").is_ok()
        );
        assert!(ManagedPolicyArn::parse("arn:aws-cn:iam::aws:policy/AdministratorAccess").is_ok());
        for bad in [
            "",
            "ReadOnlyAccess",
            "arn:aws:iam::123456789012:policy/Mine",
            "arn:aws:iam::aws:role/ReadOnlyAccess",
            "arn:aws:iam::aws:policy/",
            "arn:aws:iam::aws:policy/has space",
            "arn:aws:iam::aws:policy//x",
        ] {
            assert!(ManagedPolicyArn::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn policy_references() {
        let r: PolicyReference = serde_json::from_str(r#"{"name":"Billing"}"#).unwrap();
        assert_eq!(r.path(), "/");
        assert_eq!(
            r.arn_in("aws", "111122223333"),
            "arn:aws:iam::111122223333:policy/Billing"
        );
        let r = PolicyReference::new("Billing", "/team/a/").unwrap();
        assert_eq!(
            r.arn_in("aws", "111122223333"),
            "arn:aws:iam::111122223333:policy/team/a/Billing"
        );
        for (name, path) in [
            ("", "/"),
            ("a b", "/"),
            ("ok", ""),
            ("ok", "team"),
            ("ok", "/team"),
            ("ok", "//"),
        ] {
            assert!(PolicyReference::new(name, path).is_err(), "{name} {path}");
        }
        assert!(serde_json::from_str::<PolicyReference>(r#"{"name":"x","extra":1}"#).is_err());
    }

    #[test]
    fn inline_policies() {
        let doc = r#"{ "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}] }"#;
        let p = InlinePolicy::parse(doc).unwrap();
        assert!(!p.compact().contains(' '));
        assert!(InlinePolicy::parse("not json").is_err());
        assert!(InlinePolicy::parse("[]").is_err());
        assert!(InlinePolicy::parse(r#"{"Version":"2012-10-17"}"#).is_err());
        // The limit counts characters other than white space.
        let padded = format!("{}{doc}", " ".repeat(20_000));
        assert!(InlinePolicy::parse(padded).is_ok());
        let long = format!(
            r#"{{"Statement":[],"Sid":"{}"}}"#,
            "x".repeat(MAX_INLINE_POLICY_CHARS)
        );
        let e = InlinePolicy::parse(long).unwrap_err();
        assert!(e.message.contains("10240"), "{}", e.message);
    }

    #[test]
    fn counts_and_duplicates() {
        let arn = ManagedPolicyArn::parse("arn:aws:iam::aws:policy/ReadOnlyAccess").unwrap();
        let twice = CloudPolicies {
            aws_managed_policies: vec![arn.clone(), arn.clone()],
            ..Default::default()
        };
        assert_eq!(twice.check().unwrap_err().0, "awsManagedPolicies");
        let many = CloudPolicies {
            customer_managed_policies: (0..=MAX_MANAGED_POLICIES)
                .map(|i| PolicyReference::new(&format!("p{i}"), "/").unwrap())
                .collect(),
            ..Default::default()
        };
        assert!(many.check().is_err());
        assert!(CloudPolicies::default().check().is_ok());
        assert!(CloudPolicies::default().is_empty());
        let boundary: PermissionsBoundary = serde_json::from_str(
            r#"{"customerManagedPolicyReference":{"name":"Boundary","path":"/"}}"#,
        )
        .unwrap();
        assert_eq!(
            boundary.arn_in("aws", "111122223333"),
            "arn:aws:iam::111122223333:policy/Boundary"
        );
    }
}

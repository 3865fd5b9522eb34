//! AWS Query API answers (STS, IAM) as a flat list of leaf elements with their paths, so callers
//! find values by path suffix (`Credentials/AccessKeyId`, `AttachedPolicies/member/PolicyArn`)
//! without walking a tree. Parsing forbids DTDs and bounds depth.

use uppsala::{NodeId, NodeKind};

/// The leaf elements of an answer: `(path of local names joined by '/', trimmed text)`.
#[derive(Debug, Default)]
pub(crate) struct Leaves(Vec<(String, String)>);

/// An `ErrorResponse`: AWS's code, message and request id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AwsError {
    pub(crate) code: String,
    pub(crate) message: String,
    pub(crate) request_id: Option<String>,
}

impl Leaves {
    /// Parses `xml`; `Err` says why it is not an AWS answer.
    pub(crate) fn parse(xml: &str) -> Result<Self, &'static str> {
        let doc = uppsala::Parser::new()
            .with_forbid_dtd(true)
            .with_max_depth(16)
            .parse(xml)
            .map_err(|_| "not XML")?;
        let root = doc.document_element().ok_or("no document element")?;
        let mut out = Vec::new();
        walk(&doc, root, String::new(), &mut out);
        Ok(Self(out))
    }

    /// The first value whose path ends with `suffix` (whole names: `Arn` does not match
    /// `RoleArn`).
    pub(crate) fn first(&self, suffix: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(p, _)| ends_with(p, suffix))
            .map(|(_, v)| v.as_str())
    }

    /// Every value whose path ends with `suffix`, in document order.
    pub(crate) fn all(&self, suffix: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(p, _)| ends_with(p, suffix))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The error of an `ErrorResponse` (or of a failed status carrying a `Code`).
    pub(crate) fn error(&self, status: u16) -> Option<AwsError> {
        let is_error = status >= 400 || self.0.iter().any(|(p, _)| p.contains("Error/"));
        let code = self.first("Error/Code").or_else(|| self.first("Code"))?;
        is_error.then(|| AwsError {
            code: code.to_owned(),
            message: self
                .first("Error/Message")
                .or_else(|| self.first("Message"))
                .unwrap_or_default()
                .to_owned(),
            request_id: self.first("RequestId").map(str::to_owned),
        })
    }
}

fn ends_with(path: &str, suffix: &str) -> bool {
    path == suffix
        || path
            .strip_suffix(suffix)
            .is_some_and(|rest| rest.ends_with('/'))
}

fn walk(
    doc: &uppsala::Document<'_>,
    node: NodeId,
    prefix: String,
    out: &mut Vec<(String, String)>,
) {
    let Some(element) = doc.element(node) else {
        return;
    };
    let path = if prefix.is_empty() {
        element.name.local_name.to_string()
    } else {
        format!("{prefix}/{}", element.name.local_name)
    };
    let mut text = String::new();
    let mut has_children = false;
    for child in doc.children_iter(node) {
        match doc.node_kind(child) {
            Some(NodeKind::Text(t) | NodeKind::CData(t)) => text.push_str(t),
            Some(NodeKind::Element(_)) => {
                has_children = true;
                walk(doc, child, path.clone(), out);
            }
            _ => {}
        }
    }
    if !has_children {
        out.push((path, text.trim().to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_errors() {
        let xml = r#"<GetRoleResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <GetRoleResult><Role><RoleName>Dev</RoleName><Arn>arn:aws:iam::1:role/Dev</Arn>
    <Tags><member><Key>portcullis:managed</Key><Value>true</Value></member></Tags></Role>
  </GetRoleResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata>
</GetRoleResponse>"#;
        let l = Leaves::parse(xml).unwrap();
        assert_eq!(l.first("Role/Arn"), Some("arn:aws:iam::1:role/Dev"));
        assert_eq!(l.first("Arn"), Some("arn:aws:iam::1:role/Dev"));
        assert_eq!(l.first("oleName"), None);
        assert_eq!(l.all("Tags/member/Key"), vec!["portcullis:managed"]);
        assert_eq!(l.error(200), None);
        let err = r#"<ErrorResponse><Error><Type>Sender</Type><Code>NoSuchEntity</Code>
  <Message>The role with name Dev cannot be found.</Message></Error><RequestId>r2</RequestId></ErrorResponse>"#;
        let e = Leaves::parse(err).unwrap().error(404).unwrap();
        assert_eq!(e.code, "NoSuchEntity");
        assert!(e.message.contains("cannot be found"));
        assert_eq!(e.request_id.as_deref(), Some("r2"));
        assert!(Leaves::parse("<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>").is_err());
        assert!(Leaves::parse("nope").is_err());
    }
}

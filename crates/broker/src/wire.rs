//! The portal API's parameters as they arrive (HTTP query string, gRPC fields), parsed into
//! domain types at the edge with the messages AWS gives (`InvalidRequestException`); the
//! service below takes only the parsed types.

use portcullis_domain::{AccountId, RoleName};

use crate::error::BrokerError;

/// Parses `account_id` (`InvalidRequestException` when missing or malformed).
pub(crate) fn parse_account(raw: Option<&str>) -> Result<AccountId, BrokerError> {
    let raw = raw
        .filter(|s| !s.is_empty())
        .ok_or_else(|| BrokerError::InvalidRequest("account_id is required".into()))?;
    AccountId::parse(raw)
        .map_err(|_| BrokerError::InvalidRequest("account_id must be exactly 12 digits".into()))
}

/// Parses `role_name` (`InvalidRequestException` when missing or malformed).
pub(crate) fn parse_role(raw: Option<&str>) -> Result<RoleName, BrokerError> {
    let raw = raw
        .filter(|s| !s.is_empty())
        .ok_or_else(|| BrokerError::InvalidRequest("role_name is required".into()))?;
    RoleName::parse(raw).map_err(|e| BrokerError::InvalidRequest(format!("role_name {e}")))
}

/// `account_id` and `role_name` of `GetRoleCredentials`, the account first (as AWS reports).
pub(crate) fn parse_account_role(
    account: Option<&str>,
    role: Option<&str>,
) -> Result<(AccountId, RoleName), BrokerError> {
    Ok((parse_account(account)?, parse_role(role)?))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn account_and_role_are_parsed_at_the_edge() {
        let (account, role) = parse_account_role(Some("111111111111"), Some("Admin")).unwrap();
        assert_eq!((account.as_str(), role.as_str()), ("111111111111", "Admin"));
        for (account, role) in [
            (Some("111111111111"), None),
            (Some("111111111111"), Some("")),
            (Some("111111111111"), Some("bad role")),
            (None, Some("Admin")),
            (Some(""), Some("Admin")),
            (Some("x"), Some("Admin")),
            (Some("12"), Some("Admin")),
        ] {
            let r = parse_account_role(account, role);
            assert!(matches!(r, Err(BrokerError::InvalidRequest(_))), "{r:?}");
        }
    }

    #[test]
    fn messages_are_the_aws_ones() {
        fn message<T: std::fmt::Debug>(r: Result<T, BrokerError>) -> String {
            match r {
                Err(BrokerError::InvalidRequest(m)) => m,
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(message(parse_account(None)), "account_id is required");
        assert_eq!(
            message(parse_account(Some("12"))),
            "account_id must be exactly 12 digits"
        );
        assert_eq!(message(parse_role(Some(""))), "role_name is required");
        assert!(message(parse_role(Some("bad role"))).starts_with("role_name "));
    }
}

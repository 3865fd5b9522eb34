//! AWS Organizations: the accounts of the organization, to create `aws` accounts from in bulk.

use serde::Serialize;

use super::ProvisioningError;
use super::aws::{AwsClient, Endpoint, Key};

const LIST_ACCOUNTS: &str = "AWSOrganizationsV20161128.ListAccounts";
/// Enough pages for any organization (20 accounts each by default; the quota is 10,000).
const MAX_PAGES: usize = 1000;

/// An active account of the organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationAccount {
    pub id: String,
    pub name: String,
    pub email: String,
}

/// Every `ACTIVE` account (suspended and closing ones are left out).
pub(crate) async fn list_accounts(
    client: &AwsClient,
    key: &Key,
    at: &Endpoint,
) -> Result<Vec<OrganizationAccount>, ProvisioningError> {
    let mut out = Vec::new();
    let mut next: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let body = match &next {
            Some(t) => serde_json::json!({ "NextToken": t }),
            None => serde_json::json!({}),
        };
        let page = client.json(key, at, LIST_ACCOUNTS, &body).await?;
        for a in page["Accounts"].as_array().into_iter().flatten() {
            let status = a["Status"].as_str().or_else(|| a["State"].as_str());
            if status.is_some_and(|s| s != "ACTIVE") {
                continue;
            }
            let field = |name: &str| a[name].as_str().unwrap_or_default().to_owned();
            out.push(OrganizationAccount {
                id: field("Id"),
                name: field("Name"),
                email: field("Email"),
            });
        }
        next = page["NextToken"].as_str().map(str::to_owned);
        if next.is_none() {
            break;
        }
    }
    Ok(out)
}

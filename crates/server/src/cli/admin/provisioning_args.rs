//! The options of a permission set's AWS policies (`permission-sets create` / `update`) and the
//! `provisioning` subcommands.

use clap::{Args, Subcommand};

/// What a permission set's role gets in `aws` accounts.
#[derive(Debug, Clone, Default, Args)]
pub(super) struct PolicyArgs {
    /// An AWS managed policy ARN such as arn:aws:iam::aws:policy/ReadOnlyAccess (repeatable;
    /// replaces the list).
    #[arg(long = "aws-managed-policy", value_name = "ARN")]
    pub(super) aws_managed_policies: Vec<String>,
    /// A customer managed policy by path and name, such as /team/Billing or Billing
    /// (repeatable; replaces the list).
    #[arg(long = "customer-managed-policy", value_name = "[PATH/]NAME")]
    pub(super) customer_managed_policies: Vec<String>,
    /// Remove every managed policy (AWS and customer managed).
    #[arg(long, conflicts_with_all = ["aws_managed_policies", "customer_managed_policies"])]
    pub(super) clear_managed_policies: bool,
    /// The inline policy: a file holding a JSON policy document.
    #[arg(long = "inline-policy-file", value_name = "FILE", value_parser = read_policy)]
    pub(super) inline_policy: Option<String>,
    /// Remove the inline policy.
    #[arg(long, conflicts_with = "inline_policy")]
    pub(super) no_inline_policy: bool,
    /// The permissions boundary: an AWS managed policy ARN, or a customer managed policy as
    /// [PATH/]NAME.
    #[arg(long, value_name = "ARN|[PATH/]NAME")]
    pub(super) permissions_boundary: Option<String>,
    /// Remove the permissions boundary.
    #[arg(long, conflicts_with = "permissions_boundary")]
    pub(super) no_permissions_boundary: bool,
}

fn read_policy(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))
}

#[derive(Debug, Subcommand)]
pub(super) enum Provisioning {
    /// The connection Portcullis provisions AWS accounts through.
    #[command(subcommand)]
    Connection(Connection),
    /// Where each permission set stands in each aws account.
    Status,
    /// Provision now: every (account, permission set) that is not in sync, and remove the
    /// roles of those no longer assigned.
    Run {
        /// Only this account.
        #[arg(long = "account", value_name = "ACCOUNT")]
        account_id: Option<String>,
        /// Only this permission set (its id or its name).
        #[arg(long = "permission-set", value_name = "PERMISSION_SET")]
        permission_set_id: Option<String>,
        /// Apply what is in sync as well (repairs changes made in AWS directly).
        #[arg(long)]
        force: bool,
    },
    /// The active accounts of the AWS organization the connection's key manages.
    OrganizationAccounts,
    /// Create aws accounts from the organization's accounts.
    ImportAccounts {
        /// Only this account (repeatable; default: every account not yet imported).
        #[arg(long = "account-id", value_name = "ID")]
        account_ids: Vec<String>,
        /// saml (the default) or webIdentity.
        #[arg(long, value_parser = ["saml", "webIdentity"])]
        federation: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(super) enum Connection {
    /// Show the connection (never its secret).
    Show,
    /// Set the connection, replacing the current one.
    Set {
        /// The access key id of a principal allowed to manage IAM.
        #[arg(long)]
        access_key_id: String,
        /// Its secret; read from the environment rather than given on the command line.
        #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
        secret_access_key: String,
        /// The region for STS and Organizations (default us-east-1).
        #[arg(long)]
        region: Option<String>,
        /// One endpoint for IAM, STS and Organizations (LocalStack, moto).
        #[arg(long, value_name = "URL")]
        endpoint: Option<String>,
        /// The role assumed in member accounts, such as OrganizationAccountAccessRole.
        #[arg(long, value_name = "ROLE_NAME")]
        member_role_name: Option<String>,
        /// Wait for `provisioning run` instead of provisioning after every change.
        #[arg(long)]
        no_auto_provision: bool,
    },
    /// Remove the connection.
    Delete,
}

//! The `portcullis admin` subcommands and their arguments (clap).

use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub(super) enum Resource {
    /// People.
    #[command(subcommand)]
    Users(Users),
    /// Groups and their members.
    #[command(subcommand)]
    Groups(Groups),
    /// Accounts.
    #[command(subcommand)]
    Accounts(Accounts),
    /// Permission sets (roles).
    #[command(subcommand, name = "permission-sets")]
    PermissionSets(PermissionSets),
    /// Account assignments.
    #[command(subcommand)]
    Assignments(Assignments),
    /// Business applications.
    #[command(subcommand)]
    Applications(Applications),
    /// Organisation settings.
    #[command(subcommand)]
    Settings(SettingsCmd),
    /// Admin API tokens.
    #[command(subcommand)]
    Tokens(Tokens),
    /// The audit log, newest first.
    Audit(AuditArgs),
}

#[derive(Debug, Args)]
pub(super) struct Paging {
    #[arg(long)]
    pub(super) max_results: Option<u32>,
    #[arg(long)]
    pub(super) next_token: Option<String>,
    /// Follow nextToken until the last page.
    #[arg(long)]
    pub(super) all: bool,
}

#[derive(Debug, Subcommand)]
pub(super) enum Users {
    List(Paging),
    Get {
        user_id: String,
    },
    Create {
        #[arg(long)]
        user_name: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long)]
        given_name: Option<String>,
        #[arg(long)]
        family_name: Option<String>,
        /// Create the user disabled.
        #[arg(long)]
        disabled: bool,
    },
    Update {
        user_id: String,
        #[arg(long)]
        user_name: Option<String>,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long)]
        given_name: Option<String>,
        #[arg(long)]
        family_name: Option<String>,
        #[arg(long)]
        enabled: Option<bool>,
    },
    Enable {
        user_id: String,
    },
    Disable {
        user_id: String,
    },
    Delete {
        user_id: String,
    },
    /// The groups a user belongs to.
    Groups {
        user_id: String,
    },
    /// The user's live portal sessions.
    Sessions {
        user_id: String,
    },
    /// End one session (with --session-id) or all of the user's sessions.
    RevokeSessions {
        user_id: String,
        #[arg(long)]
        session_id: Option<String>,
    },
    /// Set a password (checked against the password policy).
    SetPassword {
        user_id: String,
        #[arg(long)]
        password: String,
        /// The person must choose a new password at the next sign-in.
        #[arg(long)]
        temporary: bool,
    },
    /// Generate a one-time password: printed once, or emailed to the person with --email.
    OneTimePassword {
        user_id: String,
        #[arg(long)]
        email: bool,
    },
    /// The user's MFA devices.
    MfaDevices {
        user_id: String,
    },
    /// Remove an MFA device (a lost phone or key).
    RemoveMfaDevice {
        user_id: String,
        device_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub(super) enum Groups {
    List(Paging),
    Get {
        group_id: String,
    },
    Create {
        #[arg(long)]
        display_name: String,
        #[arg(long)]
        description: Option<String>,
    },
    Update {
        group_id: String,
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long)]
        description: Option<String>,
    },
    Delete {
        group_id: String,
    },
    Members {
        group_id: String,
        #[command(flatten)]
        paging: Paging,
    },
    AddMember {
        group_id: String,
        user_id: String,
    },
    RemoveMember {
        group_id: String,
        user_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub(super) enum Accounts {
    List(Paging),
    Get {
        account_id: String,
    },
    Create {
        #[arg(long)]
        account_id: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        console_url: Option<String>,
    },
    Update {
        account_id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        console_url: Option<String>,
    },
    Delete {
        account_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub(super) enum PermissionSets {
    List(Paging),
    Get {
        permission_set_id: String,
    },
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        description: Option<String>,
        /// ISO-8601, PT1H to PT12H.
        #[arg(long)]
        session_duration: Option<String>,
    },
    Update {
        permission_set_id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        session_duration: Option<String>,
    },
    Delete {
        permission_set_id: String,
    },
}

#[derive(Debug, Args)]
pub(super) struct AssignmentArgs {
    #[arg(long)]
    pub(super) account_id: String,
    #[arg(long)]
    pub(super) permission_set_id: String,
    /// USER or GROUP.
    #[arg(long)]
    pub(super) principal_type: String,
    #[arg(long)]
    pub(super) principal_id: String,
}

#[derive(Debug, Subcommand)]
pub(super) enum Assignments {
    List {
        #[arg(long)]
        account_id: Option<String>,
        #[arg(long)]
        permission_set_id: Option<String>,
        #[arg(long)]
        principal_type: Option<String>,
        #[arg(long)]
        principal_id: Option<String>,
        #[command(flatten)]
        paging: Paging,
    },
    Create(AssignmentArgs),
    Delete(AssignmentArgs),
}

#[derive(Debug, Subcommand)]
pub(super) enum Applications {
    List(Paging),
    Get {
        application_id: String,
    },
    Create {
        #[arg(long)]
        name: String,
        /// OIDC or SAML.
        #[arg(long)]
        kind: String,
        #[arg(long)]
        description: Option<String>,
    },
    Update {
        application_id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        enabled: Option<bool>,
    },
    Delete {
        application_id: String,
    },
    Assignments {
        application_id: String,
    },
    Assign {
        application_id: String,
        #[arg(long)]
        principal_type: String,
        #[arg(long)]
        principal_id: String,
    },
    Unassign {
        application_id: String,
        #[arg(long)]
        principal_type: String,
        #[arg(long)]
        principal_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub(super) enum SettingsCmd {
    Get,
    Set {
        /// Portal session lifetime, ISO-8601 (PT15M to P90D).
        #[arg(long)]
        session_duration: Option<String>,
        /// EVERY_SIGN_IN, CONTEXT_CHANGE or NEVER.
        #[arg(long)]
        mfa_prompt: Option<String>,
        /// Comma-separated: AUTHENTICATOR_APP, WEBAUTHN.
        #[arg(long, value_delimiter = ',')]
        mfa_types: Option<Vec<String>>,
        /// REQUIRE_REGISTRATION, EMAIL_CODE, BLOCK or ALLOW.
        #[arg(long)]
        mfa_no_device: Option<String>,
        #[arg(long)]
        email_otp: Option<bool>,
    },
}

#[derive(Debug, Subcommand)]
pub(super) enum Tokens {
    List,
    Create {
        #[arg(long)]
        name: String,
        /// ISO-8601 lifetime, e.g. P30D.
        #[arg(long)]
        expires_in: Option<String>,
    },
    Revoke {
        token_id: String,
    },
}

#[derive(Debug, Args)]
pub(super) struct AuditArgs {
    #[arg(long)]
    pub(super) since: Option<String>,
    #[arg(long)]
    pub(super) until: Option<String>,
    #[arg(long)]
    pub(super) actor: Option<String>,
    #[arg(long)]
    pub(super) action: Option<String>,
    #[command(flatten)]
    pub(super) paging: Paging,
}

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
    /// OIDC token-signing keys.
    #[command(subcommand)]
    Keys(Keys),
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
    /// Create an application. A confidential OIDC client's secret is printed once.
    Create {
        #[arg(long)]
        name: String,
        /// OIDC or SAML.
        #[arg(long)]
        kind: String,
        #[arg(long)]
        description: Option<String>,
        /// Create the application disabled.
        #[arg(long)]
        disabled: bool,
        /// A public client (single-page or native app: PKCE, no secret).
        #[arg(long)]
        public: bool,
        #[command(flatten)]
        oidc: OidcArgs,
    },
    /// Change an application. OIDC options change only what they name; the rest of the client
    /// registration stays as it is.
    Update {
        application_id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        enabled: Option<bool>,
        /// Make the client public (its secret is removed).
        #[arg(long, conflicts_with = "confidential")]
        public: bool,
        /// Make the client confidential (then issue its secret with rotate-secret).
        #[arg(long)]
        confidential: bool,
        #[command(flatten)]
        oidc: OidcArgs,
    },
    /// Issue a new client secret (printed once); the previous one stops working at once.
    RotateSecret {
        application_id: String,
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

/// An OIDC client's registration. List options are repeatable; on update, giving one replaces
/// that whole list, and an empty value (`--scope ""`) empties it or clears the value.
#[derive(Debug, Default, Args)]
pub(super) struct OidcArgs {
    /// A redirect URI (repeatable): https, http on a loopback host, or a private-use scheme.
    #[arg(long = "redirect-uri", value_name = "URI")]
    pub(super) redirect_uris: Vec<String>,
    /// A post-logout redirect URI (repeatable).
    #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
    pub(super) post_logout_redirect_uris: Vec<String>,
    /// A grant type (repeatable): authorization_code, refresh_token, client_credentials,
    /// urn:ietf:params:oauth:grant-type:device_code. Default: authorization_code, refresh_token.
    #[arg(long = "grant-type", value_name = "GRANT")]
    pub(super) grant_types: Vec<String>,
    /// A scope the client may ask for (repeatable).
    #[arg(long = "scope", value_name = "SCOPE")]
    pub(super) scopes: Vec<String>,
    /// The `aud` of the client's access tokens (default: the client id).
    #[arg(long)]
    pub(super) audience: Option<String>,
    /// RS256 (default), ES256 or EdDSA.
    #[arg(long)]
    pub(super) signing_algorithm: Option<String>,
    /// ISO-8601, PT5M to PT24H (default PT1H).
    #[arg(long)]
    pub(super) access_token_lifetime: Option<String>,
    /// ISO-8601, PT5M to PT24H (default PT1H).
    #[arg(long)]
    pub(super) id_token_lifetime: Option<String>,
    /// ISO-8601, PT1H to P90D (default P30D).
    #[arg(long)]
    pub(super) refresh_token_lifetime: Option<String>,
    /// Where the portal sends a person who launches the application.
    #[arg(long)]
    pub(super) initiate_login_uri: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(super) enum Keys {
    /// Every published key: pending, active and retired.
    List,
    /// Create new keys now (they sign after the publish-ahead delay) and retire the current ones.
    Rotate,
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

//! The `portcullis admin` subcommands and their arguments (clap). A resource argument (`USER`,
//! `GROUP`, `ACCOUNT`, …) takes the resource's id or its name; names are looked up through the
//! admin API's lists before the call (see `resolve.rs`).

use clap::{Args, Subcommand};

pub(super) use super::cloud_args::CloudArgs;
use super::cloud_args::name_value;
pub(super) use super::provisioning_args::{PolicyArgs, Provisioning};

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
    /// Signing keys: the OIDC token-signing keys and the SAML signing keys.
    #[command(subcommand)]
    Keys(Keys),
    /// The audit log, newest first.
    Audit(AuditArgs),
    /// Provisioning permission sets into aws accounts (roles, policies, identity providers).
    #[command(subcommand)]
    Provisioning(Provisioning),
}

#[derive(Debug, Args)]
pub(super) struct Paging {
    /// At most this many results per page (1 to 1000, default 100).
    #[arg(long, value_name = "N")]
    pub(super) max_results: Option<u32>,
    /// Continue from the nextToken a previous page printed.
    #[arg(long, value_name = "TOKEN")]
    pub(super) next_token: Option<String>,
    /// Follow nextToken until the last page.
    #[arg(long)]
    pub(super) all: bool,
}

#[derive(Debug, Subcommand)]
pub(super) enum Users {
    /// List people.
    List(Paging),
    /// Show one person.
    Get {
        /// The user: its id or its userName.
        #[arg(value_name = "USER")]
        user_id: String,
    },
    /// Create a person.
    Create {
        /// The sign-in name (unique, case-insensitive).
        #[arg(long)]
        user_name: String,
        /// The email address.
        #[arg(long)]
        email: String,
        /// The name shown on the portal and in tokens.
        #[arg(long)]
        display_name: Option<String>,
        /// The given (first) name.
        #[arg(long)]
        given_name: Option<String>,
        /// The family (last) name.
        #[arg(long)]
        family_name: Option<String>,
        /// Create the user disabled.
        #[arg(long)]
        disabled: bool,
        /// A custom attribute, for AWS session tags (repeatable).
        #[arg(long = "attribute", value_name = "NAME=VALUE", value_parser = name_value)]
        attributes: Vec<(String, String)>,
    },
    /// Change a person; only the options given change.
    Update {
        /// The user: its id or its userName.
        #[arg(value_name = "USER")]
        user_id: String,
        /// A new sign-in name.
        #[arg(long)]
        user_name: Option<String>,
        /// A new email address.
        #[arg(long)]
        email: Option<String>,
        /// A new display name.
        #[arg(long)]
        display_name: Option<String>,
        /// A new given name.
        #[arg(long)]
        given_name: Option<String>,
        /// A new family name.
        #[arg(long)]
        family_name: Option<String>,
        /// true to enable, false to disable.
        #[arg(long, value_name = "BOOL")]
        enabled: Option<bool>,
        /// Replaces all custom attributes with these (repeatable); see --clear-attributes.
        #[arg(long = "attribute", value_name = "NAME=VALUE", value_parser = name_value)]
        attributes: Vec<(String, String)>,
        /// Removes every custom attribute.
        #[arg(long, conflicts_with = "attributes")]
        clear_attributes: bool,
    },
    /// Let a person sign in again.
    Enable {
        /// The user: its id or its userName.
        #[arg(value_name = "USER")]
        user_id: String,
    },
    /// Stop a person from signing in.
    Disable {
        /// The user: its id or its userName.
        #[arg(value_name = "USER")]
        user_id: String,
    },
    /// Delete a person.
    Delete {
        /// The user: its id or its userName.
        #[arg(value_name = "USER")]
        user_id: String,
    },
    /// The groups a user belongs to.
    Groups {
        /// The user: its id or its userName.
        #[arg(value_name = "USER")]
        user_id: String,
    },
    /// The user's live portal sessions.
    Sessions {
        /// The user: its id or its userName.
        #[arg(value_name = "USER")]
        user_id: String,
    },
    /// End one session (with --session-id) or all of the user's sessions.
    RevokeSessions {
        /// The user: its id or its userName.
        #[arg(value_name = "USER")]
        user_id: String,
        /// End only this session (from `users sessions`).
        #[arg(long)]
        session_id: Option<String>,
    },
    /// Set a password (checked against the password policy); temporary unless --permanent.
    ///
    /// The password is read from a prompt that does not echo, or with --password-stdin from the
    /// first line of standard input; never from the command line. It is temporary by default,
    /// as in the admin API: the person must choose a new one at the next sign-in.
    SetPassword {
        /// The user: its id or its userName.
        #[arg(value_name = "USER")]
        user_id: String,
        /// Read the password from the first line of standard input (trailing newline removed).
        #[arg(long)]
        password_stdin: bool,
        /// The person keeps this password (default: temporary, a new one must be chosen at the
        /// next sign-in).
        #[arg(long, conflicts_with = "temporary")]
        permanent: bool,
        /// The person must choose a new password at the next sign-in (the default).
        #[arg(long)]
        temporary: bool,
        /// Filled in from the prompt or standard input before the call.
        #[arg(skip)]
        password: Option<secrecy::SecretString>,
    },
    /// Generate a one-time password: printed once, or emailed to the person with --email.
    OneTimePassword {
        /// The user: its id or its userName.
        #[arg(value_name = "USER")]
        user_id: String,
        /// Email it to the person instead of printing it.
        #[arg(long)]
        email: bool,
    },
    /// The user's MFA devices.
    MfaDevices {
        /// The user: its id or its userName.
        #[arg(value_name = "USER")]
        user_id: String,
    },
    /// Remove an MFA device (a lost phone or key).
    RemoveMfaDevice {
        /// The user: its id or its userName.
        #[arg(value_name = "USER")]
        user_id: String,
        /// The device id (from `users mfa-devices`).
        device_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub(super) enum Groups {
    /// List groups.
    List(Paging),
    /// Show one group.
    Get {
        /// The group: its id or its display name.
        #[arg(value_name = "GROUP")]
        group_id: String,
    },
    /// Create a group.
    Create {
        /// The group's name (unique).
        #[arg(long)]
        display_name: String,
        /// What the group is for.
        #[arg(long)]
        description: Option<String>,
    },
    /// Change a group; only the options given change.
    Update {
        /// The group: its id or its display name.
        #[arg(value_name = "GROUP")]
        group_id: String,
        /// A new name.
        #[arg(long)]
        display_name: Option<String>,
        /// A new description.
        #[arg(long)]
        description: Option<String>,
    },
    /// Delete a group.
    Delete {
        /// The group: its id or its display name.
        #[arg(value_name = "GROUP")]
        group_id: String,
    },
    /// The group's members.
    Members {
        /// The group: its id or its display name.
        #[arg(value_name = "GROUP")]
        group_id: String,
        #[command(flatten)]
        paging: Paging,
    },
    /// Add a person to the group.
    AddMember {
        /// The group: its id or its display name.
        #[arg(value_name = "GROUP")]
        group_id: String,
        /// The user: its id or its userName.
        #[arg(value_name = "USER")]
        user_id: String,
    },
    /// Remove a person from the group.
    RemoveMember {
        /// The group: its id or its display name.
        #[arg(value_name = "GROUP")]
        group_id: String,
        /// The user: its id or its userName.
        #[arg(value_name = "USER")]
        user_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub(super) enum Accounts {
    /// List accounts.
    List(Paging),
    /// Show one account.
    Get {
        /// The account: its 12-digit id or its name.
        #[arg(value_name = "ACCOUNT")]
        account_id: String,
    },
    /// Register an account.
    Create {
        /// The 12-digit account id.
        #[arg(long)]
        account_id: String,
        /// The account's name.
        #[arg(long)]
        name: String,
        /// The account's email address.
        #[arg(long)]
        email: String,
        /// The console sign-in link shown on the portal.
        #[arg(long, value_name = "URL")]
        console_url: Option<String>,
        #[command(flatten)]
        cloud: CloudArgs,
    },
    /// Change an account; only the options given change.
    Update {
        /// The account: its 12-digit id or its name.
        #[arg(value_name = "ACCOUNT")]
        account_id: String,
        /// A new name.
        #[arg(long)]
        name: Option<String>,
        /// A new email address.
        #[arg(long)]
        email: Option<String>,
        /// A new console link; an empty value removes it.
        #[arg(long, value_name = "URL")]
        console_url: Option<String>,
        /// Any of these replaces the account's AWS settings as a whole (`--kind native` removes
        /// them).
        #[command(flatten)]
        cloud: CloudArgs,
    },
    /// Delete an account.
    Delete {
        /// The account: its 12-digit id or its name.
        #[arg(value_name = "ACCOUNT")]
        account_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub(super) enum PermissionSets {
    /// List permission sets.
    List(Paging),
    /// Show one permission set.
    Get {
        /// The permission set: its id or its name.
        #[arg(value_name = "PERMISSION_SET")]
        permission_set_id: String,
    },
    /// Create a permission set.
    Create {
        /// The role name (unique).
        #[arg(long)]
        name: String,
        /// What the permission set is for.
        #[arg(long)]
        description: Option<String>,
        /// ISO-8601, PT1H to PT12H.
        #[arg(long, value_name = "DURATION")]
        session_duration: Option<String>,
        #[command(flatten)]
        policies: PolicyArgs,
    },
    /// Change a permission set; only the options given change.
    Update {
        /// The permission set: its id or its name.
        #[arg(value_name = "PERMISSION_SET")]
        permission_set_id: String,
        /// A new name.
        #[arg(long)]
        name: Option<String>,
        /// A new description.
        #[arg(long)]
        description: Option<String>,
        /// ISO-8601, PT1H to PT12H.
        #[arg(long, value_name = "DURATION")]
        session_duration: Option<String>,
        #[command(flatten)]
        policies: PolicyArgs,
    },
    /// Delete a permission set.
    Delete {
        /// The permission set: its id or its name.
        #[arg(value_name = "PERMISSION_SET")]
        permission_set_id: String,
    },
}

#[derive(Debug, Args)]
pub(super) struct AssignmentArgs {
    /// The account: its 12-digit id or its name.
    #[arg(long, value_name = "ACCOUNT")]
    pub(super) account_id: String,
    /// The permission set: its id or its name.
    #[arg(long, value_name = "PERMISSION_SET")]
    pub(super) permission_set_id: String,
    /// USER or GROUP.
    #[arg(long)]
    pub(super) principal_type: String,
    /// The user or group: its id, userName or display name.
    #[arg(long, value_name = "PRINCIPAL")]
    pub(super) principal_id: String,
}

#[derive(Debug, Subcommand)]
pub(super) enum Assignments {
    /// List assignments, filtered by the options given.
    List {
        /// Only this account (its 12-digit id or its name).
        #[arg(long, value_name = "ACCOUNT")]
        account_id: Option<String>,
        /// Only this permission set (its id or its name).
        #[arg(long, value_name = "PERMISSION_SET")]
        permission_set_id: Option<String>,
        /// Only principals of this type: USER or GROUP.
        #[arg(long)]
        principal_type: Option<String>,
        /// Only this principal (its id; a name needs --principal-type).
        #[arg(long, value_name = "PRINCIPAL")]
        principal_id: Option<String>,
        #[command(flatten)]
        paging: Paging,
    },
    /// Give a user or group a permission set in an account.
    Create(AssignmentArgs),
    /// Take an assignment away.
    Delete(AssignmentArgs),
}

#[derive(Debug, Subcommand)]
pub(super) enum Applications {
    /// List applications.
    List(Paging),
    /// Show one application.
    Get {
        /// The application: its id or its name.
        #[arg(value_name = "APPLICATION")]
        application_id: String,
    },
    /// Create an application. A confidential OIDC client's secret is printed once.
    Create {
        /// The application's name.
        #[arg(long)]
        name: String,
        /// OIDC or SAML.
        #[arg(long)]
        kind: String,
        /// What the application is.
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
        #[command(flatten)]
        saml: Box<SamlArgs>,
    },
    /// Change an application. OIDC and SAML options change only what they name; the rest of the
    /// client or service provider registration stays as it is.
    Update {
        /// The application: its id or its name.
        #[arg(value_name = "APPLICATION")]
        application_id: String,
        /// A new name.
        #[arg(long)]
        name: Option<String>,
        /// A new description.
        #[arg(long)]
        description: Option<String>,
        /// true to enable, false to disable.
        #[arg(long, value_name = "BOOL")]
        enabled: Option<bool>,
        /// Make the client public (its secret is removed).
        #[arg(long, conflicts_with = "confidential")]
        public: bool,
        /// Make the client confidential (then issue its secret with rotate-secret).
        #[arg(long)]
        confidential: bool,
        #[command(flatten)]
        oidc: OidcArgs,
        #[command(flatten)]
        saml: Box<SamlArgs>,
    },
    /// Issue a new client secret (printed once); the previous one stops working at once.
    RotateSecret {
        /// The application: its id or its name.
        #[arg(value_name = "APPLICATION")]
        application_id: String,
    },
    /// Set or replace the application's portal icon: a PNG or JPEG file of at most 256 KiB.
    SetIcon {
        /// The application: its id or its name.
        #[arg(value_name = "APPLICATION")]
        application_id: String,
        /// The PNG or JPEG file.
        file: std::path::PathBuf,
    },
    /// Remove the application's icon (the portal shows its initials again).
    RemoveIcon {
        /// The application: its id or its name.
        #[arg(value_name = "APPLICATION")]
        application_id: String,
    },
    /// Delete an application.
    Delete {
        /// The application: its id or its name.
        #[arg(value_name = "APPLICATION")]
        application_id: String,
    },
    /// The users and groups assigned to the application.
    Assignments {
        /// The application: its id or its name.
        #[arg(value_name = "APPLICATION")]
        application_id: String,
    },
    /// Assign a user or group to the application.
    Assign {
        /// The application: its id or its name.
        #[arg(value_name = "APPLICATION")]
        application_id: String,
        /// USER or GROUP.
        #[arg(long)]
        principal_type: String,
        /// The user or group: its id, userName or display name.
        #[arg(long, value_name = "PRINCIPAL")]
        principal_id: String,
    },
    /// Remove a user's or group's assignment to the application.
    Unassign {
        /// The application: its id or its name.
        #[arg(value_name = "APPLICATION")]
        application_id: String,
        /// USER or GROUP.
        #[arg(long)]
        principal_type: String,
        /// The user or group: its id, userName or display name.
        #[arg(long, value_name = "PRINCIPAL")]
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

/// A SAML service provider's registration. List options are repeatable; on update, giving one
/// replaces that whole list, and an empty value (`--slo-url ""`) empties it or clears the value.
#[derive(Debug, Default, Args)]
pub(super) struct SamlArgs {
    /// Register from the SP's metadata XML (entity id, HTTP-POST ACS endpoints, SLO URL, signing
    /// certificate, AuthnRequestsSigned); options given as well win.
    #[arg(long, value_name = "FILE", value_parser = read_file)]
    pub(super) sp_metadata: Option<String>,
    /// The SP's entity id (the Issuer of its AuthnRequests).
    #[arg(long)]
    pub(super) entity_id: Option<String>,
    /// An assertion consumer service (repeatable): `URL[,index=N][,default][,binding=HTTP-POST]`.
    /// Without `index` it is its position in the list; only the HTTP-POST binding is supported.
    #[arg(long = "acs-url", value_name = "URL[,index=N][,default]", value_parser = parse_acs)]
    pub(super) acs_urls: Vec<Acs>,
    /// Where LogoutResponses go (HTTP-Redirect or HTTP-POST, as the request came).
    #[arg(long, value_name = "URL")]
    pub(super) slo_url: Option<String>,
    /// The SP's signing certificate: a PEM or base64 DER file (RSA, 2048 bits or more).
    #[arg(long, value_name = "FILE", value_parser = read_file)]
    pub(super) sp_certificate: Option<String>,
    /// The SP must sign its AuthnRequests (needs a certificate). `--require-signed-requests
    /// false` turns it off.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub(super) require_signed_requests: Option<bool>,
    /// persistent (default), emailAddress, transient or unspecified.
    #[arg(long, value_name = "FORMAT")]
    pub(super) name_id_format: Option<String>,
    /// An attribute (repeatable): `NAME=VALUE`, the value literal text with `${user:subject}`,
    /// `${user:email}`, `${user:name}`, `${user:givenName}`, `${user:familyName}`, or exactly
    /// `${user:groups}`.
    #[arg(long = "attribute", value_name = "NAME=VALUE", value_parser = parse_attribute)]
    pub(super) attributes: Vec<(String, String)>,
    /// Add the AWS attribute profile: Role (from --aws-role), RoleSessionName (the email),
    /// SessionDuration (3600).
    #[arg(long)]
    pub(super) aws_preset: bool,
    /// For --aws-preset (repeatable): `ROLE_ARN,PROVIDER_ARN`.
    #[arg(
        long = "aws-role",
        value_name = "ROLE_ARN,PROVIDER_ARN",
        requires = "aws_preset"
    )]
    pub(super) aws_roles: Vec<String>,
    /// The assertion's lifetime (NotOnOrAfter), ISO-8601, PT1M to PT1H (default PT5M).
    #[arg(long, value_name = "DURATION")]
    pub(super) assertion_lifetime: Option<String>,
    /// What is signed: `response` (default), `assertion`, or `both`.
    #[arg(long, value_name = "PART", value_parser = ["response", "assertion", "both"])]
    pub(super) sign: Option<String>,
    /// Accept RSA-SHA1 in the SP's signed requests (responses are always RSA-SHA256). `--allow-sha1 false` turns it off.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub(super) allow_sha1: Option<bool>,
    /// The RelayState of portal launches (default: --start-url).
    #[arg(long, value_name = "STATE")]
    pub(super) relay_state: Option<String>,
    /// The SP's start page, sent as RelayState on portal launches.
    #[arg(long, value_name = "URL")]
    pub(super) start_url: Option<String>,
}

/// One `--acs-url`; an empty `url` is the empty value (empties the list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Acs {
    pub(super) url: String,
    pub(super) index: Option<u16>,
    pub(super) is_default: bool,
}

/// `URL[,index=N][,default][,binding=HTTP-POST]`: options are read from the end, so a URL may
/// itself contain commas.
pub(super) fn parse_acs(s: &str) -> Result<Acs, String> {
    let mut acs = Acs {
        url: String::new(),
        index: None,
        is_default: false,
    };
    let mut rest = s.trim();
    while let Some((head, option)) = rest.rsplit_once(',') {
        match option.trim().split_once('=') {
            None if option.trim() == "default" => acs.is_default = true,
            Some(("index", n)) => {
                acs.index = Some(n.trim().parse().map_err(|_| {
                    format!("index must be a number from 0 to 65535, not '{}'", n.trim())
                })?);
            }
            Some(("binding", b)) => match b.trim() {
                "HTTP-POST" | "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" => {}
                other => {
                    return Err(format!(
                        "only the HTTP-POST binding is supported for an ACS, not '{other}'"
                    ));
                }
            },
            _ => break,
        }
        rest = head.trim_end();
    }
    if rest.is_empty() && !s.trim().is_empty() {
        return Err("the ACS URL is missing (URL[,index=N][,default])".into());
    }
    acs.url = rest.to_owned();
    Ok(acs)
}

/// `NAME=VALUE` (split at the first `=`); an empty argument is the empty value.
pub(super) fn parse_attribute(s: &str) -> Result<(String, String), String> {
    if s.is_empty() {
        return Ok((String::new(), String::new()));
    }
    match s.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_owned(), value.to_owned()))
        }
        _ => Err(format!("must be NAME=VALUE, not '{s}'")),
    }
}

/// A file's contents; an empty path is the empty value (clears the setting).
pub(super) fn read_file(path: &str) -> Result<String, String> {
    if path.is_empty() {
        return Ok(String::new());
    }
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))
}

#[derive(Debug, Subcommand)]
pub(super) enum Keys {
    /// Every published key, OIDC and SAML: pending, active and retired.
    List,
    /// Create new OIDC keys now (they sign after the publish-ahead delay) and retire the current
    /// ones. The SAML key rotates on its own schedule.
    Rotate,
}

#[derive(Debug, Subcommand)]
pub(super) enum SettingsCmd {
    /// Show the organisation settings.
    Get,
    /// Change the settings given; the others stay.
    Set {
        /// Portal session lifetime, ISO-8601 (PT15M to P90D).
        #[arg(long, value_name = "DURATION")]
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
        /// Whether one-time codes may be sent by email (true or false).
        #[arg(long, value_name = "BOOL")]
        email_otp: Option<bool>,
    },
}

#[derive(Debug, Subcommand)]
pub(super) enum Tokens {
    /// List admin API tokens (never their secrets).
    List,
    /// Create a token; its secret is printed once.
    Create {
        /// What the token is for.
        #[arg(long)]
        name: String,
        /// ISO-8601 lifetime, e.g. P30D.
        #[arg(long, value_name = "DURATION")]
        expires_in: Option<String>,
    },
    /// Revoke a token: it stops working at once.
    Revoke {
        /// The token id (from `tokens list`).
        token_id: String,
    },
}

#[derive(Debug, Args)]
pub(super) struct AuditArgs {
    /// Only events at or after this time (RFC 3339).
    #[arg(long, value_name = "TIME")]
    pub(super) since: Option<String>,
    /// Only events before this time (RFC 3339).
    #[arg(long, value_name = "TIME")]
    pub(super) until: Option<String>,
    /// Only events by this actor (e.g. admin-token:ID).
    #[arg(long)]
    pub(super) actor: Option<String>,
    /// Only this action; ending in `.*` matches a prefix (`user.*`).
    #[arg(long)]
    pub(super) action: Option<String>,
    #[command(flatten)]
    pub(super) paging: Paging,
}

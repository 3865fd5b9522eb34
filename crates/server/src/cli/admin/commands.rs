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
        #[command(flatten)]
        saml: Box<SamlArgs>,
    },
    /// Change an application. OIDC and SAML options change only what they name; the rest of the
    /// client or service provider registration stays as it is.
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
        #[command(flatten)]
        saml: Box<SamlArgs>,
    },
    /// Issue a new client secret (printed once); the previous one stops working at once.
    RotateSecret {
        application_id: String,
    },
    /// Set or replace the application's portal icon: a PNG or JPEG file of at most 256 KiB.
    SetIcon {
        application_id: String,
        file: std::path::PathBuf,
    },
    /// Remove the application's icon (the portal shows its initials again).
    RemoveIcon {
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
    /// Accept RSA-SHA1 requests and sign with RSA-SHA1. `--allow-sha1 false` turns it off.
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

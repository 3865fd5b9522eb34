//! Configuration in layers: built-in defaults, then a TOML file (`--config`), then
//! `PORTCULLIS__SECTION__KEY` environment variables, then secrets read from `*_FILE` paths.
//! Unknown keys — in the file or the environment — are an error at start-up.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};

mod delivery;
mod env;
mod oidc;
mod saml;
mod telemetry;

pub use delivery::{DeliveryConfig, DeliveryTarget, SmtpConfig, SmtpSecurity, WebhookConfig};
pub use oidc::OidcConfig;
pub use saml::SamlConfig;
pub use telemetry::{OtlpHeaders, TelemetryConfig};

/// The environment prefix; `__` separates nesting levels (`PORTCULLIS__DATABASE__URL`).
pub const ENV_PREFIX: &str = "PORTCULLIS__";

/// A configuration value that must never be printed or logged.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(SecretString);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(SecretString::from(s.into()))
    }
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("<redacted>")
    }
}

/// Everything Portcullis reads at start-up.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The URL people and clients use; the sign-in URL is `{public_url}/start`.
    pub public_url: String,
    /// Address the HTTP server binds.
    pub listen: String,
    /// Where the embedded stores, the bootstrap token and generated keys live.
    pub data_dir: PathBuf,
    /// 32 bytes, base64: encrypts private keys and MFA secrets at rest.
    pub master_key: Option<Secret>,
    pub master_key_file: Option<PathBuf>,
    pub database: DatabaseConfig,
    pub sessions: SessionsConfig,
    pub admin: AdminConfig,
    pub log: LogConfig,
    pub delivery: DeliveryConfig,
    pub signin: SigninConfig,
    pub telemetry: TelemetryConfig,
    pub oidc: OidcConfig,
    pub saml: SamlConfig,
    pub grpc: GrpcConfig,
}

/// The gRPC services (credential broker and session validation, `proto/`) on a port of their own.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrpcConfig {
    /// Address the gRPC server binds (e.g. `0.0.0.0:8081`); unset: no gRPC server.
    pub listen: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// Unset: SQLite in the data directory. `postgres://…` selects PostgreSQL;
    /// `sqlite://PATH` an SQLite file elsewhere.
    pub url: Option<Secret>,
    pub url_file: Option<PathBuf>,
    /// Pool size for PostgreSQL.
    pub max_connections: usize,
    /// How long (seconds, at most 3600) a node may serve users, entitlements, accounts,
    /// permission sets, applications and settings from its memory; 0 turns the cache off.
    /// Changes are seen sooner: at once on the node that made them, and on other nodes as soon
    /// as PostgreSQL notifies them. This is the safety net should a notification be lost.
    pub cache_seconds: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionsConfig {
    /// Unset: the embedded session store in the data directory. `redis://…` selects Redis.
    pub url: Option<Secret>,
    pub url_file: Option<PathBuf>,
    /// Prefix of every Redis key (several deployments can share one Redis).
    pub key_prefix: String,
}

/// Sign-in: password hashing cost and policy, throttling, trusted browsers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigninConfig {
    /// Minimum password length (1–128, default 8).
    pub password_min_length: usize,
    /// argon2id memory in KiB (default 19456), iterations (2) and lanes (1).
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
    /// Failed attempts for one user name within `lockout_minutes` before it is locked.
    pub max_failures_per_user: u64,
    /// Failed attempts from one client address within `lockout_minutes` before it is locked.
    pub max_failures_per_address: u64,
    pub lockout_minutes: u64,
    /// How long a browser stays trusted after MFA when the prompt is CONTEXT_CHANGE.
    pub trusted_device_days: u64,
    /// How recent a sign-in must be (1–60 minutes) before a person may add or remove MFA
    /// devices; an older session signs in again first.
    pub step_up_minutes: u64,
    /// Addresses (or networks, `10.0.0.0/8`) of reverse proxies in front of Portcullis: only
    /// their `X-Forwarded-For` is believed when throttling by client address.
    #[serde(deserialize_with = "env::string_or_list")]
    pub trusted_proxies: Vec<portcullis_auth::web::ProxyRange>,
}

impl Default for SigninConfig {
    fn default() -> Self {
        Self {
            password_min_length: 8,
            argon2_memory_kib: 19_456,
            argon2_iterations: 2,
            argon2_parallelism: 1,
            max_failures_per_user: 5,
            max_failures_per_address: 50,
            lockout_minutes: 15,
            trusted_device_days: 30,
            step_up_minutes: 5,
            trusted_proxies: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// Sets the bootstrap administrator token instead of generating one (for automation).
    pub bootstrap_token: Option<Secret>,
    pub bootstrap_token_file: Option<PathBuf>,
    /// Largest admin API request body, in bytes.
    pub max_body_bytes: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: LogFormat,
    /// A tracing filter such as `info` or `portcullis=debug,info`.
    pub level: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            public_url: "http://localhost:8080".into(),
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./data"),
            master_key: None,
            master_key_file: None,
            database: DatabaseConfig {
                url: None,
                url_file: None,
                max_connections: 16,
                cache_seconds: 10,
            },
            sessions: SessionsConfig {
                url: None,
                url_file: None,
                key_prefix: "portcullis:".into(),
            },
            admin: AdminConfig {
                bootstrap_token: None,
                bootstrap_token_file: None,
                max_body_bytes: 256 * 1024,
            },
            log: LogConfig {
                format: LogFormat::Text,
                level: "info".into(),
            },
            delivery: DeliveryConfig::default(),
            signin: SigninConfig::default(),
            telemetry: TelemetryConfig::default(),
            oidc: OidcConfig::default(),
            saml: SamlConfig::default(),
            grpc: GrpcConfig::default(),
        }
    }
}

/// Why the configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Invalid(String),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Which directory backend the configuration selects.
#[derive(Debug, Clone)]
pub enum DatabaseTarget {
    Sqlite(PathBuf),
    Postgres(Secret),
}

/// Which session backend the configuration selects.
#[derive(Debug, Clone)]
pub enum SessionsTarget {
    Embedded(PathBuf),
    Redis(Secret),
}

impl Config {
    /// Loads the layers: defaults, the TOML `file`, the process environment, `*_FILE` secrets.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::Invalid(format!(
                    "configuration file {} does not exist",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        for (k, _) in std::env::vars_os() {
            let Some(k) = k.to_str().filter(|k| k.starts_with(ENV_PREFIX)) else {
                continue;
            };
            if k.len() == ENV_PREFIX.len() || k.contains("____") || k.ends_with("__") {
                return Err(ConfigError::Invalid(format!("malformed variable name {k}")));
            }
        }
        figment = figment.merge(env::TextEnv::prefixed(ENV_PREFIX));
        // Lossy: environment values are text, and become numbers or booleans only where the
        // setting is one (see `env`).
        let mut config: Config = figment
            .extract_lossy()
            .map_err(|e| ConfigError::Invalid(describe_figment_error(e)))?;
        config.resolve_files()?;
        config.validate()?;
        Ok(config)
    }

    /// Replaces each secret by the contents of its `*_FILE` path, when given. An empty value
    /// (`PORTCULLIS__X=` as compose writes `${X:-}`) means unset.
    fn resolve_files(&mut self) -> Result<(), ConfigError> {
        for slot in [
            &mut self.master_key,
            &mut self.database.url,
            &mut self.sessions.url,
            &mut self.admin.bootstrap_token,
        ]
        .into_iter()
        .chain(self.delivery.smtp.as_mut().map(|s| &mut s.password))
        .chain(self.delivery.webhook.as_mut().map(|w| &mut w.secret))
        {
            if slot.as_ref().is_some_and(|s| s.expose().trim().is_empty()) {
                *slot = None;
            }
        }
        fn read(
            slot: &mut Option<Secret>,
            file: &Option<PathBuf>,
            name: &str,
        ) -> Result<(), ConfigError> {
            if let Some(path) = file {
                if slot.is_some() {
                    return Err(ConfigError::Invalid(format!(
                        "both {name} and {name}_file are set: choose one"
                    )));
                }
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
                *slot = Some(Secret::new(text.trim_end_matches(['\n', '\r'])));
            }
            Ok(())
        }
        read(&mut self.master_key, &self.master_key_file, "master_key")?;
        read(
            &mut self.database.url,
            &self.database.url_file,
            "database.url",
        )?;
        read(
            &mut self.sessions.url,
            &self.sessions.url_file,
            "sessions.url",
        )?;
        read(
            &mut self.admin.bootstrap_token,
            &self.admin.bootstrap_token_file,
            "admin.bootstrap_token",
        )?;
        if let Some(smtp) = &mut self.delivery.smtp {
            read(
                &mut smtp.password,
                &smtp.password_file,
                "delivery.smtp.password",
            )?;
        }
        if let Some(webhook) = &mut self.delivery.webhook {
            read(
                &mut webhook.secret,
                &webhook.secret_file,
                "delivery.webhook.secret",
            )?;
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let url = url::Url::parse(&self.public_url).map_err(|e| {
            ConfigError::Invalid(format!(
                "public_url '{}' is not a URL: {e}",
                self.public_url
            ))
        })?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(ConfigError::Invalid(
                "public_url must be an http(s) URL with a host".into(),
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(ConfigError::Invalid(
                "public_url must not have a query or fragment".into(),
            ));
        }
        self.listen_addr()?;
        if matches!(self.database_target()?, DatabaseTarget::Postgres(_))
            && self.master_key.is_none()
        {
            return Err(ConfigError::Invalid(
                "PORTCULLIS__MASTER_KEY or PORTCULLIS__MASTER_KEY_FILE is required with PostgreSQL \
                 (every node must use the same key); generate one with `openssl rand -base64 32`"
                    .into(),
            ));
        }
        self.sessions_target()?;
        self.delivery_target()?;
        let si = &self.signin;
        if !(1..=128).contains(&si.password_min_length) {
            return Err(ConfigError::Invalid(
                "signin.password_min_length must be between 1 and 128".into(),
            ));
        }
        if si.argon2_memory_kib < 8 * si.argon2_parallelism.max(1)
            || si.argon2_iterations == 0
            || si.argon2_parallelism == 0
        {
            return Err(ConfigError::Invalid(
                "signin.argon2_*: iterations and parallelism must be at least 1, memory at least 8 KiB per lane".into(),
            ));
        }
        if si.max_failures_per_user == 0
            || si.max_failures_per_address == 0
            || si.lockout_minutes == 0
        {
            return Err(ConfigError::Invalid(
                "signin.max_failures_* and signin.lockout_minutes must be at least 1".into(),
            ));
        }
        if !(1..=365).contains(&si.trusted_device_days) {
            return Err(ConfigError::Invalid(
                "signin.trusted_device_days must be between 1 and 365".into(),
            ));
        }
        if !(1..=60).contains(&si.step_up_minutes) {
            return Err(ConfigError::Invalid(
                "signin.step_up_minutes must be between 1 and 60".into(),
            ));
        }
        if self.sessions.key_prefix.is_empty() || self.sessions.key_prefix.len() > 64 {
            return Err(ConfigError::Invalid(
                "sessions.key_prefix must be 1 to 64 characters".into(),
            ));
        }
        if self.database.max_connections == 0 {
            return Err(ConfigError::Invalid(
                "database.max_connections must be at least 1".into(),
            ));
        }
        if self.database.cache_seconds > 3600 {
            return Err(ConfigError::Invalid(
                "database.cache_seconds must be between 0 (no cache) and 3600".into(),
            ));
        }
        if self.admin.max_body_bytes < 1024 {
            return Err(ConfigError::Invalid(
                "admin.max_body_bytes must be at least 1024".into(),
            ));
        }
        if let Some(t) = &self.admin.bootstrap_token
            && t.expose().len() < 16
        {
            return Err(ConfigError::Invalid(
                "admin.bootstrap_token must be at least 16 characters".into(),
            ));
        }
        self.telemetry.validate()?;
        self.oidc.validate()?;
        self.saml.validate()?;
        self.grpc_addr()?;
        tracing_subscriber::EnvFilter::try_new(&self.log.level)
            .map_err(|e| ConfigError::Invalid(format!("log.level '{}': {e}", self.log.level)))?;
        Ok(())
    }

    /// The public URL without a trailing slash.
    pub fn public_base(&self) -> &str {
        self.public_url.trim_end_matches('/')
    }

    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.listen.parse().map_err(|_| {
            ConfigError::Invalid(format!(
                "listen '{}' is not an address such as 127.0.0.1:8080",
                self.listen
            ))
        })
    }

    /// The gRPC listen address, when the gRPC server is on.
    pub fn grpc_addr(&self) -> Result<Option<SocketAddr>, ConfigError> {
        self.grpc
            .listen
            .as_deref()
            .map(|l| {
                l.parse().map_err(|_| {
                    ConfigError::Invalid(format!(
                        "grpc.listen '{l}' is not an address such as 0.0.0.0:8081"
                    ))
                })
            })
            .transpose()
    }

    pub fn database_target(&self) -> Result<DatabaseTarget, ConfigError> {
        match &self.database.url {
            None => Ok(DatabaseTarget::Sqlite(self.data_dir.join("portcullis.db"))),
            Some(url) => {
                let u = url.expose();
                if u.starts_with("postgres://") || u.starts_with("postgresql://") {
                    Ok(DatabaseTarget::Postgres(url.clone()))
                } else if let Some(path) = u.strip_prefix("sqlite://") {
                    Ok(DatabaseTarget::Sqlite(PathBuf::from(path)))
                } else {
                    Err(ConfigError::Invalid(
                        "database.url must start with postgres://, postgresql:// or sqlite://"
                            .into(),
                    ))
                }
            }
        }
    }

    pub fn sessions_target(&self) -> Result<SessionsTarget, ConfigError> {
        match &self.sessions.url {
            None => Ok(SessionsTarget::Embedded(self.data_dir.join("sessions.db"))),
            Some(url)
                if url.expose().starts_with("redis://")
                    || url.expose().starts_with("rediss://") =>
            {
                Ok(SessionsTarget::Redis(url.clone()))
            }
            Some(_) => Err(ConfigError::Invalid(
                "sessions.url must start with redis:// or rediss://".into(),
            )),
        }
    }

    /// The effective configuration as TOML, secrets redacted (`portcullis config check`).
    pub fn to_redacted_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }
}

fn describe_figment_error(e: figment::Error) -> String {
    e.into_iter()
        .map(|e| {
            let source = match &e.metadata {
                Some(m) if m.name.contains("environment") => {
                    let key = e.path.join("__").to_uppercase();
                    format!(" (from environment variable {ENV_PREFIX}{key})")
                }
                Some(m) => m
                    .source
                    .as_ref()
                    .map(|s| format!(" (from {s})"))
                    .unwrap_or_default(),
                None => String::new(),
            };
            let key = if e.path.is_empty() {
                String::new()
            } else {
                format!("{}: ", e.path.join("."))
            };
            format!("{key}{}{source}", e.kind)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

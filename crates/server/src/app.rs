//! The application as a value: [`Application::build`] opens the stores, runs migrations, does the
//! first-start duties and binds the listener (port 0 in tests); [`Application::run_until_stopped`]
//! serves.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::DefaultHeaders;
use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context;
use portcullis_admin::Admin;
use portcullis_auth::Auth;
use portcullis_auth::metrics::SigninMetrics;
use portcullis_auth::throttle::ThrottleConfig;
use portcullis_oidc::{Oidc, OidcKeys};
use portcullis_portal::Portal;
use portcullis_saml::{Saml, SamlKeysConfig};
use portcullis_sessions::embedded::EmbeddedSessions;
use portcullis_sessions::redis::RedisSessions;
use portcullis_sessions::{Clock, Sessions, SystemClock};
use portcullis_signin::password::PasswordConfig;
use portcullis_signin::{Signin, SigninConfig, SigninKeys};
use portcullis_store::postgres::PostgresDirectory;
use portcullis_store::sqlite::SqliteDirectory;
use portcullis_store::{CacheOptions, CachedDirectory, Directory};

use crate::bootstrap::{self, Bootstrap, MasterKey};
use crate::config::{Config, DatabaseTarget, SessionsTarget};
use crate::state::AppState;
use crate::telemetry::{self, HttpMetrics};

/// Opens (and migrates) the directory the configuration names, behind the per-node read cache
/// (`database.cache_seconds`). Only here are concrete backends named.
///
/// With PostgreSQL the cache listens for changes other nodes make (`LISTEN/NOTIFY`) and is
/// bypassed until, and whenever not, listening. SQLite has one node: its own writes are all.
pub async fn open_directory(config: &Config) -> anyhow::Result<Arc<dyn Directory>> {
    let options = CacheOptions::with_ttl(Duration::from_secs(config.database.cache_seconds));
    let directory = match config.database_target()? {
        DatabaseTarget::Sqlite(path) => {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("creating {}", parent.display()))?;
            }
            private_file(&path)?;
            let sqlite = SqliteDirectory::open(&path)
                .with_context(|| format!("opening {}", path.display()))?;
            CachedDirectory::new(Arc::new(sqlite), options)
        }
        DatabaseTarget::Postgres(url) => {
            let postgres =
                PostgresDirectory::connect(url.expose(), config.database.max_connections)
                    .context("connecting to PostgreSQL")?;
            let cached = CachedDirectory::new(Arc::new(postgres), options);
            if options.ttl.is_zero() {
                cached
            } else {
                let listener = portcullis_store::postgres::spawn_change_listener(
                    url.expose(),
                    cached.invalidation(),
                )
                .context("starting the directory change listener")?;
                cached.with_listener(listener)
            }
        }
    };
    directory
        .migrate()
        .await
        .context("applying directory migrations")?;
    Ok(Arc::new(directory))
}

/// Opens the session store the configuration names (the embedded one sweeps expired rows
/// every minute).
pub async fn open_sessions(
    config: &Config,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Arc<dyn Sessions>> {
    Ok(match config.sessions_target()? {
        SessionsTarget::Embedded(path) => {
            private_file(&path)?;
            let store = EmbeddedSessions::open(&path, clock)
                .await
                .with_context(|| format!("opening the session store {}", path.display()))?;
            store.spawn_sweeper(std::time::Duration::from_secs(60));
            Arc::new(store)
        }
        SessionsTarget::Redis(url) => Arc::new(
            RedisSessions::connect(url.expose(), &config.sessions.key_prefix, clock)
                .await
                .context("connecting to Redis")?,
        ),
    })
}

/// The sign-in settings from the configuration.
fn signin_config(config: &Config) -> SigninConfig {
    let si = &config.signin;
    SigninConfig {
        passwords: PasswordConfig {
            memory_kib: si.argon2_memory_kib,
            iterations: si.argon2_iterations,
            parallelism: si.argon2_parallelism,
            min_length: si.password_min_length,
        },
        throttle: ThrottleConfig {
            per_user: si.max_failures_per_user,
            per_address: si.max_failures_per_address,
            window: Duration::from_secs(si.lockout_minutes * 60),
        },
        trusted_device: Duration::from_secs(si.trusted_device_days * 86_400),
        ..SigninConfig::default()
    }
}

/// A key for one purpose, derived from the master key (HMAC-SHA256 of the purpose's label).
fn derive_key(master: &MasterKey, label: &str) -> [u8; 32] {
    portcullis_auth::derive::derive(master.bytes(), label.as_bytes())
}

/// The stores and the clock every surface of a node shares.
struct Stores {
    directory: Arc<dyn Directory>,
    sessions: Arc<dyn Sessions>,
    clock: Arc<dyn Clock>,
}

/// The surfaces of one node over these stores, each with the keys derived for it.
fn surfaces(
    config: Config,
    Stores {
        directory,
        sessions,
        clock,
    }: Stores,
    sender: Arc<dyn portcullis_signin::delivery::MessageSender>,
    master_key: &MasterKey,
    meter: &opentelemetry::metrics::Meter,
) -> anyhow::Result<(AppState, web::Data<portcullis_broker::Broker>)> {
    let auth = Arc::new(
        Auth::new(
            directory.clone(),
            sessions.clone(),
            clock,
            url::Url::parse(&config.public_url)?,
        )
        .with_trusted_proxies(config.signin.trusted_proxies.clone())
        .with_step_up(Duration::from_secs(config.signin.step_up_minutes * 60))
        .with_metrics(SigninMetrics::new(meter)),
    );
    let signin = Arc::new(Signin::new(
        auth.clone(),
        sender,
        signin_config(&config),
        SigninKeys {
            device: derive_key(master_key, "portcullis trusted-device key v1"),
            secrets: derive_key(master_key, "portcullis mfa secret key v1"),
        },
    )?);
    let client_secrets = derive_key(master_key, "portcullis client-secret hash v1");
    let signing_keys = derive_key(master_key, "portcullis signing-key seal v1");
    let oidc_config = config.oidc.to_idp();
    let key_config = oidc_config.keys.clone();
    let oidc = Arc::new(Oidc::new(
        auth.clone(),
        oidc_config,
        OidcKeys {
            signing_keys,
            client_secrets,
        },
    ));
    let saml = Arc::new(Saml::new(
        auth.clone(),
        config.saml.to_idp(),
        key_config,
        SamlKeysConfig {
            signing_keys,
            names: client_secrets,
        },
    ));
    // The broker reaches accounts that are real clouds with assertions from the SAML IdP and
    // web-identity tokens from the OpenID provider.
    let broker = crate::broker::build(
        directory.clone(),
        sessions.clone(),
        auth.clock.clone(),
        derive_key(master_key, crate::broker::BROKER_KEY_LABEL),
        (saml.clone(), oidc.clone()),
        meter,
    )?;
    let portal = Arc::new(Portal {
        auth: auth.clone(),
        oidc: oidc.clone(),
        saml: saml.clone(),
        broker: broker.clone().into_inner(),
    });
    // Provisioning reaches AWS with a connection whose secret is sealed under its own key.
    let provisioning = Arc::new(
        portcullis_broker::provisioning::Provisioning::new(
            directory.clone(),
            saml.clone(),
            oidc.clone(),
            auth.clock.clone(),
            &derive_key(master_key, "portcullis provisioning v1"),
        )?
        .with_metrics(meter),
    );
    let admin = Arc::new(Admin {
        directory: directory.clone(),
        sessions,
        signin: signin.clone(),
        oidc: oidc.clone(),
        saml: saml.clone(),
        provisioning,
    });
    let state = AppState {
        directory,
        config: Arc::new(config),
        auth,
        signin,
        oidc,
        saml,
        portal,
        admin,
    };
    Ok((state, broker))
}

/// Creates the data directory readable by its owner only (it holds keys and the embedded stores).
pub fn create_data_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    if !dir.exists() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the data directory {}", dir.display()))?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .permissions()
            .mode();
        // Only its owner may read it: it holds the master key, the bootstrap token, the stores.
        if mode & 0o077 != 0 {
            match std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)) {
                Ok(()) => tracing::warn!(
                    dir = %dir.display(),
                    was = format!("{:o}", mode & 0o777),
                    "the data directory was readable by others; restricted it to its owner (0700)"
                ),
                Err(e) => tracing::warn!(
                    dir = %dir.display(),
                    error = %e,
                    "the data directory is readable by others and could not be restricted"
                ),
            }
        }
    }
    Ok(())
}

/// Creates `path` empty and private (0600) if it does not exist yet, so that the SQLite file made
/// there — and its `-wal` and `-shm` files, which SQLite gives the database file's permissions —
/// are readable by their owner only, whatever the umask.
fn private_file(path: &std::path::Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).with_context(|| format!("creating {}", path.display())),
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// A built, bound, not yet running Portcullis.
pub struct Application {
    port: u16,
    server: Server,
    shutdown: Shutdown,
    state: AppState,
    bootstrap: Bootstrap,
    broker: web::Data<portcullis_broker::Broker>,
    /// The gRPC listener, when `grpc.listen` is set.
    grpc: Option<TcpListener>,
    /// The metrics server and its port, when `telemetry.prometheus_listen` is set.
    metrics: Option<(u16, Server)>,
    active_sessions: telemetry::ActiveSessions,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    /// As [`Application::build`], with the clock every expiry decision uses (tests move it).
    pub async fn build_with_clock(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        Self::build_instrumented(config, clock, telemetry::Instruments::none()).await
    }

    /// As [`Application::build_with_clock`], measuring with `instruments` (from
    /// [`telemetry::Telemetry::instruments`]): its meter records, its scrape is `/metrics`.
    pub async fn build_instrumented(
        config: Config,
        clock: Arc<dyn Clock>,
        instruments: telemetry::Instruments,
    ) -> anyhow::Result<Self> {
        let telemetry::Instruments { meter, scrape } = instruments;
        // The ports first: a port already taken stops the start before anything is written.
        let listener = TcpListener::bind(config.listen_addr()?)
            .with_context(|| format!("binding {}", config.listen))?;
        let grpc = match config.grpc_addr()? {
            Some(addr) => {
                Some(TcpListener::bind(addr).with_context(|| format!("binding gRPC on {addr}"))?)
            }
            None => None,
        };
        let metrics_listener = match (&scrape, config.telemetry.prometheus_addr()?) {
            (Some(_), Some(addr)) => Some(
                TcpListener::bind(addr)
                    .with_context(|| format!("binding the metrics listener on {addr}"))?,
            ),
            _ => None,
        };
        create_data_dir(&config.data_dir)?;
        let master_key = bootstrap::master_key(&config)?;
        let directory = open_directory(&config).await?;
        let sessions = open_sessions(&config, clock.clone()).await?;
        let sender = crate::delivery::build_sender(&config)?;
        let bootstrap = bootstrap::bootstrap_admin(&config, directory.as_ref()).await?;
        let (state, broker) = surfaces(
            config,
            Stores {
                directory,
                sessions,
                clock,
            },
            sender,
            &master_key,
            &meter,
        )?;
        // Every node shares the keys through the directory; the first node to start creates them.
        state.oidc.keys.ensure_keys().await.context(
            "preparing the token-signing keys (is the directory reachable, and is the master key \
             the one the keys were created with?)",
        )?;
        state.saml.keys.ensure_keys().await.context(
            "preparing the SAML signing key (is the directory reachable, and is the master key \
             the one the keys were created with?)",
        )?;
        let port = listener.local_addr()?.port();
        // Signal handlers are in place before the first request can arrive, so a SIGTERM at any
        // moment after `build` means a graceful stop, never the default kill.
        let shutdown = Shutdown::install()?;
        // `/metrics` on a port of its own when one is set, else on the main port.
        let (main_scrape, metrics) = match metrics_listener {
            Some(l) => (None, Some(serve_metrics(l, scrape)?)),
            None => (scrape, None),
        };
        let server = serve(
            listener,
            state.clone(),
            master_key,
            HttpMetrics::new(&meter),
            broker.clone(),
            main_scrape,
        )?;
        Ok(Self {
            port,
            server,
            shutdown,
            state,
            bootstrap,
            broker,
            grpc,
            metrics,
            active_sessions: telemetry::ActiveSessions::new(&meter),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub fn bootstrap(&self) -> &Bootstrap {
        &self.bootstrap
    }

    /// The port of the separate metrics listener, when there is one.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(port, _)| *port)
    }

    /// The port the gRPC services listen on, when they are on.
    pub fn grpc_port(&self) -> Option<u16> {
        self.grpc
            .as_ref()
            .and_then(|l| l.local_addr().ok())
            .map(|a| a.port())
    }

    /// Serves until SIGINT/SIGTERM, then stops accepting and finishes in-flight requests within
    /// the shutdown timeout.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Self {
            server,
            mut shutdown,
            state,
            broker,
            grpc,
            metrics,
            active_sessions,
            ..
        } = self;
        let metrics = metrics.map(|(_, server)| {
            let handle = server.handle();
            (handle, tokio::spawn(server))
        });
        let handle = server.handle();
        let (stop_schedule, stopped) = tokio::sync::watch::channel(false);
        let schedule = tokio::spawn(key_schedule(
            state.oidc.clone(),
            state.saml.clone(),
            state.admin.provisioning.clone(),
            stopped.clone(),
        ));
        let counting =
            tokio::spawn(active_sessions.run(state.auth.sessions.clone(), stopped.clone()));
        let grpc = grpc.map(|listener| crate::broker::spawn_grpc(&broker, listener, stopped));
        // The server runs as its own task: `stop` waits for it, so it must be polled meanwhile.
        let mut task = tokio::spawn(server);
        let joined = tokio::select! {
            joined = &mut task => joined,
            () = shutdown.wait() => {
                tracing::info!("shutting down: finishing in-flight requests");
                handle.stop(true).await;
                task.await
            }
        };
        // A rotation under way finishes; the schedule then ends.
        let _ = stop_schedule.send(true);
        let _ = schedule.await;
        let _ = counting.await;
        if let Some(grpc) = grpc {
            let _ = grpc.await;
        }
        if let Some((handle, task)) = metrics {
            handle.stop(true).await;
            let _ = task.await;
        }
        joined.map_err(std::io::Error::other)?
    }
}

/// How often each node checks whether the signing keys are due for rotation.
const KEY_SCHEDULE_PERIOD: std::time::Duration = std::time::Duration::from_secs(3_600);

/// Rotates the token-signing keys when due and drops retired ones past retention: at start,
/// then hourly, until `stop` turns true. Every node runs it; the key ring lets one node win.
/// Then it lets provisioning catch up (with automatic provisioning): a newly published SAML
/// certificate reaches the accounts' SAML providers before it signs, and what another node's
/// run missed is done.
async fn key_schedule(
    oidc: Arc<Oidc>,
    saml: Arc<Saml>,
    provisioning: Arc<portcullis_broker::provisioning::Provisioning>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut every = tokio::time::interval(KEY_SCHEDULE_PERIOD);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = stop.wait_for(|stopped| *stopped) => return,
        }
        match oidc.keys.rotate_if_due().await {
            Ok(true) => tracing::info!("rotated the token-signing keys"),
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(error = ?e, "the signing-key schedule failed; retrying in an hour")
            }
        }
        match saml.keys.rotate_if_due().await {
            Ok(true) => tracing::info!("rotated the SAML signing key"),
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(error = ?e, "the SAML key schedule failed; retrying in an hour")
            }
        }
        provisioning.changed();
    }
}

/// SIGTERM and SIGINT, registered at build time.
struct Shutdown {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl Shutdown {
    fn install() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                term: signal(SignalKind::terminate())?,
                int: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    async fn wait(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    // Keys: the set this node holds, reread from the directory when its copy is stale.
    let (directory, sessions, keys) = tokio::join!(
        state.directory.ping(),
        state.auth.sessions.ping(),
        state.oidc.keys.ready(),
    );
    let word = |ok: bool| if ok { "ok" } else { "unreachable" };
    let ready = directory.is_ok() && sessions.is_ok() && keys.is_ok();
    let body = serde_json::json!({
        "status": if ready { "ready" } else { "unavailable" },
        "directory": word(directory.is_ok()),
        "sessions": word(sessions.is_ok()),
        "keys": if keys.is_ok() { "loaded" } else { "unavailable" },
    });
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        tracing::warn!(directory = ?directory.err(), sessions = ?sessions.err(), keys = ?keys.err(), "readiness check failed");
        HttpResponse::ServiceUnavailable().json(body)
    }
}

fn serve(
    listener: TcpListener,
    state: AppState,
    master_key: MasterKey,
    http_metrics: HttpMetrics,
    broker: web::Data<portcullis_broker::Broker>,
    scrape: Option<telemetry::Scrape>,
) -> anyhow::Result<Server> {
    let max_body = state.config.admin.max_body_bytes;
    let auth = web::Data::from(state.auth.clone());
    let signin = web::Data::from(state.signin.clone());
    let oidc = web::Data::from(state.oidc.clone());
    let saml = web::Data::from(state.saml.clone());
    let portal = web::Data::from(state.portal.clone());
    let admin = web::Data::from(state.admin.clone());
    let data = web::Data::new(state);
    let key = web::Data::new(master_key);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(key.clone())
            .app_data(auth.clone())
            .app_data(signin.clone())
            .app_data(oidc.clone())
            .app_data(saml.clone())
            .app_data(portal.clone())
            .app_data(admin.clone())
            .app_data(broker.clone())
            .wrap(
                DefaultHeaders::new()
                    .add(("X-Content-Type-Options", "nosniff"))
                    .add(("Referrer-Policy", "no-referrer"))
                    .add(("Cache-Control", "no-store")),
            )
            .wrap(actix_web::middleware::Compress::default())
            // Outermost: the span and the duration cover every other middleware.
            .wrap({
                let m = http_metrics.clone();
                actix_web::middleware::from_fn(move |req, next| {
                    telemetry::observe(m.clone(), req, next)
                })
            })
            .route("/healthz", web::get().to(healthz))
            .route("/readyz", web::get().to(readyz))
            .service(portcullis_admin::scope(max_body))
            // Before the portal's `GET /`: takes only presigned STS requests.
            .configure(portcullis_broker::presigned_routes)
            .configure(portcullis_auth::routes)
            .configure(portcullis_signin::routes)
            .configure(portcullis_oidc::routes)
            .configure(portcullis_saml::routes)
            .configure(portcullis_portal::routes)
            .configure(portcullis_broker::routes)
            .configure(telemetry::scrape::routes(scrape.clone()))
    })
    .listen(listener)?
    .disable_signals()
    .shutdown_timeout(30)
    .run();
    Ok(server)
}

/// `/metrics` alone, on the listener `telemetry.prometheus_listen` names.
fn serve_metrics(
    listener: TcpListener,
    scrape: Option<telemetry::Scrape>,
) -> anyhow::Result<(u16, Server)> {
    let port = listener.local_addr()?.port();
    let server = HttpServer::new(move || {
        App::new()
            .wrap(DefaultHeaders::new().add(("Cache-Control", "no-store")))
            .configure(telemetry::scrape::routes(scrape.clone()))
    })
    .workers(1)
    .listen(listener)?
    .disable_signals()
    .shutdown_timeout(5)
    .run();
    Ok((port, server))
}

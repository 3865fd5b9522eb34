//! The server under test: a `portcullis serve` child process configured through `PORTCULLIS__`
//! variables, a fresh PostgreSQL database and Redis key prefix for it, and its CPU time and
//! memory read from `/proc`.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::Args;

/// The bootstrap administrator token the child starts with.
pub const ADMIN_TOKEN: &str = "pcat_bench-bootstrap-token-0123456789abcdef";
/// A fixed master key (32 bytes, base64): the bench's keys are throw-away.
const MASTER_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

/// Which deployment the server runs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// PostgreSQL directory, Redis sessions.
    Postgres,
    /// SQLite directory, embedded sessions.
    Embedded,
}

/// A running server child.
#[derive(Debug)]
pub struct Server {
    child: tokio::process::Child,
    pub pid: u32,
    pub base: String,
    /// The Redis key prefix its sessions live under (Postgres backend).
    pub redis_prefix: Option<String>,
    database: Option<FreshDatabase>,
    log: PathBuf,
    _dir: TempDir,
}

impl Server {
    pub async fn start(args: &Args, backend: Backend) -> anyhow::Result<Self> {
        let dir = TempDir::new()?;
        let port = free_port()?;
        let base = format!("http://127.0.0.1:{port}");
        let log = dir.path.join("server.log");
        let mut cmd = tokio::process::Command::new(&args.server_bin);
        cmd.arg("serve")
            .env("PORTCULLIS__LISTEN", format!("127.0.0.1:{port}"))
            .env("PORTCULLIS__PUBLIC_URL", &base)
            .env("PORTCULLIS__DATA_DIR", dir.path.join("data"))
            .env("PORTCULLIS__ADMIN__BOOTSTRAP_TOKEN", ADMIN_TOKEN)
            .env("PORTCULLIS__ADMIN__MAX_BODY_BYTES", "1048576")
            .env("PORTCULLIS__LOG__LEVEL", "warn")
            // One load generator registers an SSO-OIDC client per
            // `scenarios::DEVICE_FLOWS_PER_CLIENT` tokens it seeds (the per-address limit is for
            // people, not for one harness seeding thousands).
            .env("PORTCULLIS__OIDC__REGISTRATIONS_PER_HOUR", "10000")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log)?)
            .stderr(std::fs::File::create(dir.path.join("server.err"))?)
            .kill_on_drop(true);
        let (database, redis_prefix) = match backend {
            Backend::Postgres => {
                let db = FreshDatabase::create(&args.postgres_url).await?;
                let prefix = format!("pcbench:{}:", uuid::Uuid::new_v4().simple());
                cmd.env("PORTCULLIS__DATABASE__URL", &db.url)
                    .env("PORTCULLIS__SESSIONS__URL", &args.redis_url)
                    .env("PORTCULLIS__SESSIONS__KEY_PREFIX", &prefix)
                    .env("PORTCULLIS__MASTER_KEY", MASTER_KEY);
                (Some(db), Some(prefix))
            }
            Backend::Embedded => (None, None),
        };
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}", args.server_bin.display()))?;
        let pid = child.id().context("the server exited at once")?;
        let mut server = Self {
            child,
            pid,
            base,
            redis_prefix,
            database,
            log,
            _dir: dir,
        };
        server.wait_ready().await?;
        Ok(server)
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!("the server exited ({status}):\n{}", self.log_tail());
            }
            if let Ok(r) = client.get(format!("{}/readyz", self.base)).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::bail!(
            "the server was not ready within 120 s:\n{}",
            self.log_tail()
        )
    }

    /// The end of the server's output, for error messages.
    /// Lets PostgreSQL catch up with a bulk load before a measurement: `VACUUM ANALYZE` (fresh
    /// statistics and visibility maps, so autovacuum does not start in the middle of the
    /// measurement) and a `CHECKPOINT` (the load's dirty pages written now, not then). Nothing
    /// for the embedded backend.
    pub async fn settle_database(&self) -> anyhow::Result<()> {
        if let Some(db) = &self.database {
            let client = connect(&db.url).await?;
            // Two statements, two round trips: VACUUM cannot run inside the implicit
            // transaction of a multi-statement string.
            client
                .batch_execute("VACUUM ANALYZE")
                .await
                .context("VACUUM ANALYZE")?;
            client
                .batch_execute("CHECKPOINT")
                .await
                .context("CHECKPOINT")?;
        }
        Ok(())
    }

    /// The server's temporary directory (removed when it stops), for the run's scratch files.
    pub fn work_dir(&self) -> &std::path::Path {
        &self._dir.path
    }

    pub fn log_tail(&self) -> String {
        let mut out = String::new();
        for file in [self.log.clone(), self.log.with_file_name("server.err")] {
            if let Ok(text) = std::fs::read_to_string(&file) {
                let lines: Vec<&str> = text.lines().collect();
                let from = lines.len().saturating_sub(20);
                out.push_str(&lines[from..].join("\n"));
                out.push('\n');
            }
        }
        out
    }

    /// CPU seconds (user + system) the server has used so far.
    pub fn cpu_seconds(&self) -> f64 {
        proc_cpu_seconds(self.pid).unwrap_or(0.0)
    }

    /// (resident, peak resident) in MiB.
    pub fn rss_mib(&self) -> (f64, f64) {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap_or_default();
        let kib = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        (kib("VmRSS:") / 1024.0, kib("VmHWM:") / 1024.0)
    }

    pub async fn stop(mut self) -> anyhow::Result<()> {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await;
        if let Some(db) = self.database.take() {
            db.drop_now().await;
        }
        Ok(())
    }
}

/// utime + stime of a process, from `/proc/PID/stat` (fields 14 and 15, in clock ticks).
fn proc_cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / clock_ticks())
}

/// `sysconf(_SC_CLK_TCK)`: 100 on every Linux this runs on (no libc call: unsafe is forbidden).
fn clock_ticks() -> f64 {
    100.0
}

fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(l.local_addr()?.port())
}

/// A database of its own in the PostgreSQL server, dropped when the run ends.
#[derive(Debug)]
struct FreshDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl FreshDatabase {
    async fn create(admin_url: &str) -> anyhow::Result<Self> {
        let name = format!("pcbench_{}", uuid::Uuid::new_v4().simple());
        let client = connect(admin_url).await?;
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .context("CREATE DATABASE")?;
        let mut url = url::Url::parse(admin_url).context("the PostgreSQL URL")?;
        url.set_path(&format!("/{name}"));
        Ok(Self {
            admin_url: admin_url.to_owned(),
            name,
            url: url.to_string(),
        })
    }

    async fn drop_now(self) {
        match connect(&self.admin_url).await {
            Ok(c) => {
                if let Err(e) = c
                    .batch_execute(&format!(
                        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                        self.name
                    ))
                    .await
                {
                    eprintln!("warning: dropping {}: {e}", self.name);
                }
            }
            Err(e) => eprintln!("warning: dropping {}: {e}", self.name),
        }
    }
}

async fn connect(url: &str) -> anyhow::Result<tokio_postgres::Client> {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .with_context(|| "connecting to PostgreSQL".to_string())?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

/// A temporary directory removed on drop (no tempfile dependency for one directory).
#[derive(Debug)]
struct TempDir {
    path: PathBuf,
}

impl TempDir {
    fn new() -> anyhow::Result<Self> {
        let path = std::env::temp_dir().join(format!("portcullis-bench-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&path)?;
        Ok(Self { path })
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

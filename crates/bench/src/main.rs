//! `portcullis-bench`: seeds a realistic directory, starts a `portcullis serve` child on loopback,
//! drives every scenario of issue 8 at a chosen concurrency, measures the physical floors
//! (argon2id, RS256/ES256 signing, Redis GET/SET) in the same run, then (PostgreSQL + Redis only)
//! the no-slope phase on a fresh server (ListAccounts p99 at 1,000 vs 100,000 users,
//! session-validation p99 at ~100,000 vs 1,000,000 sessions in Redis), and reports the issue's
//! ratios as JSON and as the markdown page `docs/benchmarks.md`.
//!
//! `--smoke` is the CI mode: a tiny directory, about a second per scenario, and one check only —
//! every scenario completes with zero errors. It never looks at a timing. It runs the no-slope
//! phase too, at tiny sizes, only to keep that code path working.

mod floors;
mod load;
mod reference;
mod report;
mod saml;
mod saml_load;
mod scenarios;
mod seed;
mod server;
mod slope;
mod wrk;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;

/// Command-line options.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "portcullis-bench",
    about = "Portcullis benchmark harness (issue 8)"
)]
pub struct Args {
    /// The `portcullis` binary to start (a release build for real figures).
    #[arg(
        long,
        env = "PORTCULLIS_BIN",
        default_value = "target/release/portcullis"
    )]
    pub server_bin: PathBuf,
    /// Directory scale: 1.0 is 10,000 users, 200 groups, 500 accounts, 50 permission sets,
    /// 50,000 assignments, 20 applications.
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
    /// Concurrent clients per scenario.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Seconds per scenario.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Seconds per physical floor measurement.
    #[arg(long, default_value_t = 5.0)]
    pub floor_duration: f64,
    /// Sessions created to measure Redis bytes per session.
    #[arg(long, default_value_t = 100_000)]
    pub sessions: usize,
    /// SSO access tokens for the portal API scenarios (each token may make 600 requests a
    /// minute, so this bounds the portal API load the run can offer).
    #[arg(long, default_value_t = 3_000)]
    pub sso_tokens: usize,
    /// Embedded mode only (SQLite directory, embedded sessions) instead of PostgreSQL + Redis.
    #[arg(long, conflicts_with = "also_embedded")]
    pub embedded: bool,
    /// PostgreSQL + Redis first, then the embedded mode, in one run and one report.
    #[arg(long)]
    pub also_embedded: bool,
    /// Only these scenarios (comma-separated names; default all; `slope` names the no-slope
    /// phase).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// CI mode: tiny scale, ~1 s per scenario, fails on any error, never on timing.
    #[arg(long)]
    pub smoke: bool,
    /// PostgreSQL server (a fresh database is created in it and dropped afterwards).
    #[arg(
        long,
        env = "PORTCULLIS_TEST_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pub postgres_url: String,
    #[arg(
        long,
        env = "PORTCULLIS_TEST_REDIS_URL",
        default_value = "redis://127.0.0.1:6379"
    )]
    pub redis_url: String,
    /// The no-slope phase (PostgreSQL + Redis only, on a fresh server): `--slope=false` skips it.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true")]
    pub slope: bool,
    /// ListAccounts requests per second in the no-slope phase (well below saturation).
    #[arg(long, default_value_t = 1_000.0)]
    pub slope_rate: f64,
    /// Session validations per second in the no-slope phase.
    #[arg(long, default_value_t = 500.0)]
    pub slope_session_rate: f64,
    /// Users in the no-slope phase's smaller directory.
    #[arg(long, default_value_t = 1_000)]
    pub slope_users_from: usize,
    /// Users the no-slope phase grows that directory to.
    #[arg(long, default_value_t = 100_000)]
    pub slope_users_to: usize,
    /// Seconds per measurement in the no-slope phase (longer than `--duration`: a p99 of a few
    /// thousand samples moves by more than the 20 % it is compared against).
    #[arg(long, default_value_t = 30.0)]
    pub slope_duration: f64,
    /// Sessions in Redis the no-slope phase grows to (from `--sessions`).
    #[arg(long, default_value_t = 1_000_000)]
    pub slope_sessions: usize,
    /// What drives the closed-loop scenarios whose requests can be replayed (client_credentials,
    /// the portal API, GetCallerIdentity, session validation): `wrk` (as the reference
    /// figures were measured), `built-in`, or `auto` (wrk when installed).
    #[arg(long, value_enum, default_value_t = Driver::Auto)]
    pub driver: Driver,
    /// Where the JSON results go.
    #[arg(long, default_value = "target/bench/results.json")]
    pub json: PathBuf,
    /// Where the markdown report goes (the full run writes `docs/benchmarks.md`); none in smoke
    /// mode unless given.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
}

/// The load generator for replayable scenarios.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Driver {
    Auto,
    Wrk,
    BuiltIn,
}

impl Args {
    /// Whether replayable scenarios go to wrk.
    pub fn use_wrk(&self) -> anyhow::Result<bool> {
        match self.driver {
            Driver::BuiltIn => Ok(false),
            Driver::Auto => Ok(wrk::available()),
            Driver::Wrk => {
                anyhow::ensure!(wrk::available(), "--driver wrk: wrk is not installed");
                Ok(true)
            }
        }
    }

    /// The smoke mode's settings over whatever was given.
    fn normalised(mut self) -> Self {
        if self.smoke {
            self.scale = self.scale.min(0.005);
            self.duration = self.duration.min(1.0);
            self.floor_duration = self.floor_duration.min(0.3);
            self.sessions = self.sessions.min(200);
            self.concurrency = self.concurrency.min(4);
            self.sso_tokens = self.sso_tokens.min(32);
            self.slope_rate = self.slope_rate.min(50.0);
            self.slope_session_rate = self.slope_session_rate.min(50.0);
            self.slope_users_from = self.slope_users_from.min(crate::seed::SIGNERS);
            self.slope_users_to = self.slope_users_to.min(200);
            self.slope_sessions = self.slope_sessions.min(2_000);
            self.slope_duration = self.slope_duration.min(1.0);
        }
        self.slope_users_to = self.slope_users_to.max(self.slope_users_from);
        self.slope_sessions = self.slope_sessions.max(self.sessions);
        self
    }

    pub fn scenario_duration(&self) -> Duration {
        Duration::from_secs_f64(self.duration.max(0.1))
    }

    pub fn slope_measurement(&self) -> Duration {
        Duration::from_secs_f64(self.slope_duration.max(0.1))
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse().normalised();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    runtime.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.server_bin.exists(),
        "no server binary at {} (build it: cargo build --release -p portcullis)",
        args.server_bin.display()
    );
    let machine = report::Machine::read();
    eprintln!("machine: {}", machine.describe());

    let floors = floors::measure(&args).await?;
    eprintln!("floors: {floors:?}");

    let mut backends = Vec::new();
    if !args.embedded {
        backends.push(server::Backend::Postgres);
    }
    if args.embedded || args.also_embedded {
        backends.push(server::Backend::Embedded);
    }
    let mut runs = Vec::new();
    for backend in backends {
        runs.push(scenarios::run_backend(&args, backend).await?);
    }
    let wanted = args.only.is_empty() || args.only.iter().any(|o| o == "slope");
    let slope = if args.slope && !args.embedded && wanted {
        Some(slope::run(&args).await.map_err(|e| format!("{e:#}")))
    } else {
        None
    };
    let results = report::Results::new(&args, machine, floors, runs, slope);

    if let Some(dir) = args.json.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&args.json, serde_json::to_string_pretty(&results)?)
        .with_context(|| format!("writing {}", args.json.display()))?;
    eprintln!("results: {}", args.json.display());
    if let Some(md) = &args.markdown {
        // The hand-written analysis at the end of the page survives a new run.
        let kept = std::fs::read_to_string(md)
            .ok()
            .and_then(|old| old.find(report::ANALYSIS).map(|i| old[i..].to_owned()))
            .unwrap_or_default();
        std::fs::write(md, results.markdown() + &kept)
            .with_context(|| format!("writing {}", md.display()))?;
        eprintln!("report: {}", md.display());
    }
    print!("{}", results.summary());

    let failures = results.errors();
    if !failures.is_empty() {
        anyhow::bail!("scenarios with errors:\n{}", failures.join("\n"));
    }
    Ok(())
}

//! The results: the machine, the floors, each backend's scenarios, and issue 8's targets marked
//! met or missed, as JSON and as the markdown page `docs/benchmarks.md`.

use std::fmt::Write as _;

use serde::Serialize;

use crate::Args;
use crate::floors::Floors;
use crate::load::Measured;
use crate::scenarios::BackendRun;
use crate::server::Backend;
use crate::slope::{MAX_RATIO, Pair, Slope};

/// The heading of the page's hand-written part, which a new run keeps.
pub const ANALYSIS: &str = "## Analysis";

/// What the figures were measured on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub nproc: usize,
    pub cpu_model: String,
    pub memory_gib: f64,
    pub kernel: String,
}

impl Machine {
    pub fn read() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        // The first processor's `key : value` lines.
        let field = |key: &str| {
            cpuinfo
                .lines()
                .take_while(|l| !l.trim().is_empty())
                .filter_map(|l| l.split_once(':'))
                .find(|(k, _)| k.trim() == key)
                .map(|(_, v)| v.trim().to_owned())
        };
        // The same "model name" covers generations whose signing speeds differ several-fold
        // (RSA with or without AVX-512 IFMA): the family, model and that flag tell them apart.
        let ifma = field("flags").is_some_and(|f| f.split(' ').any(|x| x == "avx512ifma"));
        let cpu_model = format!(
            "{}, family {} model {}, {}",
            field("model name").unwrap_or_else(|| "unknown".to_owned()),
            field("cpu family").unwrap_or_else(|| "?".to_owned()),
            field("model").unwrap_or_else(|| "?".to_owned()),
            if ifma { "AVX-512 IFMA" } else { "no AVX-512" }
        );
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let kib: f64 = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
            .to_owned();
        Self {
            nproc: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu_model,
            memory_gib: kib / 1024.0 / 1024.0,
            kernel,
        }
    }

    pub fn describe(&self) -> String {
        format!(
            "{} cores ({}), {:.1} GiB memory, Linux {}",
            self.nproc, self.cpu_model, self.memory_gib, self.kernel
        )
    }
}

/// One of issue 8's targets.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub name: String,
    pub wanted: String,
    pub measured: String,
    /// `None`: not measured in this run.
    pub met: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Results {
    pub generated_at: String,
    pub smoke: bool,
    pub concurrency: usize,
    pub seconds_per_scenario: f64,
    pub machine: Machine,
    pub floors: Floors,
    pub runs: Vec<BackendRun>,
    /// The no-slope phase (PostgreSQL + Redis, a server of its own); absent when not run.
    pub slope: Option<Slope>,
    /// Why the no-slope phase failed, when it did.
    pub slope_error: Option<String>,
    pub targets: Vec<Target>,
}

impl Results {
    pub fn new(
        args: &Args,
        machine: Machine,
        floors: Floors,
        runs: Vec<BackendRun>,
        slope: Option<Result<Slope, String>>,
    ) -> Self {
        let (slope, slope_error) = match slope {
            Some(Ok(s)) => (Some(s), None),
            Some(Err(e)) => (None, Some(e)),
            None => (None, None),
        };
        let mut targets: Vec<Target> = runs
            .iter()
            .find(|r| r.backend == Backend::Postgres)
            .map(|r| targets(&floors, r, slope.as_ref()))
            .unwrap_or_default();
        targets.extend(speed_targets(&floors, &runs));
        Self {
            generated_at: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
            smoke: args.smoke,
            concurrency: args.concurrency,
            seconds_per_scenario: args.duration,
            machine,
            floors,
            runs,
            slope,
            slope_error,
            targets,
        }
    }

    /// One line per scenario that had errors (the smoke mode's only check).
    pub fn errors(&self) -> Vec<String> {
        let slope = self.slope.iter().flat_map(|s| {
            s.measured()
                .filter(|m| m.errors > 0 || m.requests == 0)
                .map(|m| {
                    format!(
                        "no-slope {}: {} errors in {} requests: {}",
                        m.scenario,
                        m.errors,
                        m.requests,
                        m.error_samples.join(" | ")
                    )
                })
        });
        let failed = self
            .slope_error
            .iter()
            .map(|e| format!("no-slope phase failed: {e}"));
        self.runs
            .iter()
            .flat_map(|r| {
                r.scenarios
                    .iter()
                    .chain(&r.paced)
                    .filter(|m| m.errors > 0 || m.requests == 0)
                    .map(move |m| {
                        format!(
                            "{:?} {}: {} errors in {} requests: {}",
                            r.backend,
                            m.scenario,
                            m.errors,
                            m.requests,
                            m.error_samples.join(" | ")
                        )
                    })
            })
            .chain(slope)
            .chain(failed)
            .collect()
    }

    /// A short plain-text summary for the terminal.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        for r in &self.runs {
            let _ = writeln!(s, "{:?}:", r.backend);
            for m in r.scenarios.iter().chain(&r.paced) {
                let _ = writeln!(
                    s,
                    "  {:<28} {:>9.0}/s  p50 {:>7.2} ms  p99 {:>7.2} ms  errors {}",
                    label(m),
                    m.per_second,
                    m.p50_ms,
                    m.p99_ms,
                    m.errors
                );
            }
        }
        if let Some(sl) = &self.slope {
            let _ = writeln!(s, "No slope (PostgreSQL + Redis):");
            for p in [&sl.list_accounts, &sl.session_validation] {
                let _ = writeln!(
                    s,
                    "  {:<28} paced {:.0}/s  p99 {:.2} ms with {} {}, {:.2} ms with {}  ratio {:.2}",
                    p.scenario,
                    p.rate,
                    p.before.p99_ms,
                    p.from,
                    p.grown,
                    p.after.p99_ms,
                    p.to,
                    p.p99_ratio
                );
            }
        }
        for t in &self.targets {
            let _ = writeln!(
                s,
                "  [{}] {}: {} (wanted {})",
                verdict(t.met),
                t.name,
                t.measured,
                t.wanted
            );
        }
        s
    }

    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let f = &self.floors;
        let _ = writeln!(
            s,
            "# Benchmarks\n\n\
             Measured by `portcullis-bench` (crates/bench); how to run it, what each figure \
             means and what limits each missed target: the Analysis at the end of this page \
             (kept across runs; everything above it is generated). The load generator runs on the same host as the \
             server, PostgreSQL and Redis, so every figure is shared with them; compare ratios \
             measured in one run, not absolute figures across runs.\n\n\
             - Run: {} — {} concurrent clients, {:.0} s per scenario\n\
             - Machine: {}\n",
            self.generated_at,
            self.concurrency,
            self.seconds_per_scenario,
            self.machine.describe()
        );
        let _ = writeln!(
            s,
            "## Physical floors (same run)\n\n\
             | floor | per second |\n|---|---:|\n\
             | argon2id verifications, {} threads (m={} KiB, t={}, p={}) | {:.0} |\n\
             | RS256 signatures (RSA 2048, aws-lc-rs, key opened once), {} threads | {:.0} |\n\
             | ES256 signatures (P-256, aws-lc-rs, key opened once), {} threads | {:.0} |\n\
             | Redis SET (256 B, 32 in flight) | {:.0} |\n\
             | Redis GET | {:.0} |\n",
            f.threads,
            f.argon2_memory_kib,
            f.argon2_iterations,
            f.argon2_parallelism,
            f.argon2id_per_second,
            f.threads,
            f.rs256_signatures_per_second,
            f.threads,
            f.es256_signatures_per_second,
            f.redis_set_per_second,
            f.redis_get_per_second
        );
        if let Some(r) = &f.reference {
            let _ = writeln!(
                s,
                "\nReference handlers (the issue's reference figures, measured here the same way: an \
                 actix-web server with two workers, wrk -t2 -c{}, loopback):\n\n\
                 | reference handler | req/s |\n|---|---:|\n\
                 | trivial `GET` | {:.0} |\n\
                 | signs an ES256 JWT (key opened once) and returns JSON | {:.0} |\n\
                 | signs an RS256 JWT (key opened once) and returns JSON | {:.0} |\n",
                self.concurrency,
                r.trivial_get_per_second,
                r.es256_handler_per_second,
                r.rs256_handler_per_second
            );
        }
        if !self.targets.is_empty() {
            let _ = writeln!(
                s,
                "## Targets (issue 8 on PostgreSQL + Redis; issue 18 on both backends)\n\n| target | wanted | measured | |\n|---|---|---|---|"
            );
            for t in &self.targets {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} |",
                    t.name,
                    t.wanted,
                    t.measured,
                    verdict(t.met)
                );
            }
            s.push('\n');
        }
        for r in &self.runs {
            let title = match r.backend {
                Backend::Postgres => "PostgreSQL directory + Redis sessions",
                Backend::Embedded => "Embedded (SQLite directory + embedded sessions)",
            };
            let z = r.sizes;
            let _ = writeln!(
                s,
                "## {title}\n\n\
                 Directory: {} users, {} groups, {} accounts, {} permission sets, {} assignments, \
                 {} applications (seeded through the admin API in {:.0} s).\n",
                z.users,
                z.groups,
                z.accounts,
                z.permission_sets,
                z.assignments,
                z.applications,
                r.seed_seconds
            );
            let _ = writeln!(
                s,
                "| scenario | clients | req/s | p50 ms | p95 ms | p99 ms | max ms | errors | server CPU (cores) | server RSS MiB |\n\
                 |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
            );
            for m in r.scenarios.iter().chain(&r.paced) {
                row(&mut s, &label(m), m);
            }
            let _ = writeln!(
                s,
                "\nServer peak RSS over the run: {:.0} MiB.",
                r.server_peak_rss_mib
            );
            if let Some(b) = r.redis_bytes_per_session {
                let _ = writeln!(
                    s,
                    "Redis: {b:.0} bytes per session (INFO `used_memory` growth over {} sessions).",
                    r.sessions_measured
                );
            }
            for n in &r.notes {
                let _ = writeln!(s, "\n{n}");
            }
            s.push('\n');
        }
        if let Some(sl) = &self.slope {
            slope_markdown(&mut s, sl);
        } else if let Some(e) = &self.slope_error {
            let _ = writeln!(s, "## No slope\n\nThe no-slope phase failed: {e}\n");
        }
        s
    }
}

/// A measurement's row in the scenario tables.
fn row(s: &mut String, label: &str, m: &Measured) {
    let _ = writeln!(
        s,
        "| {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.1} | {} | {:.2} | {:.0} |",
        label,
        m.concurrency,
        m.per_second,
        m.p50_ms,
        m.p95_ms,
        m.p99_ms,
        m.max_ms,
        m.errors,
        m.server_cpu_cores,
        m.server_rss_mib
    );
}

/// The no-slope section: both pairs, how the directory and Redis grew.
fn slope_markdown(s: &mut String, sl: &Slope) {
    let z = sl.sizes;
    let _ = writeln!(
        s,
        "## No slope (PostgreSQL + Redis, a server of its own)\n\n\
         A fresh database seeded as the main directory is (same per-user density) at {} users \
         ({} groups, {} accounts, {} permission sets, {} assignments; {:.0} s), then grown; each \
         measurement {:.0} s long, paced at a fixed rate well below saturation after an \
         unmeasured warm-up at the same pace.\n\n\
         | scenario | clients | req/s | p50 ms | p95 ms | p99 ms | max ms | errors | server CPU (cores) | server RSS MiB |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        thousands(z.users),
        thousands(z.groups),
        thousands(z.accounts),
        thousands(z.permission_sets),
        thousands(z.assignments),
        sl.seed_seconds,
        sl.seconds_per_measurement
    );
    for p in [&sl.list_accounts, &sl.session_validation] {
        for (m, n) in [(&p.before, p.from), (&p.after, p.to)] {
            let label = format!(
                "{}, {} {} (paced {:.0}/s)",
                p.scenario,
                thousands(n),
                p.grown,
                p.rate
            );
            row(s, &label, m);
        }
        if let Some(m) = &p.again {
            let label = format!(
                "{}, {} {} again, the added ones removed (paced {:.0}/s)",
                p.scenario,
                thousands(p.from),
                p.grown,
                p.rate
            );
            row(s, &label, m);
        }
    }
    s.push('\n');
    for p in [&sl.list_accounts, &sl.session_validation] {
        let _ = writeln!(
            s,
            "- {}: p99 {:.2} ms with {} {}, {:.2} ms with {} (ratio {:.2}). Growing from {} to {} \
             took {:.0} s: {}.",
            p.scenario,
            p.before.p99_ms,
            thousands(p.from),
            p.grown,
            p.after.p99_ms,
            thousands(p.to),
            p.p99_ratio,
            thousands(p.from),
            thousands(p.to),
            p.grow_seconds,
            p.grow_how
        );
        if let Some(m) = &p.again {
            let _ = writeln!(
                s,
                "  Control: with the added ones removed again, p99 {:.2} ms and p50 {:.2} ms \
                 (against {:.2} and {:.2} ms at first): what the order of the measurements alone \
                 changes.",
                m.p99_ms, m.p50_ms, p.before.p99_ms, p.before.p50_ms
            );
        }
    }
    let _ = writeln!(
        s,
        "\nServer peak RSS over the phase: {:.0} MiB.\n",
        sl.server_peak_rss_mib
    );
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A no-slope target row from its pair.
fn slope_target(name: String, p: &Pair) -> Target {
    let kept_up = |m: &Measured| m.per_second >= p.rate * 0.95;
    let pace = if kept_up(&p.before) && kept_up(&p.after) {
        String::new()
    } else {
        format!(
            "; pace not kept ({:.0} and {:.0} of {:.0} req/s)",
            p.before.per_second, p.after.per_second, p.rate
        )
    };
    Target {
        name,
        wanted: format!(
            "within 20 % (p99 at most {MAX_RATIO:.1} × the smaller one's, at {:.0} req/s)",
            p.rate
        ),
        measured: format!(
            "{:.2} ms vs {:.2} ms = {:.0} % ({:+.0} %){pace}",
            p.after.p99_ms,
            p.before.p99_ms,
            p.p99_ratio * 100.0,
            (p.p99_ratio - 1.0) * 100.0
        ),
        met: Some(p.met()),
    }
}

fn label(m: &Measured) -> String {
    let by = if m.driver == "wrk" { " (wrk)" } else { "" };
    match m.target_rate {
        Some(r) => format!("{}{by} (paced {:.0}/s)", m.scenario, r),
        None => format!("{}{by}", m.scenario),
    }
}

fn verdict(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "met",
        Some(false) => "**missed**",
        None => "not measured",
    }
}

/// Issue 8's targets, on the PostgreSQL + Redis run.
/// Issue 18's targets: the SAML round trip on both backends against raw RS256 signing, and the
/// embedded store's write-heavy grants against PostgreSQL + Redis of the same run.
fn speed_targets(f: &Floors, runs: &[BackendRun]) -> Vec<Target> {
    let find = |backend: Backend, name: &str| {
        runs.iter()
            .find(|r| r.backend == backend)
            .and_then(|r| r.scenarios.iter().find(|m| m.scenario == name))
    };
    let mut out = Vec::new();
    for (backend, label) in [
        (Backend::Postgres, "PostgreSQL + Redis"),
        (Backend::Embedded, "embedded"),
    ] {
        if let Some(m) = find(backend, "saml_redirect") {
            let q = m.per_second / f.rs256_signatures_per_second.max(1e-9);
            out.push(Target {
                name: format!("SAML round trip for a signed-in person (saml_redirect), {label}"),
                wanted: format!(
                    "≥ 40 % of raw RS256 signing ({:.0}/s)",
                    f.rs256_signatures_per_second
                ),
                measured: format!("{:.0}/s = {:.1} %", m.per_second, q * 100.0),
                met: Some(q >= 0.40),
            });
        }
    }
    for (name, scenario) in [
        ("embedded refresh", "refresh"),
        (
            "embedded authorization code (with its sign-in)",
            "authorization_code_pkce",
        ),
    ] {
        if let (Some(pg), Some(emb)) = (
            find(Backend::Postgres, scenario),
            find(Backend::Embedded, scenario),
        ) {
            let q = emb.per_second / pg.per_second.max(1e-9);
            out.push(Target {
                name: name.to_owned(),
                wanted: format!("≥ 80 % of PostgreSQL + Redis ({:.0}/s)", pg.per_second),
                measured: format!("{:.0}/s = {:.1} %", emb.per_second, q * 100.0),
                met: Some(q >= 0.80),
            });
        }
    }
    out
}

fn targets(f: &Floors, r: &BackendRun, slope: Option<&Slope>) -> Vec<Target> {
    let find = |name: &str| r.scenarios.iter().find(|m| m.scenario == name);
    let paced = |name: &str| r.paced.iter().find(|m| m.scenario == name);
    let mut out = Vec::new();
    let mut rate = |name: &str, scenario: &str, wanted: f64| {
        if let Some(m) = find(scenario) {
            out.push(Target {
                name: name.to_owned(),
                wanted: format!("≥ {wanted:.0} req/s"),
                measured: format!("{:.0} req/s", m.per_second),
                met: Some(m.per_second >= wanted),
            });
        }
    };
    rate(
        "client_credentials, ES256 client",
        "client_credentials_es256",
        25_000.0,
    );
    rate("ListAccounts", "list_accounts", 15_000.0);
    rate("GetRoleCredentials", "get_role_credentials", 10_000.0);
    rate("GetCallerIdentity", "get_caller_identity", 10_000.0);
    let mut ratio = |name: &str, scenario: &str, floor: f64, floor_name: &str| {
        if let Some(m) = find(scenario) {
            let q = m.per_second / floor.max(1e-9);
            out.push(Target {
                name: name.to_owned(),
                wanted: format!("≥ 85 % of {floor_name} ({:.0}/s)", floor),
                measured: format!("{:.0}/s = {:.1} %", m.per_second, q * 100.0),
                met: Some(q >= 0.85),
            });
        }
    };
    ratio(
        "client_credentials, RS256 client",
        "client_credentials_rs256",
        f.rs256_signatures_per_second,
        "raw RS256 signing",
    );
    ratio(
        "password sign-in (form POSTs to session)",
        "password_signin",
        f.argon2id_per_second,
        "the argon2id limit",
    );
    for name in [
        "list_accounts",
        "get_role_credentials",
        "get_caller_identity",
    ] {
        if let Some(m) = paced(name) {
            let kept_up = m.per_second >= m.target_rate.unwrap_or(0.0) * 0.95;
            out.push(Target {
                name: format!("{name} p99 at half its target rate"),
                wanted: format!("< 10 ms at {:.0} req/s", m.target_rate.unwrap_or(0.0)),
                measured: format!("{:.2} ms at {:.0} req/s", m.p99_ms, m.per_second),
                met: Some(m.p99_ms < 10.0 && kept_up),
            });
        }
    }
    if let Some(b) = r.redis_bytes_per_session {
        out.push(Target {
            name: "Redis bytes per session".into(),
            wanted: "≤ 512 (over 100,000 sessions)".into(),
            measured: format!("{b:.0} (over {} sessions)", r.sessions_measured),
            met: Some(b <= 512.0),
        });
    }
    out.push(Target {
        name: "server RSS under load".into(),
        wanted: "≤ 150 MB".into(),
        measured: format!("{:.0} MiB peak", r.server_peak_rss_mib),
        met: Some(r.server_peak_rss_mib * 1.048_576 <= 150.0),
    });
    match slope {
        Some(sl) => {
            let (la, sv) = (&sl.list_accounts, &sl.session_validation);
            out.push(slope_target(
                format!(
                    "no slope: ListAccounts p99, {} vs {} users",
                    thousands(la.to),
                    thousands(la.from)
                ),
                la,
            ));
            out.push(slope_target(
                format!(
                    "no slope: session-validation p99 with {} vs {} sessions in Redis",
                    thousands(sv.to),
                    thousands(sv.from)
                ),
                sv,
            ));
        }
        None => {
            for name in [
                "no slope: ListAccounts p99, 100,000 vs 1,000 users",
                "no slope: session-validation p99 with 1,000,000 sessions in Redis",
            ] {
                out.push(Target {
                    name: name.into(),
                    wanted: "within 20 %".into(),
                    measured: "—".into(),
                    met: None,
                });
            }
        }
    }
    out
}

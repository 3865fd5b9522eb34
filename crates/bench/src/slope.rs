//! Issue 8's no-slope targets, on PostgreSQL + Redis only and on a server of its own (a fresh
//! database and a fresh Redis key prefix), each a pair of p99s at one fixed pace well below
//! saturation, with exactly one thing grown between the two:
//!
//! 1. ListAccounts with 1,000 users, then with 100,000: the smaller directory is seeded as the main
//!    run seeds (same per-user density of groups, accounts and assignments); the rest is added
//!    through the admin API with the same density (each new user in a group, with as many direct
//!    assignments as the seeded users have), and the second measurement uses the tokens of users
//!    of both cohorts.
//! 2. Session validation (the portal page for a signed-in browser, as the `session_validation`
//!    scenario) with the usual ~100,000 sessions in Redis, then with 1,000,000: the sessions are
//!    created through the server's own session store under the server's key prefix, and removed
//!    with the prefix when the phase ends.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use portcullis_sessions::SystemClock;
use portcullis_testkit::{Browser, snippet};
use serde::Serialize;
use serde_json::json;

use crate::Args;
use crate::load::{Measured, Op, drive, op, parallel};
use crate::report::thousands;
use crate::scenarios::{portal_get, sso_tokens};
use crate::seed::{self, Admin, PASSWORD, Seeded, Sizes};
use crate::server::{Backend, Server};

/// Admin API calls in flight while the directory grows.
const GROW_CONCURRENCY: usize = 32;
/// Sessions created in flight while Redis fills.
const FILL_CONCURRENCY: usize = 64;
/// Users of the added cohort given a password: their tokens join the second measurement.
const NEW_SIGNERS: usize = 16;
/// Browsers the session validations rotate over.
const BROWSERS: usize = 4;
/// The bound: the p99 after growing at most this many times the p99 before.
pub const MAX_RATIO: f64 = 1.2;

/// Two measurements of one scenario at one pace, before and after growing one thing.
#[derive(Debug, Clone, Serialize)]
pub struct Pair {
    pub scenario: String,
    /// What grew between the two measurements.
    pub grown: String,
    pub from: usize,
    pub to: usize,
    /// How long growing took, and how it was done.
    pub grow_seconds: f64,
    pub grow_how: String,
    pub rate: f64,
    pub before: Measured,
    pub after: Measured,
    /// The smaller size measured once more after what was added is removed: a control for what
    /// the order of the measurements alone changes (session validation only).
    pub again: Option<Measured>,
    /// p99 after over p99 before.
    pub p99_ratio: f64,
}

impl Pair {
    fn new(
        scenario: &str,
        grown: &str,
        (from, to): (usize, usize),
        (grow_seconds, grow_how): (f64, String),
        before: Measured,
        after: Measured,
    ) -> Self {
        Self {
            scenario: scenario.to_owned(),
            grown: grown.to_owned(),
            from,
            to,
            grow_seconds,
            grow_how,
            rate: before.target_rate.unwrap_or(0.0),
            p99_ratio: after.p99_ms / before.p99_ms.max(1e-6),
            before,
            after,
            again: None,
        }
    }

    /// Within the bound, with both measurements keeping the pace (a server that fell behind
    /// would not be measured at the rate the pair claims).
    pub fn met(&self) -> bool {
        let kept_up = |m: &Measured| m.per_second >= self.rate * 0.95;
        self.p99_ratio <= MAX_RATIO && kept_up(&self.before) && kept_up(&self.after)
    }
}

/// The no-slope phase's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Slope {
    /// The smaller directory (seeded as the main run seeds).
    pub sizes: Sizes,
    pub seed_seconds: f64,
    pub list_accounts: Pair,
    pub session_validation: Pair,
    pub server_peak_rss_mib: f64,
    pub seconds_per_measurement: f64,
}

impl Slope {
    pub fn measured(&self) -> impl Iterator<Item = &Measured> {
        [&self.list_accounts, &self.session_validation]
            .into_iter()
            .flat_map(|p| [&p.before, &p.after])
    }
}

/// Runs the phase on a server of its own; removes its database and every key under its prefix.
pub async fn run(args: &Args) -> anyhow::Result<Slope> {
    eprintln!(
        "== no-slope phase (PostgreSQL + Redis): starting {}",
        args.server_bin.display()
    );
    let server = Server::start(args, Backend::Postgres).await?;
    let result = run_on(args, &server).await;
    if let Err(e) = &result {
        eprintln!("server output:\n{}", server.log_tail());
        eprintln!("no-slope error: {e:#}");
    }
    let prefix = server.redis_prefix.clone();
    server.stop().await?;
    if let Some(p) = prefix {
        let started = Instant::now();
        crate::floors::delete_prefix(&args.redis_url, &p)
            .await
            .with_context(|| format!("deleting the Redis keys under {p}"))?;
        eprintln!(
            "no-slope: Redis keys under {p} deleted in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    result
}

async fn run_on(args: &Args, server: &Server) -> anyhow::Result<Slope> {
    let prefix = server
        .redis_prefix
        .clone()
        .context("the server has no Redis prefix")?;
    let base = server.base.clone();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(args.concurrency.max(GROW_CONCURRENCY) * 2 + 8)
        .timeout(Duration::from_secs(60))
        .build()?;

    let sizes = Sizes::scaled(args.slope_users_from as f64 / 10_000.0);
    eprintln!("no-slope: seeding {sizes:?}");
    let seeded = seed::seed(&client, &base, sizes)
        .await
        .context("seeding the smaller directory")?;
    eprintln!("no-slope: seeded in {:.1} s", seeded.seconds);
    let started = Instant::now();
    fill_sessions(&args.redis_url, &prefix, args.sessions)
        .await
        .context("creating the usual sessions")?;
    eprintln!(
        "no-slope: {} sessions created in Redis in {:.1} s",
        args.sessions,
        started.elapsed().as_secs_f64()
    );

    // 1. ListAccounts, the smaller directory, then the larger.
    let per_cohort = tokens_per_cohort(args.slope_rate, args.slope_measurement());
    let old = sso_tokens(&client, &base, &seeded.signers, per_cohort)
        .await
        .context("SSO tokens of the seeded users")?;
    let before = paced(
        args,
        server,
        "list_accounts",
        list_accounts(&client, &base, old.clone()),
        args.slope_rate,
        &format!("{} users", sizes.users),
    )
    .await;
    let started = Instant::now();
    let (new_signers, calls) = grow_directory(&client, &base, &seeded, args.slope_users_to)
        .await
        .context("growing the directory")?;
    let grow_seconds = started.elapsed().as_secs_f64();
    let to = sizes.users.max(args.slope_users_to);
    eprintln!(
        "no-slope: directory grown to {to} users in {grow_seconds:.1} s ({calls} admin API calls)"
    );
    let mut tokens = old;
    if !new_signers.is_empty() {
        let new = sso_tokens(&client, &base, &new_signers, per_cohort)
            .await
            .context("SSO tokens of the added users")?;
        // Alternate the cohorts: every other request is an added user's.
        tokens = tokens
            .into_iter()
            .zip(new)
            .flat_map(|(o, n)| [o, n])
            .collect();
    }
    let after = paced(
        args,
        server,
        "list_accounts",
        list_accounts(&client, &base, tokens),
        args.slope_rate,
        &format!("{to} users"),
    )
    .await;
    let list_accounts = Pair::new(
        "list_accounts",
        "users",
        (sizes.users, to),
        (
            grow_seconds,
            format!(
                "{} admin API calls ({GROW_CONCURRENCY} in flight): users, memberships, direct \
                 assignments",
                thousands(calls)
            ),
        ),
        before,
        after,
    );

    // 2. Session validation, the usual sessions in Redis, then a million.
    let mut browsers = Vec::new();
    for user in seeded.signers.iter().take(BROWSERS) {
        let b = Browser::with_jar(&client, &base);
        b.try_sign_in_to_portal(user, PASSWORD).await?;
        browsers.push(b);
    }
    let browsers = Arc::new(browsers);
    let label = |n: usize| format!("{n} sessions in Redis");
    let before = paced(
        args,
        server,
        "session_validation",
        session_validation(browsers.clone()),
        args.slope_session_rate,
        &label(args.sessions),
    )
    .await;
    let started = Instant::now();
    let added = args.slope_sessions.saturating_sub(args.sessions);
    let added_users = fill_sessions(&args.redis_url, &prefix, added)
        .await
        .context("creating the extra sessions")?;
    let fill_seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "no-slope: {added} more sessions created in Redis in {fill_seconds:.1} s ({} in all)",
        args.slope_sessions
    );
    if !args.smoke {
        // Redis grows its main hash table incrementally, a step with each command and more every
        // 100 ms: let it finish, as it would long before a million sessions had built up.
        tokio::time::sleep(REDIS_SETTLE).await;
    }
    let after = paced(
        args,
        server,
        "session_validation",
        session_validation(browsers.clone()),
        args.slope_session_rate,
        &label(args.slope_sessions),
    )
    .await;
    let started = Instant::now();
    remove_sessions(&args.redis_url, &prefix, added_users)
        .await
        .context("removing the extra sessions")?;
    eprintln!(
        "no-slope: the {added} extra sessions removed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    if !args.smoke {
        tokio::time::sleep(REDIS_SETTLE).await;
    }
    let again = paced(
        args,
        server,
        "session_validation",
        session_validation(browsers),
        args.slope_session_rate,
        &format!("{}, again", label(args.sessions)),
    )
    .await;
    let mut session_validation = Pair::new(
        "session_validation",
        "sessions in Redis",
        (args.sessions, args.slope_sessions),
        (
            fill_seconds,
            format!(
                "{} sessions through the server's session store (portcullis-sessions \
                 RedisSessions, {FILL_CONCURRENCY} in flight)",
                thousands(added)
            ),
        ),
        before,
        after,
    );
    session_validation.again = Some(again);
    let (_, peak) = server.rss_mib();
    Ok(Slope {
        sizes,
        seed_seconds: seeded.seconds,
        list_accounts,
        session_validation,
        server_peak_rss_mib: peak,
        seconds_per_measurement: args.slope_measurement().as_secs_f64(),
    })
}

/// Tokens per cohort so that no token passes the portal API's 600 requests a minute: the seeded
/// cohort's tokens serve the whole first measurement and half the second (warm-ups included),
/// with a third of the allowance to spare.
fn tokens_per_cohort(rate: f64, d: Duration) -> usize {
    let per_measurement = rate * d.as_secs_f64() * 1.2;
    ((per_measurement * 1.5 / 400.0).ceil() as usize).clamp(2, 2_000)
}

/// How long Redis is left alone after the extra sessions are created.
const REDIS_SETTLE: Duration = Duration::from_secs(10);

/// A warm-up at the pace (a fifth of the duration, not kept: the first measurement should not pay
/// for caches the second finds warm), then the measurement.
async fn paced(
    args: &Args,
    server: &Server,
    name: &str,
    op: Op,
    rate: f64,
    label: &str,
) -> Measured {
    // Both sides of a pair start from a settled database: growing it leaves autovacuum and
    // checkpoint work that would otherwise land in the second measurement only.
    if let Err(e) = server.settle_database().await {
        eprintln!("no-slope: could not settle the database: {e:#}");
    }
    let d = args.slope_measurement();
    let c = args.concurrency;
    let _ = drive(name, op.clone(), c, d.mul_f64(0.2), Some(rate), server).await;
    let m = drive(name, op, c, d, Some(rate), server).await;
    eprintln!(
        "no-slope {name}, {label}, paced at {rate}/s: {:.0}/s p50 {:.2} ms p99 {:.2} ms errors {}",
        m.per_second, m.p50_ms, m.p99_ms, m.errors
    );
    for s in &m.error_samples {
        eprintln!("  error: {s}");
    }
    m
}

/// ListAccounts (`GET /assignment/accounts`), the tokens in turn; fails on an empty list.
fn list_accounts(client: &reqwest::Client, base: &str, tokens: Vec<String>) -> Op {
    let (client, base, tokens) = (client.clone(), base.to_owned(), Arc::new(tokens));
    let next = Arc::new(AtomicUsize::new(0));
    op(move |_| {
        let (client, base, tokens) = (client.clone(), base.clone(), tokens.clone());
        let n = next.fetch_add(1, Ordering::Relaxed);
        async move {
            let token = &tokens[n % tokens.len()];
            let v = portal_get(&client, &base, token, "/assignment/accounts").await?;
            anyhow::ensure!(
                v["accountList"].as_array().is_some_and(|a| !a.is_empty()),
                "no accounts: {}",
                snippet(&v.to_string())
            );
            Ok(())
        }
    })
}

/// The portal page for a signed-in browser (the `session_validation` scenario).
fn session_validation(browsers: Arc<Vec<Browser>>) -> Op {
    op(move |i| {
        let b = browsers[i % browsers.len()].fork();
        async move {
            let page = b.try_get("/portal").await?;
            anyhow::ensure!(page.status == 200, "GET /portal: {}", page.status);
            Ok(())
        }
    })
}

/// Adds users up to `to` with the seeded directory's density: each in one of the groups other
/// than the signers' (whose group assignments it inherits) with as many direct assignments as the
/// seeded users have on average, spread over accounts and roles as the seed spreads them. Some of
/// them get the bench password. Returns their names and the number of admin API calls made.
async fn grow_directory(
    client: &reqwest::Client,
    base: &str,
    seeded: &Seeded,
    to: usize,
) -> anyhow::Result<(Vec<String>, usize)> {
    let s = seeded.sizes;
    let from = s.users;
    if to <= from {
        return Ok((Vec::new(), 0));
    }
    let count = to - from;
    let admin = Admin::new(client, base);
    let groups = Arc::new(seeded.groups.clone());
    let roles = Arc::new(seeded.permission_sets.clone());
    anyhow::ensure!(
        groups.len() >= 2 && !roles.is_empty(),
        "the seeded directory has too few groups or roles"
    );
    let direct = (s.assignments - s.assignments / 10) as f64 / s.users as f64;
    let accounts = s.accounts;
    let step = (count / NEW_SIGNERS).max(1);
    let signer = move |j: usize| j.is_multiple_of(step) && j / step < NEW_SIGNERS;
    let calls = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let tenth = (count / 10).max(1);
    let started = Instant::now();
    let (c, d) = (calls.clone(), done.clone());
    parallel(GROW_CONCURRENCY, count, move |j| {
        let (admin, groups, roles, calls, done) = (
            admin.clone(),
            groups.clone(),
            roles.clone(),
            c.clone(),
            d.clone(),
        );
        async move {
            let i = from + j;
            let name = seed::user_name(i);
            let v = admin
                .post(
                    "users",
                    json!({"userName": name, "email": format!("{name}@bench.example.com"),
                           "givenName": "Bench", "familyName": format!("User {i}")}),
                )
                .await?;
            let user = seed::id_of(&v, "userId")?;
            let group = &groups[1 + i % (groups.len() - 1)];
            admin
                .put(&format!("groups/{group}/members/{user}"), None)
                .await?;
            let n =
                ((i + 1) as f64 * direct).floor() as usize - (i as f64 * direct).floor() as usize;
            for k in 0..n {
                let account = seed::account_id((i * 7 + k * 13) % accounts);
                let role = &roles[(i + k * 3) % roles.len()];
                admin
                    .post(
                        "assignments",
                        json!({"accountId": account, "permissionSetId": role,
                               "principalType": "USER", "principalId": user}),
                    )
                    .await?;
            }
            let mut made = 2 + n;
            if signer(j) {
                admin
                    .put(
                        &format!("users/{user}/password"),
                        Some(json!({"password": PASSWORD, "temporary": false})),
                    )
                    .await?;
                made += 1;
            }
            calls.fetch_add(made, Ordering::Relaxed);
            let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
            if finished.is_multiple_of(tenth) && count >= 10_000 {
                eprintln!(
                    "no-slope: {finished}/{count} users added ({:.0} s)",
                    started.elapsed().as_secs_f64()
                );
            }
            Ok(())
        }
    })
    .await?;
    let names = (0..count)
        .filter(|&j| signer(j))
        .map(|j| seed::user_name(from + j))
        .collect();
    Ok((names, calls.load(Ordering::Relaxed)))
}

/// Creates `n` portal sessions (ten per made-up user, as a browser signing in makes them) through
/// the server's own session store under its key prefix; returns the made-up users. They expire in
/// two hours, should the bench be stopped before it deletes them.
async fn fill_sessions(
    url: &str,
    prefix: &str,
    n: usize,
) -> anyhow::Result<Vec<portcullis_domain::UserId>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let store = session_store(url, prefix).await?;
    crate::floors::create_sessions(store, n, chrono::Duration::hours(2), FILL_CONCURRENCY).await
}

/// Ends every session of `users` through the server's own session store.
async fn remove_sessions(
    url: &str,
    prefix: &str,
    users: Vec<portcullis_domain::UserId>,
) -> anyhow::Result<()> {
    use portcullis_sessions::SessionStore as _;
    let store = session_store(url, prefix).await?;
    let users = Arc::new(users);
    parallel(FILL_CONCURRENCY, users.len(), move |i| {
        let (store, users) = (store.clone(), users.clone());
        async move {
            store.revoke_user_sessions(users[i]).await?;
            Ok(())
        }
    })
    .await
}

async fn session_store(
    url: &str,
    prefix: &str,
) -> anyhow::Result<Arc<portcullis_sessions::redis::RedisSessions>> {
    Ok(Arc::new(
        portcullis_sessions::redis::RedisSessions::connect(url, prefix, Arc::new(SystemClock))
            .await?,
    ))
}

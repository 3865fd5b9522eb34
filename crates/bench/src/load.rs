//! The load driver: N workers repeat one operation until a deadline, closed-loop (as fast as the
//! server answers) or paced at a fixed total rate (open-loop: latency counts from the moment a
//! request was due, so a stalled server is not hidden). Latencies are kept whole and sorted at
//! the end; the server's CPU time and memory are read around the run.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::server::Server;

/// One operation of a scenario, for worker `i`.
pub type Op =
    Arc<dyn Fn(usize) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>> + Send + Sync>;

/// Builds an [`Op`] from an async closure body.
pub fn op<F, Fut>(f: F) -> Op
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    Arc::new(move |i| Box::pin(f(i)))
}

/// What one scenario measured.
#[derive(Debug, Clone, Serialize)]
pub struct Measured {
    pub scenario: String,
    pub concurrency: usize,
    /// Requests per second asked for (paced runs).
    pub target_rate: Option<f64>,
    /// Completed operations (successful or not).
    pub requests: u64,
    pub errors: u64,
    /// The first few distinct error messages.
    pub error_samples: Vec<String>,
    pub seconds: f64,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Server CPU time over wall time (2.0 = both cores busy).
    pub server_cpu_cores: f64,
    pub server_rss_mib: f64,
    pub server_peak_rss_mib: f64,
    /// What generated the load: `built-in` (this crate's client) or `wrk`.
    pub driver: &'static str,
}

struct WorkerResult {
    latencies_us: Vec<u32>,
    errors: u64,
    samples: Vec<String>,
}

/// Runs `op` with `concurrency` workers for `duration`; paced at `rate` total requests per second
/// when given.
pub async fn drive(
    name: &str,
    op: Op,
    concurrency: usize,
    duration: Duration,
    rate: Option<f64>,
    server: &Server,
) -> Measured {
    let concurrency = concurrency.max(1);
    let cpu_before = server.cpu_seconds();
    let started = Instant::now();
    let deadline = started + duration;
    let interval = rate.map(|r| Duration::from_secs_f64(concurrency as f64 / r.max(1.0)));
    let mut handles = Vec::with_capacity(concurrency);
    for i in 0..concurrency {
        let op = op.clone();
        handles.push(tokio::spawn(async move {
            let mut r = WorkerResult {
                latencies_us: Vec::with_capacity(4096),
                errors: 0,
                samples: Vec::new(),
            };
            // Paced workers start spread over one interval, not all at once.
            let mut due = interval.map(|iv| started + iv.mul_f64(i as f64 / concurrency as f64));
            loop {
                let from = match (&mut due, interval) {
                    (Some(d), Some(iv)) => {
                        let at = *d;
                        *d += iv;
                        // A server slower than the pace leaves a backlog: it is not worked
                        // off past the deadline (its latency is in what was measured).
                        if at >= deadline || Instant::now() >= deadline {
                            break;
                        }
                        tokio::time::sleep_until(at.into()).await;
                        at
                    }
                    _ => {
                        let now = Instant::now();
                        if now >= deadline {
                            break;
                        }
                        now
                    }
                };
                let outcome = op(i).await;
                let us = from.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
                r.latencies_us.push(us);
                if let Err(e) = outcome {
                    r.errors += 1;
                    let msg = format!("{e:#}");
                    if r.samples.len() < 3 && !r.samples.contains(&msg) {
                        r.samples.push(msg);
                    }
                }
            }
            r
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut samples: Vec<String> = Vec::new();
    for h in handles {
        match h.await {
            Ok(r) => {
                latencies.extend(r.latencies_us);
                errors += r.errors;
                for s in r.samples {
                    if samples.len() < 3 && !samples.contains(&s) {
                        samples.push(s);
                    }
                }
            }
            Err(e) => {
                errors += 1;
                samples.push(format!("worker panicked: {e}"));
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu = server.cpu_seconds() - cpu_before;
    let (rss, peak) = server.rss_mib();
    latencies.sort_unstable();
    let q = |p: f64| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        let idx = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1;
        f64::from(latencies[idx]) / 1000.0
    };
    let requests = latencies.len() as u64;
    Measured {
        scenario: name.to_owned(),
        concurrency,
        target_rate: rate,
        requests,
        errors,
        error_samples: samples,
        seconds,
        per_second: (requests - errors.min(requests)) as f64 / seconds.max(1e-9),
        p50_ms: q(0.50),
        p95_ms: q(0.95),
        p99_ms: q(0.99),
        max_ms: latencies.last().map_or(0.0, |&v| f64::from(v) / 1000.0),
        server_cpu_cores: cpu / seconds.max(1e-9),
        server_rss_mib: rss,
        server_peak_rss_mib: peak,
        driver: "built-in",
    }
}

/// Runs `f(i)` for `i in 0..count` on `concurrency` tasks; the first error stops the rest.
pub async fn parallel<F, Fut>(concurrency: usize, count: usize, f: F) -> anyhow::Result<()>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let next = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicBool::new(false));
    let f = Arc::new(f);
    let mut handles = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (next, failed, f) = (next.clone(), failed.clone(), f.clone());
        handles.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count || failed.load(Ordering::Relaxed) {
                    return Ok(());
                }
                if let Err(e) = f(i).await {
                    failed.store(true, Ordering::Relaxed);
                    return Err(e);
                }
            }
        }));
    }
    for h in handles {
        h.await??;
    }
    Ok(())
}

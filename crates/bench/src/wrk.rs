//! The closed-loop scenarios whose requests can be replayed, driven by `wrk` (Debian's `wrk`)
//! when it is installed: the issue's reference figures were measured with `wrk -t2 -c32`, and
//! wrk spends far less of the shared two cores per request than a Rust HTTP client with a
//! scenario around it, so what is measured is more the server's and less the load generator's.
//!
//! A [`Replay`] is a fixed method and body, with request variants (path and headers)
//! taken in turn — many SSO tokens for the portal API (each token has its own request budget),
//! several pre-signed SigV4 requests for GetCallerIdentity (valid for the ±5-minute skew window).
//! Every answer with a status of 400 or more (wrk's own count), and every socket error or
//! timeout, counts as an error.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::Deserialize;

use crate::load::Measured;
use crate::server::Server;

/// One request variant: path and headers.
#[derive(Debug, Clone)]
pub struct Variant {
    pub path: String,
    pub headers: Vec<(String, String)>,
}

/// A request wrk can repeat.
#[derive(Debug, Clone)]
pub struct Replay {
    pub method: &'static str,
    pub body: Option<String>,
    pub variants: Vec<Variant>,
}

/// Whether `wrk` can be run here.
pub fn available() -> bool {
    std::process::Command::new("wrk")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// What the script's `done` prints (microseconds).
#[derive(Debug, Deserialize)]
pub struct Summary {
    pub requests: u64,
    pub duration_us: u64,
    pub errors: u64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

impl Summary {
    /// Answers that were not errors, per second.
    pub fn per_second(&self) -> f64 {
        (self.requests - self.errors.min(self.requests)) as f64
            / (self.duration_us as f64 / 1e6).max(1e-9)
    }
}

/// The wrk script that replays `replay`.
pub fn script(name: &str, replay: &Replay) -> anyhow::Result<String> {
    anyhow::ensure!(!replay.variants.is_empty(), "{name}: nothing to replay");
    Ok(lua(replay))
}

/// Runs the wrk `script` against `base` with `connections` connections on two threads for
/// `duration` (the script is written into `dir`). The script's `done` prints the summary line.
pub async fn run(
    name: &str,
    lua_script: &str,
    base: &str,
    connections: usize,
    duration: Duration,
    dir: &Path,
) -> anyhow::Result<Summary> {
    let script = dir.join(format!("{name}.lua"));
    std::fs::write(&script, lua_script).with_context(|| format!("writing {}", script.display()))?;
    let mut cmd = std::process::Command::new("wrk");
    cmd.arg("-t2")
        .arg(format!("-c{}", connections.max(2)))
        .arg(format!("-d{}s", duration.as_secs().max(1)))
        .arg("--timeout")
        .arg("10s")
        .arg("-s")
        .arg(&script)
        .arg(base);
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .context("waiting for wrk")?
        .context("running wrk")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    anyhow::ensure!(
        out.status.success(),
        "wrk failed ({}): {}{}",
        out.status,
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    let json = stdout
        .lines()
        .find_map(|l| l.strip_prefix("WRKJSON "))
        .with_context(|| format!("no summary in wrk's output: {stdout}"))?;
    serde_json::from_str(json).context("wrk's summary")
}

/// [`run`] against the server under test, with its CPU and memory read around the run.
pub async fn drive(
    name: &str,
    lua_script: &str,
    base: &str,
    connections: usize,
    duration: Duration,
    server: &Server,
    dir: &Path,
) -> anyhow::Result<Measured> {
    let cpu_before = server.cpu_seconds();
    let started = Instant::now();
    let s = run(name, lua_script, base, connections, duration, dir).await?;
    let seconds = started.elapsed().as_secs_f64();
    let cpu = server.cpu_seconds() - cpu_before;
    let (rss, peak) = server.rss_mib();
    let ms = |us: f64| us / 1000.0;
    Ok(Measured {
        scenario: name.to_owned(),
        concurrency: connections,
        target_rate: None,
        requests: s.requests,
        errors: s.errors,
        error_samples: if s.errors > 0 {
            vec![format!(
                "{} answers were not what the scenario wants (a status of 400 or more, or its \
                 own check), or failed",
                s.errors
            )]
        } else {
            Vec::new()
        },
        seconds: (s.duration_us as f64 / 1e6).max(1e-9),
        per_second: s.per_second(),
        p50_ms: ms(s.p50),
        p95_ms: ms(s.p95),
        p99_ms: ms(s.p99),
        max_ms: ms(s.max),
        server_cpu_cores: cpu / seconds.max(1e-9),
        server_rss_mib: rss,
        server_peak_rss_mib: peak,
        driver: "wrk",
    })
}

/// A Lua string literal.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The wrk script: the variants in a table, taken in turn (each thread from its own offset);
/// answers with another status counted per thread and summed in `done`.
fn lua(r: &Replay) -> String {
    let mut s = String::from("local variants = {\n");
    for v in &r.variants {
        let _ = write!(s, "  {{ path = {}, headers = {{", quoted(&v.path));
        for (k, val) in &v.headers {
            let _ = write!(s, " [{}] = {},", quoted(k), quoted(val));
        }
        s.push_str(" } },\n");
    }
    s.push_str("}\n");
    let body = r.body.as_deref().map_or("nil".to_owned(), quoted);
    let _ = write!(
        s,
        r#"local method, body = {method}, {body}
local threads = {{}}
function setup(thread)
  table.insert(threads, thread)
  thread:set("offset", #threads * 7919)
end
-- Every request is formatted once, here; request() only picks the next one (wrk's advice for
-- fast servers), and there is no response() callback, so wrk reads answers without Lua.
function init(args)
  prepared = {{}}
  for k, v in ipairs(variants) do prepared[k] = wrk.format(method, v.path, v.headers, body) end
  i = offset
end
function request()
  i = i + 1
  return prepared[(i % #prepared) + 1]
end
"#,
        method = quoted(r.method),
    );
    s.push_str(&done("e.status"));
    s
}

/// The script's `done`: prints the [`Summary`] line [`run`] reads, counting as errors wrk's
/// socket errors and timeouts plus `also` (a Lua expression: wrk's `e.status`, or a script's own
/// count).
pub fn done(also: &str) -> String {
    format!(
        r#"function done(summary, latency, requests)
  local e = summary.errors
  local failed = e.connect + e.read + e.write + e.timeout + {also}
  io.write(string.format(
    'WRKJSON {{"requests":%d,"duration_us":%d,"errors":%d,"p50":%f,"p95":%f,"p99":%f,"max":%f}}\n',
    summary.requests, summary.duration, failed, latency:percentile(50),
    latency:percentile(95), latency:percentile(99), latency.max))
end
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_quotes_what_it_embeds() {
        let r = Replay {
            method: "POST",
            body: Some("a=\"b\"\n".into()),
            variants: vec![Variant {
                path: "/x?y=1".into(),
                headers: vec![("x-amz-sso_bearer_token".into(), "t\\\"".into())],
            }],
        };
        let script = lua(&r);
        assert!(script.contains(r#"path = "/x?y=1""#), "{script}");
        assert!(
            script.contains(r#"["x-amz-sso_bearer_token"] = "t\\\"""#),
            "{script}"
        );
        assert!(script.contains(r#"local method, body = "POST", "a=\"b\"\n""#));
    }
}

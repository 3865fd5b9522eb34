//! The `portcullis` binary as an operator runs it: configuration layering, `serve`, `migrate`,
//! and `admin …` against a running server (passwords from standard input, names, keys,
//! completions and the man page: `admin_cli`); the deployment files checked against the binary
//! (`deploy_files`, `deploy_kubernetes`); several nodes sharing PostgreSQL and Redis (`cluster`); and what happens
//! when PostgreSQL or Redis goes away and comes back (`faults`); token redemptions cut off at
//! every session-store command (`interrupted`); OTLP export of spans and
//! metrics to a collector stand-in (`telemetry`); `/metrics` scraped (`prometheus`); the binary
//! linking no C library but libc (`native_libraries`).
//!
//! One test binary: the modules live in `tests/cli/`.

#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "cli/admin_cli.rs"]
mod admin_cli;
#[path = "cli/bootstrap_revoke.rs"]
mod bootstrap_revoke;
#[path = "cli/cluster.rs"]
mod cluster;
#[path = "cli/cluster_oidc.rs"]
mod cluster_oidc;
#[path = "cli/config_text.rs"]
mod config_text;
#[path = "cli/deploy_files.rs"]
mod deploy_files;
#[path = "cli/deploy_kubernetes.rs"]
mod deploy_kubernetes;
#[path = "cli/faults.rs"]
mod faults;
/// The house: floors, siblings and backends, read from `cargo metadata` and the sources.
#[path = "cli/house.rs"]
mod house;
#[path = "cli/interrupted.rs"]
mod interrupted;
/// No C library but libc: `ldd` of the binary, and what it is built from.
#[path = "cli/native_libraries.rs"]
mod native_libraries;
#[path = "cli/prometheus.rs"]
mod prometheus;
#[path = "cli/provisioning_cli.rs"]
mod provisioning_cli;
#[path = "cli/telemetry.rs"]
mod telemetry;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A browser at the node `base`: cookie-keeping, every request with the CLI tests' timeout.
pub fn browser_at(base: &str) -> portcullis_testkit::Browser {
    portcullis_testkit::Browser::with_timeout(base, portcullis_testkit::TIMEOUT)
}

const BIN: &str = env!("CARGO_BIN_EXE_portcullis");

/// A command with a clean environment: no PORTCULLIS variables from the caller leak in.
fn portcullis(dir: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    c
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn config_check_prints_defaults_with_secrets_redacted() {
    let dir = tempfile::tempdir().expect("dir");
    let secret_file = dir.path().join("token");
    std::fs::write(&secret_file, "pcat_file-secret-value-1234567890\n").expect("write");
    let out = portcullis(dir.path())
        .args(["config", "check"])
        .env("PORTCULLIS__PUBLIC_URL", "https://id.example.com")
        .env("PORTCULLIS__DATABASE__MAX_CONNECTIONS", "32")
        .env(
            "PORTCULLIS__MASTER_KEY",
            "c3VwZXItc2VjcmV0LW1hc3Rlci1rZXktMzItYnl0ZXMh",
        )
        .env("PORTCULLIS__ADMIN__BOOTSTRAP_TOKEN_FILE", &secret_file)
        .output()
        .expect("run");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains(r#"public_url = "https://id.example.com""#),
        "{stdout}"
    );
    assert!(stdout.contains("max_connections = 32"), "{stdout}");
    assert!(
        stdout.contains(r#"listen = "127.0.0.1:8080""#),
        "defaults stay: {stdout}"
    );
    assert!(
        stdout.contains(r#"bootstrap_token = "<redacted>""#),
        "{stdout}"
    );
    assert!(stdout.contains(r#"master_key = "<redacted>""#), "{stdout}");
    assert!(
        !stdout.contains("file-secret-value") && !stdout.contains("c3VwZXIt"),
        "{stdout}"
    );
}

#[test]
fn toml_file_is_overridden_by_environment() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("portcullis.toml");
    std::fs::write(&file, "listen = \"127.0.0.1:9000\"\npublic_url = \"https://from-file.example.com\"\n[log]\nformat = \"json\"\n").expect("write");
    let out = portcullis(dir.path())
        .args(["--config", file.to_str().expect("utf8"), "config", "check"])
        .env("PORTCULLIS__LISTEN", "127.0.0.1:9001")
        .output()
        .expect("run");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains(r#"listen = "127.0.0.1:9001""#),
        "env wins over the file: {stdout}"
    );
    assert!(
        stdout.contains(r#"public_url = "https://from-file.example.com""#),
        "{stdout}"
    );
    assert!(stdout.contains(r#"format = "json""#), "{stdout}");
}

#[test]
fn unknown_keys_and_variables_are_errors() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "[database]\nurll = \"postgres://x\"\n").expect("write");
    let out = portcullis(dir.path())
        .args(["--config", file.to_str().expect("utf8"), "config", "check"])
        .output()
        .expect("run");
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("urll"), "names the unknown key: {stderr}");

    let out = portcullis(dir.path())
        .args(["config", "check"])
        .env("PORTCULLIS__SESSIONS__TTL", "5")
        .output()
        .expect("run");
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("ttl") && stderr.contains("PORTCULLIS__SESSIONS__TTL"),
        "{stderr}"
    );

    for (var, value, needle) in [
        ("PORTCULLIS__DATABASE__URL", "mysql://x", "database.url"),
        ("PORTCULLIS__SESSIONS__URL", "memcached://x", "sessions.url"),
        ("PORTCULLIS__LISTEN", "everywhere", "listen"),
        ("PORTCULLIS__PUBLIC_URL", "not a url", "public_url"),
        (
            "PORTCULLIS__DATABASE__MAX_CONNECTIONS",
            "many",
            "max_connections",
        ),
        (
            "PORTCULLIS__DATABASE__CACHE_SECONDS",
            "3601",
            "database.cache_seconds",
        ),
        (
            "PORTCULLIS__SIGNIN__TRUSTED_PROXIES",
            "[\"10.0.0.0/8\",\"proxy.example\"]",
            "trusted_proxies",
        ),
        (
            "PORTCULLIS__TELEMETRY__PROMETHEUS_LISTEN",
            "everywhere",
            "prometheus_listen",
        ),
    ] {
        let out = portcullis(dir.path())
            .args(["config", "check"])
            .env(var, value)
            .output()
            .expect("run");
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{var}: {stderr}");
        assert!(stderr.contains(needle), "{var}: {stderr}");
    }
    let out = portcullis(dir.path())
        .args(["config", "check"])
        .env("PORTCULLIS__MASTER_KEY", "a")
        .env("PORTCULLIS__MASTER_KEY_FILE", "/nonexistent")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
}

/// A `portcullis serve` process; killed when dropped.
struct Server {
    child: Child,
    url: String,
    /// The port of `/metrics` when it is served on a port of its own.
    metrics_port: Option<u16>,
}

/// A TCP port that was free a moment ago on 127.0.0.1 (for servers that cannot bind port 0).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind port 0")
        .local_addr()
        .expect("local addr")
        .port()
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `serve` on port 0 with JSON logs and reads the bound port from the log.
fn serve(dir: &Path, extra_env: &[(&str, &str)]) -> Server {
    serve_logged(dir, extra_env).0
}

/// As [`serve`], with the log lines written before it served.
fn serve_logged(dir: &Path, extra_env: &[(&str, &str)]) -> (Server, Vec<String>) {
    let mut cmd = portcullis(dir);
    cmd.arg("serve")
        .env("PORTCULLIS__LISTEN", "127.0.0.1:0")
        .env("PORTCULLIS__LOG__FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn serve");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        let Some(Ok(line)) = lines.next() else { break };
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
            && v["fields"]["message"] == "Portcullis is serving"
        {
            let port = v["fields"]["port"].as_u64().expect("port");
            let metrics_port = v["fields"]["metrics_port"]
                .as_u64()
                .and_then(|p| u16::try_from(p).ok());
            // Keep draining the log so the server never blocks on a full pipe.
            std::thread::spawn(move || for _ in lines.by_ref() {});
            let server = Server {
                child,
                url: format!("http://127.0.0.1:{port}"),
                metrics_port,
            };
            return (server, seen);
        }
        seen.push(line);
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the server did not start: {}", seen.join("\n"));
}

#[test]
fn serve_writes_a_private_bootstrap_token_and_admin_cli_uses_it() {
    let dir = tempfile::tempdir().expect("dir");
    // A data directory that exists already, readable by everyone: serve restricts it.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir(dir.path().join("data")).expect("data dir");
        std::fs::set_permissions(
            dir.path().join("data"),
            std::fs::Permissions::from_mode(0o755),
        )
        .expect("chmod");
    }
    let server = serve(dir.path(), &[]);
    let token_file = dir.path().join("data/bootstrap-admin-token");
    let token = std::fs::read_to_string(&token_file).expect("bootstrap token file");
    assert!(token.trim().starts_with("pcat_"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&dir.path().join("data")), 0o700, "the data directory");
        // Every file in it — the token, the master key, the SQLite stores and their -wal and
        // -shm files — is its owner's alone.
        let files: Vec<_> = std::fs::read_dir(dir.path().join("data"))
            .expect("list")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.is_file())
            .collect();
        for name in [
            "bootstrap-admin-token",
            "master-key",
            "portcullis.db",
            "sessions.db",
        ] {
            assert!(
                files
                    .iter()
                    .any(|f| f.file_name().is_some_and(|n| n == name)),
                "{name} in {files:?}"
            );
        }
        for file in &files {
            assert_eq!(mode(file), 0o600, "{}", file.display());
        }
    }

    let admin = |args: &[&str]| {
        // No --token: the CLI finds the bootstrap token in the data directory.
        portcullis(dir.path())
            .arg("admin")
            .arg("--url")
            .arg(&server.url)
            .args(args)
            .output()
            .expect("run admin")
    };
    let out = admin(&[
        "users",
        "create",
        "--user-name",
        "zoe",
        "--email",
        "zoe@example.com",
        "--given-name",
        "Zoe",
    ]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("userName") && stdout.contains("zoe"),
        "{stdout}"
    );

    let out = admin(&["users", "list"]);
    let (stdout, _) = text(&out);
    let mut lines = stdout.lines();
    assert!(
        lines
            .next()
            .is_some_and(|h| h.starts_with("USER ID") && h.contains("USER NAME")),
        "{stdout}"
    );
    assert!(
        lines
            .next()
            .is_some_and(|l| l.contains("zoe") && l.contains("zoe@example.com")),
        "{stdout}"
    );

    let out = admin(&["--json", "users", "list"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["users"][0]["displayName"], "Zoe");

    let out = admin(&[
        "users",
        "create",
        "--user-name",
        "ZOE",
        "--email",
        "z2@example.com",
    ]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("409") && stderr.contains("userName"),
        "{stderr}"
    );

    let out = admin(&["tokens", "create", "--name", "automation"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let created = stdout
        .lines()
        .find(|l| l.starts_with("token "))
        .expect("token line")
        .to_owned();
    let secret = created.trim_start_matches("token").trim().to_owned();
    let out = portcullis(dir.path())
        .args([
            "admin",
            "--url",
            &server.url,
            "settings",
            "set",
            "--session-duration",
            "PT12H",
        ])
        .env("PORTCULLIS_ADMIN_TOKEN", &secret)
        .output()
        .expect("run");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("PT12H"), "{stdout}");

    let out = admin(&["settings", "set", "--session-duration", "P91D"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("sessionDuration") && stderr.contains("90 days"),
        "{stderr}"
    );

    let out = admin(&["audit", "--action", "settings.*"]);
    let (stdout, _) = text(&out);
    assert!(
        stdout.contains("settings.update") && stdout.contains("admin-token:"),
        "{stdout}"
    );

    let out = portcullis(dir.path())
        .args([
            "admin",
            "--url",
            &server.url,
            "--token",
            "pcat_wrong",
            "users",
            "list",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn restart_keeps_everything_and_does_not_regenerate_the_token() {
    let dir = tempfile::tempdir().expect("dir");
    let first = serve(dir.path(), &[]);
    let token =
        std::fs::read_to_string(dir.path().join("data/bootstrap-admin-token")).expect("token");
    let out = portcullis(dir.path())
        .args([
            "admin",
            "--url",
            &first.url,
            "groups",
            "create",
            "--display-name",
            "Keepers",
        ])
        .output()
        .expect("run");
    assert!(out.status.success());
    drop(first);

    let second = serve(dir.path(), &[]);
    let again =
        std::fs::read_to_string(dir.path().join("data/bootstrap-admin-token")).expect("token");
    assert_eq!(token, again);
    let out = portcullis(dir.path())
        .args(["admin", "--url", &second.url, "--json", "groups", "list"])
        .output()
        .expect("run");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["groups"][0]["displayName"], "Keepers");
}

#[test]
fn migrate_applies_the_schema_and_serve_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().expect("dir");
    let out = portcullis(dir.path()).arg("migrate").output().expect("run");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("migrations applied (sqlite)"), "{stdout}");
    assert!(dir.path().join("data/portcullis.db").exists());

    let mut server = serve(dir.path(), &[]);
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(server.child.id().to_string())
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(code) = server.child.try_wait().expect("wait") {
            assert!(code.success(), "exit status {code:?}");
            break;
        }
        assert!(Instant::now() < deadline, "did not stop within 30 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn postgres_requires_a_master_key() {
    let dir = tempfile::tempdir().expect("dir");
    let out = portcullis(dir.path())
        .arg("serve")
        .env(
            "PORTCULLIS__DATABASE__URL",
            "postgres://postgres@127.0.0.1:1/none",
        )
        .output()
        .expect("run");
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(stderr.contains("MASTER_KEY"), "{stderr}");
}

/// Runs `portcullis admin --url URL ARGS…` against a running server: (exit code, stdout, stderr).
fn admin_cli(dir: &Path, url: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let out = portcullis(dir)
        .arg("admin")
        .arg("--url")
        .arg(url)
        .args(args)
        .output()
        .expect("run admin");
    let (stdout, stderr) = text(&out);
    (out.status.code(), stdout, stderr)
}

/// `portcullis admin --url URL --json ARGS…`, which must succeed: its answer.
fn admin_json(dir: &Path, url: &str, args: &[&str]) -> serde_json::Value {
    let (code, stdout, stderr) = admin_cli(dir, url, &[&["--json"], args].concat());
    assert_eq!(code, Some(0), "{args:?}: {stderr}");
    serde_json::from_str(&stdout).expect("json")
}

#[test]
fn admin_cli_manages_one_time_passwords_sessions_and_mfa_devices() {
    let dir = tempfile::tempdir().expect("dir");
    let server = serve(dir.path(), &[]);
    let admin = |args: &[&str]| admin_cli(dir.path(), &server.url, args);
    let (code, stdout, stderr) = admin(&[
        "--json",
        "users",
        "create",
        "--user-name",
        "ola",
        "--email",
        "ola@example.com",
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    let user: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    let id = user["userId"].as_str().expect("id").to_owned();

    let (code, stdout, _) = admin(&["users", "one-time-password", &id]);
    assert_eq!(code, Some(0));
    let line = stdout
        .lines()
        .find(|l| l.starts_with("oneTimePassword"))
        .expect("the password line")
        .to_owned();
    assert_eq!(
        line.split_whitespace().nth(1).map(str::len),
        Some(16),
        "{stdout}"
    );

    let (code, stdout, _) = admin(&["users", "sessions", &id]);
    assert_eq!(code, Some(0));
    assert!(stdout.starts_with("SESSION ID"), "{stdout}");
    let (code, stdout, _) = admin(&["users", "revoke-sessions", &id]);
    assert_eq!(code, Some(0));
    assert!(
        stdout.contains("revoked") && stdout.contains('0'),
        "{stdout}"
    );
    let (code, stdout, _) = admin(&["users", "mfa-devices", &id]);
    assert_eq!(code, Some(0));
    assert!(stdout.starts_with("DEVICE ID"), "{stdout}");
    let (code, _, stderr) = admin(&["users", "remove-mfa-device", &id, &uuid_like()]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("404"), "{stderr}");
}

#[test]
fn admin_cli_sets_and_removes_application_icons() {
    let dir = tempfile::tempdir().expect("dir");
    let server = serve(dir.path(), &[]);
    let admin = |args: &[&str]| admin_cli(dir.path(), &server.url, args);
    let (code, stdout, stderr) = admin(&[
        "--json",
        "applications",
        "create",
        "--name",
        "Payroll",
        "--kind",
        "SAML",
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    let created: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    let id = created["applicationId"].as_str().expect("id").to_owned();

    let png = dir.path().join("logo.png");
    std::fs::write(&png, b"\x89PNG\r\n\x1a\nnot really drawn").expect("write");
    let svg = dir.path().join("logo.svg");
    std::fs::write(&svg, b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>").expect("write");

    let png_arg = png.to_str().expect("utf-8 path");
    let (code, stdout, stderr) = admin(&["applications", "set-icon", &id, png_arg]);
    assert_eq!((code, stdout.trim()), (Some(0), "icon set"), "{stderr}");
    let (code, _, stderr) = admin(&[
        "applications",
        "set-icon",
        &id,
        svg.to_str().expect("utf-8"),
    ]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("415"), "{stderr}");
    let missing = dir.path().join("missing.png");
    let (code, _, stderr) = admin(&[
        "applications",
        "set-icon",
        &id,
        missing.to_str().expect("utf-8"),
    ]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("cannot read"), "{stderr}");

    let (code, stdout, stderr) = admin(&["applications", "remove-icon", &id]);
    assert_eq!((code, stdout.trim()), (Some(0), "icon removed"), "{stderr}");
    let (code, _, stderr) = admin(&["applications", "remove-icon", &id]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("404"), "{stderr}");
}

fn uuid_like() -> String {
    "00000000-0000-4000-8000-000000000000".into()
}

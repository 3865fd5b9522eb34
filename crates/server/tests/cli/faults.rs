//! Faults: a `portcullis serve` on a PostgreSQL cluster and a Redis server of the test's own,
//! each stopped and started again under it. Portcullis must answer (503, never a hang or a 500)
//! while one is down and recover by itself when it is back.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use portcullis_testkit::{Admin, PASSWORD, TIMEOUT};
use reqwest::Method;

use super::cluster::{ADMIN_TOKEN, MASTER_KEY};
use crate::{free_port, serve};

/// How long a restarted store may take to answer, and Portcullis to notice.
const RECOVERY: Duration = Duration::from_secs(30);

fn wait_until(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ok() {
        assert!(Instant::now() < deadline, "{what} within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status();
}

/// A `redis-server` of our own, AOF on, in a temporary directory; stopped when dropped.
struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

impl RedisServer {
    fn start(dir: &Path) -> Self {
        let mut redis = Self {
            child: None,
            port: free_port(),
            dir: dir.to_owned(),
        };
        redis.up();
        redis
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn ping(&self) -> bool {
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
        let mut buf = [0u8; 64];
        s.write_all(b"PING\r\n").is_ok()
            && s.read(&mut buf)
                .is_ok_and(|n| buf[..n].starts_with(b"+PONG"))
    }

    fn up(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "yes"])
            .args(["--appendfsync", "everysec", "--dir"])
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (apt-get install -y redis-server)");
        self.child = Some(child);
        wait_until("redis-server answers PING", RECOVERY, || self.ping());
    }

    /// A clean shutdown (SIGTERM: Redis flushes the append-only file and exits).
    fn down(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(child.id(), "TERM");
            let deadline = Instant::now() + Duration::from_secs(10);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        assert!(!self.ping(), "redis-server stopped");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A PostgreSQL cluster of our own (`initdb` + `pg_ctl`), on a free port, trust authentication;
/// stopped when dropped. As root, the server programs run as the `postgres` user.
struct PostgresCluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    as_postgres: bool,
    running: bool,
}

impl PostgresCluster {
    /// `Err(reason)` when no cluster can be made here.
    fn create(tmp: &Path) -> Result<Self, String> {
        let bin = std::env::var_os("PG_BIN")
            .map(PathBuf::from)
            .or_else(|| {
                let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
                    .ok()?
                    .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
                    .filter(|b| b.join("initdb").exists())
                    .collect();
                found.sort_by_key(|p| {
                    p.parent()
                        .and_then(|v| v.file_name())
                        .and_then(|v| v.to_str())
                        .and_then(|v| v.parse::<u32>().ok())
                });
                found.pop()
            })
            .ok_or("no PostgreSQL server programs (initdb) under /usr/lib/postgresql/*/bin")?;
        let uid = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default();
        let as_postgres = uid == "0";
        if as_postgres {
            // initdb refuses to run as root: the cluster belongs to the postgres user.
            let chown = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(tmp)
                .status()
                .map_err(|e| format!("chown: {e}"))?;
            if !chown.success() {
                return Err("running as root and cannot give the directory to the postgres user (is there one?)".into());
            }
        }
        let mut cluster = Self {
            bin,
            dir: tmp.to_owned(),
            port: free_port(),
            as_postgres,
            running: false,
        };
        let out = cluster
            .command("initdb")
            .arg("-D")
            .arg(cluster.data())
            .args(["-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"])
            .output()
            .map_err(|e| format!("initdb: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        cluster.up();
        Ok(cluster)
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        let mut c = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        };
        c.stdin(Stdio::null());
        c
    }

    fn pg_ctl(&self, args: &[&str]) -> std::process::Output {
        self.command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(args)
            .output()
            .expect("pg_ctl")
    }

    fn up(&mut self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("postgres.log");
        let out = self.pg_ctl(&["-o", &options, "-l", &log.to_string_lossy(), "-w", "start"]);
        assert!(
            out.status.success(),
            "pg_ctl start: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        self.running = true;
    }

    fn down(&mut self) {
        let out = self.pg_ctl(&["-m", "fast", "-w", "stop"]);
        assert!(
            out.status.success(),
            "pg_ctl stop: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.running = false;
    }
}

impl Drop for PostgresCluster {
    fn drop(&mut self) {
        if self.running {
            let _ = self.pg_ctl(&["-m", "immediate", "-w", "stop"]);
        }
    }
}

/// Runs `f`, returning its result and how long it took.
async fn timed<T>(f: impl std::future::Future<Output = T>) -> (T, Duration) {
    let t = Instant::now();
    let v = f.await;
    (v, t.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_and_postgres_outages_answer_503_and_recover_without_a_restart() {
    let pg_dir = tempfile::tempdir().expect("dir");
    let mut pg = match PostgresCluster::create(pg_dir.path()) {
        Ok(pg) => pg,
        Err(reason) => {
            eprintln!("SKIPPED: cannot run a PostgreSQL cluster of our own here: {reason}");
            return;
        }
    };
    let redis_dir = tempfile::tempdir().expect("dir");
    let mut redis = RedisServer::start(redis_dir.path());
    let app_dir = tempfile::tempdir().expect("dir");
    let (pg_url, redis_url) = (pg.url(), redis.url());
    let app_path = app_dir.path().to_owned();
    let server = tokio::task::spawn_blocking(move || {
        serve(
            &app_path,
            &[
                ("PORTCULLIS__DATABASE__URL", &pg_url),
                ("PORTCULLIS__DATABASE__MAX_CONNECTIONS", "4"),
                ("PORTCULLIS__SESSIONS__URL", &redis_url),
                ("PORTCULLIS__MASTER_KEY", MASTER_KEY),
                ("PORTCULLIS__ADMIN__BOOTSTRAP_TOKEN", ADMIN_TOKEN),
            ],
        )
    })
    .await
    .expect("serve");
    let base = server.url.as_str();
    let admin = Admin::new(ADMIN_TOKEN);
    let plain = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .build()
        .expect("client");
    let status_of = |path: &str| {
        let req = plain.get(format!("{base}{path}"));
        async move {
            let resp = req.send().await.expect("an answer");
            let status = resp.status().as_u16();
            (status, resp.text().await.unwrap_or_default())
        }
    };
    admin.mfa_never(base).await;
    admin.person(base, "ada").await;
    admin.person(base, "bea").await;

    // A session made before Redis goes away.
    let before = super::browser_at(base);
    let done = before.sign_in("ada", PASSWORD).await;
    assert_eq!(done.status, 303, "{done:?}");
    // A sign-in half done (username given) when Redis goes away.
    let halfway = super::browser_at(base);
    let start = halfway.get("/start").await;
    let named = halfway
        .try_post(
            "/signin/username",
            &[("csrf", &start.csrf()), ("username", "bea")],
        )
        .await
        .expect("username");
    assert_eq!(named.status, 303, "{named:?}");
    let password_form = halfway.get("/signin/password").await;

    // ---- Redis down ----
    redis.down();
    let ((status, body), took) = timed(status_of("/readyz")).await;
    eprintln!("Redis down: /readyz answered {status} in {took:?}: {body}");
    assert_eq!(status, 503, "readyz fails without Redis: {body}");
    let ready: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(
        (ready["sessions"].as_str(), ready["directory"].as_str()),
        (Some("unreachable"), Some("ok")),
        "readyz names the session store: {body}"
    );
    assert_eq!(status_of("/healthz").await.0, 200, "healthz stays 200");

    // The first page needs no store: its CSRF token is a cookie.
    let fresh = super::browser_at(base);
    let (start, took) = timed(fresh.try_get("/start")).await;
    let start = start.expect("GET /start answers without Redis");
    eprintln!(
        "Redis down: GET /start answered {} in {took:?}",
        start.status
    );
    assert_eq!(start.status, 200, "the sign-in page still shows: {start:?}");
    // Posting the username needs the store: the unavailable page, promptly.
    let (named, took) = timed(fresh.try_post(
        "/signin/username",
        &[("csrf", &start.csrf()), ("username", "bea")],
    ))
    .await;
    let named = named.expect("signing in answers without Redis (no hang)");
    eprintln!(
        "Redis down: POST /signin/username answered {} in {took:?}",
        named.status
    );
    assert_eq!(named.status, 503, "{named:?}");
    assert!(
        named.body.contains("Sign-in is unavailable"),
        "{}",
        named.body
    );
    // Half-way through: the password cannot be checked against a pending sign-in nobody can read.
    let (posted, took) = timed(halfway.try_post(
        "/signin/password",
        &[("csrf", &password_form.csrf()), ("password", PASSWORD)],
    ))
    .await;
    let posted = posted.expect("the password step answers without Redis");
    eprintln!(
        "Redis down: POST /signin/password answered {} in {took:?}",
        posted.status
    );
    assert_eq!(posted.status, 503, "{posted:?}");
    assert!(
        posted.body.contains("Sign-in is unavailable"),
        "{}",
        posted.body
    );
    // The portal cannot check a session: it says so rather than signing the person out.
    let (portal, took) = timed(before.try_get("/portal")).await;
    let portal = portal.expect("the portal answers without Redis");
    eprintln!(
        "Redis down: GET /portal answered {} in {took:?}",
        portal.status
    );
    assert_eq!(portal.status, 503, "{portal:?}");
    // The directory does not need Redis.
    let (users, took) = timed(admin.try_call(Method::GET, base, "users", None)).await;
    let users = users.expect("admin API answers without Redis");
    eprintln!(
        "Redis down: GET /admin/v1/users answered {} in {took:?}",
        users.status
    );
    assert_eq!(users.status, 200, "{users:?}");

    // ---- Redis back (same data directory: the append-only file) ----
    let t = Instant::now();
    redis.up();
    let mut ready_after = None;
    while t.elapsed() < RECOVERY {
        if status_of("/readyz").await.0 == 200 {
            ready_after = Some(t.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ready_after = ready_after.expect("readyz is 200 again after Redis restarts");
    eprintln!("Redis restarted: /readyz 200 again after {ready_after:?}");
    let again = fresh.sign_in("bea", PASSWORD).await;
    assert_eq!(
        (again.status, again.location.as_deref()),
        (303, Some("/portal")),
        "sign-in works again without restarting Portcullis: {again:?}"
    );
    let kept = before.get("/portal").await;
    assert_eq!(
        kept.status, 200,
        "the session made before the Redis restart survives it (AOF): {kept:?}"
    );

    // ---- PostgreSQL down ----
    let cal = admin.person(base, "cal").await;
    pg.down();
    let (users, took) = timed(admin.try_call(Method::GET, base, "users", None)).await;
    let users = users.expect("admin API answers without PostgreSQL (no hang)");
    eprintln!(
        "PostgreSQL down: GET /admin/v1/users answered {} in {took:?}: {}",
        users.status, users.body
    );
    assert_eq!(users.status, 503, "{users:?}");
    assert_eq!(users.body["error"], "Unavailable", "{users:?}");
    let (users, took) = timed(admin.try_call(Method::GET, base, "users", None)).await;
    let users = users.expect("a second call answers too");
    eprintln!(
        "PostgreSQL down: a second call answered {} in {took:?}",
        users.status
    );
    assert_eq!(users.status, 503, "{users:?}");
    assert_eq!(status_of("/healthz").await.0, 200, "healthz stays 200");
    let ((status, body), took) = timed(status_of("/readyz")).await;
    eprintln!("PostgreSQL down: /readyz answered {status} in {took:?}: {body}");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains(r#""directory":"unreachable""#), "{body}");
    // Signing in needs the directory (the password): the unavailable page, not a 500.
    let (page, took) = timed(super::browser_at(base).try_sign_in("bea", PASSWORD)).await;
    let page = page.expect("sign-in answers without PostgreSQL");
    eprintln!(
        "PostgreSQL down: signing in answered {} in {took:?}",
        page.status
    );
    assert_eq!(page.status, 503, "{page:?}");
    assert!(
        page.body.contains("Sign-in is unavailable"),
        "{}",
        page.body
    );

    // ---- PostgreSQL back ----
    let t = Instant::now();
    pg.up();
    let mut back = None;
    while t.elapsed() < RECOVERY {
        if let Ok(a) = admin.try_call(Method::GET, base, "users", None).await
            && a.status == 200
        {
            back = Some((t.elapsed(), a));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (after, users) = back.expect("admin calls work again after PostgreSQL restarts");
    eprintln!("PostgreSQL restarted: admin API 200 again after {after:?}");
    assert!(
        users.body["users"]
            .as_array()
            .is_some_and(|u| u.iter().any(|u| u["userId"] == cal.as_str())),
        "the user created before the restart is there: {users:?}"
    );
    assert_eq!(status_of("/readyz").await.0, 200, "ready again");
    let kept = before.get("/portal").await;
    assert_eq!(kept.status, 200, "sessions were never affected: {kept:?}");
    drop(server);
}

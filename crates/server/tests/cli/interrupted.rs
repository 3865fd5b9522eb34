//! Token redemptions cut off by the session store at every step: a `portcullis serve` talks to
//! Redis through a proxy of the test's own that counts the commands it forwards and, when told,
//! drops the connection at the k-th one (the commands before it may have run, their replies
//! lost). For each k the redemption answers 503 (or succeeds, when k lies past its last command),
//! and the client's retry with the same code or refresh token then succeeds: no grant is lost,
//! and a refresh retried again within the grace window gets the same tokens, not a third pair.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use portcullis_sessions::testing::{RedisCleanup, redis_url, unique_prefix};
use portcullis_store::testing::fresh_postgres;
use portcullis_testkit::{Admin, Browser, PASSWORD};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::cluster::{ADMIN_TOKEN, MASTER_KEY};
use super::cluster_oidc::{REDIRECT, active, application, code_for, token_call};
use crate::serve;

/// Counts the Redis commands passing through; drops the connection carrying the armed one.
#[derive(Default)]
struct Faults {
    forwarded: AtomicU64,
    /// The number (counted from the start) of the command to drop at; 0 when none is armed.
    drop_at: AtomicU64,
    dropped: AtomicU64,
}

impl Faults {
    /// Arms a drop at the `k`-th command from now (1 = the next one).
    fn arm(&self, k: u64) {
        let now = self.forwarded.load(Ordering::SeqCst);
        self.drop_at.store(now + k, Ordering::SeqCst);
    }

    fn disarm(&self) -> bool {
        self.drop_at.swap(0, Ordering::SeqCst) == 0
    }

    /// Counts one command; `true` when its connection is to be dropped instead.
    fn pass(&self) -> bool {
        let n = self.forwarded.fetch_add(1, Ordering::SeqCst) + 1;
        let hit = self
            .drop_at
            .compare_exchange(n, 0, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok();
        if hit {
            self.dropped.fetch_add(1, Ordering::SeqCst);
        }
        hit
    }
}

/// The length of the first complete RESP command in `buf` (an array of bulk strings, or an
/// inline command), `None` while it is incomplete.
fn command_len(buf: &[u8]) -> Option<usize> {
    fn line(buf: &[u8], from: usize) -> Option<(&[u8], usize)> {
        let end = buf.get(from..)?.windows(2).position(|w| w == b"\r\n")? + from;
        Some((&buf[from..end], end + 2))
    }
    fn number(bytes: &[u8]) -> Option<usize> {
        std::str::from_utf8(bytes).ok()?.parse().ok()
    }
    if buf.first()? != &b'*' {
        return line(buf, 0).map(|(_, next)| next);
    }
    let (head, mut at) = line(buf, 0)?;
    for _ in 0..number(&head[1..])? {
        let (len, next) = line(buf, at)?;
        at = next + number(len.strip_prefix(b"$")?)? + 2;
        if at > buf.len() {
            return None;
        }
    }
    Some(at)
}

/// Listens on 127.0.0.1 and forwards each connection to `upstream`, through `faults`.
async fn redis_proxy(upstream: String, faults: Arc<Faults>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(forward(client, upstream.clone(), faults.clone()));
        }
    });
    format!("redis://{addr}")
}

async fn forward(client: TcpStream, upstream: String, faults: Arc<Faults>) {
    let Ok(server) = TcpStream::connect(&upstream).await else {
        return;
    };
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_server, mut to_server) = server.into_split();
    let replies = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut from_server, &mut to_client).await;
    });
    let mut pending = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = match from_client.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        pending.extend_from_slice(&chunk[..n]);
        while let Some(len) = command_len(&pending) {
            if faults.pass() {
                // Both directions closed: replies still on their way are lost too.
                replies.abort();
                return;
            }
            if to_server.write_all(&pending[..len]).await.is_err() {
                replies.abort();
                return;
            }
            pending.drain(..len);
        }
    }
    replies.abort();
}

/// Retries `call` while it answers 503 (the store connection coming back), for up to 10 s;
/// any other answer is returned. Every answer before it must have been a 503.
async fn until_not_unavailable<F, Fut>(mut call: F) -> (u16, Value)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = (u16, Value)>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = call().await;
        if status != 503 || Instant::now() > deadline {
            return (status, body);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn str_of(v: &Value, field: &str) -> String {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} in {v}"))
        .to_owned()
}

/// A node whose session store is reached through the fault proxy, with `ada` signed in.
struct Rig {
    faults: Arc<Faults>,
    server: crate::Server,
    _dir: tempfile::TempDir,
    admin: Admin,
    ada: String,
    browser: Browser,
    _redis: RedisCleanup,
    _db: portcullis_store::testing::TestDatabase,
}

impl Rig {
    async fn start() -> Self {
        let db = fresh_postgres().await;
        let prefix = unique_prefix();
        let redis = RedisCleanup::new(&prefix);
        let faults = Arc::new(Faults::default());
        let upstream = redis_url()
            .trim_start_matches("redis://")
            .trim_end_matches('/')
            .to_owned();
        let proxied = redis_proxy(upstream, faults.clone()).await;
        let dir = tempfile::tempdir().expect("dir");
        let (path, db_url) = (dir.path().to_owned(), db.url.clone());
        let server = tokio::task::spawn_blocking(move || {
            serve(
                &path,
                &[
                    ("PORTCULLIS__PUBLIC_URL", "http://127.0.0.1:8080"),
                    ("PORTCULLIS__DATABASE__URL", &db_url),
                    ("PORTCULLIS__SESSIONS__URL", &proxied),
                    ("PORTCULLIS__SESSIONS__KEY_PREFIX", &prefix),
                    ("PORTCULLIS__MASTER_KEY", MASTER_KEY),
                    ("PORTCULLIS__ADMIN__BOOTSTRAP_TOKEN", ADMIN_TOKEN),
                ],
            )
        })
        .await
        .expect("serve");
        let admin = Admin::new(ADMIN_TOKEN);
        admin.mfa_never(&server.url).await;
        let ada = admin.person(&server.url, "ada").await;
        let browser = super::browser_at(&server.url);
        let done = browser.sign_in("ada", PASSWORD).await;
        assert_eq!(done.status, 303, "{done:?}");
        Self {
            faults,
            server,
            _dir: dir,
            admin,
            ada,
            browser,
            _redis: redis,
            _db: db,
        }
    }

    /// Runs `call` with a drop armed at its `k`-th store command: whether the drop happened
    /// (`false` when `k` lay past its last command and it ran whole), and its answer.
    async fn cut<F, Fut>(&self, k: u64, call: F) -> (bool, (u16, Value))
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = (u16, Value)>,
    {
        self.faults.arm(k);
        let answer = call().await;
        let cut = self.faults.disarm();
        if !cut {
            assert_eq!(answer.0, 200, "a call with no fault: {answer:?}");
        }
        (cut, answer)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redemptions_cut_off_at_any_store_command_lose_no_grant() {
    let rig = Rig::start().await;
    let (node, faults, browser) = (rig.server.url.as_str(), &rig.faults, &rig.browser);
    let client = application(&rig.admin, node, &rig.ada).await;

    // Authorization codes: each redemption cut off at its k-th command, then retried.
    let mut refresh = String::new();
    let mut cut_code = 0;
    for k in 1.. {
        let code = code_for(browser, node, &client).await;
        let redeem = {
            let (code, client) = (&code, &client);
            move || async move {
                token_call(
                    node,
                    "/oauth2/token",
                    client,
                    &[
                        ("grant_type", "authorization_code"),
                        ("code", code),
                        ("redirect_uri", REDIRECT),
                    ],
                )
                .await
            }
        };
        let (cut, (status, first)) = rig.cut(k, redeem).await;
        if !cut {
            refresh = str_of(&first, "refresh_token");
            break;
        }
        cut_code += 1;
        assert_eq!(status, 503, "code redemption cut at command {k}: {first}");
        let (status, retried) = until_not_unavailable(redeem).await;
        assert_eq!(
            status, 200,
            "the retried redemption (cut at {k}): {retried}"
        );
        let access = str_of(&retried, "access_token");
        assert!(active(node, &client, &access).await, "cut at {k}");
        // Spent by the retry, the code is now refused as a code should be.
        let (status, again) = redeem().await;
        assert_eq!(status, 400, "{again}");
        assert_eq!(again["error"], "invalid_grant", "{again}");
    }
    assert!(
        cut_code >= 2,
        "a redemption takes several store commands: {cut_code}"
    );

    // Refresh tokens: each rotation cut off at its k-th command, then retried with the same
    // token; the grant survives every cut.
    let mut cut_refresh = 0;
    for k in 1.. {
        let presented = refresh.clone();
        let rotate = {
            let (presented, client) = (&presented, &client);
            move || async move {
                token_call(
                    node,
                    "/oauth2/token",
                    client,
                    &[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", presented),
                    ],
                )
                .await
            }
        };
        let (cut, (status, _)) = rig.cut(k, rotate).await;
        if !cut {
            break;
        }
        cut_refresh += 1;
        assert_eq!(status, 503, "rotation cut at command {k}");
        let (status, retried) = until_not_unavailable(rotate).await;
        assert_eq!(status, 200, "the retried rotation (cut at {k}): {retried}");
        // Retried once more within the grace window: the same tokens, so the rotation happened
        // exactly once.
        let (status, again) = rotate().await;
        assert_eq!(status, 200, "{again}");
        assert_eq!(
            again["refresh_token"], retried["refresh_token"],
            "cut at {k}"
        );
        assert_eq!(again["access_token"], retried["access_token"], "cut at {k}");
        let access = str_of(&retried, "access_token");
        assert!(active(node, &client, &access).await, "cut at {k}");
        refresh = str_of(&retried, "refresh_token");
    }
    assert!(
        cut_refresh >= 2,
        "a rotation takes several store commands: {cut_refresh}"
    );
    eprintln!(
        "code redemptions cut at each of {cut_code} store commands, rotations at each of \
         {cut_refresh}; {} connections dropped, no grant lost",
        faults.dropped.load(Ordering::SeqCst)
    );
}

/// A JSON call to the SSO-OIDC API, as the AWS CLI makes it.
async fn sso_call(node: &str, path: &str, body: Value) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{node}{path}"))
        .json(&body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {node}{path}: {e}"));
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sso_oidc_create_token_cut_off_at_any_store_command_loses_no_grant() {
    let rig = Rig::start().await;
    let node = rig.server.url.as_str();
    let (status, reg) = sso_call(
        node,
        "/client/register",
        serde_json::json!({"clientName": "cli", "clientType": "public",
                           "scopes": ["sso:account:access"],
                           "grantTypes": ["urn:ietf:params:oauth:grant-type:device_code",
                                          "refresh_token"]}),
    )
    .await;
    assert_eq!(status, 200, "{reg}");
    let (id, secret) = (str_of(&reg, "clientId"), str_of(&reg, "clientSecret"));

    // Device codes: each CreateToken cut off at its k-th command, then retried.
    let mut refresh = String::new();
    let mut cut_device = 0;
    for k in 1.. {
        let (status, device) = sso_call(
            node,
            "/device_authorization",
            serde_json::json!({"clientId": id, "clientSecret": secret,
                               "startUrl": "http://127.0.0.1:8080/start"}),
        )
        .await;
        assert_eq!(status, 200, "{device}");
        let user_code = str_of(&device, "userCode");
        let page = rig
            .browser
            .at(node)
            .get(&format!("/device?user_code={user_code}"))
            .await;
        assert_eq!(page.status, 200, "{page:?}");
        let approved = rig
            .browser
            .at(node)
            .try_post(
                "/device",
                &[
                    ("csrf", &page.csrf()),
                    ("user_code", &user_code),
                    ("action", "approve"),
                ],
            )
            .await
            .expect("approve");
        assert!(matches!(approved.status, 200 | 303), "{approved:?}");
        let body = serde_json::json!({"clientId": id, "clientSecret": secret,
            "grantType": "urn:ietf:params:oauth:grant-type:device_code",
            "deviceCode": device["deviceCode"]});
        let create = {
            let body = &body;
            move || sso_call(node, "/token", body.clone())
        };
        let (cut, (status, first)) = rig.cut(k, create).await;
        if !cut {
            refresh = str_of(&first, "refreshToken");
            break;
        }
        cut_device += 1;
        // Cut before the tokens were committed: 503, and the retry gets them. Cut in the clean-up
        // after the commit (the user code's removal, which waits for its expiry instead): the
        // tokens at once.
        let retried = match status {
            503 => {
                let (status, retried) = until_not_unavailable(create).await;
                assert_eq!(
                    status, 200,
                    "the retried CreateToken (cut at {k}): {retried}"
                );
                retried
            }
            _ => {
                assert_eq!(status, 200, "CreateToken cut at command {k}: {first}");
                first
            }
        };
        assert!(retried["accessToken"].is_string(), "{retried}");
        let (status, again) = create().await;
        assert_eq!(status, 400, "a spent device code: {again}");
    }
    assert!(
        cut_device >= 2,
        "a device-code redemption takes several store commands"
    );

    // Refresh tokens through CreateToken: each cut off, then retried with the same token.
    let mut cut_refresh = 0;
    for k in 1.. {
        let body = serde_json::json!({"clientId": id, "clientSecret": secret,
            "grantType": "refresh_token", "refreshToken": refresh});
        let create = {
            let body = &body;
            move || sso_call(node, "/token", body.clone())
        };
        let (cut, (status, _)) = rig.cut(k, create).await;
        if !cut {
            break;
        }
        cut_refresh += 1;
        assert_eq!(status, 503, "CreateToken (refresh) cut at command {k}");
        let (status, retried) = until_not_unavailable(create).await;
        assert_eq!(status, 200, "the retried refresh (cut at {k}): {retried}");
        let (status, again) = create().await;
        assert_eq!(status, 200, "{again}");
        assert_eq!(again["refreshToken"], retried["refreshToken"], "cut at {k}");
        refresh = str_of(&retried, "refreshToken");
    }
    assert!(cut_refresh >= 2, "a rotation takes several store commands");
    eprintln!(
        "CreateToken cut at each of {cut_device} store commands (device code) and {cut_refresh} \
         (refresh token); no grant lost"
    );
}

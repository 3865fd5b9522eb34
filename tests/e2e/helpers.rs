//! `spawn_app`: a real server on a free port, on the backend a test asks for.

use std::sync::Arc;

use portcullis_server::Application;
use portcullis_server::config::{Config, Secret};
use portcullis_sessions::ManualClock;
use portcullis_store::testing::{TestDatabase, fresh_postgres};
use serde_json::Value;

/// Which directory backend a test runs on.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates one test per backend from one async body `fn(TestApp)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::spawn_app($crate::helpers::Backend::Sqlite).await).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::spawn_app($crate::helpers::Backend::Postgres).await).await
                }
            )*
        }
    };
}

/// A running server and a client for it.
pub struct TestApp {
    pub base: String,
    /// The clock the server runs on: tests move time with it.
    pub clock: Arc<ManualClock>,
    pub data_dir: std::path::PathBuf,
    pub token: String,
    pub client: reqwest::Client,
    _dir: tempfile::TempDir,
    _db: Option<TestDatabase>,
    _redis: Option<portcullis_sessions::testing::RedisCleanup>,
}

pub const ADMIN_TOKEN: &str = "pcat_test-bootstrap-token-0123456789";

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_configured(backend, |_| {}).await
}

/// As [`spawn_app`], with a last word on the configuration.
pub async fn spawn_app_configured(backend: Backend, adjust: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.path().join("data"),
        ..Config::default()
    };
    config.admin.bootstrap_token = Some(Secret::new(ADMIN_TOKEN));
    config.admin.max_body_bytes = 16 * 1024;
    let mut redis = None;
    let db = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => {
            // The production pairing: PostgreSQL directory, Redis sessions.
            let prefix = portcullis_sessions::testing::unique_prefix();
            config.sessions.url = Some(Secret::new(portcullis_sessions::testing::redis_url()));
            config.sessions.key_prefix = prefix.clone();
            redis = Some(portcullis_sessions::testing::RedisCleanup::new(&prefix));
            let db = fresh_postgres().await;
            config.database.url = Some(Secret::new(db.url.clone()));
            config.database.max_connections = 4;
            config.master_key = Some(Secret::new("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="));
            Some(db)
        }
    };
    adjust(&mut config);
    let data_dir = config.data_dir.clone();
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let app = Application::build_with_clock(config, clock.clone())
        .await
        .expect("build the application");
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    TestApp {
        base,
        clock,
        data_dir,
        token: ADMIN_TOKEN.into(),
        client: reqwest::Client::new(),
        _dir: dir,
        _db: db,
        _redis: redis,
    }
}

/// An answer: status and JSON body (`Null` when empty).
pub use portcullis_testkit::Answer;

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}/admin/v1/{}", self.base, path.trim_start_matches('/'))
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Answer {
        Answer::read(req.send().await.expect("request"))
            .await
            .expect("body")
    }

    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Answer {
        let mut req = self
            .client
            .request(method, self.url(path))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        self.send(req).await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.call(reqwest::Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> Answer {
        self.call(reqwest::Method::PATCH, path, Some(body)).await
    }
    pub async fn put(&self, path: &str, body: Option<Value>) -> Answer {
        self.call(reqwest::Method::PUT, path, body).await
    }
    pub async fn delete(&self, path: &str, body: Option<Value>) -> Answer {
        self.call(reqwest::Method::DELETE, path, body).await
    }

    /// Creates a user and returns its id.
    pub async fn user(&self, name: &str) -> String {
        let a = self
            .post(
                "users",
                serde_json::json!({"userName": name, "email": format!("{name}@example.com")}),
            )
            .await;
        assert_eq!(a.status, 201, "{a:?}");
        a.body["userId"].as_str().expect("userId").to_owned()
    }

    pub async fn group(&self, name: &str) -> String {
        let a = self
            .post("groups", serde_json::json!({"displayName": name}))
            .await;
        assert_eq!(a.status, 201, "{a:?}");
        a.body["groupId"].as_str().expect("groupId").to_owned()
    }

    pub async fn account(&self, id: &str) -> String {
        let a = self
            .post("accounts", serde_json::json!({"accountId": id, "name": format!("acct {id}"), "email": "ops@example.com"}))
            .await;
        assert_eq!(a.status, 201, "{a:?}");
        id.to_owned()
    }

    /// Gives a user a permanent password (not to be changed at sign-in).
    pub async fn set_password(&self, user_id: &str, password: &str) {
        let a = self
            .put(
                &format!("users/{user_id}/password"),
                Some(serde_json::json!({"password": password, "temporary": false})),
            )
            .await;
        assert_eq!(a.status, 204, "{a:?}");
    }

    /// The id of the user with this name.
    pub async fn user_id(&self, name: &str) -> String {
        let list = self.get("users?maxResults=1000").await;
        list.body["users"]
            .as_array()
            .and_then(|u| u.iter().find(|u| u["userName"] == name))
            .and_then(|u| u["userId"].as_str())
            .expect("user")
            .to_owned()
    }

    /// The newest message in the outbox addressed to `email` (the embedded default delivery).
    pub fn last_mail_to(&self, email: &str) -> String {
        let dir = self.data_dir.join("outbox");
        let mut mails: Vec<(std::time::SystemTime, String)> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("no outbox at {}: {e}", dir.display()))
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let text = std::fs::read_to_string(e.path()).ok()?;
                let modified = e.metadata().ok()?.modified().ok()?;
                text.contains(email).then_some((modified, text))
            })
            .collect();
        mails.sort();
        mails
            .pop()
            .map(|(_, t)| t)
            .unwrap_or_else(|| panic!("no message to {email} in {}", dir.display()))
    }

    /// Waits (up to 10 s) until at least `n` messages to `email` are in the outbox — some are
    /// sent in the background — and returns them all, oldest first.
    pub async fn mails_to(&self, email: &str, n: usize) -> Vec<String> {
        let dir = self.data_dir.join("outbox");
        for _ in 0..200 {
            let mut mails: Vec<(std::time::SystemTime, String)> = std::fs::read_dir(&dir)
                .into_iter()
                .flatten()
                .filter_map(|e| e.ok())
                .filter_map(|e| {
                    let text = std::fs::read_to_string(e.path()).ok()?;
                    let modified = e.metadata().ok()?.modified().ok()?;
                    text.contains(email).then_some((modified, text))
                })
                .collect();
            if mails.len() >= n {
                mails.sort();
                return mails.into_iter().map(|(_, t)| t).collect();
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("fewer than {n} messages to {email} in {}", dir.display())
    }

    pub async fn permission_set(&self, name: &str) -> String {
        let a = self
            .post("permission-sets", serde_json::json!({"name": name}))
            .await;
        assert_eq!(a.status, 201, "{a:?}");
        a.body["permissionSetId"]
            .as_str()
            .expect("permissionSetId")
            .to_owned()
    }
}

/// The code in a message: the six digits after "is: " (the messages say "Your … is: 123456").
pub fn six_digits(text: &str) -> String {
    let from = text
        .find("is: ")
        .map(|i| i + 4)
        .unwrap_or_else(|| panic!("no code in: {text}"));
    let bytes = &text.as_bytes()[from..];
    for i in 0..bytes.len().saturating_sub(5) {
        let run = &bytes[i..i + 6];
        let before = i
            .checked_sub(1)
            .map(|j| bytes[j].is_ascii_digit())
            .unwrap_or(false);
        let after = bytes.get(i + 6).is_some_and(u8::is_ascii_digit);
        if run.iter().all(u8::is_ascii_digit) && !before && !after {
            return String::from_utf8_lossy(run).into_owned();
        }
    }
    panic!("no six-digit code in: {text}")
}

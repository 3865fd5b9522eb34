//! `spawn_app`: a real server on a free port, on the backend a test asks for.

use portcullis_server::Application;
use portcullis_server::config::{Config, Secret};
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
    pub token: String,
    pub client: reqwest::Client,
    _dir: tempfile::TempDir,
    _db: Option<TestDatabase>,
}

pub const ADMIN_TOKEN: &str = "pcat_test-bootstrap-token-0123456789";

pub async fn spawn_app(backend: Backend) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.path().join("data"),
        ..Config::default()
    };
    config.admin.bootstrap_token = Some(Secret::new(ADMIN_TOKEN));
    config.admin.max_body_bytes = 16 * 1024;
    let db = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => {
            let db = fresh_postgres().await;
            config.database.url = Some(Secret::new(db.url.clone()));
            config.database.max_connections = 4;
            config.master_key = Some(Secret::new("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="));
            Some(db)
        }
    };
    let app = Application::build(config)
        .await
        .expect("build the application");
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    TestApp {
        base,
        token: ADMIN_TOKEN.into(),
        client: reqwest::Client::new(),
        _dir: dir,
        _db: db,
    }
}

/// An answer: status and JSON body (`Null` when empty).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    /// The field names a 400 `ValidationError` names.
    pub fn fields(&self) -> Vec<String> {
        self.body["fields"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|f| f["field"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}/admin/v1/{}", self.base, path.trim_start_matches('/'))
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Answer {
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Answer { status, body }
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

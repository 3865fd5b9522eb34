//! The admin API (`/admin/v1/…`) with a bearer token: status and JSON body.

use reqwest::Method;
use serde_json::{Value, json};

use crate::{Error, PASSWORD, Result, TIMEOUT};

/// An answer: status and JSON body (`Null` when empty, a string when not JSON).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    /// Reads a response.
    pub async fn read(resp: reqwest::Response) -> reqwest::Result<Self> {
        let status = resp.status().as_u16();
        let text = resp.text().await?;
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok(Self { status, body })
    }

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

/// An admin API client: one token, any node (the base is given with each call). Every request
/// has a [`TIMEOUT`].
#[derive(Debug, Clone)]
pub struct Admin {
    client: reqwest::Client,
    token: String,
}

impl Admin {
    pub fn new(token: &str) -> Self {
        #[allow(clippy::expect_used)] // Only a broken TLS backend fails here.
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .expect("an HTTP client");
        Self {
            client,
            token: token.to_owned(),
        }
    }

    pub async fn try_call(
        &self,
        method: Method,
        base: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Answer> {
        let url = format!("{base}/admin/v1/{path}");
        let mut req = self
            .client
            .request(method.clone(), &url)
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let answer = async { Answer::read(req.send().await?).await };
        answer.await.map_err(|source| Error::Http {
            method,
            url,
            source,
        })
    }

    /// [`try_call`](Admin::try_call); panics when no answer comes.
    pub async fn call(
        &self,
        method: Method,
        base: &str,
        path: &str,
        body: Option<Value>,
    ) -> Answer {
        self.try_call(method, base, path, body)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Turns the MFA prompt off, so that a password alone signs in.
    pub async fn mfa_never(&self, base: &str) {
        let body = json!({"mfa": {"prompt": "NEVER"}});
        let a = self.call(Method::PUT, base, "settings", Some(body)).await;
        assert_eq!(a.status, 200, "turning MFA off: {a:?}");
    }

    /// A user `name` (`name@example.com`) with the permanent password [`PASSWORD`]; returns its id.
    pub async fn person(&self, base: &str, name: &str) -> String {
        let body = json!({"userName": name, "email": format!("{name}@example.com")});
        let a = self.call(Method::POST, base, "users", Some(body)).await;
        assert_eq!(a.status, 201, "creating {name}: {a:?}");
        let id = a.body["userId"].as_str().unwrap_or_default().to_owned();
        assert!(!id.is_empty(), "a userId: {a:?}");
        let body = json!({"password": PASSWORD, "temporary": false});
        let path = format!("users/{id}/password");
        let a = self.call(Method::PUT, base, &path, Some(body)).await;
        assert_eq!(a.status, 204, "setting {name}'s password: {a:?}");
        id
    }
}

//! Clients for a running `portcullis serve`: a cookie-keeping browser that walks the sign-in
//! pages (the CSRF field read from each form, redirects not followed), and an admin API client.
//! Every request has a 15 s timeout, so an outage shows up as an answer or an error, never a hang.

use std::time::Duration;

use reqwest::redirect::Policy;
use serde_json::Value;

/// Longest any request may take.
pub const TIMEOUT: Duration = Duration::from_secs(15);

/// The password every test person gets (long, not a common one).
pub const PASSWORD: &str = "Tr1cky-Horse-Battery";

/// A page as received.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

impl Page {
    /// The value of the form field `name` (first occurrence).
    pub fn field(&self, name: &str) -> Option<String> {
        let needle = format!("name=\"{name}\" value=\"");
        let start = self.body.find(&needle)? + needle.len();
        let end = self.body[start..].find('"')? + start;
        Some(self.body[start..end].to_owned())
    }

    pub fn csrf(&self) -> String {
        self.field("csrf")
            .unwrap_or_else(|| panic!("a form with a csrf field: {self:?}"))
    }
}

/// One person's browser. Cookies are kept per host, not per port, so the same browser pointed
/// at another node on 127.0.0.1 sends the same cookies: exactly what a load balancer does.
#[derive(Debug, Clone)]
pub struct Browser {
    client: reqwest::Client,
}

impl Browser {
    pub fn new() -> Self {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(Policy::none())
            .timeout(TIMEOUT)
            .build()
            .expect("client");
        Self { client }
    }

    async fn read(resp: reqwest::Response) -> reqwest::Result<Page> {
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = resp.text().await?;
        Ok(Page {
            status,
            location,
            body,
        })
    }

    pub async fn try_get(&self, base: &str, path: &str) -> reqwest::Result<Page> {
        Self::read(self.client.get(format!("{base}{path}")).send().await?).await
    }

    pub async fn try_post(
        &self,
        base: &str,
        path: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Result<Page> {
        Self::read(
            self.client
                .post(format!("{base}{path}"))
                .form(form)
                .send()
                .await?,
        )
        .await
    }

    pub async fn get(&self, base: &str, path: &str) -> Page {
        self.try_get(base, path)
            .await
            .unwrap_or_else(|e| panic!("GET {base}{path}: {e}"))
    }

    /// Username then password, from `/start` on the node at `base`; returns the answer to the
    /// password form, or the first answer that was not the expected redirect to it.
    pub async fn try_sign_in(
        &self,
        base: &str,
        username: &str,
        password: &str,
    ) -> reqwest::Result<Page> {
        let start = self.try_get(base, "/start").await?;
        assert_eq!(start.status, 200, "the sign-in page: {start:?}");
        let after_name = self
            .try_post(
                base,
                "/signin/username",
                &[("csrf", &start.csrf()), ("username", username)],
            )
            .await?;
        if after_name.location.as_deref() != Some("/signin/password") {
            return Ok(after_name);
        }
        let form = self.try_get(base, "/signin/password").await?;
        if form.status != 200 {
            return Ok(form);
        }
        self.try_post(
            base,
            "/signin/password",
            &[("csrf", &form.csrf()), ("password", password)],
        )
        .await
    }

    pub async fn sign_in(&self, base: &str, username: &str, password: &str) -> Page {
        self.try_sign_in(base, username, password)
            .await
            .unwrap_or_else(|e| panic!("signing in at {base}: {e}"))
    }
}

/// An admin API client for one node.
#[derive(Debug, Clone)]
pub struct Admin {
    client: reqwest::Client,
    token: String,
}

/// An admin API answer: status and JSON body (`Null` when empty).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Admin {
    pub fn new(token: &str) -> Self {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .expect("client");
        Self {
            client,
            token: token.to_owned(),
        }
    }

    pub async fn try_call(
        &self,
        method: reqwest::Method,
        base: &str,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Result<Answer> {
        let mut req = self
            .client
            .request(method, format!("{base}/admin/v1/{path}"))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let text = resp.text().await?;
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok(Answer { status, body })
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        base: &str,
        path: &str,
        body: Option<Value>,
    ) -> Answer {
        self.try_call(method.clone(), base, path, body)
            .await
            .unwrap_or_else(|e| panic!("{method} {base}/admin/v1/{path}: {e}"))
    }

    /// Turns the MFA prompt off, so that a password alone signs in.
    pub async fn mfa_never(&self, base: &str) {
        let a = self
            .call(
                reqwest::Method::PUT,
                base,
                "settings",
                Some(serde_json::json!({"mfa": {"prompt": "NEVER"}})),
            )
            .await;
        assert_eq!(a.status, 200, "turning MFA off: {a:?}");
    }

    /// A user with a permanent password; returns its id.
    pub async fn person(&self, base: &str, name: &str) -> String {
        let a = self
            .call(
                reqwest::Method::POST,
                base,
                "users",
                Some(serde_json::json!({"userName": name, "email": format!("{name}@example.com")})),
            )
            .await;
        assert_eq!(a.status, 201, "creating {name}: {a:?}");
        let id = a.body["userId"].as_str().expect("userId").to_owned();
        let a = self
            .call(
                reqwest::Method::PUT,
                base,
                &format!("users/{id}/password"),
                Some(serde_json::json!({"password": PASSWORD, "temporary": false})),
            )
            .await;
        assert_eq!(a.status, 204, "setting {name}'s password: {a:?}");
        id
    }
}

//! A cookie-keeping HTTP client that walks the sign-in pages as a browser would: it reads the
//! CSRF field from each form, follows no redirects by itself, and reports where it was sent.

use reqwest::redirect::Policy;

/// One person's browser (a clone shares its cookies, as a second tab would).
#[derive(Clone)]
pub struct Browser {
    pub client: reqwest::Client,
    pub base: String,
}

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
        self.field("csrf").expect("a form with a csrf field")
    }
    /// The form's CSRF field, or `fallback` when the page has no form.
    pub fn csrf_or(&self, fallback: &str) -> String {
        self.field("csrf").unwrap_or_else(|| fallback.to_owned())
    }
    /// The CSRF token pages publish for their scripts (`<meta name="csrf-token">`).
    pub fn meta_csrf(&self) -> String {
        let needle = "name=\"csrf-token\" content=\"";
        let start = self.body.find(needle).expect("a csrf-token meta tag") + needle.len();
        let end = self.body[start..].find('"').expect("end of meta") + start;
        self.body[start..end].to_owned()
    }
}

impl Browser {
    pub fn new(base: &str) -> Self {
        Self::with_headers(base, reqwest::header::HeaderMap::new())
    }

    /// A browser whose every request carries `headers` (e.g. what a reverse proxy adds).
    pub fn with_headers(base: &str, headers: reqwest::header::HeaderMap) -> Self {
        let client = reqwest::Client::builder()
            .default_headers(headers)
            .cookie_store(true)
            .redirect(Policy::none())
            .build()
            .expect("client");
        Self {
            client,
            base: base.to_owned(),
        }
    }

    async fn read(resp: reqwest::Response) -> Page {
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = resp.text().await.expect("body");
        Page {
            status,
            location,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Page {
        Self::read(
            self.client
                .get(format!("{}{path}", self.base))
                .send()
                .await
                .expect("GET"),
        )
        .await
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        Self::read(
            self.client
                .post(format!("{}{path}", self.base))
                .form(form)
                .send()
                .await
                .expect("POST"),
        )
        .await
    }

    /// A JSON POST as `static/webauthn.js` sends it: the CSRF token in `X-CSRF-Token`.
    pub async fn post_json(&self, path: &str, csrf: &str) -> (u16, serde_json::Value) {
        let resp = self
            .client
            .post(format!("{}{path}", self.base))
            .header("X-CSRF-Token", csrf)
            .json(&serde_json::json!({}))
            .send()
            .await
            .expect("POST");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// Username then password, from `/start`; returns the answer to the password form.
    pub async fn sign_in(&self, username: &str, password: &str) -> Page {
        let start = self.get("/start").await;
        let csrf = start.csrf();
        let after_name = self
            .post(
                "/signin/username",
                &[("csrf", &csrf), ("username", username)],
            )
            .await;
        assert_eq!(
            after_name.location.as_deref(),
            Some("/signin/password"),
            "{after_name:?}"
        );
        let form = self.get("/signin/password").await;
        self.post(
            "/signin/password",
            &[("csrf", &form.csrf()), ("password", password)],
        )
        .await
    }
}

//! One person's browser: cookies kept, redirects not followed by itself (the caller sees where it
//! was sent), CSRF fields read from each form.
//!
//! Two kinds of cookie jar. [`Browser::new`] (and the other constructors taking no client) builds
//! a client of its own whose cookie store keeps the cookies: reqwest's jar, per host and not per
//! port, so the same browser pointed [`at`](Browser::at) another node on 127.0.0.1 sends the same
//! cookies, as behind a load balancer. [`Browser::with_jar`] shares one client among many people,
//! each with a small jar of its own: a client per person would rebuild the TLS configuration and
//! the pool each time, which the load generator cannot afford on two cores. Either way a clone
//! shares the cookies (a second tab); [`Browser::fork`] copies them.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use reqwest::header::{COOKIE, HeaderMap, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;

use crate::html::{Form, html_unescape, meta, raw_field};
use crate::{Error, Result, snippet};

/// A page as received.
#[derive(Debug, Clone)]
pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

impl Page {
    /// Reads a response: status, `Location` and body.
    pub async fn read(resp: reqwest::Response) -> reqwest::Result<Self> {
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = resp.text().await?;
        Ok(Self {
            status,
            location,
            body,
        })
    }

    /// The value of the form field `name` (first occurrence) as written in the page: character
    /// references kept.
    pub fn field(&self, name: &str) -> Option<String> {
        raw_field(&self.body, name).map(str::to_owned)
    }

    /// The value of the form field `name` as a browser submits it: character references decoded.
    pub fn value(&self, name: &str) -> Option<String> {
        raw_field(&self.body, name).map(html_unescape)
    }

    /// The form's CSRF field; fails when the page has none.
    pub fn try_csrf(&self) -> Result<String> {
        self.value("csrf")
            .ok_or_else(|| self.unexpected("a form with a csrf field"))
    }

    /// The form's CSRF field; panics when the page has none.
    pub fn csrf(&self) -> String {
        self.try_csrf().unwrap_or_else(|e| panic!("{e}: {self:?}"))
    }

    /// The form's CSRF field, or `fallback` when the page has no form.
    pub fn csrf_or(&self, fallback: &str) -> String {
        self.value("csrf").unwrap_or_else(|| fallback.to_owned())
    }

    /// The CSRF token pages publish for their scripts (`<meta name="csrf-token">`).
    pub fn meta_csrf(&self) -> String {
        meta(&self.body, "csrf-token")
            .map(html_unescape)
            .unwrap_or_else(|| panic!("a csrf-token meta tag: {self:?}"))
    }

    /// The first form posting to `action` (any form when `None`): its hidden inputs.
    pub fn form(&self, action: Option<&str>) -> Option<Form> {
        Form::find(&self.body, action)
    }

    /// Fails unless this is a redirect; returns where to.
    pub fn redirect(&self) -> Result<&str> {
        match (self.status, self.location.as_deref()) {
            (301..=303 | 307 | 308, Some(l)) => Ok(l),
            _ => Err(self.unexpected("a redirect")),
        }
    }

    /// The error "expected `wanted`, got this page".
    pub fn unexpected(&self, wanted: &str) -> Error {
        Error::Unexpected(format!(
            "expected {wanted}, got {} {:?}: {}",
            self.status,
            self.location,
            snippet(&self.body)
        ))
    }
}

/// The cookies a [`Browser::with_jar`] keeps itself: (name, value), newest last.
type Jar = Arc<Mutex<Vec<(String, String)>>>;

/// One person's browser (see the module documentation for its two kinds of jar).
#[derive(Debug, Clone)]
pub struct Browser {
    /// The client: for requests the helpers here do not make (its own cookies are sent only by a
    /// browser whose client keeps them, not by one [`with_jar`](Browser::with_jar)).
    pub client: reqwest::Client,
    /// The server, `http://host:port` without a trailing slash.
    pub base: String,
    jar: Option<Jar>,
}

impl Browser {
    /// The client builder a cookie-keeping browser starts from: cookie store on, no redirects.
    pub fn client_builder() -> reqwest::ClientBuilder {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(Policy::none())
    }

    /// A browser with a client of its own that keeps its cookies.
    pub fn new(base: &str) -> Self {
        Self::built(base, Self::client_builder())
    }

    /// As [`new`](Browser::new), every request carrying `headers` (what a reverse proxy adds).
    pub fn with_headers(base: &str, headers: HeaderMap) -> Self {
        Self::built(base, Self::client_builder().default_headers(headers))
    }

    /// As [`new`](Browser::new), no request taking longer than `timeout` (an outage shows up as
    /// an answer or an error, never a hang).
    pub fn with_timeout(base: &str, timeout: Duration) -> Self {
        Self::built(base, Self::client_builder().timeout(timeout))
    }

    fn built(base: &str, builder: reqwest::ClientBuilder) -> Self {
        #[allow(clippy::expect_used)] // Only a broken TLS backend fails here.
        let client = builder.build().expect("an HTTP client");
        Self {
            client,
            base: base.to_owned(),
            jar: None,
        }
    }

    /// A browser over a shared `client` (which must not follow redirects) with a jar of its own.
    pub fn with_jar(client: &reqwest::Client, base: &str) -> Self {
        Self {
            client: client.clone(),
            base: base.to_owned(),
            jar: Some(Jar::default()),
        }
    }

    /// The same browser, same cookies, pointed at the server at `base` (another node).
    pub fn at(&self, base: &str) -> Self {
        Self {
            base: base.to_owned(),
            ..self.clone()
        }
    }

    /// A browser with a copy of this one's cookies, as they are now: what it is sent later is its
    /// own. (A browser whose client keeps the cookies can only share them: its fork is a clone.)
    pub fn fork(&self) -> Self {
        let jar = self.jar.as_ref().map(|j| {
            let cookies = j.lock().unwrap_or_else(PoisonError::into_inner).clone();
            Arc::new(Mutex::new(cookies))
        });
        Self {
            jar,
            ..self.clone()
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The `Cookie` header a browser [`with_jar`](Browser::with_jar) sends (`None` when it has
    /// no cookies, or its client keeps them).
    pub fn cookie_header(&self) -> Option<String> {
        let jar = self
            .jar
            .as_ref()?
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut cookies = jar.iter();
        let (n, v) = cookies.next()?;
        let mut header = format!("{n}={v}");
        for (n, v) in cookies {
            header.push_str("; ");
            header.push_str(n);
            header.push('=');
            header.push_str(v);
        }
        Some(header)
    }

    /// Sends `req` with this browser's cookies and keeps the ones it is given back.
    pub async fn send(&self, mut req: reqwest::RequestBuilder) -> reqwest::Result<Page> {
        if let Some(c) = self.cookie_header() {
            req = req.header(COOKIE, c);
        }
        let resp = req.send().await?;
        self.keep_cookies(resp.headers());
        Page::read(resp).await
    }

    fn keep_cookies(&self, headers: &HeaderMap) {
        let Some(jar) = &self.jar else { return };
        let mut jar = jar.lock().unwrap_or_else(PoisonError::into_inner);
        for v in headers.get_all(SET_COOKIE) {
            let Some((name, value)) = v
                .to_str()
                .ok()
                .and_then(|s| s.split(';').next())
                .and_then(|p| p.split_once('='))
            else {
                continue;
            };
            let (name, value) = (name.trim(), value.trim());
            jar.retain(|(n, _)| n != name);
            if !value.is_empty() {
                jar.push((name.to_owned(), value.to_owned()));
            }
        }
    }

    async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        req: reqwest::RequestBuilder,
    ) -> Result<Page> {
        self.send(req).await.map_err(|source| Error::Http {
            method,
            url: self.url(path),
            source,
        })
    }

    pub async fn try_get(&self, path: &str) -> Result<Page> {
        self.request(reqwest::Method::GET, path, self.client.get(self.url(path)))
            .await
    }

    /// A form POST.
    pub async fn try_post(&self, path: &str, form: &[(&str, &str)]) -> Result<Page> {
        let req = self.client.post(self.url(path)).form(form);
        self.request(reqwest::Method::POST, path, req).await
    }

    /// `GET`; panics when no answer comes.
    pub async fn get(&self, path: &str) -> Page {
        self.try_get(path).await.unwrap_or_else(|e| panic!("{e}"))
    }

    /// A form POST; panics when no answer comes.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        self.try_post(path, form)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Posts `form` (to its action, a path on this server) with its hidden inputs and `extra`.
    pub async fn try_submit(&self, form: &Form, extra: &[(&str, &str)]) -> Result<Page> {
        let path = self
            .ours(&form.action)
            .ok_or_else(|| Error::Unexpected(format!("{} is not ours", form.action)))?;
        self.try_post(&path, &form.with(extra)).await
    }

    /// A JSON POST as `static/webauthn.js` sends it: the CSRF token in `X-CSRF-Token`, an empty
    /// object; (status, JSON body or `Null`).
    pub async fn post_json(&self, path: &str, csrf: &str) -> (u16, serde_json::Value) {
        let req = self
            .client
            .post(self.url(path))
            .header("X-CSRF-Token", csrf)
            .json(&serde_json::json!({}));
        let page = self.request(reqwest::Method::POST, path, req).await;
        let page = page.unwrap_or_else(|e| panic!("{e}"));
        let body = serde_json::from_str(&page.body).unwrap_or(serde_json::Value::Null);
        (page.status, body)
    }

    /// `location` as a path on our server, when it points there.
    pub fn ours(&self, location: &str) -> Option<String> {
        path_on(location, &[&self.base])
    }

    /// Requests `first` (a path or a URL on our server) and follows the redirects that stay on
    /// our server (at this browser's base or at one of `also_ours`, e.g. the issuer URL); returns
    /// the first answer that does not: a redirect elsewhere, or a page.
    pub async fn try_follow_among(&self, first: &str, also_ours: &[&str]) -> Result<Page> {
        let ours = |l: &str| match also_ours {
            [] => self.ours(l),
            _ => path_on(l, &[also_ours, &[&self.base]].concat()),
        };
        let mut path =
            ours(first).ok_or_else(|| Error::Unexpected(format!("{first} is not ours")))?;
        for _ in 0..10 {
            let page = self.try_get(&path).await?;
            match page.location.as_deref().and_then(ours) {
                Some(next) => path = next,
                None => return Ok(page),
            }
        }
        Err(Error::Unexpected(format!(
            "more than 10 redirects from {first}"
        )))
    }

    /// [`try_follow_among`](Browser::try_follow_among) this browser's base only.
    pub async fn try_follow(&self, first: &str) -> Result<Page> {
        self.try_follow_among(first, &[]).await
    }

    /// [`try_follow_among`](Browser::try_follow_among); panics on an error.
    pub async fn follow_among(&self, first: &str, also_ours: &[&str]) -> Page {
        self.try_follow_among(first, also_ours)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Username then password from the sign-in page `start` (already fetched), carrying its
    /// `return_to` when it has one. Returns the answer to the password form, or the first answer
    /// that was not the step expected: the username form not sending it to the password form, or
    /// the password form not there.
    pub async fn try_sign_in_from(
        &self,
        start: &Page,
        username: &str,
        password: &str,
    ) -> Result<Page> {
        Ok(self.walk_sign_in(start, username, password).await?.1)
    }

    /// [`try_sign_in_from`](Browser::try_sign_in_from) `/start`, which must show (200).
    pub async fn try_sign_in(&self, username: &str, password: &str) -> Result<Page> {
        Ok(self.walk_sign_in_from_start(username, password).await?.1)
    }

    /// Signs in from `start`; panics on an error or unless the username form sends it on to the
    /// password form. Returns the answer to the password form.
    pub async fn sign_in_from(&self, start: &Page, username: &str, password: &str) -> Page {
        let walked = self.walk_sign_in(start, username, password).await;
        self.reached_the_password(walked)
    }

    /// As [`sign_in_from`](Browser::sign_in_from), from `/start`.
    pub async fn sign_in(&self, username: &str, password: &str) -> Page {
        let walked = self.walk_sign_in_from_start(username, password).await;
        self.reached_the_password(walked)
    }

    fn reached_the_password(&self, walked: Result<(bool, Page)>) -> Page {
        match walked {
            Ok((true, page)) => page,
            Ok((false, page)) => panic!("the password form not reached: {page:?}"),
            Err(e) => panic!("signing in at {}: {e}", self.base),
        }
    }

    async fn walk_sign_in_from_start(
        &self,
        username: &str,
        password: &str,
    ) -> Result<(bool, Page)> {
        let start = self.try_get("/start").await?;
        if start.status != 200 {
            return Err(start.unexpected("the sign-in page"));
        }
        self.walk_sign_in(&start, username, password).await
    }

    /// The sign-in steps; `true` with the answer to the password form, `false` with the answer
    /// of the step that went otherwise.
    async fn walk_sign_in(
        &self,
        start: &Page,
        username: &str,
        password: &str,
    ) -> Result<(bool, Page)> {
        let csrf = start.try_csrf()?;
        let return_to = start.value("return_to");
        let mut form = vec![("csrf", csrf.as_str()), ("username", username)];
        if let Some(r) = &return_to {
            form.push(("return_to", r));
        }
        let after_name = self.try_post("/signin/username", &form).await?;
        if after_name.location.as_deref() != Some("/signin/password") {
            return Ok((false, after_name));
        }
        let pw = self.try_get("/signin/password").await?;
        if pw.status != 200 {
            return Ok((false, pw));
        }
        let done = self
            .try_post(
                "/signin/password",
                &[("csrf", &pw.try_csrf()?), ("password", password)],
            )
            .await?;
        Ok((true, done))
    }

    /// Signs in from `/start`; fails unless it ends at the portal (303 to `/portal`).
    pub async fn try_sign_in_to_portal(&self, username: &str, password: &str) -> Result<Page> {
        let done = self.try_sign_in(username, password).await?;
        match (done.status, done.location.as_deref()) {
            (303, Some("/portal")) => Ok(done),
            _ => Err(done.unexpected("a redirect to the portal")),
        }
    }
}

/// `location` as a path on the server reachable at any of `origins`, when it points there (a
/// relative path does).
pub fn path_on(location: &str, origins: &[&str]) -> Option<String> {
    if let Some(rest) = origins.iter().find_map(|o| location.strip_prefix(o)) {
        return Some(if rest.starts_with('/') {
            rest.to_owned()
        } else {
            format!("/{rest}")
        });
    }
    (location.starts_with('/') && !location.starts_with("//")).then(|| location.to_owned())
}

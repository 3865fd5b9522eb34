//! One person's browser over a shared HTTP client: a small cookie jar of its own (a client per
//! person would rebuild the TLS configuration and the pool each time, which the load generator
//! cannot afford on two cores), CSRF fields read from each form, no redirect followed by itself.

use anyhow::Context as _;
use reqwest::header::{COOKIE, SET_COOKIE};

/// A page as received.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

impl Page {
    /// The value of the form field `name` (first occurrence), character references decoded.
    pub fn field(&self, name: &str) -> Option<String> {
        let needle = format!("name=\"{name}\" value=\"");
        let start = self.body.find(&needle)? + needle.len();
        let end = self.body[start..].find('"')? + start;
        Some(html_unescape(&self.body[start..end]))
    }

    pub fn csrf(&self) -> anyhow::Result<String> {
        self.field("csrf")
            .with_context(|| format!("no csrf field (status {})", self.status))
    }

    /// Fails unless this is a redirect; returns where to.
    pub fn redirect(&self) -> anyhow::Result<&str> {
        match (self.status, self.location.as_deref()) {
            (301..=303 | 307 | 308, Some(l)) => Ok(l),
            _ => anyhow::bail!(
                "expected a redirect, got {}: {}",
                self.status,
                snippet(&self.body)
            ),
        }
    }
}

/// The first characters of a body, for error messages.
pub fn snippet(body: &str) -> String {
    body.chars().take(200).collect()
}

/// A browser: the shared client and this person's cookies.
#[derive(Debug, Clone)]
pub struct Browser {
    client: reqwest::Client,
    base: String,
    cookies: Vec<(String, String)>,
}

impl Browser {
    pub fn new(client: &reqwest::Client, base: &str) -> Self {
        Self {
            client: client.clone(),
            base: base.to_owned(),
            cookies: Vec::new(),
        }
    }

    /// `location` as a path on our server, when it points there.
    pub fn ours(&self, location: &str) -> Option<String> {
        if let Some(rest) = location.strip_prefix(&self.base) {
            return Some(if rest.starts_with('/') {
                rest.to_owned()
            } else {
                format!("/{rest}")
            });
        }
        (location.starts_with('/') && !location.starts_with("//")).then(|| location.to_owned())
    }

    /// The `Cookie` header this browser sends.
    pub fn cookie_header(&self) -> Option<String> {
        (!self.cookies.is_empty()).then(|| {
            self.cookies
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    async fn read(&mut self, resp: reqwest::Response) -> anyhow::Result<Page> {
        for v in resp.headers().get_all(SET_COOKIE) {
            let Some((name, value)) = v
                .to_str()
                .ok()
                .and_then(|s| s.split(';').next())
                .and_then(|p| p.split_once('='))
            else {
                continue;
            };
            let (name, value) = (name.trim().to_owned(), value.trim().to_owned());
            self.cookies.retain(|(n, _)| *n != name);
            if !value.is_empty() {
                self.cookies.push((name, value));
            }
        }
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = resp.text().await.context("reading a body")?;
        Ok(Page {
            status,
            location,
            body,
        })
    }

    pub async fn get(&mut self, path: &str) -> anyhow::Result<Page> {
        let mut req = self.client.get(format!("{}{path}", self.base));
        if let Some(c) = self.cookie_header() {
            req = req.header(COOKIE, c);
        }
        let resp = req.send().await.with_context(|| format!("GET {path}"))?;
        self.read(resp).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> anyhow::Result<Page> {
        let mut req = self.client.post(format!("{}{path}", self.base)).form(form);
        if let Some(c) = self.cookie_header() {
            req = req.header(COOKIE, c);
        }
        let resp = req.send().await.with_context(|| format!("POST {path}"))?;
        self.read(resp).await
    }

    /// Requests `first` and follows the redirects that stay on our server; returns the first
    /// answer that does not (a redirect elsewhere, or a page).
    pub async fn follow(&mut self, first: &str) -> anyhow::Result<Page> {
        let mut path = self
            .ours(first)
            .with_context(|| format!("{first} is not ours"))?;
        for _ in 0..10 {
            let page = self.get(&path).await?;
            match page.location.as_deref().and_then(|l| self.ours(l)) {
                Some(next) => path = next,
                None => return Ok(page),
            }
        }
        anyhow::bail!("more than 10 redirects from {first}")
    }

    /// Username then password from the sign-in page `start` (already fetched), carrying its
    /// `return_to` when it has one; returns the answer to the password form.
    pub async fn sign_in_from(
        &mut self,
        start: &Page,
        username: &str,
        password: &str,
    ) -> anyhow::Result<Page> {
        let csrf = start.csrf()?;
        let return_to = start.field("return_to");
        let mut form = vec![("csrf", csrf.as_str()), ("username", username)];
        if let Some(r) = &return_to {
            form.push(("return_to", r));
        }
        let after_name = self.post("/signin/username", &form).await?;
        anyhow::ensure!(
            after_name.location.as_deref() == Some("/signin/password"),
            "username form: {} {:?} {}",
            after_name.status,
            after_name.location,
            snippet(&after_name.body)
        );
        let pw = self.get("/signin/password").await?;
        self.post(
            "/signin/password",
            &[("csrf", &pw.csrf()?), ("password", password)],
        )
        .await
    }

    /// Signs in from `/start`; fails unless it ends at the portal.
    pub async fn sign_in(&mut self, username: &str, password: &str) -> anyhow::Result<()> {
        let start = self.get("/start").await?;
        let done = self.sign_in_from(&start, username, password).await?;
        anyhow::ensure!(
            done.status == 303 && done.location.as_deref() == Some("/portal"),
            "password form: {} {:?} {}",
            done.status,
            done.location,
            snippet(&done.body)
        );
        Ok(())
    }
}

/// An attribute value as a browser reads it: character references decoded.
pub fn html_unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let decoded = rest.find(';').and_then(|end| {
            let name = &rest[1..end];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => name
                    .strip_prefix("#x")
                    .or_else(|| name.strip_prefix("#X"))
                    .map(|h| u32::from_str_radix(h, 16))
                    .or_else(|| name.strip_prefix('#').map(str::parse))
                    .and_then(Result::ok)
                    .and_then(char::from_u32),
            };
            c.map(|c| (c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

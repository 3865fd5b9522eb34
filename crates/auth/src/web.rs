//! Web plumbing shared by the sign-in and portal pages: cookies, CSRF, safe redirects, the
//! security headers, and rendering.

use std::collections::HashMap;

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use subtle::ConstantTimeEq;

/// Cookie names; `__Host-` prefixed (and `Secure`) when the public URL is https.
#[derive(Debug, Clone)]
pub struct Cookies {
    secure: bool,
}

impl Cookies {
    pub fn new(secure: bool) -> Self {
        Self { secure }
    }

    pub fn name(&self, base: &'static str) -> String {
        if self.secure {
            format!("__Host-{base}")
        } else {
            base.to_owned()
        }
    }

    /// An HttpOnly cookie for the whole site.
    pub fn build(
        &self,
        base: &'static str,
        value: String,
        max_age_secs: i64,
        same_site: SameSite,
    ) -> Cookie<'static> {
        Cookie::build(self.name(base), value)
            .path("/")
            .http_only(true)
            .secure(self.secure)
            .same_site(same_site)
            .max_age(CookieDuration::seconds(max_age_secs.max(0)))
            .finish()
    }

    /// A cookie that deletes `base`.
    pub fn removal(&self, base: &'static str) -> Cookie<'static> {
        let mut c = self.build(base, String::new(), 0, SameSite::Lax);
        c.make_removal();
        c
    }

    pub fn read(&self, req: &HttpRequest, base: &'static str) -> Option<String> {
        req.cookie(&self.name(base))
            .map(|c| c.value().to_owned())
            .filter(|v| !v.is_empty())
    }
}

pub const SESSION_COOKIE: &str = "portcullis_session";
pub const SIGNIN_COOKIE: &str = "portcullis_signin";
pub const CSRF_COOKIE: &str = "portcullis_csrf";
pub const DEVICE_COOKIE: &str = "portcullis_device";

/// Text escaped for HTML, in element content and in quoted attribute values.
pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A random URL-safe string of `bytes` random bytes.
pub fn random_token(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// Double-submit CSRF protection: a random value in a `SameSite=Strict` cookie that every form
/// must echo in its `csrf` field.
#[derive(Debug, Clone)]
pub struct Csrf {
    pub token: String,
    /// The cookie to set when the token is new.
    pub cookie: Option<Cookie<'static>>,
}

impl Csrf {
    /// The request's CSRF token, or a new one (with its cookie) for a form about to be shown.
    pub fn for_form(cookies: &Cookies, req: &HttpRequest) -> Self {
        match cookies.read(req, CSRF_COOKIE) {
            Some(token) => Self {
                token,
                cookie: None,
            },
            None => {
                let token = random_token(24);
                let cookie =
                    cookies.build(CSRF_COOKIE, token.clone(), 60 * 60 * 24, SameSite::Strict);
                Self {
                    token,
                    cookie: Some(cookie),
                }
            }
        }
    }

    /// Whether a submitted form carries the cookie's token (compared in constant time).
    pub fn verify(cookies: &Cookies, req: &HttpRequest, submitted: &str) -> bool {
        match cookies.read(req, CSRF_COOKIE) {
            Some(expected) => {
                expected.len() == submitted.len()
                    && bool::from(expected.as_bytes().ct_eq(submitted.as_bytes()))
            }
            None => false,
        }
    }
}

/// `return_to` only ever points at our own origin: an absolute path, not `//host` or `/\host`.
pub fn safe_return_to(raw: Option<&str>) -> Option<String> {
    let r = raw?.trim();
    let ok = r.starts_with('/')
        && !r.starts_with("//")
        && !r.starts_with("/\\")
        && !r.chars().any(|c| c.is_control() || c == '\\')
        && r.len() <= 2048;
    ok.then(|| r.to_owned())
}

/// The Content Security Policy of every page: no inline script, nothing framed.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                       form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// Renders a page with the security headers, setting the given cookies.
pub fn page(
    status: StatusCode,
    body: &impl Template,
    cookies: Vec<Cookie<'static>>,
) -> HttpResponse {
    match body.render() {
        Ok(html) => {
            let mut resp = HttpResponse::build(status);
            resp.content_type("text/html; charset=utf-8")
                .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
                .insert_header((header::X_FRAME_OPTIONS, "DENY"))
                .insert_header((header::CACHE_CONTROL, "no-store"));
            for c in cookies {
                resp.cookie(c);
            }
            resp.body(html)
        }
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            HttpResponse::InternalServerError().body("internal error")
        }
    }
}

/// Lets a form on this page be answered with a redirect to `to`'s origin: browsers hold the
/// redirect that answers a form to the page's `form-action` as well (CSP 3), so a page whose form
/// ends at a client (consent, logout confirmation) names the client there.
pub fn allow_form_redirect(resp: &mut HttpResponse, to: &str) {
    let Ok(url) = url::Url::parse(to) else {
        return;
    };
    let origin = url.origin();
    let source = if origin.is_tuple() {
        origin.ascii_serialization()
    } else {
        // A private-use scheme (`com.example.app:/cb`): a scheme source.
        format!("{}:", url.scheme())
    };
    if source
        .bytes()
        .any(|b| b.is_ascii_whitespace() || b == b';' || b == b',')
    {
        return;
    }
    let csp = CSP.replace(
        "form-action 'self'",
        &format!("form-action 'self' {source}"),
    );
    if let Ok(value) = header::HeaderValue::from_str(&csp) {
        resp.headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, value);
    }
}

/// A 303 redirect to one of our own paths, setting cookies.
pub fn see_other(location: &str, cookies: Vec<Cookie<'static>>) -> HttpResponse {
    let mut resp = HttpResponse::SeeOther();
    resp.insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    for c in cookies {
        resp.cookie(c);
    }
    resp.finish()
}

/// A trusted reverse proxy: one address (`10.0.0.2`) or a network (`10.0.0.0/8`, `fd00::/8`),
/// as an orchestrator gives its ingress pods addresses from a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyRange(ipnet::IpNet);

impl ProxyRange {
    pub fn contains(&self, address: &std::net::IpAddr) -> bool {
        self.0.contains(address)
    }
}

impl std::str::FromStr for ProxyRange {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        match s.parse::<ipnet::IpNet>() {
            Ok(net) => Ok(Self(net.trunc())),
            Err(_) => s
                .parse::<std::net::IpAddr>()
                .map(|a| Self(ipnet::IpNet::from(a)))
                .map_err(|_| {
                    format!("'{s}' is neither an address nor a network such as 10.0.0.0/8")
                }),
        }
    }
}

impl std::fmt::Display for ProxyRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.prefix_len() == self.0.max_prefix_len() {
            write!(f, "{}", self.0.addr())
        } else {
            write!(f, "{}", self.0)
        }
    }
}

impl serde::Serialize for ProxyRange {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for ProxyRange {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

fn trusted(address: &std::net::IpAddr, proxies: &[ProxyRange]) -> bool {
    proxies.iter().any(|p| p.contains(address))
}

/// The client's address: the connection's peer, unless that peer is one of `trusted_proxies` —
/// then the right-most `X-Forwarded-For` entry that is not itself a trusted proxy. Forwarded
/// headers from anyone else are ignored, or a client could choose its own throttling key.
pub fn client_address(req: &HttpRequest, trusted_proxies: &[ProxyRange]) -> String {
    let Some(peer) = req.peer_addr().map(|a| a.ip()) else {
        return "unknown".into();
    };
    if !trusted(&peer, trusted_proxies) {
        return peer.to_string();
    }
    let forwarded: Vec<std::net::IpAddr> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    forwarded
        .iter()
        .rev()
        .find(|a| !trusted(a, trusted_proxies))
        .unwrap_or(&peer)
        .to_string()
}

/// Whether a `GET` was started by the person rather than by another site: `Sec-Fetch-Site` is
/// `same-origin` (a click in the portal) or `none` (typed, a bookmark), or absent (a client that
/// does not send it). A cross-site navigation gets a page to confirm on instead.
pub fn started_here(req: &HttpRequest) -> bool {
    match req.headers().get("sec-fetch-site") {
        None => true,
        Some(v) => matches!(v.to_str(), Ok("same-origin" | "none")),
    }
}

/// The query or form parameters, each at most once (RFC 6749 §3.1; SAML bindings too).
pub fn single_params(pairs: Vec<(String, String)>) -> Result<HashMap<String, String>, String> {
    let mut out = HashMap::new();
    for (k, v) in pairs {
        if out.insert(k.clone(), v).is_some() {
            return Err(format!("the parameter {k} appears more than once"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_to_stays_on_our_origin() {
        assert_eq!(
            safe_return_to(Some("/portal?tab=apps")).as_deref(),
            Some("/portal?tab=apps")
        );
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "javascript:alert(1)",
            "portal",
            "/a\nb",
        ] {
            assert_eq!(safe_return_to(Some(bad)), None, "{bad}");
        }
        assert_eq!(safe_return_to(None), None);
    }

    #[test]
    fn trusted_proxies_are_addresses_or_networks() {
        let net: ProxyRange = "10.1.2.3/8".parse().unwrap();
        assert_eq!(net.to_string(), "10.0.0.0/8", "host bits dropped");
        assert!(net.contains(&"10.200.0.7".parse().unwrap()));
        assert!(!net.contains(&"11.0.0.1".parse().unwrap()));
        let one: ProxyRange = " 192.0.2.1 ".parse().unwrap();
        assert_eq!(one.to_string(), "192.0.2.1");
        assert!(one.contains(&"192.0.2.1".parse().unwrap()));
        assert!(!one.contains(&"192.0.2.2".parse().unwrap()));
        let v6: ProxyRange = "fd00::/8".parse().unwrap();
        assert!(v6.contains(&"fd12::1".parse().unwrap()));
        for bad in ["", "10.0.0.0/33", "proxy.example.com", "10.0.0.1/"] {
            assert!(bad.parse::<ProxyRange>().is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarded_for_is_believed_from_a_trusted_network_only() {
        use actix_web::test::TestRequest;
        let proxies: Vec<ProxyRange> = vec!["10.0.0.0/8".parse().unwrap()];
        let via = |peer: &str, header: &str| {
            let req = TestRequest::default()
                .peer_addr(format!("{peer}:443").parse().unwrap())
                .insert_header(("x-forwarded-for", header))
                .to_http_request();
            client_address(&req, &proxies)
        };
        // From an ingress pod in the range: the right-most address outside it.
        assert_eq!(via("10.3.4.5", "203.0.113.9, 10.9.9.9"), "203.0.113.9");
        // From anyone else the header is ignored.
        assert_eq!(via("198.51.100.7", "203.0.113.9"), "198.51.100.7");
    }
}

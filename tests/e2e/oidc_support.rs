//! What the OpenID Connect tests share: OIDC applications and their assignments, an authorization
//! request walked through a signed-in [`Browser`] up to the redirect back to the client (never
//! followed), raw token-endpoint calls for exact status codes and bodies, and a relying party
//! built on the `openidconnect` crate over the tests' reqwest client.
//!
//! The test server's public URL is the default `http://localhost:8080` while it listens on
//! `127.0.0.1:{port}`: the relying party's HTTP client maps the one onto the other, as a reverse
//! proxy would, so the issuer and every endpoint the provider advertises are used as published.

use std::collections::{BTreeSet, HashMap};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portcullis_sessions::Clock;
use portcullis_testkit::{Browser, Page, path_on};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::TestApp;

/// The issuer: the test server's public URL (the configuration's default).
pub const ISSUER: &str = "http://localhost:8080";
/// The relying party's registered redirect URI (never fetched: tests read the redirect to it).
pub const REDIRECT: &str = "https://wiki.example.com/callback";
/// The relying party's registered post-logout redirect URI.
pub const POST_LOGOUT: &str = "https://wiki.example.com/signed-out";
pub use portcullis_testkit::PASSWORD;
pub const STATE: &str = "st-4a7f1c";
pub const NONCE: &str = "n-93be02";
pub const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

// ---------------------------------------------------------------------------------------------
// Directory set-up
// ---------------------------------------------------------------------------------------------

/// An OIDC application as a client sees it.
#[derive(Debug, Clone)]
pub struct OidcApp {
    pub id: String,
    pub client_id: String,
    /// Confidential clients only.
    pub secret: Option<String>,
}

/// A confidential client for `REDIRECT` (code + refresh, RS256, one-hour tokens), with
/// `overrides`' keys replacing the defaults.
pub fn registration(overrides: Value) -> Value {
    let mut base = json!({
        "clientType": "confidential",
        "redirectUris": [REDIRECT],
        "postLogoutRedirectUris": [POST_LOGOUT],
        "grantTypes": ["authorization_code", "refresh_token"],
        "allowedScopes": [],
        "audience": null,
        "signingAlgorithm": "RS256",
        "accessTokenLifetime": "PT1H",
        "idTokenLifetime": "PT1H",
        "refreshTokenLifetime": "P30D"
    });
    if let (Some(b), Some(o)) = (base.as_object_mut(), overrides.as_object()) {
        for (k, v) in o {
            b.insert(k.clone(), v.clone());
        }
    }
    base
}

/// Creates an OIDC application; its client id is its application id and only a confidential
/// client gets a secret.
pub async fn create_app(app: &TestApp, name: &str, oidc: Value) -> OidcApp {
    let public = oidc["clientType"] == "public";
    let a = app
        .post(
            "applications",
            json!({"name": name, "kind": "OIDC", "oidc": oidc}),
        )
        .await;
    assert_eq!(a.status, 201, "{a:?}");
    let id = a.body["applicationId"].as_str().expect("applicationId");
    let client_id = a.body["clientId"].as_str().expect("clientId");
    assert_eq!(client_id, id, "the client id is the application id");
    let secret = a.body["clientSecret"].as_str().map(str::to_owned);
    assert_eq!(
        secret.is_none(),
        public,
        "a secret exactly for confidential clients: {a:?}"
    );
    OidcApp {
        id: id.to_owned(),
        client_id: client_id.to_owned(),
        secret,
    }
}

/// Assigns a user (`USER`) or a group (`GROUP`) to an application.
pub async fn assign(app: &TestApp, client: &OidcApp, principal_type: &str, principal_id: &str) {
    let a = app
        .post(
            &format!("applications/{}/assignments", client.id),
            json!({"principalType": principal_type, "principalId": principal_id}),
        )
        .await;
    assert_eq!(a.status, 201, "{a:?}");
}

/// Password sign-in only, so the tests see no second factor.
pub async fn mfa_off(app: &TestApp) {
    let a = app
        .put("settings", Some(json!({"mfa": {"prompt": "NEVER"}})))
        .await;
    assert_eq!(a.status, 200, "{a:?}");
}

/// A person `name` with the test password (no given or family name).
pub async fn person(app: &TestApp, name: &str) -> String {
    let id = app.user(name).await;
    app.set_password(&id, PASSWORD).await;
    id
}

/// A browser signed in to the portal as `name`.
pub async fn signed_in(app: &TestApp, name: &str) -> Browser {
    let b = Browser::new(&app.base);
    let done = b.sign_in(name, PASSWORD).await;
    assert_eq!(
        (done.status, done.location.as_deref()),
        (303, Some("/portal")),
        "{done:?}"
    );
    b
}

/// The usual cast: MFA off, `ada` (signed in), the application `Wiki` registered with
/// `registration(overrides)` and assigned to her.
pub struct Wiki {
    pub client: OidcApp,
    pub user_id: String,
    pub browser: Browser,
}

pub async fn wiki(app: &TestApp, overrides: Value) -> Wiki {
    mfa_off(app).await;
    let user_id = person(app, "ada").await;
    let client = create_app(app, "Wiki", registration(overrides)).await;
    assign(app, &client, "USER", &user_id).await;
    let browser = signed_in(app, "ada").await;
    Wiki {
        client,
        user_id,
        browser,
    }
}

// ---------------------------------------------------------------------------------------------
// The browser side of an authorization request
// ---------------------------------------------------------------------------------------------

/// `location` as a path on our server (at `base` or at the issuer URL), when it points there.
pub fn ours(location: &str, base: &str) -> Option<String> {
    path_on(location, &[ISSUER, base])
}

/// Requests `first` (a path or a URL on our server) and follows the redirects that stay on our
/// server; returns the first answer that does not: the redirect to the client, or a page.
pub async fn follow(b: &Browser, first: &str) -> Page {
    b.follow_among(first, &[ISSUER]).await
}

/// Signs in on the `/start` page an authorization request sent an anonymous browser to (its
/// `return_to` field carrying the request); returns the answer to the password form.
pub async fn sign_in_on_the_way(b: &Browser, start: &Page, username: &str) -> Page {
    assert_eq!(start.status, 200, "{start:?}");
    let return_to = start
        .value("return_to")
        .unwrap_or_else(|| panic!("a return_to field: {}", start.body));
    assert!(return_to.starts_with("/oauth2/authorize?"), "{return_to}");
    // The same steps, the same `return_to`, carried back: and the username form must send it on
    // to the password form.
    b.sign_in_from(start, username, PASSWORD).await
}

/// The parameters (query and fragment) of a redirect to `redirect_uri`; fails unless `page` is
/// exactly such a redirect.
pub fn callback(page: &Page, redirect_uri: &str) -> HashMap<String, String> {
    let location = page
        .location
        .as_deref()
        .unwrap_or_else(|| panic!("no redirect: {page:?}"));
    assert!(matches!(page.status, 302 | 303), "{page:?}");
    let url = url::Url::parse(location).unwrap_or_else(|e| panic!("{location}: {e}"));
    let mut bare = url.clone();
    bare.set_query(None);
    bare.set_fragment(None);
    assert_eq!(bare.as_str(), redirect_uri, "redirected to {location}");
    let mut params: HashMap<String, String> = url.query_pairs().into_owned().collect();
    if let Some(f) = url.fragment() {
        params.extend(url::form_urlencoded::parse(f.as_bytes()).into_owned());
    }
    params
}

/// Asserts a redirect to `REDIRECT` carrying `error` and our `STATE`.
pub fn assert_redirected_error(page: &Page, error: &str) {
    let p = callback(page, REDIRECT);
    assert_eq!(p.get("error").map(String::as_str), Some(error), "{p:?}");
    assert_eq!(p.get("state").map(String::as_str), Some(STATE), "{p:?}");
    assert!(!p.contains_key("code"), "{p:?}");
}

/// Asserts an error page: no redirect anywhere, status 400.
pub fn assert_error_page(page: &Page) {
    assert_eq!(page.status, 400, "{page:?}");
    assert_eq!(page.location, None, "{page:?}");
}

/// A PKCE pair (RFC 7636, S256).
#[derive(Debug, Clone)]
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    pub fn new() -> Self {
        let verifier = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        Self {
            verifier,
            challenge,
        }
    }
}

/// The parameters of a code request by `client_id` to `REDIRECT` with `STATE`, `NONCE` and PKCE.
pub fn code_params<'a>(client_id: &'a str, pkce: &'a Pkce) -> Vec<(&'a str, &'a str)> {
    vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("scope", "openid profile email"),
        ("state", STATE),
        ("nonce", NONCE),
        ("code_challenge", &pkce.challenge),
        ("code_challenge_method", "S256"),
    ]
}

/// `params` with `name` set to `value` (replaced, or added).
pub fn with<'a>(
    mut params: Vec<(&'a str, &'a str)>,
    name: &'a str,
    value: &'a str,
) -> Vec<(&'a str, &'a str)> {
    params.retain(|(k, _)| *k != name);
    params.push((name, value));
    params
}

/// `params` without `name`.
pub fn without<'a>(mut params: Vec<(&'a str, &'a str)>, name: &str) -> Vec<(&'a str, &'a str)> {
    params.retain(|(k, _)| *k != name);
    params
}

pub fn authorize_path(params: &[(&str, &str)]) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    format!("/oauth2/authorize?{query}")
}

/// A code for `client_id` from the signed-in browser `b`, by the plain request of [`code_params`].
pub async fn raw_code(b: &Browser, client_id: &str, pkce: &Pkce) -> String {
    let page = follow(b, &authorize_path(&code_params(client_id, pkce))).await;
    let p = callback(&page, REDIRECT);
    assert_eq!(p.get("state").map(String::as_str), Some(STATE), "{p:?}");
    p.get("code")
        .cloned()
        .unwrap_or_else(|| panic!("no code: {p:?}"))
}

// ---------------------------------------------------------------------------------------------
// Raw calls to the token-side endpoints
// ---------------------------------------------------------------------------------------------

/// An answer from a token-side endpoint.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub async fn read(resp: reqwest::Response) -> Self {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Self {
            status,
            headers,
            body,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A string field of the body.
    pub fn str(&self, field: &str) -> String {
        self.body[field]
            .as_str()
            .unwrap_or_else(|| panic!("no {field}: {self:?}"))
            .to_owned()
    }
}

/// Asserts an OAuth error answer (RFC 6749 §5.2): `status`, a JSON body with `error` and an
/// `error_description`, never cached.
pub fn assert_oauth_error(r: &Reply, status: u16, error: &str) {
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (status, Some(error)),
        "{r:?}"
    );
    assert!(r.body["error_description"].is_string(), "{r:?}");
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("application/json")),
        "{r:?}"
    );
    assert_eq!(r.header("cache-control"), Some("no-store"), "{r:?}");
}

/// A successful token answer (RFC 6749 §5.1): 200, a Bearer token, never cached.
pub fn assert_tokens(r: &Reply) {
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body["access_token"].is_string(), "{r:?}");
    assert!(
        r.body["token_type"]
            .as_str()
            .is_some_and(|t| t.eq_ignore_ascii_case("bearer")),
        "{r:?}"
    );
    assert_eq!(r.header("cache-control"), Some("no-store"), "{r:?}");
}

/// POSTs a form to one of our paths, with HTTP Basic client authentication when `basic` is given.
pub async fn post_form(
    app: &TestApp,
    path: &str,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> Reply {
    let mut req = app.client.post(format!("{}{path}", app.base)).form(form);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    Reply::read(req.send().await.expect("POST")).await
}

/// POSTs to a token-side endpoint as `client`: HTTP Basic with its secret (confidential), or its
/// `client_id` in the form (public).
pub async fn as_client(
    app: &TestApp,
    path: &str,
    client: &OidcApp,
    form: &[(&str, &str)],
) -> Reply {
    match &client.secret {
        Some(secret) => post_form(app, path, form, Some((&client.client_id, secret))).await,
        None => {
            let mut form = form.to_vec();
            form.push(("client_id", &client.client_id));
            post_form(app, path, &form, None).await
        }
    }
}

pub async fn token(app: &TestApp, client: &OidcApp, form: &[(&str, &str)]) -> Reply {
    as_client(app, "/oauth2/token", client, form).await
}

/// Redeems a code sent to `REDIRECT`.
pub async fn redeem(app: &TestApp, client: &OidcApp, code: &str, verifier: &str) -> Reply {
    token(
        app,
        client,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ],
    )
    .await
}

pub async fn refresh(app: &TestApp, client: &OidcApp, refresh_token: &str) -> Reply {
    token(
        app,
        client,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

/// RFC 7662 introspection, authenticated as `client`.
pub async fn introspect(app: &TestApp, client: &OidcApp, token: &str) -> Reply {
    let r = as_client(app, "/oauth2/introspect", client, &[("token", token)]).await;
    assert_eq!(r.status, 200, "{r:?}");
    r
}

/// Asserts an introspection answer that says exactly `{"active": false}` (RFC 7662 §2.2).
pub async fn assert_inactive(app: &TestApp, client: &OidcApp, token: &str) {
    let r = introspect(app, client, token).await;
    assert_eq!(r.body, json!({"active": false}), "{r:?}");
}

/// RFC 7009 revocation, authenticated as `client`. (The crate refuses a revocation endpoint that
/// is not https, and the test issuer is http, so this one is sent by hand.)
pub async fn revoke(app: &TestApp, client: &OidcApp, token: &str, hint: &str) {
    let r = as_client(
        app,
        "/oauth2/revoke",
        client,
        &[("token", token), ("token_type_hint", hint)],
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
}

/// The userinfo endpoint by GET with a bearer token: status and answer.
pub async fn userinfo_status(app: &TestApp, access_token: &str) -> Reply {
    Reply::read(
        app.client
            .get(format!("{}/oauth2/userinfo", app.base))
            .bearer_auth(access_token)
            .send()
            .await
            .expect("GET userinfo"),
    )
    .await
}

/// Asserts that userinfo refuses `access_token` as RFC 6750 §3.1 says: 401 with a Bearer
/// challenge naming `invalid_token`.
pub async fn assert_userinfo_refuses(app: &TestApp, access_token: &str) {
    let r = userinfo_status(app, access_token).await;
    assert_eq!(r.status, 401, "{r:?}");
    let challenge = r.header("www-authenticate").unwrap_or_default();
    assert!(
        challenge.starts_with("Bearer") && challenge.contains("error=\"invalid_token\""),
        "{r:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------

/// The decoded header and claims of a JWS (not verified).
pub fn jwt(token: &str) -> (Value, Value) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWS in compact form: {token}");
    let decode = |p: &str| -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).expect("base64url")).expect("JSON")
    };
    (decode(parts[0]), decode(parts[1]))
}

/// Whether the `aud` claim is exactly `expected` (as a string or a one-element array).
pub fn audience_is(claims: &Value, expected: &str) -> bool {
    claims["aud"] == json!(expected) || claims["aud"] == json!([expected])
}

/// A space-separated scope as a set.
pub fn scopes(s: &str) -> BTreeSet<String> {
    s.split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Verifies an access token's signature with `jsonwebtoken` against our JWKS (by its `kid`) and
/// checks the RFC 9068 shape: `typ: at+jwt`, the expected `alg`, `iss`, `aud`, and `exp` ahead
/// of the server's clock. Returns the claims.
pub async fn verified_access_token(app: &TestApp, token: &str, alg: &str, aud: &str) -> Value {
    let (header, _) = jwt(token);
    assert_eq!(header["typ"], "at+jwt", "{header}");
    assert_eq!(header["alg"], alg, "{header}");
    let kid = header["kid"].as_str().expect("a kid");
    let jwks: jsonwebtoken::jwk::JwkSet = app
        .client
        .get(format!("{}/oauth2/jwks", app.base))
        .send()
        .await
        .expect("GET jwks")
        .json()
        .await
        .expect("a JWKS");
    let jwk = jwks.find(kid).expect("the signing key is published");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).expect("a usable JWK");
    let algorithm: jsonwebtoken::Algorithm = alg.parse().expect("algorithm");
    let mut validation = jsonwebtoken::Validation::new(algorithm);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[aud]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    // The server runs on the test's clock: `exp` is compared with that below.
    validation.validate_exp = false;
    let data = jsonwebtoken::decode::<Value>(token, &key, &validation)
        .unwrap_or_else(|e| panic!("the access token verifies against the JWKS: {e}"));
    let claims = data.claims;
    let exp = claims["exp"].as_i64().expect("exp");
    assert!(exp > app.clock.now().timestamp(), "{claims}");
    claims
}

// ---------------------------------------------------------------------------------------------
// The device flow, by hand
// ---------------------------------------------------------------------------------------------

/// A public client `TV` allowed the device grant (and refresh), assigned to `user_id`.
pub async fn device_app(app: &TestApp, user_id: &str) -> OidcApp {
    let client = create_app(
        app,
        "TV",
        registration(json!({
            "clientType": "public",
            "redirectUris": [],
            "postLogoutRedirectUris": [],
            "grantTypes": [DEVICE_GRANT, "refresh_token"]
        })),
    )
    .await;
    assign(app, &client, "USER", user_id).await;
    client
}

/// `POST /oauth2/device_authorization`, asserting the RFC 8628 §3.2 answer.
pub async fn device_authorization(app: &TestApp, client: &OidcApp) -> Reply {
    let r = as_client(
        app,
        "/oauth2/device_authorization",
        client,
        &[("scope", "openid profile")],
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("cache-control"), Some("no-store"), "{r:?}");
    let user_code = r.str("user_code");
    assert!(is_user_code(&user_code), "{user_code}");
    assert!(r.str("device_code").len() >= 32, "{r:?}");
    assert_eq!(r.str("verification_uri"), format!("{ISSUER}/device"));
    assert_eq!(
        r.str("verification_uri_complete"),
        format!("{ISSUER}/device?user_code={user_code}")
    );
    assert_eq!(r.body["expires_in"], 600, "{r:?}");
    assert_eq!(r.body["interval"], 5, "{r:?}");
    r
}

/// `^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$` (RFC 8628 §6.1: no vowels, no
/// look-alikes).
pub fn is_user_code(s: &str) -> bool {
    const ALPHABET: &str = "BCDFGHJKLMNPQRSTVWXZ";
    let b = s.as_bytes();
    b.len() == 9
        && b[4] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || ALPHABET.as_bytes().contains(c))
}

pub async fn poll(app: &TestApp, client: &OidcApp, device_code: &str) -> Reply {
    token(
        app,
        client,
        &[("grant_type", DEVICE_GRANT), ("device_code", device_code)],
    )
    .await
}

/// Moves the server's clock on by `seconds`.
pub fn wait(app: &TestApp, seconds: i64) {
    app.clock.advance(chrono::Duration::seconds(seconds));
}

/// The signed-in person opens `/device?user_code=…`, checks the application's name and the code,
/// and presses `action` (`approve` or `deny`).
pub async fn device_decision(b: &Browser, app_name: &str, user_code: &str, action: &str) -> Page {
    let page = b.get(&format!("/device?user_code={user_code}")).await;
    assert_eq!(page.status, 200, "{page:?}");
    assert!(page.body.contains(app_name), "{}", page.body);
    assert_eq!(
        page.field("user_code").as_deref(),
        Some(user_code),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("name=\"action\" value=\"approve\"")
            && page.body.contains("name=\"action\" value=\"deny\""),
        "{}",
        page.body
    );
    let done = b
        .post(
            "/device",
            &[
                ("csrf", &page.csrf()),
                ("user_code", user_code),
                ("action", action),
            ],
        )
        .await;
    assert!(matches!(done.status, 200 | 303), "{done:?}");
    done
}

pub use crate::oidc_rp::*;

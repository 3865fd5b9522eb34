//! Entry points for the fuzz targets in `fuzz/` (docs/design/fuzzing.md): thin wrappers that take
//! outside input as bytes, drive it through the same parsing and checking code the endpoints
//! use, and assert what must hold for any input. Not an API: nothing but `fuzz/` calls these.

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::test::TestRequest;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use portcullis_auth::fuzzing::{body_of, must};
use portcullis_domain::{GrantType, OidcSettings, RedirectUri, SigningAlgorithm};
use sha2::{Digest, Sha256};

use crate::authorize::{Reply, normalise_challenge, pkce_matches, single_params};
use crate::aws::{self, CreateToken, RegisterClient, StartDevice};
use crate::clients::PresentedClient;
use crate::error::OAuthError;
use crate::keys::{KeyMaterial, token_header};
use crate::token::form_params;

// ---------------------------------------------------------------------------------------------
// OIDC: authorization request parameters.

const ISSUER: &str = "https://id.example.com";

/// A client registration with an exact https redirect URI and a loopback one (any port), passed
/// to [`oidc_authorize`].
pub fn oidc_fixture() -> OidcSettings {
    OidcSettings {
        redirect_uris: vec![
            must(
                RedirectUri::parse("https://app.example.com/callback"),
                "redirect",
            ),
            must(RedirectUri::parse("http://127.0.0.1/cb"), "loopback"),
        ],
        ..OidcSettings::default()
    }
}

/// The characters that HTML escaping must keep out of attribute values.
fn markup(s: &[u8]) -> [usize; 3] {
    [b'<', b'>', b'"'].map(|c| s.iter().filter(|b| **b == c).count())
}

/// `data` is the query string (or form body) of `/oauth2/authorize`.
pub fn oidc_authorize(client: &OidcSettings, data: &[u8]) {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(data).into_owned().collect();
    let mut names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    let duplicated = names.windows(2).any(|w| w[0] == w[1]);
    let count = pairs.len();
    let params = match single_params(pairs) {
        Ok(p) => p,
        Err(_) => {
            assert!(duplicated, "single parameters refused");
            return;
        }
    };
    assert!(!duplicated, "a repeated parameter was accepted");
    assert_eq!(params.len(), count);
    let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());

    // PKCE: a well-formed challenge is 43 base64url characters, and a verifier proves only the
    // challenge that is its own SHA-256.
    if let Some(c) = get("code_challenge")
        && let Some(n) = normalise_challenge(c)
    {
        assert_eq!(n.len(), 43);
        assert!(
            n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        if let Some(v) = get("code_verifier") {
            let own = URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes()));
            if pkce_matches(&n, v) {
                assert_eq!(own, n);
            }
        }
    }
    if let Some(v) = get("code_verifier") {
        let own = URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes()));
        if pkce_matches(&own, v) {
            assert!((43..=128).contains(&v.len()));
        }
    }

    // The redirect URI: exact, or a loopback registration with another port.
    let redirect_uri = match get("redirect_uri") {
        Some(r) if client.redirect_uris.iter().any(|u| u.matches(r)) => {
            let url = must(url::Url::parse(r), "a matching redirect URI parses");
            assert!(
                url.scheme() == "https" || url.host_str() == Some("127.0.0.1"),
                "{r} matched a registration it should not"
            );
            r.to_owned()
        }
        _ => client.redirect_uris[0].as_str().to_owned(),
    };

    // The answer, by redirect: state and iss come back exactly, on the registered URI.
    let state = get("state").map(str::to_owned);
    let error = OAuthError::invalid_request("fuzz");
    let reply = Reply {
        redirect_uri: redirect_uri.clone(),
        state: state.clone(),
        form_post: false,
        issuer: ISSUER.into(),
    };
    let resp = reply.error(&error);
    if let Some(location) = resp
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
    {
        let url = must(url::Url::parse(location), "Location");
        let registered = must(url::Url::parse(&redirect_uri), "redirect URI");
        assert_eq!(url.origin(), registered.origin());
        assert_eq!(url.path(), registered.path());
        let back: HashMap<String, Vec<String>> =
            url.query_pairs()
                .into_owned()
                .fold(HashMap::new(), |mut m, (k, v)| {
                    m.entry(k).or_default().push(v);
                    m
                });
        let state_back = back.get("state").cloned().unwrap_or_default();
        assert_eq!(state_back, state.iter().cloned().collect::<Vec<_>>());
        assert_eq!(back.get("iss"), Some(&vec![ISSUER.to_owned()]));
    }

    // And by form_post: whatever the state, it adds no markup to the page.
    let page = |state: Option<String>| {
        body_of(
            Reply {
                redirect_uri: redirect_uri.clone(),
                state,
                form_post: true,
                issuer: ISSUER.into(),
            }
            .error(&error),
        )
    };
    assert_eq!(
        markup(&page(state.clone())),
        markup(&page(state.as_ref().map(|_| String::new()))),
        "the state escaped its attribute"
    );
}

// ---------------------------------------------------------------------------------------------
// OIDC: token request parameters (form, HTTP Basic) and the SSO-OIDC JSON bodies.

/// `data` is an `Authorization` header value, a newline, and the body of `/oauth2/token` (also
/// read as the JSON body of the SSO-OIDC `RegisterClient`, `StartDeviceAuthorization` and
/// `CreateToken`).
pub fn oidc_token(data: &[u8]) {
    let (auth, body) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&[][..], data),
    };
    let mut req = TestRequest::post()
        .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"));
    if !auth.is_empty()
        && let Ok(value) = header::HeaderValue::from_bytes(auth)
    {
        req = req.insert_header((header::AUTHORIZATION, value));
    }
    let req = req.to_http_request();
    if let Ok(params) = form_params(&req, body) {
        let form_id = params.get("client_id").map(String::as_str);
        let form_secret = params.get("client_secret").map(String::as_str);
        if let Ok(presented) = PresentedClient::from_request(&req, form_id, form_secret) {
            if presented.basic {
                assert!(form_secret.is_none());
                let (Some(id), Some(secret)) = (&presented.client_id, &presented.client_secret)
                else {
                    panic!("HTTP Basic credentials without an id or a secret");
                };
                if let Some(f) = form_id {
                    assert_eq!(f, id);
                }
                // RFC 6749 §2.3.1: form-encoded id and secret, then base64.
                let enc = |v: &str| {
                    url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
                };
                let again: String = enc(id) + ":" + &enc(secret);
                let again = TestRequest::post()
                    .insert_header((
                        header::AUTHORIZATION,
                        format!("Basic {}", STANDARD.encode(again)),
                    ))
                    .to_http_request();
                let back = must(
                    PresentedClient::from_request(&again, None, None),
                    "re-encoded Basic credentials",
                );
                assert_eq!(back.client_id.as_ref(), Some(id));
                assert_eq!(back.client_secret.as_ref(), Some(secret));
            } else {
                assert_eq!(presented.client_id.as_deref(), form_id);
                assert_eq!(presented.client_secret.as_deref(), form_secret);
            }
        }
        if let Some(Ok(grant)) = params.get("grant_type").map(|g| g.parse::<GrantType>()) {
            assert_eq!(grant.as_str().parse::<GrantType>().ok(), Some(grant));
        }
        if let (Some(c), Some(v)) = (params.get("code_challenge"), params.get("code_verifier")) {
            let _ = pkce_matches(c, v);
        }
    }

    // The SSO-OIDC API's JSON bodies.
    if let Ok(r) = aws::parse::<RegisterClient>(body)
        && let Ok(reg) = aws::check_registration(r)
    {
        let n = reg.name.chars().count();
        assert!((1..=64).contains(&n) && !reg.name.chars().any(char::is_control));
        assert!(!reg.scopes.is_empty() && reg.scopes.len() <= 10);
        assert!(!reg.grants.contains(&GrantType::ClientCredentials));
        assert!(reg.redirect_uris.len() <= 5);
        for u in &reg.redirect_uris {
            assert!(must(RedirectUri::parse(u), "a registered redirect URI").is_loopback_ip());
        }
        if reg.grants.contains(&GrantType::AuthorizationCode) {
            assert!(!reg.redirect_uris.is_empty());
        }
    }
    let _ = aws::parse::<StartDevice>(body);
    let _ = aws::parse::<CreateToken>(body);
}

// ---------------------------------------------------------------------------------------------
// JWTs presented to us: id_token_hint, access tokens at userinfo, introspection and revocation.

/// The token verification clock: 2027-01-15T08:00:00Z.
pub const JWT_NOW: i64 = 1_800_000_000;

/// Our signing keys, fixed (fuzz/keys/) so that seed tokens stay valid from run to run.
#[derive(Clone)]
pub struct JwtKeys {
    keys: Vec<KeyMaterial>,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtKeys")
    }
}

impl JwtKeys {
    /// PKCS#8 v1 DER keys (RS256, ES256, EdDSA), with their `kid`s.
    pub fn new(keys: &[(SigningAlgorithm, &str, &[u8])]) -> Self {
        Self {
            keys: keys
                .iter()
                .map(|(alg, kid, der)| {
                    must(KeyMaterial::from_pkcs8(*alg, Some(kid), der), "JWT key")
                })
                .collect(),
        }
    }
}

fn jwt_now() -> DateTime<Utc> {
    DateTime::from_timestamp(JWT_NOW, 0).unwrap_or_default()
}

/// `data` starting with `{` is a claims set, signed with one of the keys (chosen by length) and
/// verified back: it must verify exactly when its `iss` is ours and its `exp` is in the future,
/// with the claims unchanged. Anything else is a token presented to us; the token is returned
/// when one was signed (fuzz/run's seed maker keeps it).
pub fn jwt(keys: &JwtKeys, data: &[u8]) -> Option<String> {
    let now = jwt_now();
    if data.first() == Some(&b'{') {
        let Ok(serde_json::Value::Object(claims)) = serde_json::from_slice(data) else {
            return None;
        };
        let key = &keys.keys[data.len() % keys.keys.len()];
        let token = must(
            key.sign("JWT", &serde_json::Value::Object(claims.clone())),
            "signing",
        );
        // The registered claims jsonwebtoken reads must have their RFC 7519 types for the
        // equivalence below (we only ever issue such tokens; others are refused, which is fine).
        let typed =
            |name: &str, ok: fn(&serde_json::Value) -> bool| claims.get(name).is_none_or(ok);
        let string_or_strings = |v: &serde_json::Value| {
            v.is_string()
                || v.as_array()
                    .is_some_and(|a| a.iter().all(|s| s.is_string()))
        };
        let well_typed = typed("sub", |v| v.is_string())
            && typed("iss", |v| v.is_string())
            && typed("aud", string_or_strings)
            && typed("exp", |v| v.is_number())
            && typed("nbf", |v| v.is_number())
            && typed("iat", |v| v.is_number());
        let valid = claims.get("iss").and_then(|v| v.as_str()) == Some(ISSUER)
            && claims
                .get("exp")
                .and_then(serde_json::Value::as_i64)
                .is_some_and(|exp| exp > JWT_NOW);
        match key.verify(&token, ISSUER, now) {
            Ok(v) => {
                assert!(valid, "verified a token that is not valid: {claims:?}");
                // As serialized: serde_json's default float parsing is not correctly rounded,
                // so a long decimal in the input may come back one ULP off the value parsed.
                let signed: Option<serde_json::Map<String, serde_json::Value>> =
                    serde_json::to_string(&claims)
                        .ok()
                        .and_then(|s| serde_json::from_str(&s).ok());
                assert_eq!(Some(v.claims), signed, "the claims changed in a round trip");
                assert_eq!(v.typ.as_deref(), Some("JWT"));
            }
            Err(e) => assert!(
                !valid || !well_typed,
                "our own valid token was refused ({e}): {claims:?}"
            ),
        }
        return Some(token);
    }
    let token = String::from_utf8_lossy(data);
    let header = token_header(&token);
    for key in &keys.keys {
        for at in [now, DateTime::<Utc>::MIN_UTC] {
            if let Ok(v) = key.verify(&token, ISSUER, at) {
                let Ok((alg, kid, _)) = &header else {
                    panic!("verified a token whose header is refused");
                };
                assert_eq!((alg, kid), (&v.alg, &v.kid));
                assert_eq!(
                    v.claims.get("iss").and_then(|i| i.as_str()),
                    Some(ISSUER),
                    "wrong issuer accepted"
                );
                let exp = v.claims.get("exp").and_then(serde_json::Value::as_i64);
                assert!(exp.is_some_and(|e| e > at.timestamp()), "expired accepted");
                // What verified re-signs and verifies to the same claims.
                let again = must(
                    key.sign("JWT", &serde_json::Value::Object(v.claims.clone())),
                    "re-signing",
                );
                let back = must(key.verify(&again, ISSUER, at), "re-signed token");
                assert_eq!(back.claims, v.claims);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed seeds (fuzz/corpus/<target>/) of each target, run as ordinary tests: what a
    /// target once found stays fixed even where the fuzz step does not run.
    fn corpus(target: &str) -> Vec<Vec<u8>> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fuzz/corpus")
            .join(target);
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            out.push(must(std::fs::read(entry.path()), "seed"));
        }
        assert!(!out.is_empty(), "no seeds in {}", dir.display());
        out
    }

    #[test]
    fn oidc_seeds() {
        let client = oidc_fixture();
        for seed in corpus("oidc_authorize") {
            oidc_authorize(&client, &seed);
        }
        for seed in corpus("oidc_token") {
            oidc_token(&seed);
        }
    }

    #[test]
    fn jwt_seeds() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/keys");
        let key = |name: &str| must(std::fs::read(dir.join(name)), "test key");
        let (rs, es, ed) = (key("rs256.pk8"), key("es256.pk8"), key("eddsa.pk8"));
        let keys = JwtKeys::new(&[
            (SigningAlgorithm::RS256, "fuzz-rs256", &rs),
            (SigningAlgorithm::ES256, "fuzz-es256", &es),
            (SigningAlgorithm::EdDSA, "fuzz-eddsa", &ed),
        ]);
        for seed in corpus("jwt") {
            jwt(&keys, &seed);
        }
    }
}

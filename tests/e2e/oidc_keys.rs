//! OIDC discovery, the JWKS, and token-signing keys: published before they sign, kept after they
//! retire, rotated by an administrator or by schedule, and shared by every node.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portcullis_server::Application;
use portcullis_server::config::{Config, Secret};
use portcullis_server::state::AppState;
use portcullis_sessions::Clock;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, spawn_app_configured};
use crate::on_both_backends;

const ISSUER: &str = "http://localhost:8080";
const ALGORITHMS: [&str; 3] = ["RS256", "ES256", "EdDSA"];

/// GET `path` (no credentials): status, `Cache-Control`, JSON body.
async fn fetch(base: &str, path: &str) -> (u16, String, Value) {
    let resp = reqwest::get(format!("{base}{path}"))
        .await
        .expect("request");
    let status = resp.status().as_u16();
    let cache = resp
        .headers()
        .get("cache-control")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, cache, resp.json().await.expect("JSON body"))
}

async fn jwks(base: &str) -> Vec<Value> {
    let (status, _, body) = fetch(base, "/oauth2/jwks").await;
    assert_eq!(status, 200, "{body}");
    body["keys"].as_array().expect("keys").clone()
}

fn kids(keys: &[Value], alg: &str) -> Vec<String> {
    keys.iter()
        .filter(|k| k["alg"] == alg)
        .map(|k| k["kid"].as_str().expect("kid").to_owned())
        .collect()
}

fn header(token: &str) -> Value {
    let part = token.split('.').next().expect("header");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
}

async fn discovery_document(app: TestApp) {
    let (status, cache, doc) = fetch(&app.base, "/.well-known/openid-configuration").await;
    assert_eq!(status, 200, "{doc}");
    assert!(cache.starts_with("public, max-age="), "{cache}");
    assert_eq!(doc["issuer"], ISSUER);
    for (field, path) in [
        ("authorization_endpoint", "/oauth2/authorize"),
        ("token_endpoint", "/oauth2/token"),
        ("userinfo_endpoint", "/oauth2/userinfo"),
        ("jwks_uri", "/oauth2/jwks"),
        ("revocation_endpoint", "/oauth2/revoke"),
        ("introspection_endpoint", "/oauth2/introspect"),
        ("end_session_endpoint", "/oauth2/logout"),
        (
            "device_authorization_endpoint",
            "/oauth2/device_authorization",
        ),
    ] {
        assert_eq!(doc[field], format!("{ISSUER}{path}"), "{field}");
    }
    assert_eq!(doc["response_types_supported"], json!(["code"]));
    assert_eq!(
        doc["response_modes_supported"],
        json!(["query", "form_post"])
    );
    assert_eq!(
        doc["grant_types_supported"],
        json!([
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:device_code"
        ])
    );
    assert_eq!(doc["subject_types_supported"], json!(["public"]));
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        json!(["RS256", "ES256", "EdDSA"])
    );
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post", "none"])
    );
    assert!(doc["revocation_endpoint_auth_methods_supported"].is_array());
    assert!(doc["introspection_endpoint_auth_methods_supported"].is_array());
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(
        doc["scopes_supported"],
        json!(["openid", "profile", "email", "groups", "offline_access"])
    );
    for claim in [
        "sub",
        "iss",
        "aud",
        "exp",
        "iat",
        "auth_time",
        "nonce",
        "email",
        "groups",
    ] {
        assert!(
            doc["claims_supported"]
                .as_array()
                .expect("claims_supported")
                .contains(&json!(claim)),
            "{claim}"
        );
    }
    assert_eq!(doc["claims_parameter_supported"], false);
    assert_eq!(doc["request_parameter_supported"], false);
}

async fn jwks_publishes_one_public_key_per_algorithm(app: TestApp) {
    let (status, cache, body) = fetch(&app.base, "/oauth2/jwks").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(cache, "public, max-age=300");
    let keys = body["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 3, "{body}");
    for (alg, kty, crv) in [
        ("RS256", "RSA", None),
        ("ES256", "EC", Some("P-256")),
        ("EdDSA", "OKP", Some("Ed25519")),
    ] {
        let key = keys.iter().find(|k| k["alg"] == alg).expect(alg);
        assert_eq!(key["kty"], kty, "{key}");
        assert_eq!(key["crv"].as_str(), crv, "{key}");
        assert_eq!(key["use"], "sig", "{key}");
        assert!(key["kid"].as_str().is_some_and(|k| !k.is_empty()), "{key}");
        for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
            assert!(key.get(private).is_none(), "{alg} publishes {private}");
        }
    }
    let (status, _, ready) = fetch(&app.base, "/readyz").await;
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["keys"], "loaded", "{ready}");
    // The admin view lists the same keys, all active.
    let listed = app.get("keys").await;
    assert_eq!(listed.status, 200, "{listed:?}");
    let listed = listed.body["keys"].as_array().expect("keys").clone();
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert!(listed.iter().all(|k| k["state"] == "active"), "{listed:?}");
}

on_both_backends!(
    discovery_document,
    jwks_publishes_one_public_key_per_algorithm
);

/// A second node on the same directory and clock as `app` (not serving requests here: its
/// key ring is what the test drives).
async fn second_node(config: Config, app: &TestApp) -> AppState {
    let node = Application::build_with_clock(config, app.clock.clone())
        .await
        .expect("build the second node");
    node.state().clone()
}

/// One node rotates through the admin API; both publish the new keys at once, keep signing
/// with the old ones until `publish_ahead` has passed, then sign with the new ones while the
/// old ones still verify until `retain` has passed. The schedule rotates after 90 days.
async fn rotation_across_nodes(backend: Backend) {
    let mut config = None;
    let app = spawn_app_configured(backend, |c| config = Some(c.clone())).await;
    let config = config.expect("configuration");
    let node2 = second_node(config.clone(), &app).await;
    let keys2 = &node2.oidc.keys;

    let before = jwks(&app.base).await;
    assert_eq!(before.len(), 3);
    let listed = keys2.list().await.expect("list");
    assert_eq!(
        listed.len(),
        3,
        "the second node found the keys the first one made"
    );
    let rs256 = listed
        .iter()
        .find(|k| k.algorithm.as_str() == "RS256")
        .expect("an RS256 key")
        .algorithm;
    let old_kid = kids(&before, "RS256").remove(0);
    let now = || app.clock.now().timestamp();
    let claims = |days: i64| json!({ "iss": ISSUER, "sub": "u-1", "exp": now() + days * 86_400 });
    let old_token = keys2.sign(rs256, "JWT", &claims(30)).await.expect("sign");
    assert_eq!(header(&old_token)["kid"], old_kid.as_str());
    assert_eq!(header(&old_token)["typ"], "JWT");

    let rotated = app.post("keys/rotate", json!({})).await;
    assert_eq!(rotated.status, 200, "{rotated:?}");
    let rotated = rotated.body["keys"].as_array().expect("keys").clone();
    assert_eq!(rotated.len(), 6, "{rotated:?}");
    assert_eq!(
        rotated.iter().filter(|k| k["state"] == "pending").count(),
        3,
        "{rotated:?}"
    );
    let after = jwks(&app.base).await;
    assert_eq!(
        after.len(),
        6,
        "new keys are published at once, old ones stay"
    );
    for alg in ALGORITHMS {
        assert_eq!(kids(&after, alg).len(), 2, "{alg}");
        assert!(kids(&after, alg).contains(&kids(&before, alg)[0]), "{alg}");
    }
    let new_kid = kids(&after, "RS256")
        .into_iter()
        .find(|k| *k != old_kid)
        .expect("a new RS256 kid");

    // Until publish_ahead (an hour) has passed, the old key signs.
    app.clock.advance(chrono::Duration::seconds(3_599));
    let token = keys2.sign(rs256, "JWT", &claims(1)).await.expect("sign");
    assert_eq!(header(&token)["kid"], old_kid.as_str());
    app.clock.advance(chrono::Duration::seconds(1));
    let token = keys2.sign(rs256, "JWT", &claims(1)).await.expect("sign");
    assert_eq!(header(&token)["kid"], new_kid.as_str(), "the new key signs");
    assert_eq!(keys2.verify(&token).await.expect("verify").kid, new_kid);
    assert_eq!(
        keys2
            .verify(&old_token)
            .await
            .expect("old key retained")
            .kid,
        old_kid
    );
    let states = app.get("keys").await.body["keys"].clone();
    let state_of = |kid: &str| {
        states
            .as_array()
            .and_then(|a| a.iter().find(|k| k["kid"] == kid))
            .map(|k| k["state"].clone())
    };
    assert_eq!(state_of(&new_kid), Some(json!("active")), "{states}");
    assert_eq!(state_of(&old_kid), Some(json!("retired")), "{states}");
    assert_eq!(
        jwks(&app.base).await.len(),
        6,
        "retired keys stay published"
    );

    // After retention (a day), the old keys leave the JWKS and their tokens no longer verify;
    // the schedule deletes them.
    app.clock.advance(chrono::Duration::seconds(86_400));
    assert_eq!(jwks(&app.base).await.len(), 3);
    assert!(keys2.verify(&old_token).await.is_err());
    assert!(
        !keys2.rotate_if_due().await.expect("schedule"),
        "not due yet"
    );
    assert_eq!(
        app.get("keys").await.body["keys"].as_array().map(Vec::len),
        Some(3)
    );

    // 90 days on, the schedule rotates once, however many nodes run it.
    app.clock.advance(chrono::Duration::days(90));
    assert!(keys2.rotate_if_due().await.expect("schedule"), "due");
    assert!(
        !keys2.rotate_if_due().await.expect("schedule"),
        "rotated already"
    );
    assert_eq!(jwks(&app.base).await.len(), 6);

    // A node with another master key cannot open the keys: it refuses to start.
    let mut wrong = config;
    wrong.master_key = Some(Secret::new("ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA="));
    let refused = Application::build_with_clock(wrong, app.clock.clone())
        .await
        .expect_err("a wrong master key stops start-up");
    let message = format!("{refused:#}");
    assert!(message.contains("master key"), "{message}");
}

mod two_nodes {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rotation_across_nodes_sqlite() {
        super::rotation_across_nodes(crate::helpers::Backend::Sqlite).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rotation_across_nodes_postgres() {
        super::rotation_across_nodes(crate::helpers::Backend::Postgres).await
    }
}

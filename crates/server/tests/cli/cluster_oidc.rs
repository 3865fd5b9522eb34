//! The OIDC provider across three nodes: a code issued on one node is redeemed on another, a
//! refresh token rotates on a third, keys rotated on one node sign tokens the others verify, and
//! a revocation on one node is refused on the others at once.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use serde_json::{Value, json};

use portcullis_testkit::{Admin, Browser};

pub(super) const REDIRECT: &str = "https://rp.example.com/cb";

/// A confidential OIDC client the person `user` is assigned to: (client id, secret).
pub(super) async fn application(admin: &Admin, node: &str, user: &str) -> (String, String) {
    let app = admin
        .call(
            Method::POST,
            node,
            "applications",
            Some(json!({
                "name": "Cluster wiki",
                "kind": "OIDC",
                "oidc": {"redirectUris": [REDIRECT], "grantTypes": ["authorization_code", "refresh_token"]}
            })),
        )
        .await;
    assert_eq!(app.status, 201, "{app:?}");
    let id = app.body["applicationId"].as_str().expect("id").to_owned();
    let assigned = admin
        .call(
            Method::POST,
            node,
            &format!("applications/{id}/assignments"),
            Some(json!({"principalType": "USER", "principalId": user})),
        )
        .await;
    assert_eq!(assigned.status, 201, "{assigned:?}");
    let secret = app.body["clientSecret"]
        .as_str()
        .expect("secret")
        .to_owned();
    (id, secret)
}

pub(super) async fn token_call(
    node: &str,
    path: &str,
    client: &(String, String),
    form: &[(&str, &str)],
) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{node}{path}"))
        .basic_auth(&client.0, Some(&client.1))
        .form(form)
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {node}{path}: {e}"));
    let status = resp.status().as_u16();
    let body = resp.json().await.unwrap_or(Value::Null);
    (status, body)
}

fn kid(jwt: &str) -> String {
    let header = jwt.split('.').next().expect("header");
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).expect("b64")).expect("json");
    header["kid"].as_str().expect("kid").to_owned()
}

pub(super) async fn active(node: &str, client: &(String, String), token: &str) -> bool {
    let (status, body) = token_call(node, "/oauth2/introspect", client, &[("token", token)]).await;
    assert_eq!(status, 200, "introspection on {node}: {body}");
    body["active"] == json!(true)
}

/// An authorization code for `client`, from `browser` (signed in) on `node`.
pub(super) async fn code_for(browser: &Browser, node: &str, client: &(String, String)) -> String {
    let authorize = format!(
        "/oauth2/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid&state=s1",
        client.0,
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
    );
    let answer = browser.at(node).get(&authorize).await;
    let location = answer.location.clone().unwrap_or_default();
    assert!(
        location.starts_with(REDIRECT),
        "{node} answers with a code: {answer:?}"
    );
    url::Url::parse(&location)
        .expect("url")
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("code")
}

/// Runs with `browser` signed in as `user` (on any node) and nodes started with keys that sign as
/// soon as they are published.
pub async fn tokens_across_nodes(admin: &Admin, browser: &Browser, nodes: [&str; 3], user: &str) {
    let [n1, n2, n3] = nodes;
    let client = application(admin, n1, user).await;
    let code = code_for(browser, n2, &client).await;

    // Issued on node 2, redeemed on node 3.
    let (status, first) = token_call(
        n3,
        "/oauth2/token",
        &client,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(status, 200, "node 3 redeems node 2's code: {first}");
    let first_refresh = first["refresh_token"].as_str().expect("refresh").to_owned();
    let first_access = first["access_token"].as_str().expect("access").to_owned();
    let old_kid = kid(&first_access);
    for node in nodes {
        assert!(
            active(node, &client, &first_access).await,
            "{node} knows the token"
        );
    }

    // Keys rotated on node 1 (published and signing at once in this cluster): node 1 refreshes
    // and signs with the new key; nodes 2 and 3, whose copies of the key set predate it, verify
    // it without a restart. (Other nodes keep signing with the old key, still published, until
    // their copy is reread — within a minute, long before a default rotation starts signing.)
    let rotated = admin.call(Method::POST, n1, "keys/rotate", None).await;
    assert_eq!(rotated.status, 200, "{rotated:?}");
    let (status, second) = token_call(
        n1,
        "/oauth2/token",
        &client,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &first_refresh),
        ],
    )
    .await;
    assert_eq!(status, 200, "node 1 rotates the refresh token: {second}");
    let rotated_at = std::time::Instant::now();
    let second_access = second["access_token"].as_str().expect("access").to_owned();
    let second_refresh = second["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    assert_ne!(
        kid(&second_access),
        old_kid,
        "node 1 signs with the key it rotated"
    );
    // The same refresh retried on node 2 within the grace window (the answer was lost on the way):
    // the same new tokens, not a revoked grant.
    let (status, retried) = token_call(
        n2,
        "/oauth2/token",
        &client,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &first_refresh),
        ],
    )
    .await;
    assert_eq!(status, 200, "a retry within the grace window: {retried}");
    assert_eq!(retried["refresh_token"], second["refresh_token"]);
    assert_eq!(retried["access_token"], second["access_token"]);
    for node in [n2, n3] {
        assert!(
            active(node, &client, &second_access).await,
            "{node} verifies the new key's token"
        );
        assert!(
            active(node, &client, &first_access).await,
            "{node} still verifies the old key's token"
        );
    }

    // Past the grace window, the rotated-away refresh token presented on node 3: refused, and the
    // whole grant revoked for every node at once.
    tokio::time::sleep(Duration::from_secs(11).saturating_sub(rotated_at.elapsed())).await;
    let (status, reused) = token_call(
        n3,
        "/oauth2/token",
        &client,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &first_refresh),
        ],
    )
    .await;
    assert_eq!(
        (status, reused["error"].as_str()),
        (400, Some("invalid_grant")),
        "{reused}"
    );
    let (status, after) = token_call(
        n2,
        "/oauth2/token",
        &client,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &second_refresh),
        ],
    )
    .await;
    assert_eq!(
        (status, after["error"].as_str()),
        (400, Some("invalid_grant")),
        "the family is revoked on node 2: {after}"
    );
    for node in nodes {
        assert!(
            !active(node, &client, &second_access).await,
            "{node} refuses the revoked grant's token"
        );
    }
}

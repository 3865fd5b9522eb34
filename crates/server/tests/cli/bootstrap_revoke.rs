//! A bootstrap administrator token set in the configuration stays revoked: revoked through the
//! admin API, it is refused after a restart with the same configuration, and the log says why
//! (without the token).

use std::path::Path;

use crate::Server;

const TOKEN: &str = "pcat_configured-bootstrap-token-0123456789";

/// `serve` on port 0 with the configured token; the log lines written before it served.
fn serve_logged(dir: &Path) -> (Server, Vec<String>) {
    crate::serve_logged(dir, &[("PORTCULLIS__ADMIN__BOOTSTRAP_TOKEN", TOKEN)])
}

async fn tokens(server: &Server, bearer: &str) -> (u16, serde_json::Value) {
    let resp = reqwest::Client::new()
        .get(format!("{}/admin/v1/tokens", server.url))
        .bearer_auth(bearer)
        .send()
        .await
        .expect("send");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or_default())
}

#[tokio::test]
async fn a_revoked_configured_bootstrap_token_stays_revoked_after_restart() {
    let dir = tempfile::tempdir().expect("dir");
    let client = reqwest::Client::new();
    let (first, _) = serve_logged(dir.path());
    let (status, list) = tokens(&first, TOKEN).await;
    assert_eq!(status, 200, "{list}");
    let boot = list["tokens"]
        .as_array()
        .expect("tokens")
        .iter()
        .find(|t| t["bootstrap"] == true)
        .expect("the configured token is listed")["tokenId"]
        .as_str()
        .expect("id")
        .to_owned();
    let created: serde_json::Value = client
        .post(format!("{}/admin/v1/tokens", first.url))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({"name": "operator"}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let operator = created["token"].as_str().expect("token").to_owned();
    let revoked = client
        .delete(format!("{}/admin/v1/tokens/{boot}", first.url))
        .bearer_auth(&operator)
        .send()
        .await
        .expect("send");
    assert_eq!(revoked.status(), 204);
    assert_eq!(tokens(&first, TOKEN).await.0, 401);
    drop(first);

    // The same configuration again: the token is not recreated.
    let (second, log) = serve_logged(dir.path());
    assert_eq!(tokens(&second, TOKEN).await.0, 401, "refused after restart");
    let (status, list) = tokens(&second, &operator).await;
    assert_eq!(status, 200);
    assert!(
        list["tokens"]
            .as_array()
            .expect("tokens")
            .iter()
            .all(|t| t["bootstrap"] == false),
        "no bootstrap token came back: {list}"
    );
    let log = log.join("\n");
    assert!(
        log.contains("bootstrap admin token") && log.contains("was revoked"),
        "the log says the configured token was revoked: {log}"
    );
    assert!(!log.contains(TOKEN), "the log never shows the token");
    drop(second);

    // A third start, still refused: the revocation is remembered, not a one-off.
    let (third, _) = serve_logged(dir.path());
    assert_eq!(tokens(&third, TOKEN).await.0, 401);
}

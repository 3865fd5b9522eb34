//! Several nodes: three `portcullis serve` processes started together on one fresh PostgreSQL
//! database and one Redis prefix, behind no load balancer but one browser that visits each.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use portcullis_sessions::testing::{RedisCleanup, redis_url, unique_prefix};
use portcullis_store::testing::fresh_postgres;
use reqwest::Method;
use serde_json::json;

use portcullis_testkit::{Admin, PASSWORD};

use super::browser_at;
use crate::{Server, serve};

pub const MASTER_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
pub const ADMIN_TOKEN: &str = "pcat_cluster-bootstrap-token-0123456789";

/// Starts one node per data directory, all at the same time, with the same environment.
fn start_together(dirs: Vec<PathBuf>, env: Vec<(String, String)>) -> Vec<Server> {
    std::thread::scope(|s| {
        let handles: Vec<_> = dirs
            .iter()
            .map(|dir| {
                let env = &env;
                s.spawn(move || {
                    let env: Vec<(&str, &str)> =
                        env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                    serve(dir, &env)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| panic!("a node did not start")))
            .collect()
    })
}

/// What every node of a test cluster is started with: one database, one Redis prefix.
fn cluster_env(database_url: &str, prefix: &str) -> Vec<(String, String)> {
    [
        ("PORTCULLIS__PUBLIC_URL", "http://127.0.0.1:8080"),
        ("PORTCULLIS__DATABASE__URL", database_url),
        ("PORTCULLIS__DATABASE__MAX_CONNECTIONS", "4"),
        ("PORTCULLIS__SESSIONS__URL", &redis_url()),
        ("PORTCULLIS__SESSIONS__KEY_PREFIX", prefix),
        ("PORTCULLIS__MASTER_KEY", MASTER_KEY),
        ("PORTCULLIS__ADMIN__BOOTSTRAP_TOKEN", ADMIN_TOKEN),
        // Rotated keys sign at once, so the test sees a rotation on one node reach the others.
        ("PORTCULLIS__OIDC__KEY_PUBLISH_AHEAD_SECONDS", "0"),
        // A short retry grace window for rotated refresh tokens, so the test can outwait it.
        ("PORTCULLIS__OIDC__REFRESH_GRACE_SECONDS", "10"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// The key ids a node publishes, asked of every node at once: its JWKS `kid`s and the
/// certificates in its SAML metadata.
async fn published_keys(nodes: &[Server]) -> Vec<(Vec<String>, Vec<String>)> {
    let asks: Vec<_> = nodes
        .iter()
        .map(|node| tokio::spawn(keys_of(node.url.clone())))
        .collect();
    let mut published = Vec::new();
    for ask in asks {
        published.push(ask.await.expect("ask a node"));
    }
    published
}

async fn keys_of(node: String) -> (Vec<String>, Vec<String>) {
    let jwks: serde_json::Value = reqwest::get(format!("{node}/oauth2/jwks"))
        .await
        .expect("jwks")
        .json()
        .await
        .expect("jwks json");
    let mut kids: Vec<String> = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["kid"].as_str().expect("kid").to_owned())
        .collect();
    kids.sort();
    let metadata = reqwest::get(format!("{node}/saml/metadata"))
        .await
        .expect("metadata")
        .text()
        .await
        .expect("metadata text");
    // The text of each `<…X509Certificate>` element.
    let mut certs: Vec<String> = metadata
        .split("X509Certificate>")
        .skip(1)
        .step_by(2)
        .filter_map(|c| c.split('<').next().map(str::to_owned))
        .collect();
    certs.sort();
    (kids, certs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_started_together_publish_one_key_set() {
    for count in [2, 3, 2, 3] {
        let db = fresh_postgres().await;
        let prefix = unique_prefix();
        let _redis = RedisCleanup::new(&prefix);
        let dirs: Vec<tempfile::TempDir> = (0..count)
            .map(|_| tempfile::tempdir().expect("dir"))
            .collect();
        let paths = dirs.iter().map(|d| d.path().to_owned()).collect();
        let env = cluster_env(&db.url, &prefix);
        let nodes = tokio::task::spawn_blocking(move || start_together(paths, env))
            .await
            .expect("start the nodes");
        // The first request each node answers already shows the one key set.
        let published = published_keys(&nodes).await;
        let (kids, certs) = &published[0];
        assert_eq!(kids.len(), 3, "one key per algorithm: {kids:?}");
        assert_eq!(certs.len(), 1, "one SAML certificate: {certs:?}");
        for (i, other) in published.iter().enumerate().skip(1) {
            assert_eq!(
                other, &published[0],
                "node {i} of {count} publishes node 0's keys"
            );
        }
        drop(nodes);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_share_sessions_revocation_and_lockouts() {
    // Dropped last: the database and the Redis keys outlive the nodes that use them.
    let db = fresh_postgres().await;
    let prefix = unique_prefix();
    let _redis = RedisCleanup::new(&prefix);
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().expect("dir")).collect();
    let env = cluster_env(&db.url, &prefix);

    // Three nodes racing on an empty database: migrations and the bootstrap token.
    let paths = dirs.iter().map(|d| d.path().to_owned()).collect();
    let started = Instant::now();
    let nodes = tokio::task::spawn_blocking(move || start_together(paths, env))
        .await
        .expect("start the nodes");
    eprintln!(
        "three nodes started together on one empty database in {:?}",
        started.elapsed()
    );
    let [n1, n2, n3] = [&nodes[0].url, &nodes[1].url, &nodes[2].url];
    assert!(n1 != n2 && n2 != n3 && n1 != n3, "three different ports");

    let admin = Admin::new(ADMIN_TOKEN);
    for node in [n1, n2, n3] {
        let ready = reqwest::get(format!("{node}/readyz"))
            .await
            .expect("readyz");
        assert_eq!(ready.status(), 200, "{node} is ready");
    }
    admin.mfa_never(n1).await;
    let ada = admin.person(n1, "ada").await;
    // The directory is shared: node 3 sees what node 1 wrote.
    let seen = admin
        .call(Method::GET, n3, &format!("users/{ada}"), None)
        .await;
    assert_eq!(
        seen.status, 200,
        "node 3 reads the user node 1 created: {seen:?}"
    );

    // A session made on node 1 is good on nodes 2 and 3.
    let browser = browser_at(n1);
    let done = browser.sign_in("ada", PASSWORD).await;
    assert_eq!(
        (done.status, done.location.as_deref()),
        (303, Some("/portal")),
        "signed in on node 1: {done:?}"
    );
    for node in [n1, n2, n3] {
        let portal = browser.at(node).get("/portal").await;
        assert_eq!(
            portal.status, 200,
            "the portal on {node} with node 1's cookie"
        );
        assert!(portal.body.contains("ada"), "{}", portal.body);
    }
    let listed = admin
        .call(Method::GET, n2, &format!("users/{ada}/sessions"), None)
        .await;
    assert_eq!(
        listed.body["sessions"].as_array().map(Vec::len),
        Some(1),
        "node 2's admin API lists the session made on node 1: {listed:?}"
    );

    super::cluster_oidc::tokens_across_nodes(&admin, &browser, [n1, n2, n3], &ada).await;

    // Revoked through node 1's admin API: refused on node 2 at once (sessions are not cached).
    let revoked = admin
        .call(Method::DELETE, n1, &format!("users/{ada}/sessions"), None)
        .await;
    assert_eq!(
        (revoked.status, revoked.body["revoked"].as_u64()),
        (200, Some(1)),
        "{revoked:?}"
    );
    for node in [n2, n3, n1] {
        let portal = browser.at(node).get("/portal").await;
        assert_eq!(
            portal.status, 303,
            "the revoked session is refused on {node} at once: {portal:?}"
        );
        assert!(
            portal
                .location
                .as_deref()
                .is_some_and(|l| l.starts_with("/start")),
            "{portal:?}"
        );
    }

    // Failed sign-ins count across the nodes: five spread over them lock the name everywhere.
    admin.person(n2, "bob").await;
    let attacker = browser_at(n1);
    for (i, node) in [n1, n2, n3, n1, n2].into_iter().enumerate() {
        let failed = attacker.at(node).sign_in("bob", "wrong-password").await;
        assert_eq!(
            failed.status,
            401,
            "failure {} on {node}: {failed:?}",
            i + 1
        );
    }
    for node in [n3, n1, n2] {
        // Even the right password, from another browser, waits.
        let locked = browser_at(node).sign_in("bob", PASSWORD).await;
        assert_eq!(
            locked.status, 429,
            "after 5 failures over three nodes, {node} refuses bob: {locked:?}"
        );
        assert!(
            locked.body.contains("Too many failed attempts"),
            "{}",
            locked.body
        );
    }
    // Another person is not affected, on any node.
    let cy = admin.person(n3, "cy").await;
    for node in [n1, n2, n3] {
        let ok = browser_at(node).sign_in("cy", PASSWORD).await;
        assert_eq!(ok.status, 303, "cy signs in on {node}: {ok:?}");
    }

    assignment_removed_on_one_node_is_refused_on_another(&admin, [n1, n2], &cy).await;
    drop(nodes);
}

/// Each node caches the directory, yet an assignment removed through node 1's admin API is gone
/// from node 2's portal within moments (PostgreSQL notifies every node of the change).
async fn assignment_removed_on_one_node_is_refused_on_another(
    admin: &Admin,
    [n1, n2]: [&str; 2],
    user: &str,
) {
    const ACCOUNT: &str = "123456789012";
    let made = admin
        .call(
            Method::POST,
            n1,
            "accounts",
            Some(json!({"accountId": ACCOUNT, "name": "Cluster", "email": "ops@example.com"})),
        )
        .await;
    assert_eq!(made.status, 201, "{made:?}");
    let ps = admin
        .call(
            Method::POST,
            n1,
            "permission-sets",
            Some(json!({"name": "ClusterAdmin"})),
        )
        .await;
    assert_eq!(ps.status, 201, "{ps:?}");
    let assignment = json!({"accountId": ACCOUNT, "permissionSetId": ps.body["permissionSetId"],
                            "principalType": "USER", "principalId": user});
    let made = admin
        .call(Method::POST, n1, "assignments", Some(assignment.clone()))
        .await;
    assert_eq!(made.status, 201, "{made:?}");
    let browser = browser_at(n2);
    let done = browser.sign_in("cy", PASSWORD).await;
    assert_eq!(done.status, 303, "{done:?}");
    // Node 2 hears of the new assignment (its cache may have held cy's entitlements since the
    // sign-in), and then answers from its cache.
    let deadline = Instant::now() + Duration::from_secs(3);
    while !browser.get("/portal").await.body.contains(ACCOUNT) {
        assert!(
            Instant::now() < deadline,
            "node 2 never shows the new assignment"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let removed = admin
        .call(Method::DELETE, n1, "assignments", Some(assignment))
        .await;
    assert_eq!(removed.status, 204, "{removed:?}");
    let started = Instant::now();
    loop {
        let portal = browser.get("/portal").await;
        assert_eq!(portal.status, 200, "{portal:?}");
        if !portal.body.contains(ACCOUNT) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "node 2 still offers the account 2 s after node 1 removed the assignment"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!(
        "an assignment removed on node 1 was gone from node 2 after {:?}",
        started.elapsed()
    );
}

//! The OpenAPI document is generated from the handlers: every documented operation answers (and
//! refuses an unauthenticated caller), and every path the API promises is documented.

use crate::helpers::{Backend, spawn_app};

#[tokio::test]
async fn every_documented_operation_exists_and_requires_a_token() {
    let app = spawn_app(Backend::Sqlite).await;
    let doc = app.send(app.client.get(app.url("openapi.json"))).await;
    assert_eq!(doc.status, 200);
    assert!(
        doc.body["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3."))
    );
    let paths = doc.body["paths"].as_object().expect("paths");

    let promised = [
        "/admin/v1/users",
        "/admin/v1/users/{userId}",
        "/admin/v1/groups",
        "/admin/v1/groups/{groupId}",
        "/admin/v1/groups/{groupId}/members/{userId}",
        "/admin/v1/accounts",
        "/admin/v1/accounts/{accountId}",
        "/admin/v1/permission-sets",
        "/admin/v1/permission-sets/{permissionSetId}",
        "/admin/v1/assignments",
        "/admin/v1/applications",
        "/admin/v1/applications/{applicationId}",
        "/admin/v1/applications/{applicationId}/assignments",
        "/admin/v1/settings",
        "/admin/v1/audit-events",
        "/admin/v1/tokens",
    ];
    for p in promised {
        assert!(paths.contains_key(p), "{p} is not documented");
    }

    let mut operations = 0;
    for (path, item) in paths {
        let concrete = path
            .replace("{accountId}", "111122223333")
            .replace("{userId}", &uuid::Uuid::new_v4().to_string())
            .replace("{groupId}", &uuid::Uuid::new_v4().to_string())
            .replace("{permissionSetId}", &uuid::Uuid::new_v4().to_string())
            .replace("{applicationId}", &uuid::Uuid::new_v4().to_string())
            .replace("{tokenId}", &uuid::Uuid::new_v4().to_string());
        for method in item.as_object().expect("operations").keys() {
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let a = app
                .send(app.client.request(m, format!("{}{concrete}", app.base)))
                .await;
            assert_eq!(
                a.status, 401,
                "{method} {path} should exist and require a token: {a:?}"
            );
            assert!(
                item[method]["security"].is_array(),
                "{method} {path} documents its security"
            );
            operations += 1;
        }
    }
    assert!(operations >= 40, "only {operations} operations documented");
}

//! Bad input gets a clear error in our JSON shape and changes nothing; never a 500.

use serde_json::json;

use crate::helpers::TestApp;
use crate::on_both_backends;

on_both_backends!(
    malformed_bodies_are_rejected_and_change_nothing,
    every_invalid_field_is_named,
    malformed_ids_and_paging_parameters,
    missing_or_wrong_credentials,
);

async fn user_count(app: &TestApp) -> usize {
    app.get("users").await.body["users"]
        .as_array()
        .map(Vec::len)
        .unwrap_or(usize::MAX)
}

async fn malformed_bodies_are_rejected_and_change_nothing(app: TestApp) {
    let before = user_count(&app).await;
    let raw = |body: &'static str, ctype: &'static str| {
        app.client
            .post(app.url("users"))
            .bearer_auth(&app.token)
            .header("content-type", ctype)
            .body(body)
    };
    let cases = [
        (
            raw("{\"userName\": ", "application/json"),
            400,
            "BadRequest",
        ),
        (raw("[1,2,3]", "application/json"), 400, "BadRequest"),
        (
            raw(
                "{\"userName\":\"x\",\"email\":\"x@example.com\",\"admin\":true}",
                "application/json",
            ),
            400,
            "BadRequest",
        ),
        (
            raw("{\"userName\": 5}", "application/json"),
            400,
            "BadRequest",
        ),
        (
            raw("userName=x", "application/x-www-form-urlencoded"),
            415,
            "UnsupportedMediaType",
        ),
    ];
    for (req, status, code) in cases {
        let a = app.send(req).await;
        assert_eq!(
            (a.status, a.body["error"].as_str()),
            (status, Some(code)),
            "{a:?}"
        );
        assert!(a.body["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let huge =
        json!({"userName": "big", "email": "big@example.com", "displayName": "x".repeat(20_000)});
    let a = app.post("users", huge).await;
    assert_eq!(
        (a.status, a.body["error"].as_str()),
        (413, Some("PayloadTooLarge"))
    );
    assert_eq!(user_count(&app).await, before, "nothing was created");
}

async fn every_invalid_field_is_named(app: TestApp) {
    let a = app
        .post(
            "users",
            json!({"userName": "has space", "email": "nope", "givenName": ""}),
        )
        .await;
    assert_eq!(a.status, 400);
    assert_eq!(a.body["error"], "ValidationError");
    assert_eq!(a.fields(), ["userName", "email", "givenName"]);

    let a = app.post("users", json!({})).await;
    assert_eq!(a.fields(), ["userName", "email"]);

    let a = app
        .post(
            "accounts",
            json!({"accountId": "12345", "name": " ", "email": "x", "consoleUrl": "ftp://x"}),
        )
        .await;
    assert_eq!(a.fields(), ["accountId", "name", "email", "consoleUrl"]);

    let a = app
        .post(
            "permission-sets",
            json!({"name": "bad name!", "sessionDuration": "PT13H"}),
        )
        .await;
    assert_eq!(a.fields(), ["name", "sessionDuration"]);

    let a = app
        .post(
            "assignments",
            json!({"accountId": "x", "permissionSetId": "y", "principalType": "ROBOT"}),
        )
        .await;
    assert_eq!(
        a.fields(),
        [
            "accountId",
            "permissionSetId",
            "principalType",
            "principalId"
        ]
    );

    let a = app
        .post("applications", json!({"name": "", "kind": "LDAP"}))
        .await;
    assert_eq!(a.fields(), ["name", "kind"]);

    let a = app
        .post("groups", json!({"description": "x".repeat(701)}))
        .await;
    assert_eq!(a.fields(), ["displayName", "description"]);

    let a = app.post("tokens", json!({})).await;
    assert_eq!(a.fields(), ["name"]);
}

async fn malformed_ids_and_paging_parameters(app: TestApp) {
    let cases = [
        ("users/not-a-uuid", "userId"),
        ("groups/42", "groupId"),
        ("accounts/12", "accountId"),
        ("permission-sets/x", "permissionSetId"),
        ("applications/x", "applicationId"),
        ("users?maxResults=0", "maxResults"),
        ("users?maxResults=5000", "maxResults"),
        ("groups?nextToken=%25%25%25", "nextToken"),
        ("assignments?principalType=USER", "principalId"),
    ];
    for (path, field) in cases {
        let a = app.get(path).await;
        assert_eq!(
            (a.status, a.fields()),
            (400, vec![field.to_owned()]),
            "{path}: {a:?}"
        );
    }
    let a = app.get("users?maxResults=abc").await;
    assert_eq!(
        (a.status, a.body["error"].as_str()),
        (400, Some("BadRequest"))
    );
    let a = app.get("users?colour=blue").await;
    assert_eq!(a.status, 400);

    let missing = uuid::Uuid::new_v4();
    for path in [
        format!("users/{missing}"),
        format!("groups/{missing}"),
        "accounts/999999999999".into(),
        format!("permission-sets/{missing}"),
        format!("applications/{missing}"),
    ] {
        let a = app.get(&path).await;
        assert_eq!(
            (a.status, a.body["error"].as_str()),
            (404, Some("NotFound")),
            "{path}"
        );
    }
    let a = app.get("no-such-thing").await;
    assert_eq!(a.status, 404);
}

async fn missing_or_wrong_credentials(app: TestApp) {
    let none = app.send(app.client.get(app.url("users"))).await;
    assert_eq!(
        (none.status, none.body["error"].as_str()),
        (401, Some("Unauthorized"))
    );
    let wrong = app
        .send(app.client.get(app.url("users")).bearer_auth("pcat_wrong"))
        .await;
    assert_eq!(wrong.status, 401);
    let basic = app
        .send(
            app.client
                .get(app.url("users"))
                .basic_auth("admin", Some("admin")),
        )
        .await;
    assert_eq!(basic.status, 401);
    let resp = app
        .client
        .get(app.url("users"))
        .send()
        .await
        .expect("request");
    assert_eq!(
        resp.headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some(r#"Bearer realm="portcullis-admin""#)
    );
}

//! The admin API's resources, driven over HTTP on both backends.

use serde_json::json;

use crate::helpers::TestApp;
use crate::on_both_backends;

on_both_backends!(
    users_lifecycle,
    users_paginate_without_gaps,
    groups_and_membership,
    assignments_filter_and_cascade,
    applications_and_their_assignments,
    settings_round_trip_and_limits,
    tokens_are_shown_once_and_revocable,
    audit_events_record_every_change,
);

async fn users_lifecycle(app: TestApp) {
    let a = app
        .post("users", json!({"userName": "Alice", "email": "alice@example.com", "givenName": "Alice", "familyName": "Smith"}))
        .await;
    assert_eq!(a.status, 201, "{a:?}");
    assert_eq!(a.body["displayName"], "Alice Smith");
    assert_eq!(a.body["enabled"], true);
    let id = a.body["userId"].as_str().expect("id").to_owned();

    let got = app.get(&format!("users/{id}")).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, a.body, "a read returns what the write returned");

    // User names are unique case-insensitively.
    let dup = app
        .post(
            "users",
            json!({"userName": "alice", "email": "other@example.com"}),
        )
        .await;
    assert_eq!(dup.status, 409, "{dup:?}");
    assert_eq!(dup.fields(), ["userName"]);

    let p = app
        .patch(
            &format!("users/{id}"),
            json!({"givenName": null, "enabled": false}),
        )
        .await;
    assert_eq!(p.status, 200, "{p:?}");
    assert_eq!(p.body["givenName"], serde_json::Value::Null);
    assert_eq!(p.body["familyName"], "Smith");
    assert_eq!(p.body["enabled"], false);

    assert_eq!(app.delete(&format!("users/{id}"), None).await.status, 204);
    assert_eq!(app.get(&format!("users/{id}")).await.status, 404);
    assert_eq!(app.delete(&format!("users/{id}"), None).await.status, 404);
}

async fn users_paginate_without_gaps(app: TestApp) {
    for name in ["eve", "bob", "dave", "carol", "alice"] {
        app.user(name).await;
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let q = match &token {
            Some(t) => format!("users?maxResults=2&nextToken={t}"),
            None => "users?maxResults=2".into(),
        };
        let a = app.get(&q).await;
        assert_eq!(a.status, 200, "{a:?}");
        pages += 1;
        for u in a.body["users"].as_array().expect("users") {
            seen.push(u["userName"].as_str().expect("name").to_owned());
        }
        match a.body["nextToken"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ["alice", "bob", "carol", "dave", "eve"]);
}

async fn groups_and_membership(app: TestApp) {
    let user = app.user("mia").await;
    let group = app.group("Engineers").await;
    let dup = app
        .post("groups", json!({"displayName": "engineers"}))
        .await;
    assert_eq!(dup.status, 409);

    for _ in 0..2 {
        let a = app
            .put(&format!("groups/{group}/members/{user}"), None)
            .await;
        assert_eq!(a.status, 204, "adding twice is idempotent: {a:?}");
    }
    let members = app.get(&format!("groups/{group}/members")).await;
    assert_eq!(members.body["users"].as_array().map(Vec::len), Some(1));
    let groups = app.get(&format!("users/{user}/groups")).await;
    assert_eq!(groups.body["groups"][0]["displayName"], "Engineers");

    let unknown_user = uuid::Uuid::new_v4();
    let a = app
        .put(&format!("groups/{group}/members/{unknown_user}"), None)
        .await;
    assert_eq!(a.status, 400, "{a:?}");
    assert_eq!(a.fields(), ["userId"]);

    let renamed = app
        .patch(
            &format!("groups/{group}"),
            json!({"description": "All of engineering"}),
        )
        .await;
    assert_eq!(renamed.body["displayName"], "Engineers");
    assert_eq!(renamed.body["description"], "All of engineering");

    assert_eq!(
        app.delete(&format!("groups/{group}/members/{user}"), None)
            .await
            .status,
        204
    );
    assert_eq!(
        app.delete(&format!("groups/{group}/members/{user}"), None)
            .await
            .status,
        404
    );
}

async fn assignments_filter_and_cascade(app: TestApp) {
    let user = app.user("noah").await;
    let group = app.group("Ops").await;
    let account = app.account("111122223333").await;
    let admin = app.permission_set("AdministratorAccess").await;
    let read = app.permission_set("ReadOnly").await;
    let body = |ps: &str, kind: &str, id: &str| json!({"accountId": account, "permissionSetId": ps, "principalType": kind, "principalId": id});
    assert_eq!(
        app.post("assignments", body(&admin, "USER", &user))
            .await
            .status,
        201
    );
    assert_eq!(
        app.post("assignments", body(&read, "GROUP", &group))
            .await
            .status,
        201
    );
    let dup = app.post("assignments", body(&admin, "USER", &user)).await;
    assert_eq!(dup.status, 409);
    let missing = app
        .post(
            "assignments",
            body(&admin, "USER", &uuid::Uuid::new_v4().to_string()),
        )
        .await;
    assert_eq!(
        (missing.status, missing.fields()),
        (400, vec!["principalId".to_owned()])
    );

    let all = app.get(&format!("assignments?accountId={account}")).await;
    assert_eq!(all.body["assignments"].as_array().map(Vec::len), Some(2));
    let mine = app
        .get(&format!(
            "assignments?principalType=USER&principalId={user}"
        ))
        .await;
    assert_eq!(mine.body["assignments"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        mine.body["assignments"][0]["permissionSetId"],
        admin.as_str()
    );

    // Deleting the group removes its assignment in the same transaction.
    assert_eq!(
        app.delete(&format!("groups/{group}"), None).await.status,
        204
    );
    let left = app.get(&format!("assignments?accountId={account}")).await;
    assert_eq!(left.body["assignments"].as_array().map(Vec::len), Some(1));

    // DELETE takes the assignment in the query string as well as in a body.
    let q = format!(
        "assignments?accountId={account}&permissionSetId={admin}&principalType=USER&principalId={user}"
    );
    assert_eq!(app.delete(&q, None).await.status, 204);
    assert_eq!(app.delete(&q, None).await.status, 404);

    // Deleting an account or permission set also cascades.
    assert_eq!(
        app.post("assignments", body(&read, "USER", &user))
            .await
            .status,
        201
    );
    assert_eq!(
        app.delete(&format!("permission-sets/{read}"), None)
            .await
            .status,
        204
    );
    let none = app.get("assignments").await;
    assert_eq!(none.body["assignments"].as_array().map(Vec::len), Some(0));
}

async fn applications_and_their_assignments(app: TestApp) {
    let user = app.user("olivia").await;
    let a = app
        .post(
            "applications",
            json!({"name": "Wiki", "kind": "OIDC", "description": "Team wiki",
                   "oidc": {"redirectUris": ["https://wiki.example.com/cb"]}}),
        )
        .await;
    assert_eq!(a.status, 201, "{a:?}");
    let id = a.body["applicationId"].as_str().expect("id").to_owned();
    let change_kind = app
        .patch(&format!("applications/{id}"), json!({"kind": "SAML"}))
        .await;
    assert_eq!(
        (change_kind.status, change_kind.fields()),
        (400, vec!["kind".to_owned()])
    );
    let disabled = app
        .patch(&format!("applications/{id}"), json!({"enabled": false}))
        .await;
    assert_eq!(disabled.body["enabled"], false);
    assert_eq!(disabled.body["name"], "Wiki");

    let path = format!("applications/{id}/assignments");
    let principal = json!({"principalType": "USER", "principalId": user});
    assert_eq!(app.post(&path, principal.clone()).await.status, 201);
    assert_eq!(app.post(&path, principal.clone()).await.status, 409);
    let list = app.get(&path).await;
    assert_eq!(list.body["assignments"][0]["principalId"], user.as_str());
    assert_eq!(app.delete(&path, Some(principal.clone())).await.status, 204);
    assert_eq!(app.delete(&path, Some(principal)).await.status, 404);
    assert_eq!(
        app.delete(&format!("applications/{id}"), None).await.status,
        204
    );
    assert_eq!(app.get(&path).await.status, 404);
}

async fn settings_round_trip_and_limits(app: TestApp) {
    let s = app.get("settings").await;
    assert_eq!(s.status, 200);
    assert_eq!(s.body["sessionDuration"], "PT8H");
    assert_eq!(s.body["mfa"]["prompt"], "CONTEXT_CHANGE");
    assert_eq!(s.body["emailOtp"], false);

    let put = app
        .put(
            "settings",
            Some(json!({"sessionDuration": "P90D", "emailOtp": true})),
        )
        .await;
    assert_eq!(put.status, 200, "{put:?}");
    assert_eq!(put.body["sessionDuration"], "P90D");
    assert_eq!(
        put.body["mfa"]["prompt"], "CONTEXT_CHANGE",
        "omitted fields keep their value"
    );

    for bad in ["PT14M", "P91D", "8 hours", "P1M"] {
        let a = app
            .put("settings", Some(json!({"sessionDuration": bad})))
            .await;
        assert_eq!(
            (a.status, a.fields()),
            (400, vec!["sessionDuration".to_owned()]),
            "{bad}: {a:?}"
        );
    }
    let limits = app
        .put("settings", Some(json!({"sessionDuration": "PT1M"})))
        .await;
    let msg = limits.body["fields"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        msg.contains("15 minutes") && msg.contains("90 days"),
        "{msg}"
    );

    let mfa = app
        .put("settings", Some(json!({"mfa": {"prompt": "EVERY_SIGN_IN", "allowedTypes": [], "noDeviceAction": "BLOCK"}})))
        .await;
    assert_eq!((mfa.status, mfa.fields()), (400, vec!["mfa".to_owned()]));
    let bad_enum = app
        .put("settings", Some(json!({"mfa": {"prompt": "SOMETIMES"}})))
        .await;
    assert_eq!(bad_enum.fields(), ["mfa.prompt"]);

    let after = app.get("settings").await;
    assert_eq!(
        after.body["sessionDuration"], "P90D",
        "rejected updates changed nothing"
    );
    assert_eq!(after.body["emailOtp"], true);
}

async fn tokens_are_shown_once_and_revocable(app: TestApp) {
    let created = app
        .post("tokens", json!({"name": "ci", "expiresIn": "P30D"}))
        .await;
    assert_eq!(created.status, 201, "{created:?}");
    let secret = created.body["token"].as_str().expect("token").to_owned();
    let id = created.body["tokenId"].as_str().expect("id").to_owned();
    assert!(secret.starts_with("pcat_") && secret.len() > 40);
    assert!(created.body["expiresAt"].is_string());

    let list = app.get("tokens").await;
    let text = list.body.to_string();
    assert!(
        text.contains(&id) && !text.contains(&secret),
        "the list never shows secrets"
    );

    let as_ci = |path: &str| app.client.get(app.url(path)).bearer_auth(&secret);
    assert_eq!(app.send(as_ci("users")).await.status, 200);
    // Changes made with the token are audited under it.
    let mut req = app.client.post(app.url("groups")).bearer_auth(&secret);
    req = req.json(&json!({"displayName": "made-by-ci"}));
    assert_eq!(app.send(req).await.status, 201);
    let audit = app.get("audit-events?action=group.create").await;
    assert_eq!(
        audit.body["events"][0]["actor"],
        format!("admin-token:{id}")
    );

    assert_eq!(app.delete(&format!("tokens/{id}"), None).await.status, 204);
    assert_eq!(app.send(as_ci("users")).await.status, 401);
    let bad = app
        .post("tokens", json!({"name": "x", "expiresIn": "soon"}))
        .await;
    assert_eq!(bad.fields(), ["expiresIn"]);
}

async fn audit_events_record_every_change(app: TestApp) {
    let user = app.user("paul").await;
    let group = app.group("Finance").await;
    app.put(&format!("groups/{group}/members/{user}"), None)
        .await;
    app.put("settings", Some(json!({"emailOtp": true}))).await;

    let all = app.get("audit-events").await;
    assert_eq!(all.status, 200);
    let actions: Vec<&str> = all.body["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    // Newest first.
    let expected = [
        "settings.update",
        "group.member.add",
        "group.create",
        "user.create",
    ];
    assert_eq!(&actions[..4], expected);
    assert_eq!(all.body["events"][0]["actor"], "bootstrap");
    let member = &all.body["events"][1];
    assert_eq!(member["target"], format!("group:{group}"));
    assert_eq!(member["details"]["userId"], user.as_str());

    let users_only = app.get("audit-events?action=user.*").await;
    assert!(
        users_only.body["events"]
            .as_array()
            .expect("events")
            .iter()
            .all(|e| e["action"].as_str().is_some_and(|a| a.starts_with("user.")))
    );
    let future = app.get("audit-events?since=2999-01-01T00:00:00Z").await;
    assert_eq!(future.body["events"].as_array().map(Vec::len), Some(0));
    let paged = app.get("audit-events?maxResults=1").await;
    assert!(paged.body["nextToken"].is_string());
    let bad_time = app.get("audit-events?since=yesterday").await;
    assert_eq!(bad_time.fields(), ["since"]);
}

//! OIDC client registration through the admin API: settings round trip, every invalid field named,
//! client secrets shown once and rotated, and the signing-key endpoints.

use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::on_both_backends;

on_both_backends!(
    confidential_client_gets_its_secret_once,
    every_invalid_oidc_field_is_named,
    public_clients_have_no_secret_and_no_client_credentials,
    client_secrets_rotate,
    saml_applications_take_no_oidc_settings,
    patch_replaces_the_whole_registration,
    keys_are_listed_and_rotated,
);

/// Creates an OIDC application and returns the 201 answer.
async fn create_oidc(app: &TestApp, name: &str, oidc: Value) -> crate::helpers::Answer {
    let a = app
        .post(
            "applications",
            json!({"name": name, "kind": "OIDC", "oidc": oidc}),
        )
        .await;
    assert_eq!(a.status, 201, "{a:?}");
    a
}

async fn confidential_client_gets_its_secret_once(app: TestApp) {
    let a = create_oidc(
        &app,
        "Wiki",
        json!({"redirectUris": ["https://wiki.example.com/oidc/callback"]}),
    )
    .await;
    let id = a.body["applicationId"].as_str().expect("id").to_owned();
    assert_eq!(a.body["clientId"], id.as_str(), "the client id is the id");
    let secret = a.body["clientSecret"].as_str().expect("clientSecret");
    assert!(secret.len() >= 43, "a 256-bit secret: {secret}");
    // Every default filled in.
    assert_eq!(
        a.body["oidc"],
        json!({
            "clientType": "confidential",
            "redirectUris": ["https://wiki.example.com/oidc/callback"],
            "postLogoutRedirectUris": [],
            "grantTypes": ["authorization_code", "refresh_token"],
            "allowedScopes": [],
            "audience": null,
            "signingAlgorithm": "RS256",
            "accessTokenLifetime": "PT1H",
            "idTokenLifetime": "PT1H",
            "refreshTokenLifetime": "P30D",
            "initiateLoginUri": null,
            "requireConsent": false,
        })
    );

    // Reads never show the secret, and otherwise return what the write returned.
    let got = app.get(&format!("applications/{id}")).await;
    assert_eq!(got.status, 200);
    assert!(got.body.get("clientSecret").is_none(), "{got:?}");
    let mut created = a.body.clone();
    created
        .as_object_mut()
        .expect("object")
        .remove("clientSecret");
    assert_eq!(got.body, created);
    let list = app.get("applications").await;
    let listed = &list.body["applications"][0];
    assert_eq!(listed["clientId"], id.as_str());
    assert!(listed.get("clientSecret").is_none());
    assert!(!list.body.to_string().contains(secret));
    let patched = app
        .patch(&format!("applications/{id}"), json!({"enabled": false}))
        .await;
    assert_eq!(patched.status, 200, "{patched:?}");
    assert!(patched.body.get("clientSecret").is_none());
    assert_eq!(
        patched.body["oidc"], a.body["oidc"],
        "PATCH without oidc keeps it"
    );

    // Audited as creation then secret, and the audit log never holds the secret.
    let audit = app.get("audit-events?action=application.*").await;
    let actions: Vec<&str> = audit.body["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(
        actions,
        [
            "application.update",
            "application.client-secret.set",
            "application.create"
        ]
    );
    assert!(!audit.body.to_string().contains(secret));
}

async fn every_invalid_oidc_field_is_named(app: TestApp) {
    let a = app
        .post(
            "applications",
            json!({"name": "Bad", "kind": "OIDC", "oidc": {
                "clientType": "secretive",
                "redirectUris": ["https://ok.example.com/cb", "http://evil.example.com/cb"],
                "postLogoutRedirectUris": ["/relative"],
                "grantTypes": ["implicit"],
                "allowedScopes": ["has space"],
                "audience": "",
                "signingAlgorithm": "HS256",
                "accessTokenLifetime": "PT1M",
                "idTokenLifetime": "P2D",
                "refreshTokenLifetime": "forever",
                "initiateLoginUri": "not a url",
            }}),
        )
        .await;
    assert_eq!(a.status, 400, "{a:?}");
    assert_eq!(a.body["error"], "ValidationError");
    assert_eq!(
        a.fields(),
        [
            "oidc.clientType",
            "oidc.redirectUris",
            "oidc.postLogoutRedirectUris",
            "oidc.grantTypes",
            "oidc.allowedScopes",
            "oidc.audience",
            "oidc.signingAlgorithm",
            "oidc.accessTokenLifetime",
            "oidc.idTokenLifetime",
            "oidc.refreshTokenLifetime",
            "oidc.initiateLoginUri",
        ]
    );
    // The message says which URI is wrong.
    let redirect = a.body["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .find(|f| f["field"] == "oidc.redirectUris")
        .expect("redirect field");
    assert!(
        redirect["message"]
            .as_str()
            .is_some_and(|m| m.contains("http://evil.example.com/cb") && m.contains("https")),
        "{redirect}"
    );

    // Rules across fields: authorization_code needs a redirect URI (also when oidc is omitted,
    // since every field then takes its default), and at least one grant.
    for body in [
        json!({"name": "NoUris", "kind": "OIDC"}),
        json!({"name": "NoUris", "kind": "OIDC", "oidc": {}}),
    ] {
        let a = app.post("applications", body).await;
        assert_eq!(
            (a.status, a.fields()),
            (400, vec!["oidc.redirectUris".to_owned()])
        );
    }
    let a = app
        .post(
            "applications",
            json!({"name": "NoGrants", "kind": "OIDC", "oidc": {"grantTypes": []}}),
        )
        .await;
    assert_eq!(
        (a.status, a.fields()),
        (400, vec!["oidc.grantTypes".to_owned()])
    );
    let a = app
        .post(
            "applications",
            json!({"name": "Login", "kind": "OIDC", "oidc": {
                "redirectUris": ["https://a.example.com/cb"],
                "initiateLoginUri": "http://a.example.com/login"}}),
        )
        .await;
    assert_eq!(
        (a.status, a.fields()),
        (400, vec!["oidc.initiateLoginUri".to_owned()])
    );
    // Unknown fields are refused, not ignored.
    let a = app
        .post(
            "applications",
            json!({"name": "X", "kind": "OIDC", "oidc": {"redirectUri": "https://a.example.com"}}),
        )
        .await;
    assert_eq!(a.status, 400, "{a:?}");

    // Nothing was created.
    let list = app.get("applications").await;
    assert_eq!(list.body["applications"], json!([]));
}

async fn public_clients_have_no_secret_and_no_client_credentials(app: TestApp) {
    let refused = app
        .post(
            "applications",
            json!({"name": "SPA", "kind": "OIDC", "oidc": {
                "clientType": "public",
                "redirectUris": ["https://spa.example.com/cb"],
                "grantTypes": ["authorization_code", "client_credentials"]}}),
        )
        .await;
    assert_eq!(
        (refused.status, refused.fields()),
        (400, vec!["oidc.grantTypes".to_owned()]),
        "{refused:?}"
    );
    assert!(
        refused.body.to_string().contains("confidential"),
        "{refused:?}"
    );

    let a = create_oidc(
        &app,
        "SPA",
        json!({"clientType": "public", "redirectUris": ["http://localhost:3000/cb"],
               "grantTypes": ["authorization_code", "urn:ietf:params:oauth:grant-type:device_code"]}),
    )
    .await;
    assert!(a.body.get("clientSecret").is_none(), "{a:?}");
    assert_eq!(a.body["oidc"]["clientType"], "public");
    let id = a.body["applicationId"].as_str().expect("id");
    let rotate = app
        .post(&format!("applications/{id}/client-secret"), json!({}))
        .await;
    assert_eq!(rotate.status, 409, "{rotate:?}");
    assert!(
        rotate.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("public")),
        "{rotate:?}"
    );
}

async fn client_secrets_rotate(app: TestApp) {
    let a = create_oidc(
        &app,
        "Backend",
        json!({"redirectUris": ["https://b.example.com/cb"],
               "grantTypes": ["authorization_code", "client_credentials"]}),
    )
    .await;
    let id = a.body["applicationId"].as_str().expect("id").to_owned();
    let first = a.body["clientSecret"].as_str().expect("secret").to_owned();

    let path = format!("applications/{id}/client-secret");
    let r = app.post(&path, json!({})).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["clientId"], id.as_str());
    let second = r.body["clientSecret"].as_str().expect("secret").to_owned();
    assert_ne!(first, second);
    let r2 = app
        .send(app.client.post(app.url(&path)).bearer_auth(&app.token))
        .await;
    assert_eq!(r2.status, 200, "no body is needed: {r2:?}");
    assert_ne!(r2.body["clientSecret"], second.as_str());
    let audit = app
        .get("audit-events?action=application.client-secret.set")
        .await;
    let events = audit.body["events"].as_array().expect("events");
    assert_eq!(events.len(), 3, "{audit:?}");
    assert!(
        events
            .iter()
            .all(|e| e["target"] == format!("application:{id}") && e["details"].is_null())
    );
    assert!(!audit.body.to_string().contains(&second));

    let missing = uuid::Uuid::new_v4();
    let r = app
        .post(&format!("applications/{missing}/client-secret"), json!({}))
        .await;
    assert_eq!(r.status, 404, "{r:?}");
    let r = app.post("applications/nope/client-secret", json!({})).await;
    assert_eq!(
        (r.status, r.fields()),
        (400, vec!["applicationId".to_owned()])
    );

    // Becoming public removes the secret; becoming confidential again needs a new one.
    let to_public = app
        .patch(
            &format!("applications/{id}"),
            json!({"oidc": {"clientType": "public", "redirectUris": ["https://b.example.com/cb"]}}),
        )
        .await;
    assert_eq!(to_public.status, 200, "{to_public:?}");
    assert_eq!(app.post(&path, json!({})).await.status, 409);
    let back = app
        .patch(
            &format!("applications/{id}"),
            json!({"oidc": {"redirectUris": ["https://b.example.com/cb"]}}),
        )
        .await;
    assert_eq!(back.body["oidc"]["clientType"], "confidential");
    assert!(back.body.get("clientSecret").is_none());
    assert_eq!(app.post(&path, json!({})).await.status, 200);
}

async fn saml_applications_take_no_oidc_settings(app: TestApp) {
    let refused = app
        .post(
            "applications",
            json!({"name": "Payroll", "kind": "SAML",
                   "oidc": {"redirectUris": ["https://p.example.com/cb"]}}),
        )
        .await;
    assert_eq!(
        (refused.status, refused.fields()),
        (400, vec!["oidc".to_owned()]),
        "{refused:?}"
    );

    let a = app
        .post("applications", json!({"name": "Payroll", "kind": "SAML"}))
        .await;
    assert_eq!(a.status, 201, "{a:?}");
    for field in ["oidc", "clientId", "clientSecret"] {
        assert!(a.body.get(field).is_none(), "{field} in {a:?}");
    }
    let id = a.body["applicationId"].as_str().expect("id");
    let patch = app
        .patch(
            &format!("applications/{id}"),
            json!({"oidc": {"redirectUris": ["https://p.example.com/cb"]}}),
        )
        .await;
    assert_eq!(
        (patch.status, patch.fields()),
        (400, vec!["oidc".to_owned()])
    );
    let rotate = app
        .post(&format!("applications/{id}/client-secret"), json!({}))
        .await;
    assert_eq!(rotate.status, 409, "{rotate:?}");
    assert!(
        rotate.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("SAML")),
        "{rotate:?}"
    );
}

async fn patch_replaces_the_whole_registration(app: TestApp) {
    let a = create_oidc(
        &app,
        "Portal",
        json!({
            "redirectUris": ["https://portal.example.com/cb", "com.example.portal:/cb"],
            "postLogoutRedirectUris": ["https://portal.example.com/bye"],
            "grantTypes": ["authorization_code", "refresh_token", "client_credentials"],
            "allowedScopes": ["api:read", "api:write"],
            "audience": "https://api.example.com",
            "signingAlgorithm": "EdDSA",
            "accessTokenLifetime": "PT15M",
            "idTokenLifetime": "PT2H",
            "refreshTokenLifetime": "P7D",
            "initiateLoginUri": "https://portal.example.com/login",
        }),
    )
    .await;
    let id = a.body["applicationId"].as_str().expect("id").to_owned();
    assert_eq!(a.body["oidc"]["signingAlgorithm"], "EdDSA");
    assert_eq!(a.body["oidc"]["accessTokenLifetime"], "PT15M");
    assert_eq!(a.body["oidc"]["idTokenLifetime"], "PT2H");
    assert_eq!(a.body["oidc"]["refreshTokenLifetime"], "P7D");
    assert_eq!(a.body["oidc"]["audience"], "https://api.example.com");
    assert_eq!(
        a.body["oidc"]["initiateLoginUri"],
        "https://portal.example.com/login"
    );
    assert_eq!(
        app.get(&format!("applications/{id}")).await.body["oidc"],
        a.body["oidc"]
    );

    let p = app
        .patch(
            &format!("applications/{id}"),
            json!({"name": "Portal 2", "oidc": {
                "redirectUris": ["https://portal.example.com/cb2"],
                "signingAlgorithm": "ES256"}}),
        )
        .await;
    assert_eq!(p.status, 200, "{p:?}");
    assert_eq!(p.body["name"], "Portal 2");
    // Everything not given is back to its default.
    assert_eq!(
        p.body["oidc"],
        json!({
            "clientType": "confidential",
            "redirectUris": ["https://portal.example.com/cb2"],
            "postLogoutRedirectUris": [],
            "grantTypes": ["authorization_code", "refresh_token"],
            "allowedScopes": [],
            "audience": null,
            "signingAlgorithm": "ES256",
            "accessTokenLifetime": "PT1H",
            "idTokenLifetime": "PT1H",
            "refreshTokenLifetime": "P30D",
            "initiateLoginUri": null,
            "requireConsent": false,
        })
    );
    assert_eq!(app.get(&format!("applications/{id}")).await.body, p.body);

    // A refused PATCH changes nothing.
    let bad = app
        .patch(
            &format!("applications/{id}"),
            json!({"name": "Portal 3", "oidc": {"redirectUris": ["ftp://x"]}}),
        )
        .await;
    assert_eq!(
        (bad.status, bad.fields()),
        (400, vec!["oidc.redirectUris".to_owned()])
    );
    assert_eq!(app.get(&format!("applications/{id}")).await.body, p.body);
}

/// Needs the key ring (crates/idp/src/oidc/keys.rs).
async fn keys_are_listed_and_rotated(app: TestApp) {
    let before = app.get("keys").await;
    assert_eq!(before.status, 200, "{before:?}");
    let kids = |a: &crate::helpers::Answer| -> Vec<String> {
        a.body["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .filter_map(|k| k["kid"].as_str().map(str::to_owned))
            .collect()
    };
    let old = kids(&before);

    let rotated = app
        .send(
            app.client
                .post(app.url("keys/rotate"))
                .bearer_auth(&app.token),
        )
        .await;
    assert_eq!(rotated.status, 200, "{rotated:?}");
    let keys = rotated.body["keys"].as_array().expect("keys");
    for k in keys {
        assert!(k["kid"].is_string() && k["createdAt"].is_string(), "{k}");
        assert_eq!(k["purpose"], "oidc", "{k}");
        assert!(
            ["RS256", "ES256", "EdDSA"].contains(&k["algorithm"].as_str().unwrap_or("")),
            "{k}"
        );
        assert!(
            ["pending", "active", "retired"].contains(&k["state"].as_str().unwrap_or("")),
            "{k}"
        );
        let text = k.to_string();
        assert!(
            !text.contains("PRIVATE") && !text.contains("private"),
            "{k}"
        );
    }
    // One new key per algorithm, published before it signs.
    let new: Vec<&Value> = keys
        .iter()
        .filter(|k| !old.iter().any(|o| k["kid"] == o.as_str()))
        .collect();
    let mut algorithms: Vec<&str> = new.iter().filter_map(|k| k["algorithm"].as_str()).collect();
    algorithms.sort_unstable();
    assert_eq!(algorithms, ["ES256", "EdDSA", "RS256"], "{rotated:?}");
    if !old.is_empty() {
        // Relying parties that cached the key set must see a new key before it signs.
        assert!(new.iter().all(|k| k["state"] == "pending"), "{rotated:?}");
    }

    // The SAML signing key is listed beside them, untouched by the OIDC rotation.
    let saml = |a: &crate::helpers::Answer| a.body["samlKeys"].clone();
    assert_eq!(saml(&rotated), saml(&before), "{rotated:?}");
    let saml_keys = saml(&rotated);
    let saml_keys = saml_keys.as_array().expect("samlKeys");
    assert_eq!(saml_keys.len(), 1, "{rotated:?}");
    assert_eq!(
        (
            &saml_keys[0]["purpose"],
            &saml_keys[0]["algorithm"],
            &saml_keys[0]["state"]
        ),
        (&json!("saml"), &json!("RSA-SHA256"), &json!("active")),
        "{rotated:?}"
    );
    assert!(!saml_keys[0].to_string().contains("PRIVATE"));

    let after = app.get("keys").await;
    assert_eq!(after.status, 200);
    let mut listed = kids(&after);
    let mut answered = kids(&rotated);
    listed.sort();
    answered.sort();
    assert_eq!(listed, answered);
}

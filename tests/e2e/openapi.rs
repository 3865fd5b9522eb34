//! The OpenAPI document is generated from the handlers: every documented operation answers (and
//! refuses an unauthenticated caller), and every path the API promises is documented.

use serde_json::{Value, json};

use crate::helpers::{Answer, Backend, TestApp, spawn_app};
use crate::on_both_backends;

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

// ------------------------------------------------------------------------------------------
// The document says what the server does: shared error responses, list bounds, and body rules
// checked by sending what the document calls invalid (refused with 400) and valid (accepted).

on_both_backends!(
    every_operation_documents_the_errors_the_server_gives,
    list_parameters_have_the_bounds_the_server_enforces,
    bodies_the_document_calls_invalid_are_refused_and_valid_ones_accepted,
);

const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

async fn document(app: &TestApp) -> Value {
    let doc = app.send(app.client.get(app.url("openapi.json"))).await;
    assert_eq!(doc.status, 200);
    doc.body
}

/// Every (method, path, operation) of the document.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for m in METHODS {
            if let Some(op) = item.get(m) {
                out.push((m.to_owned(), path.clone(), op.clone()));
            }
        }
    }
    out
}

/// A path with every `{param}` replaced: known ids where given, else a fresh UUID.
fn concrete(path: &str, known: &[(&str, &str)]) -> String {
    let mut p = path.to_owned();
    for (name, value) in known {
        p = p.replace(&format!("{{{name}}}"), value);
    }
    while let Some(start) = p.find('{') {
        let end = p[start..].find('}').expect("closing brace") + start;
        let value = if p[start..end].contains("accountId") {
            "999999999999".to_owned()
        } else {
            uuid::Uuid::new_v4().to_string()
        };
        p.replace_range(start..=end, &value);
    }
    p.trim_start_matches("/admin/v1/").to_owned()
}

fn json_body(op: &Value) -> bool {
    op["requestBody"]["content"]
        .as_object()
        .is_some_and(|c| c.contains_key("application/json"))
}

async fn every_operation_documents_the_errors_the_server_gives(app: TestApp) {
    let doc = document(&app).await;
    for (method, path, op) in operations(&doc) {
        let responses = op["responses"].as_object().expect("responses");
        assert!(
            responses.contains_key("401"),
            "{method} {path} documents 401"
        );
        assert_eq!(
            responses["401"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ErrorBody",
            "{method} {path}: 401 is the API's error JSON"
        );
        if !json_body(&op) {
            continue;
        }
        for status in ["400", "413", "415"] {
            assert!(
                responses.contains_key(status),
                "{method} {path} takes a JSON body and documents {status}"
            );
        }
        // The server does answer 415 to a body that is not JSON, before looking anything up.
        let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
        let a = app
            .send(
                app.client
                    .request(m, app.url(&concrete(&path, &[])))
                    .bearer_auth(&app.token)
                    .header("content-type", "text/plain")
                    .body("{}"),
            )
            .await;
        assert_eq!(a.status, 415, "{method} {path}: {a:?}");
        assert_eq!(
            a.body["error"], "UnsupportedMediaType",
            "{method} {path}: {a:?}"
        );
    }
}

/// The schema a `$ref` points to (or the schema itself).
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => &doc["components"]["schemas"][r.trim_start_matches("#/components/schemas/")],
        None => schema,
    }
}

fn has_type(schema: &Value, t: &str) -> bool {
    match &schema["type"] {
        Value::String(s) => s == t,
        Value::Array(a) => a.iter().any(|v| v == t),
        _ => false,
    }
}

fn matches(schema: &Value, value: &str) -> bool {
    let len = value.chars().count() as u64;
    schema["maxLength"].as_u64().is_none_or(|m| len <= m)
        && schema["minLength"].as_u64().is_none_or(|m| len >= m)
        && schema["pattern"].as_str().is_none_or(|p| {
            regex::Regex::new(p)
                .unwrap_or_else(|e| panic!("pattern {p} is not a regex: {e}"))
                .is_match(value)
        })
}

/// Strings that break a documented rule of `schema`, each with what it breaks.
fn invalid_strings(schema: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(m) = schema["maxLength"].as_u64() {
        out.push(("a".repeat(m as usize + 1), format!("longer than {m}")));
    }
    if let Some(m) = schema["minLength"].as_u64().filter(|m| *m > 0) {
        out.push(("a".repeat(m as usize - 1), format!("shorter than {m}")));
    }
    if schema["pattern"].is_string() {
        for c in [
            "", " ", "a b", " x", "x ", "x\u{7}y", "!", "#", "12345", "NOPE", "http:/", "a@b", "P",
            "PT", "P1Y", "1H",
        ] {
            if !matches(schema, c) {
                out.push((c.to_owned(), format!("{c:?} does not match the pattern")));
            }
        }
    }
    out
}

/// A fresh random string of `len` lower-case letters and digits.
fn random_text(len: usize) -> String {
    let mut s = String::new();
    while s.len() < len {
        s.push_str(&uuid::Uuid::new_v4().simple().to_string());
    }
    s.truncate(len);
    s
}

async fn list_parameters_have_the_bounds_the_server_enforces(app: TestApp) {
    let doc = document(&app).await;
    let group = app.group("Listed").await;
    let user = app.user("lister").await;
    let known = [("groupId", group.as_str()), ("userId", user.as_str())];
    let mut lists = 0;
    for (method, path, op) in operations(&doc) {
        let Some(params) = op["parameters"].as_array() else {
            continue;
        };
        for p in params.iter().filter(|p| p["in"] == "query") {
            let name = p["name"].as_str().expect("name");
            let schema = &p["schema"];
            let url = concrete(&path, &known);
            let ask = |value: String| {
                let req = app
                    .client
                    .request(
                        reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).expect("m"),
                        app.url(&url),
                    )
                    .bearer_auth(&app.token)
                    .query(&[(name, value)]);
                app.send(req)
            };
            if name == "maxResults" {
                lists += 1;
                assert_eq!(
                    (schema["minimum"].as_u64(), schema["maximum"].as_u64()),
                    (Some(1), Some(1000)),
                    "{method} {path}: maxResults bounds"
                );
                for bad in ["0", "1001", "-1", "many"] {
                    let a = ask(bad.into()).await;
                    assert_eq!(a.status, 400, "{method} {path}?maxResults={bad}: {a:?}");
                }
                for good in ["1", "1000"] {
                    let a = ask(good.into()).await;
                    assert_eq!(a.status, 200, "{method} {path}?maxResults={good}: {a:?}");
                }
            } else if has_type(schema, "string") {
                for (bad, why) in invalid_strings(schema) {
                    let a = ask(bad).await;
                    assert_eq!(a.status, 400, "{method} {path}?{name}: {why}: {a:?}");
                }
            }
        }
    }
    assert!(lists >= 8, "only {lists} lists document maxResults");
}

/// Sends `body` to `method path`: the status.
async fn send_body(app: &TestApp, method: &str, path: &str, body: &Value) -> Answer {
    let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    app.call(m, path, Some(body.clone())).await
}

/// Drives one operation's body rules from the document: every rule broken alone is a 400, the
/// valid base (`make(n)`, fresh each time) and values at the documented length limits are
/// accepted with `ok`.
async fn check_body(
    app: &TestApp,
    doc: &Value,
    (method, path): (&str, &str),
    ok: u16,
    make: impl Fn() -> Value,
) -> usize {
    let op = &doc["paths"][format!("/admin/v1/{path}")][method.to_lowercase()];
    let schema = resolve(
        doc,
        &op["requestBody"]["content"]["application/json"]["schema"],
    );
    let props = schema["properties"].as_object().expect("properties");
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut checked = 0;
    let base = send_body(app, method, path, &make()).await;
    assert_eq!(base.status, ok, "{method} {path} base body: {base:?}");

    let refused = |what: String, a: Answer| {
        assert_eq!(a.status, 400, "{method} {path}: {what}: {a:?}");
        assert!(
            matches!(
                a.body["error"].as_str(),
                Some("ValidationError" | "BadRequest")
            ),
            "{method} {path}: {what}: {a:?}"
        );
    };
    for name in &required {
        let mut body = make();
        body.as_object_mut().expect("object").remove(*name);
        refused(
            format!("without required {name}"),
            send_body(app, method, path, &body).await,
        );
        checked += 1;
    }
    if schema["additionalProperties"] == false {
        let mut body = make();
        body["notAField"] = json!("x");
        refused(
            "an unknown field".into(),
            send_body(app, method, path, &body).await,
        );
        checked += 1;
    }
    for (name, prop) in props {
        let prop = resolve(doc, prop);
        if has_type(prop, "string") {
            for (bad, why) in invalid_strings(prop) {
                let mut body = make();
                body[name] = json!(bad);
                refused(
                    format!("{name} {why}"),
                    send_body(app, method, path, &body).await,
                );
                checked += 1;
            }
            let mut body = make();
            body[name] = json!(12345);
            refused(
                format!("{name} as a number"),
                send_body(app, method, path, &body).await,
            );
            checked += 1;
            // At the documented limit, when random text fits the documented rule.
            if let Some(max) = prop["maxLength"].as_u64() {
                let value = random_text(max as usize);
                if matches(prop, &value) {
                    let mut body = make();
                    body[name] = json!(value);
                    let a = send_body(app, method, path, &body).await;
                    assert_eq!(
                        a.status, ok,
                        "{method} {path}: {name} of {max} characters: {a:?}"
                    );
                    checked += 1;
                }
            }
        } else if has_type(prop, "boolean") {
            let mut body = make();
            body[name] = json!("yes");
            refused(
                format!("{name} as a string"),
                send_body(app, method, path, &body).await,
            );
            checked += 1;
        }
    }
    checked
}

async fn bodies_the_document_calls_invalid_are_refused_and_valid_ones_accepted(app: TestApp) {
    let doc = document(&app).await;
    let digits = || format!("{:012}", uuid::Uuid::new_v4().as_u128() % 1_000_000_000_000);
    let mut checked = 0;
    checked += check_body(&app, &doc, ("POST", "users"), 201, || {
        let n = random_text(10);
        json!({"userName": format!("u{n}"), "email": format!("{n}@example.com")})
    })
    .await;
    checked += check_body(
        &app,
        &doc,
        ("POST", "groups"),
        201,
        || json!({"displayName": format!("Group {}", random_text(8)), "description": "d"}),
    )
    .await;
    checked += check_body(&app, &doc, ("POST", "accounts"), 201, || {
        json!({"accountId": digits(), "name": "Prod", "email": "aws@example.com",
               "consoleUrl": "https://console.example.com"})
    })
    .await;
    checked += check_body(
        &app,
        &doc,
        ("POST", "permission-sets"),
        201,
        || json!({"name": format!("R{}", random_text(8)), "sessionDuration": "PT2H"}),
    )
    .await;
    checked += check_body(
        &app,
        &doc,
        ("POST", "tokens"),
        201,
        || json!({"name": "automation", "expiresIn": "P30D"}),
    )
    .await;
    checked += check_body(
        &app,
        &doc,
        ("PUT", "settings"),
        200,
        || json!({"sessionDuration": "PT8H"}),
    )
    .await;
    // An assignment: only rules broken (the valid base is made once, then refused as a duplicate).
    let account = app.account(&digits()).await;
    let ps = app.permission_set("Viewer").await;
    let user = app.user("assignee").await;
    let assignment = json!({"accountId": account, "permissionSetId": ps,
                            "principalType": "USER", "principalId": user});
    let op = &doc["paths"]["/admin/v1/assignments"]["post"];
    let schema = resolve(
        &doc,
        &op["requestBody"]["content"]["application/json"]["schema"],
    );
    for (name, prop) in schema["properties"].as_object().expect("properties") {
        for (bad, why) in invalid_strings(resolve(&doc, prop)) {
            let mut body = assignment.clone();
            body[name] = json!(bad);
            let a = app.post("assignments", body).await;
            assert_eq!(a.status, 400, "assignment {name} {why}: {a:?}");
            checked += 1;
        }
    }
    assert!(checked >= 60, "only {checked} checks ran");
}

//! The credential broker over HTTP, driven as the AWS CLI and SDKs drive it: an access token from
//! the SSO-OIDC device flow (register, start, approve on `/device` in a signed-in browser, create
//! the token), then the portal API (`/assignment/*`, `/federation/credentials`, `/logout`) with
//! `x-amz-sso_bearer_token`, then STS `GetCallerIdentity` signed with the minted credentials by
//! the AWS SDK's own SigV4 signer (`aws-sigv4`).

use std::time::SystemTime;

use portcullis_sessions::Clock as _;
use portcullis_testkit::sigv4::{self, CALLER_IDENTITY};
use portcullis_testkit::{Browser, PASSWORD};
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::oidc_support::{mfa_off, person};
use crate::on_both_backends;

on_both_backends!(
    portal_api_lists_pages_and_mints_credentials,
    signed_requests_name_the_role_and_person,
    signed_request_negatives,
    admin_changes_apply_on_the_next_request,
    logout_ends_the_token_but_not_issued_credentials,
    aws_accounts_get_no_native_credentials,
);

/// An account that is a real AWS account is listed with its roles, but native credentials
/// (which AWS would not accept) are never minted for it: its credentials come from its own STS,
/// by SAML or by web identity, and when that cannot be reached the person is told so in the
/// portal API's error shape (and the failure is audited). The person's native accounts still
/// work. (The STS itself is moto in the interop suite.)
async fn aws_accounts_get_no_native_credentials(app: TestApp) {
    let w = world(&app).await;
    let roles = || {
        portal(
            &app,
            Some(&w.token),
            "GET",
            "/assignment/roles?account_id=111111111111",
        )
    };
    let path = "/federation/credentials?account_id=111111111111&role_name=Admin";
    // Port 9 on loopback: nothing listens.
    for federation in ["saml", "webIdentity"] {
        let p = app
            .patch(
                "accounts/111111111111",
                json!({"aws": {"stsEndpoint": "http://127.0.0.1:9", "federation": federation}}),
            )
            .await;
        assert_eq!(p.status, 200, "{p:?}");
        let listed = roles().await;
        assert_eq!(listed.status, 200, "{listed:?}");
        let unreachable = portal(&app, Some(&w.token), "GET", path).await;
        assert_error(&unreachable, 503, "ServiceUnavailableException");
    }
    let audit = app
        .get("audit-events?action=broker.credentials.refuse")
        .await;
    let codes: Vec<_> = audit.body["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["details"]["code"].clone())
        .collect();
    assert_eq!(
        codes,
        [json!("Unreachable"), json!("Unreachable")],
        "{audit:?}"
    );
    let still = credentials(&app, &w.token, "222222222222", "Admin").await;
    assert!(still.akid.starts_with("ASIA"), "{still:?}");
    // Back to native: credentials again.
    let p = app
        .patch("accounts/111111111111", json!({"kind": "native"}))
        .await;
    assert_eq!(p.status, 200, "{p:?}");
    credentials(&app, &w.token, "111111111111", "Admin").await;
}

/// The sign-in URL: `{public_url}/start` (the test server's public URL is the default).
const START_URL: &str = "http://localhost:8080/start";
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const BEARER: &str = "x-amz-sso_bearer_token";

/// What the admin set up: a person holding Admin (2 h) directly in two accounts and ReadOnly
/// through a group in two, one account they do not hold, and their SSO access token.
pub(crate) struct World {
    user: String,
    group: String,
    admin_ps: String,
    pub(crate) token: String,
}

pub(crate) async fn world(app: &TestApp) -> World {
    mfa_off(app).await;
    let user = person(app, "ada").await;
    let group = app.group("Readers").await;
    let m = app
        .put(&format!("groups/{group}/members/{user}"), None)
        .await;
    assert!(m.status < 300, "{m:?}");
    for id in [
        "111111111111",
        "222222222222",
        "333333333333",
        "444444444444",
    ] {
        app.account(id).await;
    }
    let created = app
        .post(
            "permission-sets",
            json!({"name": "Admin", "sessionDuration": "PT2H"}),
        )
        .await;
    assert_eq!(created.status, 201, "{created:?}");
    let admin_ps = created.body["permissionSetId"]
        .as_str()
        .expect("id")
        .to_owned();
    let read_ps = app.permission_set("ReadOnly").await;
    for (account, ps, kind, principal) in [
        ("111111111111", &admin_ps, "USER", &user),
        ("222222222222", &admin_ps, "USER", &user),
        ("111111111111", &read_ps, "GROUP", &group),
        ("333333333333", &read_ps, "GROUP", &group),
    ] {
        let a = app
            .post("assignments", assignment(account, ps, kind, principal))
            .await;
        assert_eq!(a.status, 201, "{a:?}");
    }
    let token = sso_login(app, "ada").await;
    World {
        user,
        group,
        admin_ps,
        token,
    }
}

fn assignment(account: &str, ps: &str, kind: &str, principal: &str) -> Value {
    json!({"accountId": account, "permissionSetId": ps, "principalType": kind, "principalId": principal})
}

async fn post_json(app: &TestApp, path: &str, body: Value) -> Value {
    let resp = app
        .client
        .post(format!("{}{path}", app.base))
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.expect("JSON");
    assert_eq!(status, 200, "POST {path}: {body}");
    body
}

/// `aws sso login`: register, start the device flow, approve in a signed-in browser, create the
/// token. Returns the access token.
async fn sso_login(app: &TestApp, name: &str) -> String {
    let reg = post_json(
        app,
        "/client/register",
        json!({"clientName": "aws-cli", "clientType": "public"}),
    )
    .await;
    let (client_id, secret) = (&reg["clientId"], &reg["clientSecret"]);
    let device = post_json(
        app,
        "/device_authorization",
        json!({"clientId": client_id, "clientSecret": secret, "startUrl": START_URL}),
    )
    .await;
    let b = Browser::new(&app.base);
    let signed_in = b.sign_in(name, PASSWORD).await;
    assert_eq!(signed_in.status, 303, "{signed_in:?}");
    let complete = device["verificationUriComplete"].as_str().expect("uri");
    let path = &complete[complete.find("/device").expect("a /device URL")..];
    let page = b.get(path).await;
    assert_eq!(page.status, 200, "{page:?}");
    let user_code = page.field("user_code").expect("the code on the page");
    let decided = b
        .post(
            "/device",
            &[
                ("csrf", &page.csrf()),
                ("user_code", &user_code),
                ("action", "approve"),
            ],
        )
        .await;
    assert!(decided.status < 400, "{decided:?}");
    let tokens = post_json(
        app,
        "/token",
        json!({"clientId": client_id, "clientSecret": secret, "grantType": DEVICE_GRANT,
               "deviceCode": device["deviceCode"]}),
    )
    .await;
    tokens["accessToken"]
        .as_str()
        .expect("accessToken")
        .to_owned()
}

/// A portal API answer: status, `x-amzn-ErrorType`, body.
#[derive(Debug)]
struct Portal {
    status: u16,
    error_type: Option<String>,
    body: Value,
}

async fn portal(app: &TestApp, token: Option<&str>, method: &str, path: &str) -> Portal {
    let url = format!("{}{path}", app.base);
    let mut req = match method {
        "POST" => app.client.post(url),
        _ => app.client.get(url),
    };
    if let Some(t) = token {
        req = req.header(BEARER, t);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let error_type = resp
        .headers()
        .get("x-amzn-ErrorType")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = resp.text().await.expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).expect("JSON")
    };
    Portal {
        status,
        error_type,
        body,
    }
}

fn assert_error(p: &Portal, status: u16, kind: &str) {
    assert_eq!(
        (p.status, p.error_type.as_deref()),
        (status, Some(kind)),
        "{p:?}"
    );
    assert!(p.body["message"].is_string(), "{p:?}");
}

/// Role credentials as `GetRoleCredentials` returns them.
#[derive(Debug, Clone)]
pub(crate) struct Creds {
    pub(crate) akid: String,
    pub(crate) secret: String,
    pub(crate) token: String,
    expiration: i64,
}

pub(crate) async fn credentials(app: &TestApp, token: &str, account: &str, role: &str) -> Creds {
    let p = portal(
        app,
        Some(token),
        "GET",
        &format!("/federation/credentials?account_id={account}&role_name={role}"),
    )
    .await;
    assert_eq!(p.status, 200, "{p:?}");
    let c = &p.body["roleCredentials"];
    let s = |k: &str| c[k].as_str().expect(k).to_owned();
    Creds {
        akid: s("accessKeyId"),
        secret: s("secretAccessKey"),
        token: s("sessionToken"),
        expiration: c["expiration"].as_i64().expect("expiration in ms"),
    }
}

/// An STS answer: status, the error code or the identity's fields.
#[derive(Debug)]
pub(crate) struct Sts {
    pub(crate) status: u16,
    pub(crate) body: String,
}

impl Sts {
    pub(crate) fn element(&self, name: &str) -> Option<&str> {
        let open = format!("<{name}>");
        let start = self.body.find(&open)? + open.len();
        let end = self.body[start..].find(&format!("</{name}>"))? + start;
        Some(&self.body[start..end])
    }
    pub(crate) fn code(&self) -> Option<&str> {
        self.element("Code")
    }
}

/// `sts.get_caller_identity()` as the SDK sends it, signed at `at` in `region`.
async fn caller_identity(app: &TestApp, c: &Creds, at: SystemTime, region: &str) -> Sts {
    let creds = sigv4::credentials(&c.akid, &c.secret, &c.token);
    let req = sigv4::caller_identity(&app.client, &app.base, &creds, region, at).expect("signed");
    let resp = req.send().await.expect("request");
    Sts {
        status: resp.status().as_u16(),
        body: resp.text().await.expect("body"),
    }
}

pub(crate) fn now(app: &TestApp) -> SystemTime {
    app.clock.now().into()
}

async fn portal_api_lists_pages_and_mints_credentials(app: TestApp) {
    let w = world(&app).await;
    let t = Some(w.token.as_str());

    // Accounts, one per page, through the opaque next token.
    let mut accounts = Vec::new();
    let mut path = "/assignment/accounts?max_result=1".to_owned();
    loop {
        let p = portal(&app, t, "GET", &path).await;
        assert_eq!(p.status, 200, "{p:?}");
        let list = p.body["accountList"].as_array().expect("accountList");
        assert_eq!(list.len(), 1, "{p:?}");
        accounts.push(list[0].clone());
        match p.body["nextToken"].as_str() {
            Some(next) => {
                path = format!(
                    "/assignment/accounts?max_result=1&next_token={}",
                    urlencode(next)
                )
            }
            None => break,
        }
    }
    let ids: Vec<&str> = accounts
        .iter()
        .map(|a| a["accountId"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, ["111111111111", "222222222222", "333333333333"]);
    assert_eq!(accounts[0]["accountName"], "acct 111111111111");
    assert_eq!(accounts[0]["emailAddress"], "ops@example.com");

    // Roles in one account: direct and through the group.
    let p = portal(
        &app,
        t,
        "GET",
        "/assignment/roles?account_id=111111111111&max_result=1",
    )
    .await;
    assert_eq!(
        p.body["roleList"],
        json!([{"roleName": "Admin", "accountId": "111111111111"}])
    );
    let next = p.body["nextToken"].as_str().expect("more roles");
    let p2 = portal(
        &app,
        t,
        "GET",
        &format!(
            "/assignment/roles?account_id=111111111111&max_result=1&next_token={}",
            urlencode(next)
        ),
    )
    .await;
    assert_eq!(
        p2.body["roleList"],
        json!([{"roleName": "ReadOnly", "accountId": "111111111111"}])
    );
    assert!(p2.body.get("nextToken").is_none(), "{p2:?}");

    // A tampered next token, a bad page size, a missing account id.
    let mut tampered = next.to_owned();
    tampered.replace_range(10..11, if &next[10..11] == "A" { "B" } else { "A" });
    for bad in [
        format!(
            "/assignment/roles?account_id=111111111111&next_token={}",
            urlencode(&tampered)
        ),
        format!("/assignment/accounts?next_token={}", urlencode(next)),
        "/assignment/accounts?max_result=0".to_owned(),
        "/assignment/accounts?max_result=101".to_owned(),
        "/assignment/roles".to_owned(),
        "/assignment/roles?account_id=12345".to_owned(),
        "/federation/credentials?account_id=111111111111".to_owned(),
    ] {
        assert_error(
            &portal(&app, t, "GET", &bad).await,
            400,
            "InvalidRequestException",
        );
    }

    // Credentials: AWS shapes, the permission set's duration.
    let issued_at = app.clock.now().timestamp_millis();
    let c = credentials(&app, &w.token, "111111111111", "Admin").await;
    assert!(
        c.akid.len() == 20
            && c.akid.starts_with("ASIA")
            && c.akid
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()),
        "{c:?}"
    );
    assert_eq!(c.secret.len(), 40);
    assert!(!c.token.is_empty());
    assert_eq!(c.expiration, issued_at + 2 * 3_600_000, "now + PT2H, in ms");
    let ro = credentials(&app, &w.token, "333333333333", "ReadOnly").await;
    assert_eq!(ro.expiration, issued_at + 3_600_000, "the default PT1H");

    // Not held: a role, an account that exists, an account that does not.
    for (account, role) in [
        ("222222222222", "ReadOnly"),
        ("444444444444", "Admin"),
        ("999999999999", "Admin"),
    ] {
        let p = portal(
            &app,
            t,
            "GET",
            &format!("/federation/credentials?account_id={account}&role_name={role}"),
        )
        .await;
        assert_error(&p, 404, "ResourceNotFoundException");
    }
    let p = portal(&app, t, "GET", "/assignment/roles?account_id=444444444444").await;
    assert_error(&p, 404, "ResourceNotFoundException");

    // No token, an unknown one.
    for token in [None, Some("pcat_not-a-token")] {
        let p = portal(&app, token, "GET", "/assignment/accounts").await;
        assert_error(&p, 401, "UnauthorizedException");
    }

    // Every issuance is audited, never with the secret or the token.
    let audit = app
        .get("audit-events?action=broker.credentials.issue")
        .await;
    assert_eq!(audit.status, 200, "{audit:?}");
    let events = audit.body["events"].as_array().expect("events");
    assert_eq!(events.len(), 2, "{audit:?}");
    let text = audit.body.to_string();
    assert!(text.contains(&c.akid) && text.contains(&w.user));
    assert!(!text.contains(&c.secret) && !text.contains(&c.token));
    let admin = events
        .iter()
        .find(|e| e["details"]["accessKeyId"] == c.akid.as_str())
        .expect("the Admin issuance");
    assert_eq!(admin["details"]["roleName"], "Admin");
    assert_eq!(admin["details"]["accountId"], "111111111111");
    assert!(admin["details"]["clientId"].is_string());
    assert!(admin["details"]["expiration"].is_string());
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn signed_requests_name_the_role_and_person(app: TestApp) {
    let w = world(&app).await;
    let c = credentials(&app, &w.token, "222222222222", "Admin").await;
    for region in ["us-east-1", "eu-central-1"] {
        let sts = caller_identity(&app, &c, now(&app), region).await;
        assert_eq!(sts.status, 200, "{sts:?}");
        assert!(
            sts.body.starts_with(
                "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
            ),
            "{sts:?}"
        );
        assert_eq!(
            sts.element("Arn"),
            Some("arn:aws:sts::222222222222:assumed-role/Admin/ada")
        );
        assert_eq!(sts.element("Account"), Some("222222222222"));
        let user_id = sts.element("UserId").expect("UserId");
        assert!(
            user_id.starts_with("AROA") && user_id.ends_with(":ada"),
            "{user_id}"
        );
        assert!(sts.element("RequestId").is_some());
    }
    // The role through the group, in another account.
    let ro = credentials(&app, &w.token, "333333333333", "ReadOnly").await;
    let sts = caller_identity(&app, &ro, now(&app), "us-west-2").await;
    assert_eq!(
        sts.element("Arn"),
        Some("arn:aws:sts::333333333333:assumed-role/ReadOnly/ada"),
        "{sts:?}"
    );
}

async fn signed_request_negatives(app: TestApp) {
    let w = world(&app).await;
    let c = credentials(&app, &w.token, "111111111111", "Admin").await;
    let other = credentials(&app, &w.token, "222222222222", "Admin").await;
    let expect = |sts: Sts, status: u16, code: &str| {
        assert_eq!((sts.status, sts.code()), (status, Some(code)), "{sts:?}");
        assert!(sts.body.starts_with("<ErrorResponse"), "{sts:?}");
    };

    // A session token altered by one character; another key's token.
    let mut tampered = c.clone();
    let i = tampered.token.len() / 2;
    let swap = if &tampered.token[i..=i] == "A" {
        "B"
    } else {
        "A"
    };
    tampered.token.replace_range(i..=i, swap);
    expect(
        caller_identity(&app, &tampered, now(&app), "us-east-1").await,
        403,
        "InvalidClientTokenId",
    );
    let mixed = Creds {
        token: other.token.clone(),
        ..c.clone()
    };
    expect(
        caller_identity(&app, &mixed, now(&app), "us-east-1").await,
        403,
        "InvalidClientTokenId",
    );

    // The wrong secret (another credential's).
    let wrong = Creds {
        secret: other.secret.clone(),
        ..c.clone()
    };
    expect(
        caller_identity(&app, &wrong, now(&app), "us-east-1").await,
        403,
        "SignatureDoesNotMatch",
    );

    // Signed ten minutes ago, or ten minutes ahead: outside the ±5 minute window.
    let ten = std::time::Duration::from_secs(600);
    for at in [now(&app) - ten, now(&app) + ten] {
        let sts = caller_identity(&app, &c, at, "us-east-1").await;
        assert!(
            sts.element("Message")
                .is_some_and(|m| m.contains("Signature")),
            "{sts:?}"
        );
        expect(sts, 403, "SignatureDoesNotMatch");
    }
    // Four minutes off is fine.
    let four = std::time::Duration::from_secs(240);
    assert_eq!(
        caller_identity(&app, &c, now(&app) - four, "us-east-1")
            .await
            .status,
        200
    );

    // No signature at all.
    let unsigned = app
        .client
        .post(format!("{}/", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(CALLER_IDENTITY)
        .send()
        .await
        .expect("request");
    assert_eq!(unsigned.status().as_u16(), 403);
    assert!(
        unsigned
            .text()
            .await
            .expect("body")
            .contains("MissingAuthenticationToken")
    );

    // Expired: past the 2 hours of the permission set, even a fresh signature is refused.
    app.clock.advance(chrono::Duration::minutes(121));
    expect(
        caller_identity(&app, &c, now(&app), "us-east-1").await,
        400,
        "ExpiredToken",
    );
}

async fn admin_changes_apply_on_the_next_request(app: TestApp) {
    let w = world(&app).await;
    let t = Some(w.token.as_str());
    let c = credentials(&app, &w.token, "111111111111", "ReadOnly").await;
    assert_eq!(
        caller_identity(&app, &c, now(&app), "us-east-1")
            .await
            .status,
        200
    );

    // Out of the group: the ReadOnly role goes from the portal and its credentials stop working.
    let m = app
        .delete(&format!("groups/{}/members/{}", w.group, w.user), None)
        .await;
    assert!(m.status < 300, "{m:?}");
    let sts = caller_identity(&app, &c, now(&app), "us-east-1").await;
    assert_eq!(
        (sts.status, sts.code()),
        (403, Some("AccessDenied")),
        "{sts:?}"
    );
    let p = portal(&app, t, "GET", "/assignment/roles?account_id=111111111111").await;
    assert_eq!(
        p.body["roleList"],
        json!([{"roleName": "Admin", "accountId": "111111111111"}])
    );
    let p = portal(&app, t, "GET", "/assignment/accounts").await;
    assert_eq!(
        p.body["accountList"].as_array().map(Vec::len),
        Some(2),
        "{p:?}"
    );

    // A direct assignment revoked.
    let admin = credentials(&app, &w.token, "222222222222", "Admin").await;
    let d = app
        .delete(
            "assignments",
            Some(assignment("222222222222", &w.admin_ps, "USER", &w.user)),
        )
        .await;
    assert_eq!(d.status, 204, "{d:?}");
    let sts = caller_identity(&app, &admin, now(&app), "us-east-1").await;
    assert_eq!(sts.code(), Some("AccessDenied"), "{sts:?}");
    let p = portal(
        &app,
        t,
        "GET",
        "/federation/credentials?account_id=222222222222&role_name=Admin",
    )
    .await;
    assert_error(&p, 404, "ResourceNotFoundException");

    // The person disabled: no more portal API, no more verified signatures.
    let still = credentials(&app, &w.token, "111111111111", "Admin").await;
    let u = app
        .patch(&format!("users/{}", w.user), json!({"enabled": false}))
        .await;
    assert_eq!(u.status, 200, "{u:?}");
    assert_error(
        &portal(&app, t, "GET", "/assignment/accounts").await,
        401,
        "UnauthorizedException",
    );
    let sts = caller_identity(&app, &still, now(&app), "us-east-1").await;
    assert_eq!(sts.code(), Some("AccessDenied"), "{sts:?}");
}

async fn logout_ends_the_token_but_not_issued_credentials(app: TestApp) {
    let w = world(&app).await;
    let t = Some(w.token.as_str());
    let c = credentials(&app, &w.token, "111111111111", "Admin").await;
    let out = portal(&app, t, "POST", "/logout").await;
    assert_eq!((out.status, &out.body), (200, &Value::Null), "{out:?}");
    // The bearer replayed after logout: every call is refused, logout included.
    for (method, path) in [
        ("GET", "/assignment/accounts"),
        ("GET", "/assignment/roles?account_id=111111111111"),
        (
            "GET",
            "/federation/credentials?account_id=111111111111&role_name=Admin",
        ),
        ("POST", "/logout"),
    ] {
        assert_error(
            &portal(&app, t, method, path).await,
            401,
            "UnauthorizedException",
        );
    }
    // Credentials issued before run to their expiry.
    let sts = caller_identity(&app, &c, now(&app), "us-east-1").await;
    assert_eq!(sts.status, 200, "{sts:?}");
    // Signing in again gives a working token.
    let again = sso_login(&app, "ada").await;
    assert_eq!(
        portal(&app, Some(&again), "GET", "/assignment/accounts")
            .await
            .status,
        200
    );
}

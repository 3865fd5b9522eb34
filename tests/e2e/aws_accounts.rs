//! Accounts that are real clouds: the admin API records how an `aws` account is reached and
//! federated into, checks every ARN and URL, and keeps native accounts as they were.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use portcullis_testkit::{Browser, PASSWORD};
use samael::service_provider::ServiceProvider;
use serde_json::json;

use crate::helpers::TestApp;
use crate::oidc_support::{mfa_off, person};
use crate::on_both_backends;

on_both_backends!(
    aws_accounts_round_trip_with_defaults,
    aws_settings_are_checked_field_by_field,
    kind_changes_both_ways,
    console_signs_in_to_aws_by_saml_in_the_chosen_role,
    console_signs_in_at_the_regional_endpoint_when_chosen,
);

const AWS_SIGN_IN: &str = "https://signin.aws.amazon.com/saml";

/// The auto-posting console page: its `Content-Security-Policy` and its HTML.
struct ConsolePage {
    csp: String,
    body: String,
}

impl ConsolePage {
    /// The value of the form's hidden field `name`.
    fn field(&self, name: &str) -> String {
        let needle = format!("name=\"{name}\" value=\"");
        let at = self
            .body
            .find(&needle)
            .unwrap_or_else(|| panic!("no {name} in {}", self.body));
        let rest = &self.body[at + needle.len()..];
        portcullis_testkit::html_unescape(&rest[..rest.find('"').expect("closed")])
    }
}

/// `GET path` as the portal's own link is followed (same site), expecting the page.
async fn console_page(app: &TestApp, b: &Browser, path: &str) -> ConsolePage {
    let page = b
        .client
        .get(format!("{}{path}", app.base))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .expect("GET");
    assert_eq!(page.status().as_u16(), 200);
    let csp = page
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    ConsolePage {
        csp,
        body: page.text().await.expect("body"),
    }
}

/// The console of an `aws` account is a SAML sign-in to AWS: the page posts to AWS's sign-in
/// endpoint a Response that samael, configured as AWS's SP (`urn:amazon:webservices`), accepts
/// — signed with our metadata's key, for AWS's audience and recipient — carrying exactly the
/// chosen role and the person's session name and duration; the account's console URL is the
/// RelayState. The same refusals as any console: not held, or started by another site.
async fn console_signs_in_to_aws_by_saml_in_the_chosen_role(app: TestApp) {
    mfa_off(&app).await;
    let user = person(&app, "ada").await;
    let tagged = app
        .patch(
            &format!("users/{user}"),
            json!({"attributes": {"department": "Engineering", "costCenter": "4711"}}),
        )
        .await;
    assert_eq!(tagged.status, 200, "{tagged:?}");
    assert_eq!(tagged.body["attributes"]["department"], "Engineering");
    let a = app
        .post(
            "accounts",
            json!({"accountId": "777777777777", "name": "Prod", "email": "prod@example.com",
                   "consoleUrl": "https://console.aws.amazon.com/ec2/home",
                   "aws": {"roleArnTemplate": "arn:aws:iam::{accountId}:role/sso/{permissionSetName}",
                           "sessionTags": {"Department": "${user:department}",
                                           "Contact": "${user:email}",
                                           "Team": "${user:team}"}}}),
        )
        .await;
    assert_eq!(a.status, 201, "{a:?}");
    let ps = app
        .post(
            "permission-sets",
            json!({"name": "Admin", "sessionDuration": "PT2H"}),
        )
        .await;
    let ps = ps.body["permissionSetId"].as_str().expect("id").to_owned();
    let r = app
        .post(
            "assignments",
            json!({"accountId": "777777777777", "permissionSetId": ps, "principalType": "USER",
                   "principalId": user}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let b = Browser::new(&app.base);
    assert_eq!(b.sign_in("ada", PASSWORD).await.status, 303);
    // The Accounts tab offers the console (no console token link: a SAML sign-in).
    let portal = b.get("/portal").await;
    assert!(
        portal
            .body
            .contains("href=\"/portal/accounts/777777777777/console?role=Admin\""),
        "{}",
        portal.body
    );
    let page = console_page(&app, &b, "/portal/accounts/777777777777/console?role=Admin").await;
    assert!(
        page.csp
            .contains("form-action https://signin.aws.amazon.com"),
        "{}",
        page.csp
    );
    assert!(
        page.body.contains(&format!("action=\"{AWS_SIGN_IN}\"")),
        "{}",
        page.body
    );
    assert_eq!(
        page.field("RelayState"),
        "https://console.aws.amazon.com/ec2/home"
    );
    let response = page.field("SAMLResponse");

    let aws = ServiceProvider {
        entity_id: Some("urn:amazon:webservices".into()),
        acs_url: Some(AWS_SIGN_IN.into()),
        idp_metadata: crate::saml::idp_metadata(&app).await,
        allow_idp_initiated: true,
        ..Default::default()
    };
    let assertion = aws
        .parse_base64_response(&response, None)
        .expect("AWS's SP accepts the Response");
    let attrs: Vec<(String, Vec<String>)> = assertion
        .attribute_statements
        .unwrap_or_default()
        .into_iter()
        .flat_map(|s| s.attributes)
        .map(|a| {
            (
                a.name.unwrap_or_default(),
                a.values.into_iter().filter_map(|v| v.value).collect(),
            )
        })
        .collect();
    let get = |n: &str| {
        attrs
            .iter()
            .find(|(k, _)| k == &format!("https://aws.amazon.com/SAML/Attributes/{n}"))
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {n} in {attrs:?}"))
    };
    assert_eq!(
        get("Role"),
        [
            "arn:aws:iam::777777777777:role/sso/Admin,arn:aws:iam::777777777777:saml-provider/Portcullis"
        ]
    );
    assert_eq!(get("RoleSessionName"), ["ada"]);
    // Session tags (ABAC): the person's values; a tag whose value the person lacks is left out.
    assert_eq!(get("PrincipalTag:Department"), ["Engineering"]);
    assert_eq!(get("PrincipalTag:Contact"), ["ada@example.com"]);
    assert!(
        !attrs.iter().any(|(k, _)| k.ends_with("PrincipalTag:Team")),
        "{attrs:?}"
    );
    assert_eq!(get("SessionDuration"), ["7200"]);
    assert_eq!(get("SourceIdentity"), ["ada"]);
    // Tampered: refused by the same SP.
    let xml = String::from_utf8(STANDARD.decode(&response).expect("base64")).expect("UTF-8");
    let forged = STANDARD.encode(xml.replace("role/sso/Admin,", "role/sso/Root,"));
    assert!(aws.parse_base64_response(&forged, None).is_err());
    // Audited as a console sign-in by SAML.
    let audit = app.get("audit-events?action=portal.console.signin").await;
    assert_eq!(
        audit.body["events"][0]["target"], "account:777777777777",
        "{audit:?}"
    );
    assert_eq!(
        audit.body["events"][0]["details"]["method"], "saml",
        "{audit:?}"
    );
    assert_eq!(
        audit.body["events"][0]["details"]["roleArn"],
        "arn:aws:iam::777777777777:role/sso/Admin"
    );
    // A role not held: the 404 of any console.
    let other = b
        .get("/portal/accounts/777777777777/console?role=ReadOnly")
        .await;
    assert_eq!(other.status, 404, "{other:?}");
}

async fn aws_accounts_round_trip_with_defaults(app: TestApp) {
    // Native by default, as before.
    let native = app
        .post(
            "accounts",
            json!({"accountId": "111111111111", "name": "Lab", "email": "lab@example.com"}),
        )
        .await;
    assert_eq!(native.status, 201, "{native:?}");
    assert_eq!(native.body["kind"], "native");
    assert_eq!(native.body["aws"], serde_json::Value::Null);

    // `aws` settings alone make an aws account; what is left out follows AWS's defaults.
    let aws = app
        .post(
            "accounts",
            json!({"accountId": "222222222222", "name": "Prod", "email": "prod@example.com",
                   "aws": {}}),
        )
        .await;
    assert_eq!(aws.status, 201, "{aws:?}");
    assert_eq!(aws.body["kind"], "aws");
    assert_eq!(
        aws.body["aws"],
        json!({"region": "us-east-1", "stsEndpoint": "https://sts.us-east-1.amazonaws.com",
               "stsEndpointIsDefault": true, "federation": "saml", "providerArn": null,
               "roleArnTemplate": "arn:aws:iam::{accountId}:role/{permissionSetName}",
               "roleArns": {}, "audience": "sts.amazonaws.com", "sessionTags": {},
               "regionalSignIn": false, "signInUrl": "https://signin.aws.amazon.com/saml"})
    );

    // Everything given.
    let full = app
        .post(
            "accounts",
            json!({"accountId": "333333333333", "name": "Minio", "email": "minio@example.com",
                   "kind": "aws", "aws": {
                       "region": "eu-west-1",
                       "stsEndpoint": "http://127.0.0.1:9000/",
                       "federation": "webIdentity",
                       "providerArn": "arn:aws:iam::333333333333:oidc-provider/id.example.com",
                       "roleArnTemplate": "arn:aws:iam::{accountId}:role/sso/{permissionSetName}",
                       "roleArns": {"Admin": "arn:aws:iam::333333333333:role/Administrators"}}}),
        )
        .await;
    assert_eq!(full.status, 201, "{full:?}");
    let got = app.get("accounts/333333333333").await;
    assert_eq!(got.status, 200);
    assert_eq!(
        got.body, full.body,
        "a read returns what the write returned"
    );
    assert_eq!(got.body["aws"]["stsEndpoint"], "http://127.0.0.1:9000");
    assert_eq!(got.body["aws"]["stsEndpointIsDefault"], false);
    assert_eq!(got.body["aws"]["federation"], "webIdentity");
    assert_eq!(
        got.body["aws"]["roleArns"]["Admin"],
        "arn:aws:iam::333333333333:role/Administrators"
    );

    // Listing shows the kinds.
    let list = app.get("accounts").await;
    let kinds: Vec<_> = list.body["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .map(|a| (a["accountId"].clone(), a["kind"].clone()))
        .collect();
    assert_eq!(
        kinds,
        [
            (json!("111111111111"), json!("native")),
            (json!("222222222222"), json!("aws")),
            (json!("333333333333"), json!("aws")),
        ]
    );
}

async fn aws_settings_are_checked_field_by_field(app: TestApp) {
    let bad = app
        .post(
            "accounts",
            json!({"accountId": "444444444444", "name": "Bad", "email": "bad@example.com",
                   "aws": {
                       "region": "Europe",
                       "stsEndpoint": "http://sts.example.com",
                       "federation": "oauth",
                       "providerArn": "arn:aws:iam::444444444444:user/ada",
                       "roleArnTemplate": "arn:aws:iam::{accountId}:role/Fixed",
                       "roleArns": {"Admin": "not an arn", "bad name!": "arn:aws:iam::444444444444:role/X"}}}),
        )
        .await;
    assert_eq!(bad.status, 400, "{bad:?}");
    let mut fields = bad.fields();
    fields.sort();
    assert_eq!(
        fields,
        [
            "aws.federation",
            "aws.providerArn",
            "aws.region",
            "aws.roleArnTemplate",
            "aws.roleArns.Admin",
            "aws.roleArns.bad name!",
            "aws.stsEndpoint",
        ]
    );
    // Session tags: a key AWS refuses, a placeholder that is not a field.
    let tags = app
        .post(
            "accounts",
            json!({"accountId": "444444444444", "name": "Bad", "email": "bad@example.com",
                   "aws": {"sessionTags": {"aws:reserved": "x", "Team": "${user:groups}",
                                           "Ok": "${user:department}"}}}),
        )
        .await;
    assert_eq!(tags.status, 400, "{tags:?}");
    let mut fields = tags.fields();
    fields.sort();
    assert_eq!(
        fields,
        ["aws.sessionTags.Team", "aws.sessionTags.aws:reserved"]
    );
    // A person's attributes: a built-in name, a name that is not one.
    for bad in [
        json!({"email": "x"}),
        json!({"1st": "x"}),
        json!({"ok": "line\nbreak"}),
    ] {
        let r = app
            .post(
                "users",
                json!({"userName": "tagged", "email": "tagged@example.com", "attributes": bad}),
            )
            .await;
        assert_eq!(r.status, 400, "{r:?}");
        assert_eq!(r.fields(), ["attributes"]);
    }
    // An ARN of another account: AWS only trusts the account's own provider and roles.
    let foreign = app
        .post(
            "accounts",
            json!({"accountId": "444444444444", "name": "Bad", "email": "bad@example.com",
                   "aws": {"providerArn": "arn:aws:iam::555555555555:saml-provider/Portcullis"}}),
        )
        .await;
    assert_eq!(foreign.status, 400, "{foreign:?}");
    assert_eq!(foreign.fields(), ["aws.providerArn"]);
    // A SAML provider for web identity is the wrong kind of provider.
    let wrong = app
        .post(
            "accounts",
            json!({"accountId": "444444444444", "name": "Bad", "email": "bad@example.com",
                   "aws": {"federation": "webIdentity",
                           "providerArn": "arn:aws:iam::444444444444:saml-provider/Portcullis"}}),
        )
        .await;
    assert_eq!(wrong.fields(), ["aws.providerArn"], "{wrong:?}");
    // Native with aws settings, an unknown kind, an unknown field.
    for (body, field) in [
        (json!({"kind": "native", "aws": {}}), Some("aws")),
        (json!({"kind": "gcp"}), Some("kind")),
        (json!({"aws": {"roleArn": "x"}}), None),
    ] {
        let mut b = json!({"accountId": "444444444444", "name": "Bad", "email": "bad@example.com"});
        b.as_object_mut()
            .expect("object")
            .extend(body.as_object().expect("object").clone());
        let r = app.post("accounts", b).await;
        assert_eq!(r.status, 400, "{r:?}");
        if let Some(field) = field {
            assert_eq!(r.fields(), [field]);
        }
    }
    // Nothing was stored.
    assert_eq!(app.get("accounts/444444444444").await.status, 404);
}

async fn kind_changes_both_ways(app: TestApp) {
    let created = app
        .post(
            "accounts",
            json!({"accountId": "666666666666", "name": "Ops", "email": "ops@example.com",
                   "consoleUrl": "https://console.example.com"}),
        )
        .await;
    assert_eq!(created.status, 201, "{created:?}");
    // Becomes aws; the other fields stay.
    let aws = app
        .patch(
            "accounts/666666666666",
            json!({"aws": {"region": "eu-central-1"}}),
        )
        .await;
    assert_eq!(aws.status, 200, "{aws:?}");
    assert_eq!(aws.body["kind"], "aws");
    assert_eq!(aws.body["aws"]["region"], "eu-central-1");
    assert_eq!(aws.body["consoleUrl"], "https://console.example.com/");
    // A patch without kind or aws keeps them.
    let renamed = app
        .patch("accounts/666666666666", json!({"name": "Operations"}))
        .await;
    assert_eq!(renamed.body["kind"], "aws");
    assert_eq!(renamed.body["aws"], aws.body["aws"]);
    // A given `aws` replaces the settings as a whole.
    let replaced = app
        .patch(
            "accounts/666666666666",
            json!({"kind": "aws", "aws": {"federation": "webIdentity"}}),
        )
        .await;
    assert_eq!(replaced.body["aws"]["region"], "us-east-1");
    assert_eq!(replaced.body["aws"]["federation"], "webIdentity");
    // A refused patch changes nothing.
    let refused = app
        .patch(
            "accounts/666666666666",
            json!({"aws": {"stsEndpoint": "ftp://x"}}),
        )
        .await;
    assert_eq!(refused.status, 400, "{refused:?}");
    assert_eq!(app.get("accounts/666666666666").await.body, replaced.body);
    // And back to native.
    let native = app
        .patch("accounts/666666666666", json!({"kind": "native"}))
        .await;
    assert_eq!(native.status, 200, "{native:?}");
    assert_eq!(native.body["kind"], "native");
    assert_eq!(native.body["aws"], serde_json::Value::Null);
    let audit = app.get("audit-events?action=account.update").await;
    assert_eq!(
        audit.body["events"].as_array().map(Vec::len),
        Some(4),
        "{audit:?}"
    );
}

/// With `regionalSignIn`, the console posts to the account region's sign-in endpoint: the form's
/// action, the page's `form-action`, and the Response's Destination and Recipient all name it,
/// and AWS's SP at that endpoint accepts it.
async fn console_signs_in_at_the_regional_endpoint_when_chosen(app: TestApp) {
    const REGIONAL: &str = "https://eu-central-1.signin.aws.amazon.com/saml";
    mfa_off(&app).await;
    let user = person(&app, "grace").await;
    let a = app
        .post(
            "accounts",
            json!({"accountId": "787878787878", "name": "Frankfurt", "email": "fra@example.com",
                   "aws": {"region": "eu-central-1", "regionalSignIn": true}}),
        )
        .await;
    assert_eq!(a.status, 201, "{a:?}");
    assert_eq!(a.body["aws"]["signInUrl"], REGIONAL, "{a:?}");
    assert_eq!(a.body["aws"]["regionalSignIn"], true);
    let ps = app
        .post("permission-sets", json!({"name": "Operator"}))
        .await;
    let ps = ps.body["permissionSetId"].as_str().expect("id").to_owned();
    let r = app
        .post(
            "assignments",
            json!({"accountId": "787878787878", "permissionSetId": ps, "principalType": "USER",
                   "principalId": user}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let b = Browser::new(&app.base);
    assert_eq!(b.sign_in("grace", PASSWORD).await.status, 303);
    let page = console_page(
        &app,
        &b,
        "/portal/accounts/787878787878/console?role=Operator",
    )
    .await;
    assert!(
        page.csp
            .contains("form-action https://eu-central-1.signin.aws.amazon.com"),
        "{}",
        page.csp
    );
    assert!(
        page.body.contains(&format!("action=\"{REGIONAL}\"")),
        "{}",
        page.body
    );
    let response = page.field("SAMLResponse");
    let xml = String::from_utf8(STANDARD.decode(&response).expect("base64")).expect("UTF-8");
    assert!(
        xml.contains(&format!("Destination=\"{REGIONAL}\"")),
        "{xml}"
    );
    assert!(xml.contains(&format!("Recipient=\"{REGIONAL}\"")), "{xml}");
    let aws = ServiceProvider {
        entity_id: Some("urn:amazon:webservices".into()),
        acs_url: Some(REGIONAL.into()),
        idp_metadata: crate::saml::idp_metadata(&app).await,
        allow_idp_initiated: true,
        ..Default::default()
    };
    aws.parse_base64_response(&response, None)
        .expect("AWS's SP at the regional endpoint accepts the Response");
}

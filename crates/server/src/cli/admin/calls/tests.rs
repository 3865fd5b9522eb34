//! Parsing command lines into admin API calls.

#![allow(clippy::unwrap_used)]

use clap::Parser;
use serde_json::json;

use super::*;
use crate::cli::admin::registration::merge_registration;

#[derive(Debug, Parser)]
pub(super) struct Cmd {
    #[command(subcommand)]
    resource: Resource,
}

/// The call `admin ARGS…` makes.
pub(super) fn parse(args: &[&str]) -> Call {
    let cmd = Cmd::try_parse_from(std::iter::once("admin").chain(args.iter().copied()))
        .unwrap_or_else(|e| panic!("{e}"));
    call(&cmd.resource)
}

#[test]
fn create_sends_the_oidc_options_given() {
    let c = parse(&[
        "applications",
        "create",
        "--name",
        "Wiki",
        "--kind",
        "OIDC",
        "--redirect-uri",
        "https://wiki.example.com/cb",
        "--redirect-uri",
        "http://127.0.0.1/cb",
        "--grant-type",
        "authorization_code",
        "--scope",
        "api:read",
        "--signing-algorithm",
        "ES256",
        "--access-token-lifetime",
        "PT15M",
        "--public",
    ]);
    assert_eq!(c.path, "applications");
    assert_eq!(
        c.body,
        Some(json!({
            "name": "Wiki",
            "kind": "OIDC",
            "oidc": {
                "clientType": "public",
                "redirectUris": ["https://wiki.example.com/cb", "http://127.0.0.1/cb"],
                "grantTypes": ["authorization_code"],
                "allowedScopes": ["api:read"],
                "signingAlgorithm": "ES256",
                "accessTokenLifetime": "PT15M",
            }
        }))
    );
    let saml = parse(&["applications", "create", "--name", "Pay", "--kind", "SAML"]);
    assert_eq!(saml.body, Some(json!({"name": "Pay", "kind": "SAML"})));
}

#[test]
fn icons_are_uploaded_and_removed() {
    let set = parse(&["applications", "set-icon", "A", "logo.png"]);
    assert_eq!(
        (set.method, set.path.as_str()),
        (reqwest::Method::PUT, "applications/A/icon")
    );
    assert_eq!(set.upload, Some(std::path::PathBuf::from("logo.png")));
    assert_eq!(set.body, None);
    let remove = parse(&["applications", "remove-icon", "A"]);
    assert_eq!(
        (remove.method, remove.path.as_str()),
        (reqwest::Method::DELETE, "applications/A/icon")
    );
    assert_eq!(remove.upload, None);
}

#[test]
fn update_changes_only_the_oidc_options_given() {
    let plain = parse(&["applications", "update", "A", "--enabled", "false"]);
    assert_eq!(plain.merge_from, None);
    assert_eq!(plain.body, Some(json!({"enabled": false})));

    let c = parse(&[
        "applications",
        "update",
        "A",
        "--confidential",
        "--audience",
        "",
        "--post-logout-redirect-uri",
        "",
    ]);
    assert_eq!(c.merge_from.as_deref(), Some("applications/A"));
    let mut body = c.body.unwrap();
    let current = json!({"applicationId": "A", "oidc": {
        "clientType": "public", "redirectUris": ["https://a.example.com/cb"],
        "postLogoutRedirectUris": ["https://a.example.com/bye"], "audience": "api"}});
    merge_registration(&current, &mut body);
    assert_eq!(
        body,
        json!({"oidc": {"clientType": "confidential",
            "redirectUris": ["https://a.example.com/cb"],
            "postLogoutRedirectUris": [], "audience": null}})
    );
    assert!(
        Cmd::try_parse_from([
            "admin",
            "applications",
            "update",
            "A",
            "--public",
            "--confidential"
        ])
        .is_err()
    );
}

#[test]
fn create_sends_the_saml_options_given() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("sp.pem");
    std::fs::write(
        &cert,
        "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let cert_arg = cert.to_str().unwrap();
    let c = parse(&[
        "applications",
        "create",
        "--name",
        "Payroll",
        "--kind",
        "SAML",
        "--entity-id",
        "https://payroll.example/saml",
        "--acs-url",
        "https://payroll.example/acs",
        "--acs-url",
        "https://payroll.example/acs2,index=5,default,binding=HTTP-POST",
        "--slo-url",
        "https://payroll.example/slo",
        "--sp-certificate",
        cert_arg,
        "--require-signed-requests",
        "--name-id-format",
        "emailAddress",
        "--attribute",
        "mail=${user:email}",
        "--attribute",
        "who=${user:name} = ${user:subject}",
        "--assertion-lifetime",
        "PT10M",
        "--sign",
        "assertion",
        "--allow-sha1",
        "false",
        "--relay-state",
        "home",
        "--start-url",
        "https://payroll.example/home",
    ]);
    assert_eq!(
        c.body,
        Some(json!({
            "name": "Payroll",
            "kind": "SAML",
            "saml": {
                "entityId": "https://payroll.example/saml",
                "acs": [
                    {"url": "https://payroll.example/acs", "isDefault": false},
                    {"url": "https://payroll.example/acs2", "index": 5, "isDefault": true},
                ],
                "sloUrl": "https://payroll.example/slo",
                "certificate": "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n",
                "requireSignedRequests": true,
                "nameIdFormat": "emailAddress",
                "attributes": [
                    {"name": "mail", "value": "${user:email}"},
                    {"name": "who", "value": "${user:name} = ${user:subject}"},
                ],
                "assertionLifetime": "PT10M",
                "signedPart": "assertion",
                "allowSha1": false,
                "defaultRelayState": "home",
                "startUrl": "https://payroll.example/home",
            }
        }))
    );

    let md = dir.path().join("sp.xml");
    std::fs::write(&md, "<md:EntityDescriptor/>").unwrap();
    let c = parse(&[
        "applications",
        "create",
        "--name",
        "AWS",
        "--kind",
        "SAML",
        "--sp-metadata",
        md.to_str().unwrap(),
        "--aws-preset",
        "--aws-role",
        "arn:aws:iam::1:role/Dev,arn:aws:iam::1:saml-provider/P",
    ]);
    assert_eq!(
        c.body.unwrap()["saml"],
        json!({"metadataXml": "<md:EntityDescriptor/>", "preset": "aws",
               "awsRoles": ["arn:aws:iam::1:role/Dev,arn:aws:iam::1:saml-provider/P"]})
    );

    let refused = |extra: &[&str]| {
        let args = [
            "admin",
            "applications",
            "create",
            "--name",
            "X",
            "--kind",
            "SAML",
        ];
        Cmd::try_parse_from(args.iter().chain(extra)).is_err()
    };
    assert!(refused(&[
        "--acs-url",
        "https://sp/acs,binding=HTTP-Redirect"
    ]));
    assert!(refused(&["--acs-url", "https://sp/acs,index=x"]));
    assert!(refused(&["--attribute", "no-equals-sign"]));
    assert!(refused(&["--sp-metadata", "/nonexistent/sp.xml"]));
    assert!(refused(&["--sign", "everything"]));
    assert!(!refused(&["--sign", "both"]));
    assert!(refused(&["--aws-role", "arn:aws:iam::1:role/Dev"]));
}

#[test]
fn acs_options_are_read_from_the_end() {
    let acs = |url: &str, index, is_default| Acs {
        url: url.into(),
        index,
        is_default,
    };
    assert_eq!(
        parse_acs("https://sp/acs").unwrap(),
        acs("https://sp/acs", None, false)
    );
    assert_eq!(
        parse_acs("https://sp/a,b?x=1,default,index=2").unwrap(),
        acs("https://sp/a,b?x=1", Some(2), true)
    );
    assert_eq!(
        parse_acs("https://sp/acs, binding=urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST")
            .unwrap(),
        acs("https://sp/acs", None, false)
    );
    assert_eq!(parse_acs("").unwrap(), acs("", None, false));
    assert!(parse_acs(",default").is_err());
}

#[test]
fn update_changes_only_the_saml_options_given() {
    let current = json!({"applicationId": "A", "kind": "SAML", "saml": {
        "entityId": "https://sp.example/saml",
        "acs": [{"url": "https://sp.example/acs", "index": 0, "isDefault": true}],
        "sloUrl": "https://sp.example/slo", "certificate": "MIIC", "requireSignedRequests": true,
        "nameIdFormat": "persistent",
        "attributes": [
            {"name": "mail", "nameFormat": null, "value": "${user:email}"},
            {"name": "https://aws.amazon.com/SAML/Attributes/Role",
             "nameFormat": "urn:oasis:names:tc:SAML:2.0:attrname-format:uri", "value": "r,p"},
            {"name": "https://aws.amazon.com/SAML/Attributes/SessionDuration",
             "nameFormat": "urn:oasis:names:tc:SAML:2.0:attrname-format:uri", "value": "3600"}],
        "assertionLifetime": "PT5M", "signedPart": "response", "allowSha1": false,
        "defaultRelayState": null, "startUrl": "https://sp.example/home"}});

    let c = parse(&[
        "applications",
        "update",
        "A",
        "--sign",
        "assertion",
        "--slo-url",
        "",
        "--start-url",
        "",
    ]);
    assert_eq!(c.merge_from.as_deref(), Some("applications/A"));
    let mut body = c.body.unwrap();
    merge_registration(&current, &mut body);
    let mut want = current["saml"].clone();
    want["signedPart"] = json!("assertion");
    want["sloUrl"] = Value::Null;
    want["startUrl"] = Value::Null;
    assert_eq!(body, json!({"saml": want}));

    // New metadata: what metadata says is taken from it, the rest is kept; the AWS preset
    // again replaces the attributes it added (the roles only when new ones are given).
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("sp.xml");
    std::fs::write(&md, "<EntityDescriptor/>").unwrap();
    let c = parse(&[
        "applications",
        "update",
        "A",
        "--sp-metadata",
        md.to_str().unwrap(),
        "--aws-preset",
    ]);
    let mut body = c.body.unwrap();
    merge_registration(&current, &mut body);
    assert_eq!(
        body,
        json!({"saml": {"metadataXml": "<EntityDescriptor/>", "preset": "aws",
            "nameIdFormat": "persistent",
            "attributes": [{"name": "mail", "nameFormat": null, "value": "${user:email}"},
                {"name": "https://aws.amazon.com/SAML/Attributes/Role",
                 "nameFormat": "urn:oasis:names:tc:SAML:2.0:attrname-format:uri",
                 "value": "r,p"}],
            "assertionLifetime": "PT5M", "signedPart": "response", "allowSha1": false,
            "defaultRelayState": null, "startUrl": "https://sp.example/home"}})
    );
    let c = parse(&[
        "applications",
        "update",
        "A",
        "--aws-preset",
        "--aws-role",
        "r2,p",
    ]);
    let mut body = c.body.unwrap();
    merge_registration(&current, &mut body);
    assert_eq!(
        body["saml"]["attributes"],
        json!([{"name": "mail", "nameFormat": null, "value": "${user:email}"}])
    );
    assert_eq!(body["saml"]["awsRoles"], json!(["r2,p"]));

    // Lists given replace; an empty value empties them; booleans can be turned off.
    let c = parse(&[
        "applications",
        "update",
        "A",
        "--attribute",
        "",
        "--acs-url",
        "https://sp.example/new,index=3",
        "--require-signed-requests",
        "false",
    ]);
    let mut body = c.body.unwrap();
    merge_registration(&current, &mut body);
    assert_eq!(body["saml"]["attributes"], json!([]));
    assert_eq!(
        body["saml"]["acs"],
        json!([{"url": "https://sp.example/new", "index": 3, "isDefault": false}])
    );
    assert_eq!(body["saml"]["requireSignedRequests"], json!(false));
    assert_eq!(body["saml"]["entityId"], json!("https://sp.example/saml"));
}

#[test]
fn secret_rotation_and_keys() {
    let c = parse(&["applications", "rotate-secret", "A"]);
    assert_eq!(
        (c.method, c.path.as_str()),
        (reqwest::Method::POST, "applications/A/client-secret")
    );
    let c = parse(&["keys", "rotate"]);
    assert_eq!(
        (c.method, c.path.as_str()),
        (reqwest::Method::POST, "keys/rotate")
    );
    assert!(matches!(c.view, View::List { key: "keys", .. }));
    let c = parse(&["keys", "list"]);
    assert_eq!((c.method, c.path.as_str()), (reqwest::Method::GET, "keys"));
}

#[test]
fn set_password_is_temporary_unless_permanent() {
    let id = "00000000-0000-4000-8000-000000000000";
    for (extra, temporary) in [
        (None, true),
        (Some("--temporary"), true),
        (Some("--permanent"), false),
    ] {
        let args: Vec<&str> = ["users", "set-password", id, "--password-stdin"]
            .into_iter()
            .chain(extra)
            .collect();
        let c = parse(&args);
        assert_eq!(
            (c.method, c.path.as_str()),
            (
                reqwest::Method::PUT,
                format!("users/{id}/password").as_str()
            )
        );
        assert_eq!(c.body.unwrap()["temporary"], temporary, "{extra:?}");
    }
    let both = [
        "admin",
        "users",
        "set-password",
        id,
        "--permanent",
        "--temporary",
    ];
    assert!(Cmd::try_parse_from(both).is_err());
}

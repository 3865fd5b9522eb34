//! `portcullis admin` for AWS accounts and provisioning as an operator types it: a regional
//! sign-in, a permission set's policies (the inline one from a file), the provisioning
//! connection with its secret from the environment (never shown back), and the status table —
//! here against an endpoint that does not answer, so the failure must say so.

use super::{admin_cli, admin_json, portcullis, serve, text};

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

#[test]
fn admin_cli_provisions_and_shows_where_each_pair_stands() {
    let dir = tempfile::tempdir().expect("dir");
    let server = serve(dir.path(), &[]);
    let admin = |args: &[&str]| admin_cli(dir.path(), &server.url, args);
    let json = |args: &[&str]| admin_json(dir.path(), &server.url, args);
    let account = json(&[
        "accounts",
        "create",
        "--account-id",
        "111122223333",
        "--name",
        "Research",
        "--email",
        "research@example.com",
        "--region",
        "eu-west-1",
        "--regional-sign-in",
    ]);
    assert_eq!(account["kind"], "aws");
    assert_eq!(
        account["aws"]["signInUrl"],
        "https://eu-west-1.signin.aws.amazon.com/saml"
    );

    let policy = dir.path().join("policy.json");
    std::fs::write(
        &policy,
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]}"#,
    )
    .expect("write policy");
    let ps = json(&[
        "permission-sets",
        "create",
        "--name",
        "Researcher",
        "--aws-managed-policy",
        "arn:aws:iam::aws:policy/ReadOnlyAccess",
        "--customer-managed-policy",
        "/team/Billing",
        "--inline-policy-file",
        policy.to_str().expect("path"),
        "--permissions-boundary",
        "arn:aws:iam::aws:policy/PowerUserAccess",
    ]);
    assert_eq!(
        ps["customerManagedPolicies"],
        serde_json::json!([{"name": "Billing", "path": "/team/"}])
    );
    assert_eq!(
        ps["permissionsBoundary"]["managedPolicyArn"],
        "arn:aws:iam::aws:policy/PowerUserAccess"
    );
    assert!(
        ps["inlinePolicy"]
            .as_str()
            .expect("inline")
            .contains("s3:ListAllMyBuckets")
    );
    // A bad ARN is refused with its field named, and changes nothing.
    let (code, _, stderr) = admin(&[
        "permission-sets",
        "update",
        "Researcher",
        "--aws-managed-policy",
        "ReadOnlyAccess",
    ]);
    assert_ne!(code, Some(0));
    assert!(stderr.contains("awsManagedPolicies.0"), "{stderr}");
    let cleared = json(&[
        "permission-sets",
        "update",
        "Researcher",
        "--no-inline-policy",
    ]);
    assert!(cleared["inlinePolicy"].is_null());
    assert_eq!(
        cleared["awsManagedPolicies"],
        serde_json::json!(["arn:aws:iam::aws:policy/ReadOnlyAccess"])
    );

    let user = json(&[
        "users",
        "create",
        "--user-name",
        "ada",
        "--email",
        "ada@example.com",
    ]);
    json(&[
        "assignments",
        "create",
        "--account-id",
        "Research",
        "--permission-set-id",
        "Researcher",
        "--principal-type",
        "USER",
        "--principal-id",
        user["userId"].as_str().expect("id"),
    ]);

    // No connection yet: provisioning says what is missing.
    let (code, _, stderr) = admin(&["provisioning", "run"]);
    assert_ne!(code, Some(0));
    assert!(stderr.contains("no provisioning connection"), "{stderr}");

    // The secret comes from the environment; nothing prints it back.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let out = portcullis(dir.path())
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .args([
            "admin",
            "--url",
            &server.url,
            "provisioning",
            "connection",
            "set",
        ])
        .args([
            "--access-key-id",
            "AKIAIOSFODNN7EXAMPLE",
            "--endpoint",
            &endpoint,
        ])
        .args(["--member-role-name", "OrganizationAccountAccessRole"])
        .arg("--no-auto-provision")
        .output()
        .expect("run admin");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        !stdout.contains(SECRET) && !stderr.contains(SECRET),
        "{stdout}"
    );
    let shown = json(&["provisioning", "connection", "show"]);
    assert_eq!(shown["accessKeyId"], "AKIAIOSFODNN7EXAMPLE");
    assert_eq!(shown["autoProvision"], false);
    assert!(!shown.to_string().contains(SECRET));

    let (code, table, stderr) = admin(&["provisioning", "status"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(table.contains("STATUS"), "{table}");
    let row = table
        .lines()
        .find(|l| l.contains("Researcher"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(
        row.contains("111122223333") && row.contains("out of date"),
        "{row}"
    );
    assert!(
        row.contains("arn:aws:iam::111122223333:role/Researcher"),
        "{row}"
    );

    // AWS cannot be reached: the pair failed, saying why, and the run itself answered.
    let (code, table, stderr) = admin(&["provisioning", "run", "--permission-set", "Researcher"]);
    assert_eq!(code, Some(0), "{stderr}");
    let row = table
        .lines()
        .find(|l| l.contains("Researcher"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(row.contains("failed: Unreachable"), "{row}");
    let audit = json(&["audit", "--action", "provisioning.*"]);
    assert!(
        audit["events"]
            .as_array()
            .expect("events")
            .iter()
            .any(|e| e["action"] == "provisioning.fail"),
        "{audit}"
    );
    assert!(!audit.to_string().contains(SECRET));
    // Counted for Prometheus, by outcome.
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let metrics = rt.block_on(async {
        reqwest::get(format!("{}/metrics", server.url))
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("body")
    });
    let failed = metrics
        .lines()
        .find(|l| {
            l.starts_with("portcullis_provisioning_changes") && l.contains("outcome=\"failed\"")
        })
        .unwrap_or_else(|| panic!("{metrics}"));
    assert!(failed.ends_with(" 1"), "{failed}");
    let (code, _, stderr) = admin(&["provisioning", "connection", "delete"]);
    assert_eq!(code, Some(0), "{stderr}");
    let (code, _, _) = admin(&["provisioning", "connection", "show"]);
    assert_ne!(code, Some(0));
}

//! `portcullis admin` as an operator types it: passwords from standard input (never argv),
//! resources named by name, the SAML key in `keys list`; and `completions` and `man`.

use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use portcullis_testkit::PASSWORD;

use super::{admin_cli, admin_json, browser_at, portcullis, serve, text};

/// `portcullis admin --url URL ARGS…` with `input` on standard input: (exit code, stdout, stderr).
fn admin_cli_stdin(
    dir: &Path,
    url: &str,
    args: &[&str],
    input: &str,
) -> (Option<i32>, String, String) {
    let mut child = portcullis(dir)
        .arg("admin")
        .arg("--url")
        .arg(url)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn admin");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait admin");
    let (stdout, stderr) = text(&out);
    (out.status.code(), stdout, stderr)
}

fn sign_in(base: &str, user: &str, password: &str) -> (u16, Option<String>) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let page = rt.block_on(browser_at(base).sign_in(user, password));
    (page.status, page.location)
}

#[test]
fn admin_cli_sets_passwords_from_stdin_only() {
    let dir = tempfile::tempdir().expect("dir");
    let server = serve(dir.path(), &[]);
    let url = server.url.as_str();
    let admin = |args: &[&str]| admin_cli(dir.path(), url, args);
    let (code, _, stderr) = admin(&["settings", "set", "--mfa-prompt", "NEVER"]);
    assert_eq!(code, Some(0), "{stderr}");
    let (code, _, stderr) = admin(&[
        "users",
        "create",
        "--user-name",
        "pia",
        "--email",
        "pia@example.com",
    ]);
    assert_eq!(code, Some(0), "{stderr}");

    // By name, from standard input (a trailing CRLF is not part of it), kept with --permanent.
    let (code, stdout, stderr) = admin_cli_stdin(
        dir.path(),
        url,
        &[
            "users",
            "set-password",
            "pia",
            "--password-stdin",
            "--permanent",
        ],
        &format!("{PASSWORD}\r\nthe second line is ignored\n"),
    );
    assert_eq!((code, stdout.trim()), (Some(0), "password set"), "{stderr}");
    assert_eq!(
        sign_in(url, "pia", PASSWORD),
        (303, Some("/portal".to_owned())),
        "the password set through the CLI signs in"
    );

    // Without --permanent it is temporary, as the admin API's default: a new one is asked for.
    let (code, _, stderr) = admin_cli_stdin(
        dir.path(),
        url,
        &["users", "set-password", "pia", "--password-stdin"],
        "Another-Long-Pass-2026\n",
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        sign_in(url, "pia", "Another-Long-Pass-2026"),
        (303, Some("/signin/new-password".to_owned()))
    );

    // An empty standard input, or an empty first line, changes nothing.
    for input in ["", "\n"] {
        let (code, _, stderr) = admin_cli_stdin(
            dir.path(),
            url,
            &["users", "set-password", "pia", "--password-stdin"],
            input,
        );
        assert_eq!(code, Some(2), "{input:?}: {stderr}");
        assert!(stderr.contains("no password on standard input"), "{stderr}");
    }
    // Standard input that is not a terminal, without --password-stdin: no prompt, no hang.
    let (code, _, stderr) = admin(&["users", "set-password", "pia"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--password-stdin"), "{stderr}");
    // The password is not an argument any more.
    let (code, _, stderr) = admin(&["users", "set-password", "pia", "--password", "x"]);
    assert_eq!(code, Some(2), "{stderr}");
    // The policy still applies.
    let (code, _, stderr) = admin_cli_stdin(
        dir.path(),
        url,
        &["users", "set-password", "pia", "--password-stdin"],
        "password1\n",
    );
    assert_eq!(code, Some(1));
    assert!(stderr.contains("too common"), "{stderr}");
}

#[test]
fn admin_cli_finds_resources_by_name() {
    let dir = tempfile::tempdir().expect("dir");
    let server = serve(dir.path(), &[]);
    let admin = |args: &[&str]| admin_cli(dir.path(), &server.url, args);
    let json = |args: &[&str]| admin_json(dir.path(), &server.url, args);
    let alice = json(&[
        "users",
        "create",
        "--user-name",
        "alice",
        "--email",
        "alice@example.com",
    ]);
    json(&[
        "users",
        "create",
        "--user-name",
        "bob",
        "--email",
        "b@example.com",
    ]);
    assert_eq!(json(&["users", "get", "alice"])["userId"], alice["userId"]);
    let updated = json(&["users", "update", "alice", "--display-name", "Alice A."]);
    assert_eq!(updated["displayName"], "Alice A.");

    json(&[
        "accounts",
        "create",
        "--account-id",
        "123456789012",
        "--name",
        "Production",
        "--email",
        "aws@example.com",
    ]);
    assert_eq!(
        json(&["accounts", "get", "Production"])["accountId"],
        "123456789012"
    );
    assert_eq!(
        json(&["accounts", "get", "123456789012"])["name"],
        "Production"
    );
    let group = json(&["groups", "create", "--display-name", "Operators"]);
    assert_eq!(
        json(&["groups", "get", "Operators"])["groupId"],
        group["groupId"]
    );
    let (code, stdout, stderr) = admin(&["groups", "add-member", "Operators", "alice"]);
    assert_eq!((code, stdout.trim()), (Some(0), "member added"), "{stderr}");
    let ps = json(&["permission-sets", "create", "--name", "ReadOnly"]);
    assert_eq!(
        json(&["permission-sets", "get", "ReadOnly"])["permissionSetId"],
        ps["permissionSetId"]
    );
    let app = json(&["applications", "create", "--name", "Wiki", "--kind", "SAML"]);
    assert_eq!(
        json(&["applications", "get", "Wiki"])["applicationId"],
        app["applicationId"]
    );
    json(&[
        "assignments",
        "create",
        "--account-id",
        "Production",
        "--permission-set-id",
        "ReadOnly",
        "--principal-type",
        "GROUP",
        "--principal-id",
        "Operators",
    ]);

    let (code, stdout, stderr) = admin(&["users", "get", "carol"]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stderr.contains("no user") && stderr.contains("'carol'"),
        "{stderr}"
    );
    let (code, _, stderr) = admin(&["accounts", "delete", "Staging"]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("no account"), "{stderr}");

    // An AWS account and a person's attributes for its session tags, from the command line.
    let cloud = json(&[
        "accounts",
        "create",
        "--account-id",
        "210987654321",
        "--name",
        "Cloud",
        "--email",
        "cloud@example.com",
        "--region",
        "eu-west-1",
        "--federation",
        "webIdentity",
        "--audience",
        "minio",
        "--role-arn",
        "ReadOnly=arn:aws:iam::210987654321:role/RO",
        "--session-tag",
        "Department=${user:department}",
    ]);
    assert_eq!(cloud["kind"], "aws");
    assert_eq!(cloud["aws"]["region"], "eu-west-1");
    assert_eq!(cloud["aws"]["federation"], "webIdentity");
    assert_eq!(cloud["aws"]["audience"], "minio");
    assert_eq!(
        cloud["aws"]["roleArns"]["ReadOnly"],
        "arn:aws:iam::210987654321:role/RO"
    );
    assert_eq!(
        cloud["aws"]["sessionTags"]["Department"],
        "${user:department}"
    );
    let tagged = json(&[
        "users",
        "update",
        "alice",
        "--attribute",
        "department=Research",
    ]);
    assert_eq!(tagged["attributes"]["department"], "Research");
    let cleared = json(&["users", "update", "alice", "--clear-attributes"]);
    assert_eq!(cleared["attributes"], serde_json::json!({}));
    let native = json(&["accounts", "update", "Cloud", "--kind", "native"]);
    assert_eq!(native["kind"], "native");
    // A refused ARN is the API's field error, not a crash.
    let (code, _, stderr) = admin(&[
        "accounts",
        "update",
        "Cloud",
        "--provider-arn",
        "arn:aws:iam::111111111111:saml-provider/P",
    ]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("aws.providerArn"), "{stderr}");
}

#[test]
fn admin_cli_lists_the_saml_signing_key() {
    let dir = tempfile::tempdir().expect("dir");
    let server = serve(dir.path(), &[]);
    let admin = |args: &[&str]| admin_cli(dir.path(), &server.url, args);
    let (code, stdout, stderr) = admin(&["keys", "list"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.starts_with("KID") && stdout.contains("PURPOSE"),
        "{stdout}"
    );
    let saml: Vec<&str> = stdout.lines().filter(|l| l.contains(" saml ")).collect();
    assert_eq!(saml.len(), 1, "{stdout}");
    assert!(
        saml[0].starts_with("saml-")
            && saml[0].contains("RSA-SHA256")
            && saml[0].contains("active"),
        "{stdout}"
    );
    assert_eq!(
        stdout.lines().filter(|l| l.contains(" oidc ")).count(),
        3,
        "{stdout}"
    );
    let (code, stdout, _) = admin(&["--json", "keys", "list"]);
    assert_eq!(code, Some(0));
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert!(
        v["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .all(|k| k["purpose"] == "oidc"),
        "{v}"
    );
    assert_eq!(v["samlKeys"][0]["purpose"], "saml", "{v}");
    assert!(!stdout.contains("PRIVATE"), "{stdout}");
}

#[test]
fn cli_prints_completions_and_a_man_page() {
    let dir = tempfile::tempdir().expect("dir");
    let out = portcullis(dir.path())
        .args(["completions", "bash"])
        .output()
        .expect("run");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("admin") && stdout.contains("users") && stdout.contains("set-password"),
        "{stdout}"
    );
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let out = portcullis(dir.path())
            .args(["completions", shell])
            .output()
            .expect("run");
        assert!(out.status.success() && !out.stdout.is_empty(), "{shell}");
    }
    let out = portcullis(dir.path())
        .args(["completions", "tcsh"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));

    let out = portcullis(dir.path()).arg("man").output().expect("run");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains(".TH portcullis"), "{stdout}");
    assert!(stdout.contains("serve"), "{stdout}");

    let pages = dir.path().join("man1");
    std::fs::create_dir(&pages).expect("mkdir");
    let out = portcullis(dir.path())
        .args(["man", "--dir", pages.to_str().expect("utf-8")])
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", text(&out).1);
    for page in [
        "portcullis.1",
        "portcullis-serve.1",
        "portcullis-admin-users-set-password.1",
    ] {
        let roff = std::fs::read_to_string(pages.join(page)).expect(page);
        assert!(roff.contains(".TH"), "{page}");
    }
}

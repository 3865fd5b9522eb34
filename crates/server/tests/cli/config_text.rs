//! Text settings take any text: a password, a user name or a prefix that looks like a number or
//! a boolean is kept as written, from the environment and from files, while numeric settings
//! still parse from the environment.

use crate::{portcullis, text};

#[test]
fn numeric_looking_strings_from_the_environment_are_kept_as_text() {
    let dir = tempfile::tempdir().expect("dir");
    let out = portcullis(dir.path())
        .args(["config", "check"])
        .env("PORTCULLIS__DELIVERY__SMTP__HOST", "12345")
        .env("PORTCULLIS__DELIVERY__SMTP__PORT", "2525")
        .env("PORTCULLIS__DELIVERY__SMTP__USERNAME", "000123")
        .env("PORTCULLIS__DELIVERY__SMTP__PASSWORD", "123456")
        .env("PORTCULLIS__DELIVERY__SMTP__FROM", "id@example.com")
        .env("PORTCULLIS__DELIVERY__SMTP__SECURITY", "none")
        .env("PORTCULLIS__TELEMETRY__SERVICE_NAME", "1e3")
        .env("PORTCULLIS__SESSIONS__KEY_PREFIX", "true")
        .env("PORTCULLIS__ADMIN__BOOTSTRAP_TOKEN", "1234567890123456")
        .env("PORTCULLIS__DATABASE__MAX_CONNECTIONS", "32")
        .env(
            "PORTCULLIS__SIGNIN__TRUSTED_PROXIES",
            r#"["10.0.0.2", "::1"]"#,
        )
        .output()
        .expect("run");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    for line in [
        r#"host = "12345""#,
        r#"username = "000123""#,
        r#"service_name = "1e3""#,
        r#"key_prefix = "true""#,
        r#"password = "<redacted>""#,
        r#"bootstrap_token = "<redacted>""#,
        "port = 2525",
        "max_connections = 32",
    ] {
        assert!(stdout.contains(line), "{line} in {stdout}");
    }
    assert!(
        stdout.contains("10.0.0.2") && stdout.contains("::1"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("123456\""),
        "the password is not shown: {stdout}"
    );

    // The comma-separated form of the list, and numbers still checked as numbers.
    let out = portcullis(dir.path())
        .args(["config", "check"])
        .env("PORTCULLIS__SIGNIN__TRUSTED_PROXIES", "10.0.0.3,10.0.0.4")
        .output()
        .expect("run");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("10.0.0.3") && stdout.contains("10.0.0.4"),
        "{stdout}"
    );
    for (var, value, needle) in [
        (
            "PORTCULLIS__DATABASE__MAX_CONNECTIONS",
            "lots",
            "max_connections",
        ),
        ("PORTCULLIS__DELIVERY__SMTP__PORT", "70000", "port"),
        (
            "PORTCULLIS__SIGNIN__TRUSTED_PROXIES",
            "[not-an-ip]",
            "trusted_proxies",
        ),
    ] {
        let out = portcullis(dir.path())
            .args(["config", "check"])
            .env("PORTCULLIS__DELIVERY__SMTP__HOST", "mail.example.com")
            .env("PORTCULLIS__DELIVERY__SMTP__FROM", "id@example.com")
            .env(var, value)
            .output()
            .expect("run");
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{var}={value}: {stderr}");
        assert!(stderr.contains(needle), "{var}: {stderr}");
    }
}

#[test]
fn numeric_looking_strings_from_files_are_kept_as_text() {
    let dir = tempfile::tempdir().expect("dir");
    let password = dir.path().join("smtp-password");
    std::fs::write(&password, "123456\n").expect("write");
    let file = dir.path().join("portcullis.toml");
    std::fs::write(
        &file,
        format!(
            "[delivery.smtp]\nhost = \"mail.example.com\"\nusername = \"42\"\n\
             password_file = \"{}\"\nfrom = \"id@example.com\"\n\
             [telemetry]\nservice_name = \"007\"\n",
            password.display()
        ),
    )
    .expect("write");
    let out = portcullis(dir.path())
        .args(["--config", file.to_str().expect("utf8"), "config", "check"])
        .output()
        .expect("run");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains(r#"username = "42""#), "{stdout}");
    assert!(stdout.contains(r#"service_name = "007""#), "{stdout}");
    assert!(stdout.contains(r#"password = "<redacted>""#), "{stdout}");
    // The file's numeric user name overridden by an equally numeric one from the environment.
    let out = portcullis(dir.path())
        .args(["--config", file.to_str().expect("utf8"), "config", "check"])
        .env("PORTCULLIS__DELIVERY__SMTP__USERNAME", "0099")
        .output()
        .expect("run");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains(r#"username = "0099""#), "{stdout}");
}

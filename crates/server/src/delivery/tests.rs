//! Real conversations: an SMTP sink, an HTTP webhook receiver, and an outbox on disk.

use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::*;
use crate::config::{Secret, SmtpConfig, SmtpSecurity, WebhookConfig};

const CODE: &str = "482913";

fn message() -> OutgoingMessage {
    OutgoingMessage {
        to: portcullis_domain::Email::parse("ada@example.com").unwrap_or_else(|e| panic!("{e}")),
        to_name: Some("Ada Lovelace".into()),
        subject: "Your sign-in code".into(),
        text: format!("Your Portcullis sign-in code is {CODE}.\nIt expires in 10 minutes.\n"),
        purpose: MessagePurpose::SignInCode,
    }
}

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

// ---------------------------------------------------------------- SMTP

/// What the sink saw in one conversation.
#[derive(Debug, Default)]
struct Conversation {
    mail_from: String,
    rcpt_to: Vec<String>,
    data: String,
}

/// A minimal ESMTP server for one connection; `rcpt_reply` answers RCPT TO.
async fn smtp_sink(rcpt_reply: &'static str) -> (u16, JoinHandle<Conversation>) {
    let listener = ok(TcpListener::bind("127.0.0.1:0").await);
    let port = ok(listener.local_addr()).port();
    let handle = tokio::spawn(async move {
        let mut seen = Conversation::default();
        let (stream, _) = ok(listener.accept().await);
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read);
        ok(write.write_all(b"220 sink.test ESMTP ready\r\n").await);
        let mut line = String::new();
        loop {
            line.clear();
            if ok(lines.read_line(&mut line).await) == 0 {
                break;
            }
            let command = line.trim_end().to_owned();
            let verb = command.to_ascii_uppercase();
            let reply: &[u8] = if verb.starts_with("EHLO") {
                b"250-sink.test greets you\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
            } else if verb.starts_with("HELO") {
                b"250 sink.test\r\n"
            } else if verb.starts_with("MAIL FROM:") {
                seen.mail_from = command["MAIL FROM:".len()..].to_owned();
                b"250 2.1.0 OK\r\n"
            } else if verb.starts_with("RCPT TO:") {
                seen.rcpt_to.push(command["RCPT TO:".len()..].to_owned());
                rcpt_reply.as_bytes()
            } else if verb == "DATA" {
                ok(write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await);
                loop {
                    line.clear();
                    if ok(lines.read_line(&mut line).await) == 0 {
                        return seen;
                    }
                    if line == ".\r\n" {
                        break;
                    }
                    seen.data.push_str(&line);
                }
                b"250 2.0.0 queued\r\n"
            } else if verb == "RSET" || verb == "NOOP" {
                b"250 OK\r\n"
            } else if verb == "QUIT" {
                ok(write.write_all(b"221 bye\r\n").await);
                break;
            } else {
                b"502 not implemented\r\n"
            };
            ok(write.write_all(reply).await);
        }
        seen
    });
    (port, handle)
}

fn smtp_config(port: u16) -> SmtpConfig {
    SmtpConfig {
        host: "127.0.0.1".into(),
        port: Some(port),
        security: SmtpSecurity::Plain,
        username: None,
        password: None,
        password_file: None,
        from: "Portcullis <id@example.org>".into(),
        timeout_seconds: 5,
    }
}

#[tokio::test]
async fn smtp_delivers_a_plain_text_message() {
    let (port, sink) = smtp_sink("250 2.1.5 OK\r\n").await;
    let sender = ok(SmtpSender::new(&smtp_config(port)));
    assert_eq!(sender.describe(), format!("smtp 127.0.0.1:{port}"));
    ok(sender.send(message()).await);
    let seen = ok(sink.await);

    assert_eq!(seen.mail_from, "<id@example.org>");
    assert_eq!(seen.rcpt_to, vec!["<ada@example.com>".to_owned()]);
    let data = seen.data;
    let (headers, body) = data
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no header/body separator in {data}"));
    let has = |prefix: &str| headers.lines().any(|l| l.starts_with(prefix));
    assert!(has("To: \"Ada Lovelace\" <ada@example.com>"), "{headers}");
    assert!(has("From: Portcullis <id@example.org>"), "{headers}");
    assert!(has("Subject: Your sign-in code"), "{headers}");
    assert!(has("Content-Type: text/plain; charset=utf-8"), "{headers}");
    assert!(has("Date: "), "{headers}");
    let id = headers
        .lines()
        .find_map(|l| l.strip_prefix("Message-ID: "))
        .unwrap_or_else(|| panic!("no Message-ID in {headers}"));
    assert!(id.starts_with('<') && id.ends_with("@example.org>"), "{id}");
    assert!(
        body.contains(&format!("Your Portcullis sign-in code is {CODE}.")),
        "{body}"
    );
}

#[tokio::test]
async fn smtp_permanent_refusal_is_rejected() {
    let (port, sink) = smtp_sink("550 5.1.1 no such user here\r\n").await;
    let sender = ok(SmtpSender::new(&smtp_config(port)));
    let err = sender.send(message()).await.err();
    match err {
        Some(DeliveryError::Rejected(why)) => {
            assert!(why.contains("no such user"), "{why}");
            assert!(!why.contains(CODE));
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    drop(sink);
}

#[tokio::test]
async fn smtp_without_a_server_is_unavailable() {
    // Bind then drop: nothing listens on that port any more.
    let port = {
        let l = ok(TcpListener::bind("127.0.0.1:0").await);
        ok(l.local_addr()).port()
    };
    let sender = ok(SmtpSender::new(&smtp_config(port)));
    let err = sender.send(message()).await.err();
    assert!(
        matches!(err, Some(DeliveryError::Unavailable(_))),
        "{err:?}"
    );
}

#[test]
fn smtp_tls_modes_build_without_a_default_crypto_provider() {
    for security in [SmtpSecurity::Tls, SmtpSecurity::Starttls] {
        let config = SmtpConfig {
            host: "mail.example.com".into(),
            port: None,
            security,
            username: Some("portcullis".into()),
            password: Some(Secret::new("smtp-password-1234")),
            ..smtp_config(0)
        };
        let sender = ok(SmtpSender::new(&config));
        let expected = if security == SmtpSecurity::Tls {
            465
        } else {
            587
        };
        assert_eq!(
            sender.describe(),
            format!("smtp mail.example.com:{expected}")
        );
        assert!(!format!("{sender:?}").contains("smtp-password-1234"));
    }
}

// ---------------------------------------------------------------- webhook

const WEBHOOK_SECRET: &str = "a-webhook-secret-of-some-length";

#[derive(Debug)]
struct Request {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A one-request HTTP server answering `status`.
async fn webhook_receiver(status: &'static str) -> (String, JoinHandle<Request>) {
    let listener = ok(TcpListener::bind("127.0.0.1:0").await);
    let url = format!("http://127.0.0.1:{}/hook", ok(listener.local_addr()).port());
    let handle = tokio::spawn(async move {
        let (stream, _) = ok(listener.accept().await);
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        ok(reader.read_line(&mut line).await);
        assert!(line.starts_with("POST /hook "), "{line}");
        let mut headers = Vec::new();
        loop {
            line.clear();
            ok(reader.read_line(&mut line).await);
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let (n, v) = l.split_once(':').unwrap_or((l, ""));
            headers.push((n.trim().to_owned(), v.trim().to_owned()));
        }
        let request = Request {
            headers,
            body: Vec::new(),
        };
        let length: usize = request
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        ok(reader.read_exact(&mut body).await);
        let answer = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        ok(reader.get_mut().write_all(answer.as_bytes()).await);
        ok(reader.get_mut().shutdown().await);
        Request { body, ..request }
    });
    (url, handle)
}

fn webhook_config(url: &str) -> WebhookConfig {
    WebhookConfig {
        url: url.into(),
        secret: Some(Secret::new(WEBHOOK_SECRET)),
        secret_file: None,
    }
}

/// What a receiver does: recompute the HMAC over "<timestamp>.<raw body>".
fn verify(request: &Request) -> bool {
    use hmac::{Hmac, Mac};
    let (Some(ts), Some(sig)) = (
        request.header("x-portcullis-timestamp"),
        request.header("x-portcullis-signature"),
    ) else {
        return false;
    };
    let Some(hex_sig) = sig.strip_prefix("sha256=") else {
        return false;
    };
    let Ok(expected) = hex::decode(hex_sig) else {
        return false;
    };
    let mut mac = ok(Hmac::<sha2::Sha256>::new_from_slice(
        WEBHOOK_SECRET.as_bytes(),
    ));
    mac.update(ts.as_bytes());
    mac.update(b".");
    mac.update(&request.body);
    mac.verify_slice(&expected).is_ok()
}

#[tokio::test]
async fn webhook_posts_signed_json() {
    let (url, receiver) = webhook_receiver("204 No Content").await;
    let sender = ok(WebhookSender::new(&webhook_config(&url)));
    assert_eq!(sender.describe(), format!("webhook {url}"));
    ok(sender.send(message()).await);
    let request = ok(receiver.await);

    assert!(verify(&request), "bad signature: {request:?}");
    let ts: i64 = ok(request
        .header("x-portcullis-timestamp")
        .unwrap_or_default()
        .parse::<i64>());
    assert!((chrono::Utc::now().timestamp() - ts).abs() < 60);
    assert_eq!(request.header("content-type"), Some("application/json"));
    let json: serde_json::Value = ok(serde_json::from_slice(&request.body));
    assert_eq!(json["to"], "ada@example.com");
    assert_eq!(json["toName"], "Ada Lovelace");
    assert_eq!(json["subject"], "Your sign-in code");
    assert_eq!(json["purpose"], "SIGN_IN_CODE");
    assert!(ok(json["text"].as_str().ok_or("no text")).contains(CODE));
    let sent_at = ok(json["sentAt"].as_str().ok_or("no sentAt"));
    ok(chrono::DateTime::parse_from_rfc3339(sent_at));

    // A tampered body or another key does not verify.
    let mut tampered = request;
    tampered.body.push(b' ');
    assert!(!verify(&tampered));
}

#[tokio::test]
async fn webhook_client_error_is_rejected() {
    let (url, receiver) = webhook_receiver("400 Bad Request").await;
    let sender = ok(WebhookSender::new(&webhook_config(&url)));
    let err = sender.send(message()).await.err();
    assert!(matches!(err, Some(DeliveryError::Rejected(_))), "{err:?}");
    assert!(verify(&ok(receiver.await)));
}

#[tokio::test]
async fn webhook_server_error_is_unavailable() {
    let (url, receiver) = webhook_receiver("500 Internal Server Error").await;
    let sender = ok(WebhookSender::new(&webhook_config(&url)));
    let err = sender.send(message()).await.err();
    assert!(
        matches!(err, Some(DeliveryError::Unavailable(_))),
        "{err:?}"
    );
    ok(receiver.await);
}

#[test]
fn webhook_signature_is_documented_scheme() {
    // Computed independently: python3 -c "import hmac,hashlib;
    // print(hmac.new(b'key', b'1700000000.{}', hashlib.sha256).hexdigest())"
    let sig = webhook::signature(b"key", 1_700_000_000, b"{}");
    assert_eq!(
        sig,
        "sha256=9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae"
    );
    assert_ne!(sig, webhook::signature(b"key", 1_700_000_001, b"{}"));
}

#[test]
fn webhook_refuses_plain_http_elsewhere() {
    for url in [
        "http://gateway.example.com/hook",
        "ftp://localhost/x",
        "not a url",
    ] {
        assert!(WebhookSender::new(&webhook_config(url)).is_err(), "{url}");
    }
    ok(WebhookSender::new(&webhook_config(
        "https://gateway.example.com/hook",
    )));
    ok(WebhookSender::new(&webhook_config(
        "http://localhost:9000/hook",
    )));
}

// ---------------------------------------------------------------- outbox

/// Captures formatted log output.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

#[tokio::test]
async fn outbox_writes_a_private_eml_file_and_never_logs_the_code() {
    let data = ok(tempfile::tempdir());
    let dir = data.path().join("outbox");
    let sender = ok(OutboxSender::new(
        &dir,
        ok("Portcullis <no-reply@example.org>".parse()),
    ));
    assert_eq!(sender.describe(), format!("outbox {}", dir.display()));
    let dir_mode = ok(std::fs::metadata(&dir)).permissions().mode() & 0o777;
    assert_eq!(dir_mode, 0o700);

    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::TRACE)
        .finish();
    let message = message();
    let debug = format!("{message:?}");
    {
        let _guard = tracing::subscriber::set_default(subscriber);
        ok(sender.send(message).await);
    }

    let files: Vec<PathBuf> = ok(std::fs::read_dir(&dir)).map(|e| ok(e).path()).collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let file = &files[0];
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_owned();
    assert!(name.ends_with(".eml") && !name.starts_with('.'), "{name}");
    assert!(
        name.as_bytes()[..8].iter().all(u8::is_ascii_digit),
        "{name}"
    );
    let mode = ok(std::fs::metadata(file)).permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    let content = ok(std::fs::read_to_string(file));
    assert!(
        content.contains("To: \"Ada Lovelace\" <ada@example.com>\r\n"),
        "{content}"
    );
    assert!(
        content.contains("Subject: Your sign-in code\r\n"),
        "{content}"
    );
    assert!(content.contains("Message-ID: <"), "{content}");
    assert!(content.contains("Date: "), "{content}");
    assert!(
        content.contains(&format!("sign-in code is {CODE}")),
        "{content}"
    );

    let logged = logs.text();
    assert!(logged.contains("message written to the outbox"), "{logged}");
    assert!(logged.contains("ada@example.com"), "{logged}");
    assert!(logged.contains(&name), "{logged}");
    assert!(!logged.contains(CODE), "{logged}");
    assert!(!debug.contains(CODE), "{debug}");
    assert!(!format!("{sender:?}").contains(CODE));
}

// ---------------------------------------------------------------- configuration

#[test]
fn build_sender_follows_the_configuration() {
    let data = ok(tempfile::tempdir());
    let mut config = Config {
        data_dir: data.path().join("data"),
        ..Config::default()
    };
    let sender = ok(build_sender(&config));
    let outbox = data.path().join("data").join("outbox");
    assert_eq!(sender.describe(), format!("outbox {}", outbox.display()));
    assert!(outbox.is_dir());

    config.delivery.smtp = Some(SmtpConfig {
        host: "mail.example.com".into(),
        port: None,
        security: SmtpSecurity::Starttls,
        ..smtp_config(0)
    });
    assert_eq!(
        ok(build_sender(&config)).describe(),
        "smtp mail.example.com:587"
    );

    config.delivery.webhook = Some(webhook_config("https://sms.example.com/send?token=abc"));
    let both = build_sender(&config)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        both.contains("delivery.smtp") && both.contains("delivery.webhook"),
        "{both}"
    );

    config.delivery.smtp = None;
    assert_eq!(
        ok(build_sender(&config)).describe(),
        "webhook https://sms.example.com/send"
    );
}

#[test]
fn delivery_validation_names_the_key() {
    type Change = Box<dyn Fn(&mut Config)>;
    let cases: Vec<(&str, Change)> = vec![
        (
            "delivery.smtp.from",
            Box::new(|c| {
                c.delivery.smtp = Some(SmtpConfig {
                    from: "nobody".into(),
                    ..smtp_config(25)
                })
            }),
        ),
        (
            "delivery.smtp.host",
            Box::new(|c| {
                c.delivery.smtp = Some(SmtpConfig {
                    host: " ".into(),
                    ..smtp_config(25)
                })
            }),
        ),
        (
            "delivery.smtp.port",
            Box::new(|c| c.delivery.smtp = Some(smtp_config(0))),
        ),
        (
            "delivery.smtp.password",
            Box::new(|c| {
                c.delivery.smtp = Some(SmtpConfig {
                    username: Some("u".into()),
                    ..smtp_config(25)
                })
            }),
        ),
        (
            "delivery.webhook.url",
            Box::new(|c| c.delivery.webhook = Some(webhook_config("http://example.com/hook"))),
        ),
        (
            "delivery.webhook.secret",
            Box::new(|c| {
                c.delivery.webhook = Some(WebhookConfig {
                    secret: None,
                    ..webhook_config("https://example.com/hook")
                })
            }),
        ),
    ];
    for (key, change) in cases {
        let mut config = Config::default();
        change(&mut config);
        let err = config
            .delivery_target()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains(key), "{key}: {err}");
    }
}

#[test]
fn delivery_section_loads_from_toml_with_secret_files() {
    let dir = ok(tempfile::tempdir());
    let password = dir.path().join("smtp-password");
    ok(std::fs::write(&password, "s3cret-password\n"));
    let file = dir.path().join("portcullis.toml");
    ok(std::fs::write(
        &file,
        format!(
            "[delivery.smtp]\nhost = \"mail.example.com\"\nsecurity = \"tls\"\nusername = \"id\"\n\
             password_file = \"{}\"\nfrom = \"Portcullis <id@example.com>\"\n",
            password.display()
        ),
    ));
    let config = ok(Config::load(Some(&file)));
    let smtp = config
        .delivery
        .smtp
        .clone()
        .unwrap_or_else(|| panic!("no smtp"));
    assert_eq!(
        smtp.password.as_ref().map(Secret::expose),
        Some("s3cret-password")
    );
    assert_eq!(smtp.effective_port(), 465);
    assert_eq!(smtp.timeout_seconds, 30);
    let shown = config.to_redacted_toml();
    assert!(!shown.contains("s3cret-password"), "{shown}");

    ok(std::fs::write(
        &file,
        "[delivery.smtp]\nhost = \"h.example.com\"\nfrom = \"a@example.com\"\n\
         [delivery.webhook]\nurl = \"https://x.example.com\"\nsecret = \"0123456789abcdef\"\n",
    ));
    let err = Config::load(Some(&file))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("delivery.smtp") && err.contains("delivery.webhook"),
        "{err}"
    );

    ok(std::fs::write(
        &file,
        "[delivery.smtp]\nhost = \"h.example.com\"\nfrom = \"a@example.com\"\nsecuritee = \"tls\"\n",
    ));
    let err = Config::load(Some(&file))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("securitee"), "{err}");
}

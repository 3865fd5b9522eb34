//! SigV4 time formats and presigned URLs, signed here by a small independent signer written
//! from the AWS documentation (the end-to-end suite signs with the AWS SDK and with botocore).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Duration, Utc};
use portcullis_auth::derive::hmac_sha256;
use portcullis_sessions::Clock;
use sha2::{Digest, Sha256};

use crate::tests::{BODY, Fixture};
use crate::{BrokerConfig, CallerIdentity, VerifyError};

fn hmac(key: &[u8], data: &str) -> [u8; 32] {
    hmac_sha256(key, &[data.as_bytes()])
}

fn signing_key(secret: &str, date: &str, region: &str) -> [u8; 32] {
    let mut key = hmac(format!("AWS4{secret}").as_bytes(), date);
    for part in [region, "sts", "aws4_request"] {
        key = hmac(&key, part);
    }
    key
}

/// RFC 3986 unreserved characters kept, everything else `%XY`.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A header-signed POST / whose `X-Amz-Date` is written as `date_text` (any form), with the
/// credential scope's date `scope_date`: what a client that writes the time in another
/// ISO-8601 form sends.
fn sign_with_date_text(
    c: &crate::RoleCredentials,
    date_text: &str,
    scope_date: &str,
    header: &str,
) -> http::Request<Vec<u8>> {
    let content_type = "application/x-www-form-urlencoded; charset=utf-8";
    let signed = format!("content-type;host;{header};x-amz-security-token");
    let canonical = format!(
        "POST\n/\n\ncontent-type:{content_type}\nhost:localhost:8080\n{header}:{date_text}\n\
         x-amz-security-token:{}\n\n{signed}\n{}",
        c.session_token,
        hex::encode(Sha256::digest(BODY.as_bytes()))
    );
    let scope = format!("{scope_date}/us-east-1/sts/aws4_request");
    // The library's string to sign carries the time in the basic format, whatever the header.
    let parsed = DateTime::parse_from_rfc3339(date_text)
        .map(|t| t.with_timezone(&Utc).format("%Y%m%dT%H%M%SZ").to_string())
        .unwrap_or_else(|_| date_text.to_owned());
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{parsed}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let signature = hex::encode(hmac(
        &signing_key(&c.secret_access_key, scope_date, "us-east-1"),
        &to_sign,
    ));
    http::Request::post("/")
        .header("content-type", content_type)
        .header("host", "localhost:8080")
        .header(header, date_text)
        .header("x-amz-security-token", &c.session_token)
        .header(
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}",
                c.access_key_id
            ),
        )
        .body(BODY.as_bytes().to_vec())
        .unwrap()
}

/// A presigned `GET /?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-…` as botocore makes
/// it (payload `UNSIGNED-PAYLOAD`), signed at `at` for `expires` (text, to try bad ones).
fn presign(c: &crate::RoleCredentials, at: DateTime<Utc>, expires: &str) -> http::Request<Vec<u8>> {
    presign_with(c, at, expires, "sts", &[])
}

fn presign_with(
    c: &crate::RoleCredentials,
    at: DateTime<Utc>,
    expires: &str,
    service: &str,
    extra_unsigned: &[(&str, &str)],
) -> http::Request<Vec<u8>> {
    let amz_date = at.format("%Y%m%dT%H%M%SZ").to_string();
    let date = at.format("%Y%m%d").to_string();
    let scope = format!("{date}/eu-west-1/{service}/aws4_request");
    let credential = format!("{}/{scope}", c.access_key_id);
    let mut params = [
        ("Action", "GetCallerIdentity".to_owned()),
        ("Version", "2011-06-15".to_owned()),
        ("X-Amz-Algorithm", "AWS4-HMAC-SHA256".to_owned()),
        ("X-Amz-Credential", credential),
        ("X-Amz-Date", amz_date.clone()),
        ("X-Amz-Expires", expires.to_owned()),
        ("X-Amz-SignedHeaders", "host".to_owned()),
        ("X-Amz-Security-Token", c.session_token.clone()),
    ];
    params.sort();
    let query = params
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&");
    let canonical = format!("GET\n/\n{query}\nhost:localhost:8080\n\nhost\nUNSIGNED-PAYLOAD");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let key = {
        let mut key = hmac(format!("AWS4{}", c.secret_access_key).as_bytes(), &date);
        for part in ["eu-west-1", service, "aws4_request"] {
            key = hmac(&key, part);
        }
        key
    };
    let signature = hex::encode(hmac(&key, &to_sign));
    let mut uri = format!("/?{query}&X-Amz-Signature={signature}");
    for (k, v) in extra_unsigned {
        uri.push_str(&format!("&{k}={v}"));
    }
    http::Request::get(uri)
        .header("host", "localhost:8080")
        .body(Vec::new())
        .unwrap()
}

fn code(r: Result<CallerIdentity, VerifyError>) -> &'static str {
    r.map(|_| ()).unwrap_err().code()
}

#[tokio::test]
async fn only_the_basic_time_format_is_accepted_so_the_skew_always_applies() {
    let f = Fixture::new(BrokerConfig::default()).await;
    let acct = f.account("123456789012").await;
    f.grant(&acct, "Deploy", 1).await;
    let c = f.credentials("123456789012", "Deploy").await;
    let now = f.clock.now();
    // Ten minutes ago: outside our ±5 minutes, inside the signature library's own ±15.
    let old = now - Duration::minutes(10);
    let day = old.format("%Y%m%d").to_string();
    for text in [
        old.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        old.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        old.format("%Y%m%dT%H%M%S+0000").to_string(),
        old.format("%Y-%m-%dT%H:%M:%S+00:00").to_string(),
        old.format("%Y%m%dT%H%M%S.5Z").to_string(),
    ] {
        for header in ["x-amz-date", "date"] {
            let r = f
                .broker
                .verify_request(sign_with_date_text(&c, &text, &day, header))
                .await;
            assert_eq!(code(r), "IncompleteSignature", "{header}: {text}");
        }
    }
    // The same forms at the current time are refused too: only `YYYYMMDDTHHMMSSZ` is SigV4.
    let today = now.format("%Y%m%d").to_string();
    let text = now.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let r = f
        .broker
        .verify_request(sign_with_date_text(&c, &text, &today, "x-amz-date"))
        .await;
    assert_eq!(code(r), "IncompleteSignature");
    // The basic format signs and verifies.
    let basic = now.format("%Y%m%dT%H%M%SZ").to_string();
    let id = f
        .broker
        .verify_request(sign_with_date_text(&c, &basic, &today, "x-amz-date"))
        .await
        .unwrap();
    assert_eq!(id.account_id, acct);
    // No time at all.
    let mut none = sign_with_date_text(&c, &basic, &today, "x-amz-date");
    none.headers_mut().remove("x-amz-date");
    assert_eq!(
        code(f.broker.verify_request(none).await),
        "IncompleteSignature"
    );
}

#[tokio::test]
async fn presigned_urls_verify_until_they_expire() {
    let f = Fixture::new(BrokerConfig::default()).await;
    let acct = f.account("123456789012").await;
    f.grant(&acct, "Deploy", 1).await;
    let c = f.credentials("123456789012", "Deploy").await;
    let now = f.clock.now();

    let id = f
        .broker
        .verify_request(presign(&c, now, "900"))
        .await
        .unwrap();
    assert_eq!(
        id.arn,
        "arn:aws:sts::123456789012:assumed-role/Deploy/alice"
    );
    // Signed 10 minutes ago for 15: still good (the expiry, not the skew, bounds the past).
    f.broker
        .verify_request(presign(&c, now - Duration::minutes(10), "900"))
        .await
        .unwrap();
    // Signed 20 minutes ago for 15: expired.
    assert_eq!(
        code(
            f.broker
                .verify_request(presign(&c, now - Duration::minutes(20), "900"))
                .await
        ),
        "SignatureDoesNotMatch"
    );
    // Signed in the future beyond the skew.
    assert_eq!(
        code(
            f.broker
                .verify_request(presign(&c, now + Duration::minutes(6), "900"))
                .await
        ),
        "SignatureDoesNotMatch"
    );
    // X-Amz-Expires out of 1..=604800 or not a number.
    for bad in ["0", "604801", "-5", "1e3", "", "99999999999999999999"] {
        assert_eq!(
            code(f.broker.verify_request(presign(&c, now, bad)).await),
            "IncompleteSignature",
            "X-Amz-Expires={bad}"
        );
    }
    f.broker
        .verify_request(presign(&c, now, "604800"))
        .await
        .unwrap();
    // A parameter added after signing; a repeated authentication parameter; another service.
    assert_eq!(
        code(
            f.broker
                .verify_request(presign_with(&c, now, "900", "sts", &[("Extra", "1")]))
                .await
        ),
        "SignatureDoesNotMatch"
    );
    assert_eq!(
        code(
            f.broker
                .verify_request(presign_with(
                    &c,
                    now,
                    "900",
                    "sts",
                    &[("X-Amz-Date", "20000101T000000Z")]
                ))
                .await
        ),
        "IncompleteSignature"
    );
    assert_eq!(
        code(
            f.broker
                .verify_request(presign_with(&c, now, "900", "s3", &[]))
                .await
        ),
        "SignatureDoesNotMatch"
    );
    // Another key's session token.
    let other = f.credentials("123456789012", "Deploy").await;
    let mixed = crate::RoleCredentials {
        session_token: other.session_token.clone(),
        ..c.clone()
    };
    assert_eq!(
        code(f.broker.verify_request(presign(&mixed, now, "900")).await),
        "InvalidClientTokenId"
    );
    // The credentials themselves expire (1 h) whatever the URL says.
    let late = presign(&c, now + Duration::minutes(2), "604800");
    f.clock.advance(Duration::minutes(61));
    assert_eq!(code(f.broker.verify_request(late).await), "ExpiredToken");
}

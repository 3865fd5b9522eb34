//! SigV4 edge cases over HTTP: a request time written in any ISO-8601 form but SigV4's basic
//! `YYYYMMDDTHHMMSSZ` is refused (so the ±5 minute skew cannot be sidestepped), and STS
//! `GetCallerIdentity` presigned by the AWS SDK's own signer (`GET /?…&X-Amz-Signature=…`)
//! verifies until `X-Amz-Expires` runs out.

use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use portcullis_testkit::sigv4::{self, CALLER_IDENTITY};
use sha2::{Digest, Sha256};

use crate::broker::{Creds, Sts, credentials, now, world};
use crate::helpers::TestApp;
use crate::on_both_backends;

on_both_backends!(
    request_times_in_other_iso_forms_are_refused,
    presigned_caller_identity_verifies_until_it_expires,
);

fn hex(bytes: impl AsRef<[u8]>) -> String {
    bytes.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("key");
    m.update(data.as_bytes());
    m.finalize().into_bytes().to_vec()
}

/// POST / signed (SigV4, from the AWS documentation) with `X-Amz-Date: {date_text}`, whatever
/// its form; the string to sign carries the same instant in the basic form, as a lenient
/// verifier would compute it.
async fn post_with_date_text(app: &TestApp, c: &Creds, at: DateTime<Utc>, date_text: &str) -> Sts {
    let host = app.base.trim_start_matches("http://").to_owned();
    let content_type = "application/x-www-form-urlencoded; charset=utf-8";
    let signed = "content-type;host;x-amz-date;x-amz-security-token";
    let canonical = format!(
        "POST\n/\n\ncontent-type:{content_type}\nhost:{host}\nx-amz-date:{date_text}\n\
         x-amz-security-token:{}\n\n{signed}\n{}",
        c.token,
        hex(Sha256::digest(CALLER_IDENTITY.as_bytes()))
    );
    let day = at.format("%Y%m%d").to_string();
    let scope = format!("{day}/us-east-1/sts/aws4_request");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{}\n{scope}\n{}",
        at.format("%Y%m%dT%H%M%SZ"),
        hex(Sha256::digest(canonical.as_bytes()))
    );
    let mut key = hmac(format!("AWS4{}", c.secret).as_bytes(), &day);
    for part in ["us-east-1", "sts", "aws4_request"] {
        key = hmac(&key, part);
    }
    let signature = hex(hmac(&key, &to_sign));
    let resp = app
        .client
        .post(format!("{}/", app.base))
        .header("content-type", content_type)
        .header("x-amz-date", date_text)
        .header("x-amz-security-token", &c.token)
        .header(
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}",
                c.akid
            ),
        )
        .body(CALLER_IDENTITY)
        .send()
        .await
        .expect("request");
    Sts {
        status: resp.status().as_u16(),
        body: resp.text().await.expect("body"),
    }
}

async fn request_times_in_other_iso_forms_are_refused(app: TestApp) {
    let w = world(&app).await;
    let c = credentials(&app, &w.token, "111111111111", "Admin").await;
    let now: DateTime<Utc> = now(&app).into();
    // Ten minutes old (outside ±5 minutes), and current, each in forms that are ISO-8601 but
    // not SigV4's basic format.
    for at in [now - chrono::Duration::minutes(10), now] {
        for text in [
            at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            at.format("%Y-%m-%dT%H:%M:%S+00:00").to_string(),
            at.format("%Y%m%dT%H%M%S+0000").to_string(),
            at.format("%Y%m%dT%H%M%S.25Z").to_string(),
        ] {
            let sts = post_with_date_text(&app, &c, at, &text).await;
            assert_eq!(
                (sts.status, sts.code()),
                (400, Some("IncompleteSignature")),
                "{text}: {sts:?}"
            );
            assert!(
                sts.body.starts_with("<ErrorResponse")
                    && sts
                        .element("Message")
                        .is_some_and(|m| m.contains("basic format")),
                "{sts:?}"
            );
        }
    }
    // The basic format, now and ten minutes old, through the same signer.
    let basic = now.format("%Y%m%dT%H%M%SZ").to_string();
    let ok = post_with_date_text(&app, &c, now, &basic).await;
    assert_eq!(ok.status, 200, "{ok:?}");
    let old = now - chrono::Duration::minutes(10);
    let stale = post_with_date_text(&app, &c, old, &old.format("%Y%m%dT%H%M%SZ").to_string()).await;
    assert_eq!(
        (stale.status, stale.code()),
        (403, Some("SignatureDoesNotMatch")),
        "{stale:?}"
    );
}

/// `GET /?Action=GetCallerIdentity&Version=2011-06-15` presigned by `aws-sigv4` at `at`, valid
/// for `expires`.
async fn presigned(app: &TestApp, c: &Creds, at: SystemTime, expires: Duration) -> Sts {
    let creds = sigv4::credentials(&c.akid, &c.secret, &c.token);
    let url = sigv4::presigned_caller_identity(&app.base, &creds, "eu-west-1", at, expires)
        .expect("presigned");
    let resp = app.client.get(&url).send().await.expect("request");
    Sts {
        status: resp.status().as_u16(),
        body: resp.text().await.expect("body"),
    }
}

async fn presigned_caller_identity_verifies_until_it_expires(app: TestApp) {
    let w = world(&app).await;
    let c = credentials(&app, &w.token, "222222222222", "Admin").await;
    let fifteen = Duration::from_secs(900);
    let sts = presigned(&app, &c, now(&app), fifteen).await;
    assert_eq!(sts.status, 200, "{sts:?}");
    assert_eq!(
        sts.element("Arn"),
        Some("arn:aws:sts::222222222222:assumed-role/Admin/ada")
    );
    // Ten minutes old but valid for fifteen: good. Twenty minutes old: expired.
    let minutes = |m: u64| Duration::from_secs(60 * m);
    assert_eq!(
        presigned(&app, &c, now(&app) - minutes(10), fifteen)
            .await
            .status,
        200
    );
    let expired = presigned(&app, &c, now(&app) - minutes(20), fifteen).await;
    assert_eq!(
        (expired.status, expired.code()),
        (403, Some("SignatureDoesNotMatch")),
        "{expired:?}"
    );
    // The clock moves past the URL's expiry: the same kind of URL stops working.
    let url_at = now(&app);
    app.clock.advance(chrono::Duration::minutes(16));
    let late = presigned(&app, &c, url_at, fifteen).await;
    assert_eq!(late.code(), Some("SignatureDoesNotMatch"), "{late:?}");
    // Ahead of our clock by more than the skew.
    let ahead = presigned(&app, &c, now(&app) + minutes(10), fifteen).await;
    assert_eq!(ahead.code(), Some("SignatureDoesNotMatch"), "{ahead:?}");
    // Longer than a week is refused outright.
    let week = presigned(&app, &c, now(&app), Duration::from_secs(604_801)).await;
    assert_eq!(
        (week.status, week.code()),
        (400, Some("IncompleteSignature")),
        "{week:?}"
    );
    // A plain GET / is still the portal's (a redirect to sign in), not STS.
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(format!("{}/", app.base))
        .send()
        .await
        .expect("request");
    assert!(plain.status().is_redirection(), "{:?}", plain.status());
}

//! Entry points for the fuzz targets in `fuzz/` (docs/design/fuzzing.md): SigV4-signed requests
//! as bytes, through the same verification STS `GetCallerIdentity` and gRPC `VerifyCredentials`
//! use. Not an API: nothing but `fuzz/` calls these.

use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use portcullis_auth::derive::hmac_sha256;
use portcullis_domain::{AccountId, PermissionSetId, RoleName, UserId, UserName};
use scratchstack_aws_signature::KSecretKey;
use sha2::{Digest, Sha256};

use crate::credentials::{Keys, RoleCredentials, SessionClaims};
use crate::error::VerifyError;
use crate::sigv4;

/// The verification clock: 2027-01-15T08:00:00Z.
pub const NOW: i64 = 1_800_000_000;
/// The access key id of the fuzz credentials (every token the fixed key sealed names it).
pub const ACCESS_KEY_ID: &str = "ASIAFUZZFUZZFUZZFUZZ";
const SKEW: Duration = Duration::from_secs(300);
const REGION: &str = "us-east-1";

/// The fuzz credentials and the broker keys that verify them; made once by the harness and
/// passed to [`sigv4_request`] and [`sigv4_sign`].
pub struct Fixture {
    keys: Arc<Keys>,
    credentials: RoleCredentials,
}

impl std::fmt::Debug for Fixture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fixture").finish_non_exhaustive()
    }
}

impl Default for Fixture {
    fn default() -> Self {
        Self::new()
    }
}

impl Fixture {
    /// The broker key is fixed, so session tokens sealed in one run (the seeds) open in the next.
    pub fn new() -> Self {
        let keys = Arc::new(Keys::new(&[7u8; 32]));
        let fail = |what: &str| -> ! { panic!("fuzz fixture: {what}") };
        let claims = SessionClaims {
            account_id: AccountId::parse("123456789012").unwrap_or_else(|_| fail("account")),
            role_name: RoleName::parse("FuzzRole").unwrap_or_else(|_| fail("role")),
            permission_set_id: PermissionSetId::new(),
            user_id: UserId::new(),
            user_name: UserName::parse("fuzz").unwrap_or_else(|_| fail("user")),
            access_key_id: ACCESS_KEY_ID.into(),
            issued_at_ms: (NOW - 60) * 1000,
            expires_at_ms: (NOW + 10 * 365 * 86_400) * 1000,
            client_id: "fuzz".into(),
        };
        let credentials = keys.mint(&claims);
        Fixture { keys, credentials }
    }
}

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(NOW, 0).unwrap_or_default()
}

/// Polls a future that never waits (the key lookup is in memory) to completion.
fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    for _ in 0..1_000 {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
    panic!("SigV4 verification kept waiting");
}

/// A request as raw text: `METHOD URI`, header lines `name: value`, an empty line, the body.
struct Raw<'a> {
    method: &'a [u8],
    uri: &'a [u8],
    headers: Vec<(&'a [u8], &'a [u8])>,
    body: &'a [u8],
}

fn split_raw(data: &[u8]) -> Option<Raw<'_>> {
    let (head, body) = match data.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&data[..i], &data[i + 2..]),
        None => (data, &[][..]),
    };
    let mut lines = head.split(|b| *b == b'\n');
    let first = lines.next()?;
    let sp = first.iter().position(|b| *b == b' ')?;
    let (method, uri) = (&first[..sp], &first[sp + 1..]);
    let headers = lines
        .filter_map(|l| {
            let colon = l.iter().position(|b| *b == b':')?;
            let value = &l[colon + 1..];
            let value = value.strip_prefix(b" ").unwrap_or(value);
            Some((&l[..colon], value))
        })
        .collect();
    Some(Raw {
        method,
        uri,
        headers,
        body,
    })
}

fn build(raw: &Raw<'_>) -> Option<http::Request<Vec<u8>>> {
    let mut b = http::Request::builder()
        .method(http::Method::from_bytes(raw.method).ok()?)
        .uri(http::Uri::try_from(raw.uri).ok()?);
    for (name, value) in &raw.headers {
        b = b.header(
            http::HeaderName::from_bytes(name).ok()?,
            http::HeaderValue::from_bytes(value).ok()?,
        );
    }
    b.body(raw.body.to_vec()).ok()
}

fn verify(f: &Fixture, request: http::Request<Vec<u8>>) -> Result<SessionClaims, VerifyError> {
    block_on(sigv4::verify(
        f.keys.clone(),
        request,
        sigv4::SERVICE,
        now(),
        SKEW,
    ))
}

/// `data` is a signed request (see [`Raw`]): it verifies only with the fuzz credentials, and
/// only when its time is within the allowed skew.
pub fn sigv4_request(f: &Fixture, data: &[u8]) {
    let Some(raw) = split_raw(data) else {
        return;
    };
    let Some(request) = build(&raw) else {
        return;
    };
    let header_signed = request.headers().contains_key(http::header::AUTHORIZATION);
    // The time the verifier goes by: the headers' for a header-signed request, the query's
    // `X-Amz-Date` for a presigned URL.
    let time = if header_signed {
        sigv4::header_time(&request).ok()
    } else {
        request.uri().query().and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "X-Amz-Date")
                .and_then(|(_, v)| sigv4::parse_amz_date(&v).ok())
        })
    };
    if let Ok(claims) = verify(f, request) {
        assert_eq!(claims.access_key_id, ACCESS_KEY_ID);
        let Some(time) = time else {
            panic!("a request without a time verified");
        };
        let skew = chrono::Duration::from_std(SKEW).unwrap_or_default();
        if header_signed {
            assert!(
                (time - now()).abs() <= skew,
                "a header-signed request outside the skew verified"
            );
        } else {
            // A presigned URL is good from its signing time until it expires, never before.
            assert!(
                time - now() <= skew,
                "a presigned URL from the future verified"
            );
        }
    }
}

/// Whether a request is plain enough that this module's small signer canonicalises it as
/// SigV4 does: a simple path, no query, distinct lower-case header names, single-spaced values.
fn plain(raw: &Raw<'_>, path: &str) -> bool {
    let value_ok = |v: &[u8]| {
        !v.is_empty()
            && v.iter().all(|b| (0x20..0x7f).contains(b))
            && v.first() != Some(&b' ')
            && v.last() != Some(&b' ')
            && !v.windows(2).any(|w| w == b"  ")
    };
    let mut names: Vec<&[u8]> = raw.headers.iter().map(|(n, _)| *n).collect();
    names.sort_unstable();
    matches!(raw.method, b"GET" | b"POST" | b"PUT")
        && path.starts_with('/')
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/-_".contains(&b))
        && !path.contains("//")
        && raw.headers.iter().all(|(n, v)| {
            !n.is_empty()
                && n.iter()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
                && value_ok(v)
        })
        && !names.windows(2).any(|w| w[0] == w[1])
}

/// `data` is a request to sign (see [`Raw`]; any `authorization`, `x-amz-date` and
/// `x-amz-security-token` are replaced) with the fuzz credentials at the verification clock. A
/// plain request must then verify to the fuzz credentials. Returns the signed request as raw
/// text (fuzz/run's seed maker keeps it).
pub fn sigv4_sign(f: &Fixture, data: &[u8]) -> Option<Vec<u8>> {
    let mut raw = split_raw(data)?;
    let uri = std::str::from_utf8(raw.uri).ok()?;
    let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
    let amz_date = now().format("%Y%m%dT%H%M%SZ").to_string();
    let date = now().date_naive();
    raw.headers.retain(|(n, _)| {
        !n.eq_ignore_ascii_case(b"authorization")
            && !n.eq_ignore_ascii_case(b"x-amz-date")
            && !n.eq_ignore_ascii_case(b"x-amz-security-token")
    });
    if !raw
        .headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case(b"host"))
    {
        raw.headers.push((b"host", b"sts.amazonaws.com"));
    }
    raw.headers.push((b"x-amz-date", amz_date.as_bytes()));
    raw.headers.push((
        b"x-amz-security-token",
        f.credentials.session_token.as_bytes(),
    ));
    let is_plain = query.is_empty() && plain(&raw, path);

    let mut headers: Vec<(String, &[u8])> = raw
        .headers
        .iter()
        .map(|(n, v)| (String::from_utf8_lossy(n).to_lowercase(), *v))
        .collect();
    headers.sort_by(|a, b| a.0.cmp(&b.0));
    let signed: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
    let signed = signed.join(";");
    let mut canonical = Vec::new();
    canonical.extend_from_slice(raw.method);
    canonical.push(b'\n');
    canonical.extend_from_slice(path.as_bytes());
    canonical.extend_from_slice(b"\n\n");
    for (n, v) in &headers {
        canonical.extend_from_slice(n.as_bytes());
        canonical.push(b':');
        canonical.extend_from_slice(v);
        canonical.push(b'\n');
    }
    canonical.push(b'\n');
    canonical.extend_from_slice(signed.as_bytes());
    canonical.push(b'\n');
    canonical.extend_from_slice(hex::encode(Sha256::digest(raw.body)).as_bytes());
    let scope = format!(
        "{}/{REGION}/{}/aws4_request",
        date.format("%Y%m%d"),
        sigv4::SERVICE
    );
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(&canonical))
    );
    let secret = KSecretKey::from_str(&f.credentials.secret_access_key).ok()?;
    let key = secret.to_ksigning(date, REGION, sigv4::SERVICE);
    let signature = hex::encode(hmac_sha256(
        AsRef::<[u8; 32]>::as_ref(&key),
        &[to_sign.as_bytes()],
    ));
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}",
        f.credentials.access_key_id
    );
    raw.headers
        .push((b"authorization", authorization.as_bytes()));

    let mut out = Vec::new();
    out.extend_from_slice(raw.method);
    out.push(b' ');
    out.extend_from_slice(raw.uri);
    for (n, v) in &raw.headers {
        out.push(b'\n');
        out.extend_from_slice(n);
        out.extend_from_slice(b": ");
        out.extend_from_slice(v);
    }
    out.extend_from_slice(b"\n\n");
    out.extend_from_slice(raw.body);

    let request = build(&raw)?;
    match verify(f, request) {
        Ok(claims) => assert_eq!(claims.access_key_id, ACCESS_KEY_ID),
        Err(e) => assert!(
            !is_plain,
            "a correctly signed plain request was refused: {e}"
        ),
    }
    // The same request, one byte of the body changed, must not verify.
    if is_plain {
        let mut body = raw.body.to_vec();
        body.push(b'!');
        let tampered = Raw {
            body: &body,
            headers: raw.headers.clone(),
            ..raw
        };
        if let Some(t) = build(&tampered) {
            assert!(verify(f, t).is_err(), "a tampered body verified");
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed seeds of the SigV4 targets, run as ordinary tests.
    fn corpus(target: &str) -> Vec<Vec<u8>> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fuzz/corpus")
            .join(target);
        let seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| std::fs::read(e.path()).ok())
            .collect();
        assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
        seeds
    }

    #[test]
    fn sigv4_seeds() {
        let f = Fixture::new();
        for seed in corpus("sigv4") {
            sigv4_request(&f, &seed);
        }
        for seed in corpus("sigv4_sign") {
            assert!(sigv4_sign(&f, &seed).is_some());
        }
    }

    #[test]
    fn signed_seeds_verify() {
        let f = Fixture::new();
        // The signed seeds were made by sigv4_sign with the fixed key: they still verify.
        let signed = corpus("sigv4")
            .into_iter()
            .filter(|s| s.windows(9).any(|w| w == b"Signature"));
        let mut verified = 0;
        for seed in signed {
            let raw = split_raw(&seed).and_then(|r| build(&r));
            if raw.is_some_and(|r| verify(&f, r).is_ok()) {
                verified += 1;
            }
        }
        assert!(verified >= 2, "only {verified} signed seeds verify");
    }
}

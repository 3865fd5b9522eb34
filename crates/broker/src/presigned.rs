//! SigV4 presigned requests (the signature in the query string), as botocore's
//! `generate_presigned_url` and the AWS SDKs' presigners make them: the pattern a resource
//! service uses to let a client prove who it is by handing over a URL (HashiCorp Vault's and
//! Kubernetes' `aws-iam-authenticator` style).
//!
//! The parameters are percent-decoded before use (`X-Amz-Credential` arrives as
//! `AKID%2F20261203%2F…`), the time must be in the basic format and not ahead of ours by more
//! than the allowed skew, and the URL is good for `X-Amz-Expires` seconds (1–604800) from its
//! time. The canonical request follows the published algorithm; its payload line is
//! `UNSIGNED-PAYLOAD` (botocore) or the hash of the body (other signers), either accepted.

use chrono::{DateTime, Utc};
use portcullis_auth::derive::hmac_sha256;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::credentials::{Keys, SessionClaims};
use crate::error::VerifyError;
use crate::sigv4::{KeyRefusal, check_not_ahead, open_credentials, parse_amz_date};

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The longest validity AWS allows a presigned URL: seven days.
pub(crate) const MAX_EXPIRES_SECONDS: u32 = 604_800;
const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// The query string's pairs, percent-decoded, as bytes.
type Params = Vec<(Vec<u8>, Vec<u8>)>;

fn incomplete(message: impl Into<String>) -> VerifyError {
    VerifyError::IncompleteSignature(message.into())
}

/// The query string's pairs, percent-decoded (`+` stays `+`, as SigV4 canonicalises it).
fn decode_query(query: &str) -> Result<Params, VerifyError> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((percent_decode(k)?, percent_decode(v)?))
        })
        .collect()
}

fn percent_decode(text: &str) -> Result<Vec<u8>, VerifyError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| incomplete("the query string has a malformed percent-encoding"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// SigV4's URI encoding: unreserved characters as they are, every other byte as `%XY`.
fn uri_encode(bytes: &[u8], keep_slash: bool) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The one value of an authentication parameter; a repeated one is refused (which of two
/// credentials or times would count is not for the caller to leave open).
fn single<'a>(params: &'a Params, name: &str) -> Result<Option<&'a str>, VerifyError> {
    let mut found = params.iter().filter(|(k, _)| k == name.as_bytes());
    let Some((_, first)) = found.next() else {
        return Ok(None);
    };
    if found.next().is_some() {
        return Err(incomplete(format!("{name} must be given once")));
    }
    std::str::from_utf8(first)
        .map(Some)
        .map_err(|_| incomplete(format!("{name} is not UTF-8")))
}

fn required<'a>(params: &'a Params, name: &str) -> Result<&'a str, VerifyError> {
    single(params, name)?.ok_or_else(|| {
        incomplete(format!(
            "AWS query-string parameters must include '{name}'. Re-examine the query-string parameters."
        ))
    })
}

/// The canonical headers block and whether every signed header is present.
fn canonical_headers<B>(
    request: &http::Request<B>,
    signed: &[&str],
) -> Result<String, VerifyError> {
    let mut out = String::new();
    for name in signed {
        let values: Vec<String> = request
            .headers()
            .get_all(*name)
            .iter()
            .map(|v| {
                String::from_utf8_lossy(v.as_bytes())
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        if values.is_empty() {
            return Err(VerifyError::SignatureDoesNotMatch(format!(
                "The signed header '{name}' is not in the request."
            )));
        }
        out.push_str(name);
        out.push(':');
        out.push_str(&values.join(","));
        out.push('\n');
    }
    Ok(out)
}

/// Verifies a presigned request scoped to `service` at `now`.
pub(crate) fn verify(
    keys: &Keys,
    request: &http::Request<Vec<u8>>,
    service: &str,
    now: DateTime<Utc>,
    skew: chrono::Duration,
) -> Result<SessionClaims, VerifyError> {
    let params = decode_query(request.uri().query().unwrap_or_default())?;
    if required(&params, "X-Amz-Algorithm")? != ALGORITHM {
        return Err(VerifyError::MissingAuthenticationToken);
    }
    let credential = required(&params, "X-Amz-Credential")?;
    let amz_date = required(&params, "X-Amz-Date")?;
    let expires = required(&params, "X-Amz-Expires")?;
    let signed_headers = required(&params, "X-Amz-SignedHeaders")?;
    let signature = required(&params, "X-Amz-Signature")?;
    let token = single(&params, "X-Amz-Security-Token")?;

    let time = parse_amz_date(amz_date)?;
    let expires: u32 = expires
        .parse()
        .ok()
        .filter(|e| (1..=MAX_EXPIRES_SECONDS).contains(e) && expires.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| {
            incomplete(format!(
                "X-Amz-Expires must be a whole number of seconds from 1 to {MAX_EXPIRES_SECONDS} (a week)"
            ))
        })?;
    let parts: Vec<&str> = credential.split('/').collect();
    let [access_key, date, region, scope_service, terminator] = parts[..] else {
        return Err(incomplete(format!(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{}'",
            credential.chars().take(120).collect::<String>()
        )));
    };
    let signed: Vec<&str> = signed_headers.split(';').collect();
    if !signed.contains(&"host") {
        return Err(VerifyError::SignatureDoesNotMatch(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.".into(),
        ));
    }
    if signed
        .iter()
        .any(|h| h.is_empty() || h.bytes().any(|b| b.is_ascii_uppercase()))
    {
        return Err(incomplete(
            "X-Amz-SignedHeaders must be lower-case header names separated by ';'",
        ));
    }

    check_not_ahead(time, now, skew)?;
    let until = time + chrono::Duration::seconds(i64::from(expires));
    if now > until {
        return Err(VerifyError::SignatureDoesNotMatch(format!(
            "Signature expired: the request was signed at {} for {expires} seconds, until {}; it is now {}",
            time.format("%Y%m%dT%H%M%SZ"),
            until.format("%Y%m%dT%H%M%SZ"),
            now.format("%Y%m%dT%H%M%SZ"),
        )));
    }
    let mut scope_errors = Vec::new();
    if region.is_empty() {
        scope_errors.push("Credential should be scoped to a valid region.".to_owned());
    }
    if scope_service != service {
        scope_errors.push(format!(
            "Credential should be scoped to correct service: '{service}'."
        ));
    }
    if terminator != "aws4_request" {
        scope_errors
            .push("Credential should be scoped with a valid terminator: 'aws4_request'.".into());
    }
    if date != time.format("%Y%m%d").to_string() {
        scope_errors.push(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP."
                .into(),
        );
    }
    if !scope_errors.is_empty() {
        return Err(VerifyError::SignatureDoesNotMatch(scope_errors.join(" ")));
    }

    let (claims, secret) = open_credentials(keys, access_key, token, now.timestamp_millis())
        .map_err(|refusal| match refusal {
            KeyRefusal::Invalid => VerifyError::InvalidClientTokenId,
            KeyRefusal::Expired => VerifyError::ExpiredToken,
        })?;

    let mut query: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| k != b"X-Amz-Signature")
        .map(|(k, v)| (uri_encode(k, false), uri_encode(v, false)))
        .collect();
    query.sort();
    let canonical_query = query
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let path = request.uri().path();
    let canonical_uri = if path.is_empty() {
        "/".to_owned()
    } else {
        uri_encode(path.as_bytes(), true)
    };
    let headers = canonical_headers(request, &signed)?;
    let scope = format!("{date}/{region}/{scope_service}/{terminator}");
    // The signing-key chain: kDate, kRegion, kService, kSigning.
    let mut key = hmac_sha256(format!("AWS4{secret}").as_bytes(), &[date.as_bytes()]);
    for part in [region, scope_service, terminator] {
        key = hmac_sha256(&key, &[part.as_bytes()]);
    }
    let body_hash = hex::encode(Sha256::digest(request.body()));
    let matches = [UNSIGNED_PAYLOAD, body_hash.as_str()]
        .iter()
        .any(|payload| {
            let canonical = format!(
                "{}\n{canonical_uri}\n{canonical_query}\n{headers}\n{signed_headers}\n{payload}",
                request.method().as_str()
            );
            let to_sign = format!(
                "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
                hex::encode(Sha256::digest(canonical.as_bytes()))
            );
            let expected = hex::encode(hmac_sha256(&key, &[to_sign.as_bytes()]));
            bool::from(expected.as_bytes().ct_eq(signature.as_bytes()))
        });
    if !matches {
        return Err(VerifyError::SignatureDoesNotMatch(
            "The request signature we calculated does not match the signature you provided. \
             Check your AWS Secret Access Key and signing method."
                .into(),
        ));
    }
    Ok(claims)
}

//! AWS Signature Version 4 verification of requests signed with broker credentials.
//!
//! For header-signed requests, canonicalisation, the string to sign and the signing-key chain
//! are `scratchstack-aws-signature`'s (a server-side implementation of the published
//! algorithm); presigned URLs are verified in `presigned.rs`. This module adds what is ours:
//! the request time only in the basic format `YYYYMMDDTHHMMSSZ` (as AWS), the allowed clock skew
//! (±5 minutes, checked first, as AWS does), any region in the credential scope, and the key
//! lookup — the session token is
//! opened, must name the signing access key id and be unexpired, and the secret is recomputed
//! from its claims. Nothing is stored, so any node verifies what any node issued.

use std::str::FromStr;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDateTime, Utc};
use scratchstack_aws_signature::{
    GetSigningKeyRequest, GetSigningKeyResponse, KSecretKey, NO_ADDITIONAL_SIGNED_HEADERS,
    SignatureError, SignatureOptions, service_for_signing_key_fn, sigv4_validate_request,
};

use crate::credentials::{Keys, SessionClaims};
use crate::error::VerifyError;
use crate::presigned;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The STS service name in the credential scope.
pub const SERVICE: &str = "sts";
/// The region used when a request names none (the library then reports what is missing).
const FALLBACK_REGION: &str = "us-east-1";

/// How the request carries its signature.
#[derive(Debug, PartialEq, Eq)]
enum Mode {
    /// Neither an `Authorization` header nor `X-Amz-Algorithm` in the query string.
    Unsigned,
    /// `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
    Header,
    /// A presigned URL: `X-Amz-Algorithm`, `X-Amz-Credential`, … in the query string.
    Query,
}

fn mode_of<B>(request: &http::Request<B>) -> Mode {
    if request.headers().contains_key(http::header::AUTHORIZATION) {
        return Mode::Header;
    }
    let presigned = request.uri().query().is_some_and(|q| {
        q.split('&')
            .any(|pair| pair.split('=').next() == Some("X-Amz-Algorithm"))
    });
    if presigned {
        Mode::Query
    } else {
        Mode::Unsigned
    }
}

/// The credential scope's region in the `Authorization` header.
fn header_region<B>(request: &http::Request<B>) -> Option<String> {
    let a = request
        .headers()
        .get(http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let start = a.find("Credential=")? + "Credential=".len();
    let rest = &a[start..];
    let end = rest
        .find(|c: char| c == ',' || c.is_whitespace())
        .unwrap_or(rest.len());
    rest[..end]
        .split('/')
        .nth(2)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
}

/// The request time in SigV4's ISO-8601 *basic* format, `YYYYMMDDTHHMMSSZ`, and nothing else:
/// the extended form, offsets and fractions are refused as AWS refuses them, so that every
/// accepted signature has its time checked against the allowed skew.
pub(crate) fn parse_amz_date(text: &str) -> Result<DateTime<Utc>, VerifyError> {
    let b = text.as_bytes();
    let shaped = b.len() == 16
        && b[8] == b'T'
        && b[15] == b'Z'
        && b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit);
    shaped
        .then(|| NaiveDateTime::parse_from_str(text, "%Y%m%dT%H%M%SZ").ok())
        .flatten()
        .map(|t| t.and_utc())
        .ok_or_else(|| {
            let shown: String = text.chars().take(40).collect();
            VerifyError::IncompleteSignature(format!(
                "Date must be in ISO-8601 'basic format'. Got '{shown}'. See http://en.wikipedia.org/wiki/ISO_8601"
            ))
        })
}

/// The time a header-signed request was signed at: `X-Amz-Date`, or else `Date` (the header
/// the signature library takes), in the basic format.
pub(crate) fn header_time<B>(request: &http::Request<B>) -> Result<DateTime<Utc>, VerifyError> {
    let headers = request.headers();
    let value = headers.get("x-amz-date").or_else(|| headers.get("date"));
    let Some(value) = value else {
        return Err(VerifyError::IncompleteSignature(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
                .into(),
        ));
    };
    parse_amz_date(value.to_str().unwrap_or_default())
}

/// The allowed skew as a chrono duration.
fn skew_of(allowed_skew: std::time::Duration) -> chrono::Duration {
    chrono::Duration::from_std(allowed_skew).unwrap_or(chrono::Duration::minutes(5))
}

fn fmt_time(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// Refuses a request time later than `now + skew` (every signature).
pub(crate) fn check_not_ahead(
    time: DateTime<Utc>,
    now: DateTime<Utc>,
    skew: chrono::Duration,
) -> Result<(), VerifyError> {
    if time > now + skew {
        return Err(VerifyError::SignatureDoesNotMatch(format!(
            "Signature not yet current: {} is still later than {} ({} + {} min.)",
            fmt_time(time),
            fmt_time(now + skew),
            fmt_time(now),
            skew.num_minutes()
        )));
    }
    Ok(())
}

/// Refuses a header-signed request older than `now - skew`.
fn check_not_behind(
    time: DateTime<Utc>,
    now: DateTime<Utc>,
    skew: chrono::Duration,
) -> Result<(), VerifyError> {
    if time < now - skew {
        return Err(VerifyError::SignatureDoesNotMatch(format!(
            "Signature expired: {} is now earlier than {} ({} - {} min.)",
            fmt_time(time),
            fmt_time(now - skew),
            fmt_time(now),
            skew.num_minutes()
        )));
    }
    Ok(())
}

/// Verifies a SigV4-signed request scoped to `service` at `now`; the claims of the credentials
/// that signed it. Header-signed requests must be within `allowed_skew` of `now`; presigned ones
/// (`presigned.rs`) must not be ahead of it by more, and must be used before `X-Amz-Expires`.
pub(crate) async fn verify(
    keys: Arc<Keys>,
    request: http::Request<Vec<u8>>,
    service: &str,
    now: DateTime<Utc>,
    allowed_skew: std::time::Duration,
) -> Result<SessionClaims, VerifyError> {
    let skew = skew_of(allowed_skew);
    match mode_of(&request) {
        Mode::Unsigned => return Err(VerifyError::MissingAuthenticationToken),
        Mode::Query => return presigned::verify(&keys, &request, service, now, skew),
        Mode::Header => {}
    }
    let time = header_time(&request)?;
    check_not_behind(time, now, skew)?;
    check_not_ahead(time, now, skew)?;
    let region = header_region(&request).unwrap_or_else(|| FALLBACK_REGION.to_owned());
    let opened: Arc<Mutex<Option<SessionClaims>>> = Arc::default();
    let mut lookup = {
        let opened = opened.clone();
        let now_ms = now.timestamp_millis();
        // Bound first: passed inline, the closure would be inferred `FnOnce` from the
        // constructor's bound, while the service needs to call it more than once.
        let lookup = move |req: GetSigningKeyRequest| {
            let opened = opened.clone();
            let result = signing_key(&keys, &req, now_ms).map(|(claims, response)| {
                if let Ok(mut slot) = opened.lock() {
                    *slot = Some(claims);
                }
                response
            });
            async move { result.map_err(|e| Box::new(e) as BoxError) }
        };
        service_for_signing_key_fn(lookup)
    };
    let outcome = sigv4_validate_request(
        request,
        &region,
        service,
        &mut lookup,
        now,
        &NO_ADDITIONAL_SIGNED_HEADERS,
        SignatureOptions::default(),
    )
    .await;
    match outcome {
        Ok(_) => {
            let claims = opened.lock().ok().and_then(|mut slot| slot.take());
            claims.ok_or(VerifyError::InvalidClientTokenId)
        }
        Err(e) => Err(match e.downcast::<SignatureError>() {
            Ok(e) => from_signature_error(*e),
            Err(other) => VerifyError::IncompleteSignature(other.to_string()),
        }),
    }
}

/// Why the credentials named in a signature cannot sign.
pub(crate) enum KeyRefusal {
    /// Not our token, not for this access key, or no token at all.
    Invalid,
    Expired,
}

/// The claims of the session `token` for `access_key` at `now_ms`, and the secret to sign with.
pub(crate) fn open_credentials(
    keys: &Keys,
    access_key: &str,
    token: Option<&str>,
    now_ms: i64,
) -> Result<(SessionClaims, String), KeyRefusal> {
    let token = token.ok_or(KeyRefusal::Invalid)?;
    let claims = keys.open_token(token).map_err(|_| KeyRefusal::Invalid)?;
    if claims.access_key_id != access_key {
        return Err(KeyRefusal::Invalid);
    }
    if claims.expires_at_ms <= now_ms {
        return Err(KeyRefusal::Expired);
    }
    let secret = keys.secret_for(&claims);
    Ok((claims, secret))
}

/// The signing key for the access key id in the credential scope: from the session token's
/// claims, when the token is ours, names that key and has not expired.
fn signing_key(
    keys: &Keys,
    req: &GetSigningKeyRequest,
    now_ms: i64,
) -> Result<(SessionClaims, GetSigningKeyResponse), SignatureError> {
    let invalid = || {
        SignatureError::InvalidClientTokenId(
            "The security token included in the request is invalid.".into(),
        )
    };
    let (claims, secret) = open_credentials(keys, req.access_key(), req.session_token(), now_ms)
        .map_err(|refusal| match refusal {
            KeyRefusal::Invalid => invalid(),
            KeyRefusal::Expired => SignatureError::ExpiredToken(
                "The security token included in the request is expired".into(),
            ),
        })?;
    let secret = KSecretKey::from_str(&secret).map_err(|_| invalid())?;
    let signing_key = secret.to_ksigning(req.request_date(), req.region(), req.service());
    let response = GetSigningKeyResponse::builder()
        .signing_key(signing_key)
        .build()
        .map_err(|e| SignatureError::InternalServiceError(Box::new(e)))?;
    Ok((claims, response))
}

fn from_signature_error(e: SignatureError) -> VerifyError {
    match e {
        SignatureError::ExpiredToken(_) => VerifyError::ExpiredToken,
        SignatureError::InvalidClientTokenId(_) => VerifyError::InvalidClientTokenId,
        SignatureError::MissingAuthenticationToken(_) => VerifyError::MissingAuthenticationToken,
        SignatureError::SignatureDoesNotMatch(m) => {
            VerifyError::SignatureDoesNotMatch(m.unwrap_or_else(|| {
                "The request signature we calculated does not match the signature you provided."
                    .into()
            }))
        }
        other => VerifyError::IncompleteSignature(other.to_string()),
    }
}

//! AWS Signature Version 4 verification of requests signed with broker credentials.
//!
//! Canonicalisation, the string to sign and the signing-key chain are
//! `scratchstack-aws-signature`'s (a server-side implementation of the published algorithm);
//! this module adds what is ours: the allowed clock skew (±5 minutes, checked first, as AWS
//! does), any region in the credential scope, and the key lookup — the session token is
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

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The STS service name in the credential scope.
pub const SERVICE: &str = "sts";
/// The region used when a request names none (the library then reports what is missing).
const FALLBACK_REGION: &str = "us-east-1";

/// What the request says about its signature before any of it is checked.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Scope {
    pub region: Option<String>,
    pub time: Option<DateTime<Utc>>,
}

/// Finds the credential scope's region and the request time, in the `Authorization` header or
/// (presigned) in the query string.
pub(crate) fn scope_of<B>(request: &http::Request<B>) -> Scope {
    let headers = request.headers();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let query: Vec<(String, String)> = request
        .uri()
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let credential = header("authorization")
        .and_then(|a| {
            let start = a.find("Credential=")? + "Credential=".len();
            let rest = &a[start..];
            let end = rest
                .find(|c: char| c == ',' || c.is_whitespace())
                .unwrap_or(rest.len());
            Some(rest[..end].to_owned())
        })
        .or_else(|| param("X-Amz-Credential").map(str::to_owned));
    let region = credential
        .as_deref()
        .and_then(|c| c.split('/').nth(2))
        .filter(|r| !r.is_empty())
        .map(str::to_owned);
    let time = header("x-amz-date")
        .or_else(|| param("X-Amz-Date"))
        .and_then(|d| NaiveDateTime::parse_from_str(d, "%Y%m%dT%H%M%SZ").ok())
        .map(|t| t.and_utc())
        .or_else(|| {
            header("date")
                .and_then(|d| DateTime::parse_from_rfc2822(d).ok())
                .map(|t| t.with_timezone(&Utc))
        });
    Scope { region, time }
}

/// Verifies a SigV4-signed request scoped to `service` at `now`; the claims of the credentials that signed it.
pub(crate) async fn verify(
    keys: Arc<Keys>,
    request: http::Request<Vec<u8>>,
    service: &str,
    now: DateTime<Utc>,
    allowed_skew: std::time::Duration,
) -> Result<SessionClaims, VerifyError> {
    let scope = scope_of(&request);
    if let Some(time) = scope.time {
        let skew = chrono::Duration::from_std(allowed_skew).unwrap_or(chrono::Duration::minutes(5));
        let fmt = |t: DateTime<Utc>| t.format("%Y%m%dT%H%M%SZ").to_string();
        if time < now - skew {
            return Err(VerifyError::SignatureDoesNotMatch(format!(
                "Signature expired: {} is now earlier than {} ({} - {} min.)",
                fmt(time),
                fmt(now - skew),
                fmt(now),
                skew.num_minutes()
            )));
        }
        if time > now + skew {
            return Err(VerifyError::SignatureDoesNotMatch(format!(
                "Signature not yet current: {} is still later than {} ({} + {} min.)",
                fmt(time),
                fmt(now + skew),
                fmt(now),
                skew.num_minutes()
            )));
        }
    }
    let region = scope.region.unwrap_or_else(|| FALLBACK_REGION.to_owned());
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
    let token = req.session_token().ok_or_else(invalid)?;
    let claims = keys.open_token(token).map_err(|_| invalid())?;
    if claims.access_key_id != req.access_key() {
        return Err(invalid());
    }
    if claims.expires_at_ms <= now_ms {
        return Err(SignatureError::ExpiredToken(
            "The security token included in the request is expired".into(),
        ));
    }
    let secret = KSecretKey::from_str(&keys.secret_for(&claims)).map_err(|_| invalid())?;
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

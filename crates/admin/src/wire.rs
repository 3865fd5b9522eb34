//! Small helpers shared by the admin resources: id parsing, `null`-vs-absent fields.

use std::str::FromStr;

use portcullis_domain::ValidationError;
use serde::{Deserialize, Deserializer};

use super::error::ApiError;

/// Parses a path or body id, naming the field when it is malformed.
pub fn parse_id<T: FromStr<Err = ValidationError>>(field: &str, raw: &str) -> Result<T, ApiError> {
    raw.parse()
        .map_err(|e: ValidationError| ApiError::field(field, e.message))
}

/// For PATCH bodies: absent → `None`, `null` → `Some(None)`, a value → `Some(Some(v))`.
pub fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Records a missing required field.
pub fn required<T>(
    errors: &mut portcullis_domain::FieldErrors,
    field: &str,
    v: Option<T>,
) -> Option<T> {
    if v.is_none() {
        errors.add(field, "is required");
    }
    v
}

/// Parses a 12-digit account id from a path or body.
pub fn parse_account_id(raw: &str) -> Result<portcullis_domain::AccountId, ApiError> {
    portcullis_domain::AccountId::parse(raw).map_err(|e| ApiError::field("accountId", e.message))
}

/// Parses `principalType` + `principalId` into a principal, recording errors under those names.
pub fn parse_principal(
    e: &mut portcullis_domain::FieldErrors,
    kind: Option<String>,
    id: Option<String>,
) -> Option<portcullis_domain::Principal> {
    let kind = required(e, "principalType", kind).and_then(|k| {
        e.check(
            "principalType",
            k.parse::<portcullis_domain::PrincipalType>(),
        )
    });
    let id = required(e, "principalId", id).and_then(|i| {
        e.check(
            "principalId",
            uuid::Uuid::parse_str(&i).map_err(|_| ValidationError::new("must be a UUID")),
        )
    });
    Some(portcullis_domain::Principal::from_parts(kind?, id?))
}

/// Refuses a body that is not declared JSON (415), as actix-web's JSON extractor does.
fn require_json(req: &actix_web::HttpRequest) -> Result<(), ApiError> {
    use actix_web::mime;
    let json = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime::Mime>().ok())
        .is_some_and(|m| {
            m.type_() == mime::APPLICATION
                && (m.subtype() == mime::JSON || m.suffix() == Some(mime::JSON))
        });
    if json {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(
            "the body must be JSON (Content-Type: application/json)".into(),
        ))
    }
}

fn has_body(body: &[u8]) -> bool {
    body.iter().any(|b| !b.is_ascii_whitespace())
}

/// An optional JSON body: none at all is `None`; one that is there must be JSON (415) and
/// valid (400) — never silently ignored.
pub fn optional_json<T: serde::de::DeserializeOwned>(
    req: &actix_web::HttpRequest,
    body: &[u8],
) -> Result<Option<T>, ApiError> {
    if !has_body(body) {
        return Ok(None);
    }
    require_json(req)?;
    serde_json::from_slice(body)
        .map(Some)
        .map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))
}

/// A DELETE that names what to delete either in a JSON body or in the query string. A body
/// must be JSON, as everywhere else (415 otherwise).
pub fn body_or_query<T: serde::de::DeserializeOwned>(
    req: &actix_web::HttpRequest,
    body: &[u8],
) -> Result<T, ApiError> {
    if has_body(body) {
        require_json(req)?;
        serde_json::from_slice(body)
            .map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))
    } else {
        serde_urlencoded::from_str(req.query_string())
            .map_err(|e| ApiError::BadRequest(format!("invalid query string: {e}")))
    }
}

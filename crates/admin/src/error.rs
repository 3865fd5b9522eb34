//! The one place admin API failures become HTTP statuses and JSON bodies:
//! `{"error": "<Code>", "message": "...", "fields": [{"field": "...", "message": "..."}]}`.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, ResponseError};
use portcullis_domain::FieldErrors;
use portcullis_store::StoreError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An admin API error body. A client reads `message` and `fields` back (the code, a `'static`
/// name of the server's, is not read).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// Stable code: `ValidationError`, `BadRequest`, `Unauthorized`, `NotFound`, `Conflict`,
    /// `PayloadTooLarge`, `UnsupportedMediaType`, `DeliveryFailed`, `UpstreamError`, `Unavailable`,
    /// `InternalError`.
    #[serde(skip_deserializing)]
    pub error: &'static str,
    pub message: String,
    /// For `ValidationError` (each invalid field) and `Conflict` (the clashing field).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("invalid request: {0}")]
    Validation(FieldErrors),
    #[error("{0}")]
    BadRequest(String),
    #[error("missing or invalid admin token")]
    Unauthorized,
    #[error("{0}")]
    NotFound(String),
    #[error("{message}")]
    Conflict { field: String, message: String },
    #[error("request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("the message could not be delivered: {0}")]
    Delivery(String),
    /// A cloud refused or failed a call made for the request (AWS's code and message).
    #[error("{0}")]
    Upstream(String),
    #[error("the directory is unavailable; try again shortly")]
    Unavailable(#[source] StoreError),
    #[error("the session store is unavailable; try again shortly")]
    SessionsUnavailable(#[source] portcullis_sessions::SessionError),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::Validation(FieldErrors::single(field, message))
    }

    fn code(&self) -> &'static str {
        match self {
            Self::Validation(_) => "ValidationError",
            Self::BadRequest(_) => "BadRequest",
            Self::Unauthorized => "Unauthorized",
            Self::NotFound(_) => "NotFound",
            Self::Conflict { .. } => "Conflict",
            Self::PayloadTooLarge(_) => "PayloadTooLarge",
            Self::UnsupportedMediaType(_) => "UnsupportedMediaType",
            Self::Delivery(_) => "DeliveryFailed",
            Self::Upstream(_) => "UpstreamError",
            Self::Unavailable(_) | Self::SessionsUnavailable(_) => "Unavailable",
            Self::Internal(_) => "InternalError",
        }
    }
}

impl From<FieldErrors> for ApiError {
    fn from(e: FieldErrors) -> Self {
        Self::Validation(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => Self::NotFound(format!("{what} not found")),
            StoreError::Conflict { field, message } => Self::Conflict {
                field: field.to_string(),
                message,
            },
            StoreError::InvalidReference { field, entity } => {
                Self::field(field, format!("no {entity} with this id exists"))
            }
            e @ StoreError::Unavailable(_) => Self::Unavailable(e),
            e @ StoreError::Corrupt(_) => Self::Internal(anyhow::Error::new(e)),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Validation(_) | Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Delivery(_) | Self::Upstream(_) => StatusCode::BAD_GATEWAY,
            Self::Unavailable(_) | Self::SessionsUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Internal(e) => tracing::error!(error = ?e, "admin request failed"),
            Self::Unavailable(e) => tracing::warn!(error = ?e, "directory unavailable"),
            Self::SessionsUnavailable(e) => tracing::warn!(error = ?e, "session store unavailable"),
            _ => {}
        }
        let fields = match self {
            Self::Validation(f) => {
                f.0.iter()
                    .map(|(field, message)| FieldError {
                        field: field.clone(),
                        message: message.clone(),
                    })
                    .collect()
            }
            Self::Conflict { field, message } => vec![FieldError {
                field: field.clone(),
                message: message.clone(),
            }],
            _ => Vec::new(),
        };
        let mut resp = HttpResponse::build(self.status_code());
        if matches!(self, Self::Unauthorized) {
            resp.insert_header((
                header::WWW_AUTHENTICATE,
                r#"Bearer realm="portcullis-admin""#,
            ));
        }
        if matches!(self, Self::Unavailable(_) | Self::SessionsUnavailable(_)) {
            resp.insert_header((header::RETRY_AFTER, "5"));
        }
        resp.json(ErrorBody {
            error: self.code(),
            message: self.to_string(),
            fields,
        })
    }
}

/// Turns actix's body-parsing failures into our shape (400, 413, 415), never a 500.
pub fn json_error(err: actix_web::error::JsonPayloadError, limit: usize) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as E;
    let api = match &err {
        E::OverflowKnownLength { .. } | E::Overflow { .. } => ApiError::PayloadTooLarge(limit),
        E::ContentType => ApiError::UnsupportedMediaType(
            "the body must be JSON (Content-Type: application/json)".into(),
        ),
        E::Deserialize(e) => ApiError::BadRequest(format!("invalid JSON body: {e}")),
        other => ApiError::BadRequest(format!("cannot read the body: {other}")),
    };
    api.into()
}

/// Turns query-string parsing failures into a 400 in our shape.
pub fn query_error(err: actix_web::error::QueryPayloadError) -> actix_web::Error {
    ApiError::BadRequest(format!("invalid query string: {err}")).into()
}

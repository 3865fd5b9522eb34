//! The broker's errors and, in one place, how each surface shows them: the portal API as
//! `{"message"}` with `x-amzn-ErrorType` (botocore picks the exception class from that header),
//! STS as its XML `ErrorResponse`. Unexpected failures are logged with their cause; the client
//! sees a stable code and never a secret.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use portcullis_sessions::SessionError;
use portcullis_store::StoreError;

/// What can go wrong on the portal API (`ListAccounts`, `ListAccountRoles`,
/// `GetRoleCredentials`, `Logout`).
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// Missing, unknown, expired or revoked access token; or its person is disabled.
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    InvalidRequest(String),
    /// An account or role the person does not hold (indistinguishable from one that does not
    /// exist).
    #[error("{0}")]
    NotFound(String),
    #[error("too many requests with this access token; slow down")]
    TooManyRequests,
    #[error("the directory failed")]
    Store(#[from] StoreError),
    #[error("the session store failed")]
    Sessions(#[from] SessionError),
    /// An account's own STS refused or failed.
    #[error("{0}")]
    Upstream(crate::cloud::Upstream),
}

impl BrokerError {
    pub(crate) fn unauthorized() -> Self {
        Self::Unauthorized(
            "Session token not found or invalid: sign in again (aws sso login)".into(),
        )
    }

    /// `(status, x-amzn-ErrorType)`.
    fn kind(&self) -> (StatusCode, &'static str) {
        match self {
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "UnauthorizedException"),
            Self::InvalidRequest(_) => (StatusCode::BAD_REQUEST, "InvalidRequestException"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "ResourceNotFoundException"),
            Self::TooManyRequests => (StatusCode::TOO_MANY_REQUESTS, "TooManyRequestsException"),
            Self::Store(StoreError::Unavailable(_))
            | Self::Sessions(SessionError::Unavailable(_)) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailableException",
            ),
            Self::Store(_) | Self::Sessions(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "InternalServerException")
            }
            // What the cloud refused is the person's (or the account's setup's) to fix, with
            // STS's own message; what failed is for later.
            Self::Upstream(u) if u.refused => (StatusCode::BAD_REQUEST, "InvalidRequestException"),
            Self::Upstream(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailableException",
            ),
        }
    }

    /// The portal API's answer.
    pub(crate) fn to_response(&self) -> HttpResponse {
        let (status, kind) = self.kind();
        let message = if status.is_server_error() {
            tracing::error!(error = ?self, "portal API request failed");
            "the service is unavailable; try again later".to_owned()
        } else {
            self.to_string()
        };
        HttpResponse::build(status)
            .insert_header(("x-amzn-ErrorType", kind))
            .insert_header(("Cache-Control", "no-store"))
            .json(serde_json::json!({ "message": message }))
    }
}

/// Why STS `GetCallerIdentity` (or gRPC `VerifyCredentials`) refused a signed request. The
/// variants are the STS error codes.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// No SigV4 signature at all.
    #[error("Request is missing Authentication Token")]
    MissingAuthenticationToken,
    /// A signature is there but malformed or incomplete.
    #[error("{0}")]
    IncompleteSignature(String),
    /// Unknown access key, no or a tampered session token, or a token for another key.
    #[error("The security token included in the request is invalid.")]
    InvalidClientTokenId,
    #[error("The security token included in the request is expired")]
    ExpiredToken,
    /// Wrong secret, altered request, or a request time outside the allowed skew.
    #[error("{0}")]
    SignatureDoesNotMatch(String),
    /// The credentials are genuine and current, but their person is disabled or no longer holds
    /// the role.
    #[error("{0}")]
    AccessDenied(String),
    /// Not `Action=GetCallerIdentity&Version=2011-06-15`.
    #[error("{0}")]
    InvalidAction(String),
    #[error("the directory failed")]
    Store(#[from] StoreError),
}

impl VerifyError {
    /// The STS error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingAuthenticationToken => "MissingAuthenticationToken",
            Self::IncompleteSignature(_) => "IncompleteSignature",
            Self::InvalidClientTokenId => "InvalidClientTokenId",
            Self::ExpiredToken => "ExpiredToken",
            Self::SignatureDoesNotMatch(_) => "SignatureDoesNotMatch",
            Self::AccessDenied(_) => "AccessDenied",
            Self::InvalidAction(_) => "InvalidAction",
            Self::Store(StoreError::Unavailable(_)) => "ServiceUnavailable",
            Self::Store(_) => "InternalFailure",
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::MissingAuthenticationToken
            | Self::InvalidClientTokenId
            | Self::SignatureDoesNotMatch(_)
            | Self::AccessDenied(_) => StatusCode::FORBIDDEN,
            Self::IncompleteSignature(_) | Self::ExpiredToken | Self::InvalidAction(_) => {
                StatusCode::BAD_REQUEST
            }
            Self::Store(StoreError::Unavailable(_)) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The STS `ErrorResponse`.
    pub(crate) fn to_response(&self, request_id: &str) -> HttpResponse {
        let status = self.status();
        let (kind, message) = if status.is_server_error() {
            tracing::error!(error = ?self, "GetCallerIdentity failed");
            (
                "Receiver",
                "the service is unavailable; try again later".to_owned(),
            )
        } else {
            ("Sender", self.to_string())
        };
        let body = format!(
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>{kind}</Type>\
             <Code>{}</Code><Message>{}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
            self.code(),
            xml_escape(&message)
        );
        HttpResponse::build(status)
            .content_type("text/xml")
            .insert_header(("x-amzn-RequestId", request_id))
            .body(body)
    }
}

/// Escapes text for an XML element.
pub(crate) fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

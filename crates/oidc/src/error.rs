//! OAuth errors and the three shapes they travel in: a JSON body from the token-side endpoints
//! (RFC 6749 §5.2), a redirect back to the client (§4.1.2.1), and the AWS SSO-OIDC JSON with its
//! `x-amzn-ErrorType` header (botocore picks the exception class from it).

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header;
use serde::Serialize;

/// An OAuth error code and what to tell the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub code: &'static str,
    pub description: String,
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    error_description: &'a str,
}

impl OAuthError {
    pub fn new(code: &'static str, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
        }
    }
    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::new("invalid_request", d)
    }
    pub fn invalid_client(d: impl Into<String>) -> Self {
        Self::new("invalid_client", d)
    }
    pub fn invalid_grant(d: impl Into<String>) -> Self {
        Self::new("invalid_grant", d)
    }
    pub fn invalid_scope(d: impl Into<String>) -> Self {
        Self::new("invalid_scope", d)
    }
    pub fn unauthorized_client(d: impl Into<String>) -> Self {
        Self::new("unauthorized_client", d)
    }
    pub fn access_denied(d: impl Into<String>) -> Self {
        Self::new("access_denied", d)
    }
    /// The session or signing-key store is unreachable.
    pub fn unavailable() -> Self {
        Self::new(
            "temporarily_unavailable",
            "the service is temporarily unavailable; try again shortly",
        )
    }

    fn status(&self) -> StatusCode {
        match self.code {
            "invalid_client" => StatusCode::UNAUTHORIZED,
            "temporarily_unavailable" => StatusCode::SERVICE_UNAVAILABLE,
            "throttled" => StatusCode::TOO_MANY_REQUESTS,
            "server_error" => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// The token endpoint's JSON error (RFC 6749 §5.2); `basic` adds the `WWW-Authenticate`
    /// challenge a client that used HTTP Basic must get with a 401.
    pub fn to_json(&self, basic: bool) -> HttpResponse {
        let mut resp = HttpResponse::build(self.status());
        resp.insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"));
        if basic && self.code == "invalid_client" {
            resp.insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"portcullis\""));
        }
        resp.json(Body {
            error: self.code,
            error_description: &self.description,
        })
    }

    /// The SSO-OIDC error: the OAuth body plus the exception name botocore maps it to.
    pub fn to_aws(&self) -> HttpResponse {
        let (kind, status) = match self.code {
            "authorization_pending" => ("AuthorizationPendingException", 400),
            "slow_down" => ("SlowDownException", 400),
            "expired_token" => ("ExpiredTokenException", 400),
            "access_denied" => ("AccessDeniedException", 400),
            "invalid_grant" => ("InvalidGrantException", 400),
            "invalid_scope" => ("InvalidScopeException", 400),
            "unauthorized_client" => ("UnauthorizedClientException", 400),
            "unsupported_grant_type" => ("UnsupportedGrantTypeException", 400),
            "invalid_client_metadata" => ("InvalidClientMetadataException", 400),
            "invalid_redirect_uri" => ("InvalidRedirectUriException", 400),
            "invalid_client" => ("InvalidClientException", 401),
            "throttled" => ("ThrottlingException", 429),
            "temporarily_unavailable" => ("InternalServerException", 503),
            "server_error" => ("InternalServerException", 500),
            _ => ("InvalidRequestException", 400),
        };
        HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST))
            .insert_header(("x-amzn-ErrorType", kind))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(Body {
                error: self.code,
                error_description: &self.description,
            })
    }
}

impl From<portcullis_sessions::SessionError> for OAuthError {
    fn from(e: portcullis_sessions::SessionError) -> Self {
        tracing::warn!(error = %e, "session store failed during an OAuth request");
        Self::unavailable()
    }
}

impl From<portcullis_sessions::grants::GrantError> for OAuthError {
    fn from(e: portcullis_sessions::grants::GrantError) -> Self {
        let cause = std::error::Error::source(&e).map(ToString::to_string);
        tracing::warn!(error = %e, cause = ?cause, "grant store failed during an OAuth request");
        Self::unavailable()
    }
}

impl From<portcullis_store::StoreError> for OAuthError {
    fn from(e: portcullis_store::StoreError) -> Self {
        tracing::warn!(error = %e, "directory failed during an OAuth request");
        Self::unavailable()
    }
}

impl From<super::keys::KeyError> for OAuthError {
    fn from(e: super::keys::KeyError) -> Self {
        match e {
            super::keys::KeyError::Rejected(why) => Self::invalid_grant(why),
            other => {
                tracing::warn!(error = %other, "signing keys failed during an OAuth request");
                Self::unavailable()
            }
        }
    }
}

//! OpenID Provider metadata (OpenID Connect Discovery 1.0 §3, RFC 8414) and the JWK set
//! (RFC 7517 §5) relying parties verify our tokens with.

use actix_web::{HttpResponse, web};
use serde::Serialize;

use crate::Oidc;
use crate::keys::KeyError;

/// Mounts `GET /.well-known/openid-configuration` and `GET /oauth2/jwks`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/.well-known/openid-configuration",
        web::get().to(openid_configuration),
    )
    .route("/oauth2/jwks", web::get().to(jwks));
}

/// The provider metadata (OpenID Connect Discovery 1.0 §3; RFC 8414 §2 for the revocation,
/// introspection and PKCE fields; RFC 8628 §4 for the device endpoint; RP-Initiated Logout 1.0
/// §2.1 for `end_session_endpoint`).
#[derive(Debug, Serialize)]
struct ProviderMetadata {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    userinfo_endpoint: String,
    jwks_uri: String,
    revocation_endpoint: String,
    introspection_endpoint: String,
    end_session_endpoint: String,
    device_authorization_endpoint: String,
    response_types_supported: &'static [&'static str],
    response_modes_supported: &'static [&'static str],
    grant_types_supported: &'static [&'static str],
    subject_types_supported: &'static [&'static str],
    id_token_signing_alg_values_supported: &'static [&'static str],
    token_endpoint_auth_methods_supported: &'static [&'static str],
    revocation_endpoint_auth_methods_supported: &'static [&'static str],
    introspection_endpoint_auth_methods_supported: &'static [&'static str],
    code_challenge_methods_supported: &'static [&'static str],
    scopes_supported: &'static [&'static str],
    claims_supported: &'static [&'static str],
    prompt_values_supported: &'static [&'static str],
    claims_parameter_supported: bool,
    request_parameter_supported: bool,
    request_uri_parameter_supported: bool,
}

const CLIENT_AUTH: &[&str] = &["client_secret_basic", "client_secret_post", "none"];

impl ProviderMetadata {
    fn new(issuer: &str) -> Self {
        let at = |path: &str| format!("{issuer}{path}");
        Self {
            issuer: issuer.to_owned(),
            authorization_endpoint: at("/oauth2/authorize"),
            token_endpoint: at("/oauth2/token"),
            userinfo_endpoint: at("/oauth2/userinfo"),
            jwks_uri: at("/oauth2/jwks"),
            revocation_endpoint: at("/oauth2/revoke"),
            introspection_endpoint: at("/oauth2/introspect"),
            end_session_endpoint: at("/oauth2/logout"),
            device_authorization_endpoint: at("/oauth2/device_authorization"),
            response_types_supported: &["code"],
            response_modes_supported: &["query", "form_post"],
            grant_types_supported: &[
                "authorization_code",
                "refresh_token",
                "client_credentials",
                "urn:ietf:params:oauth:grant-type:device_code",
            ],
            subject_types_supported: &["public"],
            id_token_signing_alg_values_supported: &["RS256", "ES256", "EdDSA"],
            token_endpoint_auth_methods_supported: CLIENT_AUTH,
            // Public clients may revoke and introspect their own tokens (RFC 7009 §2.1).
            revocation_endpoint_auth_methods_supported: CLIENT_AUTH,
            introspection_endpoint_auth_methods_supported: &[
                "client_secret_basic",
                "client_secret_post",
            ],
            code_challenge_methods_supported: &["S256"],
            scopes_supported: &["openid", "profile", "email", "groups", "offline_access"],
            claims_supported: &[
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "amr",
                "nonce",
                "at_hash",
                "email",
                "email_verified",
                "name",
                "preferred_username",
                "groups",
            ],
            prompt_values_supported: &["none", "login"],
            claims_parameter_supported: false,
            request_parameter_supported: false,
            request_uri_parameter_supported: false,
        }
    }
}

/// The issuer: the public URL without a trailing slash.
fn issuer(oidc: &Oidc) -> String {
    oidc.auth.issuer_url()
}

async fn openid_configuration(oidc: web::Data<Oidc>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .json(ProviderMetadata::new(&issuer(&oidc)))
}

async fn jwks(oidc: web::Data<Oidc>) -> HttpResponse {
    match oidc.keys.jwks().await {
        // New keys are published `publish_ahead` (an hour by default) before they sign, so five
        // minutes of caching never hides a key that signs.
        Ok(set) => HttpResponse::Ok()
            .insert_header(("Cache-Control", "public, max-age=300"))
            .json(set),
        Err(e) => {
            let status = match e {
                KeyError::Unavailable(_) => actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
                _ => actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
            };
            tracing::error!(error = ?e, "cannot publish the JWKS");
            HttpResponse::build(status)
                .insert_header(("Cache-Control", "no-store"))
                .json(serde_json::json!({
                    "error": "temporarily_unavailable",
                    "error_description": "the signing keys cannot be read right now",
                }))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn endpoints_hang_off_the_issuer() {
        let doc =
            serde_json::to_value(ProviderMetadata::new("https://id.example.com/sso")).unwrap();
        assert_eq!(doc["issuer"], "https://id.example.com/sso");
        assert_eq!(doc["jwks_uri"], "https://id.example.com/sso/oauth2/jwks");
        assert_eq!(
            doc["device_authorization_endpoint"],
            "https://id.example.com/sso/oauth2/device_authorization"
        );
        assert_eq!(
            doc["code_challenge_methods_supported"],
            serde_json::json!(["S256"])
        );
        assert_eq!(doc["claims_parameter_supported"], false);
    }
}

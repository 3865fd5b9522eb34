//! The SAML 2.0 identity provider: metadata, Web Browser SSO (SP-initiated by HTTP-Redirect and
//! HTTP-POST, IdP-initiated from the portal), single logout, and the signing key. XML is parsed,
//! written, signed and verified only in [`xml`] (Uppsala, Bergshamra on aws-lc-rs).
//!
//! [`Saml`] holds what these endpoints use beyond [`portcullis_auth::Auth`]: the signing key and
//! its certificate, the key of persistent NameIDs and session indexes, and the SAML settings.
//! The portal's IdP-initiated launch composes this crate's public API (`portcullis-portal`).
//!
//! May import: `portcullis-auth` and the floors below it. Not `signin`, `oidc`, `broker` (its
//! siblings).

pub mod binding;
pub mod cloud;
#[doc(hidden)]
pub mod fuzzing;
pub mod keys;
pub mod response;
pub mod slo;
pub mod sso;
pub mod xml;

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use portcullis_domain::{Application, ApplicationKind, SamlSettings};

use portcullis_auth::Auth;
use portcullis_auth::derive::derive;
use portcullis_auth::keys::KeyConfig;

/// SAML settings from the server's configuration.
#[derive(Debug, Clone)]
pub struct SamlConfig {
    /// Our entity id; `{public_url}/saml/metadata` when absent.
    pub entity_id: Option<String>,
    /// How far a request's `IssueInstant` may be from our clock.
    pub max_clock_skew: Duration,
    /// How long a person may take to sign in before a pending request is forgotten.
    pub pending_lifetime: Duration,
}

impl Default for SamlConfig {
    fn default() -> Self {
        Self {
            entity_id: None,
            max_clock_skew: Duration::from_secs(180),
            pending_lifetime: Duration::from_secs(900),
        }
    }
}

/// A SAML application that can sign people in: enabled, with its SP registration.
#[derive(Debug, Clone)]
pub struct ServiceProvider {
    pub app: Application,
    pub settings: SamlSettings,
}

impl ServiceProvider {
    pub fn certificate_der(&self) -> Option<Vec<u8>> {
        self.settings
            .certificate
            .as_deref()
            .and_then(|c| STANDARD.decode(c).ok())
    }
}

/// Keys derived from the master key by the server.
pub struct SamlKeysConfig {
    /// Seals the private half of the signing key at rest.
    pub signing_keys: [u8; 32],
    /// Keys persistent NameIDs and session indexes (derived here with its own label).
    pub names: [u8; 32],
}

impl std::fmt::Debug for SamlKeysConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SamlKeysConfig(<redacted>)")
    }
}

/// Everything the SAML identity provider uses.
pub struct Saml {
    pub auth: Arc<Auth>,
    pub config: SamlConfig,
    /// The signing key and its certificate (shared through the directory like the OIDC keys).
    pub keys: keys::SamlKeys,
    /// Keys persistent NameIDs and session indexes.
    pub(crate) names: [u8; 32],
}

impl std::fmt::Debug for Saml {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Saml")
            .field("auth", &self.auth)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Saml {
    pub fn new(
        auth: Arc<Auth>,
        config: SamlConfig,
        key_config: KeyConfig,
        keys: SamlKeysConfig,
    ) -> Self {
        Self {
            keys: keys::SamlKeys::new(
                auth.directory.clone(),
                auth.clock.clone(),
                keys.signing_keys,
                key_config,
            ),
            names: derive(&keys.names, b"portcullis saml nameid v1"),
            auth,
            config,
        }
    }

    /// The `SessionIndex` of assertions: a keyed hash of the session id (the id never leaves).
    pub fn saml_session_index(&self, session_id: &str) -> String {
        format!(
            "_{}",
            &hex::encode(derive(&self.names, session_id.as_bytes()))[..32]
        )
    }

    /// Our SAML entity id (the `Issuer` of everything we send).
    pub fn saml_entity_id(&self) -> String {
        self.config
            .entity_id
            .clone()
            .unwrap_or_else(|| format!("{}/saml/metadata", self.auth.issuer_url()))
    }

    /// The enabled SAML application registered with `entity_id`.
    pub async fn find_service_provider(
        &self,
        entity_id: &str,
    ) -> Result<Option<ServiceProvider>, portcullis_store::StoreError> {
        if entity_id.is_empty() || entity_id.len() > portcullis_domain::MAX_ENTITY_ID_BYTES {
            return Ok(None);
        }
        let app = self.auth.directory.find_saml_application(entity_id).await?;
        Ok(app.and_then(|app| {
            let settings = app.saml.clone()?;
            Some(ServiceProvider { app, settings })
        }))
    }
}

const POST_SCRIPT: &str = include_str!("../static/saml-post.js");

async fn post_script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(POST_SCRIPT)
}

/// The HTTP-POST binding (SAML Bindings §3.5): a form posting `field` (and `RelayState`) to the
/// SP, submitted by a static script (no inline script under our CSP) or by its visible button.
pub fn auto_post(action: &str, field: &str, xml: &str, relay_state: Option<&str>) -> HttpResponse {
    use portcullis_auth::web::html_escape as esc;
    let relay = relay_state
        .map(|r| {
            format!(
                "<input type=\"hidden\" name=\"RelayState\" value=\"{}\">",
                esc(r)
            )
        })
        .unwrap_or_default();
    let body = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Signing in…</title>\
         <link rel=\"stylesheet\" href=\"/static/portcullis.css\">\
         <script src=\"/static/saml-post.js\" defer></script></head><body><main class=\"card\">\
         <form id=\"saml-post\" method=\"post\" action=\"{}\">\
         <input type=\"hidden\" name=\"{field}\" value=\"{}\">{relay}\
         <p>Taking you to the application…</p><button type=\"submit\">Continue</button></form>\
         </main></body></html>",
        esc(action),
        STANDARD.encode(xml.as_bytes()),
    );
    let origin = url::Url::parse(action)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_else(|_| "'none'".into());
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            format!(
                "default-src 'none'; script-src 'self'; style-src 'self'; form-action {origin}; \
                 frame-ancestors 'none'; base-uri 'none'"
            ),
        ))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

/// Which SP the metadata is for: `?sp=ENTITY_ID` or `?applicationId=ID`.
#[derive(Debug, serde::Deserialize)]
pub struct MetadataQuery {
    sp: Option<String>,
    #[serde(rename = "applicationId")]
    application_id: Option<String>,
}

/// `GET /saml/metadata`: our metadata, the same for every SP; with `sp` (an SP's entity id) or
/// `applicationId`, as that SP needs it — `WantAuthnRequestsSigned="true"` when its requests must
/// be signed (samlify, for one, refuses to sign when the IdP says it does not want signatures).
async fn metadata(saml: web::Data<Saml>, q: web::Query<MetadataQuery>) -> HttpResponse {
    let sp = match (&q.sp, &q.application_id) {
        (Some(entity_id), _) => saml.find_service_provider(entity_id.trim()).await,
        (None, Some(id)) => match id.parse::<uuid::Uuid>() {
            Ok(id) => match saml
                .auth
                .directory
                .get_application(portcullis_domain::ApplicationId::from_uuid(id))
                .await
            {
                Ok(app) if app.enabled && app.kind == ApplicationKind::Saml => Ok(app
                    .saml
                    .clone()
                    .map(|settings| ServiceProvider { app, settings })),
                Ok(_) | Err(portcullis_store::StoreError::NotFound(_)) => Ok(None),
                Err(e) => Err(e),
            },
            Err(_) => Ok(None),
        },
        (None, None) => Ok(None),
    };
    let want_signed = match sp {
        Ok(Some(sp)) => sp.settings.require_signed_requests,
        Ok(None) if q.sp.is_none() && q.application_id.is_none() => false,
        Ok(None) => {
            return HttpResponse::NotFound()
                .content_type("text/plain; charset=utf-8")
                .body("No enabled SAML application is registered with that entity id or id.");
        }
        Err(e) => {
            tracing::warn!(error = ?e, "SAML metadata unavailable");
            return HttpResponse::ServiceUnavailable().body("temporarily unavailable");
        }
    };
    let certs: Vec<Vec<u8>> = match saml.keys.published().await {
        Ok(k) => k.iter().map(|k| k.cert_der().to_vec()).collect(),
        Err(e) => {
            tracing::warn!(error = ?e, "SAML metadata unavailable");
            return HttpResponse::ServiceUnavailable().body("temporarily unavailable");
        }
    };
    HttpResponse::Ok()
        .content_type("application/samlmetadata+xml")
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(response::metadata(
            &saml.saml_entity_id(),
            &saml.auth.issuer_url(),
            &certs,
            want_signed,
        ))
}

/// Mounts the SAML endpoints; needs `web::Data<Saml>` and `web::Data<Auth>` in the app.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/saml/metadata", web::get().to(metadata))
        .route("/saml/sso", web::get().to(sso::sso_redirect))
        .route("/saml/sso", web::post().to(sso::sso_post))
        .route("/saml/continue", web::get().to(sso::continue_sign_in))
        .route("/saml/slo", web::get().to(slo::slo_redirect))
        .route("/saml/slo", web::post().to(slo::slo_post))
        .route("/static/saml-post.js", web::get().to(post_script));
}

//! The admin REST API at `/admin/v1` (JSON, camelCase), and its OpenAPI 3 document generated
//! from the handlers' annotations so it cannot drift from the code.
//!
//! Its request types serialize as well as deserialize, and the answers a client interprets
//! deserialize as well: `portcullis admin` sends and reads these very types. A field left `None`
//! is not sent (absent: unchanged, or the default); `Some(None)` of a clearable field is `null`.
//!
//! Handlers take `web::Data<Admin>`: the directory and sessions, and the surfaces whose
//! administration lives here (signing keys, client secrets, consents, one-time passwords).
//! Authentication is a bearer admin token (`auth.rs`); errors map to one JSON shape at the edge
//! (`error.rs`).
//!
//! May import: `portcullis-signin`, `portcullis-oidc`, `portcullis-saml`, `portcullis-broker`
//! (provisioning), `portcullis-auth` and the floors below. Never `portal` (its sibling) nor a concrete backend.

pub mod accounts;
pub mod applications;
pub mod assignments;
pub mod audit;
pub mod auth;
pub mod consents;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod groups;
pub mod icons;
pub mod keys;
mod openapi;
pub mod paging;
pub mod permission_sets;
pub mod provisioning;
pub mod saml;
pub mod sessions;
pub mod settings;
pub mod tokens;
pub mod users;
mod wire;

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use portcullis_broker::provisioning::Provisioning;
use portcullis_oidc::Oidc;
use portcullis_saml::Saml;
use portcullis_sessions::Sessions;
use portcullis_signin::Signin;
use portcullis_store::Directory;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use error::ApiError;
use openapi::SharedErrors;

/// What the admin API's handlers reach.
pub struct Admin {
    pub directory: Arc<dyn Directory>,
    pub sessions: Arc<dyn Sessions>,
    /// Passwords and the message sender (one-time passwords).
    pub signin: Arc<Signin>,
    /// Signing keys, client secrets, consents.
    pub oidc: Arc<Oidc>,
    /// The SAML signing key.
    pub saml: Arc<Saml>,
    /// Provisioning permission sets into `aws` accounts.
    pub provisioning: Arc<Provisioning>,
}

impl std::fmt::Debug for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admin")
            .field("directory", &self.directory.backend())
            .finish_non_exhaustive()
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Portcullis admin API", description = "Manage people, groups, accounts, permission sets, assignments, applications, settings and signing keys."),
    paths(
        users::create, users::list, users::get, users::patch, users::delete, users::groups,
        sessions::list, sessions::revoke_all, sessions::revoke_one, sessions::one_time_password,
        sessions::set_password,
        sessions::list_devices, sessions::delete_device,
        consents::list, consents::revoke,
        groups::create, groups::list, groups::get, groups::patch, groups::delete,
        groups::members, groups::add_member, groups::remove_member,
        accounts::create, accounts::list, accounts::get, accounts::patch, accounts::delete,
        permission_sets::create, permission_sets::list, permission_sets::get, permission_sets::patch,
        permission_sets::delete,
        assignments::create, assignments::list, assignments::delete,
        applications::create, applications::list, applications::get, applications::patch,
        applications::delete, applications::rotate_secret, applications::list_assignments,
        applications::assign, applications::unassign, icons::put_icon, icons::delete_icon,
        settings::get, settings::put,
        audit::list,
        tokens::list, tokens::create, tokens::revoke,
        keys::list, keys::rotate,
        provisioning::get_connection, provisioning::put_connection,
        provisioning::delete_connection, provisioning::status, provisioning::run,
        provisioning::organization_accounts, provisioning::import_accounts,
    ),
    modifiers(&BearerAuth, &SharedErrors),
    tags(
        (name = "users"), (name = "groups"), (name = "accounts"), (name = "permission-sets"),
        (name = "assignments"), (name = "applications"), (name = "settings"), (name = "audit"),
        (name = "tokens"), (name = "keys"), (name = "provisioning"),
    )
)]
#[derive(Debug)]
pub struct AdminApi;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(AdminApi::openapi())
}

async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound("no such admin API path".into()))
}

/// Mounts `/admin/v1` with its body limits and error shapes.
pub fn scope(max_body_bytes: usize) -> actix_web::Scope {
    web::scope("/admin/v1")
        .app_data(
            web::JsonConfig::default()
                .limit(max_body_bytes)
                .error_handler(move |err, _| error::json_error(err, max_body_bytes)),
        )
        .app_data(web::PayloadConfig::default().limit(max_body_bytes))
        .app_data(web::QueryConfig::default().error_handler(|err, _| error::query_error(err)))
        .route("/openapi.json", web::get().to(openapi_json))
        .configure(users::routes)
        .configure(sessions::routes)
        .configure(consents::routes)
        .configure(groups::routes)
        .configure(accounts::routes)
        .configure(permission_sets::routes)
        .configure(assignments::routes)
        .configure(applications::routes)
        .configure(settings::routes)
        .configure(audit::routes)
        .configure(tokens::routes)
        .configure(keys::routes)
        .configure(provisioning::routes)
        .default_service(web::to(not_found))
}

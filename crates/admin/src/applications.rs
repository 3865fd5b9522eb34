//! `/admin/v1/applications`: business applications, their OIDC client registration and client
//! secret, and who may use them. A confidential client's secret is shown once: in the answer that
//! created it (the application's creation, or `POST …/client-secret`).

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use portcullis_domain::{
    Application, ApplicationAssignment, ApplicationId, ApplicationKind, ClientType, Description,
    DisplayName, FieldErrors, GrantType, NewApplication, OidcSettings, Principal, RedirectUri,
    RefreshTokenLifetime, Scope, SigningAlgorithm, TokenLifetime, ValidationError,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::auth::AdminPrincipal;
use super::error::{ApiError, ErrorBody};
use super::paging::{ListQuery, next_token};
use super::wire::{body_or_query, double_option, parse_id, parse_principal, required};
use crate::Admin;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationView {
    pub application_id: Uuid,
    pub name: String,
    pub description: String,
    /// `OIDC` or `SAML`.
    pub kind: String,
    pub enabled: bool,
    /// OIDC applications: the OAuth `client_id` (the application id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// OIDC applications: the client registration (absent for SAML, and for an OIDC application
    /// created before client registration existed, until it is configured).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oidc: Option<OidcView>,
    /// SAML applications: the service provider registration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub saml: Option<super::saml::SamlView>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Application> for ApplicationView {
    fn from(a: Application) -> Self {
        Self {
            application_id: a.id.as_uuid(),
            client_id: (a.kind == ApplicationKind::Oidc).then(|| a.client_id()),
            name: a.name.into(),
            description: a.description.into(),
            kind: a.kind.as_str().into(),
            enabled: a.enabled,
            oidc: a.oidc.map(OidcView::from),
            saml: a.saml.map(super::saml::SamlView::from),
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

/// An OIDC client registration as the API shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OidcView {
    /// `confidential` or `public`.
    pub client_type: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    /// Any of `authorization_code`, `refresh_token`, `client_credentials`,
    /// `urn:ietf:params:oauth:grant-type:device_code`.
    pub grant_types: Vec<String>,
    pub allowed_scopes: Vec<String>,
    /// The `aud` of the client's access tokens (`null`: the client id).
    pub audience: Option<String>,
    /// `RS256`, `ES256` or `EdDSA`.
    pub signing_algorithm: String,
    /// ISO-8601 durations.
    pub access_token_lifetime: String,
    pub id_token_lifetime: String,
    pub refresh_token_lifetime: String,
    pub initiate_login_uri: Option<String>,
    /// Whether people are asked to consent before the application first gets their authority.
    pub require_consent: bool,
}

impl From<OidcSettings> for OidcView {
    fn from(o: OidcSettings) -> Self {
        let uris = |v: Vec<RedirectUri>| v.into_iter().map(String::from).collect();
        Self {
            client_type: client_type_str(o.client_type).into(),
            redirect_uris: uris(o.redirect_uris),
            post_logout_redirect_uris: uris(o.post_logout_redirect_uris),
            grant_types: o.grant_types.iter().map(|g| g.as_str().into()).collect(),
            allowed_scopes: o.allowed_scopes.into_iter().map(String::from).collect(),
            audience: o.audience,
            signing_algorithm: o.signing_algorithm.as_str().into(),
            access_token_lifetime: o.access_token_lifetime.to_iso8601(),
            id_token_lifetime: o.id_token_lifetime.to_iso8601(),
            refresh_token_lifetime: o.refresh_token_lifetime.to_iso8601(),
            initiate_login_uri: o.initiate_login_uri.map(String::from),
            require_consent: o.require_consent,
        }
    }
}

fn client_type_str(t: ClientType) -> &'static str {
    match t {
        ClientType::Confidential => "confidential",
        ClientType::Public => "public",
    }
}

/// The OIDC client registration to set. Every field is optional; an omitted one takes its
/// default (a PATCH that gives `oidc` replaces the whole registration).
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OidcBody {
    /// `confidential` (default) or `public` (PKCE, no secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_type: Option<String>,
    /// Exact-match redirect URIs: https, http on a loopback host, or a private-use scheme.
    /// Required when `authorization_code` is allowed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_uris: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// Default `["authorization_code", "refresh_token"]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant_types: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_scopes: Option<Vec<String>>,
    /// `null` (or omitted): the client id.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub audience: Option<Option<String>>,
    /// `RS256` (default), `ES256` or `EdDSA`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_algorithm: Option<String>,
    /// ISO-8601, `PT5M` to `PT24H`, default `PT1H`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token_lifetime: Option<String>,
    /// ISO-8601, `PT5M` to `PT24H`, default `PT1H`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token_lifetime: Option<String>,
    /// ISO-8601, `PT1H` to `P90D`, default `P30D`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token_lifetime: Option<String>,
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub initiate_login_uri: Option<Option<String>>,
    /// Ask people to consent before the application first gets their authority (default
    /// `false`: the administrator vouches for it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub require_consent: Option<bool>,
}

/// A created application; `clientSecret` (confidential OIDC clients only) is shown only here.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedApplication {
    #[serde(flatten)]
    pub application: ApplicationView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

impl std::fmt::Debug for CreatedApplication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedApplication")
            .field("application", &self.application)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// A new client secret: `clientSecret` is shown only in this response.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientSecretView {
    pub client_id: String,
    pub client_secret: String,
}

impl std::fmt::Debug for ClientSecretView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSecretView")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .finish()
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationList {
    pub applications: Vec<ApplicationView>,
    pub next_token: Option<String>,
}

/// A new application (POST: `name` and `kind` required) or the fields to change (PATCH; the kind
/// cannot change).
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApplicationBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `OIDC` or `SAML`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// OIDC applications only: the client registration. On create, omitted means every default
    /// (which needs `redirectUris`); on PATCH, omitted keeps the current one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oidc: Option<OidcBody>,
    /// SAML applications only: the service provider registration (by hand, or from
    /// `metadataXml`). On PATCH, omitted keeps the current one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub saml: Option<super::saml::SamlBody>,
}

/// A principal assigned to an application.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PrincipalBody {
    /// `USER` or `GROUP`.
    #[schema(required = true, nullable = false, pattern = r"^(USER|GROUP)$")]
    pub principal_type: Option<String>,
    #[schema(required = true, nullable = false, format = Uuid)]
    pub principal_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrincipalView {
    pub principal_type: String,
    pub principal_id: Uuid,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApplicationAssignmentList {
    pub assignments: Vec<PrincipalView>,
}

pub(crate) fn parse(
    b: ApplicationBody,
    cur: Option<&Application>,
) -> Result<NewApplication, FieldErrors> {
    let mut e = FieldErrors::new();
    let name = match (b.name, cur) {
        (Some(v), _) => e.check("name", DisplayName::parse(v)),
        (None, Some(c)) => Some(c.name.clone()),
        (None, None) => required(&mut e, "name", None),
    };
    let description = match (b.description, cur) {
        (Some(v), _) => e.check("description", Description::parse(v)),
        (None, Some(c)) => Some(c.description.clone()),
        (None, None) => Some(Description::default_empty()),
    };
    let kind = match (b.kind, cur) {
        (Some(v), Some(c)) => match v.parse::<ApplicationKind>() {
            Ok(k) if k == c.kind => Some(k),
            Ok(_) => {
                e.add("kind", "cannot be changed after creation");
                None
            }
            Err(err) => e.check("kind", Err(err)),
        },
        (Some(v), None) => e.check("kind", v.parse::<ApplicationKind>()),
        (None, Some(c)) => Some(c.kind),
        (None, None) => required(&mut e, "kind", None),
    };
    let enabled = b.enabled.or(cur.map(|c| c.enabled)).unwrap_or(true);
    // `None`: invalid; `Some(None)`: no OIDC settings; `Some(Some(_))`: these.
    let oidc = match (kind, b.oidc, cur) {
        (Some(ApplicationKind::Saml), Some(_), _) => {
            e.add("oidc", "a SAML application has no OIDC settings");
            None
        }
        (Some(ApplicationKind::Saml), None, _) => Some(None),
        (Some(ApplicationKind::Oidc), Some(o), _) => parse_oidc(&mut e, o).map(Some),
        (Some(ApplicationKind::Oidc), None, Some(c)) => Some(c.oidc.clone()),
        (Some(ApplicationKind::Oidc), None, None) => {
            parse_oidc(&mut e, OidcBody::default()).map(Some)
        }
        // The kind is invalid (already reported): still report what is wrong in `oidc`.
        (None, Some(o), _) => parse_oidc(&mut e, o).and(None),
        (None, None, _) => None,
    };
    let saml = match (kind, b.saml, cur) {
        (Some(ApplicationKind::Oidc), Some(_), _) => {
            e.add("saml", "an OIDC application has no SAML settings");
            None
        }
        (Some(ApplicationKind::Oidc), None, _) => Some(None),
        (Some(ApplicationKind::Saml), Some(s), _) => super::saml::parse_saml(&mut e, s).map(Some),
        (Some(ApplicationKind::Saml), None, Some(c)) => Some(c.saml.clone()),
        (Some(ApplicationKind::Saml), None, None) => Some(None),
        (None, Some(s), _) => super::saml::parse_saml(&mut e, s).and(None),
        (None, None, _) => None,
    };
    e.finish(|| {
        Some(NewApplication {
            name: name?,
            description: description?,
            kind: kind?,
            enabled,
            oidc: oidc?,
            saml: saml?,
        })
    })
}

/// The API's name of an `OidcSettings` field, as `OidcSettings::problems` names them.
fn oidc_field(snake: &str) -> String {
    let mut out = String::from("oidc.");
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Parses every item of a list, naming the bad ones (by value) under `field`.
fn parse_list<T>(
    e: &mut FieldErrors,
    field: &str,
    raw: Option<Vec<String>>,
    default: Vec<T>,
    parse: impl Fn(&str) -> Result<T, ValidationError>,
) -> Option<Vec<T>> {
    let Some(raw) = raw else {
        return Some(default);
    };
    let mut out = Vec::with_capacity(raw.len());
    let mut ok = true;
    for item in &raw {
        match parse(item) {
            Ok(v) => out.push(v),
            Err(err) => {
                e.add(field, format!("'{item}' {}", err.message));
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

/// Parses an optional field, falling back to `default` when it is absent.
fn parse_or<T>(
    e: &mut FieldErrors,
    field: &str,
    raw: Option<String>,
    default: T,
    parse: impl FnOnce(&str) -> Result<T, ValidationError>,
) -> Option<T> {
    match raw {
        Some(v) => e.check(field, parse(&v)),
        None => Some(default),
    }
}

fn parse_client_type(s: &str) -> Result<ClientType, ValidationError> {
    match s {
        "confidential" => Ok(ClientType::Confidential),
        "public" => Ok(ClientType::Public),
        _ => Err(ValidationError::new("must be confidential or public")),
    }
}

fn parse_audience(s: &str) -> Result<String, ValidationError> {
    if s.trim().is_empty() || s.len() > 512 || s.chars().any(char::is_control) {
        return Err(ValidationError::new(
            "must be 1 to 512 characters without control characters",
        ));
    }
    Ok(s.to_owned())
}

fn parse_login_uri(s: &str) -> Result<url::Url, ValidationError> {
    let url = url::Url::parse(s).map_err(|_| ValidationError::new("must be an absolute URL"))?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err(ValidationError::new("must be an https URL"));
    }
    if url.fragment().is_some() {
        return Err(ValidationError::new("must not have a fragment"));
    }
    Ok(url)
}

/// Turns a wire registration into domain settings, naming every invalid field (single fields
/// first, then the rules across fields of `OidcSettings::problems`).
pub(crate) fn parse_oidc(e: &mut FieldErrors, b: OidcBody) -> Option<OidcSettings> {
    let d = OidcSettings::default();
    let client_type = parse_or(
        e,
        "oidc.clientType",
        b.client_type,
        d.client_type,
        parse_client_type,
    );
    let redirect_uris = parse_list(
        e,
        "oidc.redirectUris",
        b.redirect_uris,
        d.redirect_uris,
        |s| RedirectUri::parse(s),
    );
    let post_logout_redirect_uris = parse_list(
        e,
        "oidc.postLogoutRedirectUris",
        b.post_logout_redirect_uris,
        d.post_logout_redirect_uris,
        |s| RedirectUri::parse(s),
    );
    let grant_types = parse_list(e, "oidc.grantTypes", b.grant_types, d.grant_types, |s| {
        s.parse::<GrantType>()
    })
    .map(dedup);
    let allowed_scopes = parse_list(
        e,
        "oidc.allowedScopes",
        b.allowed_scopes,
        d.allowed_scopes,
        |s| Scope::parse(s),
    )
    .map(dedup);
    let audience = match b.audience.flatten() {
        Some(a) => e.check("oidc.audience", parse_audience(&a)).map(Some),
        None => Some(None),
    };
    let signing_algorithm = parse_or(
        e,
        "oidc.signingAlgorithm",
        b.signing_algorithm,
        d.signing_algorithm,
        str::parse::<SigningAlgorithm>,
    );
    let access_token_lifetime = parse_or(
        e,
        "oidc.accessTokenLifetime",
        b.access_token_lifetime,
        d.access_token_lifetime,
        TokenLifetime::parse_iso8601,
    );
    let id_token_lifetime = parse_or(
        e,
        "oidc.idTokenLifetime",
        b.id_token_lifetime,
        d.id_token_lifetime,
        TokenLifetime::parse_iso8601,
    );
    let refresh_token_lifetime = parse_or(
        e,
        "oidc.refreshTokenLifetime",
        b.refresh_token_lifetime,
        d.refresh_token_lifetime,
        RefreshTokenLifetime::parse_iso8601,
    );
    let initiate_login_uri = match b.initiate_login_uri.flatten() {
        Some(u) => e
            .check("oidc.initiateLoginUri", parse_login_uri(&u))
            .map(Some),
        None => Some(None),
    };
    let settings = OidcSettings {
        client_type: client_type?,
        redirect_uris: redirect_uris?,
        post_logout_redirect_uris: post_logout_redirect_uris?,
        grant_types: grant_types?,
        allowed_scopes: allowed_scopes?,
        audience: audience?,
        signing_algorithm: signing_algorithm?,
        access_token_lifetime: access_token_lifetime?,
        id_token_lifetime: id_token_lifetime?,
        refresh_token_lifetime: refresh_token_lifetime?,
        initiate_login_uri: initiate_login_uri?,
        require_consent: b.require_consent.unwrap_or(d.require_consent),
    };
    let problems = settings.problems();
    for (field, problem) in &problems {
        e.add(oidc_field(field), *problem);
    }
    problems.is_empty().then_some(settings)
}

/// Drops repeated items, keeping the first of each.
fn dedup<T: PartialEq>(v: Vec<T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(v.len());
    for item in v {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// Whether an application is a confidential OIDC client (the only kind with a secret).
fn is_confidential(app: &Application) -> bool {
    app.kind == ApplicationKind::Oidc
        && app
            .oidc
            .as_ref()
            .is_some_and(|o| o.client_type == ClientType::Confidential)
}

fn parse_assignment(
    app: ApplicationId,
    b: PrincipalBody,
) -> Result<ApplicationAssignment, FieldErrors> {
    let mut e = FieldErrors::new();
    let principal = parse_principal(&mut e, b.principal_type, b.principal_id);
    e.finish(|| {
        Some(ApplicationAssignment {
            application_id: app,
            principal: principal?,
        })
    })
}

fn principal_view(p: Principal) -> PrincipalView {
    PrincipalView {
        principal_type: p.principal_type().as_str().into(),
        principal_id: p.uuid(),
    }
}

/// Creating a confidential OIDC client also generates its secret: `clientSecret` is in this
/// answer and never again.
#[utoipa::path(post, path = "/admin/v1/applications", tag = "applications", request_body = ApplicationBody,
    responses((status = 201, body = CreatedApplication), (status = 400, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    admin: AdminPrincipal,
    state: web::Data<Admin>,
    body: web::Json<ApplicationBody>,
) -> Result<HttpResponse, ApiError> {
    let new = parse(body.into_inner(), None)?;
    let app = state.directory.create_application(admin.actor, new).await?;
    let client_secret = if is_confidential(&app) {
        let (secret, hash) = state.oidc.client_secrets.generate();
        if let Err(e) = state
            .directory
            .set_client_secret(admin.actor, app.id, hash)
            .await
        {
            // An application nobody can use without rotating its secret first is worse than
            // none: undo the creation (best effort) and report the failure.
            if let Err(undo) = state
                .directory
                .delete_application(admin.actor, app.id)
                .await
            {
                tracing::warn!(error = ?undo, application = %app.id,
                    "could not remove an application whose secret was not stored");
            }
            return Err(e.into());
        }
        Some(secret)
    } else {
        None
    };
    Ok(HttpResponse::Created().json(CreatedApplication {
        application: ApplicationView::from(app),
        client_secret,
    }))
}

#[utoipa::path(get, path = "/admin/v1/applications", tag = "applications", params(ListQuery),
    responses((status = 200, body = ApplicationList), (status = 400, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    _admin: AdminPrincipal,
    state: web::Data<Admin>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = state.directory.list_applications(q.page()?).await?;
    Ok(HttpResponse::Ok().json(ApplicationList {
        next_token: next_token(page.next),
        applications: page.items.into_iter().map(Into::into).collect(),
    }))
}

#[utoipa::path(get, path = "/admin/v1/applications/{applicationId}", tag = "applications",
    params(("applicationId" = Uuid, Path)),
    responses((status = 200, body = ApplicationView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    _admin: AdminPrincipal,
    state: web::Data<Admin>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: ApplicationId = parse_id("applicationId", &path)?;
    Ok(HttpResponse::Ok().json(ApplicationView::from(
        state.directory.get_application(id).await?,
    )))
}

#[utoipa::path(patch, path = "/admin/v1/applications/{applicationId}", tag = "applications",
    params(("applicationId" = Uuid, Path)), request_body = ApplicationBody,
    responses((status = 200, body = ApplicationView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn patch(
    admin: AdminPrincipal,
    state: web::Data<Admin>,
    path: web::Path<String>,
    body: web::Json<ApplicationBody>,
) -> Result<HttpResponse, ApiError> {
    let id: ApplicationId = parse_id("applicationId", &path)?;
    let current = state.directory.get_application(id).await?;
    let new = parse(body.into_inner(), Some(&current))?;
    let app = state
        .directory
        .update_application(admin.actor, id, new)
        .await?;
    Ok(HttpResponse::Ok().json(ApplicationView::from(app)))
}

/// Generates a new secret for a confidential OIDC client; the previous one stops working at
/// once. `clientSecret` is in this answer and never again.
#[utoipa::path(post, path = "/admin/v1/applications/{applicationId}/client-secret", tag = "applications",
    params(("applicationId" = Uuid, Path)),
    responses((status = 200, body = ClientSecretView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "a SAML application or a public client, which has no secret")),
    security(("bearer" = [])))]
pub async fn rotate_secret(
    admin: AdminPrincipal,
    state: web::Data<Admin>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: ApplicationId = parse_id("applicationId", &path)?;
    let (secret, hash) = state.oidc.client_secrets.generate();
    // The store checks, in the same transaction, that this is a confidential OIDC client.
    state
        .directory
        .set_client_secret(admin.actor, id, hash)
        .await?;
    Ok(HttpResponse::Ok().json(ClientSecretView {
        client_id: id.to_string(),
        client_secret: secret,
    }))
}

#[utoipa::path(delete, path = "/admin/v1/applications/{applicationId}", tag = "applications",
    params(("applicationId" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete(
    admin: AdminPrincipal,
    state: web::Data<Admin>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: ApplicationId = parse_id("applicationId", &path)?;
    state.directory.delete_application(admin.actor, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(get, path = "/admin/v1/applications/{applicationId}/assignments", tag = "applications",
    params(("applicationId" = Uuid, Path)),
    responses((status = 200, body = ApplicationAssignmentList), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_assignments(
    _admin: AdminPrincipal,
    state: web::Data<Admin>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: ApplicationId = parse_id("applicationId", &path)?;
    state.directory.get_application(id).await?;
    let principals = state.directory.list_application_assignments(id).await?;
    Ok(HttpResponse::Ok().json(ApplicationAssignmentList {
        assignments: principals.into_iter().map(principal_view).collect(),
    }))
}

#[utoipa::path(post, path = "/admin/v1/applications/{applicationId}/assignments", tag = "applications",
    params(("applicationId" = Uuid, Path)), request_body = PrincipalBody,
    responses((status = 201, body = PrincipalView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn assign(
    admin: AdminPrincipal,
    state: web::Data<Admin>,
    path: web::Path<String>,
    body: web::Json<PrincipalBody>,
) -> Result<HttpResponse, ApiError> {
    let id: ApplicationId = parse_id("applicationId", &path)?;
    let a = parse_assignment(id, body.into_inner())?;
    state.directory.get_application(id).await?;
    state.directory.assign_application(admin.actor, a).await?;
    Ok(HttpResponse::Created().json(principal_view(a.principal)))
}

/// The principal to remove goes in a JSON body or in the query string.
#[utoipa::path(delete, path = "/admin/v1/applications/{applicationId}/assignments", tag = "applications",
    params(("applicationId" = Uuid, Path)), request_body = PrincipalBody,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn unassign(
    admin: AdminPrincipal,
    state: web::Data<Admin>,
    path: web::Path<String>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let id: ApplicationId = parse_id("applicationId", &path)?;
    let a = parse_assignment(id, body_or_query(&req, &body)?)?;
    state.directory.unassign_application(admin.actor, a).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/applications")
            .route(web::post().to(create))
            .route(web::get().to(list)),
    )
    .service(
        web::resource("/applications/{applicationId}")
            .route(web::get().to(get))
            .route(web::patch().to(patch))
            .route(web::delete().to(delete)),
    )
    .service(
        web::resource("/applications/{applicationId}/client-secret")
            .route(web::post().to(rotate_secret)),
    )
    .service(
        web::resource("/applications/{applicationId}/icon")
            .route(web::put().to(super::icons::put_icon))
            .route(web::delete().to(super::icons::delete_icon)),
    )
    .service(
        web::resource("/applications/{applicationId}/assignments")
            .route(web::get().to(list_assignments))
            .route(web::post().to(assign))
            .route(web::delete().to(unassign)),
    );
}

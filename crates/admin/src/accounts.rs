//! `/admin/v1/accounts`: the accounts people assume roles in.

mod cloud;

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use portcullis_domain::{
    Account, AccountId, AccountKind, ConsoleUrl, DisplayName, Email, FieldErrors, NewAccount,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::AdminPrincipal;
use super::error::{ApiError, ErrorBody};
use super::paging::{ListQuery, next_token};
use super::wire::{double_option, parse_account_id, required};
use crate::Admin;
pub use cloud::{AwsBody, AwsView};

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountView {
    /// 12 digits.
    pub account_id: String,
    pub name: String,
    pub email: String,
    /// Where the portal's "Management console" link goes; absent when not set.
    pub console_url: Option<String>,
    /// `native` (credentials from Portcullis) or `aws` (a real AWS account or STS endpoint).
    #[schema(example = "native")]
    pub kind: String,
    /// How an `aws` account is reached, defaults filled in; absent for a native account.
    pub aws: Option<AwsView>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Account> for AccountView {
    fn from(a: Account) -> Self {
        Self {
            kind: a.kind.name().to_owned(),
            aws: a.kind.aws().map(AwsView::from),
            account_id: a.id.into(),
            name: a.name.into(),
            email: a.email.into(),
            console_url: a.console_url.map(Into::into),
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountList {
    pub accounts: Vec<AccountView>,
    pub next_token: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateAccount {
    #[schema(required = true, nullable = false, pattern = r"^[0-9]{12}$")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[schema(
        required = true,
        nullable = false,
        min_length = 1,
        max_length = 256,
        pattern = r"^[^\s\x00-\x1F\x7F-\x9F]([^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F])?$"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[schema(
        required = true,
        nullable = false,
        max_length = 254,
        pattern = r"^[^\s@\x00-\x1F\x7F-\x9F]{1,64}@[A-Za-z0-9\u00C0-\uFFFF-]+(\.[A-Za-z0-9\u00C0-\uFFFF-]+)+$"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[schema(pattern = r"^https?://[^/?#@\s]+")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub console_url: Option<String>,
    /// `native` (the default) or `aws`; `aws` settings alone also make an `aws` account.
    #[schema(pattern = "^(native|aws)$")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aws: Option<AwsBody>,
}

/// Fields to change; `consoleUrl: null` removes the console link.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PatchAccount {
    #[schema(
        min_length = 1,
        max_length = 256,
        pattern = r"^[^\s\x00-\x1F\x7F-\x9F]([^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F])?$"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[schema(
        max_length = 254,
        pattern = r"^[^\s@\x00-\x1F\x7F-\x9F]{1,64}@[A-Za-z0-9\u00C0-\uFFFF-]+(\.[A-Za-z0-9\u00C0-\uFFFF-]+)+$"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, pattern = r"^https?://[^/?#@\s]+")]
    pub console_url: Option<Option<String>>,
    /// `native` turns an `aws` account back into a native one; `aws` (or `aws` settings alone)
    /// replaces the `aws` settings as a whole.
    #[schema(pattern = "^(native|aws)$")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aws: Option<AwsBody>,
}

pub(crate) fn parse_create(b: CreateAccount) -> Result<NewAccount, FieldErrors> {
    let mut e = FieldErrors::new();
    let id = required(&mut e, "accountId", b.account_id)
        .and_then(|v| e.check("accountId", AccountId::parse(v)));
    let name =
        required(&mut e, "name", b.name).and_then(|v| e.check("name", DisplayName::parse(v)));
    let email = required(&mut e, "email", b.email).and_then(|v| e.check("email", Email::parse(v)));
    let console_url = match b.console_url {
        None => Some(None),
        Some(v) => e.check("consoleUrl", ConsoleUrl::parse(v)).map(Some),
    };
    let kind = cloud::parse_kind(&mut e, id.as_ref(), b.kind, b.aws, AccountKind::Native);
    e.finish(|| {
        Some(NewAccount {
            id: id?,
            name: name?,
            email: email?,
            console_url: console_url?,
            kind: kind?,
        })
    })
}

pub(crate) fn parse_patch(b: PatchAccount, cur: Account) -> Result<NewAccount, FieldErrors> {
    let mut e = FieldErrors::new();
    let name = match b.name {
        Some(v) => e.check("name", DisplayName::parse(v)),
        None => Some(cur.name),
    };
    let email = match b.email {
        Some(v) => e.check("email", Email::parse(v)),
        None => Some(cur.email),
    };
    let console_url = match b.console_url {
        None => Some(cur.console_url),
        Some(None) => Some(None),
        Some(Some(v)) => e.check("consoleUrl", ConsoleUrl::parse(v)).map(Some),
    };
    let kind = cloud::parse_kind(&mut e, Some(&cur.id), b.kind, b.aws, cur.kind);
    e.finish(|| {
        Some(NewAccount {
            id: cur.id,
            name: name?,
            email: email?,
            console_url: console_url?,
            kind: kind?,
        })
    })
}

#[utoipa::path(post, path = "/admin/v1/accounts", tag = "accounts", request_body = CreateAccount,
    responses((status = 201, body = AccountView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    admin: AdminPrincipal,
    state: web::Data<Admin>,
    body: web::Json<CreateAccount>,
) -> Result<HttpResponse, ApiError> {
    let new = parse_create(body.into_inner())?;
    let account = state.directory.create_account(admin.actor, new).await?;
    Ok(HttpResponse::Created().json(AccountView::from(account)))
}

#[utoipa::path(get, path = "/admin/v1/accounts", tag = "accounts", params(ListQuery),
    responses((status = 200, body = AccountList), (status = 400, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    _admin: AdminPrincipal,
    state: web::Data<Admin>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = state.directory.list_accounts(q.page()?).await?;
    Ok(HttpResponse::Ok().json(AccountList {
        next_token: next_token(page.next),
        accounts: page.items.into_iter().map(Into::into).collect(),
    }))
}

#[utoipa::path(get, path = "/admin/v1/accounts/{accountId}", tag = "accounts",
    params(("accountId" = String, Path)),
    responses((status = 200, body = AccountView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    _admin: AdminPrincipal,
    state: web::Data<Admin>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_account_id(&path)?;
    Ok(HttpResponse::Ok().json(AccountView::from(state.directory.get_account(&id).await?)))
}

#[utoipa::path(patch, path = "/admin/v1/accounts/{accountId}", tag = "accounts",
    params(("accountId" = String, Path)), request_body = PatchAccount,
    responses((status = 200, body = AccountView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn patch(
    admin: AdminPrincipal,
    state: web::Data<Admin>,
    path: web::Path<String>,
    body: web::Json<PatchAccount>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_account_id(&path)?;
    let current = state.directory.get_account(&id).await?;
    let new = parse_patch(body.into_inner(), current)?;
    let account = state.directory.update_account(admin.actor, new).await?;
    state.provisioning.changed();
    Ok(HttpResponse::Ok().json(AccountView::from(account)))
}

#[utoipa::path(delete, path = "/admin/v1/accounts/{accountId}", tag = "accounts",
    params(("accountId" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete(
    admin: AdminPrincipal,
    state: web::Data<Admin>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_account_id(&path)?;
    state.directory.delete_account(admin.actor, &id).await?;
    state.provisioning.changed();
    Ok(HttpResponse::NoContent().finish())
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/accounts")
            .route(web::post().to(create))
            .route(web::get().to(list)),
    )
    .service(
        web::resource("/accounts/{accountId}")
            .route(web::get().to(get))
            .route(web::patch().to(patch))
            .route(web::delete().to(delete)),
    );
}

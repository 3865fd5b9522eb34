//! The AWS portal API (botocore service `sso`, rest-json, unsigned) at the root paths, so that
//! `AWS_ENDPOINT_URL_SSO` set to the public URL works: `ListAccounts`, `ListAccountRoles`,
//! `GetRoleCredentials`, `Logout`. The caller's SSO-OIDC access token is in
//! `x-amz-sso_bearer_token`. Wire facts: AWS-WIRE.md ("Portal API").

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use crate::Broker;
use crate::error::BrokerError;
use crate::wire::{parse_account, parse_account_role};

/// The header botocore puts the access token in.
pub const BEARER_HEADER: &str = "x-amz-sso_bearer_token";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/assignment/accounts", web::get().to(list_accounts))
        .route("/assignment/roles", web::get().to(list_account_roles))
        .route(
            "/federation/credentials",
            web::get().to(get_role_credentials),
        )
        .route("/logout", web::post().to(logout));
}

/// The query parameters, first value of each name (botocore sends each once).
struct Query(Vec<(String, String)>);

impl Query {
    fn of(req: &HttpRequest) -> Self {
        Self(
            url::form_urlencoded::parse(req.query_string().as_bytes())
                .into_owned()
                .collect(),
        )
    }
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn bearer(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(BEARER_HEADER)
        .and_then(|v| v.to_str().ok())
}

fn answer(outcome: Result<Value, BrokerError>) -> HttpResponse {
    match outcome {
        Ok(body) => HttpResponse::Ok().json(body),
        Err(e) => e.to_response(),
    }
}

/// `ListAccounts`: `GET /assignment/accounts?next_token=&max_result=`.
async fn list_accounts(broker: web::Data<Broker>, req: HttpRequest) -> HttpResponse {
    let q = Query::of(&req);
    let outcome = async {
        let caller = broker.authenticate(bearer(&req)).await?;
        let page = broker
            .list_accounts(&caller, q.get("max_result"), q.get("next_token"))
            .await?;
        let list: Vec<Value> = page
            .items
            .iter()
            .map(|a| {
                json!({
                    "accountId": a.account_id,
                    "accountName": a.account_name,
                    "emailAddress": a.email_address,
                })
            })
            .collect();
        let mut body = json!({ "accountList": list });
        if let Some(t) = page.next_token {
            body["nextToken"] = json!(t);
        }
        Ok(body)
    }
    .await;
    answer(outcome)
}

/// `ListAccountRoles`: `GET /assignment/roles?account_id=&next_token=&max_result=`.
async fn list_account_roles(broker: web::Data<Broker>, req: HttpRequest) -> HttpResponse {
    let q = Query::of(&req);
    let outcome = async {
        let caller = broker.authenticate(bearer(&req)).await?;
        let account = parse_account(q.get("account_id"))?;
        let page = broker
            .list_account_roles(&caller, &account, q.get("max_result"), q.get("next_token"))
            .await?;
        let list: Vec<Value> = page
            .items
            .iter()
            .map(|r| json!({ "roleName": r.role_name, "accountId": r.account_id }))
            .collect();
        let mut body = json!({ "roleList": list });
        if let Some(t) = page.next_token {
            body["nextToken"] = json!(t);
        }
        Ok(body)
    }
    .await;
    answer(outcome)
}

/// `GetRoleCredentials`: `GET /federation/credentials?account_id=&role_name=`.
async fn get_role_credentials(broker: web::Data<Broker>, req: HttpRequest) -> HttpResponse {
    let q = Query::of(&req);
    let outcome = async {
        let caller = broker.authenticate(bearer(&req)).await?;
        let (account, role) = parse_account_role(q.get("account_id"), q.get("role_name"))?;
        let c = broker
            .get_role_credentials(&caller, &account, &role)
            .await?;
        Ok(json!({
            "roleCredentials": {
                "accessKeyId": c.access_key_id,
                "secretAccessKey": c.secret_access_key,
                "sessionToken": c.session_token,
                "expiration": c.expiration_ms,
            }
        }))
    }
    .await;
    answer(outcome)
}

/// `Logout`: `POST /logout`; 200 with an empty body.
async fn logout(broker: web::Data<Broker>, req: HttpRequest) -> HttpResponse {
    let outcome = async {
        let caller = broker.authenticate(bearer(&req)).await?;
        broker.logout(&caller).await
    }
    .await;
    match outcome {
        Ok(()) => HttpResponse::Ok().finish(),
        Err(e) => e.to_response(),
    }
}

//! Seeds the directory through the admin API, as an operator's automation would: users, groups
//! and memberships, accounts, permission sets, assignments (direct and through groups) and
//! applications (two client-credentials clients, ES256 and RS256, one code-flow client and one
//! SAML service provider that the signing-in users are assigned to, through their group).

use std::sync::Arc;

use anyhow::Context as _;
use serde_json::{Value, json};

use crate::load::parallel;
use crate::server::ADMIN_TOKEN;

/// The password every bench user who signs in has.
pub const PASSWORD: &str = "Bench-Horse-Battery-42";
/// The code-flow client's redirect URI (never fetched: the bench reads the redirect to it).
pub const REDIRECT: &str = "https://app.example.com/callback";
/// Users with a password: the ones that sign in (the rest only make the directory big).
pub const SIGNERS: usize = 64;

/// How big the directory is.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Sizes {
    pub users: usize,
    pub groups: usize,
    pub accounts: usize,
    pub permission_sets: usize,
    pub assignments: usize,
    pub applications: usize,
}

impl Sizes {
    /// Issue 8's directory times `scale` (each at least what the scenarios need).
    pub fn scaled(scale: f64) -> Self {
        let n = |full: f64, min: usize| ((full * scale).round() as usize).max(min);
        Self {
            users: n(10_000.0, SIGNERS),
            groups: n(200.0, 2),
            accounts: n(500.0, 4),
            permission_sets: n(50.0, 2),
            assignments: n(50_000.0, 2 * SIGNERS),
            applications: n(20.0, 4),
        }
    }
}

/// A confidential OIDC client.
#[derive(Debug, Clone)]
pub struct Client {
    pub id: String,
    pub secret: String,
}

/// What the scenarios need from the seeded directory.
#[derive(Debug, Clone)]
pub struct Seeded {
    pub sizes: Sizes,
    /// User names with [`PASSWORD`], in the group assigned to the code-flow client.
    pub signers: Vec<String>,
    pub cc_es256: Client,
    pub cc_rs256: Client,
    pub code_client: Client,
    /// Group ids (group 0 holds the signers) and permission set ids, for growing the directory.
    pub groups: Vec<String>,
    pub permission_sets: Vec<String>,
    pub seconds: f64,
}

/// A small admin API client.
#[derive(Debug, Clone)]
pub struct Admin {
    client: reqwest::Client,
    base: String,
}

impl Admin {
    pub fn new(client: &reqwest::Client, base: &str) -> Self {
        Self {
            client: client.clone(),
            base: base.to_owned(),
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut req = self
            .client
            .request(method.clone(), format!("{}/admin/v1/{path}", self.base))
            .bearer_auth(ADMIN_TOKEN);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = resp.status().as_u16();
        let text = resp.text().await?;
        // 409: already there (a membership or assignment the generator produced twice).
        anyhow::ensure!(
            status < 300 || status == 409,
            "{method} {path}: {status} {text}"
        );
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }
    pub async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }
    pub async fn put(&self, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        self.call(reqwest::Method::PUT, path, body).await
    }
}

pub fn id_of(v: &Value, field: &str) -> anyhow::Result<String> {
    v[field]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no {field} in {v}"))
}

pub fn account_id(i: usize) -> String {
    format!("{:012}", 100_000_000_000u64 + i as u64)
}

pub fn user_name(i: usize) -> String {
    format!("user{i:05}")
}

/// Seeds the directory of `sizes` into the server at `base`.
pub async fn seed(client: &reqwest::Client, base: &str, sizes: Sizes) -> anyhow::Result<Seeded> {
    let started = std::time::Instant::now();
    let admin = Admin::new(client, base);
    const C: usize = 24;
    admin
        .put("settings", Some(json!({"mfa": {"prompt": "NEVER"}})))
        .await?;

    let users = collect(C, sizes.users, {
        let admin = admin.clone();
        move |i| {
            let admin = admin.clone();
            async move {
                let name = user_name(i);
                let v = admin
                    .post(
                        "users",
                        json!({"userName": name, "email": format!("{name}@bench.example.com"),
                               "givenName": "Bench", "familyName": format!("User {i}")}),
                    )
                    .await?;
                id_of(&v, "userId")
            }
        }
    })
    .await?;
    let groups = collect(C, sizes.groups, {
        let admin = admin.clone();
        move |i| {
            let admin = admin.clone();
            async move {
                let v = admin
                    .post("groups", json!({"displayName": format!("team-{i:03}")}))
                    .await?;
                id_of(&v, "groupId")
            }
        }
    })
    .await?;
    let permission_sets = collect(C, sizes.permission_sets, {
        let admin = admin.clone();
        move |i| {
            let admin = admin.clone();
            async move {
                let v = admin
                    .post(
                        "permission-sets",
                        json!({"name": format!("Role{i:02}"), "sessionDuration": "PT1H"}),
                    )
                    .await?;
                id_of(&v, "permissionSetId")
            }
        }
    })
    .await?;
    let a = admin.clone();
    parallel(C, sizes.accounts, move |i| {
        let admin = a.clone();
        async move {
            admin
                .post(
                    "accounts",
                    json!({"accountId": account_id(i), "name": format!("workload {i}"),
                           "email": format!("aws+{i}@bench.example.com")}),
                )
                .await
                .map(drop)
        }
    })
    .await?;

    // Each user in one group (group 0 holds the users who sign in).
    let (users, groups, permission_sets) =
        (Arc::new(users), Arc::new(groups), Arc::new(permission_sets));
    let (a, u, g) = (admin.clone(), users.clone(), groups.clone());
    parallel(C, sizes.users, move |i| {
        let (admin, users, groups) = (a.clone(), u.clone(), g.clone());
        async move {
            let group = if i < SIGNERS {
                0
            } else {
                1 + i % (groups.len() - 1)
            };
            admin
                .put(
                    &format!("groups/{}/members/{}", groups[group], users[i]),
                    None,
                )
                .await
                .map(drop)
        }
    })
    .await?;
    let (a, u) = (admin.clone(), users.clone());
    parallel(C, SIGNERS, move |i| {
        let (admin, users) = (a.clone(), u.clone());
        async move {
            admin
                .put(
                    &format!("users/{}/password", users[i]),
                    Some(json!({"password": PASSWORD, "temporary": false})),
                )
                .await
                .map(drop)
        }
    })
    .await?;

    // Assignments: a tenth through groups, the rest direct, spread over accounts and roles.
    let group_assignments = sizes.assignments / 10;
    let (a, g) = (admin.clone(), groups.clone());
    let (accounts, roles) = (sizes.accounts, permission_sets.len());
    let permission_set_ids = permission_sets.to_vec();
    parallel(C, sizes.assignments, move |i| {
        let (admin, users, groups, ps) =
            (a.clone(), users.clone(), g.clone(), permission_sets.clone());
        async move {
            let (kind, principal, k, n) = if i < group_assignments {
                (
                    "GROUP",
                    groups[i % groups.len()].clone(),
                    i / groups.len(),
                    i % groups.len(),
                )
            } else {
                let j = i - group_assignments;
                (
                    "USER",
                    users[j % users.len()].clone(),
                    j / users.len(),
                    j % users.len(),
                )
            };
            let account = (n * 7 + k * 13) % accounts;
            let role = (n + k * 3) % roles;
            admin
                .post(
                    "assignments",
                    json!({"accountId": account_id(account), "permissionSetId": ps[role],
                           "principalType": kind, "principalId": principal}),
                )
                .await
                .map(drop)
        }
    })
    .await?;

    // Applications: two client-credentials clients, one code-flow client, one SAML service
    // provider, the rest code-flow clients nobody here uses (they make the directory the issue's
    // size).
    let cc = |alg: &str| {
        json!({"clientType": "confidential", "redirectUris": [], "postLogoutRedirectUris": [],
               "grantTypes": ["client_credentials"], "allowedScopes": ["reports:read"],
               "audience": "https://api.example.com", "signingAlgorithm": alg,
               "accessTokenLifetime": "PT1H", "idTokenLifetime": "PT1H",
               "refreshTokenLifetime": "P30D"})
    };
    let code = json!({"clientType": "confidential", "redirectUris": [REDIRECT],
        "postLogoutRedirectUris": [], "grantTypes": ["authorization_code", "refresh_token"],
        "allowedScopes": [], "audience": null, "signingAlgorithm": "RS256",
        "accessTokenLifetime": "PT1H", "idTokenLifetime": "PT1H", "refreshTokenLifetime": "P30D"});
    let cc_es256 = application(&admin, "reports-es256", cc("ES256")).await?;
    let cc_rs256 = application(&admin, "reports-rs256", cc("RS256")).await?;
    let code_client = application(&admin, "wiki", code.clone()).await?;
    admin
        .post(
            &format!("applications/{}/assignments", code_client.id),
            json!({"principalType": "GROUP", "principalId": groups[0]}),
        )
        .await?;
    let saml = admin
        .post("applications", crate::saml::registration())
        .await?;
    let saml_app = id_of(&saml, "applicationId")?;
    admin
        .post(
            &format!("applications/{saml_app}/assignments"),
            json!({"principalType": "GROUP", "principalId": groups[0]}),
        )
        .await?;
    for i in 4..sizes.applications {
        let app = application(&admin, &format!("app-{i:02}"), code.clone()).await?;
        admin
            .post(
                &format!("applications/{}/assignments", app.id),
                json!({"principalType": "GROUP", "principalId": groups[i % groups.len()]}),
            )
            .await?;
    }

    Ok(Seeded {
        sizes,
        signers: (0..SIGNERS).map(user_name).collect(),
        cc_es256,
        cc_rs256,
        code_client,
        groups: groups.to_vec(),
        permission_sets: permission_set_ids,
        seconds: started.elapsed().as_secs_f64(),
    })
}

async fn application(admin: &Admin, name: &str, oidc: Value) -> anyhow::Result<Client> {
    let v = admin
        .post(
            "applications",
            json!({"name": name, "kind": "OIDC", "oidc": oidc}),
        )
        .await?;
    Ok(Client {
        id: id_of(&v, "clientId")?,
        secret: id_of(&v, "clientSecret")?,
    })
}

/// Runs `f(i)` for `i in 0..count` and returns the results in order.
async fn collect<F, Fut>(concurrency: usize, count: usize, f: F) -> anyhow::Result<Vec<String>>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<String>> + Send + 'static,
{
    let out = Arc::new(std::sync::Mutex::new(vec![String::new(); count]));
    let o = out.clone();
    let f = Arc::new(f);
    parallel(concurrency, count, move |i| {
        let (o, f) = (o.clone(), f.clone());
        async move {
            let v = f(i).await?;
            if let Ok(mut guard) = o.lock() {
                guard[i] = v;
            }
            Ok(())
        }
    })
    .await?;
    let v = out
        .lock()
        .map(|g| g.clone())
        .map_err(|_| anyhow::anyhow!("poisoned"))?;
    Ok(v)
}

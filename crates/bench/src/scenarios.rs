//! The scenarios, each a short linear request sequence as a real client sends it, and the run of
//! all of them against one backend: start the server, seed, prepare the tokens the scenarios
//! need, measure Redis bytes per session, drive each scenario, stop.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portcullis_testkit::sigv4::{self, CALLER_IDENTITY, Credentials};
use portcullis_testkit::{Browser, snippet};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::Args;
use crate::load::{Measured, Op, drive, op};
use crate::seed::{self, PASSWORD, REDIRECT, Seeded, Sizes};
use crate::server::{Backend, Server};
use crate::wrk::{Replay, Variant};

const BEARER: &str = "x-amz-sso_bearer_token";
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Every scenario, in the order they run.
pub const SCENARIOS: &[&str] = &[
    "client_credentials_es256",
    "client_credentials_rs256",
    "password_signin",
    "authorization_code_pkce",
    "saml_sp_initiated",
    "saml_redirect",
    "refresh",
    "list_accounts",
    "list_account_roles",
    "get_role_credentials",
    "get_caller_identity",
    "session_validation",
];

/// Paced runs at half the throughput targets, for the p99 < 10 ms target.
pub const PACED: &[(&str, f64)] = &[
    ("list_accounts", 7_500.0),
    ("get_role_credentials", 5_000.0),
    ("get_caller_identity", 5_000.0),
];

/// One backend's figures.
#[derive(Debug, Clone, Serialize)]
pub struct BackendRun {
    pub backend: Backend,
    pub sizes: Sizes,
    pub seed_seconds: f64,
    pub scenarios: Vec<Measured>,
    pub paced: Vec<Measured>,
    /// Redis `used_memory` growth per session over `sessions_measured` new sessions.
    pub redis_bytes_per_session: Option<f64>,
    pub sessions_measured: usize,
    /// The server's peak resident memory over the whole run.
    pub server_peak_rss_mib: f64,
    pub notes: Vec<String>,
}

/// Everything the scenarios share.
struct World {
    client: reqwest::Client,
    base: String,
    seeded: Seeded,
    /// SSO-OIDC access tokens of the signers (the AWS CLI's `aws sso login`), used in turn.
    sso_tokens: Vec<String>,
    next_token: std::sync::atomic::AtomicUsize,
    account: String,
    role: String,
    creds: Credentials,
    /// A browser signed in as `signers[1]`.
    portal_browser: Browser,
    /// Browsers signed in as `signers[3..]`, one per worker up to 32, for the SAML round trips.
    saml_browsers: Vec<Browser>,
    /// The certificate in our SAML metadata (DER), to verify Responses with.
    idp_cert: Vec<u8>,
    /// One rotating refresh token per worker.
    refresh_tokens: Arc<Vec<tokio::sync::Mutex<String>>>,
}

pub async fn run_backend(args: &Args, backend: Backend) -> anyhow::Result<BackendRun> {
    eprintln!("== {backend:?}: starting {}", args.server_bin.display());
    let server = Server::start(args, backend).await?;
    let result = run_on(args, backend, &server).await;
    if let Err(e) = &result {
        eprintln!("server output:\n{}", server.log_tail());
        eprintln!("error: {e:#}");
    }
    let prefix = server.redis_prefix.clone();
    server.stop().await?;
    if let Some(p) = prefix {
        crate::floors::delete_prefix(&args.redis_url, &p).await?;
    }
    result
}

async fn run_on(args: &Args, backend: Backend, server: &Server) -> anyhow::Result<BackendRun> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(args.concurrency * 2 + 8)
        .timeout(Duration::from_secs(60))
        .build()?;
    let sizes = Sizes::scaled(args.scale);
    eprintln!("seeding {sizes:?}");
    let seeded = seed::seed(&client, &server.base, sizes)
        .await
        .context("seeding")?;
    eprintln!("seeded in {:.1} s", seeded.seconds);

    let notes = Vec::new();
    let (redis_bytes_per_session, sessions_measured) = match &server.redis_prefix {
        Some(prefix) => {
            let b = crate::floors::redis_bytes_per_session(&args.redis_url, prefix, args.sessions)
                .await
                .context("Redis bytes per session")?;
            (Some(b), args.sessions)
        }
        None => (None, 0),
    };

    let world = Arc::new(
        prepare(
            &client,
            &server.base,
            seeded,
            args.concurrency,
            args.sso_tokens.max(1),
        )
        .await?,
    );
    let wanted = |name: &str| args.only.is_empty() || args.only.iter().any(|o| o == name);
    let use_wrk = args.use_wrk()?;
    let mut scenarios = Vec::new();
    for &name in SCENARIOS.iter().filter(|n| wanted(n)) {
        let script = if use_wrk {
            wrk_script(&world, name)?
        } else {
            None
        };
        let m = match script {
            Some(script) if name == "saml_redirect" => {
                saml_redirect(&world, &script, args, server).await?
            }
            Some(script) => {
                let (c, d) = (args.concurrency, args.scenario_duration());
                let dir = server.work_dir();
                crate::wrk::drive(name, &script, &world.base, c, d, server, dir).await?
            }
            None => {
                drive(
                    name,
                    scenario(&world, name)?,
                    args.concurrency,
                    args.scenario_duration(),
                    None,
                    server,
                )
                .await
            }
        };
        eprintln!(
            "{name}: {:.0}/s p50 {:.2} ms p99 {:.2} ms errors {} cpu {:.2} rss {:.0} MiB",
            m.per_second, m.p50_ms, m.p99_ms, m.errors, m.server_cpu_cores, m.server_rss_mib
        );
        for s in &m.error_samples {
            eprintln!("  error: {s}");
        }
        scenarios.push(m);
    }
    let mut paced = Vec::new();
    for &(name, rate) in PACED.iter().filter(|(n, _)| wanted(n)) {
        // Smoke mode only checks that pacing works, at a rate any build keeps up with.
        let rate = if args.smoke { 50.0 } else { rate };
        let m = drive(
            name,
            scenario(&world, name)?,
            args.concurrency,
            args.scenario_duration(),
            Some(rate),
            server,
        )
        .await;
        eprintln!(
            "{name} paced at {rate}/s: {:.0}/s p99 {:.2} ms errors {}",
            m.per_second, m.p99_ms, m.errors
        );
        paced.push(m);
    }
    let (_, peak) = server.rss_mib();
    Ok(BackendRun {
        backend,
        sizes: world.seeded.sizes,
        seed_seconds: world.seeded.seconds,
        scenarios,
        paced,
        redis_bytes_per_session,
        sessions_measured,
        server_peak_rss_mib: peak,
        notes,
    })
}

/// A PKCE pair (RFC 7636, S256).
fn pkce() -> (String, String) {
    let verifier = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

fn authorize_path(client_id: &str, challenge: &str) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", REDIRECT),
            ("scope", "openid profile email"),
            ("state", "bench-state"),
            ("nonce", "bench-nonce"),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ])
        .finish();
    format!("/oauth2/authorize?{query}")
}

/// The `code` of a redirect to [`REDIRECT`].
fn code_from(location: &str) -> anyhow::Result<String> {
    let url = url::Url::parse(location).with_context(|| format!("redirect {location}"))?;
    anyhow::ensure!(
        location.starts_with(REDIRECT),
        "redirected to {location}, not the client"
    );
    url.query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .with_context(|| format!("no code in {location}"))
}

/// Reads a JSON answer, failing on any status but 200.
async fn json_ok(resp: reqwest::Response) -> anyhow::Result<Value> {
    let status = resp.status().as_u16();
    let text = resp.text().await?;
    anyhow::ensure!(status == 200, "{status}: {}", snippet(&text));
    serde_json::from_str(&text).with_context(|| format!("not JSON: {}", snippet(&text)))
}

/// Redeems a code at the token endpoint; returns the token answer.
async fn redeem(
    client: &reqwest::Client,
    base: &str,
    c: &seed::Client,
    code: &str,
    verifier: &str,
) -> anyhow::Result<Value> {
    let resp = client
        .post(format!("{base}/oauth2/token"))
        .basic_auth(&c.id, Some(&c.secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ])
        .send()
        .await?;
    let v = json_ok(resp).await?;
    anyhow::ensure!(v["id_token"].is_string(), "no id_token: {v}");
    Ok(v)
}

/// A code for the code-flow client from an already signed-in browser.
async fn code_signed_in(b: &Browser, client_id: &str) -> anyhow::Result<(String, String)> {
    let (verifier, challenge) = pkce();
    let page = b.try_follow(&authorize_path(client_id, &challenge)).await?;
    Ok((code_from(page.redirect()?)?, verifier))
}

async fn post_json(client: &reqwest::Client, url: String, body: Value) -> anyhow::Result<Value> {
    json_ok(client.post(&url).json(&body).send().await?).await
}

/// Device authorizations one registered client makes while seeding: the server allows a client
/// 100 within a device code's lifetime (issue 14), so the harness registers a client per this many.
pub(crate) const DEVICE_FLOWS_PER_CLIENT: usize = 90;

/// `aws sso login`, `n` times over: registered clients (as the AWS CLI caches one), then per
/// token the device flow approved in a browser signed in as one of the signers (tests/e2e/broker.rs
/// walks the same steps). Many tokens because the portal API allows each token only a few
/// hundred requests a minute: the load is many people's, as in production.
pub(crate) async fn sso_tokens(
    client: &reqwest::Client,
    base: &str,
    signers: &[String],
    n: usize,
) -> anyhow::Result<Vec<String>> {
    let mut regs = Vec::new();
    for _ in 0..n.div_ceil(DEVICE_FLOWS_PER_CLIENT).max(1) {
        regs.push(
            post_json(
                client,
                format!("{base}/client/register"),
                json!({"clientName": "aws-cli", "clientType": "public"}),
            )
            .await?,
        );
    }
    let regs = Arc::new(regs);
    let mut browsers = Vec::new();
    for user in signers.iter().take(n.clamp(1, 16)) {
        let b = Browser::with_jar(client, base);
        b.try_sign_in_to_portal(user, PASSWORD).await?;
        browsers.push(b);
    }
    let browsers = Arc::new(browsers);
    let out = Arc::new(std::sync::Mutex::new(vec![String::new(); n]));
    let (c, base, o) = (client.clone(), base.to_owned(), out.clone());
    crate::load::parallel(8, n, move |i| {
        let (client, base, regs, browsers, out) = (
            c.clone(),
            base.clone(),
            regs.clone(),
            browsers.clone(),
            o.clone(),
        );
        async move {
            let reg = &regs[i / DEVICE_FLOWS_PER_CLIENT];
            let b = browsers[i % browsers.len()].fork();
            let device = post_json(
                &client,
                format!("{base}/device_authorization"),
                json!({"clientId": reg["clientId"], "clientSecret": reg["clientSecret"],
                       "startUrl": format!("{base}/start")}),
            )
            .await?;
            let complete = device["verificationUriComplete"]
                .as_str()
                .context("verificationUriComplete")?;
            let path = &complete[complete.find("/device").context("a /device URL")?..];
            let page = b.try_get(path).await?;
            let user_code = page
                .value("user_code")
                .context("the user code on the page")?;
            let decided = b
                .try_post(
                    "/device",
                    &[
                        ("csrf", &page.try_csrf()?),
                        ("user_code", &user_code),
                        ("action", "approve"),
                    ],
                )
                .await?;
            anyhow::ensure!(decided.status < 400, "approving: {decided:?}");
            let tokens = post_json(
                &client,
                format!("{base}/token"),
                json!({"clientId": reg["clientId"], "clientSecret": reg["clientSecret"],
                       "grantType": DEVICE_GRANT, "deviceCode": device["deviceCode"]}),
            )
            .await?;
            let t = tokens["accessToken"].as_str().context("accessToken")?;
            if let Ok(mut g) = out.lock() {
                g[i] = t.to_owned();
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

pub(crate) async fn portal_get(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    path: &str,
) -> anyhow::Result<Value> {
    json_ok(
        client
            .get(format!("{base}{path}"))
            .header(BEARER, token)
            .send()
            .await?,
    )
    .await
}

/// Tokens, credentials and sessions the scenarios start from.
async fn prepare(
    client: &reqwest::Client,
    base: &str,
    seeded: Seeded,
    workers: usize,
    tokens: usize,
) -> anyhow::Result<World> {
    let sso_tokens = sso_tokens(client, base, &seeded.signers, tokens)
        .await
        .context("SSO device flow")?;
    // Every signer sees group 0's assignments: the first account and role suit every token.
    let sso_token = &sso_tokens[0];
    let accounts = portal_get(client, base, sso_token, "/assignment/accounts").await?;
    let account = accounts["accountList"][0]["accountId"]
        .as_str()
        .context("the bench user holds no account")?
        .to_owned();
    let roles = portal_get(
        client,
        base,
        sso_token,
        &format!("/assignment/roles?account_id={account}"),
    )
    .await?;
    let role = roles["roleList"][0]["roleName"]
        .as_str()
        .context("no role in the account")?
        .to_owned();
    let c = portal_get(
        client,
        base,
        sso_token,
        &format!("/federation/credentials?account_id={account}&role_name={role}"),
    )
    .await?;
    let c = &c["roleCredentials"];
    let s = |k: &str| c[k].as_str().map(str::to_owned).context("roleCredentials");
    let creds = Credentials::new(
        s("accessKeyId")?,
        s("secretAccessKey")?,
        Some(s("sessionToken")?),
        None,
        "bench",
    );

    let portal_browser = Browser::with_jar(client, base);
    portal_browser
        .try_sign_in_to_portal(&seeded.signers[1], PASSWORD)
        .await?;

    let mut saml_browsers = Vec::new();
    for user in seeded.signers.iter().skip(3).take(workers.clamp(1, 32)) {
        let b = Browser::with_jar(client, base);
        b.try_sign_in_to_portal(user, PASSWORD).await?;
        saml_browsers.push(b);
    }

    let b = Browser::with_jar(client, base);
    b.try_sign_in_to_portal(&seeded.signers[2], PASSWORD)
        .await?;
    let mut refresh = Vec::with_capacity(workers);
    for _ in 0..workers.max(1) {
        let (code, verifier) = code_signed_in(&b, &seeded.code_client.id).await?;
        let t = redeem(client, base, &seeded.code_client, &code, &verifier).await?;
        let r = t["refresh_token"].as_str().context("no refresh_token")?;
        refresh.push(tokio::sync::Mutex::new(r.to_owned()));
    }
    Ok(World {
        client: client.clone(),
        base: base.to_owned(),
        seeded,
        sso_tokens,
        next_token: std::sync::atomic::AtomicUsize::new(0),
        account,
        role,
        creds,
        portal_browser,
        saml_browsers,
        idp_cert: crate::saml_load::idp_certificate(client, base).await?,
        refresh_tokens: Arc::new(refresh),
    })
}

/// The operation behind a scenario name.
fn scenario(w: &Arc<World>, name: &str) -> anyhow::Result<Op> {
    let w = w.clone();
    let counter = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let signature_checks = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let next_signer = move |w: &World| {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        w.seeded.signers[n % w.seeded.signers.len()].clone()
    };
    Ok(match name {
        "client_credentials_es256" | "client_credentials_rs256" => {
            let es = name.ends_with("es256");
            op(move |_| {
                let w = w.clone();
                async move {
                    let c = if es {
                        &w.seeded.cc_es256
                    } else {
                        &w.seeded.cc_rs256
                    };
                    let resp = w
                        .client
                        .post(format!("{}/oauth2/token", w.base))
                        .basic_auth(&c.id, Some(&c.secret))
                        .form(&[
                            ("grant_type", "client_credentials"),
                            ("scope", "reports:read"),
                        ])
                        .send()
                        .await?;
                    let v = json_ok(resp).await?;
                    anyhow::ensure!(v["access_token"].is_string(), "no access_token: {v}");
                    Ok(())
                }
            })
        }
        "password_signin" => op(move |_| {
            let (w, user) = (w.clone(), next_signer(&w));
            async move {
                let b = Browser::with_jar(&w.client, &w.base);
                b.try_sign_in_to_portal(&user, PASSWORD).await?;
                Ok(())
            }
        }),
        "authorization_code_pkce" => op(move |_| {
            let (w, user) = (w.clone(), next_signer(&w));
            async move {
                let (verifier, challenge) = pkce();
                let b = Browser::with_jar(&w.client, &w.base);
                let start = b
                    .try_follow(&authorize_path(&w.seeded.code_client.id, &challenge))
                    .await?;
                anyhow::ensure!(start.status == 200, "authorize: {start:?}");
                let done = b.try_sign_in_from(&start, &user, PASSWORD).await?;
                let location = done.redirect()?.to_owned();
                let code = match b.ours(&location) {
                    Some(_) => code_from(b.try_follow(&location).await?.redirect()?)?,
                    None => code_from(&location)?,
                };
                redeem(&w.client, &w.base, &w.seeded.code_client, &code, &verifier)
                    .await
                    .map(drop)
            }
        }),
        "saml_sp_initiated" => op(move |i| {
            let w = w.clone();
            async move {
                let b = w.saml_browsers[i % w.saml_browsers.len()].fork();
                crate::saml::round_trip(&b, &w.base).await
            }
        }),
        // Without wrk: the same round trip as saml_sp_initiated, with one person per worker and
        // every 64th Response's signature verified.
        "saml_redirect" => op(move |i| {
            let w = w.clone();
            let n = signature_checks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            async move {
                let b = w.saml_browsers[i % w.saml_browsers.len()].fork();
                if n.is_multiple_of(64) {
                    crate::saml_load::sample_one(&b, &w.base, &w.idp_cert).await
                } else {
                    crate::saml::round_trip(&b, &w.base).await
                }
            }
        }),
        "refresh" => op(move |i| {
            let w = w.clone();
            async move {
                let slot = &w.refresh_tokens[i % w.refresh_tokens.len()];
                let mut token = slot.lock().await;
                let c = &w.seeded.code_client;
                let resp = w
                    .client
                    .post(format!("{}/oauth2/token", w.base))
                    .basic_auth(&c.id, Some(&c.secret))
                    .form(&[("grant_type", "refresh_token"), ("refresh_token", &token)])
                    .send()
                    .await?;
                let v = json_ok(resp).await?;
                if let Some(next) = v["refresh_token"].as_str() {
                    *token = next.to_owned();
                }
                Ok(())
            }
        }),
        "list_accounts" | "list_account_roles" | "get_role_credentials" => {
            let path = portal_path(&w, name);
            op(move |_| {
                let (w, path) = (w.clone(), path.clone());
                async move {
                    let n = w
                        .next_token
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let token = &w.sso_tokens[n % w.sso_tokens.len()];
                    portal_get(&w.client, &w.base, token, &path).await.map(drop)
                }
            })
        }
        "get_caller_identity" => op(move |_| {
            let w = w.clone();
            async move { caller_identity(&w).await }
        }),
        "session_validation" => op(move |_| {
            let w = w.clone();
            async move {
                let page = w.portal_browser.fork().try_get("/portal").await?;
                anyhow::ensure!(page.status == 200, "GET /portal: {}", page.status);
                Ok(())
            }
        }),
        other => anyhow::bail!("no scenario {other}"),
    })
}

/// The portal API path a scenario calls.
fn portal_path(w: &World, name: &str) -> String {
    match name {
        "list_accounts" => "/assignment/accounts".to_owned(),
        "list_account_roles" => format!("/assignment/roles?account_id={}", w.account),
        _ => format!(
            "/federation/credentials?account_id={}&role_name={}",
            w.account, w.role
        ),
    }
}

/// The wrk script of a scenario wrk can drive.
fn wrk_script(w: &World, name: &str) -> anyhow::Result<Option<String>> {
    if name == "saml_redirect" {
        let cookies: Vec<String> = w
            .saml_browsers
            .iter()
            .filter_map(Browser::cookie_header)
            .collect();
        let tag = crate::saml_load::run_tag();
        return crate::saml_load::lua(&w.base, &cookies, &tag).map(Some);
    }
    replay(w, name)?
        .map(|r| crate::wrk::script(name, &r))
        .transpose()
}

/// `saml_redirect` driven by wrk, with its Responses' signatures verified on a sample meanwhile.
async fn saml_redirect(
    w: &Arc<World>,
    script: &str,
    args: &Args,
    server: &Server,
) -> anyhow::Result<Measured> {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = tokio::spawn(crate::saml_load::sample(
        w.saml_browsers[0].fork(),
        w.base.clone(),
        w.idp_cert.clone(),
        stop.clone(),
    ));
    let (c, d) = (args.concurrency, args.scenario_duration());
    let measured = crate::wrk::drive(
        "saml_redirect",
        script,
        &w.base,
        c,
        d,
        server,
        server.work_dir(),
    )
    .await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let sampled = sampler.await.context("the signature sampler")?;
    let mut m = measured?;
    eprintln!(
        "saml_redirect: {} sampled Responses' signatures verified, {} failed",
        sampled.verified,
        sampled.failures.len()
    );
    if sampled.verified == 0 || !sampled.failures.is_empty() {
        m.errors += sampled.failures.len().max(1) as u64;
        m.error_samples.push(format!(
            "signature sample: {} verified; failures: {:?}",
            sampled.verified, sampled.failures
        ));
    }
    Ok(m)
}

/// The scenario as a request wrk can replay, when it is one (a fixed request, or one of a set):
/// every answer must be 200.
fn replay(w: &World, name: &str) -> anyhow::Result<Option<Replay>> {
    let get = |variants: Vec<Variant>| Replay {
        method: "GET",
        body: None,
        variants,
    };
    Ok(Some(match name {
        "client_credentials_es256" | "client_credentials_rs256" => {
            let c = if name.ends_with("es256") {
                &w.seeded.cc_es256
            } else {
                &w.seeded.cc_rs256
            };
            let basic =
                base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", c.id, c.secret));
            Replay {
                method: "POST",
                body: Some("grant_type=client_credentials&scope=reports%3Aread".into()),
                variants: vec![Variant {
                    path: "/oauth2/token".into(),
                    headers: vec![
                        ("Authorization".into(), format!("Basic {basic}")),
                        (
                            "Content-Type".into(),
                            "application/x-www-form-urlencoded".into(),
                        ),
                    ],
                }],
            }
        }
        "list_accounts" | "list_account_roles" | "get_role_credentials" => {
            let path = portal_path(w, name);
            get(w
                .sso_tokens
                .iter()
                .map(|t| Variant {
                    path: path.clone(),
                    headers: vec![(BEARER.into(), t.clone())],
                })
                .collect())
        }
        // Signed now: valid for the five minutes of allowed skew, far longer than a scenario.
        "get_caller_identity" => Replay {
            method: "POST",
            body: Some(CALLER_IDENTITY.into()),
            variants: (0..64)
                .map(|_| {
                    Ok(Variant {
                        path: "/".into(),
                        headers: sign_caller_identity(w)?,
                    })
                })
                .collect::<anyhow::Result<_>>()?,
        },
        "session_validation" => get(vec![Variant {
            path: "/portal".into(),
            headers: w
                .portal_browser
                .cookie_header()
                .map(|c| ("Cookie".to_owned(), c))
                .into_iter()
                .collect(),
        }]),
        _ => return Ok(None),
    }))
}

/// The headers of `sts.get_caller_identity()` as the AWS SDK signs it now (content type, date,
/// security token, authorization; the host is the server's).
fn sign_caller_identity(w: &World) -> anyhow::Result<Vec<(String, String)>> {
    let at = SystemTime::now();
    Ok(sigv4::caller_identity_headers(
        &w.base,
        &w.creds,
        "us-east-1",
        at,
    )?)
}

/// `sts.get_caller_identity()` as the AWS SDK sends it, signed now.
async fn caller_identity(w: &World) -> anyhow::Result<()> {
    let req = sigv4::caller_identity(&w.client, &w.base, &w.creds, "us-east-1", SystemTime::now())?;
    let resp = req.send().await?;
    let status = resp.status().as_u16();
    let body = resp.text().await?;
    anyhow::ensure!(
        status == 200 && body.contains("<Arn>"),
        "GetCallerIdentity {status}: {}",
        snippet(&body)
    );
    Ok(())
}

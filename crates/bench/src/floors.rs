//! The physical floors, measured in the same run as the scenarios: argon2id verifications per
//! second on every core through the server's own hasher at its default cost, raw RS256 and ES256
//! JWS signatures per second (aws-lc-rs with the key opened once, as the server signs), Redis GET and SET
//! per second; and Redis bytes per portal session, through the server's own session store.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use jsonwebtoken::{Algorithm, Header};
use portcullis_sessions::{ClientInfo, NewSession, SystemClock};
use portcullis_signin::password::{Password, PasswordConfig, Passwords, Verification};
use serde::Serialize;

use crate::Args;

/// The floors.
#[derive(Debug, Clone, Serialize)]
pub struct Floors {
    pub threads: usize,
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
    pub argon2id_per_second: f64,
    pub rs256_signatures_per_second: f64,
    pub es256_signatures_per_second: f64,
    pub redis_set_per_second: f64,
    pub redis_get_per_second: f64,
    /// The reference handlers (with wrk only).
    pub reference: Option<crate::reference::Reference>,
}

pub async fn measure(args: &Args) -> anyhow::Result<Floors> {
    let d = Duration::from_secs_f64(args.floor_duration.max(0.05));
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let config = PasswordConfig::default();
    let argon2id_per_second = argon2(&config, threads, d).await?;
    let rs256 = signing(Algorithm::RS256, threads, d).await?;
    let es256 = signing(Algorithm::ES256, threads, d).await?;
    let (set, get) = redis_ops(&args.redis_url, d).await?;
    let reference = if args.use_wrk()? {
        crate::reference::measure(args.concurrency, d).await?
    } else {
        None
    };
    Ok(Floors {
        threads,
        argon2_memory_kib: config.memory_kib,
        argon2_iterations: config.iterations,
        argon2_parallelism: config.parallelism,
        argon2id_per_second,
        rs256_signatures_per_second: rs256,
        es256_signatures_per_second: es256,
        redis_set_per_second: set,
        redis_get_per_second: get,
        reference,
    })
}

/// Password checks per second with one check in flight per core, on the blocking pool exactly
/// as the sign-in handler runs them.
async fn argon2(config: &PasswordConfig, threads: usize, d: Duration) -> anyhow::Result<f64> {
    let passwords = Passwords::new(config)?;
    let pw = Password::new("Bench-Horse-Battery-42");
    let stored = Arc::new(passwords.hash(&pw).await?);
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..threads {
        let (passwords, pw, stored, done) =
            (passwords.clone(), pw.clone(), stored.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            while started.elapsed() < d {
                let v = passwords.verify(&pw, Some(&stored)).await;
                if matches!(v, Verification::Match { .. }) {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    Ok(done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}

/// Claims the size of an access token the server issues.
#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    client_id: &'a str,
    scope: &'a str,
    jti: String,
    iat: i64,
    exp: i64,
}

/// Raw JWS signatures per second on `threads` OS threads: a key opened once (as the server keeps
/// its keys opened), signing a token-sized message (a client_credentials access token's header
/// and claims) — the signature alone, nothing around it.
async fn signing(alg: Algorithm, threads: usize, d: Duration) -> anyhow::Result<f64> {
    let key = Arc::new(signing_key(alg)?);
    let message = Arc::new(signing_input(alg)?);
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..threads {
        let (key, message, done) = (key.clone(), message.clone(), done.clone());
        handles.push(std::thread::spawn(move || -> anyhow::Result<()> {
            let mut n = 0u64;
            while started.elapsed() < d {
                key.sign(&message)?;
                n += 1;
            }
            done.fetch_add(n, Ordering::Relaxed);
            Ok(())
        }));
    }
    for h in handles {
        h.join()
            .map_err(|_| anyhow::anyhow!("a signing thread panicked"))??;
    }
    Ok(done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}

/// A private key opened for signing.
pub(crate) enum SigningKey {
    Rsa(aws_lc_rs::signature::RsaKeyPair),
    Ec(aws_lc_rs::signature::EcdsaKeyPair),
}

impl SigningKey {
    /// The JWS signature of `message` (RS256: PKCS#1 v1.5 SHA-256; ES256: fixed-length r‖s).
    pub(crate) fn sign(&self, message: &[u8]) -> anyhow::Result<Vec<u8>> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        Ok(match self {
            Self::Rsa(pair) => {
                let mut out = vec![0; pair.public_modulus_len()];
                pair.sign(
                    &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                    &rng,
                    message,
                    &mut out,
                )
                .map_err(|_| anyhow::anyhow!("RSA signing failed"))?;
                out
            }
            Self::Ec(pair) => pair
                .sign(&rng, message)
                .map_err(|_| anyhow::anyhow!("ECDSA signing failed"))?
                .as_ref()
                .to_vec(),
        })
    }
}

/// The base64url header and claims of a client_credentials access token: what is signed.
pub(crate) fn signing_input(alg: Algorithm) -> anyhow::Result<Vec<u8>> {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let now = chrono::Utc::now().timestamp();
    let claims = Claims {
        iss: "http://127.0.0.1:8080",
        sub: "0f7c6a51-5a59-4c9e-a0b3-2a4b6a5b0c11",
        aud: "https://api.example.com",
        client_id: "0f7c6a51-5a59-4c9e-a0b3-2a4b6a5b0c11",
        scope: "reports:read",
        jti: uuid::Uuid::new_v4().to_string(),
        iat: now,
        exp: now + 3600,
    };
    let mut header = Header::new(alg);
    header.typ = Some("at+jwt".into());
    header.kid = Some("x".repeat(43));
    Ok(format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header)?),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims)?)
    )
    .into_bytes())
}

/// A fresh key of the kind the server generates (RSA 2048, P-256), opened the way it opens them.
pub(crate) fn signing_key(alg: Algorithm) -> anyhow::Result<SigningKey> {
    use aws_lc_rs::encoding::AsDer;
    let failed = |_| anyhow::anyhow!("generating a {alg:?} key failed");
    Ok(match alg {
        Algorithm::RS256 => {
            let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                .map_err(failed)?;
            let der: aws_lc_rs::encoding::Pkcs8V1Der<'static> = pair.as_der().map_err(failed)?;
            let pkcs1 = pkcs1_from_pkcs8(der.as_ref()).context("PKCS#8 RSA key")?;
            SigningKey::Rsa(
                aws_lc_rs::signature::RsaKeyPair::from_der(pkcs1)
                    .map_err(|_| anyhow::anyhow!("opening the RSA key"))?,
            )
        }
        Algorithm::ES256 => {
            let doc = aws_lc_rs::signature::EcdsaKeyPair::generate(
                &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            )
            .and_then(|p| p.to_pkcs8v1())
            .map_err(failed)?;
            SigningKey::Ec(
                aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
                    &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    doc.as_ref(),
                )
                .map_err(|_| anyhow::anyhow!("opening the P-256 key"))?,
            )
        }
        other => anyhow::bail!("no floor for {other:?}"),
    })
}

/// The RSAPrivateKey inside a PKCS#8 v1 PrivateKeyInfo (RFC 5208 §5).
fn pkcs1_from_pkcs8(der: &[u8]) -> Option<&[u8]> {
    let (0x30, info, _) = der_element(der)? else {
        return None;
    };
    let (0x02, _, info) = der_element(info)? else {
        return None;
    };
    let (0x30, _, info) = der_element(info)? else {
        return None;
    };
    let (0x04, key, _) = der_element(info)? else {
        return None;
    };
    Some(key)
}

/// One DER element: (tag, contents, what follows).
fn der_element(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *der.first()?;
    let first = *der.get(1)?;
    let (len, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        let bytes = der.get(2..2 + n)?;
        (
            bytes.iter().fold(0usize, |a, &b| (a << 8) | usize::from(b)),
            2 + n,
        )
    };
    let body = der.get(header..header + len)?;
    Some((tag, body, der.get(header + len..)?))
}

async fn redis_connection(url: &str) -> anyhow::Result<redis::aio::MultiplexedConnection> {
    let client = redis::Client::open(url).context("the Redis URL")?;
    client
        .get_multiplexed_async_connection()
        .await
        .context("connecting to Redis")
}

/// SET then GET per second: 32 requests in flight on one multiplexed connection, as the server's
/// connection manager sends them.
async fn redis_ops(url: &str, d: Duration) -> anyhow::Result<(f64, f64)> {
    let conn = redis_connection(url).await?;
    let prefix = format!("pcbench-floor:{}:", uuid::Uuid::new_v4().simple());
    let value = vec![b'x'; 256];
    let mut rates = [0.0; 2];
    for (phase, rate) in rates.iter_mut().enumerate() {
        let done = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        let mut tasks = Vec::new();
        for t in 0..32 {
            let (mut conn, done, prefix, value) =
                (conn.clone(), done.clone(), prefix.clone(), value.clone());
            tasks.push(tokio::spawn(async move {
                let mut i = 0u64;
                while started.elapsed() < d {
                    let key = format!("{prefix}{}", (t * 1_000 + i) % 10_000);
                    if phase == 0 {
                        redis::cmd("SET")
                            .arg(&key)
                            .arg(&value)
                            .arg("EX")
                            .arg(600)
                            .query_async::<()>(&mut conn)
                            .await?;
                    } else {
                        redis::cmd("GET")
                            .arg(&key)
                            .query_async::<Option<Vec<u8>>>(&mut conn)
                            .await?;
                    }
                    i += 1;
                }
                done.fetch_add(i, Ordering::Relaxed);
                anyhow::Ok(())
            }));
        }
        for t in tasks {
            t.await??;
        }
        *rate = done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    }
    delete_prefix(url, &prefix).await?;
    Ok((rates[0], rates[1]))
}

async fn used_memory(conn: &mut redis::aio::MultiplexedConnection) -> anyhow::Result<f64> {
    let info: String = redis::cmd("INFO").arg("memory").query_async(conn).await?;
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .context("no used_memory in INFO memory")
}

/// Creates `n` portal sessions through `store`, ten per made-up user (as browsers signing in
/// make them), with a typical browser's address and user agent, `concurrency` at a time.
pub async fn create_sessions(
    store: Arc<portcullis_sessions::redis::RedisSessions>,
    n: usize,
    lifetime: chrono::Duration,
    concurrency: usize,
) -> anyhow::Result<Vec<portcullis_domain::UserId>> {
    use portcullis_sessions::SessionStore as _;
    let users: Arc<Vec<portcullis_domain::UserId>> = Arc::new(
        (0..n.div_ceil(10))
            .map(|_| portcullis_domain::UserId::new())
            .collect(),
    );
    let made_up = users.clone();
    crate::load::parallel(concurrency, n, move |i| {
        let (store, users) = (store.clone(), users.clone());
        async move {
            store
                .create_session(NewSession {
                    user_id: users[i / 10],
                    expires_at: chrono::Utc::now() + lifetime,
                    amr: vec!["pwd".into()],
                    client: ClientInfo {
                        ip: Some("203.0.113.17".into()),
                        user_agent: Some(
                            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like \
                             Gecko) Chrome/124.0.0.0 Safari/537.36"
                                .into(),
                        ),
                    },
                })
                .await?;
            Ok(())
        }
    })
    .await?;
    Ok(made_up.to_vec())
}

/// Redis `used_memory` growth per portal session over `n` sessions created through the server's
/// own session store (so the key layout and the per-user index are the real ones), 10 sessions per
/// user. Other clients of the same Redis make this noisy; the sessions are deleted afterwards.
pub async fn redis_bytes_per_session(url: &str, prefix: &str, n: usize) -> anyhow::Result<f64> {
    let n = n.max(1);
    let store_prefix = format!("{prefix}mem:");
    let store = Arc::new(
        portcullis_sessions::redis::RedisSessions::connect(
            url,
            &store_prefix,
            Arc::new(SystemClock),
        )
        .await?,
    );
    let mut conn = redis_connection(url).await?;
    let before = used_memory(&mut conn).await?;
    create_sessions(store, n, chrono::Duration::hours(8), 64).await?;
    let after = used_memory(&mut conn).await?;
    delete_prefix(url, &store_prefix).await?;
    Ok((after - before) / n as f64)
}

/// Deletes every key under `prefix` (SCAN + UNLINK).
pub async fn delete_prefix(url: &str, prefix: &str) -> anyhow::Result<()> {
    let mut conn = redis_connection(url).await?;
    let pattern = format!("{prefix}*");
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await?;
        if !keys.is_empty() {
            redis::cmd("UNLINK")
                .arg(&keys)
                .query_async::<()>(&mut conn)
                .await?;
        }
        if next == 0 {
            return Ok(());
        }
        cursor = next;
    }
}

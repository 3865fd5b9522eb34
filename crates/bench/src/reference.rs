//! Reference handlers, measured in the same run as the floors, as the reference figures
//! were ("a trivial actix-web GET", "an actix handler that only signs an ES256 JWT and returns
//! JSON", wrk -t2 -c32 over loopback): an actix-web server in this process with two workers,
//! answering `GET /` with two bytes and `POST /es256` / `POST /rs256` with a freshly signed
//! access token (key opened once, as the server keeps it). What they reach on this machine, with
//! the load generator on the same cores, is the ceiling for an endpoint that does that much and
//! nothing more: the client_credentials figures are read against them.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde::Serialize;

use crate::floors::{SigningKey, signing_input, signing_key};
use crate::wrk::{self, Replay, Variant};

/// Requests per second each reference handler answered.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Reference {
    pub trivial_get_per_second: f64,
    pub es256_handler_per_second: f64,
    pub rs256_handler_per_second: f64,
}

struct Keys {
    es256: SigningKey,
    rs256: SigningKey,
}

/// Measures the three handlers with wrk (`None` when wrk is not installed).
pub async fn measure(connections: usize, d: Duration) -> anyhow::Result<Option<Reference>> {
    if !wrk::available() {
        return Ok(None);
    }
    let keys = Arc::new(Keys {
        es256: signing_key(Algorithm::ES256)?,
        rs256: signing_key(Algorithm::RS256)?,
    });
    let listener = TcpListener::bind("127.0.0.1:0").context("binding the reference server")?;
    let base = format!("http://{}", listener.local_addr()?);
    let (handle_tx, handle_rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let keys = web::Data::from(keys);
            let server = HttpServer::new(move || {
                App::new()
                    .app_data(keys.clone())
                    .route(
                        "/",
                        web::get().to(|| async { HttpResponse::Ok().body("ok") }),
                    )
                    .route("/es256", web::post().to(es256))
                    .route("/rs256", web::post().to(rs256))
            })
            .workers(2)
            .listen(listener)?
            .run();
            let _ = handle_tx.send(server.handle());
            server.await
        })
    });
    let handle = handle_rx
        .recv()
        .context("the reference server did not start")?;
    // wrk's scripts, in a directory of this run's own (two runs at once must not share them).
    let dir = std::env::temp_dir().join(format!(
        "portcullis-bench-reference-{}",
        uuid::Uuid::new_v4()
    ));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let replay = |method, path: &str| Replay {
        method,
        body: (method == "POST").then(|| "grant_type=client_credentials".to_owned()),
        variants: vec![Variant {
            path: path.to_owned(),
            headers: vec![(
                "Content-Type".to_owned(),
                "application/x-www-form-urlencoded".to_owned(),
            )],
        }],
    };
    let d = d.max(Duration::from_secs(1));
    let mut rates = Vec::new();
    for (name, method, path) in [
        ("reference-get", "GET", "/"),
        ("reference-es256", "POST", "/es256"),
        ("reference-rs256", "POST", "/rs256"),
    ] {
        let s = match wrk::script(name, &replay(method, path)) {
            Ok(script) => wrk::run(name, &script, &base, connections, d, &dir).await,
            Err(e) => Err(e),
        };
        let s = s.and_then(|s| {
            anyhow::ensure!(s.errors == 0, "{name}: {} errors", s.errors);
            Ok(s)
        });
        match s {
            Ok(s) => rates.push(s.per_second()),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                handle.stop(true).await;
                return Err(e);
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    handle.stop(true).await;
    thread
        .join()
        .map_err(|_| anyhow::anyhow!("the reference server panicked"))?
        .context("the reference server")?;
    Ok(Some(Reference {
        trivial_get_per_second: rates[0],
        es256_handler_per_second: rates[1],
        rs256_handler_per_second: rates[2],
    }))
}

async fn es256(keys: web::Data<Keys>) -> HttpResponse {
    token(&keys.es256, Algorithm::ES256)
}

async fn rs256(keys: web::Data<Keys>) -> HttpResponse {
    token(&keys.rs256, Algorithm::RS256)
}

/// A client_credentials-shaped answer with a freshly signed token.
fn token(key: &SigningKey, alg: Algorithm) -> HttpResponse {
    let Ok(input) = signing_input(alg) else {
        return HttpResponse::InternalServerError().finish();
    };
    let Ok(signature) = key.sign(&input) else {
        return HttpResponse::InternalServerError().finish();
    };
    let mut token = String::from_utf8_lossy(&input).into_owned();
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut token);
    HttpResponse::Ok().json(serde_json::json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": 3600,
    }))
}

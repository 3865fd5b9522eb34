//! `/metrics` as Prometheus scrapes it: the text exposition format, with the instruments the
//! OTLP export carries, on the main port by default or on a port of its own.

use portcullis_testkit::{Admin, PASSWORD};
use std::collections::BTreeMap;

use super::cluster::ADMIN_TOKEN;
use crate::serve;

/// One sample line of the text format: name, labels, value. Comments and blank lines give
/// `None`; a line that is neither is a test failure.
fn sample(line: &str) -> Option<(String, BTreeMap<String, String>, f64)> {
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (series, value) = line
        .rsplit_once(' ')
        .unwrap_or_else(|| panic!("a sample line: {line}"));
    let value: f64 = match value {
        "+Inf" => f64::INFINITY,
        v => v.parse().unwrap_or_else(|_| panic!("a value in {line}")),
    };
    let (name, labels) = match series.split_once('{') {
        None => (series.to_owned(), BTreeMap::new()),
        Some((name, rest)) => {
            let rest = rest
                .strip_suffix('}')
                .unwrap_or_else(|| panic!("labels end with }}: {line}"));
            let labels = rest
                .split("\",")
                .filter(|kv| !kv.is_empty())
                .map(|kv| {
                    let (k, v) = kv
                        .split_once("=\"")
                        .unwrap_or_else(|| panic!("a label in {line}"));
                    (k.to_owned(), v.trim_end_matches('"').to_owned())
                })
                .collect();
            (name.to_owned(), labels)
        }
    };
    Some((name, labels, value))
}

async fn scrape(url: &str) -> (u16, String, String) {
    let resp = reqwest::get(url).await.expect("GET /metrics");
    let status = resp.status().as_u16();
    let kind = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, kind, resp.text().await.expect("text"))
}

/// The value of the one series named `name` whose labels include `with`.
fn value_of(
    samples: &[(String, BTreeMap<String, String>, f64)],
    name: &str,
    with: &[(&str, &str)],
) -> f64 {
    let found: Vec<f64> = samples
        .iter()
        .filter(|(n, labels, _)| {
            n == name
                && with
                    .iter()
                    .all(|(k, v)| labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, _, v)| *v)
        .collect();
    assert_eq!(found.len(), 1, "one {name} {with:?} series: {samples:?}");
    found[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_scraped_on_the_main_port_by_default() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().to_owned();
    let server = tokio::task::spawn_blocking(move || {
        serve(
            &path,
            &[("PORTCULLIS__ADMIN__BOOTSTRAP_TOKEN", ADMIN_TOKEN)],
        )
    })
    .await
    .expect("serve");
    let base = server.url.as_str();
    assert_eq!(server.metrics_port, None);
    let admin = Admin::new(ADMIN_TOKEN);
    admin.mfa_never(base).await;
    admin.person(base, "quincy").await;
    // One sign-in refused, one accepted.
    let wrong = super::browser_at(base)
        .sign_in("quincy", "not her password")
        .await;
    assert_eq!(wrong.status, 401, "{wrong:?}");
    let done = super::browser_at(base).sign_in("quincy", PASSWORD).await;
    assert_eq!(done.status, 303, "{done:?}");

    let (status, kind, text) = scrape(&format!("{base}/metrics")).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(kind, "text/plain; version=0.0.4; charset=utf-8");
    let samples: Vec<_> = text.lines().filter_map(sample).collect();
    assert_eq!(
        value_of(
            &samples,
            "portcullis_signin_attempts_total",
            &[("result", "failure")]
        ),
        1.0
    );
    assert_eq!(
        value_of(
            &samples,
            "portcullis_signin_attempts_total",
            &[("result", "success")]
        ),
        1.0
    );
    assert_eq!(
        value_of(&samples, "portcullis_sessions_created_total", &[]),
        1.0
    );
    // Request durations by route pattern, as a histogram whose +Inf bucket counts every request.
    let start_count = value_of(
        &samples,
        "http_server_request_duration_seconds_count",
        &[("http_route", "/start"), ("http_request_method", "GET")],
    );
    assert!(start_count >= 2.0, "two GET /start at least: {start_count}");
    let start_inf = value_of(
        &samples,
        "http_server_request_duration_seconds_bucket",
        &[
            ("http_route", "/start"),
            ("http_request_method", "GET"),
            ("le", "+Inf"),
        ],
    );
    assert_eq!(start_inf, start_count);
    assert!(
        text.contains("# TYPE portcullis_sessions_active gauge"),
        "the active-sessions gauge: {text}"
    );
    // Nothing that names a person or carries a secret.
    for needle in ["quincy", PASSWORD, ADMIN_TOKEN] {
        assert!(!text.contains(needle), "{needle} in the scrape");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_move_to_a_port_of_their_own_or_turn_off() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().to_owned();
    let server = tokio::task::spawn_blocking(move || {
        serve(
            &path,
            &[("PORTCULLIS__TELEMETRY__PROMETHEUS_LISTEN", "127.0.0.1:0")],
        )
    })
    .await
    .expect("serve");
    let port = server.metrics_port.expect("a metrics port in the log");
    assert_ne!(format!("http://127.0.0.1:{port}"), server.url);
    let start = reqwest::get(format!("{}/start", server.url))
        .await
        .expect("GET /start");
    assert_eq!(start.status(), 200);
    let (status, _, text) = scrape(&format!("http://127.0.0.1:{port}/metrics")).await;
    assert_eq!(status, 200);
    let samples: Vec<_> = text.lines().filter_map(sample).collect();
    let count = value_of(
        &samples,
        "http_server_request_duration_seconds_count",
        &[("http_route", "/start")],
    );
    assert_eq!(count, 1.0, "the main port's request, measured: {text}");
    let (status, _, _) = scrape(&format!("{}/metrics", server.url)).await;
    assert_eq!(status, 404, "not on the main port as well");
    drop(server);

    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().to_owned();
    let server = tokio::task::spawn_blocking(move || {
        serve(&path, &[("PORTCULLIS__TELEMETRY__PROMETHEUS", "false")])
    })
    .await
    .expect("serve");
    let (status, _, _) = scrape(&format!("{}/metrics", server.url)).await;
    assert_eq!(status, 404, "turned off");
}

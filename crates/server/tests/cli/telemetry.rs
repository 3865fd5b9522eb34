//! `serve` with `telemetry.otlp_endpoint` set exports spans and metrics over OTLP/gRPC: a
//! collector stand-in (the collector's own gRPC services, from `opentelemetry-proto`) runs in
//! the test, a person signs in through the pages (once rightly, once wrongly), and what arrives
//! must describe that — and must not carry the password, the session cookie or the admin token.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;

use portcullis_testkit::{Admin, Browser, PASSWORD, Page, TIMEOUT};

const ADMIN_TOKEN: &str = "pcat_telemetry-test-admin-token-0123456789";
const HEADER_VALUE: &str = "collector-api-key-5d1f0c9a";

/// What the collector stand-in received.
#[derive(Clone, Default)]
struct Received {
    traces: Arc<Mutex<Vec<ExportTraceServiceRequest>>>,
    metrics: Arc<Mutex<Vec<ExportMetricsServiceRequest>>>,
    /// The `x-api-key` header of each export.
    api_keys: Arc<Mutex<Vec<String>>>,
}

impl Received {
    fn note_key<T>(&self, request: &tonic::Request<T>) {
        let key = request
            .metadata()
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        self.api_keys.lock().unwrap().push(key);
    }

    /// Everything received, as text.
    fn dump(&self) -> String {
        format!(
            "{:?}\n{:?}",
            self.traces.lock().unwrap(),
            self.metrics.lock().unwrap()
        )
    }
}

#[tonic::async_trait]
impl TraceService for Received {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.note_key(&request);
        self.traces.lock().unwrap().push(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Received {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        self.note_key(&request);
        self.metrics.lock().unwrap().push(request.into_inner());
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

fn attr<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

fn is_str(v: Option<&Value>, want: &str) -> bool {
    matches!(v, Some(Value::StringValue(s)) if s == want)
}

/// What the test waits for, checked against everything received so far.
#[derive(Debug, Default)]
struct Seen {
    service_name: bool,
    signin_password_303: bool,
    duration_histogram: bool,
    signin_success: bool,
    signin_failure: bool,
    sessions_created: bool,
    sessions_active: bool,
    /// The portal request's span continues the caller's trace (W3C `traceparent`).
    continues_callers_trace: bool,
}

impl Seen {
    fn all(&self) -> bool {
        self.service_name
            && self.signin_password_303
            && self.duration_histogram
            && self.signin_success
            && self.signin_failure
            && self.sessions_created
            && self.sessions_active
            && self.continues_callers_trace
    }
}

/// The trace and span a caller says it is in, as the `traceparent` of the portal request.
const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn look(r: &Received) -> Seen {
    let mut seen = Seen::default();
    for req in r.traces.lock().unwrap().iter() {
        for rs in &req.resource_spans {
            if rs
                .resource
                .as_ref()
                .is_some_and(|res| is_str(attr(&res.attributes, "service.name"), "portcullis"))
            {
                seen.service_name = true;
            }
            for span in rs.scope_spans.iter().flat_map(|s| &s.spans) {
                if is_str(attr(&span.attributes, "http.route"), "/signin/password")
                    && matches!(
                        attr(&span.attributes, "http.response.status_code"),
                        Some(Value::IntValue(303))
                    )
                {
                    seen.signin_password_303 = true;
                }
                if is_str(attr(&span.attributes, "http.route"), "/portal")
                    && hex_of(&span.trace_id) == CALLER_TRACE
                    && hex_of(&span.parent_span_id) == CALLER_SPAN
                {
                    seen.continues_callers_trace = true;
                }
            }
        }
    }
    for req in r.metrics.lock().unwrap().iter() {
        for metric in req
            .resource_metrics
            .iter()
            .flat_map(|rm| &rm.scope_metrics)
            .flat_map(|sm| &sm.metrics)
        {
            match (metric.name.as_str(), &metric.data) {
                ("http.server.request.duration", Some(Data::Histogram(h))) => {
                    seen.duration_histogram |= h.data_points.iter().any(|p| {
                        is_str(attr(&p.attributes, "http.route"), "/signin/password")
                            && is_str(attr(&p.attributes, "http.request.method"), "POST")
                            && p.count > 0
                    });
                }
                ("portcullis.signin.attempts", Some(Data::Sum(s))) => {
                    for p in &s.data_points {
                        seen.signin_success |= is_str(attr(&p.attributes, "result"), "success");
                        seen.signin_failure |= is_str(attr(&p.attributes, "result"), "failure");
                    }
                }
                ("portcullis.sessions.created", Some(Data::Sum(s))) => {
                    seen.sessions_created |= !s.data_points.is_empty();
                }
                ("portcullis.sessions.active", Some(Data::Gauge(g))) => {
                    seen.sessions_active |= !g.data_points.is_empty();
                }
                _ => {}
            }
        }
    }
    seen
}

/// The values of the cookies an answer sets (long ones only: removals are empty).
fn cookie_values(resp: &reqwest::Response) -> Vec<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|c| c.split(';').next()?.split_once('='))
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| v.len() >= 16)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_exports_spans_and_metrics_over_otlp_without_secrets() {
    let received = Received::default();
    let incoming = tonic::transport::server::TcpIncoming::bind("127.0.0.1:0".parse().unwrap())
        .expect("bind the receiver");
    let port = incoming.local_addr().expect("receiver address").port();
    let receiver = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(received.clone()))
            .add_service(MetricsServiceServer::new(received.clone()))
            .serve_with_incoming(incoming),
    );

    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().to_owned();
    let endpoint = format!("http://127.0.0.1:{port}");
    let headers = format!("x-api-key={HEADER_VALUE}");
    let server = tokio::task::spawn_blocking(move || {
        super::serve(
            &path,
            &[
                ("PORTCULLIS__TELEMETRY__OTLP_ENDPOINT", &endpoint),
                ("PORTCULLIS__TELEMETRY__OTLP_HEADERS", &headers),
                ("PORTCULLIS__TELEMETRY__METRICS_INTERVAL_SECONDS", "1"),
                ("PORTCULLIS__ADMIN__BOOTSTRAP_TOKEN", ADMIN_TOKEN),
            ],
        )
    })
    .await
    .expect("serve");
    let base = server.url.clone();

    let admin = Admin::new(ADMIN_TOKEN);
    admin.mfa_never(&base).await;
    let user_id = admin.person(&base, "otto").await;

    // A real sign-in through the pages, reading the session cookie it sets.
    let client = Browser::client_builder()
        .timeout(TIMEOUT)
        .build()
        .expect("client");
    let page = |body: String| Page {
        status: 200,
        location: None,
        body,
    };
    let start = client
        .get(format!("{base}/start"))
        .send()
        .await
        .expect("GET /start");
    assert_eq!(start.status(), 200);
    let csrf = page(start.text().await.expect("body")).csrf();
    let after_name = client
        .post(format!("{base}/signin/username"))
        .form(&[("csrf", csrf.as_str()), ("username", "otto")])
        .send()
        .await
        .expect("POST /signin/username");
    assert_eq!(after_name.status(), 303);
    let form = client
        .get(format!("{base}/signin/password"))
        .send()
        .await
        .expect("GET /signin/password");
    assert_eq!(form.status(), 200);
    let csrf = page(form.text().await.expect("body")).csrf();
    let signed_in = client
        .post(format!("{base}/signin/password"))
        .form(&[("csrf", csrf.as_str()), ("password", PASSWORD)])
        .send()
        .await
        .expect("POST /signin/password");
    assert_eq!(signed_in.status(), 303, "the sign-in succeeds");
    let cookies = cookie_values(&signed_in);
    assert!(!cookies.is_empty(), "a session cookie is set");
    let portal = client
        .get(format!("{base}/portal"))
        .header("traceparent", format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01"))
        .send()
        .await
        .expect("GET /portal");
    assert_eq!(portal.status(), 200, "signed in");
    // Every answer names its request (the id every log line of that request carries).
    let request_id = |resp: &reqwest::Response| {
        resp.headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (first, second) = (request_id(&portal), request_id(&after_name));
    assert!(
        first
            .as_deref()
            .is_some_and(|id| id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit())),
        "X-Request-Id: {first:?}"
    );
    assert_ne!(first, second, "one id per request");

    // And a failed one, from another browser.
    let wrong = super::browser_at(&base)
        .sign_in("otto", "Wrong-Horse-Battery-1")
        .await;
    assert_eq!(wrong.status, 401, "{wrong:?}");

    let deadline = Instant::now() + Duration::from_secs(20);
    let seen = loop {
        let seen = look(&received);
        if seen.all() || Instant::now() > deadline {
            break seen;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let dump = received.dump();
    assert!(seen.all(), "not everything arrived: {seen:?}\n{dump}");

    assert!(
        received
            .api_keys
            .lock()
            .unwrap()
            .iter()
            .all(|k| k == HEADER_VALUE),
        "every export carries the configured header"
    );
    for secret in cookies
        .iter()
        .map(String::as_str)
        .chain([PASSWORD, ADMIN_TOKEN, HEADER_VALUE])
    {
        assert!(
            !dump.contains(secret),
            "a secret ({} characters) was exported",
            secret.len()
        );
    }
    // Route patterns, never the raw path or its query string.
    assert!(
        dump.contains("/admin/v1/users/{userId}/password")
            && !dump.contains(&format!("users/{user_id}")),
        "spans and metrics name the route pattern, not the path"
    );

    drop(server);
    receiver.abort();
}

#[test]
fn config_check_redacts_export_headers_and_names_a_bad_endpoint() {
    let dir = tempfile::tempdir().expect("dir");
    let out = super::portcullis(dir.path())
        .args(["config", "check"])
        .env(
            "PORTCULLIS__TELEMETRY__OTLP_ENDPOINT",
            "https://otel.example.com:4317",
        )
        .env(
            "PORTCULLIS__TELEMETRY__OTLP_HEADERS",
            format!("X-Api-Key={HEADER_VALUE},tenant=acme"),
        )
        .output()
        .expect("run");
    let (stdout, stderr) = super::text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains(r#"otlp_endpoint = "https://otel.example.com:4317""#),
        "{stdout}"
    );
    assert!(stdout.contains(r#"x-api-key = "<redacted>""#), "{stdout}");
    assert!(
        stdout.contains(r#"service_name = "portcullis""#),
        "{stdout}"
    );
    assert!(stdout.contains("metrics_interval_seconds = 15"), "{stdout}");
    assert!(
        !stdout.contains(HEADER_VALUE) && !stdout.contains("acme"),
        "{stdout}"
    );

    for (var, value, needle) in [
        (
            "PORTCULLIS__TELEMETRY__OTLP_ENDPOINT",
            "grpc://127.0.0.1:4317",
            "telemetry.otlp_endpoint",
        ),
        (
            "PORTCULLIS__TELEMETRY__OTLP_ENDPOINT",
            "127.0.0.1:4317",
            "telemetry.otlp_endpoint",
        ),
        (
            "PORTCULLIS__TELEMETRY__METRICS_INTERVAL_SECONDS",
            "0",
            "telemetry.metrics_interval_seconds",
        ),
        (
            "PORTCULLIS__TELEMETRY__OTLP_HEADERS",
            "novalue",
            "otlp_headers",
        ),
        ("PORTCULLIS__TELEMETRY__SAMPLING", "1", "sampling"),
    ] {
        let out = super::portcullis(dir.path())
            .args(["config", "check"])
            .env(var, value)
            .output()
            .expect("run");
        let (_, stderr) = super::text(&out);
        assert_eq!(out.status.code(), Some(2), "{var}={value}: {stderr}");
        assert!(stderr.contains(needle), "{var}={value}: {stderr}");
    }
}

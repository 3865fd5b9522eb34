//! Logging and OpenTelemetry.
//!
//! Logs go to stderr as human-readable text or JSON lines, as always. With
//! `telemetry.otlp_endpoint` set, spans (one per HTTP request, plus a few around sign-in work)
//! and metrics are also exported over OTLP/gRPC; with `telemetry.prometheus` (on by default) the
//! same metrics are served at `/metrics` for Prometheus to scrape ([`scrape`]). Nothing here is
//! global apart from the tracing subscriber: the [`Telemetry`] value owns the providers and hands
//! out the [`Instruments`] that the application passes to its instruments and routes.
//!
//! What goes into a span is chosen here, never copied from the request wholesale: the method,
//! the route *pattern* (`/admin/v1/users/{id}`, not the path), the status, the duration and a
//! random request id (also answered as `X-Request-Id`). No query string, header, cookie or body
//! is recorded.

use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use anyhow::Context;
use opentelemetry::KeyValue;
use opentelemetry::metrics::{Histogram, Meter, MeterProvider as _, NoopMeterProvider};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{WithExportConfig, WithTonicConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Instrument;
use tracing::field::Empty;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{LogConfig, LogFormat, TelemetryConfig};

pub mod scrape;
pub use scrape::Scrape;

/// The instrumentation scope of every span and instrument.
const SCOPE: &str = "portcullis";

/// How long one export may take before it is abandoned.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// The exporters' providers (none when export is off). Shut it down when the server stops, or
/// the last spans and metrics are lost.
pub struct Telemetry {
    tracer_provider: Option<SdkTracerProvider>,
    meter_provider: Option<SdkMeterProvider>,
    meter: Meter,
    scrape: Option<Scrape>,
}

/// What the application measures with: the meter its instruments come from, and the scrape that
/// `/metrics` serves (when Prometheus is on).
#[derive(Clone, Debug)]
pub struct Instruments {
    pub meter: Meter,
    pub scrape: Option<Scrape>,
}

impl Instruments {
    /// Nothing measured, no `/metrics`.
    pub fn none() -> Self {
        Self {
            meter: noop_meter(),
            scrape: None,
        }
    }
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry")
            .field("exporting", &self.tracer_provider.is_some())
            .finish_non_exhaustive()
    }
}

impl Telemetry {
    /// No export: the meter records nothing.
    pub fn disabled() -> Self {
        Self {
            tracer_provider: None,
            meter_provider: None,
            meter: noop_meter(),
            scrape: None,
        }
    }

    /// The meter every instrument of this process comes from, and the scrape.
    pub fn instruments(&self) -> Instruments {
        Instruments {
            meter: self.meter.clone(),
            scrape: self.scrape.clone(),
        }
    }

    /// Exports what is buffered and stops the exporters. Call it inside the runtime the
    /// exporters were built in (their gRPC channel lives there); it blocks a pool thread, not
    /// the caller's.
    pub async fn shutdown(self) {
        let Self {
            tracer_provider,
            meter_provider,
            ..
        } = self;
        if tracer_provider.is_none() && meter_provider.is_none() {
            return;
        }
        let done = tokio::task::spawn_blocking(move || {
            if let Some(p) = meter_provider
                && let Err(e) = p.shutdown()
            {
                tracing::warn!(error = %e, "could not flush the metrics exporter");
            }
            if let Some(p) = tracer_provider
                && let Err(e) = p.shutdown()
            {
                tracing::warn!(error = %e, "could not flush the trace exporter");
            }
        })
        .await;
        if let Err(e) = done {
            tracing::warn!(error = %e, "telemetry shutdown failed");
        }
    }
}

/// A meter whose instruments record nothing.
pub fn noop_meter() -> Meter {
    NoopMeterProvider::new().meter(SCOPE)
}

/// Installs the process's tracing subscriber (once, from `cli::main`) and, when `telemetry`
/// names an endpoint, the OTLP exporters. `RUST_LOG` overrides the log level (of the stderr
/// output only). Must run inside the Tokio runtime.
pub fn init(log: &LogConfig, telemetry: Option<&TelemetryConfig>) -> anyhow::Result<Telemetry> {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let stderr = match log.format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .with_filter(filter)
            .boxed(),
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            // Colour only for a person at a terminal, never escape codes in a log file.
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_filter(filter)
            .boxed(),
    };
    let otlp = match telemetry.filter(|t| t.endpoint().is_some()) {
        Some(t) => Some(otlp(t)?),
        None => None,
    };
    let prometheus = match telemetry.filter(|t| t.prometheus) {
        Some(_) => Some(Scrape::reader()?),
        None => None,
    };
    let (tracer_provider, otlp_reader) = otlp.unzip();
    let otel = tracer_provider.as_ref().map(|tracer_provider| {
        // Only our own crates' spans and events: never those of the HTTP/2 client that
        // exports them (no feedback loop), whatever the log level.
        tracing_opentelemetry::layer()
            .with_tracer(tracer_provider.tracer(SCOPE))
            .with_filter(Targets::new().with_target("portcullis", tracing::Level::INFO))
    });
    if tracing_subscriber::registry()
        .with(stderr)
        .with(otel)
        .try_init()
        .is_err()
    {
        eprintln!("a tracing subscriber was already installed");
    }
    let Some(t) = telemetry.filter(|_| otlp_reader.is_some() || prometheus.is_some()) else {
        return Ok(Telemetry::disabled());
    };
    let mut meters = SdkMeterProvider::builder().with_resource(resource(t));
    if let Some(reader) = otlp_reader {
        meters = meters.with_reader(reader);
    }
    let scrape = match prometheus {
        Some((reader, scrape)) => {
            meters = meters.with_reader(reader);
            Some(scrape)
        }
        None => None,
    };
    let meter_provider = meters.build();
    Ok(Telemetry {
        meter: meter_provider.meter(SCOPE),
        tracer_provider,
        meter_provider: Some(meter_provider),
        scrape,
    })
}

/// What every span and metric says about its source.
fn resource(t: &TelemetryConfig) -> Resource {
    Resource::builder()
        .with_service_name(t.service_name.clone())
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
        .build()
}

/// The OTLP/gRPC trace pipeline and metric reader for `t` (whose endpoint is set).
fn otlp(
    t: &TelemetryConfig,
) -> anyhow::Result<(
    SdkTracerProvider,
    PeriodicReader<opentelemetry_otlp::MetricExporter>,
)> {
    let endpoint = t.endpoint().unwrap_or_default().to_owned();
    let mut metadata = tonic::metadata::MetadataMap::new();
    for (name, value) in t.headers() {
        let key = tonic::metadata::MetadataKey::from_bytes(name.as_bytes())
            .with_context(|| format!("telemetry.otlp_headers: bad header name '{name}'"))?;
        let value = value.expose().parse().map_err(|_| {
            anyhow::anyhow!("telemetry.otlp_headers: bad value for header '{name}'")
        })?;
        metadata.insert(key, value);
    }
    let tls = endpoint
        .starts_with("https://")
        .then(|| tonic::transport::ClientTlsConfig::new().with_native_roots());
    let mut spans = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint.clone())
        .with_timeout(EXPORT_TIMEOUT)
        .with_metadata(metadata.clone());
    if let Some(tls) = tls.clone() {
        spans = spans.with_tls_config(tls);
    }
    let spans = spans.build().context("building the OTLP span exporter")?;

    let mut metrics = opentelemetry_otlp::MetricExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .with_timeout(EXPORT_TIMEOUT)
        .with_metadata(metadata);
    if let Some(tls) = tls {
        metrics = metrics.with_tls_config(tls);
    }
    let metrics = metrics
        .build()
        .context("building the OTLP metric exporter")?;

    let tracer_provider = SdkTracerProvider::builder()
        .with_batch_exporter(spans)
        .with_resource(resource(t))
        .build();
    let reader = PeriodicReader::builder(metrics)
        .with_interval(Duration::from_secs(t.metrics_interval_seconds))
        .build();
    Ok((tracer_provider, reader))
}

/// The HTTP server instruments (OpenTelemetry semantic conventions).
#[derive(Clone)]
pub struct HttpMetrics {
    duration: Histogram<f64>,
}

impl std::fmt::Debug for HttpMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpMetrics").finish_non_exhaustive()
    }
}

impl HttpMetrics {
    pub fn new(meter: &Meter) -> Self {
        Self {
            duration: meter
                .f64_histogram("http.server.request.duration")
                .with_description("Duration of HTTP server requests")
                .with_unit("s")
                .with_boundaries(vec![
                    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
                ])
                .build(),
        }
    }
}

/// The method as the conventions name it: one of the standard ones, or `_OTHER` (a client
/// cannot blow up the number of series with made-up methods).
fn method_name(method: &actix_web::http::Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "CONNECT" => "CONNECT",
        "OPTIONS" => "OPTIONS",
        "TRACE" => "TRACE",
        "PATCH" => "PATCH",
        _ => "_OTHER",
    }
}

/// Reads trace-context headers from an actix request.
struct HeaderExtractor<'a>(&'a actix_web::http::header::HeaderMap);

impl opentelemetry::propagation::Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// Middleware (with `actix_web::middleware::from_fn`): a server span around each request, and
/// its duration in `http.server.request.duration`.
pub async fn observe<B: MessageBody>(
    metrics: HttpMetrics,
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, actix_web::Error> {
    let method = method_name(req.method());
    // The pattern of the route this request will take (looked up in the resource map: known
    // before the router runs, so the span can be named after it from the start).
    let route = req.match_pattern();
    let name = match &route {
        Some(route) => format!("{method} {route}"),
        None => method.to_owned(),
    };
    // A request id of ours: in the span (so every log line of the request carries it, the cause
    // of an error page included) and in the `X-Request-Id` answer header, so a person who reports
    // an error can name the request.
    let request_id = new_request_id();
    let span = tracing::info_span!(
        "HTTP request",
        request_id = %request_id,
        otel.name = name,
        otel.kind = "server",
        otel.status_code = Empty,
        http.request.method = method,
        http.route = route.as_deref(),
        http.response.status_code = Empty,
        error.type = Empty,
    );
    // A caller's W3C `traceparent` (and `tracestate`) make this span a child of theirs, so a
    // trace crosses from a relying party or resource service into Portcullis.
    if req.headers().contains_key("traceparent") {
        use opentelemetry::propagation::TextMapPropagator as _;
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;
        let parent = opentelemetry_sdk::propagation::TraceContextPropagator::new()
            .extract(&HeaderExtractor(req.headers()));
        let _ = span.set_parent(parent);
    }
    let started = Instant::now();
    let result = next.call(req).instrument(span.clone()).await;
    let seconds = started.elapsed().as_secs_f64();
    let status = match &result {
        Ok(res) => res.status().as_u16(),
        Err(e) => e.as_response_error().status_code().as_u16(),
    };
    let status = i64::from(status);
    let mut attributes = vec![
        KeyValue::new("http.request.method", method),
        KeyValue::new("http.response.status_code", status),
    ];
    if let Some(route) = route {
        attributes.push(KeyValue::new("http.route", route));
    }
    span.record("http.response.status_code", status);
    if status >= 500 {
        span.record("otel.status_code", "ERROR");
        span.record("error.type", status.to_string());
        attributes.push(KeyValue::new("error.type", status.to_string()));
    }
    metrics.duration.record(seconds, &attributes);
    result.map(|mut res| {
        if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&request_id) {
            res.headers_mut().insert(
                actix_web::http::header::HeaderName::from_static("x-request-id"),
                value,
            );
        }
        res
    })
}

/// 16 random hex digits.
fn new_request_id() -> String {
    use rand::RngCore;
    format!("{:016x}", rand::rng().next_u64())
}

/// The `portcullis.sessions.active` gauge: live portal sessions, counted by a background task
/// (counting may scan the store, so it runs every minute, not on each export).
#[derive(Clone)]
pub struct ActiveSessions {
    count: std::sync::Arc<std::sync::atomic::AtomicU64>,
    _gauge: opentelemetry::metrics::ObservableGauge<u64>,
}

impl std::fmt::Debug for ActiveSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActiveSessions").finish_non_exhaustive()
    }
}

/// How often the active-sessions gauge is recounted.
const SESSION_COUNT_PERIOD: Duration = Duration::from_secs(60);

impl ActiveSessions {
    pub fn new(meter: &Meter) -> Self {
        let count = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let read = count.clone();
        let gauge = meter
            .u64_observable_gauge("portcullis.sessions.active")
            .with_description("Live portal sessions (recounted every minute)")
            .with_unit("{session}")
            .with_callback(move |observer| {
                observer.observe(read.load(std::sync::atomic::Ordering::Relaxed), &[]);
            })
            .build();
        Self {
            count,
            _gauge: gauge,
        }
    }

    /// Recounts at once, then every minute, until `stop` turns true.
    pub async fn run(
        self,
        sessions: std::sync::Arc<dyn portcullis_sessions::Sessions>,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        let mut every = tokio::time::interval(SESSION_COUNT_PERIOD);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = every.tick() => {}
                _ = stop.wait_for(|stopped| *stopped) => return,
            }
            match sessions.count_sessions().await {
                Ok(n) => self.count.store(n, std::sync::atomic::Ordering::Relaxed),
                Err(e) => tracing::debug!(error = %e, "could not count the live sessions"),
            }
        }
    }
}

//! The `[telemetry]` section: OpenTelemetry export over OTLP/gRPC, and the Prometheus scrape
//! endpoint.

use serde::{Deserialize, Serialize, Serializer};

use super::{ConfigError, Secret};

/// OpenTelemetry export of traces and metrics over OTLP/gRPC; off unless `otlp_endpoint` is set.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetryConfig {
    /// The collector's OTLP/gRPC endpoint, such as `http://127.0.0.1:4317`. Unset: no export.
    pub otlp_endpoint: Option<String>,
    /// Headers sent with every export (often an API key): a table, or `k=v,k=v`. Secret.
    pub otlp_headers: Option<OtlpHeaders>,
    /// The `service.name` resource attribute.
    pub service_name: String,
    /// How often metrics are exported.
    pub metrics_interval_seconds: u64,
    /// Serve the metrics in Prometheus's text format at `/metrics`.
    pub prometheus: bool,
    /// Serve `/metrics` on this address of its own (such as `127.0.0.1:9464`) instead of the
    /// main port.
    pub prometheus_listen: Option<String>,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            otlp_endpoint: None,
            otlp_headers: None,
            service_name: "portcullis".into(),
            metrics_interval_seconds: 15,
            prometheus: true,
            prometheus_listen: None,
        }
    }
}

impl TelemetryConfig {
    /// The endpoint, when export is on (an empty value means unset).
    pub fn endpoint(&self) -> Option<&str> {
        self.otlp_endpoint
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
    }

    /// The export headers (names lower-cased), none when unset.
    pub fn headers(&self) -> &[(String, Secret)] {
        self.otlp_headers.as_ref().map_or(&[], |h| h.0.as_slice())
    }

    /// The address of the separate metrics listener, when one is set (empty means unset).
    pub fn prometheus_addr(&self) -> Result<Option<std::net::SocketAddr>, ConfigError> {
        let Some(listen) = self
            .prometheus_listen
            .as_deref()
            .map(str::trim)
            .filter(|l| !l.is_empty())
        else {
            return Ok(None);
        };
        listen.parse().map(Some).map_err(|_| {
            ConfigError::Invalid(format!(
                "telemetry.prometheus_listen '{listen}' is not an address such as 127.0.0.1:9464"
            ))
        })
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        self.prometheus_addr()?;
        if let Some(endpoint) = self.endpoint() {
            let ok = url::Url::parse(endpoint)
                .map_err(|e| e.to_string())
                .and_then(|u| {
                    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
                        Err("it must start with http:// or https:// and name a host".to_owned())
                    } else if !u.username().is_empty() || u.password().is_some() {
                        Err(
                            "credentials belong in telemetry.otlp_headers, not in the URL"
                                .to_owned(),
                        )
                    } else {
                        Ok(())
                    }
                });
            if let Err(why) = ok {
                return Err(ConfigError::Invalid(format!(
                    "telemetry.otlp_endpoint is not an http(s) URL such as \
                     http://127.0.0.1:4317: {why}"
                )));
            }
        }
        for (name, value) in self.headers() {
            let name_ok = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b));
            if !name_ok || name.ends_with("-bin") {
                return Err(ConfigError::Invalid(format!(
                    "telemetry.otlp_headers: '{name}' is not a valid header name \
                     (letters, digits, '-', '_' and '.')"
                )));
            }
            if !value.expose().bytes().all(|b| (0x20..0x7f).contains(&b)) {
                return Err(ConfigError::Invalid(format!(
                    "telemetry.otlp_headers: the value of '{name}' must be printable ASCII"
                )));
            }
        }
        if self.service_name.trim().is_empty() {
            return Err(ConfigError::Invalid(
                "telemetry.service_name must not be empty".into(),
            ));
        }
        if !(1..=3600).contains(&self.metrics_interval_seconds) {
            return Err(ConfigError::Invalid(
                "telemetry.metrics_interval_seconds must be between 1 and 3600".into(),
            ));
        }
        Ok(())
    }
}

/// Export headers: from a TOML table (`[telemetry.otlp_headers]`) or a `k=v,k=v` string (as
/// `OTEL_EXPORTER_OTLP_HEADERS` writes them). Values are secrets: `config check` shows the names
/// only.
#[derive(Clone, Default)]
pub struct OtlpHeaders(Vec<(String, Secret)>);

impl std::fmt::Debug for OtlpHeaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(k, v)| (k, v)))
            .finish()
    }
}

impl Serialize for OtlpHeaders {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for OtlpHeaders {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Table(std::collections::BTreeMap<String, Scalar>),
        }
        // `PORTCULLIS__TELEMETRY__OTLP_HEADERS__X_KEY=123` arrives as a number.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Scalar {
            Text(String),
            Int(i64),
            Float(f64),
            Bool(bool),
        }
        let pairs: Vec<(String, String)> = match Raw::deserialize(d)? {
            Raw::Table(t) => t
                .into_iter()
                .map(|(k, v)| {
                    let v = match v {
                        Scalar::Text(s) => s,
                        Scalar::Int(i) => i.to_string(),
                        Scalar::Float(f) => f.to_string(),
                        Scalar::Bool(b) => b.to_string(),
                    };
                    (k, v)
                })
                .collect(),
            Raw::Text(text) => text
                .split(',')
                .filter(|p| !p.trim().is_empty())
                .map(|p| {
                    p.split_once('=')
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        .ok_or_else(|| {
                            serde::de::Error::custom(
                                "expected a table or name=value pairs separated by commas",
                            )
                        })
                })
                .collect::<Result<_, _>>()?,
        };
        Ok(Self(
            pairs
                .into_iter()
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), Secret::new(v.trim())))
                .collect(),
        ))
    }
}

//! `/metrics`: the same instruments as the OTLP export, in Prometheus's text exposition format,
//! read from the meter provider at each scrape (nothing is kept between scrapes but the
//! instruments' own sums).

use actix_web::{HttpResponse, web};

/// What a scrape reads: the registry the Prometheus reader of the meter provider fills.
#[derive(Clone)]
pub struct Scrape {
    registry: prometheus::Registry,
}

impl std::fmt::Debug for Scrape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scrape").finish_non_exhaustive()
    }
}

impl Scrape {
    /// A Prometheus reader for a meter provider, and the scrape that reads it.
    pub(super) fn reader() -> anyhow::Result<(opentelemetry_prometheus::PrometheusExporter, Self)> {
        let registry = prometheus::Registry::new();
        let reader = opentelemetry_prometheus::exporter()
            .with_registry(registry.clone())
            .build()
            .map_err(|e| anyhow::anyhow!("building the Prometheus reader: {e}"))?;
        Ok((reader, Self { registry }))
    }

    /// Everything measured so far, in the text exposition format (version 0.0.4).
    pub fn render(&self) -> Result<String, prometheus::Error> {
        let mut text = String::new();
        prometheus::TextEncoder::new().encode_utf8(&self.registry.gather(), &mut text)?;
        Ok(text)
    }
}

/// `GET /metrics`.
pub async fn metrics(scrape: web::Data<Scrape>) -> HttpResponse {
    match scrape.render() {
        Ok(text) => HttpResponse::Ok()
            .content_type(format!("{}; charset=utf-8", prometheus::TEXT_FORMAT))
            .body(text),
        Err(e) => {
            tracing::warn!(error = %e, "could not encode the metrics");
            HttpResponse::InternalServerError().finish()
        }
    }
}

/// Mounts `/metrics` when there is a scrape to serve.
pub fn routes(scrape: Option<Scrape>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        if let Some(scrape) = scrape {
            cfg.app_data(web::Data::new(scrape))
                .route("/metrics", web::get().to(metrics));
        }
    }
}

//! `--otlp URL`: the run's figures as OpenTelemetry metrics, pushed over
//! OTLP/HTTP (protobuf) every second and flushed at the end, through the
//! OpenTelemetry SDK and its OTLP exporter.
//!
//! Like the Prometheus exporter it reads each second's merged record, never
//! per-request state. Instruments (cumulative): `cliffload.requests`
//! {scenario, task, outcome}, `cliffload.latency` (seconds, an explicit-bucket
//! histogram of successful requests, 50 µs doubling to 26 s) {scenario, task},
//! `cliffload.active` {scenario}; the resource names the service `cliffload`
//! and carries `cliffload.run_id`.

use std::time::Duration;

use anyhow::{Context, Result};
use cliffload_engine::Recorded;
use cliffload_metrics::{Outcome, OutcomeClass};
use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Gauge, Histogram, MeterProvider};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};

/// How often the metrics are pushed.
const PUSH_EVERY: Duration = Duration::from_secs(1);
/// How long one push may take.
const PUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// The run's instruments and the provider that pushes them.
#[derive(Debug)]
pub struct Otlp {
    provider: SdkMeterProvider,
    requests: Counter<u64>,
    latency: Histogram<f64>,
    active: Gauge<i64>,
    endpoint: String,
}

/// The OTLP/HTTP metrics endpoint of `url`: a bare collector address
/// (`http://HOST:4318`) gets the standard `/v1/metrics` path; a URL with a
/// path is used as given.
pub fn endpoint(url: &str) -> Result<String> {
    let parsed = reqwest::Url::parse(url).with_context(|| {
        format!("--otlp {url}: not a URL (give the collector's OTLP/HTTP address, e.g. http://127.0.0.1:4318)")
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        anyhow::bail!("--otlp {url}: OTLP/HTTP needs an http:// or https:// URL");
    }
    Ok(if parsed.path() == "/" {
        format!("{}/v1/metrics", url.trim_end_matches('/'))
    } else {
        url.to_owned()
    })
}

impl Otlp {
    /// Pushes to `url` (see [`endpoint`]) every second from now on, with
    /// HTTP requests sent on the current tokio runtime.
    pub fn start(url: &str, run_id: &str) -> Result<Self> {
        let endpoint = endpoint(url)?;
        let http = Client {
            http: reqwest::Client::builder()
                .timeout(PUSH_TIMEOUT)
                .build()
                .context("--otlp: HTTP client")?,
            runtime: tokio::runtime::Handle::current(),
        };
        let exporter = opentelemetry_otlp::MetricExporter::builder()
            .with_http()
            .with_http_client(http)
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(endpoint.clone())
            .with_timeout(PUSH_TIMEOUT)
            .build()
            .with_context(|| format!("--otlp {url}: cannot build the OTLP exporter"))?;
        let reader = PeriodicReader::builder(exporter)
            .with_interval(PUSH_EVERY)
            .build();
        let resource = Resource::builder()
            .with_service_name("cliffload")
            .with_attributes([
                KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
                KeyValue::new("cliffload.run_id", run_id.to_owned()),
            ])
            .build();
        let provider = SdkMeterProvider::builder()
            .with_reader(reader)
            .with_resource(resource)
            .build();
        let meter = provider.meter("cliffload");
        let buckets: Vec<f64> = (0..20).map(|k| 0.000_05 * f64::from(1u32 << k)).collect();
        Ok(Self {
            requests: meter
                .u64_counter("cliffload.requests")
                .with_description("Requests completed, per task and outcome")
                .build(),
            latency: meter
                .f64_histogram("cliffload.latency")
                .with_unit("s")
                .with_description("Latency of successful requests, per task")
                .with_boundaries(buckets)
                .build(),
            active: meter
                .i64_gauge("cliffload.active")
                .with_description("Users running (closed model) or requests in flight (open model)")
                .build(),
            provider,
            endpoint,
        })
    }

    /// Where the metrics go.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Adds one second's record of `scenario`, whose tasks are `tasks`.
    pub fn add(&self, scenario: &str, tasks: &[String], rec: &Recorded) {
        for (task, row) in tasks.iter().zip(rec.table.tasks()) {
            for outcome in Outcome::ALL {
                let Some(h) = row.get(outcome) else { continue };
                let labels = [
                    KeyValue::new("scenario", scenario.to_owned()),
                    KeyValue::new("task", task.clone()),
                    KeyValue::new("outcome", outcome.name()),
                ];
                self.requests.add(h.count(), &labels);
                if outcome.class() != OutcomeClass::Success {
                    continue;
                }
                let labels = &labels[..2];
                for v in h.inner().iter_recorded() {
                    let seconds = v.value_iterated_to() as f64 / 1e6;
                    for _ in 0..v.count_at_value() {
                        self.latency.record(seconds, labels);
                    }
                }
            }
        }
        self.active.record(
            i64::from(rec.active),
            &[KeyValue::new("scenario", scenario.to_owned())],
        );
    }

    /// Pushes what is left and stops (the push runs on a blocking thread:
    /// the SDK waits for it).
    pub async fn shutdown(&self) -> Result<()> {
        let provider = self.provider.clone();
        tokio::task::spawn_blocking(move || provider.shutdown())
            .await
            .context("--otlp: the last push")?
            .with_context(|| {
                format!(
                    "--otlp: the last push to {} failed (is an OTLP/HTTP collector listening there?)",
                    self.endpoint
                )
            })
    }
}

/// The exporter's HTTP client: reqwest, run on the process's runtime (the
/// SDK pushes from its own thread, which has none).
#[derive(Debug)]
struct Client {
    http: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for Client {
    async fn send_bytes(
        &self,
        request: opentelemetry_http::Request<opentelemetry_http::Bytes>,
    ) -> Result<
        opentelemetry_http::Response<opentelemetry_http::Bytes>,
        opentelemetry_http::HttpError,
    > {
        let http = self.http.clone();
        let request = reqwest::Request::try_from(request)?;
        self.runtime
            .spawn(async move {
                let response = http.execute(request).await?;
                let mut out = opentelemetry_http::Response::builder().status(response.status());
                for (name, value) in response.headers() {
                    out = out.header(name, value);
                }
                let body = response.bytes().await?;
                Ok(out.body(body)?)
            })
            .await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_collector_address_gets_the_metrics_path_and_a_full_url_is_kept() {
        assert_eq!(
            endpoint("http://127.0.0.1:4318").expect("url"),
            "http://127.0.0.1:4318/v1/metrics"
        );
        assert_eq!(
            endpoint("http://127.0.0.1:4318/").expect("url"),
            "http://127.0.0.1:4318/v1/metrics"
        );
        assert_eq!(
            endpoint("http://h:9/otlp/v1/metrics").expect("url"),
            "http://h:9/otlp/v1/metrics"
        );
        let e = endpoint("127.0.0.1:4318").expect_err("no scheme");
        assert!(format!("{e:#}").contains("--otlp"), "{e:#}");
        let e = endpoint("ftp://h:1").expect_err("not http");
        assert!(format!("{e:#}").contains("http://"), "{e:#}");
    }
}

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
//!
//! A push that fails does not stop the run (exporting watches the system
//! under test, it is not part of it), but it is not silent either: the
//! first failure is said on stderr, even under `--quiet`, once, with the
//! endpoint and its cause; the failed pushes are counted and each run's
//! result carries them as [`Warning::ExportFailed`] (issue 27: the SDK's
//! own words were `InternalFailure("Failed to shutdown")`, at the end, and
//! nothing under `--quiet`).

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use cliffload_engine::Recorded;
use cliffload_metrics::{Outcome, OutcomeClass};
use cliffload_report::Warning;
use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Gauge, Histogram, MeterProvider};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider, Temporality};

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
    pushes: Arc<Pushes>,
}

/// How the pushes went: counted by [`Counted`], their causes set by [`Client`].
#[derive(Debug, Default)]
struct Pushes {
    endpoint: String,
    tried: AtomicU64,
    failed: AtomicU64,
    /// The cause of the push under way's last failed HTTP request, in words.
    cause: Mutex<Option<String>>,
    /// The cause of the last failed push, in words.
    reason: Mutex<Option<String>>,
    /// The first failure has been said on stderr.
    told: AtomicBool,
    /// `(tried, failed)` when the last run's warning was made: a suite's
    /// runs each count their own.
    reported: Mutex<(u64, u64)>,
}

impl Pushes {
    fn set_cause(&self, cause: Option<String>) {
        if let Ok(mut c) = self.cause.lock() {
            *c = cause;
        }
    }

    fn reason(&self) -> Option<String> {
        self.reason.lock().ok().and_then(|r| r.clone())
    }

    /// Counts one push; the first failure is said on stderr (once: at one
    /// push a second, more would bury the progress).
    fn record(&self, result: &OTelSdkResult) {
        self.tried.fetch_add(1, Ordering::SeqCst);
        let Err(e) = result else { return };
        self.failed.fetch_add(1, Ordering::SeqCst);
        // The HTTP client's words, else the SDK's ("Operation failed: …").
        let cause = self
            .cause
            .lock()
            .ok()
            .and_then(|c| c.clone())
            .unwrap_or_else(|| e.to_string());
        if let Ok(mut r) = self.reason.lock() {
            *r = Some(cause.clone());
        }
        if self.told.swap(true, Ordering::SeqCst) {
            return;
        }
        // On a terminal the progress line may be mid-draw: start a line of
        // our own (the dashboard's Stop does the same).
        let lead = if std::io::stderr().is_terminal() {
            "\n"
        } else {
            ""
        };
        eprintln!(
            "{lead}warning: --otlp: cannot push the metrics to {}: {cause}; \
             start an OTLP/HTTP collector there (e.g. the OpenTelemetry Collector on port 4318) \
             or correct --otlp. The run goes on and its results do not depend on it; \
             result.json counts the failed pushes",
            self.endpoint
        );
    }

    /// The warning for the pushes since the last call, if any failed.
    fn warning(&self) -> Option<Warning> {
        let (tried, failed) = (
            self.tried.load(Ordering::SeqCst),
            self.failed.load(Ordering::SeqCst),
        );
        let (tried_before, failed_before) = self
            .reported
            .lock()
            .map(|mut r| std::mem::replace(&mut *r, (tried, failed)))
            .unwrap_or_default();
        let failures = failed.saturating_sub(failed_before);
        (failures > 0).then(|| Warning::ExportFailed {
            exporter: "otlp".to_owned(),
            endpoint: self.endpoint.clone(),
            failures,
            pushes: tried.saturating_sub(tried_before),
            reason: self
                .reason()
                .unwrap_or_else(|| "the OTLP exporter gave no cause".to_owned()),
        })
    }
}

/// The OTLP exporter, with each push's outcome counted in [`Pushes`].
#[derive(Debug)]
struct Counted<E> {
    inner: E,
    pushes: Arc<Pushes>,
}

impl<E: PushMetricExporter> PushMetricExporter for Counted<E> {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        // A cause is this push's, not one left by an earlier push.
        self.pushes.set_cause(None);
        let result = self.inner.export(metrics).await;
        self.pushes.record(&result);
        result
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
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
        let pushes = Arc::new(Pushes {
            endpoint: endpoint.clone(),
            ..Pushes::default()
        });
        let http = Client {
            http: reqwest::Client::builder()
                .timeout(PUSH_TIMEOUT)
                .build()
                .context("--otlp: HTTP client")?,
            runtime: tokio::runtime::Handle::current(),
            pushes: pushes.clone(),
        };
        let exporter = opentelemetry_otlp::MetricExporter::builder()
            .with_http()
            .with_http_client(http)
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(endpoint.clone())
            .with_timeout(PUSH_TIMEOUT)
            .build()
            .with_context(|| format!("--otlp {url}: cannot build the OTLP exporter"))?;
        let exporter = Counted {
            inner: exporter,
            pushes: pushes.clone(),
        };
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
            pushes,
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

    /// Pushes the figures so far now (at the end of a run, so its last
    /// push holds its totals before its result is written), and returns
    /// the warning for the run's failed pushes, if any failed.
    pub async fn flush(&self) -> Option<Warning> {
        let provider = self.provider.clone();
        // The SDK blocks on the push: off the runtime, which sends it. Its
        // outcome is counted in `pushes` (with a cause in words, unlike the
        // SDK's error), so the error here adds nothing.
        let _ = tokio::task::spawn_blocking(move || provider.force_flush()).await;
        self.pushes.warning()
    }

    /// Pushes what is left and stops. Like every push, a failure is said
    /// if it is the first; the result is written by now.
    pub async fn shutdown(&self) {
        let provider = self.provider.clone();
        let _ = tokio::task::spawn_blocking(move || provider.shutdown()).await;
    }
}

/// The exporter's HTTP client: reqwest, run on the process's runtime (the
/// SDK pushes from its own thread, which has none).
#[derive(Debug)]
struct Client {
    http: reqwest::Client,
    runtime: tokio::runtime::Handle,
    /// Where a failed request's cause goes.
    pushes: Arc<Pushes>,
}

/// A failed request's cause, in words: reqwest's own Display is "error
/// sending request for url (…)"; the innermost cause says what happened.
fn cause(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return format!("no answer within {} s", PUSH_TIMEOUT.as_secs());
    }
    let mut inner: &dyn std::error::Error = e;
    while let Some(source) = inner.source() {
        inner = source;
    }
    if e.is_connect() {
        format!("cannot connect ({inner})")
    } else {
        inner.to_string()
    }
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
        let pushes = self.pushes.clone();
        self.runtime
            .spawn(async move {
                let response = http.execute(request).await.inspect_err(|e| {
                    pushes.set_cause(Some(cause(e)));
                })?;
                if !response.status().is_success() {
                    pushes.set_cause(Some(format!(
                        "the collector answered HTTP {} (is it an OTLP/HTTP receiver, and the path its metrics path?)",
                        response.status()
                    )));
                }
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

    #[test]
    fn each_runs_warning_counts_its_own_failed_pushes_with_the_last_cause() {
        let pushes = Pushes {
            endpoint: "http://127.0.0.1:9/v1/metrics".into(),
            ..Pushes::default()
        };
        let failed = || {
            Err(opentelemetry_sdk::error::OTelSdkError::InternalFailure(
                "x".into(),
            ))
        };
        pushes.set_cause(Some("cannot connect".into()));
        pushes.record(&failed());
        pushes.record(&Ok(()));
        let Some(Warning::ExportFailed {
            failures,
            pushes: tried,
            reason,
            ..
        }) = pushes.warning()
        else {
            panic!("a warning");
        };
        assert_eq!((failures, tried, reason.as_str()), (1, 2, "cannot connect"));
        // The next run of a suite: all went through.
        pushes.record(&Ok(()));
        assert_eq!(pushes.warning(), None);
        // Then none did, and the SDK's words are all there is.
        pushes.set_cause(None);
        pushes.record(&failed());
        let Some(Warning::ExportFailed {
            failures,
            pushes: tried,
            reason,
            ..
        }) = pushes.warning()
        else {
            panic!("a warning");
        };
        assert_eq!((failures, tried), (1, 1));
        assert!(reason.contains('x'), "{reason}");
    }
}

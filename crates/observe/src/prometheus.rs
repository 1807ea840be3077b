//! `--prometheus ADDR`: the run's figures as a Prometheus scrape endpoint
//! (`GET /metrics`, OpenMetrics text), through the prometheus-client crate.
//!
//! The exporter reads each second's merged record as the engine hands it
//! over (`RunOptions::intervals`), never per-request state, so exporting
//! costs the generator nothing per request. Series:
//! `cliffload_requests_total{task, outcome}`,
//! `cliffload_latency_seconds{task}` (a histogram of successful requests,
//! buckets from 50 µs doubling to 26 s) and `cliffload_active`, each with
//! the `scenario` label (a suite runs several) and the run's `run_id`; and
//! `cliffload_run_finished`, 1 once the figures are final; and the
//! process's own `process_resident_memory_bytes` and
//! `process_cpu_seconds_total` (the client libraries' usual names), read
//! at each scrape.
//!
//! The figures of the last second arrive after the run ends: were
//! `/metrics` closed then, a scraper's last scrape would miss up to a
//! scrape interval of requests (6.6 % below result.json, issue 27). So the
//! exporter knows when its figures are final ([`Exporter::finish`]) and
//! counts the scrapes served after that ([`Exporter::final_scrape`]), for
//! the caller to keep serving until one has been.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use anyhow::{Context, Result};
use cliffload_engine::{CancellationToken, Recorded};
use cliffload_metrics::{Outcome, OutcomeClass};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    scenario: String,
    task: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TaskLabels {
    scenario: String,
    task: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ScenarioLabels {
    scenario: String,
}

/// Latency buckets: 50 µs, 100 µs, … 26 s (seconds, as Prometheus wants).
fn histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_05, 2.0, 20))
}

/// The run's metrics, updated once a second.
#[derive(Debug)]
pub struct Exporter {
    registry: Registry,
    requests: Family<RequestLabels, Counter<u64, AtomicU64>>,
    latency: Family<TaskLabels, Histogram, fn() -> Histogram>,
    active: Family<ScenarioLabels, Gauge>,
    /// `cliffload_run_finished`: 0 while the run goes, 1 once the figures are final.
    finished_gauge: Gauge,
    /// Set by [`Exporter::finish`], read before each scrape is encoded.
    finished: AtomicBool,
    /// Scrapes encoded after [`Exporter::finish`]: they hold the final figures.
    final_scrapes: AtomicU64,
    /// `process_resident_memory_bytes`, read at each scrape.
    memory: Gauge,
    /// `process_cpu_seconds_total`, and the CPU time it last counted.
    cpu: Counter<f64, AtomicU64>,
    cpu_counted: std::sync::Mutex<std::time::Duration>,
    /// Wakes [`Exporter::final_scrape`].
    scraped: tokio::sync::Notify,
}

impl Exporter {
    /// Metrics for the run `run_id` (one scenario, or a suite's).
    pub fn new(run_id: &str) -> Self {
        let mut registry = Registry::with_labels(
            [(Cow::Borrowed("run_id"), Cow::Owned(run_id.to_owned()))].into_iter(),
        );
        let requests = Family::<RequestLabels, Counter<u64, AtomicU64>>::default();
        let latency =
            Family::<TaskLabels, Histogram, fn() -> Histogram>::new_with_constructor(histogram);
        let active = Family::<ScenarioLabels, Gauge>::default();
        registry.register(
            "cliffload_requests",
            "Requests completed, per task and outcome",
            requests.clone(),
        );
        registry.register(
            "cliffload_latency_seconds",
            "Latency of successful requests, per task",
            latency.clone(),
        );
        registry.register(
            "cliffload_active",
            "Users running (closed model) or requests in flight (open model)",
            active.clone(),
        );
        let finished_gauge = Gauge::default();
        registry.register(
            "cliffload_run_finished",
            "1 once the run (a suite: every scenario) has ended and the figures are final, 0 before",
            finished_gauge.clone(),
        );
        let memory = Gauge::default();
        registry.register(
            "process_resident_memory_bytes",
            "Resident memory of the cliffload process, bytes",
            memory.clone(),
        );
        let cpu = Counter::<f64, AtomicU64>::default();
        registry.register(
            "process_cpu_seconds",
            "CPU time the cliffload process has used, seconds",
            cpu.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            active,
            finished_gauge,
            finished: AtomicBool::new(false),
            final_scrapes: AtomicU64::new(0),
            memory,
            cpu,
            cpu_counted: std::sync::Mutex::new(std::time::Duration::ZERO),
            scraped: tokio::sync::Notify::new(),
        }
    }

    /// Every record is in: from now on a scrape gets the final figures and
    /// `cliffload_run_finished 1`.
    pub fn finish(&self) {
        self.finished_gauge.set(1);
        self.finished.store(true, Ordering::SeqCst);
    }

    /// Scrapes served with the final figures so far.
    pub fn final_scrapes(&self) -> u64 {
        self.final_scrapes.load(Ordering::SeqCst)
    }

    /// Returns once a scrape has been served with the final figures.
    pub async fn final_scrape(&self) {
        // `notify_one` keeps a permit when no one waits yet, so a scrape
        // between the check and the wait is not missed.
        while self.final_scrapes() == 0 {
            self.scraped.notified().await;
        }
    }

    /// One scrape's answer; counted as final when [`Exporter::finish`] came
    /// before it was encoded (all records were in by then).
    fn scrape(&self) -> String {
        self.read_process();
        let is_final = self.finished.load(Ordering::SeqCst);
        let text = self.text();
        if is_final {
            self.final_scrapes.fetch_add(1, Ordering::SeqCst);
            self.scraped.notify_one();
        }
        text
    }

    /// The process's memory and CPU time, into their series.
    fn read_process(&self) {
        let Some((rss, cpu)) = cliffload_monitor::own_usage() else {
            return;
        };
        self.memory.set(i64::try_from(rss).unwrap_or(i64::MAX));
        let mut counted = self
            .cpu_counted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cpu > *counted {
            self.cpu.inc_by((cpu - *counted).as_secs_f64());
            *counted = cpu;
        }
    }

    /// Adds one second's record of `scenario`, whose tasks are `tasks` (plan order).
    pub fn add(&self, scenario: &str, tasks: &[String], rec: &Recorded) {
        for (task, row) in tasks.iter().zip(rec.table.tasks()) {
            for outcome in Outcome::ALL {
                let Some(h) = row.get(outcome) else { continue };
                self.requests
                    .get_or_create(&RequestLabels {
                        scenario: scenario.to_owned(),
                        task: task.clone(),
                        outcome: outcome.name(),
                    })
                    .inc_by(h.count());
                if outcome.class() != OutcomeClass::Success {
                    continue;
                }
                let hist = self.latency.get_or_create(&TaskLabels {
                    scenario: scenario.to_owned(),
                    task: task.clone(),
                });
                for v in h.inner().iter_recorded() {
                    let seconds = v.value_iterated_to() as f64 / 1e6;
                    for _ in 0..v.count_at_value() {
                        hist.observe(seconds);
                    }
                }
            }
        }
        self.active
            .get_or_create(&ScenarioLabels {
                scenario: scenario.to_owned(),
            })
            .set(i64::from(rec.active));
    }

    /// The metrics in the OpenMetrics text format.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Binds `addr` and serves `GET /metrics` from `exporter` until `stop`;
/// the address bound, and the server, which ends once the scrapes in
/// progress at `stop` have been answered.
///
/// Unlike the dashboard, it takes any `Host`: a scraper sends the name its
/// configuration gives the target, which may be any name of this machine,
/// and refusing it would break scrapes for no gain (the figures are
/// read-only, and nothing here stops the run).
pub async fn serve(
    addr: std::net::SocketAddr,
    exporter: Arc<Exporter>,
    stop: CancellationToken,
) -> Result<(std::net::SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("--prometheus: cannot bind {addr}"))?;
    let bound = listener.local_addr()?;
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let exporter = exporter.clone();
            async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    exporter.scrape(),
                )
            }
        }),
    );
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await;
    });
    Ok((bound, server))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use cliffload_metrics::TaskTable;

    use super::*;

    #[test]
    fn a_seconds_record_becomes_counters_and_a_histogram_per_task() {
        let e = Exporter::new("r1");
        let mut table = TaskTable::new(2);
        for _ in 0..3 {
            table.record(0, Outcome::Ok, Duration::from_micros(300));
        }
        table.record(1, Outcome::Timeout, Duration::from_secs(1));
        e.add(
            "ping",
            &["a".into(), "b".into()],
            &Recorded {
                table,
                active: 4,
                ..Recorded::default()
            },
        );
        let text = e.text();
        for line in [
            r#"cliffload_requests_total{run_id="r1",scenario="ping",task="a",outcome="ok"} 3"#,
            r#"cliffload_requests_total{run_id="r1",scenario="ping",task="b",outcome="timeout"} 1"#,
            r#"cliffload_latency_seconds_count{run_id="r1",scenario="ping",task="a"} 3"#,
            r#"cliffload_active{run_id="r1",scenario="ping"} 4"#,
        ] {
            assert!(text.contains(line), "{line} missing in\n{text}");
        }
        assert!(
            text.contains(r#"cliffload_run_finished{run_id="r1"} 0"#),
            "{text}"
        );
        // Failures are counted, not put in the latency histogram.
        assert!(
            !text.contains(
                r#"cliffload_latency_seconds_count{run_id="r1",scenario="ping",task="b"}"#
            )
        );
    }

    #[test]
    fn a_scrape_carries_the_process_memory_and_cpu() {
        let e = Exporter::new("r1");
        // CPU time counts in 10 ms ticks: use some first.
        let busy = std::time::Instant::now();
        let mut spun = 0u64;
        while busy.elapsed() < Duration::from_millis(60) {
            spun = spun.wrapping_add(std::hint::black_box(1));
        }
        assert!(spun > 0);
        let text = e.scrape();
        let value = |name: &str| -> f64 {
            let prefix = format!("{name}{{run_id=\"r1\"}} ");
            text.lines()
                .find_map(|l| l.strip_prefix(&prefix))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} missing in\n{text}"))
        };
        assert!(value("process_resident_memory_bytes") > 1e6);
        assert!(value("process_cpu_seconds_total") > 0.0);
    }

    #[tokio::test]
    async fn only_a_scrape_after_finish_counts_as_final() {
        let e = Exporter::new("r1");
        let _ = e.scrape();
        assert_eq!(e.final_scrapes(), 0);
        e.finish();
        assert_eq!(e.final_scrapes(), 0);
        let text = e.scrape();
        assert!(
            text.contains(r#"cliffload_run_finished{run_id="r1"} 1"#),
            "{text}"
        );
        assert_eq!(e.final_scrapes(), 1);
        // Already scraped: the wait ends at once.
        tokio::time::timeout(Duration::from_secs(5), e.final_scrape())
            .await
            .expect("a final scrape was served");
    }
}

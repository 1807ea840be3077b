//! What watches a run as it goes: `--dashboard`, `--prometheus`, `--otlp`,
//! behind the run's [`Observer`] trait, so the run never names them.
//!
//! Each reads the per-second merged records the engine hands over
//! (`RunOptions::intervals`), on this runtime, never per-request state.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Result;
use cliffload_engine::{CancellationToken, Recorded};
use cliffload_monitor::Watched;
use cliffload_report::RunResult;
use cliffload_scenario::Scenario;
use tokio::sync::mpsc::UnboundedSender;

use cliffload_run::Observer;
use cliffload_run::progress::Printer;
use cliffload_run::signals;

use crate::dashboard::Dashboard;
use crate::otlp::Otlp;
use crate::prometheus::Exporter;

pub mod dashboard;
pub mod otlp;
pub mod prometheus;

/// What to start: the flags of `run` and `suite` that watch.
#[derive(Debug, Clone, Default)]
pub struct ObserveConfig {
    /// `--dashboard`: the live page's address.
    pub dashboard: Option<SocketAddr>,
    /// `--keep-dashboard`: up after the run until Ctrl-C.
    pub keep_dashboard: bool,
    /// `--prometheus`: the scrape endpoint's address.
    pub prometheus: Option<SocketAddr>,
    /// `--prometheus-linger`: the longest wait for a scrape of the final figures.
    pub prometheus_linger: std::time::Duration,
    /// `--otlp`: the collector's URL.
    pub otlp: Option<String>,
}

/// How long the last records may take to reach the observers, and the
/// last dashboard update the page.
const LAST_UPDATE: std::time::Duration = std::time::Duration::from_secs(2);

/// The run's observers (none, when no flag asked for one).
#[derive(Debug, Default)]
pub struct Observers {
    exporter: Option<Arc<Exporter>>,
    /// `/metrics`, answering until the scrapes in progress at `shutdown` are.
    exporter_server: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// `--prometheus-linger`: how long to wait for a scrape of the final figures.
    linger: std::time::Duration,
    /// Where the final figures are, for the words of the wait.
    metrics_url: String,
    otlp: Option<Arc<Otlp>>,
    dashboard: Option<Arc<Dashboard>>,
    /// Ends the servers.
    shutdown: CancellationToken,
    dashboard_server: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// The tasks that hand each load's records to the observers: each ends
    /// once its load has ended and its last record is in.
    feeds: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
    keep_dashboard: bool,
}

impl Observers {
    /// Starts what `args` asks for; `title` names the run (a scenario, or
    /// a suite); the dashboard's Stop button cancels `cancel`.
    pub async fn start(
        args: &ObserveConfig,
        title: &str,
        cancel: &CancellationToken,
        printer: &mut Printer,
    ) -> Result<Self> {
        let mut o = Self::default();
        o.keep_dashboard = args.keep_dashboard;
        let run_id = uuid::Uuid::new_v4().simple().to_string();
        if let Some(addr) = args.prometheus {
            let exporter = Arc::new(Exporter::new(&run_id));
            let (bound, server) =
                crate::prometheus::serve(addr, exporter.clone(), o.shutdown.clone()).await?;
            o.exporter_server = std::sync::Mutex::new(Some(server));
            o.linger = args.prometheus_linger;
            o.metrics_url = format!("http://{bound}/metrics");
            printer.say(&format!(
                "metrics for Prometheus at http://{bound}/metrics (run_id {run_id})"
            ));
            warn_if_exposed(printer, "--prometheus", bound, "read the run's figures");
            o.exporter = Some(exporter);
        }
        if let Some(url) = &args.otlp {
            let otlp = Otlp::start(url, &run_id)?;
            printer.note(&format!(
                "metrics pushed over OTLP to {} every second (run_id {run_id})",
                otlp.endpoint()
            ));
            o.otlp = Some(Arc::new(otlp));
        }
        if let Some(addr) = args.dashboard {
            let (dash, server) =
                Dashboard::start(addr, title, cancel.clone(), o.shutdown.clone()).await?;
            printer.say(&format!("live dashboard at {}", dash.url()));
            warn_if_exposed(
                printer,
                "--dashboard",
                dash.addr(),
                "read the run and stop it",
            );
            o.dashboard = Some(dash);
            o.dashboard_server = std::sync::Mutex::new(Some(server));
        }
        Ok(o)
    }

    /// The channel for one load of `scenario`'s records, when anything
    /// watches; `watched` and `max_increase_mib` are the dashboard's
    /// process charts and memory check.
    fn feed_records(
        &self,
        scenario: &Scenario,
        watched: &[Watched],
        max_increase_mib: Option<f64>,
    ) -> Option<UnboundedSender<(u32, Recorded)>> {
        if self.exporter.is_none() && self.otlp.is_none() && self.dashboard.is_none() {
            return None;
        }
        let exporter = self.exporter.clone();
        let otlp = self.otlp.clone();
        let mut live = self
            .dashboard
            .as_ref()
            .map(|d| d.live(scenario, watched.to_vec(), max_increase_mib));
        let name = scenario.name.clone();
        let tasks: Vec<String> = scenario.tasks.iter().map(|t| t.name.clone()).collect();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(u32, Recorded)>();
        let task = tokio::spawn(async move {
            while let Some((index, rec)) = rx.recv().await {
                if let Some(e) = &exporter {
                    e.add(&name, &tasks, &rec);
                }
                if let Some(o) = &otlp {
                    o.add(&name, &tasks, &rec);
                }
                if let Some(l) = &mut live {
                    l.add(index, rec);
                }
            }
        });
        if let Ok(mut feeds) = self.feeds.lock() {
            feeds.push(task);
        }
        Some(tx)
    }

    /// Waits for every record handed over so far to reach the observers.
    async fn drain(&self) {
        let feeds = self
            .feeds
            .lock()
            .map(|mut f| std::mem::take(&mut *f))
            .unwrap_or_default();
        for f in feeds {
            let _ = tokio::time::timeout(LAST_UPDATE, f).await;
        }
    }

    /// A run's final result, before it is written: the OTLP collector gets
    /// the run's totals now, and a failed export becomes a warning of the
    /// result (never a change of its verdict: exporting watches the system
    /// under test, it is not part of it); the dashboard shows the verdict.
    async fn finish_result(&self, r: &mut RunResult) {
        self.drain().await;
        if let Some(o) = &self.otlp
            && let Some(w) = o.flush().await
        {
            r.warnings.push(w);
        }
        if let Some(d) = &self.dashboard {
            d.finish(r);
        }
    }

    /// Ends the observers: with `--keep-dashboard`, only after Ctrl-C (or
    /// the second one, when the first ended the run); with `--prometheus`,
    /// once the final figures have been scraped (or `--prometheus-linger`
    /// has passed, or Ctrl-C).
    async fn close_all(
        &self,
        cancel: &CancellationToken,
        abort: &CancellationToken,
        printer: &mut Printer,
    ) {
        // Every record in before the last push and the final figures.
        self.drain().await;
        if let Some(o) = &self.otlp {
            o.shutdown().await;
        }
        if let Some(e) = &self.exporter {
            e.finish();
        }
        if let (Some(d), true) = (&self.dashboard, self.keep_dashboard) {
            signals::results_written("closing the dashboard");
            printer.say(&format!(
                "the dashboard stays up at {}: Ctrl-C to exit",
                d.url()
            ));
            until_signal(cancel, abort).await;
        } else if let Some(e) = &self.exporter {
            self.linger(e, (cancel, abort), printer).await;
        }
        self.shutdown.cancel();
        for server in [&self.dashboard_server, &self.exporter_server] {
            let server = server.lock().ok().and_then(|mut s| s.take());
            if let Some(server) = server {
                let _ = tokio::time::timeout(LAST_UPDATE, server).await;
            }
        }
    }

    /// Keeps `/metrics` up until a scraper has read the final figures, for
    /// at most `--prometheus-linger`: a scraper polls, and the last second
    /// comes in after the run, so closing at once lost up to a scrape
    /// interval of figures (issue 27).
    async fn linger(
        &self,
        e: &Exporter,
        (cancel, abort): (&CancellationToken, &CancellationToken),
        printer: &mut Printer,
    ) {
        if self.linger.is_zero() || e.final_scrapes() > 0 || abort.is_cancelled() {
            return;
        }
        signals::results_written("not waiting for a final scrape");
        printer.say(&format!(
            "waiting up to {} s for a scrape of the final figures at {} (Ctrl-C, or --prometheus-linger 0s, to skip)",
            self.linger.as_secs_f64(),
            self.metrics_url
        ));
        tokio::select! {
            () = e.final_scrape() => {}
            () = until_signal(cancel, abort) => {}
            () = tokio::time::sleep(self.linger) => printer.say(&format!(
                "no scrape of the final figures in {} s: closing {} (the figures are in the results)",
                self.linger.as_secs_f64(),
                self.metrics_url
            )),
        }
    }
}

/// Returns at the next Ctrl-C: the first, or the second when the first
/// ended the run.
async fn until_signal(cancel: &CancellationToken, abort: &CancellationToken) {
    if cancel.is_cancelled() {
        abort.cancelled().await;
    } else {
        cancel.cancelled().await;
    }
}

#[async_trait::async_trait]
impl Observer for Observers {
    fn feed(
        &self,
        scenario: &Scenario,
        watched: &[Watched],
        max_increase_mib: Option<f64>,
    ) -> Option<UnboundedSender<(u32, Recorded)>> {
        self.feed_records(scenario, watched, max_increase_mib)
    }

    async fn finish(&self, result: &mut RunResult) {
        self.finish_result(result).await;
    }

    async fn close(
        &self,
        cancel: &CancellationToken,
        abort: &CancellationToken,
        printer: &mut Printer,
    ) {
        self.close_all(cancel, abort, printer).await;
    }
}

/// Warns when `flag`'s server listens on more than loopback: anyone who can
/// reach `addr` can do `what`, and no password guards it.
fn warn_if_exposed(printer: &mut Printer, flag: &str, addr: SocketAddr, what: &str) {
    if addr.ip().is_loopback() {
        return;
    }
    let reach = if addr.ip().is_unspecified() {
        "every network interface of this machine"
    } else {
        "a network address, not only this machine"
    };
    printer.say(&format!(
        "warning: {flag} listens on {addr}, {reach}: anyone who can reach it can {what}; \
         give {flag}=127.0.0.1:{port} to keep it on this machine",
        port = addr.port()
    ));
}

impl Drop for Observers {
    /// The servers end with their observers, on every path out (an error too).
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

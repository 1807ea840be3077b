//! What watches a run as it goes. The run owns its observer and never names
//! what it is: the binary gives it the live dashboard and the metrics
//! exporters (`cliffload-observe`), a test gives it [`Unobserved`].

use cliffload_engine::{CancellationToken, Recorded};
use cliffload_monitor::Watched;
use cliffload_report::RunResult;
use cliffload_scenario::Scenario;
use tokio::sync::mpsc::UnboundedSender;

use crate::progress::Printer;

/// Watches a run: fed each second's merged record as the engine hands it
/// over (never per-request state), told each final result, closed once the
/// results are written.
#[async_trait::async_trait]
pub trait Observer: Send + Sync + std::fmt::Debug {
    /// The channel for one load of `scenario`'s records, when anything
    /// watches; `watched` and `max_increase_mib` are the processes charted
    /// and the memory check.
    fn feed(
        &self,
        scenario: &Scenario,
        watched: &[Watched],
        max_increase_mib: Option<f64>,
    ) -> Option<UnboundedSender<(u32, Recorded)>>;

    /// A load's final result, before it is written: an observer may add
    /// a warning (a failed export), never change the verdict.
    async fn finish(&self, result: &mut RunResult);

    /// Ends the observing, after the results are written. `cancel` is the
    /// run's Ctrl-C, `abort` the second one.
    async fn close(
        &self,
        cancel: &CancellationToken,
        abort: &CancellationToken,
        printer: &mut Printer,
    );
}

/// Nothing watches the run.
#[derive(Debug, Default, Clone, Copy)]
pub struct Unobserved;

#[async_trait::async_trait]
impl Observer for Unobserved {
    fn feed(
        &self,
        _: &Scenario,
        _: &[Watched],
        _: Option<f64>,
    ) -> Option<UnboundedSender<(u32, Recorded)>> {
        None
    }

    async fn finish(&self, _: &mut RunResult) {}

    async fn close(&self, _: &CancellationToken, _: &CancellationToken, _: &mut Printer) {}
}

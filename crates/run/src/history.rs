//! The run in the history: after its verdict, the recent runs of the same
//! scenario (same hash) are read, the run is judged against them when
//! `--baseline history` asked, the trend is attached for the reports, and
//! the run is stored. A history that cannot be read or written is a warning
//! in the result; the run, its files and its exit code are unaffected,
//! unless the run asked to be judged by the history.

use cliffload_history::{Filter, History, HistoryError, Location};
use cliffload_report::RunResult;
use cliffload_report::Warning;
use cliffload_report::trend::{self, Trend};
use cliffload_report::verdict::{Check, Status};

use crate::progress::Printer;

/// Where a run is remembered, under what label, and whether it is judged
/// against the history (`--baseline history`).
#[derive(Debug, Clone)]
pub struct HistorySpec {
    /// The store.
    pub location: Location,
    /// `--label`.
    pub label: Option<String>,
    /// `--baseline history`.
    pub judge: bool,
}

/// Opens the history once (off the async runtime): `--baseline history`
/// with a history that cannot be opened is a usage error before any load.
pub async fn check(spec: &HistorySpec) -> anyhow::Result<()> {
    let location = spec.location.clone();
    tokio::task::spawn_blocking(move || History::open(&location).map(drop))
        .await?
        .map_err(|e| anyhow::anyhow!("--baseline history: {e}"))
}

/// Judges (when asked), attaches the trend and stores `result`; says on
/// stderr under which id. `allowance`: the percent a figure may be worse.
pub async fn remember(
    result: RunResult,
    spec: &HistorySpec,
    allowance: f64,
    printer: &mut Printer,
) -> RunResult {
    let spec2 = spec.clone();
    let kept = result.clone();
    match tokio::task::spawn_blocking(move || remember_blocking(result, &spec2, allowance)).await {
        Ok((r, Ok(id))) => {
            printer.note(&format!(
                "remembered as run {id} in {} (cliffload history; cliffload diff {id} OTHER)",
                spec.location.display()
            ));
            r
        }
        Ok((r, Err(_))) => r,
        // The blocking task panicked: the result as it was, and why.
        Err(e) => unavailable(kept, spec, &e.to_string()),
    }
}

fn remember_blocking(
    mut r: RunResult,
    spec: &HistorySpec,
    allowance: f64,
) -> (RunResult, Result<i64, HistoryError>) {
    let store = spec.location.display();
    let opened = History::open(&spec.location).and_then(|mut h| {
        let past = h.runs(&Filter {
            scenario_hash: r.scenario_hash.clone(),
            limit: Some(4 * trend::WINDOW),
            ..Filter::default()
        })?;
        Ok((h, past))
    });
    let (mut h, past) = match opened {
        Ok(v) => v,
        Err(e) => {
            let detail = e.to_string();
            return (unavailable(r, spec, &detail), Err(e));
        }
    };
    if spec.judge {
        trend::judge(&mut r, &past, &store, allowance);
    }
    if r.trend.is_none() {
        r.trend = Some(Trend::new(store, &past, &r, allowance));
    }
    if let Some(current) = r.trend.as_mut().and_then(|t| t.runs.last_mut()) {
        current.label.clone_from(&spec.label);
    }
    match h.record(&r, spec.label.as_deref()) {
        Ok(id) => {
            if let Some(current) = r.trend.as_mut().and_then(|t| t.runs.last_mut()) {
                current.id = id;
            }
            (r, Ok(id))
        }
        Err(e) => {
            let detail = e.to_string();
            (unavailable(r, spec, &detail), Err(e))
        }
    }
}

/// The history failed: a warning, and under `--baseline history` an
/// inconclusive check (the run could not be judged as asked).
fn unavailable(mut r: RunResult, spec: &HistorySpec, detail: &str) -> RunResult {
    if spec.judge && !r.verdict.checks.iter().any(|c| c.name == "no_regression") {
        r.verdict.checks.push(Check::with_status(
            "no_regression",
            Status::Inconclusive,
            "no regression against the history".to_owned(),
            format!("not judged: {detail}"),
        ));
    }
    r.warnings.push(Warning::HistoryUnavailable {
        detail: detail.to_owned(),
    });
    r
}

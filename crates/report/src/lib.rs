//! Results of a run: the versioned [`RunResult`] (what `result.json` holds),
//! the [`verdict`] checks and claims applied to it, and renderers that are
//! pure functions of it: [`text`], [`markdown`], [`junit`], and Locust-layout
//! CSV ([`csv_locust`]). [`write_all`] writes them into a directory.
//!
//! Key types: [`RunResult`], [`RunMeta`] (what the caller knows about the
//! run), [`Verdict`] and [`Check`], and [`write_atomically`].

pub mod comparison;
pub mod consumers;
pub mod csv_locust;
pub mod diff;
pub mod distributed;
mod escape;
pub mod frameworks;
pub mod html;
pub mod junit;
mod load_shape;
pub mod markdown;
pub mod outage;
pub mod processes;
pub mod regression;
mod result;
pub mod suite;
pub mod text;
pub mod trend;
pub mod verdict;
mod warning;

pub use load_shape::{LoadShape, LoadStage};
pub use result::{
    ConnectionEventRow, EncodedHistogram, Generator, IntervalRow, LatencyUs, LoadStages,
    OpenMeasures, OpenModel, OutcomeEntry, PreflightRow, RunMeta, RunResult, SCHEMA_VERSION,
    Summary, TaskError, TaskRow, UserClassRow, write_atomically,
};
pub use verdict::{Check, Claim, ClaimStatus, Verdict};
pub use warning::Warning;

/// Writes `result.json`, `report.html`, `summary.txt`, `summary.md`, `junit.xml` and the
/// Locust CSVs (`cliffload_stats.csv`, `cliffload_stats_history.csv`,
/// `cliffload_failures.csv`) into `dir`, each atomically; `result.json`
/// first, so a rendering problem never loses the results.
pub fn write_all(dir: &std::path::Path, r: &RunResult) -> std::io::Result<Vec<std::path::PathBuf>> {
    let files: [(&str, String); 8] = [
        ("result.json", r.to_json()),
        ("report.html", html::render(r)),
        ("summary.txt", text::render(r)),
        ("summary.md", markdown::render(r)),
        ("junit.xml", junit::render(r)),
        ("cliffload_stats.csv", csv_locust::stats(r)),
        ("cliffload_stats_history.csv", csv_locust::stats_history(r)),
        ("cliffload_failures.csv", csv_locust::failures(r)),
    ];
    let mut written = Vec::new();
    for (name, body) in files {
        let path = dir.join(name);
        write_atomically(&path, body.as_bytes())?;
        written.push(path);
    }
    Ok(written)
}

/// The JSON Schema of `result.json`, as shipped in `docs/`.
pub const SCHEMA: &str = include_str!("../../../docs/run-result.schema.json");

#[cfg(test)]
mod flow_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod threshold_tests;
#[cfg(test)]
mod verdict_tests;

/// The largest result.json read. Its intervals take about 530 bytes a
/// second, so a 24-hour run writes about 46 MB: 256 MiB leaves room for a
/// soak test of days, and stops a wrong path (a log, an image) from being
/// read whole.
pub const MAX_RESULT_BYTES: u64 = 256 << 20;

/// Reads a result.json, saying what is wrong with it.
pub fn read_result(path: &std::path::Path) -> Result<RunResult, String> {
    let text = cliffload_scenario::read_bounded(
        path,
        MAX_RESULT_BYTES,
        "a result.json",
        "a result.json that cliffload wrote",
    )
    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| {
        format!(
            "{} is not a cliffload result.json (schema version {SCHEMA_VERSION}): {e}",
            path.display(),
        )
    })
}

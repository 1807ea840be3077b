//! `cliffload report`: a result.json rendered again, and reading one back.

use anyhow::Result;

use crate::args::{ReportArgs, ReportFormat};
use crate::exit;

/// `cliffload report result.json`: re-render a saved run.
pub fn report(args: ReportArgs, color: crate::args::ColorChoice) -> Result<u8> {
    let mut r = read_result(&args.result)?;
    if let Some(base) = &args.baseline {
        cliffload_report::regression::apply(
            &mut r,
            &read_result(base)?,
            args.max_degradation_percent,
        );
    }
    if let Some(dir) = &args.out {
        cliffload_report::write_all(dir, &r)
            .map_err(|e| anyhow::anyhow!("cannot write into {}: {e}", dir.display()))?;
    }
    print!(
        "{}",
        match args.format {
            ReportFormat::Text => cliffload_report::text::render_styled(&r, color.stdout_style()),
            ReportFormat::Markdown => cliffload_report::markdown::render(&r),
            ReportFormat::Junit => cliffload_report::junit::render(&r),
            ReportFormat::Csv => cliffload_report::csv_locust::stats(&r),
        }
    );
    Ok(exit::of(r.verdict.status()))
}

/// The largest result.json read. Its intervals take about 530 bytes a
/// second, so a 24-hour run writes about 46 MB: 256 MiB leaves room for a
/// soak test of days, and stops a wrong path (a log, an image) from being
/// read whole.
pub const MAX_RESULT_BYTES: u64 = 256 << 20;

/// Reads a result.json, saying what is wrong with it.
pub fn read_result(path: &std::path::Path) -> Result<cliffload_report::RunResult> {
    let text = cliffload_scenario::read_bounded(
        path,
        MAX_RESULT_BYTES,
        "a result.json",
        "a result.json that cliffload wrote",
    )
    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "{} is not a cliffload result.json (schema version {}): {e}",
            path.display(),
            cliffload_report::SCHEMA_VERSION
        )
    })
}

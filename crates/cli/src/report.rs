//! `cliffload report`: a result.json rendered again, and reading one back.

use anyhow::Result;

use crate::args::{ReportArgs, ReportFormat};
use cliffload_run::exit;

/// `cliffload report result.json`: re-render a saved run.
pub fn report(args: ReportArgs, color: crate::args::ColorChoice) -> Result<u8> {
    let mut r = cliffload_report::read_result(&args.result).map_err(anyhow::Error::msg)?;
    if let Some(base) = &args.baseline {
        cliffload_report::regression::apply(
            &mut r,
            &cliffload_report::read_result(base).map_err(anyhow::Error::msg)?,
            args.max_degradation_percent,
        );
    }
    if let Some(dir) = &args.out {
        cliffload_report::write_all(dir, &r)
            .map_err(|e| anyhow::anyhow!("cannot write into {}: {e}", dir.display()))?;
    }
    out!(
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

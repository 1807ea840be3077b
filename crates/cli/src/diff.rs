//! `cliffload diff A B`: two runs (history ids or result.json files) side by side.

use anyhow::Result;
use cliffload_history::History;
use cliffload_report::RunResult;
use cliffload_report::diff::Diff;
use cliffload_run::exit;

use crate::args::{DiffArgs, DiffFormat};

/// Prints the comparison; exit 1 when a figure got worse beyond the noise.
pub fn diff(args: DiffArgs) -> Result<u8> {
    if !(args.min_change >= 0.0 && args.min_change.is_finite()) {
        anyhow::bail!(
            "--min-change: a percentage of 0 or more, got {}",
            args.min_change
        );
    }
    let mut history = None;
    let before = load(&args.before, &args, &mut history)?;
    let after = load(&args.after, &args, &mut history)?;
    let d = Diff::of((&before.0, before.1), (&after.0, after.1), args.min_change);
    match args.format {
        DiffFormat::Text => out!("{}", cliffload_report::diff::text(&d)),
        DiffFormat::Markdown => out!("{}", cliffload_report::diff::markdown(&d)),
        DiffFormat::Html => out!("{}", cliffload_report::diff::html(&d)),
        DiffFormat::Json => outln!("{}", serde_json::to_string_pretty(&d)?),
    }
    Ok(if d.worse().next().is_some() {
        exit::CHECK_FAILED
    } else {
        exit::OK
    })
}

/// A run by id from the history (opened once), or a result.json; with how
/// it is named in the comparison.
fn load(
    which: &str,
    args: &DiffArgs,
    history: &mut Option<History>,
) -> Result<(RunResult, String)> {
    let path = std::path::Path::new(which);
    match which.parse::<i64>() {
        Ok(id) if !path.exists() => {
            let h = match history {
                Some(h) => h,
                None => history.insert(History::open(&args.store.location())?),
            };
            Ok((h.result(id)?, format!("run {id}")))
        }
        _ => {
            let r = cliffload_report::read_result(path).map_err(anyhow::Error::msg)?;
            Ok((r, path.display().to_string()))
        }
    }
}

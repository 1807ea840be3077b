//! `cliffload diff A B`: two runs (history ids or result.json files) side by side.

use anyhow::Result;
use cliffload_history::History;
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
    let location = args.store.location();
    let named = |which: &str, opened: &mut Option<History>| {
        cliffload_history::named_run(which, &location, opened).map_err(anyhow::Error::msg)
    };
    let before = named(&args.before, &mut history)?;
    let after = named(&args.after, &mut history)?;
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

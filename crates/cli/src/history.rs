//! `cliffload history [SCENARIO]` and `cliffload history prune`.

use anyhow::Result;
use cliffload_history::{Filter, History, Prune};
use cliffload_run::exit;

use crate::args::{HistoryCmd, HistorySub, ListFormat};

/// Lists the recent runs (and the steps of each scenario's series), or prunes.
pub fn history(args: HistoryCmd) -> Result<u8> {
    if let Some(HistorySub::Prune(p)) = args.command {
        if p.keep.is_none() && p.older_than.is_none() {
            anyhow::bail!(
                "history prune: say what to remove with --keep N or --older-than DURATION (e.g. 30d)"
            );
        }
        let before = match &p.older_than {
            Some(d) => {
                let age = cliffload_scenario::parse_duration(d)
                    .map_err(|e| anyhow::anyhow!("--older-than: {e}"))?;
                let age = jiff::SignedDuration::try_from(age)
                    .map_err(|e| anyhow::anyhow!("--older-than: {e}"))?;
                Some(jiff::Timestamp::now().checked_sub(age)?)
            }
            None => None,
        };
        let location = p.store.location();
        let gone = History::open(&location)?.prune(Prune {
            keep: p.keep,
            before,
        })?;
        outln!("removed {gone} run(s) from {}", location.display());
        return Ok(exit::OK);
    }
    let location = args.store.location();
    if let cliffload_history::Location::Sqlite(path) = &location {
        // Listing never makes a history: a wrong path is said, not created.
        if !path.exists() {
            anyhow::bail!(
                "there is no history at {} yet: `cliffload run` makes it (or pass --history PATH|URL)",
                path.display()
            );
        }
    }
    let runs = History::open(&location)?.runs(&Filter {
        scenario: args.scenario.clone(),
        limit: Some(args.limit),
        ..Filter::default()
    })?;
    match args.format {
        ListFormat::Json => outln!("{}", serde_json::to_string_pretty(&runs)?),
        ListFormat::Text => out!(
            "{}",
            cliffload_report::trend::table::text(
                &runs,
                &location.display(),
                args.max_degradation_percent
            )
        ),
    }
    Ok(exit::OK)
}

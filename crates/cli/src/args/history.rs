//! The history's flags: where runs are remembered (`run`, `compare`,
//! `suite`), and the `history` and `diff` commands.

use clap::{Args, Subcommand, ValueEnum};

/// Where a run is remembered.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "History")]
pub struct HistoryArgs {
    /// Where runs are remembered: an SQLite file (default
    /// results/history.sqlite, made when missing) or a PostgreSQL URL
    /// (postgres://USER:PASSWORD@HOST:PORT/DB) that a team shares.
    // A URL may hold a password: --help names the variable, never its value.
    #[arg(
        long,
        value_name = "PATH|URL",
        env = "CLIFFLOAD_HISTORY",
        hide_env_values = true
    )]
    pub history: Option<String>,

    /// Do not remember this run.
    #[arg(long, env = "CLIFFLOAD_NO_HISTORY", hide_env_values = true)]
    pub no_history: bool,

    /// A label kept with the run (the service's git commit, a build
    /// number), shown by `cliffload history` and in the trend.
    #[arg(
        long,
        value_name = "TEXT",
        env = "CLIFFLOAD_LABEL",
        hide_env_values = true
    )]
    pub label: Option<String>,
}

impl HistoryArgs {
    /// The run's history, or `None` under `--no-history`; `judge`:
    /// `--baseline history` was given (refused with `--no-history`).
    pub fn spec(&self, judge: bool) -> anyhow::Result<Option<cliffload_run::history::HistorySpec>> {
        if self.no_history {
            if judge {
                anyhow::bail!(
                    "--baseline history needs the history, and --no-history (or CLIFFLOAD_NO_HISTORY) turns it off: drop one of them"
                );
            }
            return Ok(None);
        }
        Ok(Some(cliffload_run::history::HistorySpec {
            location: cliffload_history::Location::or_default(self.history.as_deref()),
            label: self.label.clone(),
            judge,
        }))
    }
}

/// Which store the `history` and `diff` commands read.
#[derive(Debug, Clone, Default, Args)]
pub struct StoreArgs {
    /// The history: an SQLite file (default results/history.sqlite) or a PostgreSQL URL.
    #[arg(
        long,
        value_name = "PATH|URL",
        env = "CLIFFLOAD_HISTORY",
        hide_env_values = true
    )]
    pub history: Option<String>,
}

impl StoreArgs {
    /// `--history`, else the default file.
    pub fn location(&self) -> cliffload_history::Location {
        cliffload_history::Location::or_default(self.history.as_deref())
    }
}

/// `cliffload history`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct HistoryCmd {
    #[command(subcommand)]
    pub command: Option<HistorySub>,

    /// Only this scenario.
    pub scenario: Option<String>,

    /// How many runs, the newest.
    #[arg(long, short = 'n', default_value_t = 20, value_name = "N")]
    pub limit: usize,

    /// What to print.
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub format: ListFormat,

    /// A step worse than this, in percent, is marked ✗ (as the scenario's
    /// advanced.regression_detection allowance judges it).
    #[arg(long, default_value_t = 20.0, value_name = "PERCENT")]
    pub max_degradation_percent: f64,

    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Subcommand)]
pub enum HistorySub {
    /// Remove old runs: keep the newest N of each scenario, or drop those older than a duration.
    Prune(PruneArgs),
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Keep the newest N runs of each scenario.
    #[arg(long, value_name = "N")]
    pub keep: Option<usize>,

    /// Remove runs that started longer ago than this (e.g. 30d, 12h).
    #[arg(long, value_name = "DURATION")]
    pub older_than: Option<String>,

    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    /// A table.
    Text,
    /// JSON: the runs with their tasks.
    Json,
}

/// `cliffload diff A B`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  cliffload diff 41 42                       # two runs of the history
  cliffload diff before/result.json results/result.json
  cliffload diff 41 42 --format markdown >> $GITHUB_STEP_SUMMARY

Exit codes: 0 no figure worse beyond the noise, 1 some figure worse, 2 usage error.")]
pub struct DiffArgs {
    /// The first run (before): an id from `cliffload history`, or a result.json.
    pub before: String,

    /// The second run (after): an id, or a result.json.
    pub after: String,

    /// What to print.
    #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
    pub format: DiffFormat,

    /// Changes smaller than this are never reported, in percent (the
    /// failure rate: a tenth of it, in points).
    #[arg(long, default_value_t = cliffload_report::diff::DEFAULT_MIN_CHANGE_PERCENT, value_name = "PERCENT")]
    pub min_change: f64,

    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    /// A table for the terminal.
    Text,
    /// A Markdown table (a pull request comment, a CI summary).
    Markdown,
    /// A page.
    Html,
    /// The comparison as JSON.
    Json,
}

//! Measurement for cliffload: microsecond HDR histograms per task × outcome,
//! mergeable across workers and intervals.
//!
//! Key types: [`Outcome`] (the closed set of request outcomes, which indexes
//! every counter), [`LatencyHistogram`] (1 µs–60 s, 3 significant digits),
//! [`TaskTable`] (what a worker records into, merged once per interval) and
//! [`IntervalStats`] (one second of a run, summarised), and [`ErrorLog`]
//! (the text of failures, bounded, its control characters made [`visible`]).

mod errors;
mod histogram;
mod outcome;
mod table;

pub use errors::{ErrorEntry, ErrorLog, MAX_MESSAGES, OTHER, normalise, visible};
pub use histogram::{
    HIGHEST_US, LOWEST_US, LatencyHistogram, LatencySummary, SIGFIG, decode_budget,
};
pub use outcome::{Outcome, OutcomeClass, OutcomeCounts};
pub use table::{IntervalStats, OutcomeHistograms, TaskTable};

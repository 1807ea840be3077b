//! Results of a run: the versioned [`RunResult`] (what `result.json` holds),
//! the [`verdict`] checks applied to it, and renderers that are pure
//! functions of it ([`text`]).
//!
//! Key types: [`RunResult`], [`RunMeta`] (what the caller knows about the
//! run), [`Verdict`] and [`Check`], and [`write_atomically`].

mod result;
pub mod text;
pub mod verdict;

pub use result::{
    Generator, IntervalRow, LatencyUs, OpenMeasures, OpenModel, OutcomeEntry, PreflightRow,
    RunMeta, RunResult, SCHEMA_VERSION, Summary, TaskRow, write_atomically,
};
pub use verdict::{Check, Claim, ClaimStatus, Verdict};

/// The JSON Schema of `result.json`, as shipped in `docs/`.
pub const SCHEMA: &str = include_str!("../../../docs/run-result.schema.json");

#[cfg(test)]
mod tests;

//! The serde mirror of a scenario file: exactly the keys the file may hold
//! (unknown keys are errors), with loose types that [`crate::validate`] checks.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::{Encoding, Protocol};

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFile {
    /// Scenarios by name.
    pub scenarios: BTreeMap<String, RawScenario>,
}

/// One entry under `scenarios:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    /// One line for listings.
    pub description: Option<String>,
    /// Virtual users.
    pub users: i64,
    /// Users started per second (default: all in the first second).
    pub spawn_rate: Option<f64>,
    /// Run length.
    pub duration: RawDuration,
    /// Think time.
    pub wait_time: Option<RawWait>,
    /// Seed for reproducible task choice and think times.
    pub seed: Option<u64>,
    /// Pass/fail checks.
    #[serde(default)]
    pub expectations: RawExpectations,
    /// What users send.
    pub tasks: Vec<RawTask>,
}

/// A duration: seconds as a number, or text (`30s`, `1m 30s`, `250ms`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawDuration {
    /// Seconds.
    Seconds(f64),
    /// Friendly or ISO 8601 text.
    Text(String),
}

/// `{between: [min, max]}` or `{constant: t}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RawWait {
    /// Uniform think time.
    Between(Vec<RawDuration>),
    /// Fixed think time.
    Constant(RawDuration),
}

/// Checks under `expectations:`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExpectations {
    /// Failure rate bound, percent.
    pub max_failure_percent: Option<f64>,
    /// Median bound, ms.
    pub max_median_ms: Option<f64>,
    /// p99 bound, ms.
    pub max_p99_ms: Option<f64>,
    /// Successful requests per second, lower bound.
    pub min_rps: Option<f64>,
}

/// One entry under `tasks:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTask {
    /// Name in reports.
    pub name: String,
    /// NATS subject.
    pub subject: String,
    /// Reply interpretation.
    #[serde(default)]
    pub protocol: Protocol,
    /// Relative frequency (default 1).
    pub weight: Option<i64>,
    /// Reply timeout (default 5 s).
    pub timeout: Option<RawDuration>,
    /// Request body (default `{}`).
    pub payload: Option<serde_json::Value>,
    /// Body encoding.
    #[serde(default)]
    pub encoding: Encoding,
    /// Send Content-Type and a unique X-Correlation-ID.
    #[serde(default)]
    pub headers: bool,
}

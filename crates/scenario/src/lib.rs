//! Scenario files: YAML parsed into a serde mirror ([`raw`]), then validated
//! into typed [`Scenario`]s whose errors name the key path and what is allowed.
//!
//! Key types: [`ScenarioFile`] (a parsed file: scenarios keyed by name),
//! [`Scenario`], [`Task`], [`WaitTime`], [`Expectations`], and
//! [`ConfigError`]. [`catalog`] holds the built-in scenarios.

pub mod catalog;
mod duration;
mod error;
pub mod raw;
mod validate;

use std::num::NonZeroU32;
use std::time::Duration;

pub use duration::parse_duration;
pub use error::ConfigError;

/// A parsed and validated scenario file.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioFile {
    /// Scenarios in file order.
    pub scenarios: Vec<Scenario>,
}

impl ScenarioFile {
    /// Parses and validates YAML text. `origin` names the file in messages.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ConfigError> {
        // serde_path_to_error adds the key path (`scenarios.smoke.tasks[0]`)
        // to the parser's line, column and snippet.
        let mut path = None;
        let raw: Result<raw::RawFile, _> = serde_saphyr::with_deserializer_from_str(text, |de| {
            serde_path_to_error::deserialize(de).map_err(|e| {
                path = Some(e.path().to_string()).filter(|p| p != ".");
                e.into_inner()
            })
        });
        let raw = raw.map_err(|e| ConfigError::Parse {
            origin: origin.to_owned(),
            path,
            message: e
                .to_string()
                .trim_start_matches("error: ")
                .replace("<input>", origin),
        })?;
        validate::file(raw)
    }

    /// Reads, parses and validates a file.
    pub fn load(path: &std::path::Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// The scenario called `name`.
    pub fn get(&self, name: &str) -> Result<&Scenario, ConfigError> {
        self.scenarios
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| ConfigError::UnknownScenario {
                name: name.to_owned(),
                known: self.scenarios.iter().map(|s| s.name.clone()).collect(),
            })
    }
}

/// One load scenario: who sends what, how fast, for how long, and what must hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// Key under `scenarios:`.
    pub name: String,
    /// One line for listings.
    pub description: Option<String>,
    /// Virtual users (closed model).
    pub users: NonZeroU32,
    /// Users started per second.
    pub spawn_rate: f64,
    /// How long the load runs once the first user starts.
    pub duration: Duration,
    /// Think time between a user's requests.
    pub wait_time: WaitTime,
    /// What each user picks from, by weight.
    pub tasks: Vec<Task>,
    /// Pass/fail checks applied to the result.
    pub expectations: Expectations,
    /// Seed for task choice and think times (reproducible runs).
    pub seed: u64,
}

/// Think time between two requests of one user.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WaitTime {
    /// Always the same pause (zero: back to back).
    Constant(Duration),
    /// Uniformly random in `[min, max]`.
    Between(Duration, Duration),
}

/// How replies of a task are judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// Cliffracer envelope (`success`, `error`).
    #[default]
    Cliffracer,
    /// NATS micro service (`Nats-Service-Error-Code` header).
    Micro,
    /// Any reply is a success.
    Raw,
}

/// How request bodies are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// JSON, `Content-Type: application/json`.
    #[default]
    Json,
    /// MsgPack, `Content-Type: application/msgpack`.
    Msgpack,
}

/// One kind of request a user sends.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// Name in reports (unique within the scenario).
    pub name: String,
    /// NATS subject the request goes to.
    pub subject: String,
    /// How replies are judged.
    pub protocol: Protocol,
    /// Relative frequency among the scenario's tasks.
    pub weight: NonZeroU32,
    /// How long to wait for a reply.
    pub timeout: Duration,
    /// The request body (the handler's keyword arguments for Cliffracer).
    pub payload: serde_json::Value,
    /// How the body is encoded on the wire.
    pub encoding: Encoding,
    /// Send `Content-Type` and a unique `X-Correlation-ID` with each request.
    pub headers: bool,
}

/// Pass/fail checks of a scenario (DESIGN §6, `performance_expectations`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Expectations {
    /// Highest acceptable failure rate, in percent of all requests.
    pub max_failure_percent: Option<f64>,
    /// Highest acceptable median latency of successful requests, in ms.
    pub max_median_ms: Option<f64>,
    /// Highest acceptable p99 latency of successful requests, in ms.
    pub max_p99_ms: Option<f64>,
    /// Lowest acceptable rate of successful requests per second.
    pub min_rps: Option<f64>,
}

/// Default request timeout (the original suite's).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default seed when a scenario names none.
pub const DEFAULT_SEED: u64 = 0x00C1_1FF1_0AD5;

#[cfg(test)]
mod tests;

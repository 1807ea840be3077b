//! The control protocol, version 1: its subjects and messages.
//!
//! Everything a coordinator and its workers say to each other travels on
//! subjects under `cliffload.v1.`, so a NATS account can allow exactly that
//! (see docs/distributed.md): a worker subscribes to its own `assign` subject and to
//! its run's `start`, `stop` and `alive`; it publishes its run's `interval`
//! and `done`. Plans and replies are JSON (a person can read them with
//! `nats sub`); intervals and results are MessagePack, since they carry
//! histograms as bytes.

use std::time::Duration;

use cliffload_engine::Recorded;
use cliffload_metrics::{ErrorLog, LatencyHistogram, TaskTable};
use cliffload_nats::PreflightReport;
pub use cliffload_nats::Tolerated;
use cliffload_scenario::Scenario;
use serde::{Deserialize, Serialize};

/// The protocol version: a worker refuses a plan of another.
pub const PROTOCOL: u32 = 1;

/// This build's version: a worker refuses a plan from another (the engine's
/// numbering of users and arrivals must be the same on both sides).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The name workers register under in the NATS service API.
pub const SERVICE: &str = "cliffload-worker";

/// How often the coordinator says it is alive, and a worker its interval.
pub const HEARTBEAT: Duration = Duration::from_secs(1);

/// Silence after which the other side counts as gone.
pub const SILENCE: Duration = Duration::from_secs(5);

/// Subject of worker `id`'s assignments.
pub fn assign_subject(id: &str) -> String {
    format!("cliffload.v1.assign.{id}")
}

/// The subjects of one run.
#[derive(Debug, Clone)]
pub struct RunSubjects {
    prefix: String,
}

impl RunSubjects {
    /// The subjects of run `run_id`.
    pub fn new(run_id: &str) -> Self {
        Self {
            prefix: format!("cliffload.v1.run.{run_id}"),
        }
    }

    /// Coordinator → workers: the start instant.
    pub fn start(&self) -> String {
        format!("{}.start", self.prefix)
    }

    /// Coordinator → workers: stop now (Ctrl-C).
    pub fn stop(&self) -> String {
        format!("{}.stop", self.prefix)
    }

    /// Coordinator → workers: still here, once a second.
    pub fn alive(&self) -> String {
        format!("{}.alive", self.prefix)
    }

    /// Worker → coordinator: one second's record.
    pub fn interval(&self) -> String {
        format!("{}.interval", self.prefix)
    }

    /// Worker → coordinator: its whole run.
    pub fn done(&self) -> String {
        format!("{}.done", self.prefix)
    }

    /// Everything the workers publish, for the coordinator's subscription.
    pub fn from_workers(&self) -> String {
        format!("{}.*", self.prefix)
    }
}

/// The most workers a run may have (a bound on what a message may claim).
pub const MAX_WORKERS: u32 = 10_000;

/// A worker's part of a run: the plan, which slice, and where to send the
/// load. Sealed ([`crate::seal`]) like every control message: with a
/// control token, the signature covers all of it (the target included).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Assign {
    /// [`PROTOCOL`] of the coordinator.
    pub protocol: u32,
    /// [`VERSION`] of the coordinator.
    pub version: String,
    /// The run, for its subjects.
    pub run_id: String,
    /// Who sends it (host and process), for the worker's log.
    pub coordinator: String,
    /// The validated scenario, as the coordinator resolved it.
    pub scenario: Scenario,
    /// SHA-256 of the scenario's canonical JSON, hex (damage on the way;
    /// the seal's MAC is what proves the sender).
    pub plan_hash: String,
    /// This worker's position, from 0.
    pub index: u32,
    /// Workers in the run.
    pub of: u32,
    /// The NATS servers of the system under test (no credentials: the
    /// worker logs in with its own).
    pub target: Vec<String>,
}

/// A worker's answer to [`Assign`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum AssignReply {
    /// Connected, preflight passed, waiting for the start.
    Ready {
        /// Its name.
        name: String,
        /// Generator threads.
        threads: usize,
        /// Its smoke calls.
        preflight: Vec<PreflightRow>,
        /// Problems `--preflight warn` let through.
        tolerated: Vec<Tolerated>,
    },
    /// Will not run it (version, token, busy, a plan that does not hash).
    Refused {
        /// Why, in words that say what to do.
        reason: String,
    },
    /// Tried and could not (connection, preflight).
    Failed {
        /// Why.
        reason: String,
    },
}

/// One smoke call, as a worker reports it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PreflightRow {
    /// Task name.
    pub task: String,
    /// Its outcome.
    pub outcome: cliffload_metrics::Outcome,
    /// How long it took.
    pub latency_us: u64,
}

impl From<&PreflightReport> for PreflightRow {
    fn from(p: &PreflightReport) -> Self {
        Self {
            task: p.task.clone(),
            outcome: p.outcome,
            latency_us: p.latency.as_micros() as u64,
        }
    }
}

/// Coordinator → workers: start at this wall-clock instant.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Start {
    /// Nanoseconds since the Unix epoch.
    pub at_unix_ns: u128,
}

/// Worker → coordinator: one second's record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Interval {
    /// The worker's position.
    pub worker: u32,
    /// Seconds since the start.
    pub index: u32,
    /// What the worker's threads recorded in it, merged.
    pub record: Recorded,
}

/// Worker → coordinator: its whole run. The totals here are exact even when
/// an interval message was lost on the way.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Done {
    /// The worker's position.
    pub worker: u32,
    /// When its load started, nanoseconds since the Unix epoch.
    pub started_unix_ns: u128,
    /// From its start to its last reply.
    pub elapsed: Duration,
    /// Latency per task × outcome.
    pub totals: TaskTable,
    /// Open model: latency from the intended send time.
    pub intended: TaskTable,
    /// Open model: requests sent late.
    pub late: u64,
    /// Requests its slice planned.
    pub planned: u64,
    /// Requests sent.
    pub sent: u64,
    /// Open model: arrivals never sent.
    pub never_sent: u64,
    /// Open model: their waits.
    pub never_sent_wait: LatencyHistogram,
    /// The text of its failures.
    pub errors: ErrorLog,
    /// CPU its generator threads spent.
    pub cpu: Option<Duration>,
    /// Generator threads.
    pub threads: usize,
    /// Threads that stopped early.
    pub lost_threads: usize,
    /// Cut short (stop, or its coordinator went silent).
    pub interrupted: bool,
    /// Why it could not run at all, if it could not.
    pub error: Option<String>,
}

/// The furthest second a worker may report and the longest it may say it
/// ran, for `scenario`: its planned duration, the longest request timeout
/// (the last requests drain after the end), the silence after which a side
/// gives up, and a minute's margin. A message past them is refused, so a
/// forged index or duration can neither allocate nor overflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Largest interval index.
    pub last_index: u32,
    /// Longest elapsed time.
    pub longest: Duration,
}

impl Bounds {
    /// The bounds of `scenario`'s run.
    pub fn of(scenario: &Scenario) -> Self {
        let timeout = scenario
            .tasks
            .iter()
            .map(|t| t.request.timeout)
            .max()
            .unwrap_or_default();
        let longest = scenario
            .duration
            .saturating_add(timeout)
            .saturating_add(SILENCE)
            .saturating_add(Duration::from_secs(60));
        Self {
            last_index: u32::try_from(longest.as_secs()).unwrap_or(u32::MAX),
            longest,
        }
    }
}

/// The name a worker registered with in the service API's metadata, and
/// whether it has a control token (`yes`/`no`), so a coordinator picks
/// workers that can take its plan.
pub const TOKEN_METADATA: &str = "control_token";

/// Text another process sent (a worker's name, a refusal's reason), made
/// safe to print: control characters (terminal escapes) written as visible
/// escapes ([`cliffload_metrics::visible`]), cut at 500 characters.
pub fn printable(text: &str) -> String {
    let cut: String = text.chars().take(500).collect();
    let more = if text.chars().nth(500).is_some() {
        "…"
    } else {
        ""
    };
    format!("{}{more}", cliffload_metrics::visible(&cut))
}

/// JSON of a control message.
pub fn json<T: Serialize>(value: &T) -> bytes::Bytes {
    serde_json::to_vec(value).unwrap_or_default().into()
}

/// MessagePack of a data message (histograms as bytes).
pub fn pack<T: Serialize>(value: &T) -> bytes::Bytes {
    rmp_serde::to_vec_named(value).unwrap_or_default().into()
}

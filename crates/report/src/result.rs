//! `RunResult`: everything a run measured, as versioned JSON (`result.json`).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use cliffload_metrics::{
    IntervalStats, LatencySummary, Outcome, OutcomeClass, OutcomeCounts, TaskTable,
};
use cliffload_scenario::Scenario;
use serde::{Deserialize, Serialize};

use crate::load_shape::LoadShape;
use crate::verdict::{self, Verdict};
use crate::warning::Warning;

mod histogram;
mod rows;

pub use histogram::EncodedHistogram;

use rows::{flow_rows, task_rows};

/// Version of the `result.json` format; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 3;

/// Latency percentiles in µs (integers: µs resolution).
pub type LatencyUs = LatencySummary;

/// The whole result of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// Format version ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// `cliffload` and its version.
    pub tool: Tool,
    /// Scenario name.
    pub scenario: String,
    /// Scenario description.
    pub description: Option<String>,
    /// Seed of the run's random choices.
    pub seed: u64,
    /// Start of the load, RFC 3339 UTC.
    pub started_at: String,
    /// From the start to the last recorded reply, in seconds.
    pub duration_s: f64,
    /// The planned load duration, in seconds.
    pub planned_duration_s: f64,
    /// True when the run was cut short (Ctrl-C).
    pub interrupted: bool,
    /// Where the load went.
    pub target: Target,
    /// The load model that ran.
    pub load: Load,
    /// Open model only: latency from the intended send time, late and unsent requests.
    pub open_model: Option<OpenModel>,
    /// What generating the load cost.
    pub generator: Generator,
    /// The smoke call of each task, made before the load (not in the counts below).
    pub preflight: Vec<PreflightRow>,
    /// All tasks together.
    pub summary: Summary,
    /// The user classes, in scenario order (absent in older results).
    #[serde(default)]
    pub user_classes: Vec<UserClassRow>,
    /// Per task, in scenario order.
    pub tasks: Vec<TaskRow>,
    /// Per flow (a user class whose tasks run in order): whole passes, as
    /// a transaction; `subject` lists the steps. Not counted in `summary`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flows: Vec<TaskRow>,
    /// Per second of the run.
    pub intervals: Vec<IntervalRow>,
    /// The checks and whether they passed.
    pub verdict: Verdict,
    /// Things the reader should know (each says what to do).
    #[serde(
        serialize_with = "crate::warning::serialize",
        deserialize_with = "crate::warning::deserialize"
    )]
    pub warnings: Vec<Warning>,
    /// Memory and CPU of the processes watched during the run (absent in
    /// results written before the monitor existed).
    #[serde(default)]
    pub monitor: Option<crate::processes::Monitor>,
    /// The same plan over HTTP, when a comparison ran (absent otherwise).
    #[serde(default)]
    pub comparison: Option<crate::comparison::Comparison>,
    /// The workers, when the run was distributed (absent otherwise).
    #[serde(default)]
    pub distributed: Option<crate::distributed::DistributedRun>,
    /// The framework comparison: this run, then each framework of
    /// `comparison_frameworks` (empty when none was compared).
    #[serde(default)]
    pub frameworks: Vec<crate::frameworks::FrameworkRow>,
    /// What happened to the load's NATS connections (disconnects,
    /// reconnects, slow consumers, server errors), in order.
    #[serde(default)]
    pub connection_events: Vec<ConnectionEventRow>,
    /// Seconds of the load in which requests were due and failed and none
    /// succeeded (absent in older results).
    #[serde(default)]
    pub outage: crate::outage::Outage,
    /// The comparison with a regression baseline, figure by figure (absent
    /// when none was compared).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<crate::regression::BaselineComparison>,
    /// SHA-256 of the scenario as run (its workload, load and
    /// expectations, overrides included): runs with the same hash are
    /// comparable. Absent in older results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario_hash: Option<String>,
    /// The same scenario and load over the recent runs in the history, this
    /// run last (absent when no history was read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trend: Option<crate::trend::Trend>,
    /// The durable consumers watched during the load (`jetstream.consumers`),
    /// read once a second (absent when none was watched).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consumers: Vec<crate::consumers::ConsumerSeries>,
}

/// One event of one of the load's NATS connections.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionEventRow {
    /// Seconds since the start of the load (negative: while connecting).
    pub t_s: f64,
    /// Which worker's connection.
    pub worker: usize,
    /// `disconnected`, `reconnected`, `slow_consumer`, `server_error`,
    /// `client_error`, `lame_duck`, `draining`, `closed`.
    pub event: String,
    /// The client's words for it.
    pub detail: String,
}

/// The tool that wrote the result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    /// Always `cliffload`.
    pub name: String,
    /// Its version.
    pub version: String,
}

/// Where the load went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    /// NATS server URL.
    pub nats_url: String,
    /// True when cliffload started the server and the reference services itself.
    pub embedded: bool,
}

/// The load model that ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Load {
    /// `closed` (virtual users).
    pub model: String,
    /// Virtual users.
    pub users: u32,
    /// Users started per second.
    pub spawn_rate: f64,
    /// Think time, in words (`constant 0s`, `between 0.1s and 1s`).
    pub wait_time: String,
    /// Generator threads.
    pub workers: usize,
    /// Open model: requests per second at the start.
    pub arrival_rate: Option<f64>,
    /// Open model: requests per second at the end (linear ramp).
    pub ramp_to: Option<f64>,
    /// Open model: requests in flight at most.
    pub max_in_flight: Option<u32>,
    /// The run stops after this many requests (or at its duration).
    #[serde(default)]
    pub max_requests: Option<u64>,
    /// Stepped user counts (`advanced.gradual_load_increase`), if any.
    #[serde(default)]
    pub stages: Option<LoadStages>,
    /// The planned users or arrival rate over time, when they change
    /// (`stages:`, stepped users, `ramp_to`); absent for a constant load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shape: Option<LoadShape>,
}

/// Stepped load: `users[k]` during step `k`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadStages {
    /// Users per step.
    pub users: Vec<u32>,
    /// Seconds each step lasts.
    pub step_duration_s: f64,
}

impl Load {
    /// The load in words: the arrival rate of the open model, or the users.
    pub fn describe(&self) -> String {
        match (&self.shape, self.max_in_flight) {
            (Some(shape), Some(max)) if self.ramp_to.is_none() => {
                return cliffload_scenario::describe_rate_stages(&shape.shape(), max);
            }
            (Some(shape), None) if self.stages.is_none() => {
                return cliffload_scenario::describe_user_stages(self.users, &shape.shape());
            }
            _ => {}
        }
        match (self.arrival_rate, self.max_in_flight) {
            (Some(rate), Some(max)) => {
                cliffload_scenario::describe_arrival(rate, self.ramp_to, max)
            }
            _ => format!("{} users", self.users),
        }
    }
}

/// Coordinated-omission-corrected figures of an open-model run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenModel {
    /// Latency from the intended send time: of the successful requests, and
    /// of every arrival never sent, counted as the time it waited until the
    /// run gave up on it. What a user arriving on schedule waited; above
    /// `summary.latency_us` when the generator or the service fell behind.
    /// Checks and claims on latency are judged on this figure.
    pub intended_latency_us: LatencyUs,
    /// Arrivals due before the end of the run (`sent + never_sent`).
    pub planned: u64,
    /// Arrivals sent.
    pub sent: u64,
    /// Arrivals never sent: the run ended while they waited for room.
    pub never_sent: u64,
    /// Requests sent more than 1 ms after their intended time.
    pub late: u64,
}

/// What the engine measured under the open model, for [`RunMeta`].
#[derive(Debug, Clone)]
pub struct OpenMeasures {
    /// Latency from the intended send time, per task × outcome.
    pub intended: TaskTable,
    /// Per never-sent arrival, its wait from its intended time to the end.
    pub never_sent_wait: cliffload_metrics::LatencyHistogram,
    /// Arrivals due before the end.
    pub planned: u64,
    /// Arrivals sent.
    pub sent: u64,
    /// Arrivals never sent.
    pub never_sent: u64,
    /// Late sends.
    pub late: u64,
}

/// What generating the load cost cliffload itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generator {
    /// CPU seconds of the generator threads during the load (their
    /// connections included; embedded services excluded). Null when unknown.
    pub cpu_s: Option<f64>,
    /// `cpu_s` per completed request, in µs.
    pub cpu_us_per_request: Option<f64>,
}

/// The smoke call of one task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreflightRow {
    /// Task name.
    pub task: String,
    /// Outcome name.
    pub outcome: Outcome,
    /// Round trip in µs.
    pub latency_us: u64,
}

/// All tasks together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Requests completed (every outcome).
    pub requests: u64,
    /// Outcome `ok`.
    pub successes: u64,
    /// Outcomes counted as failures.
    pub failures: u64,
    /// Correct refusals (expected or business): neither success nor failure.
    pub rejected: u64,
    /// failures / requests × 100, unrounded (what the failure check judges).
    pub failure_percent: f64,
    /// Requests per second over the run.
    pub rps: f64,
    /// Successful requests per second.
    pub success_rps: f64,
    /// Latency of the successful requests only: what performance claims are judged on.
    pub latency_us: LatencyUs,
    /// Latency of every request, whatever its outcome.
    pub all_latency_us: LatencyUs,
    /// Count per outcome (only outcomes that happened).
    pub outcomes: BTreeMap<Outcome, u64>,
}

/// One user class: its share of the users (Locust's "ratio per class").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserClassRow {
    /// Class name (tasks are named `Class.task`).
    pub name: String,
    /// Relative share of the users (of the arrivals, in the open model).
    pub weight: u32,
}

/// One task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRow {
    /// Task name.
    pub name: String,
    /// Subject.
    pub subject: String,
    /// Its user class (absent in older results).
    #[serde(default)]
    pub class: Option<String>,
    /// Its relative frequency among its class's tasks (absent in older results).
    #[serde(default)]
    pub weight: Option<u32>,
    /// Requests completed.
    pub requests: u64,
    /// Outcome `ok`.
    pub successes: u64,
    /// Failures.
    pub failures: u64,
    /// Correct refusals.
    pub rejected: u64,
    /// Requests per second.
    pub rps: f64,
    /// Latency of the successful requests.
    pub latency_us: LatencyUs,
    /// Open model: the successful requests' latency from their intended
    /// send time (what its thresholds judge); absent in the closed model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intended_latency_us: Option<LatencyUs>,
    /// Count and latency per outcome (only outcomes that happened).
    pub outcomes: BTreeMap<Outcome, OutcomeEntry>,
    /// The text of its failures and refusals: distinct messages (ids and
    /// numbers masked) per outcome, most frequent first, at most
    /// [`cliffload_metrics::MAX_MESSAGES`] per outcome (absent in older results).
    #[serde(default)]
    pub errors: Vec<TaskError>,
    /// Bytes of reply bodies received (absent in older results).
    #[serde(default)]
    pub reply_bytes: u64,
    /// The successful requests' latencies, whole: HdrHistogram V2 in
    /// base64, so any percentile can be read exactly later (`cliffload
    /// diff`, the history). Absent in older results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_histogram: Option<EncodedHistogram>,
}

/// One distinct failure or refusal message of a task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskError {
    /// The outcome it came with.
    pub outcome: Outcome,
    /// The message, ids and numbers masked as `#`.
    pub message: String,
    /// Requests that got it.
    pub count: u64,
    /// One raw occurrence.
    pub sample: String,
    /// The reply body that came with it, control characters escaped, cut
    /// to 160 bytes (hex when not text); absent when no reply came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
}

/// Count and latency of one outcome of one task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutcomeEntry {
    /// Requests with this outcome.
    pub count: u64,
    /// Their latency (for a timeout: the time waited).
    pub latency_us: LatencyUs,
}

/// One second of the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IntervalRow {
    /// Seconds since the start.
    pub t: u32,
    /// Length of the interval (1, or less for the last).
    pub duration_s: f64,
    /// Requests completed in it.
    pub requests: u64,
    /// Successes.
    pub successes: u64,
    /// Failures.
    pub failures: u64,
    /// Correct refusals.
    pub rejected: u64,
    /// Requests per second.
    pub rps: f64,
    /// Latency of its successful requests.
    pub latency_us: LatencyUs,
    /// Latency of the successful requests from the start through this
    /// interval (Locust's "Total" columns; absent in older results).
    #[serde(default)]
    pub total_latency_us: LatencyUs,
    /// Closed model: virtual users running at the end of the interval;
    /// open model: the most requests in flight at once during it (absent in
    /// older results).
    #[serde(default)]
    pub active: u32,
    /// Open model: the successful requests' latency from their intended
    /// send time (what the checks judge), absent in the closed model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intended_latency_us: Option<LatencyUs>,
    /// Bytes of reply bodies received (absent in older results).
    #[serde(default)]
    pub reply_bytes: u64,
}

/// What the caller knows about the run, beside the measurements.
#[derive(Debug, Clone)]
pub struct RunMeta<'a> {
    /// The scenario that ran (after CLI overrides).
    pub scenario: &'a Scenario,
    /// NATS server URL.
    pub nats_url: String,
    /// True when cliffload started the server and services.
    pub embedded: bool,
    /// Generator threads.
    pub workers: usize,
    /// Smoke calls.
    pub preflight: Vec<PreflightRow>,
    /// Wall-clock start of the load.
    pub started_at: SystemTime,
    /// Start to last reply.
    pub elapsed: Duration,
    /// Cut short.
    pub interrupted: bool,
    /// Warnings from elsewhere (engine, preflight).
    pub warnings: Vec<Warning>,
    /// CPU time of the generator threads during the load.
    pub generator_cpu: Option<Duration>,
    /// Open model measurements (`None` for the closed model).
    pub open: Option<OpenMeasures>,
    /// The text of failures and refusals, per task and outcome.
    pub errors: cliffload_metrics::ErrorLog,
    /// What happened to the load's connections.
    pub connection_events: Vec<ConnectionEventRow>,
    /// Whole passes through each flow (`Plan::flows` order), per outcome.
    pub flows: TaskTable,
    /// Users (or arrivals) stopped because unique data rows ran out.
    pub out_of_rows: u64,
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// A rate as stored: per second, to three decimals.
fn per_second(n: u64, secs: f64) -> f64 {
    round3(crate::verdict::per_second(n, secs))
}

fn outcome_map(counts: &OutcomeCounts) -> BTreeMap<Outcome, u64> {
    Outcome::ALL
        .into_iter()
        .filter(|o| counts.get(*o) > 0)
        .map(|o| (o, counts.get(o)))
        .collect()
}

impl RunResult {
    /// Builds the result from the run's measurements and applies the
    /// scenario's expectations.
    pub fn build(meta: RunMeta<'_>, totals: &TaskTable, intervals: &[IntervalStats]) -> Self {
        let s = meta.scenario;
        let secs = meta.elapsed.as_secs_f64();
        let summary = summary(totals, secs);
        let intended = meta.open.as_ref().map(|o| &o.intended);
        let tasks = task_rows(s, totals, intended, &meta.errors, secs);
        let flows = flow_rows(s, &meta.flows, secs);
        let intervals = interval_rows(intervals, secs);
        let outage = crate::outage::Outage::of(&intervals, &meta.connection_events, round3(secs));
        let open_model = meta.open.as_ref().map(open_model);
        // The caller's warnings first, then those the measurements call for.
        let found = run_warnings(&meta, open_model.as_ref(), &intervals);
        let mut warnings = meta.warnings;
        warnings.extend(found);
        let mut result = RunResult {
            schema_version: SCHEMA_VERSION,
            tool: Tool {
                name: "cliffload".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            scenario: s.name.clone(),
            description: s.description.clone(),
            seed: s.seed,
            started_at: jiff::Timestamp::try_from(meta.started_at)
                .map(|t| t.to_string())
                .unwrap_or_default(),
            duration_s: round3(secs),
            planned_duration_s: s.duration.as_secs_f64(),
            interrupted: meta.interrupted,
            target: Target {
                nats_url: meta.nats_url,
                embedded: meta.embedded,
            },
            load: load(s, meta.workers),
            open_model,
            generator: generator(meta.generator_cpu, summary.requests),
            preflight: meta.preflight,
            summary,
            user_classes: user_classes(s),
            tasks,
            flows,
            intervals,
            verdict: Verdict::default(),
            warnings,
            monitor: None,
            comparison: None,
            distributed: None,
            frameworks: Vec::new(),
            outage,
            connection_events: meta.connection_events,
            baseline: None,
            scenario_hash: Some(s.content_hash()),
            trend: None,
            consumers: Vec::new(),
        };
        result.verdict = verdict::judge(s, &result, simple_rpcs(s, totals));
        result
    }

    /// The `n` most frequent failure messages over all tasks, with their task.
    pub fn top_failures(&self, n: usize) -> Vec<(&TaskRow, &TaskError)> {
        let mut all: Vec<(&TaskRow, &TaskError)> = self
            .tasks
            .iter()
            .flat_map(|t| t.errors.iter().map(move |e| (t, e)))
            .filter(|(_, e)| e.outcome.is_failure())
            .collect();
        all.sort_by_key(|e| std::cmp::Reverse(e.1.count));
        all.truncate(n);
        all
    }

    /// The result as pretty JSON.
    pub fn to_json(&self) -> String {
        // Plain data with string keys: serialisation cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// The outcomes the latency figures are of.
fn is_success(o: Outcome) -> bool {
    o.class() == OutcomeClass::Success
}

/// All tasks together.
fn summary(totals: &TaskTable, secs: f64) -> Summary {
    let counts = totals.counts();
    Summary {
        requests: counts.total(),
        successes: counts.in_class(OutcomeClass::Success),
        failures: counts.in_class(OutcomeClass::Failure),
        rejected: counts.in_class(OutcomeClass::Rejected),
        failure_percent: verdict::failure_rate(
            counts.in_class(OutcomeClass::Failure),
            counts.total(),
        ),
        rps: per_second(counts.total(), secs),
        success_rps: per_second(counts.in_class(OutcomeClass::Success), secs),
        latency_us: totals.merged(is_success).summary(),
        all_latency_us: totals.merged(|_| true).summary(),
        outcomes: outcome_map(&counts),
    }
}

/// One row per second of the run.
fn interval_rows(intervals: &[IntervalStats], secs: f64) -> Vec<IntervalRow> {
    intervals
        .iter()
        .map(|i| {
            // The engine's own length (a short last remainder is merged
            // into the second before it); older callers leave it zero.
            let len = if i.length.is_zero() {
                (secs - f64::from(i.index)).clamp(0.001, 1.0)
            } else {
                i.length.as_secs_f64()
            };
            IntervalRow {
                t: i.index,
                duration_s: round3(len),
                requests: i.counts.total(),
                successes: i.counts.in_class(OutcomeClass::Success),
                failures: i.counts.in_class(OutcomeClass::Failure),
                rejected: i.counts.in_class(OutcomeClass::Rejected),
                rps: per_second(i.counts.total(), len),
                latency_us: i.success_latency,
                total_latency_us: i.total_success_latency,
                active: i.active,
                intended_latency_us: i.intended_success_latency,
                reply_bytes: i.reply_bytes,
            }
        })
        .collect()
}

/// The open model's schedule and its latency from the intended send time
/// (each never-sent arrival counted as its wait).
fn open_model(o: &OpenMeasures) -> OpenModel {
    let mut intended = o.intended.merged(is_success);
    intended.merge(&o.never_sent_wait);
    OpenModel {
        intended_latency_us: intended.summary(),
        planned: o.planned,
        sent: o.sent,
        never_sent: o.never_sent,
        late: o.late,
    }
}

/// The warnings the measurements call for: a schedule fallen behind, users
/// that never started, connection trouble, an interrupted run.
fn run_warnings(
    meta: &RunMeta<'_>,
    open_model: Option<&OpenModel>,
    intervals: &[IntervalRow],
) -> Vec<Warning> {
    let s = meta.scenario;
    let secs = meta.elapsed.as_secs_f64();
    let mut warnings = Vec::new();
    if let Some(o) = open_model
        && (o.late > 0 || o.never_sent > 0)
    {
        warnings.push(Warning::OpenModelBehind {
            planned: o.planned,
            late: o.late,
            never_sent: o.never_sent,
        });
    }
    let peak = intervals.iter().map(|i| i.active).max().unwrap_or(0);
    let wanted = s.planned_peak_users();
    // User stages may peak between two seconds' counts; their chart
    // draws the plan beside the users that ran instead.
    let staged = matches!(s.stages, Some(cliffload_scenario::Stages::Users(_)));
    if s.arrival.is_none() && !staged && !intervals.is_empty() && peak > 0 && peak < wanted {
        warnings.push(Warning::UsersNeverStarted {
            peak: peak.into(),
            wanted: wanted.into(),
            spawn_rate: s.spawn_rate,
            duration_s: s.duration.as_secs_f64(),
        });
    }
    if let Some(w) = connection_warning(&meta.connection_events) {
        warnings.push(w);
    }
    if meta.out_of_rows > 0
        && let Some(d) = &s.data_file
    {
        warnings.push(Warning::DataExhausted {
            file: d.table.origin.clone(),
            rows: d.table.rows.len() as u64,
            stopped: meta.out_of_rows,
        });
    }
    if meta.interrupted {
        warnings.push(Warning::Interrupted {
            ran_s: secs,
            planned_s: s.duration.as_secs_f64(),
        });
    }
    warnings
}

/// The load model as configured (`workers`: generator threads).
fn load(s: &Scenario, workers: usize) -> Load {
    Load {
        model: if s.arrival.is_some() {
            "open"
        } else {
            "closed"
        }
        .into(),
        users: s.users.get(),
        spawn_rate: s.spawn_rate,
        wait_time: s.describe_wait(),
        workers,
        arrival_rate: s.arrival.as_ref().map(|a| a.start_rate()),
        ramp_to: s.arrival.as_ref().and_then(|a| a.ramp_to()),
        max_in_flight: s.arrival.as_ref().map(|a| a.max_in_flight.get()),
        max_requests: s.max_requests,
        stages: match &s.stages {
            Some(cliffload_scenario::Stages::Steps {
                steps,
                step_duration,
            }) => Some(LoadStages {
                users: steps.clone(),
                step_duration_s: step_duration.as_secs_f64(),
            }),
            _ => None,
        },
        shape: s
            .planned_shape()
            .map(|shape| LoadShape::of(&shape, s.arrival.is_some())),
    }
}

/// The generator's CPU time, in all and per request.
fn generator(cpu: Option<Duration>, requests: u64) -> Generator {
    Generator {
        cpu_s: cpu.map(|c| round3(c.as_secs_f64())),
        cpu_us_per_request: cpu
            .filter(|_| requests > 0)
            .map(|c| round3(c.as_secs_f64() * 1e6 / requests as f64)),
    }
}

/// The user classes, in scenario order.
fn user_classes(s: &Scenario) -> Vec<UserClassRow> {
    s.classes
        .iter()
        .map(|c| UserClassRow {
            name: c.name.clone(),
            weight: c.weight.get(),
        })
        .collect()
}

/// A warning that names what happened to the connections, if anything did.
fn connection_warning(events: &[ConnectionEventRow]) -> Option<Warning> {
    let first = events.first()?;
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for e in events {
        *counts.entry(e.event.as_str()).or_default() += 1;
    }
    let list: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
    Some(Warning::ConnectionTrouble {
        events: list.join(", "),
        first_at_s: first.t_s,
        first_detail: first.detail.clone(),
    })
}

/// The tasks with a fixed body (simple RPCs), all together.
fn simple_rpcs(s: &Scenario, totals: &TaskTable) -> verdict::SimpleRpcs {
    let mut ok = cliffload_metrics::LatencyHistogram::new();
    let (mut requests, mut failures) = (0, 0);
    for (task, row) in s.tasks.iter().zip(totals.tasks()) {
        if matches!(task.payload, cliffload_scenario::Payload::Static(_)) {
            ok.merge(&row.merged(|o| o.class() == OutcomeClass::Success));
            requests += row.counts().total();
            failures += row.counts().in_class(OutcomeClass::Failure);
        }
    }
    verdict::SimpleRpcs {
        latency: ok.summary(),
        requests,
        failures,
    }
}

/// Writes `bytes` to `path` atomically: a temporary file in the same
/// directory, then a rename, so a reader never sees half a file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

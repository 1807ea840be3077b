//! Scenario files in the original suite's format (`environment`,
//! `scenarios`, `data_generation`, `performance_expectations`, `monitoring`,
//! `reporting`, `comparison_frameworks`, `advanced`), extended with what the
//! original hid in Python: `user_classes` and their tasks. YAML is parsed
//! into a serde mirror (`raw`), laid over the built-in catalog, then
//! validated into typed [`Scenario`]s whose errors name the key path and
//! what is allowed.
//!
//! Key types: [`ScenarioFile`], [`Scenario`], [`UserClass`], [`Task`],
//! [`Payload`], [`WaitTime`], [`Expectations`] (with [`TaskExpectations`]), [`Settings`] and
//! [`ConfigError`]. [`catalog`] holds the built-in scenarios.

pub mod catalog;
mod duration;
mod error;
mod locate;
mod overrides;
pub mod plan;
mod raw;
mod recover;
mod shape;
mod validate;
mod workload;

use std::num::NonZeroU32;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use cliffload_protocol::{
    Codec, ConsumerRef, ExpectStatus, JetStreamSpec, MatchBy, Observe, PreflightMode, Protocol,
    ReplyExpect, RequestSpec, Secret, SendMode, StreamSpec, StreamStorage,
};
pub use duration::parse_duration;
pub use error::ConfigError;
pub use locate::Position;
pub use overrides::Overrides;
pub use shape::{Rate, Shape, Stage, Stages};
pub use workload::{Capture, DataSource, Exhausted, MissingCapture, RowOrder, RowPer};

/// A parsed and validated scenario file.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioFile {
    /// Scenarios, by name.
    pub scenarios: Vec<Scenario>,
    /// The file's other sections.
    pub settings: Settings,
    /// Names of the scenarios the file itself writes (its own and the
    /// catalog's it changes), by name; all of them when it was
    /// parsed on its own.
    pub written: Vec<String>,
}

/// The largest scenario file read: a real one is a few KB.
pub const MAX_FILE_BYTES: u64 = 16 << 20;

fn read_limited(path: &std::path::Path) -> Result<String, ConfigError> {
    // A pipe or a character device is read as a stream, within the same
    // limit: `--config <(generate)` and `--config /dev/stdin` (issue 26).
    read_within(
        path,
        MAX_FILE_BYTES,
        "a scenario file",
        "a YAML file (or a pipe)",
        true,
    )
    .map_err(|message| ConfigError::Io {
        path: path.display().to_string(),
        message,
    })
}

/// Reads the text file at `path`, of at most `max_bytes`: what is not a
/// regular file (a device such as /dev/zero, a pipe, a directory) is refused
/// before reading, and the read stops past the limit even if the file grows.
/// `kind` names such files in the limit's message ("a scenario file"),
/// `give` what to give instead of a device ("a YAML file"). The error is the
/// reason, without the path.
pub fn read_bounded(
    path: &std::path::Path,
    max_bytes: u64,
    kind: &str,
    give: &str,
) -> Result<String, String> {
    read_within(path, max_bytes, kind, give, false)
}

/// [`read_bounded`]; with `streams`, a pipe or a character device is read
/// too, as far as the limit.
fn read_within(
    path: &std::path::Path,
    max_bytes: u64,
    kind: &str,
    give: &str,
    streams: bool,
) -> Result<String, String> {
    use std::io::Read;
    use std::os::unix::fs::FileTypeExt;
    let meta = std::fs::metadata(path).map_err(|e| error::io_words(&e))?;
    let t = meta.file_type();
    let stream = streams && (t.is_fifo() || t.is_char_device());
    if !meta.is_file() && !stream {
        return Err(if t.is_dir() && streams {
            format!("a directory: give the path of {give}")
        } else if streams {
            format!("not a regular file, pipe or character device: give the path of {give}")
        } else {
            format!("not a regular file (a directory, device or pipe): give the path of {give}")
        });
    }
    if meta.len() > max_bytes {
        return Err(format!(
            "{:.1} MiB is over the {} MiB limit of {kind}",
            meta.len() as f64 / 1048576.0,
            max_bytes >> 20
        ));
    }
    let file = std::fs::File::open(path).map_err(|e| error::io_words(&e))?;
    let mut text = String::new();
    file.take(max_bytes + 1)
        .read_to_string(&mut text)
        .map_err(|e| error::io_words(&e))?;
    if text.len() as u64 > max_bytes {
        return Err(format!("over the {} MiB limit of {kind}", max_bytes >> 20));
    }
    Ok(text)
}

/// Why a text is not a [`raw::RawFile`]: the parser's first error and the
/// key path it was reading.
struct RawError {
    path: Option<String>,
    error: Box<serde_saphyr::Error>,
}

fn read_raw(text: &str) -> Result<raw::RawFile, RawError> {
    // serde_path_to_error adds the key path (`scenarios.smoke.tasks[0]`)
    // to the parser's line, column and snippet.
    let mut path = None;
    let raw: Result<raw::RawFile, _> = serde_saphyr::with_deserializer_from_str(text, |de| {
        serde_path_to_error::deserialize(de).map_err(|e| {
            // serde_path_to_error writes `?` for a key it could not read.
            let p = e.path().to_string();
            let p = p.trim_end_matches(".?").trim_end_matches('?');
            path = Some(p.to_owned()).filter(|p| !p.is_empty() && p != ".");
            e.into_inner()
        })
    });
    raw.map_err(|error| RawError {
        path,
        error: Box::new(error),
    })
}

impl RawError {
    /// The error in words, with its line, column and snippet (`origin` names the file).
    fn into_config(self, text: &str, origin: &str) -> ConfigError {
        let message = error::type_words(&error::limit_words(
            &self
                .error
                .to_string()
                .trim_start_matches("error: ")
                .replace("<input>", origin),
            error::has_aliases(text),
        ));
        ConfigError::Parse {
            origin: origin.to_owned(),
            path: self.path,
            message: with_suggestion(message),
        }
    }
}

/// `message` with the closest known key when it names an unknown one.
fn with_suggestion(message: String) -> String {
    match error::suggestion(&message) {
        Some(s) => format!("{message}\n{s}"),
        None => message,
    }
}

fn parse_raw(text: &str, origin: &str) -> Result<raw::RawFile, ConfigError> {
    read_raw(text).map_err(|e| e.into_config(text, origin))
}

/// The folder a file's relative paths (data files) start from: the file's own.
fn base_of(origin: &str) -> &std::path::Path {
    std::path::Path::new(origin)
        .parent()
        .unwrap_or(std::path::Path::new(""))
}

/// The JSON Schema of a scenario file (draft 2020-12), from the parser's
/// own types: editors complete and check keys with it. Checked in as
/// `docs/scenario-file.schema.json`.
pub fn json_schema() -> serde_json::Value {
    let mut schema = schemars::schema_for!(raw::RawFile);
    schema.insert("title".into(), "cliffload scenario file".into());
    schema.into()
}

impl ScenarioFile {
    /// Parses and validates YAML text on its own (no catalog underneath).
    /// `origin` names the file in messages.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ConfigError> {
        Self::checked(text, origin, |raw| validate::file(raw, base_of(origin)))
    }

    /// `text` read and checked by `check`; when it cannot be read, every
    /// mistake in it ([`recover`]), not just the parser's first.
    fn checked(
        text: &str,
        origin: &str,
        check: impl Fn(raw::RawFile) -> Result<Self, ConfigError>,
    ) -> Result<Self, ConfigError> {
        match read_raw(text) {
            Ok(raw) => check(raw).map_err(|e| e.located(text, origin)),
            Err(first) => Err(recover::every_mistake(text, origin, first, |raw| {
                check(raw).err()
            })),
        }
    }

    /// Parses YAML text laid over the built-in catalog: the file may
    /// override any value of the catalog or add scenarios and user classes.
    pub fn parse_over_catalog(text: &str, origin: &str) -> Result<Self, ConfigError> {
        Self::checked(text, origin, |user| {
            let written: Vec<String> = user
                .scenarios
                .as_ref()
                .map(|s| s.keys().cloned().collect())
                .unwrap_or_default();
            let base = parse_raw(catalog::BUILTIN_YAML, "<built-in>")?;
            let to_value =
                |r: &raw::RawFile| serde_json::to_value(r).unwrap_or(serde_json::Value::Null);
            let merged = raw::merge(to_value(&base), to_value(&user));
            let raw: raw::RawFile =
                serde_json::from_value(merged).map_err(|e| ConfigError::Invalid {
                    path: origin.to_owned(),
                    message: format!("cannot combine with the built-in catalog: {e}"),
                    at: None,
                })?;
            let mut file = validate::file(raw, base_of(origin))?;
            file.written = written;
            Ok(file)
        })
    }

    /// Reads a file and lays it over the built-in catalog.
    /// Files larger than [`MAX_FILE_BYTES`], and anything that is not a
    /// regular file (a directory, `/dev/zero`, a pipe), are refused.
    pub fn load(path: &std::path::Path) -> Result<Self, ConfigError> {
        let text = Self::read(path)?;
        Self::parse_over_catalog(&text, &path.display().to_string())
    }

    /// The text of a scenario file (a regular file, a pipe or a character
    /// device), at most [`MAX_FILE_BYTES`]: for a caller that needs the
    /// text as well as [`Self::parse_over_catalog`]'s result (a pipe can be
    /// read only once).
    pub fn read(path: &std::path::Path) -> Result<String, ConfigError> {
        read_limited(path)
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

/// `environment` keys that log in to a secured deployment (Cliffracer's
/// `nats_user`, `nats_password`, `nats_token`, `nats_credentials_file`, and
/// files for secrets so none need be written inline).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NatsLogin {
    /// `nats_user`.
    pub user: Option<String>,
    /// `nats_password`, or the contents of `nats_password_file`.
    pub password: Option<Secret>,
    /// `nats_token`, or the contents of `nats_token_file`.
    pub token: Option<Secret>,
    /// `nats_nkey_file`: a user NKey seed.
    pub nkey_file: Option<std::path::PathBuf>,
    /// `nats_credentials_file`: a JWT and seed.
    pub credentials_file: Option<std::path::PathBuf>,
    /// `nats_tls_ca`.
    pub tls_ca: Option<std::path::PathBuf>,
    /// `nats_tls_cert`.
    pub tls_cert: Option<std::path::PathBuf>,
    /// `nats_tls_key`.
    pub tls_key: Option<std::path::PathBuf>,
    /// `nats_tls_first`.
    pub tls_first: bool,
    /// The keys whose secret is written in the file itself
    /// (`environment.nats_password`, `environment.nats_token`, a
    /// `environment.nats_url` with user info): a file that is shipped
    /// somewhere readable (a Kubernetes ConfigMap) must have none.
    pub inline_secrets: Vec<&'static str>,
}

/// The sections of a file beside `scenarios` and `user_classes`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Settings {
    /// `environment.nats_url`: the deployment to target when no `--nats-url` is given.
    pub nats_url: Option<String>,
    /// `environment.nats_user` and friends: how to log in to it.
    pub nats_login: NatsLogin,
    /// `environment.nats_monitoring_url`.
    pub nats_monitoring_url: Option<String>,
    /// `environment.reference_service_latency`: true for `none` (no simulated I/O
    /// in the reference services cliffload starts), false for `realistic`.
    pub reference_latency_none: bool,
    /// `reporting.benchmark_claims`.
    pub claims: Claims,
    /// `advanced.memory_leak_detection.max_memory_increase_mb`, when enabled.
    pub max_memory_increase_mb: Option<f64>,
    /// `advanced.regression_detection.max_performance_degradation_percent`, when enabled.
    pub max_degradation_percent: Option<f64>,
    /// `advanced.regression_detection.baseline_results_path`, when enabled.
    pub baseline_results_path: Option<String>,
    /// `comparison_frameworks`, in file order.
    pub frameworks: Vec<Framework>,
}

/// A framework to compare with (`comparison_frameworks`): the same plan is
/// run against it after the NATS run.
#[derive(Debug, Clone, PartialEq)]
pub struct Framework {
    /// Its key (`fastapi`, `flask`, `celery_redis`).
    pub name: String,
    /// Whether to run it.
    pub enabled: bool,
    /// How to reach it.
    pub target: FrameworkTarget,
    /// The scenarios compared on it.
    pub scenarios: Vec<String>,
}

/// How a framework is reached.
#[derive(Debug, Clone, PartialEq)]
pub enum FrameworkTarget {
    /// Over HTTP at this base URL (a REST framework).
    Http(String),
    /// As Celery tasks on this Redis broker, to this queue.
    Celery {
        /// `redis://HOST:PORT[/DB]`.
        broker_url: String,
        /// The queue.
        queue: String,
    },
}

/// The performance claims to judge (`reporting.benchmark_claims`).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Claims {
    /// Judge "sub-millisecond" (median of successful simple RPCs < 1 ms).
    pub sub_millisecond: bool,
    /// Judge "10× faster than REST" (needs a comparison run).
    pub ten_x_faster_than_rest: bool,
    /// Judge "high throughput": successful requests per second at least this.
    pub high_throughput_rps: Option<f64>,
}

/// One load scenario: who sends what, how fast, for how long, and what must hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scenario {
    /// Key under `scenarios:`.
    pub name: String,
    /// One line for listings.
    pub description: Option<String>,
    /// Virtual users (closed model); with stages, the most at any time.
    pub users: NonZeroU32,
    /// Users started per second.
    pub spawn_rate: f64,
    /// How long the load runs once the first user starts.
    pub duration: Duration,
    /// The user classes; users are spread over them by weight.
    pub classes: Vec<UserClass>,
    /// Every task of every class; positions index recorders and transports.
    pub tasks: Vec<Task>,
    /// Pass/fail checks applied to the result.
    pub expectations: Expectations,
    /// Seed for payloads, task choice and think times (reproducible runs).
    pub seed: u64,
    /// Stop after this many requests (at `duration` at the latest).
    pub max_requests: Option<u64>,
    /// Share of generated payloads with an injected error.
    pub error_rate: f64,
    /// The closed model's stages (`stages:` with `users:`, or
    /// `advanced.gradual_load_increase`), if its users follow any.
    pub stages: Option<Stages>,
    /// Open model: requests arrive at a rate, whatever the replies do. `None`: closed model (users).
    pub arrival: Option<ArrivalRate>,
    /// The performance claims judged on this scenario (`reporting.benchmark_claims`,
    /// narrowed by the scenario's `claims:` list).
    pub claims: Claims,
    /// How payloads are generated.
    pub data: DataGeneration,
    /// What a problem in the smoke calls before the load does.
    pub preflight: PreflightMode,
    /// The data file templates read rows from (`data:`), if any.
    #[serde(default)]
    pub data_file: Option<DataSource>,
    /// The names of the values tasks save from replies (`save:`); templates
    /// refer to them by position.
    #[serde(default)]
    pub vars: Vec<String>,
    /// What a step whose saved value is missing from its reply does.
    #[serde(default)]
    pub on_missing_capture: MissingCapture,
    /// Streams created for the run and consumers watched (`jetstream:`).
    /// Left out of the hash's JSON when empty, so older scenarios keep theirs.
    #[serde(default, skip_serializing_if = "JetStreamSpec::is_empty")]
    pub jetstream: JetStreamSpec,
}

impl Scenario {
    /// SHA-256 of the scenario's canonical JSON (fields in declaration
    /// order, no spaces), hex: the same workload, load and expectations
    /// have the same hash. A distributed plan is checked by it, and the
    /// history groups runs by it.
    pub fn content_hash(&self) -> String {
        use std::fmt::Write as _;
        let json = serde_json::to_vec(self).unwrap_or_default();
        let digest = ring::digest::digest(&ring::digest::SHA256, &json);
        digest.as_ref().iter().fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    }

    /// The most users the plan runs at once: the largest stage, or `users`.
    pub fn planned_peak_users(&self) -> u32 {
        match &self.stages {
            Some(Stages::Steps { steps, .. }) => steps.iter().max().copied(),
            Some(Stages::Users(_)) => Some(self.user_shape().peak() as u32),
            None => None,
        }
        .unwrap_or(self.users.get())
    }

    /// The load in words, the same wherever it is shown: the arrival rate
    /// of the open model, or the users (spawn rate, stages) of the closed one.
    pub fn describe_load(&self) -> String {
        if let Some(a) = &self.arrival {
            return match &a.rate {
                Rate::Stages(shape) => describe_rate_stages(shape, a.max_in_flight.get()),
                _ => describe_arrival(a.start_rate(), a.ramp_to(), a.max_in_flight.get()),
            };
        }
        if let Some(Stages::Users(stages)) = &self.stages {
            let shape = Shape {
                start: 0.0,
                stages: stages.clone(),
            };
            return describe_user_stages(self.users.get(), &shape);
        }
        let mut out = format!(
            "{} user{} (started {}/s)",
            self.users,
            if self.users.get() == 1 { "" } else { "s" },
            self.spawn_rate
        );
        if let Some(Stages::Steps {
            steps,
            step_duration,
        }) = &self.stages
        {
            let steps: Vec<String> = steps.iter().map(u32::to_string).collect();
            out.push_str(&format!(
                ", in stages of {} users, {} s each",
                steps.join(" → "),
                step_duration.as_secs_f64()
            ));
        }
        out
    }

    /// Think times, in words, per class.
    pub fn describe_wait(&self) -> String {
        let words = |w: WaitTime| w.to_string();
        if let [only] = self.classes.as_slice() {
            return words(only.wait_time);
        }
        self.classes
            .iter()
            .map(|c| format!("{}: {}", c.name, words(c.wait_time)))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// The open model's load in words: `open model: 2000 requests/s, at most
/// 1000 in flight` (with `ramping to N/s` when it ramps).
pub fn describe_arrival(rate: f64, ramp_to: Option<f64>, max_in_flight: u32) -> String {
    let ramp = ramp_to.map_or(String::new(), |r| format!(" ramping to {r}/s"));
    format!("open model: {rate} requests/s{ramp}, at most {max_in_flight} in flight")
}

/// The open model's stages in words: `open model in stages (from 0/s:
/// → 100/s over 30 s, …), at most 1000 in flight`.
pub fn describe_rate_stages(shape: &Shape, max_in_flight: u32) -> String {
    format!(
        "open model in stages (from {}/s: {}), at most {max_in_flight} in flight",
        shape.start,
        shape.describe("/s")
    )
}

/// User stages in words: `up to 200 users in stages (→ 50 users over 30 s, …)`.
pub fn describe_user_stages(most: u32, shape: &Shape) -> String {
    format!(
        "up to {most} users in stages ({})",
        shape.describe(" users")
    )
}

/// A duration for people: `0 s`, `250 ms`, `1.5 s`, `2 min`.
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if d.is_zero() {
        "0 s".to_owned()
    } else if secs < 1.0 {
        format!("{} ms", (secs * 1000.0 * 1000.0).round() / 1000.0)
    } else if secs >= 120.0 && secs % 60.0 == 0.0 {
        format!("{} min", secs / 60.0)
    } else {
        format!("{} s", (secs * 1000.0).round() / 1000.0)
    }
}

impl std::fmt::Display for WaitTime {
    /// `none`, `constant 1 s`, `between 50 ms and 200 ms`, `pacing 1 s`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            WaitTime::Constant(d) if d.is_zero() => f.write_str("none"),
            WaitTime::Constant(d) => write!(f, "constant {}", human_duration(d)),
            WaitTime::Between(a, b) => {
                write!(f, "between {} and {}", human_duration(a), human_duration(b))
            }
            WaitTime::Pacing(d) => write!(f, "pacing {}", human_duration(d)),
        }
    }
}

/// A kind of user: its share of the users, its think time, its tasks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserClass {
    /// Name (`OrderProcessingUser`).
    pub name: String,
    /// Relative share of the users.
    pub weight: NonZeroU32,
    /// Think time between this user's requests.
    pub wait_time: WaitTime,
    /// Positions in [`Scenario::tasks`].
    pub tasks: Vec<usize>,
    /// Runs its tasks in order, each iteration (`flow: true`), instead of
    /// picking one by weight; the whole pass is also timed, as a flow.
    #[serde(default)]
    pub flow: bool,
}

/// The open model (k6's arrival rate): requests start on a schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArrivalRate {
    /// Requests per second over the run.
    pub rate: Rate,
    /// Requests in flight at most; a request that finds no room waits, and
    /// counts as late (its latency from the intended time shows the wait).
    pub max_in_flight: NonZeroU32,
}

/// How payloads are generated (`data_generation`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataGeneration {
    /// Customers generated once and reused.
    pub customer_pool_size: usize,
    /// Products generated once and reused.
    pub product_pool_size: usize,
    /// Payloads pre-built per generated task.
    pub payload_pool_size: usize,
    /// Items per order: min, max, average.
    pub order_items: (usize, usize, f64),
}

impl Default for DataGeneration {
    fn default() -> Self {
        Self {
            customer_pool_size: 1000,
            product_pool_size: 500,
            payload_pool_size: 256,
            order_items: (1, 8, 3.0),
        }
    }
}

/// Think time between two requests of one user.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum WaitTime {
    /// Always the same pause (zero: back to back).
    Constant(Duration),
    /// Uniformly random in `[min, max]`.
    Between(Duration, Duration),
    /// Locust's `constant_pacing`: a user starts a task every this long,
    /// whatever the request took (no wait when it took longer).
    Pacing(Duration),
}

impl WaitTime {
    /// Whether a user never waits: the next request goes out as soon as
    /// the reply arrives.
    pub fn is_none(&self) -> bool {
        matches!(self, WaitTime::Constant(d) if d.is_zero())
    }
}

/// Where a task's bodies come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Payload {
    /// The same body every time (never injected).
    Static(serde_json::Value),
    /// Rendered per request from a body whose strings hold templates
    /// (`{{uuid}}`, `{{row.email}}`); checked when the file was loaded.
    Template(serde_json::Value),
    /// Generated and pre-built into a pool.
    Generated {
        /// One model spec per sub-pool (payloads split evenly across them).
        models: Vec<cliffload_payloads::ModelSpec>,
        /// Wrap as `{arg: payload}`.
        arg: Option<String>,
    },
}

/// One kind of request a user sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// Name in reports: `Class.task` (unique within the scenario).
    pub name: String,
    /// What to send where and how to read the reply (what the transports consume).
    pub request: RequestSpec,
    /// Relative frequency among its class's tasks.
    pub weight: NonZeroU32,
    /// The request bodies.
    pub payload: Payload,
    /// Share of this task's generated payloads with an injected error.
    pub error_rate: f64,
    /// Values saved from its successful replies, for later templates.
    #[serde(default)]
    pub save: Vec<Capture>,
    /// Headers of its own (`headers: {X-Tenant: "{{row.tenant}}"}`), values
    /// possibly templates, sent beside the standard ones.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
}

impl Task {
    /// Whether its subject, body or headers are rendered per request.
    pub fn is_templated(&self) -> bool {
        matches!(self.payload, Payload::Template(_))
            || cliffload_payloads::template::has_template(&self.request.subject)
            || !self.headers.is_empty()
    }
}

/// Pass/fail checks of a scenario (`performance_expectations`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Expectations {
    /// Highest acceptable failure rate, in percent of all requests.
    pub max_failure_percent: Option<f64>,
    /// Highest acceptable median latency of successful requests, in ms.
    pub max_median_ms: Option<f64>,
    /// Highest acceptable p95 latency of successful requests, in ms.
    pub max_p95_ms: Option<f64>,
    /// Highest acceptable p99 latency of successful requests, in ms.
    pub max_p99_ms: Option<f64>,
    /// Lowest acceptable rate of successful requests per second.
    pub min_rps: Option<f64>,
    /// Outage the run may have (seconds of the load in which requests were
    /// due and failed, and none succeeded); `None`: any outage fails it.
    #[serde(default)]
    pub max_outage: Option<OutageAllowance>,
    /// Bounds on single tasks and flows (`expectations.tasks`), in the
    /// order of their names.
    #[serde(default)]
    pub tasks: Vec<TaskExpectations>,
    /// The most messages a watched consumer may have pending or
    /// unacknowledged at any sample (`jetstream.consumers`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_consumer_lag: Option<u64>,
}

/// Bounds on one task or flow (`expectations.tasks.<name>`), judged on its
/// own row of the result as the scenario's are on all its requests.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TaskExpectations {
    /// Its name in results (`Class.task`), whichever name the file wrote.
    pub name: String,
    /// Highest acceptable failure rate, in percent of its requests.
    pub max_failure_percent: Option<f64>,
    /// Highest acceptable median latency of its successful requests, in ms.
    pub max_median_ms: Option<f64>,
    /// Highest acceptable p95 latency of its successful requests, in ms.
    pub max_p95_ms: Option<f64>,
    /// Highest acceptable p99 latency of its successful requests, in ms.
    pub max_p99_ms: Option<f64>,
    /// Lowest acceptable rate of its successful requests per second.
    pub min_rps: Option<f64>,
}

/// How much outage a run may have (`expectations.max_outage`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutageAllowance {
    /// At most this long (`max_outage: 2s`).
    Time(Duration),
    /// At most this share of the load's seconds, in percent (`max_outage: 10%`).
    Percent(f64),
}

impl OutageAllowance {
    /// Whether `outage` seconds of a `load_s`-second load are allowed.
    pub fn allows(&self, outage_s: f64, load_s: f64) -> bool {
        match self {
            Self::Time(d) => outage_s <= d.as_secs_f64() + 1e-9,
            Self::Percent(p) => load_s > 0.0 && outage_s / load_s * 100.0 <= p + 1e-9,
        }
    }
}

impl std::fmt::Display for OutageAllowance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Time(d) => write!(f, "{}", human_duration(*d)),
            Self::Percent(p) => write!(f, "{p}% of the load"),
        }
    }
}

impl Expectations {
    /// The failure rate a run may have, in percent: the scenario's bound, or
    /// 0 when it sets none (any unexpected failure fails a run, as in Locust).
    /// Checks and claims both judge against this one figure.
    pub fn failure_bound(&self) -> f64 {
        self.max_failure_percent.unwrap_or(0.0)
    }
}

/// Default request timeout (the original suite's).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default cap on requests in flight in the open model.
pub const DEFAULT_MAX_IN_FLIGHT: NonZeroU32 = NonZeroU32::new(1000).expect("1000 > 0");
/// The highest arrival rate a scenario or `--rate` may ask for, requests/s.
pub const MAX_RATE: f64 = 10_000_000.0;

/// Why `rate` is not an arrival rate (above 0, at most [`MAX_RATE`]), if it is not.
pub fn check_rate(rate: f64) -> Result<f64, String> {
    if rate.is_finite() && rate > 0.0 && rate <= MAX_RATE {
        Ok(rate)
    } else {
        Err(format!(
            "must be above 0 and at most {MAX_RATE} requests/s, got {rate}"
        ))
    }
}
/// Default seed when a scenario names none.
pub const DEFAULT_SEED: u64 = 0x00C1_1FF1_0AD5;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod validate_tests;
#[cfg(test)]
mod workload_tests;

//! The serde mirror of a scenario file: the original suite's sections
//! (`environment`, `scenarios`, `data_generation`, `performance_expectations`,
//! `monitoring`, `reporting`, `comparison_frameworks`, `advanced`) and ours
//! (`user_classes`, and `tasks`, `wait_time`, `expectations`, `seed` in a
//! scenario). Unknown keys are errors. Every field is optional here so a
//! user's file can be laid over the built-in catalog key by key;
//! [`crate::validate`] says what is required.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Codec, Protocol};

/// The whole file.
#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFile {
    pub environment: Option<RawEnvironment>,
    pub scenarios: Option<BTreeMap<String, RawScenario>>,
    pub user_classes: Option<BTreeMap<String, RawUserClass>>,
    pub data_generation: Option<RawDataGeneration>,
    pub performance_expectations: Option<BTreeMap<String, RawExpectations>>,
    pub monitoring: Option<RawMonitoring>,
    pub reporting: Option<RawReporting>,
    pub comparison_frameworks: Option<BTreeMap<String, RawFramework>>,
    pub advanced: Option<RawAdvanced>,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawEnvironment {
    pub nats_url: Option<String>,
    pub nats_monitoring_url: Option<String>,
    /// The original's Python import paths: accepted, not used.
    pub python_path_extensions: Option<Vec<String>>,
    /// Simulated I/O of the reference services cliffload starts itself:
    /// `realistic` (default) or `none`.
    pub reference_service_latency: Option<String>,
    pub nats_user: Option<String>,
    /// Inline (Cliffracer's key); `nats_password_file` keeps it out of the file.
    pub nats_password: Option<String>,
    pub nats_password_file: Option<String>,
    pub nats_token: Option<String>,
    pub nats_token_file: Option<String>,
    pub nats_nkey_file: Option<String>,
    pub nats_credentials_file: Option<String>,
    pub nats_tls_ca: Option<String>,
    pub nats_tls_cert: Option<String>,
    pub nats_tls_key: Option<String>,
    pub nats_tls_first: Option<bool>,
}

/// One entry under `scenarios:`.
#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    pub description: Option<String>,
    #[schemars(range(min = 1))]
    pub users: Option<i64>,
    pub spawn_rate: Option<f64>,
    #[schemars(with = "Option<WithUnit>")]
    pub duration: Option<RawDuration>,
    /// Share of generated payloads with an injected error, 0..=1.
    pub error_rate: Option<f64>,
    /// Items per batch request: `{small: 100, medium: 1000, large: 5000}`.
    pub payload_sizes: Option<BTreeMap<String, i64>>,
    /// Task name → share of requests (weights of the scenario's tasks).
    pub workload_distribution: Option<BTreeMap<String, f64>>,
    pub seed: Option<u64>,
    /// Stop after this many requests (or at `duration`, whichever comes first).
    #[schemars(range(min = 1))]
    pub max_requests: Option<u64>,
    /// Think time of the scenario's own `tasks`.
    pub wait_time: Option<RawWait>,
    /// Checks (override `performance_expectations.<name>` key by key).
    pub expectations: Option<RawExpectations>,
    /// Tasks of one anonymous user class, instead of `user_classes`.
    pub tasks: Option<Vec<RawTask>>,
    /// Which user classes run (default: all of the file's).
    pub user_classes: Option<Vec<String>>,
    /// Follow `advanced.gradual_load_increase` even when it is not enabled globally.
    pub gradual_load_increase: Option<bool>,
    /// Open model: `{rate: 200, ramp_to: 500, max_in_flight: 1000}` (users are then not needed).
    pub arrival_rate: Option<RawArrival>,
    /// Load shape (k6's `stages`): `[{duration: 30s, users: 50}, {duration: 2m, users: 200},
    /// {duration: 30s, users: 0}]`, linear within each stage from the previous stage's target
    /// (from 0); or the same with `rate:` (requests/s) for the open model.
    pub stages: Option<Vec<RawStage>>,
    /// Which of `reporting.benchmark_claims` to judge here (default: none):
    /// `sub_millisecond`, `high_throughput`, `ten_x_faster_than_rest`.
    pub claims: Option<Vec<String>>,
    /// `strict` (default), `warn` or `off`: what a problem in the smoke calls does.
    pub preflight: Option<crate::PreflightMode>,
    /// A data file whose rows templates read as `{{row.COLUMN}}`.
    pub data: Option<RawData>,
    /// Run the scenario's own tasks in order, each iteration (a flow).
    pub flow: Option<bool>,
    /// `end_iteration` (default) or `continue`: what a step does when a
    /// value it saves is missing from its reply.
    pub on_missing_capture: Option<crate::MissingCapture>,
    /// Streams created for the run (and deleted after it), and durable
    /// consumers whose state is sampled while the load runs.
    pub jetstream: Option<RawJetStream>,
}

/// `jetstream: {streams: [...], consumers: [...]}`.
#[derive(Debug, Default, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawJetStream {
    /// Streams cliffload creates before the load and deletes after it
    /// (never one that already exists).
    pub streams: Option<Vec<RawStream>>,
    /// Durable consumers (read by the service) whose pending, ack-pending
    /// and redelivered counts are sampled each second.
    pub consumers: Option<Vec<RawConsumer>>,
}

/// A stream created for the run: `{name: EVENTS, subjects: [events.>]}`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawStream {
    pub name: String,
    pub subjects: Vec<String>,
    /// `file` (default) or `memory`.
    pub storage: Option<crate::StreamStorage>,
    /// The most messages it keeps; a publish beyond it is refused
    /// (`stream full`: discard new).
    #[schemars(range(min = 1))]
    pub max_msgs: Option<i64>,
    /// How long a `Nats-Msg-Id` is remembered for deduplication (default 2m).
    #[schemars(with = "Option<WithUnit>")]
    pub duplicate_window: Option<RawDuration>,
}

/// A durable consumer to watch: `{stream: ORDERS, name: order_processor}`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawConsumer {
    pub stream: String,
    pub name: String,
}

/// `data: {file: customers.csv, order: unique, per: user, when_exhausted: stop}`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawData {
    /// A CSV file with a header row, or JSON Lines (`.jsonl`); relative to
    /// the scenario file.
    pub file: String,
    /// `sequential` (default), `random` or `unique`.
    pub order: Option<crate::RowOrder>,
    /// `iteration` (default) or `user`.
    pub per: Option<crate::RowPer>,
    /// With `order: unique`: `stop` (default) or `cycle`.
    pub when_exhausted: Option<crate::Exhausted>,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawArrival {
    /// Requests per second (at the start, with `ramp_to` or rate `stages`).
    pub rate: Option<f64>,
    pub ramp_to: Option<f64>,
    #[schemars(range(min = 1))]
    pub max_in_flight: Option<i64>,
}

/// One stage: how long, and the users (closed model) or requests per second
/// (open model) at its end.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = one_stage)]
pub struct RawStage {
    /// With a unit (`30s`, `2m`); `0s` jumps.
    pub duration: Option<RawDuration>,
    /// Virtual users at the end of the stage.
    pub users: Option<i64>,
    /// Requests per second at the end of the stage.
    pub rate: Option<f64>,
}

/// The schema of [`RawStage`] says what validation does: a duration, and
/// users or rate (not both). They are optional in the parser so that a
/// missing one is named by validation, with every other mistake.
fn one_stage(schema: &mut schemars::Schema) {
    schema.insert("required".into(), serde_json::json!(["duration"]));
    schema.insert(
        "oneOf".into(),
        serde_json::json!([{"required": ["users"]}, {"required": ["rate"]}]),
    );
}

/// A duration: text with a unit (`30s`, `1m 30s`, `250ms`, `2h`); a bare
/// number is seconds where the key allows it (think time, `…_seconds`).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum RawDuration {
    Seconds(f64),
    Text(String),
}

/// The schema of a [`RawDuration`] whose key refuses a bare number
/// (`duration`, `timeout`, `max_outage`): text with a unit, or 0. The parser
/// still reads a bare number, to say which unit to add.
pub struct WithUnit;

impl schemars::JsonSchema for WithUnit {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "DurationWithUnit".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A duration with its unit: `30s`, `1m 30s`, `250ms`, `2h` (a bare number is refused, since `100` is seconds to one tool and milliseconds to another; 0 is 0 in any unit).",
            "anyOf": [
                {"type": "string", "not": {"pattern": "^\\s*[-+]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][-+]?[0-9]+)?\\s*$"}},
                {"const": 0}
            ]
        })
    }
}

/// `{between: [min, max]}`, `{constant: t}` or `{pacing: t}`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RawWait {
    Between(Vec<RawDuration>),
    Constant(RawDuration),
    Pacing(RawDuration),
}

/// Checks; the original's key names are accepted as aliases.
#[derive(Debug, Default, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = original_key_names)]
pub struct RawExpectations {
    #[serde(alias = "max_failure_rate_percent")]
    pub max_failure_percent: Option<f64>,
    #[serde(alias = "max_median_response_time_ms")]
    pub max_median_ms: Option<f64>,
    pub max_p95_ms: Option<f64>,
    pub max_p99_ms: Option<f64>,
    #[serde(alias = "min_requests_per_second")]
    pub min_rps: Option<f64>,
    /// Outage allowed: a duration (`2s`) or a share of the load (`10%`).
    #[schemars(with = "Option<WithUnit>")]
    pub max_outage: Option<RawDuration>,
    /// Bounds per task (or flow), by its name: `{place_order: {max_p95_ms: 50}}`.
    pub tasks: Option<BTreeMap<String, RawTaskExpectations>>,
    /// The most messages a watched consumer (`jetstream.consumers`) may
    /// have pending or unacknowledged at any sample.
    #[schemars(range(min = 0))]
    pub max_consumer_lag: Option<i64>,
}

/// Bounds on one task's (or flow's) requests: the scenario's keys that
/// mean something for one task (outage is judged on the whole load's seconds).
#[derive(Debug, Default, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTaskExpectations {
    pub max_failure_percent: Option<f64>,
    pub max_median_ms: Option<f64>,
    pub max_p95_ms: Option<f64>,
    pub max_p99_ms: Option<f64>,
    pub min_rps: Option<f64>,
}

/// The schema of [`RawExpectations`] also allows the original suite's key
/// names (schemars does not see serde's aliases): the same as the aliases above.
fn original_key_names(schema: &mut schemars::Schema) {
    const ALIASES: [(&str, &str); 3] = [
        ("max_failure_rate_percent", "max_failure_percent"),
        ("max_median_response_time_ms", "max_median_ms"),
        ("min_requests_per_second", "min_rps"),
    ];
    let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
        return;
    };
    for (alias, key) in ALIASES {
        if let Some(mut s) = props.get(key).cloned() {
            if let Some(o) = s.as_object_mut() {
                o.insert(
                    "description".into(),
                    format!("The original suite's name for `{key}`.").into(),
                );
            }
            props.insert(alias.into(), s);
        }
    }
}

/// A user class: weight, think time, tasks.
#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawUserClass {
    pub description: Option<String>,
    #[schemars(range(min = 1))]
    pub weight: Option<i64>,
    pub wait_time: Option<RawWait>,
    pub tasks: Option<Vec<RawTask>>,
    /// Run the tasks in order, each iteration (a flow), instead of by weight.
    pub flow: Option<bool>,
}

/// One task.
#[derive(Debug, Default, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTask {
    pub name: Option<String>,
    /// Explicit subject; or `service` + `method` (+ `namespace`) give
    /// `{namespace.}{service}.rpc.{method}`.
    pub subject: Option<String>,
    pub service: Option<String>,
    pub method: Option<String>,
    pub namespace: Option<String>,
    /// Wrap generated payloads as `{arg: payload}` (the handler's keyword argument).
    pub arg: Option<String>,
    pub protocol: Option<Protocol>,
    #[schemars(range(min = 1))]
    pub weight: Option<i64>,
    #[schemars(with = "Option<WithUnit>")]
    pub timeout: Option<RawDuration>,
    /// A fixed body.
    pub payload: Option<Value>,
    /// Generated bodies.
    pub generate: Option<RawGenerate>,
    pub encoding: Option<Codec>,
    /// `true`: Content-Type and a unique X-Correlation-ID; a map adds
    /// headers of its own (values may be templates) to those.
    pub headers: Option<RawHeaders>,
    /// Values to keep from a successful reply for later templates:
    /// `{order_id: result.order_id}` (a dot path into the reply's JSON).
    pub save: Option<BTreeMap<String, String>>,
    /// Overrides the scenario's `error_rate` for this task.
    pub error_rate: Option<f64>,
    /// Checks on the replies.
    pub expect: Option<RawExpect>,
    /// `request` (default), `publish` (core NATS, no reply) or `jetstream`
    /// (a publish timed to its acknowledgement).
    pub send: Option<crate::SendMode>,
    /// With `service` and `method`: a fire-and-forget call on
    /// `{service}.async.{method}` (published, never answered).
    #[serde(rename = "async")]
    pub async_call: Option<bool>,
    /// Where the message's effect appears: `{subject: order.processed,
    /// match: {header: X-Correlation-ID}}` (or `match: {json: correlation_id}`);
    /// the task is then timed from its publish to its effect.
    pub observe: Option<RawObserve>,
}

/// `observe: {subject, match, dead_letter}`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawObserve {
    pub subject: String,
    /// Where the effect carries the cause's correlation id: `{header: NAME}`
    /// (default `X-Correlation-ID`) or `{json: dot.path}`.
    #[serde(rename = "match")]
    pub by: Option<RawMatch>,
    /// Where the service sends a message it refuses (Cliffracer's
    /// `dlq.{service}`), matched the same way: a message with an injected
    /// error dead-lettered there is a correct refusal, a valid one a failure.
    /// With it, the task may inject errors.
    pub dead_letter: Option<String>,
}

/// `{header: X-Correlation-ID}` or `{json: correlation_id}`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum RawMatch {
    Header(String),
    Json(String),
}

/// `headers: true`, or `headers: {X-Tenant: "{{row.tenant}}"}`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum RawHeaders {
    Standard(bool),
    Own(BTreeMap<String, String>),
}

/// `expect: {status: ok|rejected, json: {"path.to.field": value}, contains, regex, max_bytes}`.
#[derive(Debug, Default, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawExpect {
    pub status: Option<crate::ExpectStatus>,
    pub json: Option<std::collections::BTreeMap<String, Value>>,
    pub contains: Option<String>,
    pub regex: Option<String>,
    pub max_bytes: Option<i64>,
}

/// What to generate: `{model: order, count: [1, 3]}`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawGenerate {
    pub model: String,
    /// Items per order or batch request, orders per order batch, events per
    /// analytics batch: a number, `[min, max]`, `{one_of: [a, b, …]}`, or
    /// `small|medium|large` (from `data_generation.analytics_batch_sizes`).
    pub count: Option<RawCount>,
    /// KB of metadata filler in batch requests (default: `payload_complexity.metadata_size_kb`).
    pub metadata_kb: Option<RawCount>,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum RawCount {
    One(i64),
    Range(Vec<i64>),
    Named(String),
    /// `{one_of: [5, 10, 20, 50, 100]}`: each count equally often.
    OneOf(RawOneOf),
}

/// `{one_of: [...]}`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawOneOf {
    pub one_of: Vec<i64>,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDataGeneration {
    pub customer_pool_size: Option<i64>,
    pub product_pool_size: Option<i64>,
    pub cache_generated_data: Option<bool>,
    /// Payloads pre-built per task (ours).
    pub payload_pool_size: Option<i64>,
    pub order_complexity: Option<RawOrderComplexity>,
    pub analytics_batch_sizes: Option<BTreeMap<String, Vec<i64>>>,
    pub payload_complexity: Option<RawPayloadComplexity>,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawOrderComplexity {
    pub min_items: Option<i64>,
    pub max_items: Option<i64>,
    pub average_items: Option<f64>,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPayloadComplexity {
    pub validation_depth: Option<i64>,
    pub metadata_size_kb: Option<Vec<i64>>,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawMonitoring {
    pub collect_system_metrics: Option<bool>,
    pub memory_sampling_interval_seconds: Option<f64>,
    pub cpu_sampling_interval_seconds: Option<f64>,
    pub custom_metrics: Option<Vec<String>>,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawReporting {
    pub generate_html_reports: Option<bool>,
    pub generate_csv_exports: Option<bool>,
    pub generate_summary_markdown: Option<bool>,
    pub include_performance_analysis: Option<bool>,
    pub benchmark_claims: Option<RawClaims>,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawClaims {
    pub sub_millisecond_claim: Option<bool>,
    pub ten_x_faster_than_rest: Option<bool>,
    pub high_throughput_claim: Option<f64>,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFramework {
    pub enabled: Option<bool>,
    /// An HTTP framework's base URL (`POST {endpoint}/{service}/rpc/{method}`).
    pub endpoint: Option<String>,
    /// A Celery framework's Redis broker (and result backend).
    pub broker_url: Option<String>,
    /// The Celery queue (default `celery`).
    pub queue: Option<String>,
    pub scenarios: Option<Vec<String>>,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAdvanced {
    pub gradual_load_increase: Option<RawGradual>,
    pub memory_leak_detection: Option<RawLeak>,
    pub regression_detection: Option<RawRegression>,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawGradual {
    pub enabled: Option<bool>,
    pub steps: Option<Vec<i64>>,
    pub step_duration_seconds: Option<RawDuration>,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLeak {
    pub enabled: Option<bool>,
    pub max_memory_increase_mb: Option<f64>,
    pub measurement_interval_seconds: Option<f64>,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRegression {
    pub enabled: Option<bool>,
    pub baseline_results_path: Option<String>,
    pub max_performance_degradation_percent: Option<f64>,
}

/// Lays `over` on `base`: objects merge key by key, anything else (and
/// arrays) replaces; `null` in `over` leaves `base` as it is.
pub fn merge(base: Value, over: Value) -> Value {
    match (base, over) {
        (Value::Object(mut b), Value::Object(o)) => {
            for (k, v) in o {
                if v.is_null() {
                    continue;
                }
                let merged = match b.remove(&k) {
                    Some(old) => merge(old, v),
                    None => v,
                };
                b.insert(k, merged);
            }
            Value::Object(b)
        }
        (b, Value::Null) => b,
        (_, o) => o,
    }
}

//! Pass/fail checks of a run: judged on successful requests
//! only, on unrounded counts, never passed on a run that has nothing to judge.
//!
//! A [`Verdict`] holds checks and claims; whether it passed is computed from
//! them ([`Verdict::status`]) and never stored, so the modules that add a
//! check (monitor, regression, comparison) only push it.

use cliffload_metrics::LatencySummary;
use cliffload_scenario::{Scenario, TaskExpectations};
use serde::{Deserialize, Serialize};

use crate::result::{RunResult, TaskRow};

/// Successful requests a latency check or claim needs before it is judged
/// either way: below this a median (let alone a p99) is noise.
pub const MIN_SAMPLES: u64 = 100;

/// Seconds of load a throughput claim needs: a short burst says nothing
/// about the rate a service sustains.
pub const MIN_THROUGHPUT_SECONDS: f64 = 10.0;

/// What a check, or the whole verdict, says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Held.
    Passed,
    /// Did not hold.
    Failed,
    /// Cannot be judged from this run (too few samples, nothing to compare).
    Inconclusive,
}

impl Status {
    /// `PASSED`, `FAILED`, `INCONCLUSIVE`.
    pub fn word(self) -> &'static str {
        match self {
            Status::Passed => "PASSED",
            Status::Failed => "FAILED",
            Status::Inconclusive => "INCONCLUSIVE",
        }
    }
}

/// The checks and claims of a run. Serialised with the derived `status`
/// and `passed` beside them, for readers of `result.json`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(into = "VerdictJson", from = "VerdictJson")]
pub struct Verdict {
    /// The checks, in a fixed order.
    pub checks: Vec<Check>,
    /// The performance claims judged (`reporting.benchmark_claims`).
    pub claims: Vec<Claim>,
}

impl Verdict {
    /// Failed when a check failed or a claim is refuted; inconclusive when a
    /// check could not be judged; passed only when every check passed.
    pub fn status(&self) -> Status {
        let refuted = self
            .claims
            .iter()
            .any(|c| c.status == ClaimStatus::NotValidated);
        if refuted || self.checks.iter().any(|c| c.status == Status::Failed) {
            Status::Failed
        } else if self.checks.iter().any(|c| c.status == Status::Inconclusive) {
            Status::Inconclusive
        } else {
            Status::Passed
        }
    }

    /// True only when [`Verdict::status`] is passed.
    pub fn passed(&self) -> bool {
        self.status() == Status::Passed
    }
}

#[derive(Serialize, Deserialize)]
struct VerdictJson {
    #[serde(default = "unknown_status")]
    status: Status,
    passed: bool,
    checks: Vec<Check>,
    claims: Vec<Claim>,
}

fn unknown_status() -> Status {
    Status::Inconclusive
}

impl From<Verdict> for VerdictJson {
    fn from(v: Verdict) -> Self {
        Self {
            status: v.status(),
            passed: v.passed(),
            checks: v.checks,
            claims: v.claims,
        }
    }
}

impl From<VerdictJson> for Verdict {
    fn from(v: VerdictJson) -> Self {
        Self {
            checks: v.checks,
            claims: v.claims,
        }
    }
}

/// What the measurements say of a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimStatus {
    /// Measured on successful requests, within the failure bound: holds.
    Validated,
    /// Measured, and it does not hold (or the run failed too often to say it does).
    NotValidated,
    /// Cannot be judged from this run (says why).
    Inconclusive,
}

/// One judged claim.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claim {
    /// `sub_millisecond`, `high_throughput`, `ten_x_faster_than_rest`.
    pub name: String,
    /// The judgement.
    pub status: ClaimStatus,
    /// The figures behind it.
    pub detail: String,
}

/// One check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "CheckJson", from = "CheckJson")]
pub struct Check {
    /// Stable identifier (`max_failure_percent`, …).
    pub name: String,
    /// Whether it held.
    pub status: Status,
    /// The bound, in words (`≤ 1%`).
    pub expected: String,
    /// The measured value, in words.
    pub actual: String,
}

impl Check {
    /// A check that held or did not.
    pub fn new(name: &str, passed: bool, expected: String, actual: String) -> Self {
        let status = if passed {
            Status::Passed
        } else {
            Status::Failed
        };
        Self::with_status(name, status, expected, actual)
    }

    /// A check with any status (inconclusive included).
    pub fn with_status(name: &str, status: Status, expected: String, actual: String) -> Self {
        Self {
            name: name.into(),
            status,
            expected,
            actual,
        }
    }

    /// True when it held.
    pub fn passed(&self) -> bool {
        self.status == Status::Passed
    }
}

#[derive(Serialize, Deserialize)]
struct CheckJson {
    name: String,
    /// Absent in results written before checks could be inconclusive.
    #[serde(default)]
    status: Option<Status>,
    passed: bool,
    expected: String,
    actual: String,
}

impl From<Check> for CheckJson {
    fn from(c: Check) -> Self {
        Self {
            passed: c.passed(),
            status: Some(c.status),
            name: c.name,
            expected: c.expected,
            actual: c.actual,
        }
    }
}

impl From<CheckJson> for Check {
    fn from(c: CheckJson) -> Self {
        let status = c.status.unwrap_or(if c.passed {
            Status::Passed
        } else {
            Status::Failed
        });
        Self::with_status(&c.name, status, c.expected, c.actual)
    }
}

/// `n` over `secs` seconds, per second, unrounded (0 over no time).
pub fn per_second(n: u64, secs: f64) -> f64 {
    if secs > 0.0 { n as f64 / secs } else { 0.0 }
}

/// `failures` of `requests` in percent, unrounded (0 without requests).
pub fn failure_rate(failures: u64, requests: u64) -> f64 {
    if requests == 0 {
        0.0
    } else {
        failures as f64 * 100.0 / requests as f64
    }
}

/// A percentage for people: three decimals, but never a non-zero rate
/// shown as `0.000%` (1 in 200,000 is `0.0005%`).
pub fn percent(p: f64) -> String {
    if p > 0.0 && p < 0.001 {
        let digits = (-p.log10()).ceil() as usize;
        format!("{p:.digits$}%")
    } else {
        format!("{p:.3}%")
    }
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// The successful simple RPCs (tasks with a fixed body) of a run, which the
/// sub-millisecond claim is judged on.
#[derive(Debug, Clone, Copy, Default)]
pub struct SimpleRpcs {
    /// Latency of the successful ones.
    pub latency: LatencySummary,
    /// All of them, whatever the outcome.
    pub requests: u64,
    /// The failed ones.
    pub failures: u64,
}

/// The latency checks and claims are judged on, and its name: in the open
/// model, from the intended send time (never-sent arrivals included), so a
/// stalled service cannot look fast by being sent less; otherwise from the send.
pub fn judged_latency(r: &RunResult) -> (&LatencySummary, &'static str) {
    match &r.open_model {
        Some(o) => (&o.intended_latency_us, "from the intended send time"),
        None => (&r.summary.latency_us, "of successful requests"),
    }
}

/// Judges `result` against the scenario's expectations and claims.
pub fn judge(scenario: &Scenario, result: &RunResult, simple: SimpleRpcs) -> Verdict {
    Verdict {
        checks: checks(scenario, result),
        claims: claims(scenario, result, simple),
    }
}

/// The expectations' checks; a failure check is always among them.
pub fn checks(scenario: &Scenario, r: &RunResult) -> Vec<Check> {
    let e = &scenario.expectations;
    let mut checks = failure_checks(scenario, r);
    let (lat, which) = judged_latency(r);
    for (name, bound, us, label) in [
        ("max_median_ms", e.max_median_ms, lat.p50, "median"),
        ("max_p95_ms", e.max_p95_ms, lat.p95, "p95"),
        ("max_p99_ms", e.max_p99_ms, lat.p99, "p99"),
    ] {
        if let Some(bound_ms) = bound {
            let judged = (lat, which);
            let check = latency_check(r.summary.successes, judged, name, bound_ms, us, label);
            checks.push(check);
        }
    }
    if let Some(min) = e.min_rps {
        let rps = success_rps(r);
        checks.push(Check::new(
            "min_rps",
            rps >= min,
            format!("≥ {min} successful req/s"),
            format!("{rps:.1} successful req/s"),
        ));
    }
    checks.extend(outage_check(scenario, r));
    for t in &scenario.expectations.tasks {
        checks.extend(threshold_checks(t, r));
    }
    checks
}

/// The row of the task, else of the flow, named `name`.
pub fn row_named<'a>(r: &'a RunResult, name: &str) -> Option<&'a TaskRow> {
    r.tasks.iter().chain(&r.flows).find(|t| t.name == name)
}

/// The checks of one task's (or flow's) thresholds, named `{task}.{key}`
/// (`Shop.place_order.max_p95_ms`), each judged on its row as the
/// scenario's are on all requests.
fn threshold_checks(t: &TaskExpectations, r: &RunResult) -> Vec<Check> {
    let row = row_named(r, &t.name);
    [
        ("max_failure_percent", t.max_failure_percent),
        ("max_median_ms", t.max_median_ms),
        ("max_p95_ms", t.max_p95_ms),
        ("max_p99_ms", t.max_p99_ms),
        ("min_rps", t.min_rps),
    ]
    .into_iter()
    .filter_map(|(key, bound)| {
        let name = format!("{}.{key}", t.name);
        Some(match row {
            Some(row) => task_check(r, row, &name, key, bound?),
            None => Check::with_status(
                &name,
                Status::Inconclusive,
                expected_words(key, bound?),
                format!("no task or flow named \"{}\" in this run", t.name),
            ),
        })
    })
    .collect()
}

/// The bound of threshold `key` in words.
fn expected_words(key: &str, bound: f64) -> String {
    match key {
        "max_failure_percent" => format!("≤ {bound}%"),
        "min_rps" => format!("≥ {bound} successful req/s"),
        _ => format!("≤ {bound} ms"),
    }
}

/// Threshold `key` (`bound`) judged on `row`. A task none of whose requests
/// completed has no failure rate or latency to judge: inconclusive.
fn task_check(r: &RunResult, row: &TaskRow, name: &str, key: &str, bound: f64) -> Check {
    let expected = expected_words(key, bound);
    if key == "min_rps" {
        let rps = per_second(row.successes, r.duration_s);
        return Check::new(
            name,
            rps >= bound,
            expected,
            format!("{rps:.1} successful req/s"),
        );
    }
    if row.requests == 0 {
        let why = format!(
            "no request of {} completed: nothing to judge; run longer or raise its weight",
            row.name
        );
        return Check::with_status(name, Status::Inconclusive, expected, why);
    }
    if key == "max_failure_percent" {
        let rate = failure_rate(row.failures, row.requests);
        let actual = format!("{} ({} of {})", percent(rate), row.failures, row.requests);
        return Check::new(name, rate <= bound, expected, actual);
    }
    // In the open model, from the intended send time, as the scenario's.
    let (lat, which) = match (&r.open_model, &row.intended_latency_us) {
        (Some(_), Some(lat)) => (lat, "from the intended send time"),
        _ => (&row.latency_us, "of successful requests"),
    };
    let (us, label) = match key {
        "max_median_ms" => (lat.p50, "median"),
        "max_p95_ms" => (lat.p95, "p95"),
        _ => (lat.p99, "p99"),
    };
    latency_check(row.successes, (lat, which), name, bound, us, label)
}

/// Whether anything succeeded, and the failure rate against its bound.
fn failure_checks(scenario: &Scenario, r: &RunResult) -> Vec<Check> {
    let e = &scenario.expectations;
    let s = &r.summary;
    let bound = e.failure_bound();
    let rate = failure_rate(s.failures, s.requests);
    vec![
        Check::new(
            "requests_completed",
            s.successes > 0,
            "> 0 successful requests".into(),
            format!("{} successful of {} requests", s.successes, s.requests),
        ),
        Check::new(
            "max_failure_percent",
            s.requests > 0 && rate <= bound,
            format!(
                "≤ {bound}%{}",
                if e.max_failure_percent.is_none() {
                    " (the default: any unexpected failure fails the run; set expectations.max_failure_percent to allow some)"
                } else {
                    ""
                }
            ),
            format!("{} ({} of {})", percent(rate), s.failures, s.requests),
        ),
    ]
}

/// A latency bound on `us` (a percentile of `lat`, measured `which` way)
/// of requests with `successes` successes: failed without one,
/// inconclusive on too few.
fn latency_check(
    successes: u64,
    (lat, which): (&LatencySummary, &str),
    name: &str,
    bound_ms: f64,
    us: u64,
    label: &str,
) -> Check {
    let expected = format!("≤ {bound_ms} ms");
    if successes == 0 {
        Check::new(
            name,
            false,
            expected,
            "no successful requests: a latency of failures is not a latency".into(),
        )
    } else if lat.count < MIN_SAMPLES {
        Check::with_status(
            name,
            Status::Inconclusive,
            expected,
            format!(
                "{label} {:.3} ms over only {} requests: need at least {MIN_SAMPLES}; run longer",
                ms(us),
                lat.count
            ),
        )
    } else {
        Check::new(
            name,
            ms(us) <= bound_ms,
            expected,
            format!("{label} {:.3} ms {which}", ms(us)),
        )
    }
}

/// Judged on time, not requests (see `outage`): shown when asked for, and
/// whenever some second was lost, which by default fails the run.
fn outage_check(scenario: &Scenario, r: &RunResult) -> Option<Check> {
    let allowed = scenario.expectations.max_outage;
    if !r.outage.any() && allowed.is_none() {
        return None;
    }
    let (passed, expected) = match allowed {
        Some(allowed) => (
            allowed.allows(r.outage.total_s, r.outage.of_s),
            format!("≤ {allowed} of outage"),
        ),
        None => (
            !r.outage.any(),
            "no outage (the default; set expectations.max_outage, e.g. 2s or 10%, to allow some)"
                .into(),
        ),
    };
    Some(Check::new("max_outage", passed, expected, r.outage.words()))
}

/// Successful requests per second, from the counts (not the rounded field).
fn success_rps(r: &RunResult) -> f64 {
    per_second(r.summary.successes, r.duration_s)
}

/// Judges the scenario's claims.
pub fn claims(scenario: &Scenario, r: &RunResult, simple: SimpleRpcs) -> Vec<Claim> {
    let c = &scenario.claims;
    let bound = scenario.expectations.failure_bound();
    let mut out = Vec::new();
    if c.sub_millisecond {
        out.push(sub_millisecond(simple, bound));
    }
    if let Some(target) = c.high_throughput_rps {
        out.push(high_throughput(r, target, bound));
    }
    if c.ten_x_faster_than_rest {
        out.push(Claim {
            name: "ten_x_faster_than_rest".into(),
            status: ClaimStatus::Inconclusive,
            detail: "needs a NATS-vs-HTTP comparison run of the same requests; this run measured NATS only".into(),
        });
    }
    out
}

fn sub_millisecond(simple: SimpleRpcs, bound: f64) -> Claim {
    let SimpleRpcs {
        latency: lat,
        requests,
        failures,
    } = simple;
    let failure = failure_rate(failures, requests);
    let (status, detail) = if requests == 0 {
        (
            ClaimStatus::Inconclusive,
            "no simple RPC (a task with a fixed body) ran in this scenario".to_owned(),
        )
    } else if lat.count == 0 {
        (
            ClaimStatus::NotValidated,
            format!(
                "none of {requests} simple RPCs succeeded: the time to fail is not a response time"
            ),
        )
    } else if failure > bound {
        (
            ClaimStatus::NotValidated,
            format!(
                "{} of simple RPCs failed (bound {bound}%): median {} µs of the successful ones does not validate the claim",
                percent(failure),
                lat.p50
            ),
        )
    } else if lat.count < MIN_SAMPLES {
        (
            ClaimStatus::Inconclusive,
            format!(
                "only {} successful simple RPCs (median {} µs): too few to judge a median, need at least {MIN_SAMPLES}; run longer",
                lat.count, lat.p50
            ),
        )
    } else if lat.p50 < 1000 {
        (
            ClaimStatus::Validated,
            format!(
                "median {} µs of {} successful simple RPCs, {} failed",
                lat.p50,
                lat.count,
                percent(failure)
            ),
        )
    } else {
        (
            ClaimStatus::NotValidated,
            format!(
                "median {} µs of {} successful simple RPCs is not below 1 ms",
                lat.p50, lat.count
            ),
        )
    };
    Claim {
        name: "sub_millisecond".into(),
        status,
        detail,
    }
}

fn high_throughput(r: &RunResult, target: f64, bound: f64) -> Claim {
    let s = &r.summary;
    let rps = success_rps(r);
    let failure = failure_rate(s.failures, s.requests);
    let (status, detail) = if failure > bound {
        (
            ClaimStatus::NotValidated,
            format!(
                "{rps:.1} successful requests/s, but {} of requests failed (bound {bound}%): throughput that fails is not throughput (claim: {target})",
                percent(failure)
            ),
        )
    } else if r.duration_s < MIN_THROUGHPUT_SECONDS {
        (
            ClaimStatus::Inconclusive,
            format!(
                "{rps:.1} successful requests/s over only {:.1} s: need at least {MIN_THROUGHPUT_SECONDS} s of load to judge a sustained rate (claim: {target})",
                r.duration_s
            ),
        )
    } else if rps >= target {
        (
            ClaimStatus::Validated,
            format!(
                "{rps:.1} successful requests/s over {:.1} s (claim: {target})",
                r.duration_s
            ),
        )
    } else {
        (
            ClaimStatus::NotValidated,
            format!(
                "{rps:.1} successful requests/s over {:.1} s (claim: {target})",
                r.duration_s
            ),
        )
    };
    Claim {
        name: "high_throughput".into(),
        status,
        detail,
    }
}

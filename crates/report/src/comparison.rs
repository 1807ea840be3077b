//! NATS vs HTTP: the same plan (same seed, same bodies) run over NATS and
//! then over HTTP, side by side, and the `ten_x_faster_than_rest` claim
//! judged on the successful requests of both.

use serde::{Deserialize, Serialize};

use crate::result::{LatencyUs, RunResult, Summary};
use crate::verdict::{Claim, ClaimStatus, MIN_SAMPLES, failure_rate, percent};

/// The HTTP run beside the NATS one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Base URL the HTTP requests went to.
    pub http_url: String,
    /// Seconds the HTTP run lasted.
    pub http_duration_s: f64,
    /// The HTTP run's summary (same fields as `summary`).
    pub http: Summary,
    /// Per task: median and successful req/s over each protocol.
    pub tasks: Vec<ComparedTask>,
    /// HTTP median / NATS median of successful requests: how many times
    /// faster NATS answered (absent without successes on both).
    pub median_ratio: Option<f64>,
    /// NATS successful req/s / HTTP successful req/s.
    pub throughput_ratio: Option<f64>,
}

/// One task over both protocols.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComparedTask {
    /// Task name.
    pub name: String,
    /// Successful requests' latency over NATS.
    pub nats_latency_us: LatencyUs,
    /// Successful requests' latency over HTTP.
    pub http_latency_us: LatencyUs,
    /// Successful req/s over NATS.
    pub nats_success_rps: f64,
    /// Successful req/s over HTTP.
    pub http_success_rps: f64,
}

/// "NATS 2.50× faster" or, below 1, "HTTP 1.41× faster".
pub fn faster(median_ratio: f64) -> String {
    if median_ratio >= 1.0 {
        format!("NATS {median_ratio:.2}× faster")
    } else {
        format!("HTTP {:.2}× faster", 1.0 / median_ratio)
    }
}

/// `a / b`, unrounded: the claim is judged on it, only the text rounds.
fn ratio(a: f64, b: f64) -> Option<f64> {
    (a > 0.0 && b > 0.0).then(|| a / b)
}

/// The HTTP run `http` (at `url`) beside the NATS run `nats`, task by task.
pub fn between(nats: &RunResult, http: &RunResult, url: &str) -> Comparison {
    let tasks = nats
        .tasks
        .iter()
        .zip(&http.tasks)
        .map(|(n, h)| ComparedTask {
            name: n.name.clone(),
            nats_latency_us: n.latency_us,
            http_latency_us: h.latency_us,
            nats_success_rps: crate::verdict::per_second(n.successes, nats.duration_s),
            http_success_rps: crate::verdict::per_second(h.successes, http.duration_s),
        })
        .collect();
    let (n, h) = (&nats.summary, &http.summary);
    Comparison {
        http_url: url.to_owned(),
        http_duration_s: http.duration_s,
        http: h.clone(),
        tasks,
        median_ratio: ratio(h.latency_us.p50 as f64, n.latency_us.p50 as f64)
            .filter(|_| n.successes > 0 && h.successes > 0),
        throughput_ratio: ratio(n.success_rps, h.success_rps),
    }
}

/// Adds `http` (the same plan run over HTTP at `url`) to `nats`, and judges
/// `ten_x_faster_than_rest` if the scenario claims it.
pub fn apply(nats: &mut RunResult, http: &RunResult, url: &str, max_failure_percent: f64) {
    let comparison = between(nats, http, url);
    let claim = judge_ten_x(nats, &comparison, max_failure_percent);
    if let Some(existing) = nats
        .verdict
        .claims
        .iter_mut()
        .find(|c| c.name == "ten_x_faster_than_rest")
    {
        *existing = claim;
    }
    nats.comparison = Some(comparison);
}

/// The `ten_x_faster_than_rest` claim on a comparison.
pub fn judge_ten_x(nats: &RunResult, c: &Comparison, max_failure_percent: f64) -> Claim {
    let (n, h) = (&nats.summary, &c.http);
    let (nf, hf) = (
        failure_rate(n.failures, n.requests),
        failure_rate(h.failures, h.requests),
    );
    let (status, detail) = if nf > max_failure_percent {
        (
            ClaimStatus::NotValidated,
            format!(
                "{} of the NATS requests failed (bound {max_failure_percent}%)",
                percent(nf)
            ),
        )
    } else if hf > max_failure_percent {
        (
            ClaimStatus::Inconclusive,
            format!(
                "{} of the HTTP requests failed (bound {max_failure_percent}%): no fair comparison",
                percent(hf)
            ),
        )
    } else if n.successes < MIN_SAMPLES || h.successes < MIN_SAMPLES {
        (
            ClaimStatus::Inconclusive,
            format!(
                "{} successful NATS and {} successful HTTP requests: need at least {MIN_SAMPLES} of each; run longer",
                n.successes, h.successes
            ),
        )
    } else {
        let r = c.median_ratio.unwrap_or(0.0);
        (
            if r >= 10.0 {
                ClaimStatus::Validated
            } else {
                ClaimStatus::NotValidated
            },
            format!(
                "median {} µs over NATS vs {} µs over HTTP: {} (claim: NATS 10× faster); successful req/s {:.1} vs {:.1}",
                n.latency_us.p50,
                h.latency_us.p50,
                faster(r),
                n.success_rps,
                h.success_rps
            ),
        )
    };
    Claim {
        name: "ten_x_faster_than_rest".into(),
        status,
        detail,
    }
}

/// Lines for the text and Markdown summaries.
pub fn lines(r: &RunResult, c: &Comparison) -> Vec<String> {
    let (n, h) = (&r.summary, &c.http);
    let lat = |l: &LatencyUs, ok: u64| {
        if ok > 0 {
            format!(
                "p50 {} p99 {}",
                crate::text::latency(l.p50),
                crate::text::latency(l.p99)
            )
        } else {
            "no success".to_owned()
        }
    };
    let mut out = vec![
        format!(
            "NATS: {} requests, {} failed, {:.1} ok req/s, {}",
            n.requests,
            percent(n.failure_percent),
            n.success_rps,
            lat(&n.latency_us, n.successes)
        ),
        format!(
            "HTTP ({}): {} requests, {} failed, {:.1} ok req/s, {}",
            c.http_url,
            h.requests,
            percent(h.failure_percent),
            h.success_rps,
            lat(&h.latency_us, h.successes)
        ),
    ];
    if let Some(m) = c.median_ratio {
        out.push(format!(
            "median: {}{}",
            faster(m),
            c.throughput_ratio
                .map_or(String::new(), |t| format!(", {t:.2}× the successful req/s"))
        ));
    }
    out
}

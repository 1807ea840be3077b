//! Raw file → typed scenarios. Every error names its key path and what is allowed.
//!
//! [`file`] checks each section and each scenario on its own and reports
//! every error found; [`settings`] holds the file-wide sections, [`scenario`]
//! one scenario's load and user classes, [`task`] one task's request,
//! [`thresholds`] the bounds on single tasks.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::time::Duration;

use crate::error::closest;
use crate::raw::*;
use crate::{
    Claims, ConfigError, Expectations, OutageAllowance, Scenario, ScenarioFile, WaitTime,
    parse_duration,
};

mod messaging;
mod scenario;
mod settings;
mod stages;
mod task;
mod thresholds;
mod workload;

use scenario::scenario;
use settings::{analytics_sizes, data_generation, gradual_stages, metadata_kb, settings};

fn invalid(path: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        path: path.into(),
        message: message.into(),
        at: None,
    }
}

fn positive_u32(path: &str, v: i64) -> Result<NonZeroU32, ConfigError> {
    u32::try_from(v)
        .ok()
        .and_then(NonZeroU32::new)
        .ok_or_else(|| invalid(path, whole_number_words(v, i64::from(u32::MAX))))
}

/// Why `v` is not a whole number from 1 to `max`, in words.
fn whole_number_words(v: i64, max: i64) -> String {
    if v < 1 {
        format!("must be at least 1, got {v}")
    } else {
        format!("must be at most {max}, got {v}")
    }
}

fn rate(path: &str, v: Option<f64>) -> Result<Option<f64>, ConfigError> {
    match v {
        Some(x) if !(0.0..=1.0).contains(&x) => Err(invalid(
            path,
            format!("must be a share from 0 to 1 (0.05 = 5%), got {x}"),
        )),
        _ => Ok(v),
    }
}

fn count(path: &str, v: i64, max: i64) -> Result<usize, ConfigError> {
    if (1..=max).contains(&v) {
        Ok(v as usize)
    } else {
        Err(invalid(path, whole_number_words(v, max)))
    }
}

fn range(path: &str, v: &[i64], max: i64) -> Result<(usize, usize), ConfigError> {
    let [lo, hi] = v else {
        return Err(invalid(
            path,
            format!("must be [min, max], got {} values", v.len()),
        ));
    };
    let (lo, hi) = (count(path, *lo, max)?, count(path, *hi, max)?);
    if lo > hi {
        return Err(invalid(path, format!("min {lo} is above max {hi}")));
    }
    Ok((lo, hi))
}

/// Validates a file; `base` is the folder its relative paths (data files)
/// start from.
pub(crate) fn file(raw: RawFile, base: &std::path::Path) -> Result<ScenarioFile, ConfigError> {
    // Each section, scenario, class and task is checked on its own, and a
    // section in error stands in with its default, so a file with several
    // mistakes hears of all of them at once.
    let mut errors = Vec::new();
    let data = keep(data_generation(raw.data_generation.as_ref()), &mut errors).unwrap_or_default();
    let batch_sizes = analytics_sizes(raw.data_generation.as_ref(), &mut errors);
    let metadata_kb = keep(metadata_kb(&raw), &mut errors).unwrap_or((1, 1));
    let settings = keep(settings(&raw), &mut errors).unwrap_or_default();
    let stages = gradual_stages(&raw, &mut errors);
    let ctx = Ctx {
        batch_sizes,
        metadata_kb,
        base: base.to_owned(),
    };
    let classes = raw.user_classes.unwrap_or_default();
    let expectations = raw.performance_expectations.unwrap_or_default();
    let known: Vec<&str> = raw
        .scenarios
        .as_ref()
        .map(|s| s.keys().map(String::as_str).collect())
        .unwrap_or_default();
    for name in expectations.keys().filter(|n| !known.contains(&n.as_str())) {
        let hint = closest(name, known.iter().copied())
            .map(|c| format!("; did you mean {c:?}?"))
            .unwrap_or_default();
        errors.push(invalid(
            format!("performance_expectations.{name}"),
            format!("no scenario named {name:?}{hint}"),
        ));
    }
    let raw_scenarios = raw.scenarios.unwrap_or_default();
    if raw_scenarios.is_empty() {
        errors.push(invalid(
            "scenarios",
            "is empty; define at least one scenario",
        ));
    }
    let mut scenarios = Vec::with_capacity(raw_scenarios.len());
    for (name, s) in raw_scenarios {
        let exp = expectations.get(&name).cloned().unwrap_or_default();
        let claims = keep(
            claims_for(&name, s.claims.as_deref(), &settings.claims),
            &mut errors,
        );
        let built = scenario(name, s, &exp, &classes, &data, &ctx, stages.as_ref());
        if let (Some(mut sc), Some(claims)) = (keep(built, &mut errors), claims) {
            sc.claims = claims;
            scenarios.push(sc);
        }
    }
    match ConfigError::all(errors) {
        Some(e) => Err(e),
        None => Ok(ScenarioFile {
            written: scenarios
                .iter()
                .map(|s: &Scenario| s.name.clone())
                .collect(),
            scenarios,
            settings,
        }),
    }
}

/// The value, or `None` with the error kept in `errors`.
fn keep<T>(r: Result<T, ConfigError>, errors: &mut Vec<ConfigError>) -> Option<T> {
    r.map_err(|e| errors.push(e)).ok()
}

/// `Ok(())` when `errors` is empty, else all of them as one error.
fn none_of(errors: Vec<ConfigError>) -> Result<(), ConfigError> {
    ConfigError::all(errors).map_or(Ok(()), Err)
}

const CLAIMS: [&str; 3] = [
    "sub_millisecond",
    "high_throughput",
    "ten_x_faster_than_rest",
];

/// The file's claims, narrowed to the ones a scenario lists (none by
/// default: a claim is judged where a scenario was designed to test it).
fn claims_for(
    scenario: &str,
    list: Option<&[String]>,
    file: &Claims,
) -> Result<Claims, ConfigError> {
    let Some(list) = list else {
        return Ok(Claims::default());
    };
    for (i, c) in list.iter().enumerate() {
        if !CLAIMS.contains(&c.as_str()) {
            let hint = closest(c, CLAIMS)
                .map(|x| format!("; did you mean {x:?}?"))
                .unwrap_or_default();
            return Err(invalid(
                format!("scenarios.{scenario}.claims[{i}]"),
                format!("unknown claim {c:?}{hint}; one of {}", CLAIMS.join(", ")),
            ));
        }
    }
    let has = |c: &str| list.iter().any(|x| x == c);
    Ok(Claims {
        sub_millisecond: file.sub_millisecond && has("sub_millisecond"),
        ten_x_faster_than_rest: file.ten_x_faster_than_rest && has("ten_x_faster_than_rest"),
        high_throughput_rps: file.high_throughput_rps.filter(|_| has("high_throughput")),
    })
}

struct Ctx {
    batch_sizes: BTreeMap<String, (usize, usize)>,
    metadata_kb: (usize, usize),
    /// The folder data files are found from: the scenario file's.
    base: std::path::PathBuf,
}

fn wait_time(path: &str, raw: Option<&RawWait>) -> Result<WaitTime, ConfigError> {
    Ok(match raw {
        None => WaitTime::Constant(Duration::ZERO),
        Some(RawWait::Constant(d)) => WaitTime::Constant(duration(
            &format!("{path}.constant"),
            d,
            BareNumber::Seconds,
        )?),
        Some(RawWait::Pacing(d)) => {
            let p = duration(&format!("{path}.pacing"), d, BareNumber::Seconds)?;
            if p.is_zero() {
                return Err(invalid(
                    format!("{path}.pacing"),
                    "must be > 0 (one task start every this long per user)",
                ));
            }
            WaitTime::Pacing(p)
        }
        Some(RawWait::Between(v)) => {
            let path = format!("{path}.between");
            let [lo, hi] = v.as_slice() else {
                return Err(invalid(
                    path,
                    format!("must be [min, max], got {} values", v.len()),
                ));
            };
            let lo = duration(&path, lo, BareNumber::Seconds)?;
            let hi = duration(&path, hi, BareNumber::Seconds)?;
            if lo > hi {
                return Err(invalid(
                    path,
                    format!(
                        "min {} is above max {}",
                        crate::human_duration(lo),
                        crate::human_duration(hi)
                    ),
                ));
            }
            WaitTime::Between(lo, hi)
        }
    })
}

fn expectations_of(path: &str, raw: &RawExpectations) -> Result<Expectations, ConfigError> {
    let mut errors = Vec::new();
    let b = Bounds {
        path,
        errors: &mut errors,
    };
    let (max_failure_percent, max_median_ms, max_p95_ms, max_p99_ms, min_rps) = b.of(
        raw.max_failure_percent,
        raw.max_median_ms,
        raw.max_p95_ms,
        raw.max_p99_ms,
        raw.min_rps,
    );
    let max_outage = raw
        .max_outage
        .as_ref()
        .and_then(|m| keep(outage_of(&format!("{path}.max_outage"), m), &mut errors));
    let tasks = thresholds::values(path, raw.tasks.as_ref(), &mut errors);
    let max_consumer_lag = match raw.max_consumer_lag {
        Some(n) if n < 0 => {
            errors.push(invalid(
                format!("{path}.max_consumer_lag"),
                format!("must be 0 or more messages, got {n}"),
            ));
            None
        }
        n => n.map(i64::unsigned_abs),
    };
    none_of(errors)?;
    Ok(Expectations {
        max_failure_percent,
        max_median_ms,
        max_p95_ms,
        max_p99_ms,
        min_rps,
        max_outage,
        tasks,
        max_consumer_lag,
    })
}

/// The numeric bounds of an `expectations` mapping (`path`), each checked
/// for its range, every error kept.
struct Bounds<'a> {
    path: &'a str,
    errors: &'a mut Vec<ConfigError>,
}

/// Failure percent, median, p95, p99 (ms) and successful requests/s.
type Five = (
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
);

impl Bounds<'_> {
    fn of(
        self,
        failure: Option<f64>,
        median: Option<f64>,
        p95: Option<f64>,
        p99: Option<f64>,
        rps: Option<f64>,
    ) -> Five {
        let Bounds { path, errors } = self;
        let mut check = |key: &str, v: Option<f64>, max: f64| match v {
            Some(x) if !(x.is_finite() && (0.0..=max).contains(&x)) => {
                errors.push(invalid(
                    format!("{path}.{key}"),
                    format!("must be from 0 to {max}, got {x}"),
                ));
                None
            }
            _ => v,
        };
        (
            check("max_failure_percent", failure, 100.0),
            check("max_median_ms", median, 3_600_000.0),
            check("max_p95_ms", p95, 3_600_000.0),
            check("max_p99_ms", p99, 3_600_000.0),
            check("min_rps", rps, 1e9),
        )
    }
}

/// `max_outage`: a duration with its unit, or a percentage of the load.
fn outage_of(path: &str, raw: &RawDuration) -> Result<OutageAllowance, ConfigError> {
    if let RawDuration::Text(t) = raw
        && let Some(p) = t.trim().strip_suffix('%')
    {
        return match p.trim().parse::<f64>() {
            Ok(x) if x.is_finite() && (0.0..=100.0).contains(&x) => Ok(OutageAllowance::Percent(x)),
            _ => Err(invalid(
                path,
                format!("{t:?}: a percentage is a number from 0 to 100 followed by %, e.g. 10%"),
            )),
        };
    }
    duration(path, raw, BareNumber::Refused).map(OutageAllowance::Time)
}

/// What a number without a unit means for a key.
#[derive(Debug, Clone, Copy, PartialEq)]
enum BareNumber {
    /// Seconds: the key says so (`step_duration_seconds`) or follows Locust,
    /// whose wait-time functions take seconds (`between: [1, 3]`,
    /// `constant: 1`, `pacing: 2`).
    Seconds,
    /// Refused: `timeout: 100` is 100 s to one tool and 100 ms to another.
    Refused,
}

fn duration(path: &str, raw: &RawDuration, bare: BareNumber) -> Result<Duration, ConfigError> {
    match raw {
        // Zero is zero in any unit.
        RawDuration::Seconds(s) if bare == BareNumber::Refused && *s != 0.0 => Err(invalid(
            path,
            format!("{s} has no unit (seconds? milliseconds?): write {s}s or {s}ms"),
        )),
        RawDuration::Seconds(s) if s.is_finite() && *s >= 0.0 && *s < 1e9 => {
            Ok(Duration::from_secs_f64(*s))
        }
        RawDuration::Seconds(s) => Err(invalid(
            path,
            format!("{s} is not a duration in seconds ≥ 0"),
        )),
        RawDuration::Text(t) => parse_duration(t).map_err(|m| invalid(path, m)),
    }
}

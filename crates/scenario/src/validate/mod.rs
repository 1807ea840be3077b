//! Raw file → typed scenarios. Every error names its key path and what is allowed.
//!
//! [`file`] checks each section and each scenario on its own and reports
//! every error found; [`settings`] holds the file-wide sections, [`scenario`]
//! one scenario's load and user classes, [`task`] one task's request.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::time::Duration;

use crate::error::closest;
use crate::raw::*;
use crate::{
    Claims, ConfigError, Expectations, OutageAllowance, Scenario, ScenarioFile, WaitTime,
    parse_duration,
};

mod scenario;
mod settings;
mod stages;
mod task;

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

pub(crate) fn file(raw: RawFile) -> Result<ScenarioFile, ConfigError> {
    // Each section and each scenario is checked on its own, so a file with
    // several mistakes hears of all of them at once.
    let mut errors = Vec::new();
    let sections = (
        keep(data_generation(raw.data_generation.as_ref()), &mut errors),
        keep(analytics_sizes(raw.data_generation.as_ref()), &mut errors),
        keep(metadata_kb(&raw), &mut errors),
        keep(settings(&raw), &mut errors),
        keep(gradual_stages(&raw), &mut errors),
    );
    let (Some(data), Some(batch_sizes), Some(metadata_kb), Some(settings), Some(stages)) = sections
    else {
        return Err(first_of(errors));
    };
    let ctx = Ctx {
        batch_sizes,
        metadata_kb,
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
        let built = claims_for(&name, s.claims.as_deref(), &settings.claims).and_then(|claims| {
            let mut sc = scenario(name, s, &exp, &classes, &data, &ctx, stages.as_ref())?;
            sc.claims = claims;
            Ok(sc)
        });
        scenarios.extend(keep(built, &mut errors));
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

/// `errors` as one error (there is at least one when this is called).
fn first_of(errors: Vec<ConfigError>) -> ConfigError {
    ConfigError::all(errors).unwrap_or_else(|| invalid("", "invalid file"))
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
    let check = |key: &str, v: Option<f64>, max: f64| match v {
        Some(x) if !(x.is_finite() && (0.0..=max).contains(&x)) => Err(invalid(
            format!("{path}.{key}"),
            format!("must be from 0 to {max}, got {x}"),
        )),
        _ => Ok(v),
    };
    Ok(Expectations {
        max_failure_percent: check("max_failure_percent", raw.max_failure_percent, 100.0)?,
        max_median_ms: check("max_median_ms", raw.max_median_ms, 3_600_000.0)?,
        max_p95_ms: check("max_p95_ms", raw.max_p95_ms, 3_600_000.0)?,
        max_p99_ms: check("max_p99_ms", raw.max_p99_ms, 3_600_000.0)?,
        min_rps: check("min_rps", raw.min_rps, 1e9)?,
        max_outage: raw
            .max_outage
            .as_ref()
            .map(|m| outage_of(&format!("{path}.max_outage"), m))
            .transpose()?,
    })
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

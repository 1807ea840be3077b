//! Raw file → typed scenarios. Every error names its key path and what is allowed.

use std::num::NonZeroU32;
use std::time::Duration;

use crate::raw::{RawDuration, RawExpectations, RawFile, RawScenario, RawTask, RawWait};
use crate::{
    ConfigError, DEFAULT_SEED, DEFAULT_TIMEOUT, Expectations, Scenario, ScenarioFile, Task,
    WaitTime, parse_duration,
};

fn invalid(path: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        path: path.into(),
        message: message.into(),
    }
}

pub(crate) fn file(raw: RawFile) -> Result<ScenarioFile, ConfigError> {
    if raw.scenarios.is_empty() {
        return Err(invalid(
            "scenarios",
            "is empty; define at least one scenario",
        ));
    }
    let scenarios = raw
        .scenarios
        .into_iter()
        .map(|(name, s)| scenario(name, s))
        .collect::<Result<_, _>>()?;
    Ok(ScenarioFile { scenarios })
}

fn scenario(name: String, raw: RawScenario) -> Result<Scenario, ConfigError> {
    let at = |key: &str| format!("scenarios.{name}.{key}");
    let users = u32::try_from(raw.users)
        .ok()
        .and_then(NonZeroU32::new)
        .ok_or_else(|| {
            invalid(
                at("users"),
                format!("must be 1..={}, got {}", u32::MAX, raw.users),
            )
        })?;
    let spawn_rate = match raw.spawn_rate {
        None => f64::from(users.get()),
        Some(r) if r.is_finite() && r > 0.0 => r,
        Some(r) => {
            return Err(invalid(
                at("spawn_rate"),
                format!("must be > 0 users/s, got {r}"),
            ));
        }
    };
    let duration = duration(&at("duration"), &raw.duration)?;
    if duration.is_zero() {
        return Err(invalid(at("duration"), "must be > 0"));
    }
    let wait_time = match raw.wait_time {
        None => WaitTime::Constant(Duration::ZERO),
        Some(RawWait::Constant(d)) => {
            WaitTime::Constant(self::duration(&at("wait_time.constant"), &d)?)
        }
        Some(RawWait::Between(v)) => {
            let path = at("wait_time.between");
            let [lo, hi] = v.as_slice() else {
                return Err(invalid(
                    path,
                    format!("must be [min, max], got {} values", v.len()),
                ));
            };
            let (lo, hi) = (self::duration(&path, lo)?, self::duration(&path, hi)?);
            if lo > hi {
                return Err(invalid(path, format!("min {lo:?} is above max {hi:?}")));
            }
            WaitTime::Between(lo, hi)
        }
    };
    if raw.tasks.is_empty() {
        return Err(invalid(
            at("tasks"),
            "is empty; a scenario needs at least one task",
        ));
    }
    let mut tasks = Vec::with_capacity(raw.tasks.len());
    for (i, t) in raw.tasks.into_iter().enumerate() {
        let path = at(&format!("tasks.{i}"));
        if tasks.iter().any(|x: &Task| x.name == t.name) {
            return Err(invalid(
                format!("{path}.name"),
                format!("{:?} is used twice; task names must be unique", t.name),
            ));
        }
        tasks.push(task(&path, t)?);
    }
    Ok(Scenario {
        expectations: expectations(&at("expectations"), &raw.expectations)?,
        name,
        description: raw.description,
        users,
        spawn_rate,
        duration,
        wait_time,
        tasks,
        seed: raw.seed.unwrap_or(DEFAULT_SEED),
    })
}

fn task(path: &str, raw: RawTask) -> Result<Task, ConfigError> {
    if raw.name.trim().is_empty() {
        return Err(invalid(format!("{path}.name"), "must not be empty"));
    }
    validate_subject(&format!("{path}.subject"), &raw.subject)?;
    let weight = raw.weight.unwrap_or(1);
    let weight = u32::try_from(weight)
        .ok()
        .and_then(NonZeroU32::new)
        .ok_or_else(|| {
            invalid(
                format!("{path}.weight"),
                format!("must be 1..={}, got {weight}", u32::MAX),
            )
        })?;
    let timeout = match &raw.timeout {
        None => DEFAULT_TIMEOUT,
        Some(d) => duration(&format!("{path}.timeout"), d)?,
    };
    if timeout.is_zero() || timeout > Duration::from_secs(3600) {
        return Err(invalid(
            format!("{path}.timeout"),
            format!("must be in (0, 1h], got {timeout:?}"),
        ));
    }
    Ok(Task {
        name: raw.name,
        subject: raw.subject,
        protocol: raw.protocol,
        weight,
        timeout,
        payload: raw
            .payload
            .unwrap_or_else(|| serde_json::Value::Object(Default::default())),
        encoding: raw.encoding,
        headers: raw.headers,
    })
}

/// A publishable NATS subject: non-empty tokens, no wildcards, no whitespace.
fn validate_subject(path: &str, subject: &str) -> Result<(), ConfigError> {
    let bad = subject.is_empty()
        || subject
            .split('.')
            .any(|t| t.is_empty() || t == "*" || t == ">")
        || subject.chars().any(char::is_whitespace);
    if bad {
        return Err(invalid(
            path,
            format!(
                "{subject:?} is not a subject to publish to: dot-separated non-empty tokens, no spaces or wildcards (e.g. test.rpc.echo)"
            ),
        ));
    }
    Ok(())
}

fn expectations(path: &str, raw: &RawExpectations) -> Result<Expectations, ConfigError> {
    let check = |key: &str, v: Option<f64>, max: f64| match v {
        Some(x) if !(x.is_finite() && (0.0..=max).contains(&x)) => Err(invalid(
            format!("{path}.{key}"),
            format!("must be 0..={max}, got {x}"),
        )),
        _ => Ok(v),
    };
    Ok(Expectations {
        max_failure_percent: check("max_failure_percent", raw.max_failure_percent, 100.0)?,
        max_median_ms: check("max_median_ms", raw.max_median_ms, 3_600_000.0)?,
        max_p99_ms: check("max_p99_ms", raw.max_p99_ms, 3_600_000.0)?,
        min_rps: check("min_rps", raw.min_rps, 1e9)?,
    })
}

fn duration(path: &str, raw: &RawDuration) -> Result<Duration, ConfigError> {
    match raw {
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

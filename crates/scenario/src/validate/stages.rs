//! A scenario's own `stages:` (k6's stages): users for the closed model,
//! or `rate:` for the open model, each reached linearly over its stage.

use std::time::Duration;

use super::scenario::key;
use super::*;
use std::num::NonZeroU32;

use crate::{ConfigError, MAX_RATE, Stage, human_duration};

/// The longest the stages may last in all: a year is not a load test, and
/// it keeps every time of the run far from where arithmetic on it overflows.
const MOST_TIME: Duration = Duration::from_secs(366 * 24 * 3600);

/// What a scenario's stages give.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Own {
    /// Users at the end of each stage (closed model).
    Users(Vec<Stage>),
    /// Requests per second at the end of each stage (open model).
    Rate(Vec<Stage>),
}

impl Own {
    /// How long the stages last in all (at most [`Duration::MAX`]).
    pub(super) fn length(&self) -> Duration {
        let (Own::Users(s) | Own::Rate(s)) = self;
        s.iter()
            .fold(Duration::ZERO, |sum, s| sum.saturating_add(s.duration))
    }
}

/// `stages:`, checked stage by stage (every mistake of the list reported).
pub(super) fn own_stages(name: &str, raw: Option<&[RawStage]>) -> Result<Option<Own>, ConfigError> {
    let Some(raw) = raw else { return Ok(None) };
    let path = key(name, "stages");
    if raw.is_empty() {
        return Err(invalid(
            path,
            "is empty; list at least one stage, e.g. [{duration: 30s, users: 10}]",
        ));
    }
    let mut errors = Vec::new();
    // Whether the stages give users (true) or rate, as the first one that says does.
    let mut kind: Option<(bool, usize)> = None;
    let mut stages = Vec::with_capacity(raw.len());
    for (i, s) in raw.iter().enumerate() {
        let at = format!("{path}[{i}]");
        let (duration, target) = one_stage(&at, s);
        if let Ok((users, _)) = target {
            match kind {
                None => kind = Some((users, i)),
                Some((first, j)) if first != users => {
                    let (this, that) = if users {
                        ("users", "rate")
                    } else {
                        ("rate", "users")
                    };
                    errors.push(invalid(
                        &at,
                        format!(
                            "gives {this}, but stages[{j}] gives {that}: every stage gives users \
                             (closed model) or every stage gives rate (open model)"
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        match (duration, target) {
            (Ok(duration), Ok((_, target))) => stages.push(Stage { duration, target }),
            (d, t) => {
                errors.extend(d.err());
                errors.extend(t.err());
            }
        }
    }
    if let Some(e) = ConfigError::all(errors) {
        return Err(e);
    }
    let total = stages
        .iter()
        .try_fold(Duration::ZERO, |sum, s| sum.checked_add(s.duration));
    match total {
        Some(t) if t.is_zero() => {
            return Err(invalid(
                path,
                "last 0 s in all; give at least one stage a duration",
            ));
        }
        Some(t) if t <= MOST_TIME => {}
        _ => {
            return Err(invalid(
                path,
                "last longer than a year in all; a load test that long is a typo",
            ));
        }
    }
    Ok(Some(match kind {
        Some((true, _)) => {
            if stages.iter().all(|s| s.target == 0.0) {
                return Err(invalid(
                    path,
                    "never have a user; give at least one stage users: 1 or more",
                ));
            }
            Own::Users(stages)
        }
        _ => Own::Rate(stages),
    }))
}

/// With user stages: the most users are the stages' peak (`users`, if
/// written, must say the same), and the stages say how fast they start.
pub(super) fn users_of_stages(
    name: &str,
    raw: &RawScenario,
    stages: &[Stage],
) -> Result<(NonZeroU32, f64), ConfigError> {
    let peak = stages.iter().map(|s| s.target).fold(0.0, f64::max) as u32;
    let users = NonZeroU32::new(peak).unwrap_or(NonZeroU32::MIN);
    if raw.arrival_rate.is_some() {
        return Err(invalid(
            key(name, "arrival_rate"),
            "is the open model, but the stages give users: give the stages rate: instead, \
             or leave arrival_rate out",
        ));
    }
    if let Some(u) = raw.users
        && u != i64::from(peak)
    {
        return Err(invalid(
            key(name, "users"),
            format!(
                "is {u}, but the stages peak at {peak} users: leave users out (the stages set it)"
            ),
        ));
    }
    if raw.spawn_rate.is_some() {
        return Err(invalid(
            key(name, "spawn_rate"),
            "does not go with stages (they say how fast users start and stop): leave it out",
        ));
    }
    Ok((users, f64::from(users.get())))
}

/// One stage at `at`: its duration, and whether it gives users (true) or
/// rate, with the number.
fn one_stage(
    at: &str,
    s: &RawStage,
) -> (
    Result<Duration, ConfigError>,
    Result<(bool, f64), ConfigError>,
) {
    let duration = match &s.duration {
        None => Err(invalid(
            format!("{at}.duration"),
            "is required: how long the stage lasts (e.g. 30s)",
        )),
        Some(d) => duration(&format!("{at}.duration"), d, BareNumber::Refused),
    };
    let target = match (s.users, s.rate) {
        (Some(_), Some(_)) => Err(invalid(
            at,
            "gives both users and rate; a stage gives users (closed model) or rate (open model)",
        )),
        (None, None) => Err(invalid(
            at,
            "gives neither users nor rate: e.g. {duration: 30s, users: 10} or {duration: 30s, rate: 100}",
        )),
        (Some(u), None) => stage_users(&format!("{at}.users"), u).map(|u| (true, u)),
        (None, Some(r)) => stage_rate(&format!("{at}.rate"), r).map(|r| (false, r)),
    };
    (duration, target)
}

/// Users of a stage: a whole number from 0.
fn stage_users(path: &str, v: i64) -> Result<f64, ConfigError> {
    const MOST: i64 = 10_000_000;
    if (0..=MOST).contains(&v) {
        Ok(v as f64)
    } else {
        Err(invalid(
            path,
            format!("must be a whole number of users from 0 to {MOST}, got {v}"),
        ))
    }
}

/// Requests per second of a stage: from 0 to [`MAX_RATE`].
fn stage_rate(path: &str, v: f64) -> Result<f64, ConfigError> {
    if v.is_finite() && (0.0..=MAX_RATE).contains(&v) {
        Ok(v)
    } else {
        Err(invalid(
            path,
            format!("must be from 0 to {MAX_RATE} requests/s, got {v}"),
        ))
    }
}

/// The run's duration with stages: theirs, or `given` if it agrees.
pub(super) fn duration_with(
    name: &str,
    own: &Own,
    given: Option<&RawDuration>,
) -> Result<Duration, ConfigError> {
    let total = own.length();
    let Some(raw) = given else { return Ok(total) };
    let path = key(name, "duration");
    let d = duration(&path, raw, BareNumber::Refused)?;
    // Within a millisecond: `1m 30s` and `90s` written differently are one.
    if d.abs_diff(total) > Duration::from_millis(1) {
        return Err(invalid(
            path,
            format!(
                "is {}, but the stages add up to {}: leave duration out (the stages set it) \
                 or make them agree",
                human_duration(d),
                human_duration(total)
            ),
        ));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use crate::{Rate, ScenarioFile, Shape, Stage, Stages};
    use std::time::Duration;

    const TASK: &str = "    tasks:\n      - {name: t, subject: a.rpc.b}\n";

    fn parse(body: &str) -> Result<ScenarioFile, String> {
        ScenarioFile::parse(&format!("scenarios:\n  s:\n{body}{TASK}"), "t.yaml")
            .map_err(|e| e.to_string())
    }

    fn error_of(body: &str) -> String {
        match parse(body) {
            Ok(_) => panic!("accepted:\n{body}"),
            Err(e) => e,
        }
    }

    fn stage(secs: u64, target: f64) -> Stage {
        Stage {
            duration: Duration::from_secs(secs),
            target,
        }
    }

    #[test]
    fn user_stages_set_the_users_and_the_duration() {
        let f = parse(
            "    stages: [{duration: 30s, users: 50}, {duration: 2m, users: 200}, {duration: 30s, users: 0}]\n",
        )
        .expect("valid");
        let s = &f.scenarios[0];
        assert_eq!(
            s.stages,
            Some(Stages::Users(vec![
                stage(30, 50.0),
                stage(120, 200.0),
                stage(30, 0.0)
            ]))
        );
        assert_eq!((s.users.get(), s.duration), (200, Duration::from_secs(180)));
        assert_eq!(s.arrival, None, "the closed model");
        assert_eq!(
            s.describe_load(),
            "up to 200 users in stages (→ 50 users over 30 s, → 200 users over 2 min, → 0 users over 30 s)"
        );
        // A duration that agrees is accepted, however it is written.
        assert!(parse("    duration: 3m\n    stages: [{duration: 1m 30s, users: 5}, {duration: 90s, users: 5}]\n").is_ok());
    }

    #[test]
    fn rate_stages_are_the_open_model_from_its_start_rate() {
        let f = parse(
            "    arrival_rate: {rate: 10, max_in_flight: 50}\n    stages: [{duration: 1m, rate: 100}, {duration: 1m, rate: 0}]\n",
        )
        .expect("valid");
        let a = f.scenarios[0].arrival.clone().expect("open model");
        assert_eq!(
            a.rate,
            Rate::Stages(Shape {
                start: 10.0,
                stages: vec![stage(60, 100.0), stage(60, 0.0)]
            })
        );
        assert_eq!(a.max_in_flight.get(), 50);
        assert_eq!(f.scenarios[0].duration, Duration::from_secs(120));
        // Without arrival_rate: from 0, with the default cap.
        let f = parse("    stages: [{duration: 10s, rate: 100}]\n").expect("valid");
        let a = f.scenarios[0].arrival.clone().expect("open model");
        assert_eq!(a.shape(Duration::from_secs(10)).start, 0.0);
        assert_eq!(a.max_in_flight, crate::DEFAULT_MAX_IN_FLIGHT);
    }

    #[test]
    fn mixing_users_and_rate_names_the_stage() {
        let e = error_of(
            "    stages: [{duration: 10s, users: 5}, {duration: 10s, users: 5}, {duration: 10s, rate: 50}]\n",
        );
        assert!(
            e.contains("scenarios.s.stages[2]: gives rate, but stages[0] gives users"),
            "{e}"
        );
        assert!(e.contains("t.yaml:3:"), "located: {e}");
        let e = error_of("    stages: [{duration: 10s, users: 5, rate: 50}]\n");
        assert!(
            e.contains("scenarios.s.stages[0]: gives both users and rate"),
            "{e}"
        );
        let e = error_of("    stages: [{duration: 10s}]\n");
        assert!(
            e.contains("scenarios.s.stages[0]: gives neither users nor rate"),
            "{e}"
        );
    }

    #[test]
    fn a_stage_duration_needs_a_unit() {
        let e = error_of("    stages: [{duration: 30, users: 5}, {users: 2}]\n");
        assert!(
            e.contains("scenarios.s.stages[0].duration: 30 has no unit (seconds? milliseconds?): write 30s or 30ms"),
            "{e}"
        );
        assert!(
            e.contains("scenarios.s.stages[1].duration: is required"),
            "both mistakes at once: {e}"
        );
    }

    #[test]
    fn an_empty_or_idle_list_is_refused() {
        let e = error_of("    stages: []\n");
        assert!(e.contains("scenarios.s.stages: is empty"), "{e}");
        let e = error_of("    stages: [{duration: 0s, users: 5}]\n");
        assert!(e.contains("scenarios.s.stages: last 0 s in all"), "{e}");
        let e = error_of("    stages: [{duration: 5s, users: 0}]\n");
        assert!(e.contains("never have a user"), "{e}");
        let e = error_of("    stages: [{duration: 5s, rate: 0}]\n");
        assert!(e.contains("never have a rate above 0"), "{e}");
        let e = error_of(
            "    stages: [{duration: 5000000000000h, users: 1}, {duration: 5000000000000h, users: 1}]\n",
        );
        assert!(
            e.contains("scenarios.s.stages: last longer than a year"),
            "{e}"
        );
        let e = error_of("    stages: [{duration: 5s, users: -1}]\n");
        assert!(
            e.contains("stages[0].users: must be a whole number of users from 0"),
            "{e}"
        );
    }

    #[test]
    fn keys_the_stages_replace_must_agree_or_stay_out() {
        for (body, words) in [
            (
                "    duration: 1m\n    stages: [{duration: 30s, users: 5}]\n",
                "scenarios.s.duration: is 60 s, but the stages add up to 30 s",
            ),
            (
                "    users: 10\n    stages: [{duration: 30s, users: 5}]\n",
                "scenarios.s.users: is 10, but the stages peak at 5 users",
            ),
            (
                "    spawn_rate: 2\n    stages: [{duration: 30s, users: 5}]\n",
                "scenarios.s.spawn_rate: does not go with stages",
            ),
            (
                "    arrival_rate: {rate: 5}\n    stages: [{duration: 30s, users: 5}]\n",
                "scenarios.s.arrival_rate: is the open model, but the stages give users",
            ),
            (
                "    arrival_rate: {rate: 5, ramp_to: 10}\n    stages: [{duration: 30s, rate: 5}]\n",
                "scenarios.s.arrival_rate.ramp_to: does not go with rate stages",
            ),
            (
                "    gradual_load_increase: true\n    stages: [{duration: 30s, users: 5}]\n",
                "scenarios.s.gradual_load_increase: is true, but the scenario has its own stages",
            ),
            (
                "    duration: 1m\n    arrival_rate: {max_in_flight: 5}\n",
                "scenarios.s.arrival_rate.rate: is required",
            ),
        ] {
            let e = error_of(body);
            assert!(e.contains(words), "{body}: {e}");
        }
        assert!(parse("    users: 5\n    stages: [{duration: 30s, users: 5}]\n").is_ok());
    }

    #[test]
    fn users_and_spawn_rate_flags_do_not_apply_to_user_stages() {
        let f = parse("    stages: [{duration: 30s, users: 5}]\n").expect("valid");
        let mut s = f.scenarios[0].clone();
        let e = s
            .apply(&crate::Overrides {
                users: Some(3),
                ..Default::default()
            })
            .expect_err("refused");
        assert!(
            e.starts_with("--users: scenario s sets its users with stages"),
            "{e}"
        );
        s.apply(&crate::Overrides {
            duration: Some("10s"),
            ..Default::default()
        })
        .expect("a shorter run cuts the stages");
        let (end, users) = s
            .user_shape()
            .points(s.duration)
            .last()
            .copied()
            .expect("points");
        assert!(
            end == 10.0 && (users - 5.0 / 3.0).abs() < 1e-9,
            "{end} {users}"
        );
    }
}

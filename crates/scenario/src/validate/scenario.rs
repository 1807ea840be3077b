//! One scenario: its load (users or arrivals, duration, stages) and the
//! user classes and tasks that run.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::time::Duration;

use super::*;
use crate::error::closest;
use crate::{
    Claims, ConfigError, DEFAULT_SEED, DataGeneration, Scenario, Stages, Task, UserClass, WaitTime,
};

/// `scenarios.{name}.{key}`: the key path of a scenario's key.
pub(super) fn key(name: &str, key: &str) -> String {
    format!("scenarios.{name}.{key}")
}

pub(super) fn scenario(
    name: String,
    raw: RawScenario,
    file_expectations: &RawExpectations,
    file_classes: &BTreeMap<String, RawUserClass>,
    data: &DataGeneration,
    ctx: &Ctx,
    file_stages: Option<&(bool, Stages)>,
) -> Result<Scenario, ConfigError> {
    let Load {
        users,
        spawn_rate,
        duration,
        stages,
        arrival,
    } = load_of(&name, &raw, file_stages)?;
    let error_rate = rate(&key(&name, "error_rate"), raw.error_rate)?.unwrap_or(0.0);
    let expectations = merged_expectations(file_expectations, raw.expectations.as_ref());
    let mut classes = ClassBuilder {
        error_rate,
        payload_sizes: payload_sizes_of(&name, raw.payload_sizes.as_ref())?,
        ctx,
        classes: Vec::new(),
        tasks: Vec::new(),
    };
    classes_of(&name, &raw, file_classes, &mut classes)?;
    let ClassBuilder {
        classes, mut tasks, ..
    } = classes;
    if let Some(dist) = &raw.workload_distribution {
        apply_workload_distribution(&name, dist, &mut tasks)?;
    }
    let max_requests = match raw.max_requests {
        Some(0) => {
            return Err(invalid(
                key(&name, "max_requests"),
                "must be ≥ 1 (or leave it out)",
            ));
        }
        n => n,
    };
    Ok(Scenario {
        expectations: expectations_of(&key(&name, "expectations"), &expectations)?,
        description: raw.description,
        users,
        spawn_rate,
        duration,
        classes,
        tasks,
        seed: raw.seed.unwrap_or(DEFAULT_SEED),
        max_requests,
        error_rate,
        stages,
        arrival,
        claims: Claims::default(),
        data: data.clone(),
        preflight: raw.preflight.unwrap_or_default(),
        name,
    })
}

/// A scenario's load: how many users, how fast, for how long, in what shape.
struct Load {
    users: NonZeroU32,
    spawn_rate: f64,
    duration: Duration,
    stages: Option<Stages>,
    arrival: Option<crate::ArrivalRate>,
}

/// The load: `users`, `spawn_rate`, `duration`, `arrival_rate`, and the
/// scenario's own `stages:` or the file's gradual_load_increase.
fn load_of(
    name: &str,
    raw: &RawScenario,
    file_stages: Option<&(bool, Stages)>,
) -> Result<Load, ConfigError> {
    let own = stages::own_stages(name, raw.stages.as_deref())?;
    let rate_stages = match &own {
        Some(stages::Own::Rate(s)) => Some(s.clone()),
        _ => None,
    };
    let arrival = arrival_of(name, raw.arrival_rate.as_ref(), rate_stages)?;
    let (users, spawn_rate) = match &own {
        Some(stages::Own::Users(s)) => stages::users_of_stages(name, raw, s)?,
        _ => {
            let users = users_of(name, raw.users, arrival.as_ref())?;
            (users, spawn_rate_of(name, raw.spawn_rate, users)?)
        }
    };
    let duration = match &own {
        Some(own) => stages::duration_with(name, own, raw.duration.as_ref())?,
        None => duration_of(name, raw.duration.as_ref())?,
    };
    let load = |stages| Load {
        users,
        spawn_rate,
        duration,
        stages,
        arrival: arrival.clone(),
    };
    Ok(match own {
        Some(stages::Own::Users(s)) => {
            if raw.gradual_load_increase == Some(true) {
                return Err(invalid(
                    key(name, "gradual_load_increase"),
                    "is true, but the scenario has its own stages: leave one out",
                ));
            }
            load(Some(Stages::Users(s)))
        }
        // The open model's stages are its rate's.
        Some(stages::Own::Rate(_)) => load(None),
        None => match stages_of(name, file_stages, raw.gradual_load_increase)? {
            // Steps set the most users and the whole duration.
            Some(Stages::Steps {
                steps,
                step_duration,
            }) => Load {
                users: steps
                    .iter()
                    .copied()
                    .max()
                    .and_then(NonZeroU32::new)
                    .unwrap_or(users),
                duration: step_duration * steps.len() as u32,
                ..load(Some(Stages::Steps {
                    steps,
                    step_duration,
                }))
            },
            other => load(other),
        },
    })
}

/// `arrival_rate` and rate `stages`: the open model's schedule, if any.
pub(super) fn arrival_of(
    name: &str,
    raw: Option<&RawArrival>,
    stages: Option<Vec<crate::Stage>>,
) -> Result<Option<crate::ArrivalRate>, ConfigError> {
    let cap = |a: Option<&RawArrival>| {
        positive_u32(
            &key(name, "arrival_rate.max_in_flight"),
            a.and_then(|a| a.max_in_flight)
                .unwrap_or(i64::from(crate::DEFAULT_MAX_IN_FLIGHT.get())),
        )
    };
    let checked = |k: &str, r: f64| {
        crate::check_rate(r).map_err(|m| invalid(key(name, &format!("arrival_rate.{k}")), m))
    };
    if let Some(stages) = stages {
        // The rate starts from `arrival_rate.rate`, else from 0 (k6's startRate).
        let start = match raw.and_then(|a| a.rate) {
            Some(r) => checked("rate", r)?,
            None => 0.0,
        };
        if raw.is_some_and(|a| a.ramp_to.is_some()) {
            return Err(invalid(
                key(name, "arrival_rate.ramp_to"),
                "does not go with rate stages (the stages set the rate): leave it out",
            ));
        }
        if start == 0.0 && stages.iter().all(|s| s.target == 0.0) {
            return Err(invalid(
                key(name, "stages"),
                "never have a rate above 0; give at least one stage a rate",
            ));
        }
        return Ok(Some(crate::ArrivalRate {
            rate: crate::Rate::Stages(crate::Shape { start, stages }),
            max_in_flight: cap(raw)?,
        }));
    }
    let Some(a) = raw else { return Ok(None) };
    let Some(rate) = a.rate else {
        return Err(invalid(
            key(name, "arrival_rate.rate"),
            "is required: requests per second (or give stages with rate:)",
        ));
    };
    let rate = checked("rate", rate)?;
    let rate = match a.ramp_to {
        Some(to) => crate::Rate::Ramp {
            from: rate,
            to: checked("ramp_to", to)?,
        },
        None => crate::Rate::Constant(rate),
    };
    Ok(Some(crate::ArrivalRate {
        rate,
        max_in_flight: cap(Some(a))?,
    }))
}

/// `users`, required unless the open model's cap stands in for it.
pub(super) fn users_of(
    name: &str,
    raw: Option<i64>,
    arrival: Option<&crate::ArrivalRate>,
) -> Result<NonZeroU32, ConfigError> {
    match (raw, arrival) {
        (Some(u), _) => positive_u32(&key(name, "users"), u),
        (None, Some(a)) => Ok(a.max_in_flight),
        (None, None) => Err(invalid(
            key(name, "users"),
            "is required (virtual users, ≥ 1), or give arrival_rate for the open model",
        )),
    }
}

/// `spawn_rate`: all users in the first second by default.
pub(super) fn spawn_rate_of(
    name: &str,
    raw: Option<f64>,
    users: NonZeroU32,
) -> Result<f64, ConfigError> {
    match raw {
        None => Ok(f64::from(users.get())),
        Some(r) if r.is_finite() && r > 0.0 => Ok(r),
        Some(r) => Err(invalid(
            key(name, "spawn_rate"),
            format!("must be > 0 users/s, got {r}"),
        )),
    }
}

/// `duration`: required, with a unit, above zero.
pub(super) fn duration_of(name: &str, raw: Option<&RawDuration>) -> Result<Duration, ConfigError> {
    let path = key(name, "duration");
    let raw = raw.ok_or_else(|| invalid(&path, "is required (e.g. 60s)"))?;
    let d = duration(&path, raw, BareNumber::Refused)?;
    if d.is_zero() {
        return Err(invalid(path, "must be > 0"));
    }
    Ok(d)
}

/// The file's `performance_expectations` for the scenario, with the
/// scenario's own `expectations` key by key over them.
pub(super) fn merged_expectations(
    file: &RawExpectations,
    own: Option<&RawExpectations>,
) -> RawExpectations {
    let mut e = file.clone();
    if let Some(o) = own {
        e.max_failure_percent = o.max_failure_percent.or(e.max_failure_percent);
        e.max_median_ms = o.max_median_ms.or(e.max_median_ms);
        e.max_p95_ms = o.max_p95_ms.or(e.max_p95_ms);
        e.max_p99_ms = o.max_p99_ms.or(e.max_p99_ms);
        e.min_rps = o.min_rps.or(e.min_rps);
        e.max_outage = o.max_outage.clone().or(e.max_outage);
    }
    e
}

/// `payload_sizes`: the batch sizes a scenario's batch requests take.
pub(super) fn payload_sizes_of(
    name: &str,
    raw: Option<&BTreeMap<String, i64>>,
) -> Result<Option<Vec<usize>>, ConfigError> {
    match raw {
        None => Ok(None),
        Some(m) if m.is_empty() => Err(invalid(key(name, "payload_sizes"), "is empty")),
        Some(m) => m
            .iter()
            .map(|(k, v)| count(&key(name, &format!("payload_sizes.{k}")), *v, 10_000))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
    }
}

/// The user classes of a scenario as they are validated, and their tasks.
pub(super) struct ClassBuilder<'a> {
    error_rate: f64,
    payload_sizes: Option<Vec<usize>>,
    ctx: &'a Ctx,
    classes: Vec<UserClass>,
    tasks: Vec<Task>,
}

impl ClassBuilder<'_> {
    /// Adds class `class_name` with its tasks (written at `path`).
    fn add(
        &mut self,
        class_name: &str,
        weight: NonZeroU32,
        wait: WaitTime,
        raw_tasks: &[RawTask],
        path: &str,
    ) -> Result<(), ConfigError> {
        if raw_tasks.is_empty() {
            return Err(invalid(
                format!("{path}.tasks"),
                "is empty; a user needs at least one task",
            ));
        }
        let mut positions = Vec::new();
        for (i, t) in raw_tasks.iter().enumerate() {
            let task = task::task(
                &format!("{path}.tasks[{i}]"),
                t,
                class_name,
                self.error_rate,
                self.payload_sizes.as_deref(),
                self.ctx,
            )?;
            if self.tasks.iter().any(|x| x.name == task.name) {
                return Err(invalid(
                    format!("{path}.tasks[{i}].name"),
                    format!("{:?} is used twice; task names must be unique", task.name),
                ));
            }
            positions.push(self.tasks.len());
            self.tasks.push(task);
        }
        self.classes.push(UserClass {
            name: class_name.to_owned(),
            weight,
            wait_time: wait,
            tasks: positions,
        });
        Ok(())
    }
}

/// The classes that run: the scenario's own tasks (one class named after
/// it), or the user classes it names (all of the file's by default).
pub(super) fn classes_of(
    name: &str,
    raw: &RawScenario,
    file_classes: &BTreeMap<String, RawUserClass>,
    out: &mut ClassBuilder<'_>,
) -> Result<(), ConfigError> {
    match (&raw.tasks, &raw.user_classes) {
        (Some(_), Some(_)) => Err(invalid(
            key(name, "tasks"),
            "give either tasks or user_classes, not both",
        )),
        (Some(t), None) => {
            let wait = wait_time(&key(name, "wait_time"), raw.wait_time.as_ref())?;
            out.add(name, NonZeroU32::MIN, wait, t, &format!("scenarios.{name}"))
        }
        (None, names) => {
            if raw.wait_time.is_some() {
                return Err(invalid(
                    key(name, "wait_time"),
                    "applies to the scenario's own tasks; set wait_time on the user classes instead",
                ));
            }
            let names: Vec<String> = match names {
                Some(n) => n.clone(),
                None => file_classes.keys().cloned().collect(),
            };
            if names.is_empty() {
                return Err(invalid(
                    key(name, "tasks"),
                    "no tasks: give the scenario tasks, or define user_classes",
                ));
            }
            for (i, class_name) in names.iter().enumerate() {
                let c = named_class(name, i, class_name, file_classes)?;
                let path = format!("user_classes.{class_name}");
                let weight = positive_u32(&format!("{path}.weight"), c.weight.unwrap_or(1))?;
                let wait = wait_time(&format!("{path}.wait_time"), c.wait_time.as_ref())?;
                let tasks = c.tasks.as_deref().unwrap_or_default();
                out.add(class_name, weight, wait, tasks, &path)?;
            }
            Ok(())
        }
    }
}

/// The user class a scenario names as its `i`th, or which are known.
pub(super) fn named_class<'a>(
    name: &str,
    i: usize,
    class_name: &str,
    file_classes: &'a BTreeMap<String, RawUserClass>,
) -> Result<&'a RawUserClass, ConfigError> {
    file_classes.get(class_name).ok_or_else(|| {
        let hint = closest(class_name, file_classes.keys().map(String::as_str))
            .map(|c| format!("; did you mean {c:?}?"))
            .unwrap_or_default();
        let known = file_classes.keys().cloned().collect::<Vec<_>>().join(", ");
        invalid(
            format!("{}[{i}]", key(name, "user_classes")),
            format!("no user class named {class_name:?}{hint} (known: {known})"),
        )
    })
}

/// `workload_distribution`: each named task's share becomes its weight.
pub(super) fn apply_workload_distribution(
    name: &str,
    dist: &BTreeMap<String, f64>,
    tasks: &mut [Task],
) -> Result<(), ConfigError> {
    for (task_name, share) in dist {
        let path = key(name, &format!("workload_distribution.{task_name}"));
        if !(share.is_finite() && *share > 0.0 && *share <= 1.0) {
            return Err(invalid(
                path,
                format!("must be a share in (0, 1], got {share}"),
            ));
        }
        let short = |t: &Task| t.name.rsplit('.').next().map(str::to_owned);
        let matching: Vec<usize> = (0..tasks.len())
            .filter(|i| short(&tasks[*i]).as_deref() == Some(task_name.as_str()))
            .collect();
        if matching.is_empty() {
            let names: Vec<String> = tasks.iter().filter_map(short).collect();
            let hint = closest(task_name, names.iter().map(String::as_str))
                .map(|c| format!("; did you mean {c:?}?"))
                .unwrap_or_default();
            return Err(invalid(
                path,
                format!("no task named {task_name:?} in this scenario{hint}"),
            ));
        }
        for i in matching {
            tasks[i].weight = NonZeroU32::new((share * 1000.0).round().max(1.0) as u32)
                .unwrap_or(NonZeroU32::MIN);
        }
    }
    Ok(())
}

/// The file's stages, when they are on for this scenario.
pub(super) fn stages_of(
    name: &str,
    file_stages: Option<&(bool, Stages)>,
    own: Option<bool>,
) -> Result<Option<Stages>, ConfigError> {
    match (file_stages, own) {
        (Some((enabled, s)), opt) if opt.unwrap_or(*enabled) => Ok(Some(s.clone())),
        (None, Some(true)) => Err(invalid(
            key(name, "gradual_load_increase"),
            "is true but advanced.gradual_load_increase has no steps",
        )),
        _ => Ok(None),
    }
}

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
    // Every key is checked whatever the others hold; a value in error
    // stands in with a default only so the keys that depend on it are
    // checked too, and the scenario is not built.
    let mut errors = Vec::new();
    let load = load_of(&name, &raw, file_stages, &mut errors);
    let error_rate = keep(rate(&key(&name, "error_rate"), raw.error_rate), &mut errors)
        .flatten()
        .unwrap_or(0.0);
    let merged = merged_expectations(file_expectations, raw.expectations.as_ref());
    let expectations = keep(
        expectations_of(&key(&name, "expectations"), &merged),
        &mut errors,
    );
    let payload_sizes = keep(
        payload_sizes_of(&name, raw.payload_sizes.as_ref()),
        &mut errors,
    );
    // Rate stages make the open model as arrival_rate does.
    let open_model = load
        .as_ref()
        .map_or(raw.arrival_rate.is_some(), |l| l.arrival.is_some());
    let (data_file, vars) = workload::inputs_of(
        &name,
        &raw,
        raw_tasks_of(&name, &raw, file_classes),
        (&ctx.base, open_model),
        &mut errors,
    );
    let mut classes = ClassBuilder::new(error_rate, payload_sizes.flatten(), ctx);
    classes.inputs(data_file.as_ref(), &vars, !open_model);
    let built = classes_of(&name, &raw, file_classes, &mut classes);
    errors.extend(built.err().into_iter().chain(classes.errors.drain(..)));
    classes.distribute(&name, raw.workload_distribution.as_ref(), &mut errors);
    let threshold_names = classes.threshold_names(&name, &merged, raw.expectations.as_ref());
    let threshold_names = keep(threshold_names, &mut errors);
    let lag_bound = expectations.as_ref().and_then(|e| e.max_consumer_lag);
    let jetstream = messaging::jetstream_of(&name, raw.jetstream.as_ref(), lag_bound, &mut errors);
    none_of(errors)?;
    let (Some(load), Some(mut expectations), Some(threshold_names)) =
        (load, expectations, threshold_names)
    else {
        // Each is missing only with its error said.
        return Err(invalid(key(&name, "expectations"), "could not be read"));
    };
    expectations.tasks =
        thresholds::named(std::mem::take(&mut expectations.tasks), &threshold_names);
    Ok(Scenario {
        expectations,
        description: raw.description,
        users: load.users,
        spawn_rate: load.spawn_rate,
        duration: load.duration,
        classes: classes.classes,
        tasks: classes.tasks,
        seed: raw.seed.unwrap_or(DEFAULT_SEED),
        max_requests: load.max_requests,
        error_rate,
        stages: load.stages,
        arrival: load.arrival,
        claims: Claims::default(),
        data: data.clone(),
        preflight: raw.preflight.unwrap_or_default(),
        data_file,
        on_missing_capture: raw.on_missing_capture.unwrap_or_default(),
        jetstream,
        vars,
        name,
    })
}

/// Every task a scenario runs, with its key path: its own, or those of the
/// user classes it names (all of the file's by default). A class that does
/// not exist is left to [`classes_of`] to report.
fn raw_tasks_of<'a>(
    name: &str,
    raw: &'a RawScenario,
    file_classes: &'a BTreeMap<String, RawUserClass>,
) -> impl Iterator<Item = (String, &'a RawTask)> {
    let own = raw
        .tasks
        .iter()
        .flatten()
        .enumerate()
        .map(move |(i, t)| (format!("{}[{i}]", key(name, "tasks")), t));
    let names: Vec<&'a String> = match (&raw.tasks, &raw.user_classes) {
        (Some(_), _) => Vec::new(),
        (None, Some(n)) => n.iter().collect(),
        (None, None) => file_classes.keys().collect(),
    };
    let classes = names.into_iter().flat_map(move |c| {
        file_classes
            .get(c)
            .and_then(|rc| rc.tasks.as_ref())
            .into_iter()
            .flatten()
            .enumerate()
            .map(move |(i, t)| (format!("user_classes.{c}.tasks[{i}]"), t))
    });
    own.chain(classes)
}

/// A scenario's load: how many users, how fast, for how long, in what shape.
struct Load {
    users: NonZeroU32,
    spawn_rate: f64,
    duration: Duration,
    stages: Option<Stages>,
    arrival: Option<crate::ArrivalRate>,
    max_requests: Option<u64>,
}

/// The load: `users`, `spawn_rate`, `duration`, `arrival_rate`, and the
/// scenario's own `stages:` or the file's gradual_load_increase. Every key
/// in error is kept in `errors` (then `None`), each checked whatever the
/// others hold.
fn load_of(
    name: &str,
    raw: &RawScenario,
    file_stages: Option<&(bool, Stages)>,
    errors: &mut Vec<ConfigError>,
) -> Option<Load> {
    if raw.max_requests == Some(0) {
        errors.push(invalid(
            key(name, "max_requests"),
            "must be ≥ 1 (or leave it out)",
        ));
    }
    let own = keep(stages::own_stages(name, raw.stages.as_deref()), errors);
    let rate_stages = match own.as_ref().and_then(Option::as_ref) {
        Some(stages::Own::Rate(s)) => Some(s.clone()),
        _ => None,
    };
    let arrival = keep(
        arrival_of(name, raw.arrival_rate.as_ref(), rate_stages),
        errors,
    );
    let own_stages = own.as_ref().and_then(Option::as_ref);
    let (users_and_rate, duration) = size_of(name, raw, own_stages, arrival.as_ref(), errors);
    // The file's steps apply only to a scenario without stages of its own.
    let gradual = match &own {
        Some(None) => keep(
            stages_of(name, file_stages, raw.gradual_load_increase),
            errors,
        ),
        _ => Some(None),
    };
    let (own, arrival, (users, spawn_rate), duration, gradual) =
        (own?, arrival?, users_and_rate?, duration?, gradual?);
    let load = |stages| Load {
        users,
        spawn_rate,
        duration,
        stages,
        arrival: arrival.clone(),
        max_requests: raw.max_requests,
    };
    match own {
        Some(stages::Own::Users(s)) => {
            if raw.gradual_load_increase == Some(true) {
                errors.push(invalid(
                    key(name, "gradual_load_increase"),
                    "is true, but the scenario has its own stages: leave one out",
                ));
                return None;
            }
            Some(load(Some(Stages::Users(s))))
        }
        // The open model's stages are its rate's.
        Some(stages::Own::Rate(_)) => Some(load(None)),
        None => Some(match gradual {
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
        }),
    }
}

/// The users and their spawn rate, and the duration: from the scenario's
/// own stages when it has some, else from its keys. Each mistake is kept
/// in `errors`; `arrival` is `None` when `arrival_rate` was in error.
fn size_of(
    name: &str,
    raw: &RawScenario,
    own: Option<&stages::Own>,
    arrival: Option<&Option<crate::ArrivalRate>>,
    errors: &mut Vec<ConfigError>,
) -> (Option<(NonZeroU32, f64)>, Option<Duration>) {
    let users_and_rate = match own {
        Some(stages::Own::Users(s)) => keep(stages::users_of_stages(name, raw, s), errors),
        _ => {
            // Without users, an arrival_rate in error has already been named.
            let users = match (raw.users, arrival) {
                (None, None) => None,
                (_, a) => keep(
                    users_of(name, raw.users, a.and_then(Option::as_ref)),
                    errors,
                ),
            };
            let spawn_rate = spawn_rate_of(name, raw.spawn_rate, users.unwrap_or(NonZeroU32::MIN));
            users.zip(keep(spawn_rate, errors))
        }
    };
    let duration = match own {
        Some(o) => keep(
            stages::duration_with(name, o, raw.duration.as_ref()),
            errors,
        ),
        None => keep(duration_of(name, raw.duration.as_ref()), errors),
    };
    (users_and_rate, duration)
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
        e.tasks = thresholds::merged(e.tasks.take(), o.tasks.as_ref());
        e.max_consumer_lag = o.max_consumer_lag.or(e.max_consumer_lag);
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
    /// Every task written, valid or not, by its name in results and its
    /// name within its class: what thresholds and workload shares may
    /// name (a task in error is not also called unknown).
    names: Vec<(String, String)>,
    /// What was wrong with the classes and their tasks.
    errors: Vec<ConfigError>,
    /// The scenario's data file, for `{{row.…}}`.
    data: Option<std::sync::Arc<cliffload_payloads::DataTable>>,
    /// The values its tasks save.
    vars: &'a [String],
    /// Whether it has virtual users (the closed model).
    users: bool,
}

impl<'a> ClassBuilder<'a> {
    /// `workload_distribution`, if written: each named task's share becomes its weight.
    fn distribute(
        &mut self,
        name: &str,
        dist: Option<&BTreeMap<String, f64>>,
        errors: &mut Vec<ConfigError>,
    ) {
        if let Some(dist) = dist {
            let applied = apply_workload_distribution(name, dist, &self.names, &mut self.tasks);
            keep(applied, errors);
        }
    }

    /// The task thresholds of `merged` (the file's and the scenario's own
    /// expectations), each resolved to a task or flow built here.
    fn threshold_names(
        &self,
        name: &str,
        merged: &RawExpectations,
        own: Option<&RawExpectations>,
    ) -> Result<Vec<(String, String)>, ConfigError> {
        let flows = self.classes.iter().filter(|c| c.flow);
        let targets = thresholds::targets(&self.names, flows.map(|c| c.name.as_str()));
        thresholds::resolve(name, merged, own, &targets)
    }

    /// What its tasks' templates may read: the scenario's data file, the
    /// values its tasks save, and whether it has users.
    fn inputs(&mut self, data: Option<&crate::DataSource>, vars: &'a [String], users: bool) {
        self.data = data.map(|d| d.table.clone());
        self.vars = vars;
        self.users = users;
    }

    fn new(error_rate: f64, payload_sizes: Option<Vec<usize>>, ctx: &'a Ctx) -> Self {
        Self {
            error_rate,
            payload_sizes,
            ctx,
            classes: Vec::new(),
            tasks: Vec::new(),
            names: Vec::new(),
            errors: Vec::new(),
            data: None,
            vars: &[],
            users: true,
        }
    }

    /// Why a class with `raw_tasks` (a flow with `flow`) cannot be added, if it cannot.
    fn can_add(&self, raw_tasks: &[RawTask], path: &str, flow: bool) -> Result<(), ConfigError> {
        if raw_tasks.is_empty() {
            return Err(invalid(
                format!("{path}.tasks"),
                "is empty; a user needs at least one task",
            ));
        }
        if flow && !self.users {
            return Err(invalid(
                format!("{path}.flow"),
                "a flow needs virtual users (the closed model); the open model (arrival_rate) sends single requests",
            ));
        }
        Ok(())
    }

    /// Adds class `class_name` with its tasks (written at `path`); each
    /// task in error is kept in `errors`, the others are added. With
    /// `flow`, the tasks run in order.
    fn add(
        &mut self,
        class_name: &str,
        weight: NonZeroU32,
        wait: WaitTime,
        raw_tasks: &[RawTask],
        (class_path, flow): (&str, bool),
    ) {
        if let Err(e) = self.can_add(raw_tasks, class_path, flow) {
            self.errors.push(e);
            return;
        }
        let columns = self.data.as_ref().map(|d| d.columns.clone());
        let vars = self.vars;
        let names = cliffload_payloads::template::Names {
            data: self
                .data
                .as_ref()
                .zip(columns.as_deref())
                .map(|(d, c)| (d.origin.as_str(), c)),
            vars,
            users: self.users,
        };
        let mut positions = Vec::new();
        let mut steps = Vec::new();
        for (i, t) in raw_tasks.iter().enumerate() {
            let path = format!("{class_path}.tasks[{i}]");
            if flow && t.weight.is_some() {
                self.errors.push(invalid(
                    format!("{path}.weight"),
                    "a flow runs its steps in order, each once per iteration: weight has no meaning here",
                ));
            }
            let short = task::short_name(t);
            let full = format!("{class_name}.{short}");
            if self.names.iter().any(|(n, _)| *n == full) {
                self.errors.push(invalid(
                    format!("{path}.name"),
                    format!("{full:?} is used twice; task names must be unique"),
                ));
                continue;
            }
            if !short.trim().is_empty() {
                self.names.push((full, short));
            }
            let task = task::task(
                &path,
                t,
                class_name,
                self.error_rate,
                self.payload_sizes.as_deref(),
                self.ctx,
                &names,
            );
            if let Some((task, uses)) = keep(task, &mut self.errors) {
                steps.push((uses, task.save.clone()));
                positions.push(self.tasks.len());
                self.tasks.push(task);
            }
        }
        keep(
            workload::check_uses(class_path, flow, &steps, vars),
            &mut self.errors,
        );
        self.classes.push(UserClass {
            name: class_name.to_owned(),
            weight,
            wait_time: wait,
            tasks: positions,
            flow,
        });
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
            let wait = keep(
                wait_time(&key(name, "wait_time"), raw.wait_time.as_ref()),
                &mut out.errors,
            );
            out.add(
                name,
                NonZeroU32::MIN,
                wait.unwrap_or(WaitTime::Constant(Duration::ZERO)),
                t,
                (&format!("scenarios.{name}"), raw.flow.unwrap_or(false)),
            );
            Ok(())
        }
        (None, names) => {
            if raw.flow.is_some() {
                out.errors.push(invalid(
                    key(name, "flow"),
                    "applies to the scenario's own tasks; set flow: true on the user classes instead",
                ));
            }
            if raw.wait_time.is_some() {
                out.errors.push(invalid(
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
                let Some(c) = keep(
                    named_class(name, i, class_name, file_classes),
                    &mut out.errors,
                ) else {
                    continue;
                };
                let path = format!("user_classes.{class_name}");
                let weight = positive_u32(&format!("{path}.weight"), c.weight.unwrap_or(1));
                let weight = keep(weight, &mut out.errors).unwrap_or(NonZeroU32::MIN);
                let wait = wait_time(&format!("{path}.wait_time"), c.wait_time.as_ref());
                let wait =
                    keep(wait, &mut out.errors).unwrap_or(WaitTime::Constant(Duration::ZERO));
                let tasks = c.tasks.as_deref().unwrap_or_default();
                out.add(
                    class_name,
                    weight,
                    wait,
                    tasks,
                    (&path, c.flow.unwrap_or(false)),
                );
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
/// `names`: every task written, by its name in results and in its class.
pub(super) fn apply_workload_distribution(
    name: &str,
    dist: &BTreeMap<String, f64>,
    names: &[(String, String)],
    tasks: &mut [Task],
) -> Result<(), ConfigError> {
    let mut errors = Vec::new();
    for (task_name, share) in dist {
        let path = key(name, &format!("workload_distribution.{task_name}"));
        if !(share.is_finite() && *share > 0.0 && *share <= 1.0) {
            errors.push(invalid(
                path,
                format!("must be a share in (0, 1], got {share}"),
            ));
            continue;
        }
        let matching: Vec<&str> = names
            .iter()
            .filter(|(_, short)| short == task_name)
            .map(|(full, _)| full.as_str())
            .collect();
        if matching.is_empty() {
            let hint = closest(task_name, names.iter().map(|(_, s)| s.as_str()))
                .map(|c| format!("; did you mean {c:?}?"))
                .unwrap_or_default();
            errors.push(invalid(
                path,
                format!("no task named {task_name:?} in this scenario{hint}"),
            ));
            continue;
        }
        for t in tasks
            .iter_mut()
            .filter(|t| matching.contains(&t.name.as_str()))
        {
            t.weight = NonZeroU32::new((share * 1000.0).round().max(1.0) as u32)
                .unwrap_or(NonZeroU32::MIN);
        }
    }
    none_of(errors)
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

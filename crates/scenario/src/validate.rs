//! Raw file → typed scenarios. Every error names its key path and what is allowed.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::time::Duration;

use cliffload_payloads::ModelSpec;

use crate::error::closest;
use crate::raw::*;
use crate::{
    Claims, ConfigError, DEFAULT_SEED, DEFAULT_TIMEOUT, DataGeneration, ExpectStatus, Expectations,
    Payload, Protocol, ReplyExpect, RequestSpec, Scenario, ScenarioFile, Settings, Stages, Task,
    UserClass, WaitTime, parse_duration,
};

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

fn metadata_kb(raw: &RawFile) -> Result<(usize, usize), ConfigError> {
    raw.data_generation
        .as_ref()
        .and_then(|d| d.payload_complexity.as_ref())
        .and_then(|p| p.metadata_size_kb.as_deref())
        .map(|v| {
            range(
                "data_generation.payload_complexity.metadata_size_kb",
                v,
                1024,
            )
        })
        .transpose()
        .map(|v| v.unwrap_or((1, 1)))
}

/// `advanced.gradual_load_increase`: whether it is on, and its stages.
fn gradual_stages(raw: &RawFile) -> Result<Option<(bool, Stages)>, ConfigError> {
    raw.advanced
        .as_ref()
        .and_then(|a| a.gradual_load_increase.as_ref())
        .map(|g| Ok((g.enabled.unwrap_or(false), stages(g)?)))
        .transpose()
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

fn data_generation(d: Option<&RawDataGeneration>) -> Result<DataGeneration, ConfigError> {
    let mut out = DataGeneration::default();
    let Some(d) = d else { return Ok(out) };
    let p = "data_generation";
    if let Some(v) = d.customer_pool_size {
        out.customer_pool_size = count(&format!("{p}.customer_pool_size"), v, 1_000_000)?;
    }
    if let Some(v) = d.product_pool_size {
        out.product_pool_size = count(&format!("{p}.product_pool_size"), v, 1_000_000)?;
    }
    if let Some(v) = d.payload_pool_size {
        out.payload_pool_size = count(&format!("{p}.payload_pool_size"), v, 1_000_000)?;
    }
    if let Some(o) = &d.order_complexity {
        let path = format!("{p}.order_complexity");
        let min = o.min_items.map_or(Ok(out.order_items.0), |v| {
            count(&format!("{path}.min_items"), v, 100)
        })?;
        let max = o.max_items.map_or(Ok(out.order_items.1), |v| {
            count(&format!("{path}.max_items"), v, 100)
        })?;
        let avg = o.average_items.unwrap_or(out.order_items.2);
        if min > max {
            return Err(invalid(
                &path,
                format!("min_items {min} is above max_items {max}"),
            ));
        }
        if !(min as f64..=max as f64).contains(&avg) {
            return Err(invalid(
                format!("{path}.average_items"),
                format!("must be between min_items and max_items ({min} to {max}), got {avg}"),
            ));
        }
        out.order_items = (min, max, avg);
    }
    Ok(out)
}

fn analytics_sizes(
    d: Option<&RawDataGeneration>,
) -> Result<BTreeMap<String, (usize, usize)>, ConfigError> {
    let mut out: BTreeMap<String, (usize, usize)> = [
        ("small", (5, 20)),
        ("medium", (20, 100)),
        ("large", (100, 500)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    if let Some(sizes) = d.and_then(|d| d.analytics_batch_sizes.as_ref()) {
        for (k, v) in sizes {
            out.insert(
                k.clone(),
                range(
                    &format!("data_generation.analytics_batch_sizes.{k}"),
                    v,
                    10_000,
                )?,
            );
        }
    }
    Ok(out)
}

fn settings(raw: &RawFile) -> Result<Settings, ConfigError> {
    let env = raw.environment.as_ref();
    let claims = raw
        .reporting
        .as_ref()
        .and_then(|r| r.benchmark_claims.as_ref());
    let adv = raw.advanced.as_ref();
    let leak = adv
        .and_then(|a| a.memory_leak_detection.as_ref())
        .filter(|l| l.enabled.unwrap_or(false));
    let regression = adv
        .and_then(|a| a.regression_detection.as_ref())
        .filter(|r| r.enabled.unwrap_or(false));
    if let Some(rps) = claims.and_then(|c| c.high_throughput_claim)
        && !(rps.is_finite() && rps > 0.0)
    {
        return Err(invalid(
            "reporting.benchmark_claims.high_throughput_claim",
            format!("must be > 0 requests/s, got {rps}"),
        ));
    }
    if let Some(url) = env.and_then(|e| e.nats_url.as_deref())
        && !(url.starts_with("nats://")
            || url.starts_with("tls://")
            || url.starts_with("ws://")
            || url.starts_with("wss://"))
    {
        return Err(invalid(
            "environment.nats_url",
            format!("{url:?} is not a NATS URL (nats://HOST:PORT)"),
        ));
    }
    let reference_latency_none = match env.and_then(|e| e.reference_service_latency.as_deref()) {
        None | Some("realistic") => false,
        Some("none") => true,
        Some(other) => {
            return Err(invalid(
                "environment.reference_service_latency",
                format!("{other:?}: one of realistic, none"),
            ));
        }
    };
    Ok(Settings {
        reference_latency_none,
        nats_url: env.and_then(|e| e.nats_url.clone()),
        nats_login: match env {
            Some(e) => nats_login(e)?,
            None => crate::NatsLogin::default(),
        },
        nats_monitoring_url: env.and_then(|e| e.nats_monitoring_url.clone()),
        claims: Claims {
            sub_millisecond: claims
                .and_then(|c| c.sub_millisecond_claim)
                .unwrap_or(false),
            ten_x_faster_than_rest: claims
                .and_then(|c| c.ten_x_faster_than_rest)
                .unwrap_or(false),
            high_throughput_rps: claims.and_then(|c| c.high_throughput_claim),
        },
        max_memory_increase_mb: leak.and_then(|l| l.max_memory_increase_mb),
        max_degradation_percent: regression.and_then(|r| r.max_performance_degradation_percent),
        baseline_results_path: regression.and_then(|r| r.baseline_results_path.clone()),
    })
}

fn stages(g: &RawGradual) -> Result<Stages, ConfigError> {
    let p = "advanced.gradual_load_increase";
    let steps = g.steps.clone().unwrap_or_default();
    if steps.is_empty() {
        return Err(invalid(
            format!("{p}.steps"),
            "is empty; list the users of each step, e.g. [10, 25, 50]",
        ));
    }
    let steps = steps
        .iter()
        .enumerate()
        .map(|(i, v)| positive_u32(&format!("{p}.steps[{i}]"), *v).map(NonZeroU32::get))
        .collect::<Result<Vec<_>, _>>()?;
    let step_duration = match &g.step_duration_seconds {
        Some(d) => duration(
            &format!("{p}.step_duration_seconds"),
            d,
            BareNumber::Seconds,
        )?,
        None => Duration::from_secs(60),
    };
    if step_duration.is_zero() {
        return Err(invalid(format!("{p}.step_duration_seconds"), "must be > 0"));
    }
    Ok(Stages {
        steps,
        step_duration,
    })
}

fn scenario(
    name: String,
    raw: RawScenario,
    file_expectations: &RawExpectations,
    file_classes: &BTreeMap<String, RawUserClass>,
    data: &DataGeneration,
    ctx: &Ctx,
    file_stages: Option<&(bool, Stages)>,
) -> Result<Scenario, ConfigError> {
    let at = |key: &str| format!("scenarios.{name}.{key}");
    let arrival = match &raw.arrival_rate {
        None => None,
        Some(a) => {
            crate::check_rate(a.rate).map_err(|m| invalid(at("arrival_rate.rate"), m))?;
            if let Some(r) = a.ramp_to {
                crate::check_rate(r).map_err(|m| invalid(at("arrival_rate.ramp_to"), m))?;
            }
            let cap = positive_u32(
                &at("arrival_rate.max_in_flight"),
                a.max_in_flight
                    .unwrap_or(i64::from(crate::DEFAULT_MAX_IN_FLIGHT.get())),
            )?;
            Some(crate::ArrivalRate {
                rate: a.rate,
                ramp_to: a.ramp_to,
                max_in_flight: cap,
            })
        }
    };
    let users = match (raw.users, &arrival) {
        (Some(u), _) => positive_u32(&at("users"), u)?,
        (None, Some(a)) => a.max_in_flight,
        (None, None) => {
            return Err(invalid(
                at("users"),
                "is required (virtual users, ≥ 1), or give arrival_rate for the open model",
            ));
        }
    };
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
    let duration = duration(
        &at("duration"),
        raw.duration
            .as_ref()
            .ok_or_else(|| invalid(at("duration"), "is required (e.g. 60s)"))?,
        BareNumber::Refused,
    )?;
    if duration.is_zero() {
        return Err(invalid(at("duration"), "must be > 0"));
    }
    let error_rate = rate(&at("error_rate"), raw.error_rate)?.unwrap_or(0.0);
    let mut expectations = file_expectations.clone();
    if let Some(e) = &raw.expectations {
        expectations.max_failure_percent =
            e.max_failure_percent.or(expectations.max_failure_percent);
        expectations.max_median_ms = e.max_median_ms.or(expectations.max_median_ms);
        expectations.max_p95_ms = e.max_p95_ms.or(expectations.max_p95_ms);
        expectations.max_p99_ms = e.max_p99_ms.or(expectations.max_p99_ms);
        expectations.min_rps = e.min_rps.or(expectations.min_rps);
    }
    let payload_sizes = match &raw.payload_sizes {
        None => None,
        Some(m) if m.is_empty() => return Err(invalid(at("payload_sizes"), "is empty")),
        Some(m) => Some(
            m.iter()
                .map(|(k, v)| count(&at(&format!("payload_sizes.{k}")), *v, 10_000))
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    // The classes that run: the scenario's own tasks, or named user classes.
    let mut classes = Vec::new();
    let mut tasks = Vec::new();
    let mut add_class = |class_name: &str,
                         weight: NonZeroU32,
                         wait: WaitTime,
                         raw_tasks: &[RawTask],
                         path: &str|
     -> Result<(), ConfigError> {
        if raw_tasks.is_empty() {
            return Err(invalid(
                format!("{path}.tasks"),
                "is empty; a user needs at least one task",
            ));
        }
        let mut positions = Vec::new();
        for (i, t) in raw_tasks.iter().enumerate() {
            let task = task(
                &format!("{path}.tasks[{i}]"),
                t,
                class_name,
                error_rate,
                payload_sizes.as_deref(),
                ctx,
            )?;
            if tasks.iter().any(|x: &Task| x.name == task.name) {
                return Err(invalid(
                    format!("{path}.tasks[{i}].name"),
                    format!("{:?} is used twice; task names must be unique", task.name),
                ));
            }
            positions.push(tasks.len());
            tasks.push(task);
        }
        classes.push(UserClass {
            name: class_name.to_owned(),
            weight,
            wait_time: wait,
            tasks: positions,
        });
        Ok(())
    };
    match (&raw.tasks, &raw.user_classes) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                at("tasks"),
                "give either tasks or user_classes, not both",
            ));
        }
        (Some(t), None) => {
            let wait = wait_time(&at("wait_time"), raw.wait_time.as_ref())?;
            add_class(
                &name,
                NonZeroU32::MIN,
                wait,
                t,
                &format!("scenarios.{name}"),
            )?;
        }
        (None, names) => {
            if raw.wait_time.is_some() {
                return Err(invalid(
                    at("wait_time"),
                    "applies to the scenario's own tasks; set wait_time on the user classes instead",
                ));
            }
            let names: Vec<String> = match names {
                Some(n) => n.clone(),
                None => file_classes.keys().cloned().collect(),
            };
            if names.is_empty() {
                return Err(invalid(
                    at("tasks"),
                    "no tasks: give the scenario tasks, or define user_classes",
                ));
            }
            for (i, class_name) in names.iter().enumerate() {
                let Some(c) = file_classes.get(class_name) else {
                    let hint = closest(class_name, file_classes.keys().map(String::as_str))
                        .map(|c| format!("; did you mean {c:?}?"))
                        .unwrap_or_default();
                    let known = file_classes.keys().cloned().collect::<Vec<_>>().join(", ");
                    return Err(invalid(
                        format!("{}[{i}]", at("user_classes")),
                        format!("no user class named {class_name:?}{hint} (known: {known})"),
                    ));
                };
                let path = format!("user_classes.{class_name}");
                let weight = positive_u32(&format!("{path}.weight"), c.weight.unwrap_or(1))?;
                let wait = wait_time(&format!("{path}.wait_time"), c.wait_time.as_ref())?;
                add_class(
                    class_name,
                    weight,
                    wait,
                    c.tasks.as_deref().unwrap_or_default(),
                    &path,
                )?;
            }
        }
    }
    if let Some(dist) = &raw.workload_distribution {
        for (task_name, share) in dist {
            let path = at(&format!("workload_distribution.{task_name}"));
            if !(share.is_finite() && *share > 0.0 && *share <= 1.0) {
                return Err(invalid(
                    path,
                    format!("must be a share in (0, 1], got {share}"),
                ));
            }
            let matching: Vec<usize> = (0..tasks.len())
                .filter(|i| tasks[*i].name.rsplit('.').next() == Some(task_name.as_str()))
                .collect();
            if matching.is_empty() {
                let names: Vec<&str> = tasks
                    .iter()
                    .filter_map(|t| t.name.rsplit('.').next())
                    .collect();
                let hint = closest(task_name, names.iter().copied())
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
    }
    let stages = match (file_stages, raw.gradual_load_increase) {
        (Some((enabled, s)), opt) if opt.unwrap_or(*enabled) => Some(s.clone()),
        (None, Some(true)) => {
            return Err(invalid(
                at("gradual_load_increase"),
                "is true but advanced.gradual_load_increase has no steps",
            ));
        }
        _ => None,
    };
    let (users, duration) = match &stages {
        Some(s) => {
            let most = s.steps.iter().copied().max().unwrap_or(1);
            (
                NonZeroU32::new(most).unwrap_or(users),
                s.step_duration * s.steps.len() as u32,
            )
        }
        None => (users, duration),
    };
    let max_requests = match raw.max_requests {
        Some(0) => return Err(invalid(at("max_requests"), "must be ≥ 1 (or leave it out)")),
        n => n,
    };
    Ok(Scenario {
        expectations: expectations_of(&at("expectations"), &expectations)?,
        name,
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
    })
}

fn task(
    path: &str,
    raw: &RawTask,
    class: &str,
    scenario_error_rate: f64,
    payload_sizes: Option<&[usize]>,
    ctx: &Ctx,
) -> Result<Task, ConfigError> {
    let short = raw
        .name
        .clone()
        .or_else(|| raw.method.clone())
        .unwrap_or_default();
    if short.trim().is_empty() {
        return Err(invalid(
            format!("{path}.name"),
            "must not be empty (or give a method)",
        ));
    }
    let subject = match (&raw.subject, &raw.service, &raw.method) {
        (Some(s), None, None) => s.clone(),
        (None, Some(svc), Some(m)) => match raw.namespace.as_deref() {
            Some(ns) if !ns.is_empty() => format!("{ns}.{svc}.rpc.{m}"),
            _ => format!("{svc}.rpc.{m}"),
        },
        (Some(_), _, _) => {
            return Err(invalid(
                format!("{path}.subject"),
                "give either subject, or service and method, not both",
            ));
        }
        _ => {
            return Err(invalid(
                path,
                "needs a subject, or a service and a method (→ {service}.rpc.{method})",
            ));
        }
    };
    validate_subject(&format!("{path}.subject"), &subject)?;
    let weight = positive_u32(&format!("{path}.weight"), raw.weight.unwrap_or(1))?;
    let timeout = match &raw.timeout {
        None => DEFAULT_TIMEOUT,
        Some(d) => duration(&format!("{path}.timeout"), d, BareNumber::Refused)?,
    };
    if timeout.is_zero() || timeout > Duration::from_secs(3600) {
        return Err(invalid(
            format!("{path}.timeout"),
            format!("must be in (0, 1h], got {timeout:?}"),
        ));
    }
    let error_rate =
        rate(&format!("{path}.error_rate"), raw.error_rate)?.unwrap_or(scenario_error_rate);
    let payload = match (&raw.payload, &raw.generate) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                format!("{path}.generate"),
                "give either payload (fixed) or generate, not both",
            ));
        }
        (Some(v), None) => match &raw.arg {
            Some(arg) => Payload::Static(serde_json::json!({ arg: v })),
            None => Payload::Static(v.clone()),
        },
        (None, Some(g)) => Payload::Generated {
            models: models(&format!("{path}.generate"), g, payload_sizes, ctx)?,
            arg: raw.arg.clone(),
        },
        (None, None) => Payload::Static(serde_json::Value::Object(Default::default())),
    };
    if let Payload::Generated { models, .. } = &payload
        && error_rate > 0.0
        && models.iter().any(|m| m.inject_kinds().is_empty())
    {
        return Err(invalid(
            format!("{path}.error_rate"),
            "this model takes no injected errors; set error_rate: 0",
        ));
    }
    // A fixed body is never injected.
    let error_rate = if matches!(payload, Payload::Static(_)) {
        0.0
    } else {
        error_rate
    };
    let expect = reply_expect(&format!("{path}.expect"), raw)?;
    Ok(Task {
        name: format!("{class}.{short}"),
        request: RequestSpec {
            subject,
            protocol: raw.protocol.unwrap_or_default(),
            timeout,
            codec: raw.encoding.unwrap_or_default(),
            headers: raw.headers.unwrap_or(false),
            expect,
        },
        weight,
        payload,
        error_rate,
    })
}

fn reply_expect(path: &str, raw: &RawTask) -> Result<ReplyExpect, ConfigError> {
    let Some(e) = &raw.expect else {
        return Ok(ReplyExpect::default());
    };
    let status = e.status.unwrap_or_default();
    if status == ExpectStatus::Rejected && raw.protocol == Some(Protocol::Raw) {
        return Err(invalid(
            format!("{path}.status"),
            "a raw reply cannot be a refusal (any reply is a success); use protocol: cliffracer or micro, or check the text with contains/regex",
        ));
    }
    if let Some(r) = &e.regex {
        regex::bytes::Regex::new(r).map_err(|err| {
            invalid(
                format!("{path}.regex"),
                format!("not a regular expression: {err}"),
            )
        })?;
    }
    let max_bytes = match e.max_bytes {
        None => None,
        Some(n) if n > 0 => Some(usize::try_from(n).unwrap_or(usize::MAX)),
        Some(n) => {
            return Err(invalid(
                format!("{path}.max_bytes"),
                format!("must be a positive number of bytes, got {n}"),
            ));
        }
    };
    let json: Vec<(String, serde_json::Value)> = e
        .json
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some((k, _)) = json.iter().find(|(k, _)| k.split('.').any(str::is_empty)) {
        return Err(invalid(
            format!("{path}.json"),
            format!("{k:?} is not a path: keys separated by single dots, e.g. result.status"),
        ));
    }
    Ok(ReplyExpect {
        status,
        json,
        contains: e.contains.clone(),
        regex: e.regex.clone(),
        max_bytes,
    })
}

fn models(
    path: &str,
    g: &RawGenerate,
    payload_sizes: Option<&[usize]>,
    ctx: &Ctx,
) -> Result<Vec<ModelSpec>, ConfigError> {
    let cpath = format!("{path}.count");
    // One sub-pool per listed count: each equally often.
    if let Some(RawCount::OneOf(o)) = &g.count {
        if o.one_of.is_empty() {
            return Err(invalid(
                format!("{cpath}.one_of"),
                "must list at least one count",
            ));
        }
        let mut out = Vec::new();
        for n in &o.one_of {
            let single = RawGenerate {
                count: Some(RawCount::One(*n)),
                ..g.clone()
            };
            out.extend(models(path, &single, payload_sizes, ctx)?);
        }
        return Ok(out);
    }
    let count_of = |default: (usize, usize), max: i64| -> Result<(usize, usize), ConfigError> {
        match &g.count {
            None => Ok(default),
            Some(RawCount::One(n)) => count(&cpath, *n, max).map(|n| (n, n)),
            Some(RawCount::Range(v)) => range(&cpath, v, max),
            Some(RawCount::Named(n)) => ctx.batch_sizes.get(n).copied().ok_or_else(|| {
                let known: Vec<&str> = ctx.batch_sizes.keys().map(String::as_str).collect();
                invalid(&cpath, format!("{n:?} is not a size; one of {} (data_generation.analytics_batch_sizes) or a number or [min, max]", known.join(", ")))
            }),
            // Expanded above, before this closure is used.
            Some(RawCount::OneOf(_)) => Err(invalid(&cpath, "one_of cannot be nested")),
        }
    };
    let metadata_kb = match &g.metadata_kb {
        None => ctx.metadata_kb,
        Some(RawCount::One(n)) => {
            count(&format!("{path}.metadata_kb"), *n, 1024).map(|n| (n, n))?
        }
        Some(RawCount::Range(v)) => range(&format!("{path}.metadata_kb"), v, 1024)?,
        Some(RawCount::Named(_) | RawCount::OneOf(_)) => {
            return Err(invalid(
                format!("{path}.metadata_kb"),
                "give KB as a number or [min, max]",
            ));
        }
    };
    Ok(match g.model.as_str() {
        "order" => vec![ModelSpec::Order {
            items: g
                .count
                .as_ref()
                .map(|_| count_of((1, 8), 100))
                .transpose()?,
        }],
        "order_batch" => vec![ModelSpec::OrderBatch {
            orders: count_of(ModelSpec::DEFAULT_ORDERS, 100)?,
        }],
        "customer" => vec![ModelSpec::Customer],
        "product" => vec![ModelSpec::Product],
        "analytics_event" => vec![ModelSpec::AnalyticsEvent],
        "analytics_batch" => vec![ModelSpec::AnalyticsBatch {
            events: count_of(ModelSpec::DEFAULT_EVENTS, 10_000)?,
        }],
        "batch_request" => {
            // A scenario's payload_sizes (small/medium/large items) replace the count.
            let kb = (metadata_kb.0 + metadata_kb.1) / 2;
            match payload_sizes {
                Some(sizes) => sizes
                    .iter()
                    .map(|n| ModelSpec::BatchRequest {
                        items: (*n, *n),
                        metadata_kb: kb,
                    })
                    .collect(),
                None => vec![ModelSpec::BatchRequest {
                    items: count_of(ModelSpec::DEFAULT_BATCH_ITEMS, 10_000)?,
                    metadata_kb: kb,
                }],
            }
        }
        "validation_error_test" => vec![ModelSpec::ValidationErrorTest],
        other => {
            let hint = closest(other, ModelSpec::NAMES)
                .map(|c| format!("; did you mean {c:?}?"))
                .unwrap_or_default();
            return Err(invalid(
                format!("{path}.model"),
                format!(
                    "unknown model {other:?}{hint}; one of {}",
                    ModelSpec::NAMES.join(", ")
                ),
            ));
        }
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
    })
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

/// `environment`'s login keys; a secret file is read here (trailing newline
/// dropped), so a missing one is a config error naming its key.
fn nats_login(e: &RawEnvironment) -> Result<crate::NatsLogin, ConfigError> {
    let secret = |inline: &Option<String>, file: &Option<String>, key: &str| match (inline, file) {
        (Some(_), Some(_)) => Err(invalid(
            format!("environment.{key}_file"),
            format!("give {key} or {key}_file, not both"),
        )),
        (Some(s), None) => Ok(Some(crate::Secret::new(s.clone()))),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map(|s| Some(crate::Secret::new(s.trim_end_matches(['\n', '\r']))))
            .map_err(|err| {
                invalid(
                    format!("environment.{key}_file"),
                    format!("cannot read {path}: {}", crate::error::io_words(&err)),
                )
            }),
        (None, None) => Ok(None),
    };
    let path = |p: &Option<String>| p.as_ref().map(std::path::PathBuf::from);
    Ok(crate::NatsLogin {
        user: e.nats_user.clone(),
        password: secret(&e.nats_password, &e.nats_password_file, "nats_password")?,
        token: secret(&e.nats_token, &e.nats_token_file, "nats_token")?,
        nkey_file: path(&e.nats_nkey_file),
        credentials_file: path(&e.nats_credentials_file),
        tls_ca: path(&e.nats_tls_ca),
        tls_cert: path(&e.nats_tls_cert),
        tls_key: path(&e.nats_tls_key),
        tls_first: e.nats_tls_first.unwrap_or(false),
    })
}

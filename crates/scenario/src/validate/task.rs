//! One task: its subject, payload models, timeout and reply checks.

use std::time::Duration;

use cliffload_payloads::ModelSpec;
use cliffload_payloads::template::Names;

use super::*;
use crate::error::closest;
use crate::{
    ConfigError, DEFAULT_TIMEOUT, ExpectStatus, Payload, Protocol, ReplyExpect, RequestSpec, Task,
};

/// A task's name within its class: its `name`, or its method.
pub(super) fn short_name(raw: &RawTask) -> String {
    raw.name
        .clone()
        .or_else(|| raw.method.clone())
        .unwrap_or_default()
}

/// One task, and the saved values its templates read (slots).
pub(super) fn task(
    path: &str,
    raw: &RawTask,
    class: &str,
    scenario_error_rate: f64,
    payload_sizes: Option<&[usize]>,
    ctx: &Ctx,
    names: &Names<'_>,
) -> Result<(Task, Vec<usize>), ConfigError> {
    // Each key is checked whatever the others hold.
    let mut errors = Vec::new();
    let short = short_name(raw);
    if short.trim().is_empty() {
        errors.push(invalid(
            format!("{path}.name"),
            "must not be empty (or give a method)",
        ));
    }
    let sending = keep(messaging::send_of(path, raw), &mut errors);
    let subject = keep(subject_of(path, raw), &mut errors);
    let weight = positive_u32(&format!("{path}.weight"), raw.weight.unwrap_or(1));
    let weight = keep(weight, &mut errors);
    let timeout = keep(timeout_of(path, raw.timeout.as_ref()), &mut errors);
    let error_rate = keep(
        rate(&format!("{path}.error_rate"), raw.error_rate),
        &mut errors,
    )
    .flatten()
    .unwrap_or(scenario_error_rate);
    let payload = keep(payload_of(path, raw, payload_sizes, ctx), &mut errors);
    let error_rate = payload
        .as_ref()
        .and_then(|p| keep(injected_share(path, p, error_rate), &mut errors));
    let expect = keep(reply_expect(&format!("{path}.expect"), raw), &mut errors);
    let checked = payload.and_then(|p| keep(workload::templates(path, raw, p, names), &mut errors));
    none_of(errors)?;
    let (
        Some(subject),
        Some(weight),
        Some(timeout),
        Some(checked),
        Some(error_rate),
        Some(expect),
        Some((send, observe)),
    ) = (
        subject, weight, timeout, checked, error_rate, expect, sending,
    )
    else {
        // Each is missing only with its error said.
        return Err(invalid(path, "could not be read"));
    };
    messaging::check_injected(path, observe.as_ref(), error_rate)?;
    let task = Task {
        name: format!("{class}.{short}"),
        request: RequestSpec {
            subject,
            protocol: raw.protocol.unwrap_or_default(),
            timeout,
            codec: raw.encoding.unwrap_or_default(),
            headers: match &raw.headers {
                None | Some(RawHeaders::Standard(false)) => false,
                Some(RawHeaders::Standard(true) | RawHeaders::Own(_)) => true,
            },
            expect,
            keep_reply: raw.save.as_ref().is_some_and(|s| !s.is_empty()),
            send,
            observe,
        },
        weight,
        payload: checked.payload,
        error_rate,
        save: workload::captures(raw, names.vars),
        headers: checked.headers,
    };
    Ok((task, checked.uses))
}

/// `subject`, or `{namespace.}{service}.rpc.{method}`: one of the two, and publishable.
fn subject_of(path: &str, raw: &RawTask) -> Result<String, ConfigError> {
    let subject = match (&raw.subject, &raw.service, &raw.method) {
        (Some(s), None, None) => s.clone(),
        (None, Some(svc), Some(m)) if raw.async_call == Some(true) => {
            cliffload_protocol::subject::async_call(raw.namespace.as_deref(), svc, m)
        }
        (None, Some(svc), Some(m)) => {
            cliffload_protocol::subject::rpc(raw.namespace.as_deref(), svc, m)
        }
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
    let name = raw.name.as_deref().or(raw.method.as_deref()).unwrap_or("");
    // A templated subject is checked with its fields as plain tokens.
    validate_subject(
        &format!("{path}.subject"),
        name,
        &workload::subject_shape(&subject),
    )?;
    Ok(subject)
}

/// `timeout`: with a unit, above 0 and at most an hour (default 5 s).
fn timeout_of(path: &str, raw: Option<&RawDuration>) -> Result<Duration, ConfigError> {
    let timeout = match raw {
        None => DEFAULT_TIMEOUT,
        Some(d) => duration(&format!("{path}.timeout"), d, BareNumber::Refused)?,
    };
    if timeout.is_zero() || timeout > Duration::from_secs(3600) {
        return Err(invalid(
            format!("{path}.timeout"),
            format!("must be in (0, 1h], got {}", crate::human_duration(timeout)),
        ));
    }
    Ok(timeout)
}

/// The bodies: a fixed `payload` (under `arg` when given), generated
/// models, or `{}`.
fn payload_of(
    path: &str,
    raw: &RawTask,
    payload_sizes: Option<&[usize]>,
    ctx: &Ctx,
) -> Result<Payload, ConfigError> {
    Ok(match (&raw.payload, &raw.generate) {
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
    })
}

/// The share of bodies with an injected error: none for a fixed body, and
/// refused for a model that takes none.
fn injected_share(path: &str, payload: &Payload, error_rate: f64) -> Result<f64, ConfigError> {
    match payload {
        Payload::Static(_) | Payload::Template(_) => Ok(0.0),
        Payload::Generated { models, .. }
            if error_rate > 0.0 && models.iter().any(|m| m.inject_kinds().is_empty()) =>
        {
            Err(invalid(
                format!("{path}.error_rate"),
                "this model takes no injected errors; set error_rate: 0",
            ))
        }
        Payload::Generated { .. } => Ok(error_rate),
    }
}

pub(super) fn reply_expect(path: &str, raw: &RawTask) -> Result<ReplyExpect, ConfigError> {
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

pub(super) fn models(
    path: &str,
    g: &RawGenerate,
    payload_sizes: Option<&[usize]>,
    ctx: &Ctx,
) -> Result<Vec<ModelSpec>, ConfigError> {
    // One sub-pool per listed count: each equally often.
    if let Some(RawCount::OneOf(o)) = &g.count {
        return one_of(path, g, &o.one_of, payload_sizes, ctx);
    }
    let counts = Counts { path, g, ctx };
    let metadata_kb = metadata_kb_of(path, g, ctx)?;
    Ok(match g.model.as_str() {
        "order" => vec![ModelSpec::Order {
            items: g
                .count
                .as_ref()
                .map(|_| counts.of((1, 8), 100))
                .transpose()?,
        }],
        "order_batch" => vec![ModelSpec::OrderBatch {
            orders: counts.of(ModelSpec::DEFAULT_ORDERS, 100)?,
        }],
        "customer" => vec![ModelSpec::Customer],
        "product" => vec![ModelSpec::Product],
        "analytics_event" => vec![ModelSpec::AnalyticsEvent],
        "analytics_batch" => vec![ModelSpec::AnalyticsBatch {
            events: counts.of(ModelSpec::DEFAULT_EVENTS, 10_000)?,
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
                    items: counts.of(ModelSpec::DEFAULT_BATCH_ITEMS, 10_000)?,
                    metadata_kb: kb,
                }],
            }
        }
        "validation_error_test" => vec![ModelSpec::ValidationErrorTest],
        other => return Err(unknown_model(path, other)),
    })
}

/// `count: {one_of: [...]}`: the models of each count, one sub-pool each.
fn one_of(
    path: &str,
    g: &RawGenerate,
    counts: &[i64],
    payload_sizes: Option<&[usize]>,
    ctx: &Ctx,
) -> Result<Vec<ModelSpec>, ConfigError> {
    if counts.is_empty() {
        return Err(invalid(
            format!("{path}.count.one_of"),
            "must list at least one count",
        ));
    }
    let mut out = Vec::new();
    for n in counts {
        let single = RawGenerate {
            count: Some(RawCount::One(*n)),
            ..g.clone()
        };
        out.extend(models(path, &single, payload_sizes, ctx)?);
    }
    Ok(out)
}

/// A generate's `count`, read for one model.
struct Counts<'a> {
    path: &'a str,
    g: &'a RawGenerate,
    ctx: &'a Ctx,
}

impl Counts<'_> {
    /// The count as `(min, max)`: `default` when none is given, at most `max`.
    fn of(&self, default: (usize, usize), max: i64) -> Result<(usize, usize), ConfigError> {
        let cpath = format!("{}.count", self.path);
        match &self.g.count {
            None => Ok(default),
            Some(RawCount::One(n)) => count(&cpath, *n, max).map(|n| (n, n)),
            Some(RawCount::Range(v)) => range(&cpath, v, max),
            Some(RawCount::Named(n)) => self.ctx.batch_sizes.get(n).copied().ok_or_else(|| {
                let known: Vec<&str> = self.ctx.batch_sizes.keys().map(String::as_str).collect();
                invalid(&cpath, format!("{n:?} is not a size; one of {} (data_generation.analytics_batch_sizes) or a number or [min, max]", known.join(", ")))
            }),
            // Expanded by `one_of` before counts are read.
            Some(RawCount::OneOf(_)) => Err(invalid(&cpath, "one_of cannot be nested")),
        }
    }
}

/// `metadata_kb` of a batch request: the generate's own, or the file's.
fn metadata_kb_of(path: &str, g: &RawGenerate, ctx: &Ctx) -> Result<(usize, usize), ConfigError> {
    let kpath = format!("{path}.metadata_kb");
    match &g.metadata_kb {
        None => Ok(ctx.metadata_kb),
        Some(RawCount::One(n)) => count(&kpath, *n, 1024).map(|n| (n, n)),
        Some(RawCount::Range(v)) => range(&kpath, v, 1024),
        Some(RawCount::Named(_) | RawCount::OneOf(_)) => {
            Err(invalid(kpath, "give KB as a number or [min, max]"))
        }
    }
}

/// A model name that is none of [`ModelSpec::NAMES`], with the closest.
fn unknown_model(path: &str, name: &str) -> ConfigError {
    let hint = closest(name, ModelSpec::NAMES)
        .map(|c| format!("; did you mean {c:?}?"))
        .unwrap_or_default();
    invalid(
        format!("{path}.model"),
        format!(
            "unknown model {name:?}{hint}; one of {}",
            ModelSpec::NAMES.join(", ")
        ),
    )
}

/// The longest subject a task may have, in bytes. A server refuses a
/// protocol line longer than its `max_control_line` (4096 bytes by default)
/// and a request's line holds more than the subject: `HPUB subject reply
/// header-size total-size\r\n`, with an inbox reply of up to ~52 bytes, so
/// 4000 leaves room. Past it the request never reaches a service and the run
/// reports time-outs (issue 26).
const MAX_SUBJECT_BYTES: usize = 4000;

/// A publishable NATS subject of task `task`: non-empty tokens, no
/// wildcards, no whitespace or control characters, at most
/// [`MAX_SUBJECT_BYTES`].
pub(super) fn validate_subject(path: &str, task: &str, subject: &str) -> Result<(), ConfigError> {
    if subject.len() > MAX_SUBJECT_BYTES {
        let start: String = subject.chars().take(32).collect();
        return Err(invalid(
            path,
            format!(
                "task {task:?}: the subject ({start:?}…) is {} bytes; NATS servers refuse a request whose line is over their max_control_line (4096 bytes by default, reply subject and sizes included): keep subjects to {MAX_SUBJECT_BYTES} bytes at most",
                subject.len()
            ),
        ));
    }
    let bad = subject.is_empty()
        || subject
            .split('.')
            .any(|t| t.is_empty() || t == "*" || t == ">")
        || subject.chars().any(|c| c.is_whitespace() || c.is_control());
    if bad {
        return Err(invalid(
            path,
            format!(
                "task {task:?}: {subject:?} is not a subject to publish to: dot-separated non-empty tokens, no spaces, control characters or wildcards (e.g. test.rpc.echo)"
            ),
        ));
    }
    Ok(())
}

//! One task: its subject, payload models, timeout and reply checks.

use std::time::Duration;

use cliffload_payloads::ModelSpec;

use super::*;
use crate::error::closest;
use crate::{
    ConfigError, DEFAULT_TIMEOUT, ExpectStatus, Payload, Protocol, ReplyExpect, RequestSpec, Task,
};

pub(super) fn task(
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
pub(super) fn validate_subject(path: &str, subject: &str) -> Result<(), ConfigError> {
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

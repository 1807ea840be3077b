//! A task's way of sending (`send`, `async`, `observe`) and the scenario's
//! `jetstream:` section.

use cliffload_protocol::{MatchBy, Observe, SendMode, headers};

use super::*;
use crate::{ConsumerRef, JetStreamSpec, StreamSpec};

/// How a task sends, and where its effect is observed, checked together:
/// an async call is a publish, an observed message is a publish (core or
/// JetStream), and a message nobody answers has no reply to check.
pub(super) fn send_of(
    path: &str,
    raw: &RawTask,
) -> Result<(SendMode, Option<Observe>), ConfigError> {
    let is_async = raw.async_call == Some(true);
    let send = match (raw.send, is_async) {
        (Some(SendMode::Request), true) => {
            return Err(invalid(
                format!("{path}.send"),
                "an async call is never answered: leave send out (it is a publish) or drop async",
            ));
        }
        (Some(s), _) => s,
        (None, true) => SendMode::Publish,
        (None, false) => SendMode::Request,
    };
    if is_async && (raw.service.is_none() || raw.method.is_none()) {
        return Err(invalid(
            format!("{path}.async"),
            "needs service and method (the call goes to {service}.async.{method})",
        ));
    }
    let observe = match &raw.observe {
        None => None,
        Some(_) if send == SendMode::Request => {
            return Err(invalid(
                format!("{path}.observe"),
                "times a published message to its effect: add send: publish (or jetstream, or async: true)",
            ));
        }
        Some(o) => Some(observe_of(&format!("{path}.observe"), o)?),
    };
    if send != SendMode::Request && (raw.expect.is_some() || raw.save.is_some()) {
        let key = if raw.expect.is_some() {
            "expect"
        } else {
            "save"
        };
        return Err(invalid(
            format!("{path}.{key}"),
            format!(
                "a {} has no reply to check or save from; remove {key}",
                send.name()
            ),
        ));
    }
    Ok((send, observe))
}

/// A subject to subscribe to at `path`: dot-separated non-empty tokens, no
/// spaces (wildcards allowed); trimmed.
fn subscribable(path: &str, subject: &str) -> Result<String, ConfigError> {
    let trimmed = subject.trim();
    let bad = trimmed.is_empty()
        || trimmed.split('.').any(str::is_empty)
        || trimmed.chars().any(|c| c.is_whitespace() || c.is_control());
    if bad {
        return Err(invalid(
            path.to_owned(),
            format!(
                "{subject:?} is not a subject to subscribe to: dot-separated non-empty tokens, no spaces (wildcards * and > allowed), e.g. order.processed"
            ),
        ));
    }
    Ok(trimmed.to_owned())
}

/// `observe: {subject, match, dead_letter}`: a subject to subscribe to
/// (wildcards allowed), where the effect carries the correlation id, and
/// where the service sends what it refuses (matched the same way).
fn observe_of(path: &str, raw: &RawObserve) -> Result<Observe, ConfigError> {
    let subject = subscribable(&format!("{path}.subject"), &raw.subject)?;
    let dead_letter = match &raw.dead_letter {
        None => None,
        Some(d) => {
            let d = subscribable(&format!("{path}.dead_letter"), d)?;
            if overlap(&d, &subject) {
                return Err(invalid(
                    format!("{path}.dead_letter"),
                    format!(
                        "{d} shares messages with the effect's subject ({subject}): a dead letter must be told from an effect; name the subject the service dead-letters to (Cliffracer's dlq.SERVICE)"
                    ),
                ));
            }
            Some(d)
        }
    };
    let by = match &raw.by {
        None => MatchBy::Header(headers::CORRELATION_ID.to_owned()),
        Some(RawMatch::Header(h)) if valid_header(h) => MatchBy::Header(h.clone()),
        Some(RawMatch::Header(h)) => {
            return Err(invalid(
                format!("{path}.match.header"),
                format!(
                    "{h:?} is not a header name (letters, digits and - only, e.g. X-Correlation-ID)"
                ),
            ));
        }
        Some(RawMatch::Json(p)) if !p.is_empty() && !p.split('.').any(str::is_empty) => {
            MatchBy::Json(p.clone())
        }
        Some(RawMatch::Json(p)) => {
            return Err(invalid(
                format!("{path}.match.json"),
                format!(
                    "{p:?} is not a dot path into the effect's JSON (e.g. correlation_id or data.id)"
                ),
            ));
        }
    };
    Ok(Observe {
        subject,
        by,
        dead_letter,
    })
}

/// Whether one message could match both subject patterns (`*` one token,
/// `>` the rest).
fn overlap(a: &str, b: &str) -> bool {
    let (mut a, mut b) = (a.split('.'), b.split('.'));
    loop {
        match (a.next(), b.next()) {
            (None, None) => return true,
            (Some(">"), Some(_)) | (Some(_), Some(">")) => return true,
            (Some(x), Some(y)) if x == y || x == "*" || y == "*" => {}
            _ => return false,
        }
    }
}

/// An observed task injects errors only when it says where the service
/// dead-letters them: otherwise each would count as lost.
pub(super) fn check_injected(
    path: &str,
    observe: Option<&Observe>,
    error_rate: f64,
) -> Result<(), ConfigError> {
    let undeliverable = observe.is_some_and(|o| o.dead_letter.is_none());
    if undeliverable && error_rate > 0.0 {
        return Err(invalid(
            format!("{path}.error_rate"),
            format!(
                "an observed message with an injected error has no effect (a service dead-letters it), so it would count as lost: name where the service dead-letters it (observe: {{dead_letter: dlq.SERVICE}}, Cliffracer's subject), or set error_rate: 0 on this task (the scenario's is {error_rate})"
            ),
        ));
    }
    Ok(())
}

fn valid_header(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `jetstream:`: streams to create (names and subjects checked, no name
/// twice) and consumers to watch, which `expectations.max_consumer_lag`
/// (`lag_bound`) needs.
pub(super) fn jetstream_of(
    name: &str,
    raw: Option<&RawJetStream>,
    lag_bound: Option<u64>,
    errors: &mut Vec<ConfigError>,
) -> JetStreamSpec {
    let spec = raw.map_or_else(JetStreamSpec::default, |raw| spec_of(name, raw, errors));
    keep(check_lag_bound(name, lag_bound, &spec), errors);
    spec
}

fn spec_of(name: &str, raw: &RawJetStream, errors: &mut Vec<ConfigError>) -> JetStreamSpec {
    let path = format!("scenarios.{name}.jetstream");
    let mut spec = JetStreamSpec::default();
    for (i, s) in raw.streams.iter().flatten().enumerate() {
        if let Some(stream) = keep(stream_of(&format!("{path}.streams[{i}]"), s), errors) {
            if spec.streams.iter().any(|o| o.name == stream.name) {
                errors.push(invalid(
                    format!("{path}.streams[{i}].name"),
                    format!("stream {:?} is listed twice", stream.name),
                ));
            }
            spec.streams.push(stream);
        }
    }
    for (i, c) in raw.consumers.iter().flatten().enumerate() {
        let at = format!("{path}.consumers[{i}]");
        for (key, value) in [("stream", &c.stream), ("name", &c.name)] {
            if !valid_js_name(value) {
                errors.push(js_name_error(&format!("{at}.{key}"), value));
            }
        }
        spec.consumers.push(ConsumerRef {
            stream: c.stream.clone(),
            name: c.name.clone(),
        });
    }
    spec
}

fn stream_of(path: &str, raw: &RawStream) -> Result<StreamSpec, ConfigError> {
    if !valid_js_name(&raw.name) {
        return Err(js_name_error(&format!("{path}.name"), &raw.name));
    }
    if raw.subjects.is_empty() {
        return Err(invalid(
            format!("{path}.subjects"),
            "needs at least one subject (e.g. [events.>])",
        ));
    }
    for (i, s) in raw.subjects.iter().enumerate() {
        subscribable(&format!("{path}.subjects[{i}]"), s)?;
    }
    let max_msgs = match raw.max_msgs {
        None => None,
        Some(n) if n > 0 => Some(n.unsigned_abs()),
        Some(n) => {
            return Err(invalid(
                format!("{path}.max_msgs"),
                format!("must be at least 1, got {n}"),
            ));
        }
    };
    let duplicate_window = match &raw.duplicate_window {
        None => None,
        Some(d) => Some(duration(
            &format!("{path}.duplicate_window"),
            d,
            BareNumber::Refused,
        )?),
    };
    Ok(StreamSpec {
        name: raw.name.clone(),
        subjects: raw.subjects.clone(),
        storage: raw.storage.unwrap_or_default(),
        max_msgs,
        duplicate_window,
    })
}

/// A stream or consumer name as the server takes it: no spaces, dots,
/// wildcards or path separators.
fn valid_js_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || ".*>/\\".contains(c))
}

fn js_name_error(path: &str, name: &str) -> ConfigError {
    invalid(
        path,
        format!(
            "{name:?} is not a stream or consumer name: no spaces, dots, *, >, / or \\ (e.g. ORDERS)"
        ),
    )
}

/// `expectations.max_consumer_lag` needs a consumer to watch.
fn check_lag_bound(
    name: &str,
    bound: Option<u64>,
    spec: &JetStreamSpec,
) -> Result<(), ConfigError> {
    if bound.is_some() && spec.consumers.is_empty() {
        return Err(invalid(
            format!("scenarios.{name}.expectations.max_consumer_lag"),
            "judges the consumers the scenario watches: add jetstream: {consumers: [{stream: ORDERS, name: order_processor}]}",
        ));
    }
    Ok(())
}

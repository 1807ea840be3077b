//! One smoke call per task before any load: a subject nobody
//! serves, or a reply that is not what the task expects, stops the run here
//! with a message that names the subject and what came back. The original
//! suite (subjects without `.rpc.`, flat payloads) would have stopped here.

use std::time::{Duration, Instant};

use async_nats::{Client, RequestErrorKind};
use cliffload_engine::{Payload, Plan};
use cliffload_metrics::Outcome;
use cliffload_protocol::{PreflightMode, SendMode};
use cliffload_protocol::{ReplyKind, subject};

use crate::error::NatsError;
use crate::transport::{Target, request_once};

/// The smoke call of one task.
#[derive(Debug, Clone)]
pub struct PreflightReport {
    /// Task name.
    pub task: String,
    /// What the reply meant.
    pub outcome: Outcome,
    /// Round trip.
    pub latency: Duration,
}

/// A smoke call's problem that `--preflight warn` let through (also sent
/// by a distributed worker to its coordinator).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tolerated {
    /// Task name.
    pub task: String,
    /// Its subject.
    pub subject: String,
    /// What came back and what to do.
    pub problem: String,
}

/// What the smoke calls found: a row per task that answered, and, under
/// [`PreflightMode::Warn`], what would have stopped the run.
#[derive(Debug, Clone, Default)]
pub struct Preflight {
    /// One per task whose call was judged (not under `off`).
    pub reports: Vec<PreflightReport>,
    /// Problems let through by `warn`.
    pub tolerated: Vec<Tolerated>,
}

/// Tries a strict preflight gives a task whose service errs or times out.
const TRIES: usize = 3;

/// Sends each task's first valid payload and checks the reply, as `mode` says.
///
/// # Errors
/// [`NatsError::Preflight`], naming the first task whose call shows the run
/// would measure nothing useful (under [`PreflightMode::Strict`]).
pub async fn preflight(
    client: &Client,
    plan: &Plan,
    targets: &[Target],
    mode: PreflightMode,
) -> Result<Preflight, NatsError> {
    let mut out = Preflight::default();
    if mode == PreflightMode::Off {
        return Ok(out);
    }
    for (task, target) in plan.tasks.iter().zip(targets) {
        // A step that sends saved values (or uses up a unique row) is not
        // smoke-tested: its values do not exist yet.
        if task.no_smoke.is_some() {
            continue;
        }
        // Prefer a valid payload: the smoke call checks the service, not injection.
        let payload = task
            .payloads
            .iter()
            .find(|p| p.injected.is_none())
            .unwrap_or(&task.payloads[0]);
        let tries = if mode == PreflightMode::Strict {
            TRIES
        } else {
            1
        };
        let mut attempt = 1;
        let problem = loop {
            match check(client, target, payload).await {
                Ok(report) => break Ok(report),
                Err(p) if p.transient && attempt < tries => attempt += 1,
                Err(p) => break Err((p, attempt)),
            }
        };
        match problem {
            Ok(report) => out.reports.push(report),
            Err((p, _)) if mode == PreflightMode::Warn => out.tolerated.push(Tolerated {
                task: target.name.clone(),
                subject: target.subject.to_string(),
                problem: p.text,
            }),
            Err((p, attempts)) => {
                let retried = if attempts > 1 {
                    format!(" (in each of {attempts} tries)")
                } else {
                    String::new()
                };
                let hint = if p.transient {
                    "; if it fails now and then by design, pass --preflight warn (or set preflight: warn)"
                } else {
                    ""
                };
                return Err(NatsError::Preflight {
                    task: target.name.clone(),
                    subject: target.subject.to_string(),
                    problem: format!("{}{retried}{hint}", p.text),
                });
            }
        }
    }
    Ok(out)
}

/// A problem with one smoke call.
struct Problem {
    text: String,
    /// A service error or a timeout: another try may pass.
    transient: bool,
}

/// A problem whose text holds what the service sent (a reply's bytes, its
/// error), so its control characters are made visible: it is printed on
/// the terminal and kept in the results' warnings.
fn problem(text: String, transient: bool) -> Problem {
    Problem {
        text: cliffload_metrics::visible(&text).into_owned(),
        transient,
    }
}

/// One smoke call and what its reply means.
async fn check(
    client: &Client,
    target: &Target,
    payload: &Payload,
) -> Result<PreflightReport, Problem> {
    if target.send != SendMode::Request {
        return check_message(client, target, payload).await;
    }
    let sent = Instant::now();
    let reply = request_once(client, target, payload).await;
    let latency = sent.elapsed();
    let msg = match reply {
        Ok(msg) => msg,
        Err(e) => {
            return Err(match e.kind() {
                RequestErrorKind::NoResponders => problem(
                    no_responders_hint(target.subject.as_str(), target.rules.protocol),
                    false,
                ),
                RequestErrorKind::TimedOut => problem(
                    format!(
                        "no reply within {:?}: the service is subscribed but did not answer (overloaded, or not a request/reply handler); raise the task's timeout or check the service",
                        target.timeout
                    ),
                    true,
                ),
                _ => problem(format!("the request failed: {e}"), false),
            });
        }
    };
    let kind = target.reply_kind(&msg);
    let excerpt = || excerpt(&msg.payload);
    match &kind {
        ReplyKind::Success | ReplyKind::BusinessRefused => {}
        ReplyKind::Unrecognised(why) => {
            return Err(problem(
                format!(
                    "the reply is not a Cliffracer envelope ({why}); got {}. If this service is not Cliffracer, set `protocol: raw` (any reply counts as success) or `protocol: micro` on the task",
                    excerpt()
                ),
                false,
            ));
        }
        ReplyKind::ValidationRefused
            if payload.injected.is_none() && !target.rules.expect_rejected =>
        {
            return Err(problem(
                format!(
                    "the service refused the payload as invalid: {}. A Cliffracer body is an object of the handler's keyword arguments, e.g. {{\"order\": {{...}}}}, not the bare fields (or mark the task expect: {{status: rejected}} if that is the point)",
                    excerpt()
                ),
                false,
            ));
        }
        ReplyKind::ValidationRefused => {}
        ReplyKind::ServiceError => {
            return Err(problem(
                format!("the service answered with an error: {}", excerpt()),
                true,
            ));
        }
    }
    let reply = target.reply(&msg, payload.injected);
    if reply.outcome == Outcome::CheckFailed {
        return Err(problem(
            format!(
                "the reply fails the task's checks ({}); got {}",
                reply.detail.unwrap_or_default(),
                excerpt()
            ),
            false,
        ));
    }
    Ok(PreflightReport {
        task: target.name.clone(),
        outcome: reply.outcome,
        latency,
    })
}

/// The smoke call of a task that publishes: a JetStream publish must be
/// stored (or deduplicated), and an observed message's effect must come
/// back with its correlation id. A bare core publish has nothing to check.
async fn check_message(
    client: &Client,
    target: &Target,
    payload: &Payload,
) -> Result<PreflightReport, Problem> {
    let sent = Instant::now();
    let watch = match &target.observe {
        Some(o) => Some(
            crate::effects::Watch::start(client, &o.subject, &o.by)
                .await
                .map_err(|e| problem(e.to_string(), false))?,
        ),
        None => None,
    };
    let id = watch.as_ref().map(|w| w.id.clone());
    let mut reply = crate::transport::publish_once(client, target, payload, id.as_deref()).await;
    if let (Some(w), Outcome::Ok) = (watch, reply.outcome) {
        let left = target.timeout.saturating_sub(sent.elapsed());
        if !w.seen_within(left).await {
            let (subject, by) = target
                .observe
                .as_ref()
                .map(|o| (o.subject.as_str(), &o.by))
                .unzip();
            return Err(problem(
                format!(
                    "no effect on {} within {:?}: is the listener running on this server, and does its effect carry the message's {}? (raise the task's timeout if it is only slow)",
                    subject.unwrap_or_default(),
                    target.timeout,
                    by.map_or_else(String::new, crate::effects::describe)
                ),
                true,
            ));
        }
        reply.outcome = Outcome::Ok;
    }
    match reply.outcome {
        Outcome::Ok | Outcome::Deduplicated => Ok(PreflightReport {
            task: target.name.clone(),
            outcome: reply.outcome,
            latency: sent.elapsed(),
        }),
        o => Err(problem(
            reply.detail.unwrap_or_else(|| o.name().to_owned()),
            matches!(o, Outcome::Timeout | Outcome::ServiceError),
        )),
    }
}

fn no_responders_hint(subj: &str, protocol: cliffload_protocol::Protocol) -> String {
    let mut msg = "no responders: nothing subscribes to this subject".to_owned();
    if protocol == cliffload_protocol::Protocol::Micro {
        // Cliffracer's naming means nothing to a micro service.
        msg.push_str(". Is the service running and connected to this NATS server? `nats micro info SERVICE` lists its endpoints' subjects");
    } else if protocol == cliffload_protocol::Protocol::Cliffracer && !subject::looks_like_rpc(subj)
    {
        let (svc, method) = subj.rsplit_once('.').unwrap_or(("SERVICE", subj));
        msg.push_str(&format!(
            ". Cliffracer services listen on {{service}}.rpc.{{method}}; did you mean {:?}?",
            format!("{svc}.rpc.{method}")
        ));
    } else {
        msg.push_str(". Is the service running and connected to this NATS server?");
    }
    msg
}

fn excerpt(body: &[u8]) -> String {
    const MAX: usize = 400;
    if body.is_empty() {
        return "an empty body".to_owned();
    }
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX)]);
    let more = if body.len() > MAX {
        format!(" … ({} bytes)", body.len())
    } else {
        String::new()
    };
    format!("{text}{more}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_rpc_token_gets_a_suggestion() {
        use cliffload_protocol::Protocol;
        let m = no_responders_hint(
            "order_processing_service.process_order",
            Protocol::Cliffracer,
        );
        assert!(
            m.contains("\"order_processing_service.rpc.process_order\""),
            "{m}"
        );
        let m = no_responders_hint("test.rpc.ping", Protocol::Cliffracer);
        assert!(!m.contains("did you mean"), "{m}");
        // Issue 27: a micro or raw task gets no Cliffracer advice.
        for p in [Protocol::Micro, Protocol::Raw] {
            let m = no_responders_hint("inventory.lookup", p);
            assert!(!m.contains(".rpc.") && !m.contains("Cliffracer"), "{m}");
        }
        assert!(no_responders_hint("inventory.lookup", Protocol::Micro).contains("nats micro"));
    }

    #[test]
    fn a_reply_that_writes_escape_sequences_is_shown_escaped() {
        // Issue 26: a reply that retitles and clears the terminal.
        let got = excerpt(b"\x1b]0;pwned\x07\x1b[2J");
        let p = problem(format!("the reply is not an envelope; got {got}"), false);
        assert_eq!(
            p.text,
            "the reply is not an envelope; got \\u{1b}]0;pwned\\u{7}\\u{1b}[2J"
        );
    }

    #[test]
    fn excerpts_are_bounded() {
        let long = vec![b'x'; 5000];
        assert!(excerpt(&long).ends_with("(5000 bytes)"));
        assert_eq!(excerpt(b""), "an empty body");
    }
}

//! Events timed end to end: each published message carries a unique
//! correlation id, one subscription per observed subject (per worker)
//! watches for effects, and an effect is matched to its cause by that id.
//! A task may also watch where the service dead-letters what it refuses:
//! a dead letter for a message with an injected error is the correct
//! refusal, for a valid one a failure, as an effect of an injected one is.
//!
//! Ids are `cl-{unique}-{n}` where `{unique}` is new per worker connection,
//! so a worker recognises its own effects and ignores every other worker's
//! (effects on a core subject reach every subscriber, in every process).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use async_nats::{Client, Message, Subject};
use cliffload_engine::Reply;
use cliffload_metrics::Outcome;
use cliffload_protocol::{MatchBy, Observe};
use futures_util::StreamExt;
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::error::NatsError;

/// How long an effect already seen (or given up on) is remembered, so a
/// second one is known as a duplicate (or a late one ignored): at least
/// this, and at least twice the longest task timeout.
const REMEMBER_AT_LEAST: Duration = Duration::from_secs(10);

/// What came back for a cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arrival {
    /// Its effect, on the observed subject.
    Effect,
    /// Its dead letter, on the subject the service dead-letters to.
    DeadLetter,
}

/// A subscription of the matcher: a subject, where its messages carry the
/// id, and what a message on it is.
type Watched = (String, MatchBy, Arrival);

/// The subscriptions (by number) whose messages count for a task: its
/// effect's and its dead letters'. A message on another task's subject
/// that carries this task's id is not this task's effect.
#[derive(Clone, Copy, Default)]
struct Accepts {
    effect: Option<usize>,
    dead_letter: Option<usize>,
}

impl Accepts {
    fn has(self, subscription: usize) -> bool {
        self.effect == Some(subscription) || self.dead_letter == Some(subscription)
    }
}

/// The subscriptions that `observes` (each task's, by task number) need,
/// each once, and what each task accepts of them.
fn subscriptions(observes: &[Option<&Observe>]) -> (Vec<Watched>, Vec<Accepts>) {
    let mut subs: Vec<Watched> = Vec::new();
    let mut number = |w: Watched| match subs.iter().position(|s| *s == w) {
        Some(i) => i,
        None => {
            subs.push(w);
            subs.len() - 1
        }
    };
    let accepts = observes
        .iter()
        .map(|o| match o {
            None => Accepts::default(),
            Some(o) => Accepts {
                effect: Some(number((o.subject.clone(), o.by.clone(), Arrival::Effect))),
                dead_letter: o
                    .dead_letter
                    .as_ref()
                    .map(|d| number((d.clone(), o.by.clone(), Arrival::DeadLetter))),
            },
        })
        .collect();
    (subs, accepts)
}

/// A cause waiting for its effect.
struct Waiting {
    task: usize,
    sent: Instant,
    tx: oneshot::Sender<Arrival>,
}

/// A cause whose wait is over: its effect came, or it was lost.
struct Over {
    task: usize,
    sent: Instant,
    lost: bool,
}

/// One worker's causes and effects.
#[derive(Default)]
struct Book {
    /// What each task accepts, by task number.
    accepts: Vec<Accepts>,
    waiting: HashMap<u64, Waiting>,
    over: HashMap<u64, Over>,
    /// Duplicates not yet handed to the engine: task, latency from the cause.
    duplicates: Vec<(usize, Duration)>,
    /// Effects that came after their cause was counted lost.
    late: u64,
}

impl Book {
    /// The task of cause `n`, while it is waited for or remembered.
    fn task_of(&self, n: u64) -> Option<usize> {
        self.waiting
            .get(&n)
            .map(|w| w.task)
            .or_else(|| self.over.get(&n).map(|o| o.task))
    }
}

/// One worker's effect matcher: the subscriptions' tasks feed it, the
/// transport's calls wait on it.
pub(crate) struct Effects {
    prefix: String,
    next: std::cell::Cell<u64>,
    book: Rc<RefCell<Book>>,
    remember: Duration,
    readers: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Effects {
    fn drop(&mut self) {
        for r in &self.readers {
            r.abort();
        }
    }
}

impl Effects {
    /// Subscribes on `client` to what each task observes (`observes`, by
    /// task number: its effect's subject and its dead letters', each subject
    /// once) and starts reading them on the worker's own runtime (a
    /// `LocalSet`). `longest` is the longest timeout of an observed task.
    pub(crate) async fn start(
        client: &Client,
        observes: &[Option<&Observe>],
        longest: Duration,
    ) -> Result<Self, NatsError> {
        let unique = client.new_inbox();
        let unique = unique.rsplit('.').next().unwrap_or_default();
        let (observed, accepts) = subscriptions(observes);
        let book = Rc::new(RefCell::new(Book {
            accepts,
            ..Book::default()
        }));
        let prefix = format!("cl-{unique}-");
        let mut readers = Vec::new();
        for (number, (subject, by, arrival)) in observed.iter().enumerate() {
            let sub = client
                .subscribe(Subject::from(subject.as_str()))
                .await
                .map_err(|e| NatsError::Subscribe {
                    subject: subject.clone(),
                    error: e.to_string(),
                })?;
            let (book, prefix, by) = (book.clone(), prefix.clone(), by.clone());
            let from = Source {
                number,
                arrival: *arrival,
            };
            readers.push(tokio::task::spawn_local(read_effects(
                sub, book, prefix, by, from,
            )));
        }
        // The subscriptions are in place before the first cause is sent.
        client.flush().await.map_err(|e| NatsError::Subscribe {
            subject: observed.first().map(|o| o.0.clone()).unwrap_or_default(),
            error: e.to_string(),
        })?;
        Ok(Self {
            prefix,
            next: std::cell::Cell::new(0),
            book,
            remember: (longest * 2).max(REMEMBER_AT_LEAST),
            readers,
        })
    }

    /// A new cause of task `task`, sent at `sent`: its correlation id, and what to await.
    pub(crate) fn expect(&self, task: usize, sent: Instant) -> (String, Cause) {
        let n = self.next.get();
        self.next.set(n + 1);
        let (tx, rx) = oneshot::channel();
        self.book
            .borrow_mut()
            .waiting
            .insert(n, Waiting { task, sent, tx });
        (format!("{}{n}", self.prefix), Cause { n, rx })
    }

    /// Waits for `cause`'s effect or dead letter (`left` of the task's
    /// `timeout`, which the text names) and judges it: its message carried
    /// `injected`, and the task observes `observed`.
    pub(crate) async fn wait(
        &self,
        cause: Cause,
        (left, timeout): (Duration, Duration),
        observed: &Observe,
        injected: Option<&str>,
    ) -> Reply {
        let Cause { n, rx } = cause;
        match tokio::time::timeout(left, rx).await {
            Ok(Ok(arrival)) => judge(arrival, injected, observed),
            _ => {
                self.give_up(n);
                let letter = observed
                    .dead_letter
                    .as_ref()
                    .map_or_else(String::new, |d| format!(" nor a dead letter on {d}"));
                Reply::with_detail(
                    Outcome::Lost,
                    format!(
                        "no effect on {}{letter} within {timeout:?}",
                        observed.subject
                    ),
                )
            }
        }
    }

    /// The cause `n` will not be waited for (its publish failed, or it timed out).
    pub(crate) fn give_up(&self, n: u64) {
        let mut book = self.book.borrow_mut();
        if let Some(w) = book.waiting.remove(&n) {
            book.over.insert(
                n,
                Over {
                    task: w.task,
                    sent: w.sent,
                    lost: true,
                },
            );
        }
    }

    /// Hands over the duplicates seen since the last call, and forgets
    /// causes older than the memory.
    pub(crate) fn take_duplicates(&self, take: &mut dyn FnMut(usize, Reply, Duration)) {
        let mut book = self.book.borrow_mut();
        for (task, latency) in book.duplicates.drain(..) {
            take(
                task,
                Reply::with_detail(
                    Outcome::Duplicate,
                    "the effect came again for an event whose effect was already seen",
                ),
                latency,
            );
        }
        let horizon = Instant::now().checked_sub(self.remember);
        if let Some(h) = horizon {
            book.over.retain(|_, o| o.sent >= h);
        }
    }
}

/// A cause's number and where its effect's arrival is told.
pub(crate) struct Cause {
    pub(crate) n: u64,
    rx: oneshot::Receiver<Arrival>,
}

/// The outcome of a cause whose `arrival` came, its message having carried
/// `injected`: an effect of a valid message and a dead letter of an
/// injected one are what the service should do.
fn judge(arrival: Arrival, injected: Option<&str>, observed: &Observe) -> Reply {
    let letters = observed.dead_letter.as_deref().unwrap_or_default();
    match (arrival, injected) {
        (Arrival::Effect, None) => Reply::from(Outcome::Ok),
        (Arrival::Effect, Some(kind)) => Reply::with_detail(
            Outcome::UnexpectedAccept,
            format!(
                "the effect came on {} for a message with an injected error ({kind}): it should have been dead-lettered on {letters}",
                observed.subject
            ),
        ),
        (Arrival::DeadLetter, Some(kind)) => Reply::with_detail(
            Outcome::RejectedExpected,
            format!(
                "dead-lettered on {letters}, as a message with an injected error ({kind}) should be"
            ),
        ),
        (Arrival::DeadLetter, None) => Reply::with_detail(
            Outcome::ValidationFailed,
            format!("a valid message was dead-lettered on {letters}"),
        ),
    }
}

/// A subscription of the matcher: its number and what comes on it.
#[derive(Clone, Copy)]
struct Source {
    number: usize,
    arrival: Arrival,
}

/// Reads one subscription's effects (or dead letters) into the book until
/// it ends.
async fn read_effects(
    mut sub: async_nats::Subscriber,
    book: Rc<RefCell<Book>>,
    prefix: String,
    by: MatchBy,
    from: Source,
) {
    while let Some(msg) = sub.next().await {
        let now = Instant::now();
        let Some(n) = cause_of(&msg, &by, &prefix) else {
            // Not ours: another worker's, another run's, or no id at all.
            continue;
        };
        let mut book = book.borrow_mut();
        let Some(task) = book.task_of(n) else {
            continue;
        };
        if !book.accepts.get(task).is_some_and(|a| a.has(from.number)) {
            // Ours, but not on a subject its task watches: another task's
            // effect or dead-letter subject (the task will not see it).
            continue;
        }
        if let Some(w) = book.waiting.remove(&n) {
            let _ = w.tx.send(from.arrival);
            book.over.insert(
                n,
                Over {
                    task: w.task,
                    sent: w.sent,
                    lost: false,
                },
            );
        } else if let Some(o) = book.over.get(&n) {
            if o.lost {
                book.late += 1;
            } else {
                let (task, latency) = (o.task, now - o.sent);
                book.duplicates.push((task, latency));
            }
        }
    }
}

/// The number of the cause `msg` is an effect of, if it is one of ours.
fn cause_of(msg: &Message, by: &MatchBy, prefix: &str) -> Option<u64> {
    match by {
        MatchBy::Header(name) => {
            let id = msg.headers.as_ref()?.get(name.as_str())?.as_str();
            number_in(id, prefix)
        }
        MatchBy::Json(path) => {
            let body: serde_json::Value = serde_json::from_slice(&msg.payload).ok()?;
            let id = path
                .split('.')
                .try_fold(&body, |v, key| match v {
                    serde_json::Value::Array(a) => a.get(key.parse::<usize>().ok()?),
                    _ => v.get(key),
                })?
                .as_str()?;
            number_in(id, prefix)
        }
    }
}

/// How an effect is matched, in words: "X-Correlation-ID header".
pub(crate) fn describe(by: &MatchBy) -> String {
    match by {
        MatchBy::Header(h) => format!("X-Correlation-ID as its {h} header"),
        MatchBy::Json(p) => format!("X-Correlation-ID at {p} in its JSON body"),
    }
}

/// One cause watched outside the load (the smoke call): its own
/// subscription, its own id.
pub(crate) struct Watch {
    /// The id to send.
    pub(crate) id: String,
    prefix: String,
    by: MatchBy,
    sub: async_nats::Subscriber,
}

impl Watch {
    /// Subscribes to `subject` (flushed, so in place before the publish).
    pub(crate) async fn start(
        client: &Client,
        subject: &str,
        by: &MatchBy,
    ) -> Result<Self, NatsError> {
        let failed = |e: String| NatsError::Subscribe {
            subject: subject.to_owned(),
            error: e,
        };
        let sub = client
            .subscribe(Subject::from(subject))
            .await
            .map_err(|e| failed(e.to_string()))?;
        client.flush().await.map_err(|e| failed(e.to_string()))?;
        let inbox = client.new_inbox();
        let prefix = format!("cl-{}-", inbox.rsplit('.').next().unwrap_or_default());
        Ok(Self {
            id: format!("{prefix}0"),
            prefix,
            by: by.clone(),
            sub,
        })
    }

    /// Whether the effect came within `timeout`.
    pub(crate) async fn seen_within(mut self, timeout: Duration) -> bool {
        let wait = async {
            while let Some(msg) = self.sub.next().await {
                if cause_of(&msg, &self.by, &self.prefix) == Some(0) {
                    return true;
                }
            }
            false
        };
        tokio::time::timeout(timeout, wait).await.unwrap_or(false)
    }
}

fn number_in(id: &str, prefix: &str) -> Option<u64> {
    id.strip_prefix(prefix)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn effect(headers: &[(&str, &str)], body: &str) -> Message {
        let mut h = async_nats::HeaderMap::new();
        for (k, v) in headers {
            h.insert(*k, *v);
        }
        Message {
            subject: "order.processed".into(),
            reply: None,
            payload: body.to_owned().into(),
            headers: Some(h),
            status: None,
            description: None,
            length: 0,
        }
    }

    #[test]
    fn an_effect_is_ours_only_with_our_prefix_and_a_number() {
        let by = MatchBy::Header("X-Correlation-ID".into());
        let p = "cl-abc-";
        assert_eq!(
            cause_of(&effect(&[("X-Correlation-ID", "cl-abc-17")], "{}"), &by, p),
            Some(17)
        );
        assert_eq!(
            cause_of(&effect(&[("X-Correlation-ID", "cl-xyz-17")], "{}"), &by, p),
            None
        );
        assert_eq!(
            cause_of(&effect(&[("X-Correlation-ID", "cl-abc-x")], "{}"), &by, p),
            None
        );
        assert_eq!(cause_of(&effect(&[], "{}"), &by, p), None);
    }

    #[test]
    fn an_effect_or_a_dead_letter_is_right_or_wrong_by_what_the_message_carried() {
        let observed = Observe {
            subject: "order.processed".into(),
            by: MatchBy::Header("X-Correlation-ID".into()),
            dead_letter: Some("dlq.orders".into()),
        };
        let judged = |arrival, injected| judge(arrival, injected, &observed);
        assert_eq!(judged(Arrival::Effect, None).outcome, Outcome::Ok);
        let accepted = judged(Arrival::Effect, Some("missing_field"));
        assert_eq!(accepted.outcome, Outcome::UnexpectedAccept);
        assert!(
            accepted.detail.as_deref().is_some_and(
                |d| d.contains("(missing_field)") && d.contains("dead-lettered on dlq.orders")
            ),
            "{accepted:?}"
        );
        let refused = judged(Arrival::DeadLetter, Some("missing_field"));
        assert_eq!(refused.outcome, Outcome::RejectedExpected);
        let wrong = judged(Arrival::DeadLetter, None);
        assert_eq!(wrong.outcome, Outcome::ValidationFailed);
        assert!(
            wrong
                .detail
                .as_deref()
                .is_some_and(|d| d.contains("valid message was dead-lettered on dlq.orders")),
            "{wrong:?}"
        );
    }

    #[test]
    fn each_subject_is_subscribed_once_and_a_task_accepts_only_its_own() {
        let by = MatchBy::Header("X-Correlation-ID".into());
        let observe = |dead_letter: Option<&str>| Observe {
            subject: "order.processed".into(),
            by: by.clone(),
            dead_letter: dead_letter.map(str::to_owned),
        };
        let (a, b) = (observe(Some("dlq.a")), observe(Some("dlq.b")));
        let c = observe(None);
        let (subs, accepts) = subscriptions(&[Some(&a), None, Some(&b), Some(&c)]);
        let subjects: Vec<(&str, Arrival)> = subs.iter().map(|s| (s.0.as_str(), s.2)).collect();
        assert_eq!(
            subjects,
            [
                ("order.processed", Arrival::Effect),
                ("dlq.a", Arrival::DeadLetter),
                ("dlq.b", Arrival::DeadLetter),
            ]
        );
        let takes = |task: usize| {
            (0..subs.len())
                .filter(|&i| accepts[task].has(i))
                .collect::<Vec<_>>()
        };
        assert_eq!(takes(0), [0, 1]);
        assert_eq!(takes(1), Vec::<usize>::new());
        assert_eq!(takes(2), [0, 2], "not task 0's dead letters");
        assert_eq!(takes(3), [0]);
    }

    #[test]
    fn a_json_path_finds_the_id_in_the_body() {
        let by = MatchBy::Json("data.ids.1".into());
        let body = r#"{"data": {"ids": ["cl-abc-1", "cl-abc-2"]}}"#;
        assert_eq!(cause_of(&effect(&[], body), &by, "cl-abc-"), Some(2));
        let by = MatchBy::Json("correlation_id".into());
        assert_eq!(cause_of(&effect(&[], "not json"), &by, "cl-abc-"), None);
        assert_eq!(
            cause_of(&effect(&[], r#"{"correlation_id": 5}"#), &by, "cl-abc-"),
            None
        );
    }
}

//! Events timed end to end: each published message carries a unique
//! correlation id, one subscription per observed subject (per worker)
//! watches for effects, and an effect is matched to its cause by that id.
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
use cliffload_protocol::MatchBy;
use futures_util::StreamExt;
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::error::NatsError;

/// How long an effect already seen (or given up on) is remembered, so a
/// second one is known as a duplicate (or a late one ignored): at least
/// this, and at least twice the longest task timeout.
const REMEMBER_AT_LEAST: Duration = Duration::from_secs(10);

/// A cause waiting for its effect.
struct Waiting {
    task: usize,
    sent: Instant,
    tx: oneshot::Sender<Instant>,
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
    waiting: HashMap<u64, Waiting>,
    over: HashMap<u64, Over>,
    /// Duplicates not yet handed to the engine: task, latency from the cause.
    duplicates: Vec<(usize, Duration)>,
    /// Effects that came after their cause was counted lost.
    late: u64,
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
    /// Subscribes to each `(subject, match)` on `client` and starts reading
    /// them on the worker's own runtime (a `LocalSet`). `longest` is the
    /// longest timeout of an observed task.
    pub(crate) async fn start(
        client: &Client,
        observed: &[(String, MatchBy)],
        longest: Duration,
    ) -> Result<Self, NatsError> {
        let unique = client.new_inbox();
        let unique = unique.rsplit('.').next().unwrap_or_default();
        let book = Rc::new(RefCell::new(Book::default()));
        let prefix = format!("cl-{unique}-");
        let mut readers = Vec::new();
        for (subject, by) in observed {
            let sub = client
                .subscribe(Subject::from(subject.as_str()))
                .await
                .map_err(|e| NatsError::Subscribe {
                    subject: subject.clone(),
                    error: e.to_string(),
                })?;
            let (book, prefix, by) = (book.clone(), prefix.clone(), by.clone());
            readers.push(tokio::task::spawn_local(read_effects(
                sub, book, prefix, by,
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

    /// Waits for `cause`'s effect: `ok`, or `lost` naming `subject`
    /// (`left` of the task's `timeout`, which the text names.)
    pub(crate) async fn wait(
        &self,
        cause: Cause,
        (left, timeout): (Duration, Duration),
        subject: &str,
    ) -> Reply {
        let Cause { n, rx } = cause;
        match tokio::time::timeout(left, rx).await {
            Ok(Ok(_)) => Reply::from(Outcome::Ok),
            _ => {
                self.give_up(n);
                Reply::with_detail(
                    Outcome::Lost,
                    format!("no effect on {subject} within {timeout:?}"),
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
    rx: oneshot::Receiver<Instant>,
}

/// Reads one subscription's effects into the book until it ends.
async fn read_effects(
    mut sub: async_nats::Subscriber,
    book: Rc<RefCell<Book>>,
    prefix: String,
    by: MatchBy,
) {
    while let Some(msg) = sub.next().await {
        let now = Instant::now();
        let Some(n) = cause_of(&msg, &by, &prefix) else {
            // Not ours: another worker's, another run's, or no id at all.
            continue;
        };
        let mut book = book.borrow_mut();
        if let Some(w) = book.waiting.remove(&n) {
            let _ = w.tx.send(now);
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

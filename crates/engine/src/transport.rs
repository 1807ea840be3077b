use std::future::Future;

use cliffload_metrics::Outcome;

use crate::plan::Payload;

/// What became of one request: its outcome and, for anything but a
/// success, the text that says why (the service's error, what could not be
/// decoded, how long was waited). Kept per task in the run's failures table.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The outcome.
    pub outcome: Outcome,
    /// Why, when it is not a success (absent if the transport cannot say).
    pub detail: Option<String>,
    /// Bytes of the reply body (0 when none came).
    pub bytes: usize,
    /// When it is not a success: what came back, control characters
    /// escaped and cut to [`SAMPLE_BYTES`], for the failures table.
    pub sample: Option<String>,
    /// The reply body itself, kept only for a task that saves values from
    /// it (`RequestSpec::keep_reply`): a reference-counted view, not a copy.
    pub body: Option<bytes::Bytes>,
}

/// The most of a reply body kept as a failure's sample.
pub const SAMPLE_BYTES: usize = 160;

impl Reply {
    /// An outcome with the text saying why.
    pub fn with_detail(outcome: Outcome, detail: impl Into<String>) -> Self {
        Self {
            outcome,
            detail: Some(detail.into()),
            bytes: 0,
            sample: None,
            body: None,
        }
    }

    /// This reply with its body's size and, when it is not a success, a
    /// sample of the body. Runs a sample's allocation only on failures.
    pub fn with_body(mut self, body: &[u8]) -> Self {
        self.bytes = body.len();
        if self.outcome != Outcome::Ok {
            self.sample = Some(sample_of(body));
        }
        self
    }
}

/// A reply body as a person can read it: text as text (cut at
/// [`SAMPLE_BYTES`] on a character boundary, control characters escaped),
/// anything else (MessagePack, binary) as hex, and its size.
pub fn sample_of(body: &[u8]) -> String {
    if body.is_empty() {
        return "(empty body)".to_owned();
    }
    let cut = &body[..body.len().min(SAMPLE_BYTES)];
    let text = match std::str::from_utf8(cut) {
        Ok(t) => Some(t),
        // Cut inside a character: keep the whole ones.
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&cut[..e.valid_up_to()]).ok(),
        Err(_) => None,
    };
    let (shown, kept) = match text {
        Some(t) => (cliffload_metrics::visible(t).into_owned(), t.len()),
        None => {
            let n = cut.len().min(SAMPLE_BYTES / 2);
            let hex: String = cut[..n].iter().map(|b| format!("{b:02x}")).collect();
            (format!("hex {hex}"), n)
        }
    };
    if kept < body.len() {
        format!("{shown}… ({} bytes)", body.len())
    } else {
        shown
    }
}

impl From<Outcome> for Reply {
    fn from(outcome: Outcome) -> Self {
        Self {
            outcome,
            detail: None,
            bytes: 0,
            sample: None,
            body: None,
        }
    }
}

/// Sends one request and classifies what came back. One instance per
/// worker thread, so implementations need not be `Send` or `Sync`.
///
/// The transport enforces the task's timeout (it knows how to cancel its own
/// request) and never fails: every failure is an [`Outcome`].
pub trait Transport {
    /// Sends `payload` for task number `task` (its position in the plan).
    fn call(&self, task: usize, payload: &Payload) -> impl Future<Output = Reply>;

    /// Outcomes that came without a call of their own since the last time
    /// this was asked (an effect seen a second time: `duplicate`), each
    /// with its task and its latency from the message that caused it.
    /// The worker takes them once a second and at its end, into the second
    /// they are taken in. None by default.
    fn unsolicited(&self, _take: &mut dyn FnMut(usize, Reply, std::time::Duration)) {}
}

/// Makes one [`Transport`] per worker. Called on the worker's own thread and
/// runtime, so a connection's background tasks run beside its users.
pub trait Connector: Send + Sync + 'static {
    /// The transport it makes.
    type Transport: Transport + 'static;

    /// Why it could not connect: the implementation's own error, so its
    /// callers can tell the causes apart ([`crate::EngineError::connector_error`]).
    type Error: std::error::Error + Send + Sync + 'static;

    /// Connects worker number `worker`. The error says what failed and how
    /// to fix it.
    fn connect(&self, worker: usize) -> impl Future<Output = Result<Self::Transport, Self::Error>>;
}

/// Where a virtual user keeps its request while it is in flight.
pub(crate) trait Holding {
    /// `transport.call(task, payload)`, held this way.
    fn call<'a, T: Transport>(
        transport: &'a T,
        task: usize,
        payload: &'a Payload,
    ) -> impl Future<Output = Reply> + 'a;
}

/// In the user's own task: no allocation, but the request's state (about
/// 1.3 KB over NATS: async-nats' `send_request` and the timeout) is part of
/// the user for its whole life. For users that never think, which always
/// have a request in flight anyway.
pub(crate) struct Inline;

impl Holding for Inline {
    fn call<'a, T: Transport>(
        transport: &'a T,
        task: usize,
        payload: &'a Payload,
    ) -> impl Future<Output = Reply> + 'a {
        transport.call(task, payload)
    }
}

/// In a box that exists only while the request is in flight, so a thinking
/// user holds a pointer instead: 10,000 users thinking 1–2 s peak at 26 MiB
/// instead of 35 (README, Performance). It costs one allocation per request,
/// from the thread's own free list, and such a user sends a request a second
/// or so, not thousands.
pub(crate) struct Boxed;

impl Holding for Boxed {
    fn call<'a, T: Transport>(
        transport: &'a T,
        task: usize,
        payload: &'a Payload,
    ) -> impl Future<Output = Reply> + 'a {
        Box::pin(transport.call(task, payload))
    }
}

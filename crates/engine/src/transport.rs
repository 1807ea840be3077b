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
}

impl Reply {
    /// An outcome with the text saying why.
    pub fn with_detail(outcome: Outcome, detail: impl Into<String>) -> Self {
        Self {
            outcome,
            detail: Some(detail.into()),
        }
    }
}

impl From<Outcome> for Reply {
    fn from(outcome: Outcome) -> Self {
        Self {
            outcome,
            detail: None,
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

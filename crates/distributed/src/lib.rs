//! Distributed load generation over NATS itself.
//!
//! Workers ([`worker::serve`]) register with the NATS service API as
//! `cliffload-worker`; a coordinator ([`coordinator::coordinate`]) finds
//! them, sends each the validated plan and its [`share()`], starts them all
//! at one instant, and merges what they record, second by second, exactly
//! (HDR histograms added, never summaries), with the same
//! [`cliffload_engine::Merger`] that merges a process's threads. The control
//! protocol ([`control`]) is versioned, and a worker runs only plans it can
//! trust ([`trust`]).

pub mod control;
pub mod coordinator;
pub mod k8s;
pub mod seal;
pub mod share;
pub mod trust;
pub mod worker;

pub use coordinator::{CoordinateOptions, Distributed, Refusals, WorkerReport, coordinate};
pub use share::{Share, share};
pub use worker::{WorkerOptions, serve};

/// Why distributed generation could not go on.
#[derive(Debug, thiserror::Error)]
pub enum DistError {
    /// The control server could not be reached. Its words are in the
    /// message and not a `source`, which `{:#}` would print a second time.
    #[error("control server: {0}")]
    Connect(cliffload_nats::NatsError),
    /// A message could not be sent or subscribed to on the control server.
    #[error("control server: {0}")]
    Control(String),
    /// The worker could not register with the NATS service API.
    #[error("cannot register as cliffload-worker: {0}")]
    Register(String),
    /// Fewer workers answered than the run needs.
    #[error(
        "found {found} of the {wanted} workers needed within {waited_s:.0} s{}; start more with `cliffload worker --nats-url URL` (they must reach the control server)",
        if names.is_empty() { String::new() } else { format!(" ({})", names.join(", ")) }
    )]
    NotEnoughWorkers {
        /// Workers found.
        found: usize,
        /// Workers needed.
        wanted: usize,
        /// How long the coordinator looked, in seconds.
        waited_s: f64,
        /// Their names.
        names: Vec<String>,
    },
    /// A worker refused the plan or could not prepare it.
    #[error("worker {worker} {verb} the plan: {reason}")]
    Assign {
        /// Its name.
        worker: String,
        /// "refused" or "could not run".
        verb: &'static str,
        /// Why.
        reason: String,
    },
    /// The plan (with its data file's rows) is over the control server's
    /// largest message.
    #[error(
        "the plan is {bytes} bytes (a data file's rows travel with it), over the control server's max_payload of {max} bytes: use a smaller data file, or raise max_payload in the server's configuration"
    )]
    PlanTooLarge {
        /// The plan's size.
        bytes: usize,
        /// The server's max_payload.
        max: usize,
    },
    /// Ctrl-C before the start.
    #[error("cancelled before the load started")]
    Cancelled,
}

/// `?` on a connection: the control server could not be reached.
impl From<cliffload_nats::NatsError> for DistError {
    fn from(e: cliffload_nats::NatsError) -> Self {
        Self::Connect(e)
    }
}

impl DistError {
    /// True when the user can fix it by changing how the run is set up
    /// (exit code 2): too few workers, a refused plan.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            Self::NotEnoughWorkers { .. }
                | Self::PlanTooLarge { .. }
                | Self::Assign {
                    verb: "refused",
                    ..
                }
        )
    }
}

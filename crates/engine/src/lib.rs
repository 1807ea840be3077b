//! The load engine: turns a [`Plan`] into requests on a [`Transport`] and
//! measurements in a [`RunOutput`].
//!
//! Shape (see ARCHITECTURE.md): one OS thread per worker, each with a current-thread
//! tokio runtime, its own transport (its own connection) and its own
//! recorder ([`cliffload_metrics::TaskTable`]). Users are spread round-robin
//! over workers. The hot loop records into the worker's table through a
//! `RefCell` (no lock, no channel, no allocation per request), filed under
//! the second the reply completed in; once per second each worker hands the
//! seconds that are over to the aggregator, which merges exactly and keeps a
//! per-second summary.
//!
//! Key types: [`Plan`], [`Transport`] and [`Connector`] (the seam; [`mock`]
//! has a scripted implementation for tests under virtual time), [`run`] with
//! [`RunOptions`], [`RunOutput`], and [`EngineError`] (why a run could not
//! happen; a connector's own error inside).

mod cpu;
pub mod memory;
mod merge;
pub mod mock;
mod plan;
mod render;
mod rules;
mod run;
mod shape;
mod slice;
mod transport;
mod worker;

pub use cpu::thread_cpu_time;
pub use merge::Merger;
pub use plan::{Payload, Plan, PlanClass, PlanTask, build_payloads};
pub use rules::{ReplyRules, detail_of, outcome_of};
pub use run::{EngineError, Progress, RunOptions, RunOutput, StartGate, run};
pub use slice::{Slice, Slot};
pub use tokio_util::sync::CancellationToken;
pub use transport::{Connector, Reply, SAMPLE_BYTES, Transport, sample_of};
pub use worker::{INTERVAL, Recorded};

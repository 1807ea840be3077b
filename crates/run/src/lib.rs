//! A cliffload run, from a resolved scenario to a judged result:
//! (embedded services) → preflight → load → result → verdict, over one
//! process ([`load`]), workers over NATS ([`distributed`]), HTTP and other
//! frameworks ([`frameworks`]), or a sequence of scenarios ([`suite`]).
//!
//! The binary parses flags into a [`run::RunSpec`] or [`suite::SuiteSpec`],
//! calls [`run::run`] or [`suite::suite`] with a [`load::Ctx`], writes and
//! prints the result and maps it to an exit code ([`exit`]). What watches a
//! run (a live dashboard, a metrics exporter) is an [`Observer`] the run is
//! given and never names; what the person sees while it runs goes through
//! [`progress::Printer`].

pub mod baseline;
pub mod child;
pub mod distributed;
pub mod embedded;
pub mod exit;
pub mod frameworks;
pub mod history;
pub mod jetstream;
pub mod load;
mod observer;
pub mod output;
pub mod progress;
pub mod run;
pub mod signals;
pub mod suite;

pub use cliffload_engine::CancellationToken;
pub use observer::{Observer, Unobserved};

/// Ctrl-C (or SIGTERM, SIGHUP) before the load started: nothing to write;
/// the binary exits 130 at once.
#[derive(Debug, thiserror::Error)]
#[error("interrupted before the load started: nothing was sent")]
pub struct Interrupted;

//! Reference services that speak the Cliffracer wire protocol over NATS
//! (`docs/cliffracer-protocol.md`), for demos, comparisons and our own tests.
//!
//! Key items: [`cliffracer::serve`] (the protocol: subjects, queue groups,
//! decoding, correlation ids, envelopes, echoed headers, `describe`,
//! `async`, registration with the NATS service API), the [`cliffracer::Handler`]
//! trait a service implements, [`args::Args`] (pydantic-style argument
//! validation), and [`test_service`] (`ping`, `echo`, `compute`).

pub mod args;
pub mod cliffracer;
pub mod http;
pub mod order_service;
pub mod test_service;

/// The largest request body the reference services take, over NATS and HTTP.
pub const MAX_REQUEST_BYTES: usize = 8 << 20;

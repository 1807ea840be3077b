//! Reference services that speak the Cliffracer wire protocol over NATS
//! (`docs/cliffracer-protocol.md`), for demos, comparisons and our own tests.
//!
//! Key items: [`cliffracer::serve`] (the protocol: subjects, queue groups,
//! decoding, correlation ids, envelopes, echoed headers, `describe`,
//! `async`, registration with the NATS service API), the [`cliffracer::Handler`]
//! trait a service implements, [`kwargs::Kwargs`] (pydantic-style validation
//! of a method's keyword arguments), and [`test_service`] (`ping`, `echo`,
//! `compute`).

pub mod cliffracer;
pub mod events;
pub mod http;
pub mod kwargs;
pub mod order_service;
pub mod test_service;

/// The largest request body the reference services take, over NATS and HTTP.
pub const MAX_REQUEST_BYTES: usize = 8 << 20;

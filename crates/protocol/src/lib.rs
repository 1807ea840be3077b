//! The Cliffracer wire protocol, as `docs/cliffracer-protocol.md` (checked
//! against a real Cliffracer 1.0.0 service) describes it. Pure: no I/O.
//!
//! Key types: [`subject`] (the `{ns.}{service}.rpc.{method}` family),
//! [`Codec`] (JSON or MsgPack, chosen by `Content-Type` or sniffed),
//! [`Envelope`] and [`ErrorDetail`] (what a service answers), and
//! [`classify`] with [`Protocol`] and [`ReplyKind`] (what a client
//! makes of a reply), [`RequestSpec`] (one task's request, described for
//! both transports).
//!
//! It is also, knowingly, the home of the request's vocabulary that every
//! side shares: what a task sends and how its reply is judged
//! ([`RequestSpec`], [`ReplyExpect`], [`PreflightMode`], [`Secret`] for a
//! request header that must not be printed), with their JSON Schema derives.
//! The scenario file, the engine, the transports and the reference services
//! all speak it, and none of them may depend on another for it.

mod check;
mod classify;
mod codec;
mod envelope;
pub mod headers;
mod jetstream;
mod request;
pub mod subject;

pub use check::ReplyCheck;
pub use classify::{Protocol, ReplyKind, classify, error_text};
pub use codec::{Codec, CodecError};
pub use envelope::{
    Envelope, ErrorDetail, INTERNAL_ERROR_PREFIX, Loc, REFUSED_PREFIX, UNKNOWN_METHOD_PREFIX,
    VALIDATION_FAILED,
};
pub use jetstream::{ConsumerRef, JetStreamSpec, StreamSpec, StreamStorage};
pub use request::{
    ExpectStatus, MatchBy, Observe, PreflightMode, ReplyExpect, RequestSpec, Secret, SendMode,
};

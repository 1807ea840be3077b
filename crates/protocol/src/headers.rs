//! Header names and values of the protocol (protocol doc §3).

/// The content-type header (matched case-insensitively on receipt).
pub const CONTENT_TYPE: &str = "Content-Type";
/// MIME type of JSON bodies.
pub const JSON: &str = "application/json";
/// MIME type of MsgPack bodies.
pub const MSGPACK: &str = "application/msgpack";
/// The correlation header a client sets.
pub const CORRELATION_ID: &str = "X-Correlation-ID";
/// Header a NATS micro service sets on an error reply.
pub const SERVICE_ERROR_CODE: &str = "Nats-Service-Error-Code";
/// The text of a NATS micro service error (beside its code).
pub const SERVICE_ERROR: &str = "Nats-Service-Error";

/// Headers a Cliffracer service reads the correlation id from, in this order,
/// matched case-insensitively.
pub const CORRELATION_HEADERS: [&str; 7] = [
    "X-Correlation-ID",
    "X-Request-ID",
    "X-Trace-ID",
    "Correlation-ID",
    "correlation_id",
    "Request-ID",
    "Trace-ID",
];

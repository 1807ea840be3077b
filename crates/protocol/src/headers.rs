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

/// The `X-Correlation-ID` values one worker sends, `cl-{worker}-{n}`: unique
/// across the run's workers, counted without a lock (one per worker thread).
#[derive(Debug)]
pub struct CorrelationIds {
    worker: usize,
    next: std::cell::Cell<u64>,
}

impl CorrelationIds {
    /// The sequence of worker `worker`, from 0.
    pub fn new(worker: usize) -> Self {
        Self {
            worker,
            next: std::cell::Cell::new(0),
        }
    }

    /// The next id.
    pub fn next_id(&self) -> String {
        let n = self.next.get();
        self.next.set(n + 1);
        format!("cl-{}-{n}", self.worker)
    }
}

#[cfg(test)]
mod correlation_tests {
    use super::CorrelationIds;

    #[test]
    fn ids_count_up_per_worker() {
        let a = CorrelationIds::new(3);
        assert_eq!(a.next_id(), "cl-3-0");
        assert_eq!(a.next_id(), "cl-3-1");
        assert_eq!(CorrelationIds::new(4).next_id(), "cl-4-0");
    }
}

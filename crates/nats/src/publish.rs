//! A JetStream publish is a request whose reply is the stream's
//! acknowledgement (PubAck). Sent as a request on the worker's connection
//! (one timer, the same path as every other request), and its reply judged
//! here: stored, deduplicated, or refused and why.

use cliffload_engine::Reply;
use cliffload_metrics::Outcome;
use serde::Deserialize;

/// What a stream answers a publish.
#[derive(Deserialize)]
struct PubAck {
    #[serde(default)]
    stream: String,
    #[serde(default)]
    duplicate: bool,
    error: Option<ApiError>,
}

#[derive(Deserialize)]
struct ApiError {
    #[serde(default)]
    err_code: u64,
    #[serde(default)]
    description: String,
}

/// The outcome of a PubAck `body` for a publish to `subject`.
pub(crate) fn judge_ack(body: &[u8], subject: &str) -> Reply {
    let Ok(ack) = serde_json::from_slice::<PubAck>(body) else {
        return Reply::with_detail(
            Outcome::Decode,
            format!("the reply to a JetStream publish on {subject} is not a PubAck"),
        )
        .with_body(body);
    };
    match ack.error {
        Some(e) if stream_full(&e) => Reply::with_detail(
            Outcome::ServiceError,
            format!("stream full: {} (err_code {})", e.description, e.err_code),
        ),
        Some(e) => Reply::with_detail(
            Outcome::ServiceError,
            format!(
                "JetStream refused the message: {} (err_code {})",
                e.description, e.err_code
            ),
        ),
        None if ack.duplicate => Reply::with_detail(
            Outcome::Deduplicated,
            format!(
                "stream {} already has a message with this Nats-Msg-Id",
                ack.stream
            ),
        ),
        None => Reply::from(Outcome::Ok),
    }
}

/// A stream at its limits (messages, bytes, or the account's store).
fn stream_full(e: &ApiError) -> bool {
    // 10077 maximum messages, 10047 insufficient resources, 10027/10028
    // maximum bytes (server versions word and number them differently).
    matches!(e.err_code, 10077 | 10047 | 10027 | 10028)
        || e.description.contains("maximum messages")
        || e.description.contains("maximum bytes")
        || e.description.contains("resource limits")
}

/// The text of a publish with no stream behind its subject.
pub(crate) fn no_stream(subject: &str) -> String {
    format!("no stream stores {subject} (no responders to a JetStream publish)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pub_ack_is_stored_deduplicated_or_refused_by_name() {
        assert_eq!(
            judge_ack(br#"{"stream":"S","seq":4}"#, "s").outcome,
            Outcome::Ok
        );
        let dup = judge_ack(br#"{"stream":"S","seq":4,"duplicate":true}"#, "s");
        assert_eq!(dup.outcome, Outcome::Deduplicated);
        let full = judge_ack(
            br#"{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"}}"#,
            "s",
        );
        assert_eq!(full.outcome, Outcome::ServiceError);
        assert!(
            full.detail
                .as_deref()
                .is_some_and(|d| d.starts_with("stream full:"))
        );
        let other = judge_ack(
            br#"{"error":{"code":400,"err_code":10060,"description":"expected stream does not match"}}"#,
            "s",
        );
        assert!(
            other
                .detail
                .as_deref()
                .is_some_and(|d| d.starts_with("JetStream refused"))
        );
        assert_eq!(judge_ack(b"+OK", "s").outcome, Outcome::Decode);
    }
}

//! The reply envelope of a Cliffracer service (protocol doc §1, §4, §9).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `error` of a reply whose arguments failed validation.
pub const VALIDATION_FAILED: &str = "validation failed";
/// Prefix of `error` when the method does not exist.
pub const UNKNOWN_METHOD_PREFIX: &str = "Unknown method: ";
/// Prefix of `error` when the handler raised (internals never leak).
pub const INTERNAL_ERROR_PREFIX: &str = "Internal server error";
/// Prefix of `error` when a service refuses on purpose.
pub const REFUSED_PREFIX: &str = "refused: ";

/// A reply: `{"success", "result" | "error" (+ "details"), "timestamp", "correlation_id"}`,
/// with the keys in that order as Cliffracer writes them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// True when the call succeeded.
    pub success: bool,
    /// The handler's return value (present on success, may be `null`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// What went wrong (present on failure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Validation errors, in pydantic's shape.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Vec<ErrorDetail>>,
    /// When the reply was made: ISO 8601 with microseconds and `+00:00`.
    pub timestamp: String,
    /// The request's correlation id (`null` when it could not be read).
    pub correlation_id: Option<String>,
}

impl Envelope {
    /// A success reply.
    pub fn ok(result: Value, timestamp: String, correlation_id: Option<String>) -> Self {
        Self {
            success: true,
            result: Some(result),
            error: None,
            details: None,
            timestamp,
            correlation_id,
        }
    }

    /// A failure reply with an error string and optional validation details.
    pub fn err(
        error: String,
        details: Option<Vec<ErrorDetail>>,
        timestamp: String,
        correlation_id: Option<String>,
    ) -> Self {
        Self {
            success: false,
            result: None,
            error: Some(error),
            details,
            timestamp,
            correlation_id,
        }
    }
}

/// One element of a `loc` path: an object key or an array index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Loc {
    /// An array index.
    Index(u64),
    /// An object key.
    Key(String),
}

impl From<&str> for Loc {
    fn from(s: &str) -> Self {
        Loc::Key(s.to_owned())
    }
}

impl From<usize> for Loc {
    fn from(i: usize) -> Self {
        Loc::Index(i as u64)
    }
}

/// One validation error, as pydantic reports it in `details`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Error code: `missing`, `extra_forbidden`, `string_too_short`, ….
    #[serde(rename = "type")]
    pub kind: String,
    /// Path to the offending value: keys and indices.
    pub loc: Vec<Loc>,
    /// Human-readable message.
    pub msg: String,
    /// The offending input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
    /// Constraint parameters (`{"min_length": 1}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ctx: Option<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // Captured from a real Cliffracer 1.0.0 service (protocol doc §9).
    const CAPTURED_VALIDATION: &str = r#"{"success": false, "error": "validation failed", "details": [{"type": "string_too_short", "loc": ["order", "order_id"], "msg": "String should have at least 1 character", "input": "", "ctx": {"min_length": 1}, "url": "https://errors.pydantic.dev/2.14/v/string_too_short"}, {"type": "greater_than", "loc": ["order", "items", 0, "quantity"], "msg": "Input should be greater than 0", "input": 0, "ctx": {"gt": 0}, "url": "https://errors.pydantic.dev/2.14/v/greater_than"}], "timestamp": "2026-11-29T12:38:04.141434+00:00", "correlation_id": "corr-demo-0001"}"#;

    #[test]
    fn parses_a_captured_validation_failure() {
        let e: Envelope = serde_json::from_str(CAPTURED_VALIDATION).expect("parses");
        assert!(!e.success);
        assert_eq!(e.error.as_deref(), Some(VALIDATION_FAILED));
        let d = e.details.expect("details");
        assert_eq!(
            d[1].loc,
            vec![
                Loc::from("order"),
                "items".into(),
                0usize.into(),
                "quantity".into()
            ]
        );
        assert_eq!(d[1].kind, "greater_than");
    }

    #[test]
    fn serialises_keys_in_cliffracer_order() {
        let e = Envelope::ok(json!("hello"), "t".into(), Some("c".into()));
        assert_eq!(
            serde_json::to_string(&e).expect("serialises"),
            r#"{"success":true,"result":"hello","timestamp":"t","correlation_id":"c"}"#
        );
        let e = Envelope::err("Unknown method: x".into(), None, "t".into(), None);
        assert_eq!(
            serde_json::to_string(&e).expect("serialises"),
            r#"{"success":false,"error":"Unknown method: x","timestamp":"t","correlation_id":null}"#
        );
    }
}

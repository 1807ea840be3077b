//! What a client makes of a reply. Runs once per request, so it
//! reads only `success` and `error` and skips the rest of the body.

use std::borrow::Cow;

use serde::Deserialize;

use crate::codec::Codec;
use crate::envelope::{INTERNAL_ERROR_PREFIX, UNKNOWN_METHOD_PREFIX, VALIDATION_FAILED};

/// How a task's replies are judged (a task's `protocol:`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// Cliffracer envelope: `success` decides, `error` says why.
    #[default]
    Cliffracer,
    /// NATS micro service: a `Nats-Service-Error-Code` header means failure.
    Micro,
    /// Any reply is a success.
    Raw,
}

/// The class of a reply, before the request's injected-error label is considered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyKind {
    /// The call succeeded.
    Success,
    /// `validation failed`: the arguments were refused as invalid.
    ValidationRefused,
    /// `success: false` for another, deliberate reason (a business rule),
    /// or a micro 4xx error.
    BusinessRefused,
    /// Unknown method, internal error, or a micro 5xx error.
    ServiceError,
    /// Not an envelope: the reason, for preflight to show.
    Unrecognised(String),
}

#[derive(Deserialize)]
struct View<'a> {
    success: Option<bool>,
    #[serde(borrow, default)]
    error: Option<Cow<'a, str>>,
}

/// Classifies a reply. `content_type` and `service_error_code` are the reply's
/// header values, if present.
pub fn classify(
    protocol: Protocol,
    content_type: Option<&str>,
    service_error_code: Option<&str>,
    body: &[u8],
) -> ReplyKind {
    match protocol {
        Protocol::Raw => ReplyKind::Success,
        Protocol::Micro => match service_error_code {
            None => ReplyKind::Success,
            // A 4xx is the service saying no to this request (400 bad
            // request, 404 no such item): a refusal, as the README's table of protocols and
            // examples/your-service/micro.yaml say, not a failure.
            Some(code) if code.trim().starts_with('4') => ReplyKind::BusinessRefused,
            Some(_) => ReplyKind::ServiceError,
        },
        Protocol::Cliffracer => classify_envelope(content_type, body),
    }
}

/// True when `body` opens a JSON object or a MsgPack map. serde reads a
/// struct from a sequence too, so without this `[true, "ok"]` would pass as
/// `{"success": true, "error": "ok"}`.
fn opens_a_map(codec: Codec, body: &[u8]) -> bool {
    match codec {
        Codec::Json => body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{'),
        // fixmap, map 16, map 32
        Codec::MsgPack => matches!(body.first(), Some(0x80..=0x8f | 0xde | 0xdf)),
    }
}

fn classify_envelope(content_type: Option<&str>, body: &[u8]) -> ReplyKind {
    let codec = content_type.map_or_else(|| Codec::sniff(body), Codec::from_content_type);
    if !body.is_empty() && !opens_a_map(codec, body) {
        return ReplyKind::Unrecognised(format!(
            "not a {codec} object: a Cliffracer reply is an object with a boolean \"success\""
        ));
    }
    let view: Result<View<'_>, String> = match codec {
        Codec::Json => serde_json::from_slice(body).map_err(|e| e.to_string()),
        Codec::MsgPack => rmp_serde::from_slice(body).map_err(|e| e.to_string()),
    };
    let view = match view {
        Ok(v) => v,
        Err(e) if body.is_empty() => {
            return ReplyKind::Unrecognised(format!("empty reply body ({e})"));
        }
        Err(e) => return ReplyKind::Unrecognised(format!("not a {codec} object: {e}")),
    };
    match (view.success, view.error.as_deref()) {
        (Some(true), _) => ReplyKind::Success,
        (Some(false), Some(VALIDATION_FAILED)) => ReplyKind::ValidationRefused,
        (Some(false), Some(e))
            if e.starts_with(UNKNOWN_METHOD_PREFIX) || e.starts_with(INTERNAL_ERROR_PREFIX) =>
        {
            ReplyKind::ServiceError
        }
        (Some(false), _) => ReplyKind::BusinessRefused,
        (None, _) => ReplyKind::Unrecognised("no boolean \"success\" key".to_owned()),
    }
}

/// The `error` text of a Cliffracer envelope, for the failures table. Read
/// again only for replies that were not a success, so the hot path (which
/// skips it) stays as it is.
pub fn error_text(content_type: Option<&str>, body: &[u8]) -> Option<String> {
    let codec = content_type.map_or_else(|| Codec::sniff(body), Codec::from_content_type);
    if !opens_a_map(codec, body) {
        return None;
    }
    let view: Explained = match codec {
        Codec::Json => serde_json::from_slice(body).ok()?,
        Codec::MsgPack => rmp_serde::from_slice(body).ok()?,
    };
    let error = view.error?;
    let details: Vec<FieldError> = match view.details {
        Some(d) if error == VALIDATION_FAILED => serde_json::from_value(d).unwrap_or_default(),
        _ => Vec::new(),
    };
    if details.is_empty() {
        return Some(error);
    }
    Some(format!("{error}: {}", fields(&details)))
}

/// A refusal's `error` and, for `validation failed`, pydantic's details
/// (read loosely: details of another shape leave the error as it is).
#[derive(Deserialize)]
struct Explained {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    details: Option<serde_json::Value>,
}

/// One pydantic error: where (`loc`) and what (`msg`).
#[derive(Deserialize)]
struct FieldError {
    #[serde(default)]
    loc: Vec<serde_json::Value>,
    #[serde(default)]
    msg: String,
}

/// The fields a validation refusal names, each `path: message`
/// (`order.items.0.quantity: Input should be greater than 0`), the first
/// three and how many more: what to fix in the payload.
fn fields(details: &[FieldError]) -> String {
    const SHOWN: usize = 3;
    let mut parts: Vec<String> = details
        .iter()
        .take(SHOWN)
        .map(|d| {
            let path: Vec<String> = d
                .loc
                .iter()
                .map(|p| match p {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect();
            let path = if path.is_empty() {
                "(the whole body)".to_owned()
            } else {
                path.join(".")
            };
            format!("{path}: {}", d.msg)
        })
        .collect();
    if details.len() > SHOWN {
        parts.push(format!("and {} more", details.len() - SHOWN));
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cliff(body: &[u8]) -> ReplyKind {
        classify(Protocol::Cliffracer, Some("application/json"), None, body)
    }

    // Bodies below are the captured replies of protocol doc §9.
    #[test]
    fn captured_success_is_success() {
        let body = br#"{"success": true, "result": "hello", "timestamp": "2026-11-29T12:38:04.138380+00:00", "correlation_id": "corr-demo-0001"}"#;
        assert_eq!(cliff(body), ReplyKind::Success);
    }

    #[test]
    fn a_validation_refusal_names_the_fields_to_fix() {
        // Captured from a real Cliffracer service (docs/cliffracer-protocol.md).
        let body = br#"{"success": false, "error": "validation failed", "details": [{"type": "string_too_short", "loc": ["order", "order_id"], "msg": "String should have at least 1 character", "input": ""}, {"type": "missing", "loc": ["order", "customer_id"], "msg": "Field required"}, {"type": "greater_than", "loc": ["order", "items", 0, "quantity"], "msg": "Input should be greater than 0", "input": 0}, {"type": "extra_forbidden", "loc": ["extra"], "msg": "Extra inputs are not permitted"}], "timestamp": "t", "correlation_id": "c"}"#;
        assert_eq!(
            error_text(None, body).as_deref(),
            Some(
                "validation failed: order.order_id: String should have at least 1 character; order.customer_id: Field required; order.items.0.quantity: Input should be greater than 0; and 1 more"
            )
        );
        let whole = br#"{"success": false, "error": "validation failed", "details": [{"type": "model_type", "loc": [], "msg": "Input should be a valid dictionary"}]}"#;
        assert_eq!(
            error_text(None, whole).as_deref(),
            Some("validation failed: (the whole body): Input should be a valid dictionary")
        );
        // Another refusal keeps its own words; details that are not a
        // list do not hide the error.
        let odd = br#"{"success": false, "error": "validation failed", "details": "bad"}"#;
        assert_eq!(error_text(None, odd).as_deref(), Some("validation failed"));
        let refused = br#"{"success": false, "error": "refused: out of stock"}"#;
        assert_eq!(
            error_text(None, refused).as_deref(),
            Some("refused: out of stock")
        );
    }

    #[test]
    fn captured_validation_failure_is_validation_refused() {
        let body = br#"{"success": false, "error": "validation failed", "details": [{"type": "too_short", "loc": ["order", "items"], "msg": "List should have at least 1 item after validation, not 0", "input": [], "ctx": {"field_type": "List", "min_length": 1, "actual_length": 0}, "url": "https://errors.pydantic.dev/2.14/v/too_short"}], "timestamp": "2026-11-29T12:38:12.944554+00:00", "correlation_id": "corr-nats-py-1"}"#;
        assert_eq!(cliff(body), ReplyKind::ValidationRefused);
    }

    #[test]
    fn captured_unknown_method_and_internal_error_are_service_errors() {
        let unknown = br#"{"success": false, "error": "Unknown method: no_such_method", "timestamp": "2026-11-29T12:38:04.145669+00:00", "correlation_id": "corr-demo-0001"}"#;
        let internal = br#"{"success": false, "error": "Internal server error (correlation_id: corr-demo-0001)", "timestamp": "2026-11-29T12:38:04.149110+00:00", "correlation_id": "corr-demo-0001"}"#;
        assert_eq!(cliff(unknown), ReplyKind::ServiceError);
        assert_eq!(cliff(internal), ReplyKind::ServiceError);
    }

    #[test]
    fn refusal_is_a_business_rejection() {
        let body = br#"{"success": false, "error": "refused: insufficient stock for SKU-1", "timestamp": "t", "correlation_id": null}"#;
        assert_eq!(cliff(body), ReplyKind::BusinessRefused);
    }

    #[test]
    fn captured_msgpack_success_is_success() {
        let body = b"\x84\xa7success\xc3\xa6result\xa6packed\xa9timestamp\xd9 2026-11-29T12:38:05.153520+00:00\xaecorrelation_id\xb5corr_386da0d3a0ae4497";
        assert_eq!(
            classify(
                Protocol::Cliffracer,
                Some("application/msgpack"),
                None,
                body
            ),
            ReplyKind::Success
        );
        assert_eq!(
            classify(Protocol::Cliffracer, None, None, body),
            ReplyKind::Success
        );
    }

    #[test]
    fn non_envelopes_are_unrecognised() {
        assert!(matches!(cliff(b""), ReplyKind::Unrecognised(_)));
        assert!(matches!(cliff(b"pong"), ReplyKind::Unrecognised(_)));
        assert!(matches!(
            cliff(br#"{"message": "hello"}"#),
            ReplyKind::Unrecognised(_)
        ));
        assert!(matches!(cliff(br#"[1,2]"#), ReplyKind::Unrecognised(_)));
        // serde reads a struct from a sequence: an array must not pass as an envelope.
        assert!(matches!(
            cliff(br#"[true, "ok"]"#),
            ReplyKind::Unrecognised(_)
        ));
        assert!(matches!(
            classify(
                Protocol::Cliffracer,
                Some("application/msgpack"),
                None,
                b"\x92\xc3\xa2ok"
            ),
            ReplyKind::Unrecognised(_)
        ));
    }

    #[test]
    fn micro_uses_the_error_code_header() {
        let m = |code| classify(Protocol::Micro, None, code, b"anything");
        assert_eq!(m(None), ReplyKind::Success);
        assert_eq!(m(Some("400")), ReplyKind::BusinessRefused);
        assert_eq!(m(Some("404")), ReplyKind::BusinessRefused);
        assert_eq!(m(Some("500")), ReplyKind::ServiceError);
    }

    #[test]
    fn error_text_reads_the_envelope_error() {
        let body =
            br#"{"success": false, "error": "refused: insufficient stock", "timestamp": "t"}"#;
        assert_eq!(
            error_text(None, body).as_deref(),
            Some("refused: insufficient stock")
        );
        assert_eq!(error_text(None, br#"["error"]"#), None);
        assert_eq!(error_text(None, b"garbage"), None);
    }

    #[test]
    fn raw_accepts_anything() {
        assert_eq!(
            classify(Protocol::Raw, None, None, b"\x00garbage"),
            ReplyKind::Success
        );
    }
}

#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;

    fn protocol() -> impl Strategy<Value = Protocol> {
        prop_oneof![
            Just(Protocol::Cliffracer),
            Just(Protocol::Micro),
            Just(Protocol::Raw),
        ]
    }

    fn content_type() -> impl Strategy<Value = Option<String>> {
        prop_oneof![
            Just(None),
            Just(Some("application/json".to_owned())),
            Just(Some("application/msgpack".to_owned())),
            ".{0,20}".prop_map(Some),
        ]
    }

    /// Bodies: random bytes, and near-envelopes (JSON objects with odd values).
    fn body() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..300),
            (any::<Option<bool>>(), ".{0,40}", 0usize..4).prop_map(|(ok, err, shape)| {
                let v = match shape {
                    0 => serde_json::json!({"success": ok, "error": err}),
                    1 => serde_json::json!([ok, err]),
                    2 => serde_json::json!({"success": err}),
                    _ => serde_json::json!({"error": {"nested": err}, "success": ok}),
                };
                serde_json::to_vec(&v).unwrap_or_default()
            }),
        ]
    }

    proptest! {
        // Issue 12: any reply is classified, never a panic; text is only
        // read from objects.
        #[test]
        fn any_reply_is_classified_without_panicking(
            i in protocol(),
            ct in content_type(),
            code in proptest::option::of(".{0,5}"),
            body in body(),
        ) {
            let kind = classify(i, ct.as_deref(), code.as_deref(), &body);
            if i == Protocol::Raw {
                prop_assert_eq!(kind, ReplyKind::Success);
            }
            let _ = error_text(ct.as_deref(), &body);
        }
    }
}

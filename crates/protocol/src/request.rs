//! One request, described: what to send where and how to read the reply.
//! The scenario builds it, both transports (NATS, HTTP) consume it, and a
//! distributed plan can ship it (it is plain serde data).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{Codec, Protocol};

/// What to send where and how to read the reply, for one task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestSpec {
    /// NATS subject the request goes to (over HTTP, the path is made from it).
    pub subject: String,
    /// How replies are judged.
    pub protocol: Protocol,
    /// How long to wait for a reply.
    pub timeout: Duration,
    /// How the body is encoded on the wire.
    pub codec: Codec,
    /// Send `Content-Type` and a unique `X-Correlation-ID` with each request.
    pub headers: bool,
    /// What its replies must be.
    pub expect: ReplyExpect,
    /// Hand the reply body back to the engine: the task saves values from it.
    #[serde(default)]
    pub keep_reply: bool,
    /// How the message goes: a request, a publish, a JetStream publish.
    /// (Left out of the JSON when a request, as are absent fields below,
    /// so a scenario's content hash is what it was before they existed.)
    #[serde(default, skip_serializing_if = "SendMode::is_request")]
    pub send: SendMode,
    /// Where the message's effect appears, for a task timed from its
    /// publish to its effect (`observe:`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observe: Option<Observe>,
}

/// How a task's message goes (`send:`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SendMode {
    /// A request that waits for its reply (the default).
    #[default]
    Request,
    /// A core NATS publish: no reply. A success is a message handed to the
    /// connection; with `observe`, its effect seen.
    Publish,
    /// A JetStream publish, timed to its acknowledgement (PubAck).
    Jetstream,
}

impl SendMode {
    /// A request (the default).
    pub fn is_request(&self) -> bool {
        *self == SendMode::Request
    }

    /// The name used in the scenario file.
    pub const fn name(self) -> &'static str {
        match self {
            SendMode::Request => "request",
            SendMode::Publish => "publish",
            SendMode::Jetstream => "jetstream",
        }
    }
}

/// Where a published message's effect appears and how it is matched to
/// its cause: each message carries a unique `X-Correlation-ID`, and the
/// effect must carry the same id, in a header or a JSON field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observe {
    /// The subject effects are published on (wildcards allowed).
    pub subject: String,
    /// Where an effect carries its cause's correlation id.
    pub by: MatchBy,
    /// Where the service dead-letters a message it refuses, if the task
    /// watches for that (matched as effects are).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter: Option<String>,
}

/// Where an effect carries its cause's correlation id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchBy {
    /// In this header (the default: `X-Correlation-ID`).
    Header(String),
    /// At this dot path in the effect's JSON body (`correlation_id`).
    Json(String),
}

/// What a task's reply should be (`expect: {status}`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ExpectStatus {
    /// A success (the default).
    #[default]
    Ok,
    /// A refusal: the body is meant to be refused (a fixed invalid payload),
    /// so a refusal is the correct answer and an acceptance a failure.
    Rejected,
}

/// Checks on a task's replies (`expect: {status, json, contains, regex,
/// max_bytes}`): a successful reply that fails one is `check_failed`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ReplyExpect {
    /// Success or refusal.
    pub status: ExpectStatus,
    /// `path.to.field` → the value it must have.
    pub json: Vec<(String, serde_json::Value)>,
    /// Text the reply must contain.
    pub contains: Option<String>,
    /// A regular expression the reply must match (checked when loaded).
    pub regex: Option<String>,
    /// The largest acceptable reply, in bytes.
    pub max_bytes: Option<usize>,
}

/// What the smoke call of each task before the load does with a problem.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum PreflightMode {
    /// Stop the run: at once for no responders, a reply that is not an
    /// envelope, or a refused valid payload; after 3 tries for a service
    /// error or a timeout (a service that fails now and then).
    #[default]
    Strict,
    /// Say so in a warning, and run.
    Warn,
    /// No smoke call.
    Off,
}

/// A secret string (password, token) sent to log in: `Debug` prints `***`,
/// so no log, report or error built from a value holding it can show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The secret itself: only for logging in.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_travels_as_json_and_comes_back_the_same() {
        let spec = RequestSpec {
            subject: "checkout_service.rpc.quote".into(),
            protocol: Protocol::Micro,
            timeout: Duration::from_millis(1500),
            codec: Codec::MsgPack,
            headers: true,
            expect: ReplyExpect {
                status: ExpectStatus::Rejected,
                json: vec![("result.total".into(), serde_json::json!(3))],
                contains: Some("ok".into()),
                regex: Some("^o".into()),
                max_bytes: Some(10),
            },
            keep_reply: false,
            send: Default::default(),
            observe: None,
        };
        let text = serde_json::to_string(&spec).expect("serialises");
        assert!(text.contains(r#""codec":"msgpack""#), "{text}");
        assert!(text.contains(r#""protocol":"micro""#), "{text}");
        let back: RequestSpec = serde_json::from_str(&text).expect("deserialises");
        assert_eq!(back, spec);
    }

    #[test]
    fn a_secret_never_shows_in_debug() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "***");
    }
}

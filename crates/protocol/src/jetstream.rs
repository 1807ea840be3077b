//! Messaging beyond request/reply: the streams a run creates and the
//! durable consumers it watches (`jetstream:`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A scenario's `jetstream:` section.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct JetStreamSpec {
    /// Created before the load, deleted after it.
    pub streams: Vec<StreamSpec>,
    /// Sampled once a second while the load runs.
    pub consumers: Vec<ConsumerRef>,
}

impl JetStreamSpec {
    /// Nothing to create or watch.
    pub fn is_empty(&self) -> bool {
        self.streams.is_empty() && self.consumers.is_empty()
    }
}

/// A stream cliffload creates for the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamSpec {
    /// Its name.
    pub name: String,
    /// The subjects it stores.
    pub subjects: Vec<String>,
    /// Where it keeps messages.
    pub storage: StreamStorage,
    /// The most messages it keeps (a publish beyond is refused), if bounded.
    pub max_msgs: Option<u64>,
    /// How long a `Nats-Msg-Id` is remembered (the server's 2 min if none).
    pub duplicate_window: Option<Duration>,
}

/// Where a stream keeps its messages.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum StreamStorage {
    /// On disk (the server's default).
    #[default]
    File,
    /// In memory.
    Memory,
}

/// A durable consumer to watch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerRef {
    /// Its stream.
    pub stream: String,
    /// Its durable name.
    pub name: String,
}

impl std::fmt::Display for ConsumerRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.stream, self.name)
    }
}

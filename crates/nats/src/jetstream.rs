//! The JetStream side of a run: streams created for it (and deleted
//! after), and the state of the durable consumers it watches.

use std::time::Duration;

use async_nats::Client;
use async_nats::jetstream::{self, stream};
use cliffload_protocol::{ConsumerRef, StreamSpec, StreamStorage};
use serde::{Deserialize, Serialize};

use crate::error::NatsError;

/// How long one JetStream API call may take.
const API_TIMEOUT: Duration = Duration::from_secs(5);

/// The streams a run created; [`Streams::delete`] removes them.
#[derive(Debug)]
pub struct Streams {
    js: jetstream::Context,
    names: Vec<String>,
}

fn context(client: &Client) -> jetstream::Context {
    let mut js = jetstream::new(client.clone());
    js.set_timeout(API_TIMEOUT);
    js
}

/// Creates each stream of `specs`, refusing one that already exists (a
/// run deletes what it created, and must never delete a stream it did
/// not). On an error, the streams created so far are deleted.
pub async fn create_streams(client: &Client, specs: &[StreamSpec]) -> Result<Streams, NatsError> {
    let mut created = Streams {
        js: context(client),
        names: Vec::new(),
    };
    for spec in specs {
        if let Err(e) = create_one(&created.js, spec).await {
            created.delete().await;
            return Err(e);
        }
        created.names.push(spec.name.clone());
    }
    Ok(created)
}

async fn create_one(js: &jetstream::Context, spec: &StreamSpec) -> Result<(), NatsError> {
    let failed = |why: String| NatsError::JetStream {
        what: format!("cannot create stream {}", spec.name),
        why,
    };
    match js.get_stream(&spec.name).await {
        Ok(_) => {
            return Err(failed(
                "a stream of that name exists already; cliffload deletes the streams it creates after the run, so it will not take over one it did not create: rename it in jetstream.streams, or drop it from there to publish into the existing stream".to_owned(),
            ));
        }
        Err(e) if not_found(&e) => {}
        Err(e) => return Err(failed(explain(&e.to_string()))),
    }
    let config = stream::Config {
        name: spec.name.clone(),
        subjects: spec.subjects.clone(),
        storage: match spec.storage {
            StreamStorage::File => stream::StorageType::File,
            StreamStorage::Memory => stream::StorageType::Memory,
        },
        max_messages: spec
            .max_msgs
            .map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX)),
        discard: stream::DiscardPolicy::New,
        duplicate_window: spec.duplicate_window.unwrap_or(Duration::ZERO),
        ..Default::default()
    };
    js.create_stream(config)
        .await
        .map(drop)
        .map_err(|e| failed(explain(&e.to_string())))
}

/// Whether the server said there is no such stream.
fn not_found(e: &jetstream::context::GetStreamError) -> bool {
    matches!(e.kind(), jetstream::context::GetStreamErrorKind::JetStream(j)
        if j.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND)
}

/// The usual cause of a JetStream API error, in words.
fn explain(error: &str) -> String {
    if error.contains("no responders") || error.contains("timed out") {
        format!("{error}: is JetStream enabled on this server (nats-server -js)?")
    } else {
        error.to_owned()
    }
}

impl Streams {
    /// The streams created, by name.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Deletes every stream created; the names of those that could not be
    /// deleted, with why.
    pub async fn delete(&mut self) -> Vec<String> {
        let mut left = Vec::new();
        for name in self.names.drain(..) {
            if let Err(e) = self.js.delete_stream(&name).await {
                left.push(format!("{name}: {e}"));
            }
        }
        left
    }
}

/// One reading of a durable consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ConsumerState {
    /// Messages in the stream the consumer has not yet been delivered.
    pub pending: u64,
    /// Delivered, not yet acknowledged.
    pub ack_pending: u64,
    /// Delivered more than once.
    pub redelivered: u64,
}

impl ConsumerState {
    /// Messages not yet processed: pending plus unacknowledged.
    pub fn lag(&self) -> u64 {
        self.pending.saturating_add(self.ack_pending)
    }
}

/// Reads a consumer's state through the JetStream API (`$JS.API.CONSUMER.INFO`).
pub async fn consumer_state(client: &Client, c: &ConsumerRef) -> Result<ConsumerState, NatsError> {
    let js = context(client);
    let failed = |why: String| NatsError::JetStream {
        what: format!("cannot read consumer {c}"),
        why,
    };
    let stream = js
        .get_stream_no_info(&c.stream)
        .await
        .map_err(|e| failed(explain(&e.to_string())))?;
    let info = stream
        .consumer_info(&c.name)
        .await
        .map_err(|e| failed(explain(&e.to_string())))?;
    Ok(ConsumerState {
        pending: info.num_pending,
        ack_pending: info.num_ack_pending as u64,
        redelivered: info.num_redelivered as u64,
    })
}

//! The events of `order_processing_service` (`docs/frameworks.md`, "Events"):
//! what cliffload's event tasks publish and observe.
//!
//! - `orders.placed`, core NATS, **no queue group**: every replica handles
//!   every event, as Cliffracer's `@listener(..., fanout=True)`.
//! - `orders.queued`, JetStream: stream `ORDERS` (made if no stream captures
//!   the subject) and the durable pull consumer `order_processor`, shared by
//!   the replicas, so each message is processed once. Off, with one line on
//!   stderr, when the server has no JetStream.
//! - An event's body is `process_order`'s keyword arguments,
//!   `{"order": {...}}`, or Cliffracer's `publish_event` envelope of them; its
//!   correlation id is its correlation header (`X-Correlation-ID`, …), else
//!   the body's `correlation_id`, else a new `corr_` id.
//! - Processing is `process_order`'s: validation, the simulated delays, the
//!   business rules. Then the effect, `order.processed`, is published in
//!   `publish_event`'s shape with the event's id in
//!   `X-Correlation-ID`; `process_order` (rpc and async) publishes the same.
//! - An event that does not decode or fails validation has no effect: it goes
//!   to `dlq.order_processing_service` in Cliffracer's dead-letter format
//!   (and a JetStream message is terminated, never redelivered).
//!
//! With a namespace `ns`, the listeners and the effect are on `ns.`-prefixed
//! subjects, as Cliffracer prefixes them; the dead-letter subject is not.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, PullConsumer, pull};
use async_nats::jetstream::{self, AckKind, stream};
use async_nats::{Client, HeaderMap, Message, Subscriber};
use bytes::Bytes;
use cliffload_payloads::ComplexOrder;
use cliffload_protocol::{Codec, ErrorDetail, headers};
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::{Map, Value, json};
use tokio::sync::Semaphore;

use crate::cliffracer::{
    ServiceError, correlation_from_headers, decode, new_correlation_id, timestamp,
};
use crate::kwargs::RawKwargs;
use crate::order_service::{NAME, OrderService};

/// Core NATS subject of the fan-out listener.
pub const PLACED: &str = "orders.placed";
/// JetStream subject of the durable listener.
pub const QUEUED: &str = "orders.queued";
/// Subject of the effect of a processed order.
pub const PROCESSED: &str = "order.processed";
/// The stream made for [`QUEUED`] when no stream captures it.
pub const STREAM: &str = "ORDERS";
/// The durable pull consumer the replicas share.
pub const DURABLE: &str = "order_processor";
/// Where events without an effect go (Cliffracer's `dlq.{service}`).
pub const DEAD_LETTER: &str = "dlq.order_processing_service";
/// The schema named in a dead letter: the event's keyword arguments, as the
/// Cliffracer peer's listener declares them.
const SCHEMA: &str = "OrderPlaced";
/// Deliveries of a JetStream message before it is dead-lettered, as
/// Cliffracer's `jetstream_max_deliver` (so either may create the consumer).
const MAX_DELIVER: i64 = 5;

/// Whether the service consumes [`QUEUED`] through JetStream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durable {
    /// When the server has JetStream (`$JS.API.INFO` answers); without it,
    /// one line on stderr says the durable listener is off.
    #[default]
    IfAvailable,
    /// Never: no JetStream request at start and no line (for a server
    /// known to run without JetStream, where the line would be noise).
    Off,
}

/// Event counters of one service instance (for tests and metrics).
#[derive(Debug, Default)]
pub struct EventCounts {
    core: AtomicU64,
    jetstream: AtomicU64,
    dead_lettered: AtomicU64,
    effects: AtomicU64,
}

impl EventCounts {
    /// Core `orders.placed` events processed (an effect was published).
    pub fn core(&self) -> u64 {
        self.core.load(Ordering::Relaxed)
    }

    /// JetStream `orders.queued` messages processed and acknowledged.
    pub fn jetstream(&self) -> u64 {
        self.jetstream.load(Ordering::Relaxed)
    }

    /// Events sent to the dead-letter subject.
    pub fn dead_lettered(&self) -> u64 {
        self.dead_lettered.load(Ordering::Relaxed)
    }

    /// `order.processed` effects published, by events and `process_order`.
    pub fn effects(&self) -> u64 {
        self.effects.load(Ordering::Relaxed)
    }
}

/// What became of an order: the effect's `status` (and `reason`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Saved.
    Processed,
    /// Refused by a business rule (fraud, stock, limits), with the reason.
    Refused(String),
}

/// The keyword arguments of an effect (`publish_event`'s `kw`).
#[derive(Debug, Serialize)]
struct EffectArgs<'a> {
    order_id: &'a str,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}

/// The body of an `order.processed` effect, as Cliffracer's
/// `publish_event(subject, **kw)` writes it: `{**kw, "data": kw, "timestamp",
/// "source_service", "correlation_id"}`. Encoded straight from borrowed
/// fields (`kw` spelled out, not `#[serde(flatten)]`, which goes through a
/// map): `process_order` publishes one per call.
#[derive(Debug, Serialize)]
struct Effect<'a> {
    order_id: &'a str,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    data: &'a EffectArgs<'a>,
    timestamp: String,
    source_service: &'static str,
    correlation_id: &'a str,
}

/// Publishes effects and dead letters on the service's connection.
#[derive(Debug)]
pub(crate) struct Publisher {
    client: Client,
    effect_subject: String,
}

impl Publisher {
    pub(crate) fn new(client: Client, namespace: Option<&str>) -> Self {
        Self {
            client,
            effect_subject: prefixed(namespace, PROCESSED),
        }
    }

    /// Publishes the effect of order `order_id` for the event or request
    /// `correlation_id`.
    pub(crate) async fn effect(
        &self,
        counts: &EventCounts,
        correlation_id: &str,
        order_id: &str,
        outcome: &Outcome,
    ) -> Result<(), async_nats::PublishError> {
        let args = match outcome {
            Outcome::Processed => EffectArgs {
                order_id,
                status: "processed",
                reason: None,
            },
            Outcome::Refused(why) => EffectArgs {
                order_id,
                status: "refused",
                reason: Some(why),
            },
        };
        let effect = Effect {
            order_id: args.order_id,
            status: args.status,
            reason: args.reason,
            data: &args,
            timestamp: timestamp(),
            source_service: NAME,
            correlation_id,
        };
        // Plain data: encoding cannot fail.
        let body = serde_json::to_vec(&effect).unwrap_or_default();
        let subject = self.effect_subject.clone();
        self.client
            .publish_with_headers(subject, event_headers(correlation_id), body.into())
            .await?;
        counts.effects.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Sends `body` to the dead-letter subject.
    async fn dead_letter(&self, counts: &EventCounts, correlation_id: &str, body: &Value) {
        let body = serde_json::to_vec(body).unwrap_or_default();
        let headers = event_headers(correlation_id);
        // A dead letter that cannot be sent has nowhere else to go; the
        // connection is gone and the counter says so by not moving.
        if self
            .client
            .publish_with_headers(DEAD_LETTER, headers, body.into())
            .await
            .is_ok()
        {
            counts.dead_lettered.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The headers of Cliffracer's `publish_event` and dead letters.
fn event_headers(correlation_id: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(headers::CORRELATION_ID, correlation_id);
    h.insert("correlation_id", correlation_id);
    h.insert(headers::CONTENT_TYPE, headers::JSON);
    h
}

fn prefixed(namespace: Option<&str>, subject: &str) -> String {
    match namespace {
        Some(ns) if !ns.is_empty() => format!("{ns}.{subject}"),
        _ => subject.to_owned(),
    }
}

/// The listeners of one service instance, subscribed, not yet consuming.
pub(crate) struct Listeners {
    core: Subscriber,
    durable: Option<PullConsumer>,
    publisher: Arc<Publisher>,
}

impl Listeners {
    /// Subscribes the core listener and, when the server has JetStream,
    /// makes (or finds) the stream and the durable consumer. Runs before the
    /// service registers, so a service that answers `$SRV.PING` has them.
    pub(crate) async fn start(
        client: &Client,
        namespace: Option<&str>,
        durable: Durable,
    ) -> Result<Self, ServiceError> {
        let core = client
            .subscribe(prefixed(namespace, PLACED))
            .await
            .map_err(|e| ServiceError::Start {
                name: NAME.to_owned(),
                message: format!("cannot subscribe to {}: {e}", prefixed(namespace, PLACED)),
            })?;
        let durable = match durable {
            Durable::IfAvailable => durable_consumer(client, &prefixed(namespace, QUEUED)).await,
            Durable::Off => None,
        };
        Ok(Self {
            core,
            durable,
            publisher: Arc::new(Publisher::new(client.clone(), namespace)),
        })
    }

    /// The publisher `process_order` shares for its effects.
    pub(crate) fn publisher(&self) -> Arc<Publisher> {
        self.publisher.clone()
    }

    /// Handles events until `shutdown`: each on its own task, at most
    /// `max_in_flight` at once per listener (further events wait in the
    /// subscription, as RPC requests do).
    pub(crate) async fn run(
        self,
        service: Arc<OrderService>,
        max_in_flight: usize,
        shutdown: impl Future<Output = ()>,
    ) {
        let core = listen_core(self.core, &service, &self.publisher, max_in_flight);
        let durable = async {
            match self.durable {
                Some(c) => listen_durable(c, &service, &self.publisher, max_in_flight).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = shutdown => {}
            () = core => {}
            () = durable => {}
        }
    }
}

async fn listen_core(
    mut sub: Subscriber,
    service: &Arc<OrderService>,
    publisher: &Arc<Publisher>,
    max_in_flight: usize,
) {
    let permits = Arc::new(Semaphore::new(max_in_flight.max(1)));
    while let Some(msg) = sub.next().await {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        let (service, publisher) = (service.clone(), publisher.clone());
        tokio::spawn(async move {
            if let Handled::Effect = handle(&service, &publisher, &msg, 1).await {
                service.event_counts().core.fetch_add(1, Ordering::Relaxed);
            }
            drop(permit);
        });
    }
}

/// Consumes the durable: processes, publishes the effect, then acks; a dead
/// letter is terminated; a message whose effect could not be published is
/// redelivered (after a delay), and dead-lettered at its last delivery.
async fn listen_durable(
    consumer: PullConsumer,
    service: &Arc<OrderService>,
    publisher: &Arc<Publisher>,
    max_in_flight: usize,
) {
    let batch = max_in_flight.clamp(1, 100);
    let mut messages = match consumer
        .stream()
        .max_messages_per_batch(batch)
        .messages()
        .await
    {
        Ok(m) => m,
        Err(e) => {
            eprintln!("{NAME}: cannot consume {DURABLE}: {e}; the durable listener is off");
            return;
        }
    };
    let permits = Arc::new(Semaphore::new(max_in_flight.max(1)));
    while let Some(next) = messages.next().await {
        let msg = match next {
            Ok(m) => m,
            // Missed heartbeats, a server going away: the stream retries.
            Err(e) => {
                eprintln!("{NAME}: consuming {DURABLE}: {e}");
                continue;
            }
        };
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        let (service, publisher) = (service.clone(), publisher.clone());
        tokio::spawn(async move {
            let delivered = msg.info().map_or(1, |i| i.delivered);
            let ack = match handle(&service, &publisher, &msg.message, delivered).await {
                Handled::Effect => {
                    service
                        .event_counts()
                        .jetstream
                        .fetch_add(1, Ordering::Relaxed);
                    AckKind::Ack
                }
                Handled::DeadLettered => AckKind::Term,
                Handled::Retry => AckKind::Nak(Some(Duration::from_secs(1))),
            };
            // A lost ack means a redelivery after ack_wait: nothing to do here.
            let _ = msg.ack_with(ack).await;
            drop(permit);
        });
    }
}

/// The durable consumer of `subject`, or `None` (said on stderr) when the
/// server has no JetStream or the consumer cannot be had.
async fn durable_consumer(client: &Client, subject: &str) -> Option<PullConsumer> {
    if let Err(why) = jetstream_info(client).await {
        eprintln!(
            "{NAME}: no JetStream on this server ($JS.API.INFO: {why}): the durable listener on \
             {subject} is off (start nats-server with -js to have it); RPC and {PLACED} are served"
        );
        return None;
    }
    let js = jetstream::new(client.clone());
    match consumer_on(&js, subject).await {
        Ok(c) => Some(c),
        Err(e) => {
            eprintln!("{NAME}: the durable listener on {subject} is off: {e}");
            None
        }
    }
}

/// `Ok` when `$JS.API.INFO` answers with the account's JetStream usage.
/// Read raw: async-nats' `Account` wants fields nats-server 2.9 does not
/// send. Without JetStream the server answers an error (2.9: "JetStream
/// unavailable"), or nothing answers.
async fn jetstream_info(client: &Client) -> Result<(), String> {
    let request = client.request("$JS.API.INFO", Bytes::new());
    let reply = match tokio::time::timeout(Duration::from_secs(5), request).await {
        Ok(Ok(m)) => m,
        Ok(Err(e)) => return Err(e.to_string()),
        Err(_) => return Err("no answer within 5 s".into()),
    };
    let info: Value = serde_json::from_slice(&reply.payload).unwrap_or(Value::Null);
    match info.get("error") {
        None if info.is_object() => Ok(()),
        None => Err("not a JSON object".into()),
        Some(e) => Err(e
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("an error")
            .to_owned()),
    }
}

/// Finds or makes the stream and the consumer. Replicas starting together
/// race: a create that fails because another replica just made the same
/// thing is followed by a look-up.
async fn consumer_on(js: &jetstream::Context, subject: &str) -> Result<PullConsumer, String> {
    let stream = stream_for(js, subject).await?;
    let config = pull::Config {
        durable_name: Some(DURABLE.to_owned()),
        filter_subject: subject.to_owned(),
        ack_policy: AckPolicy::Explicit,
        ack_wait: Duration::from_secs(30),
        max_ack_pending: 1000,
        max_deliver: MAX_DELIVER,
        ..Default::default()
    };
    match stream.get_or_create_consumer(DURABLE, config).await {
        Ok(c) => Ok(c),
        Err(first) => stream.get_consumer(DURABLE).await.map_err(|_| {
            format!(
                "cannot create the pull consumer {DURABLE} on stream {}: {first} \
                 (a push consumer of that name? delete it: nats consumer rm {} {DURABLE})",
                stream.cached_info().config.name,
                stream.cached_info().config.name
            )
        }),
    }
}

/// The stream that captures `subject` (whatever its name: one a load
/// tester made for its run will do), else a new [`STREAM`].
async fn stream_for(js: &jetstream::Context, subject: &str) -> Result<stream::Stream, String> {
    if let Ok(name) = js.stream_by_subject(subject).await {
        return js
            .get_stream(&name)
            .await
            .map_err(|e| format!("cannot read stream {name}: {e}"));
    }
    let config = stream::Config {
        name: STREAM.to_owned(),
        subjects: vec![subject.to_owned()],
        storage: stream::StorageType::File,
        discard: stream::DiscardPolicy::Old,
        max_messages: -1,
        max_bytes: -1,
        ..Default::default()
    };
    match js.create_stream(config).await {
        Ok(_) => {}
        Err(first) if js.get_stream(STREAM).await.is_err() => {
            return Err(format!(
                "cannot create stream {STREAM} on {subject}: {first}"
            ));
        }
        Err(_) => {}
    }
    js.get_stream(STREAM)
        .await
        .map_err(|e| format!("cannot read stream {STREAM}: {e}"))
}

/// What became of one event.
enum Handled {
    /// Processed; the effect was published.
    Effect,
    /// Sent to the dead-letter subject: no effect, never to be retried.
    DeadLettered,
    /// Processed, but the effect could not be published.
    Retry,
}

/// An event that cannot be processed, and why.
enum Rejected {
    Undecodable(String),
    Invalid(Vec<ErrorDetail>),
}

/// The keyword arguments of an event read straight from its bytes, the
/// common case (as RPC's fast way): only `order` and `correlation_id`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PlacedKwargs {
    order: Box<ComplexOrder>,
    correlation_id: Option<String>,
}

/// Processes one event (`deliveries`: its delivery count, 1 on core NATS).
async fn handle(
    service: &OrderService,
    publisher: &Publisher,
    msg: &Message,
    deliveries: i64,
) -> Handled {
    let header_corr = msg.headers.as_ref().and_then(correlation_from_headers);
    let codec = crate::cliffracer::codec_of(msg);
    let counts = service.event_counts();
    let (order, body_corr) = match read_event(service, codec, &msg.payload) {
        Ok(read) => read,
        Err(rejected) => {
            let (corr, letter) = dead_letter(msg, codec, header_corr, rejected, deliveries);
            publisher.dead_letter(counts, &corr, &letter).await;
            return Handled::DeadLettered;
        }
    };
    let corr = header_corr
        .or(body_corr)
        .or_else(new_correlation_id)
        .unwrap_or_default();
    let outcome = service.process_event(&order).await;
    match publisher
        .effect(counts, &corr, &order.order_id, &outcome)
        .await
    {
        Ok(()) => Handled::Effect,
        Err(e) if deliveries >= MAX_DELIVER => {
            let why = format!("cannot publish the effect: {e}");
            let letter = terminated(msg, codec, &corr, &why, deliveries);
            publisher.dead_letter(counts, &corr, &letter).await;
            Handled::DeadLettered
        }
        Err(_) => Handled::Retry,
    }
}

/// The order of an event, validated, with the body's correlation id.
fn read_event(
    service: &OrderService,
    codec: Option<Codec>,
    payload: &Bytes,
) -> Result<(Box<ComplexOrder>, Option<String>), Rejected> {
    let fast = RawKwargs::json_object(codec, payload).and_then(|r| r.decode::<PlacedKwargs>());
    let (order, corr) = match fast {
        Some(k) => (k.order, k.correlation_id),
        None => {
            let body = decode(codec, payload).map_err(Rejected::Undecodable)?;
            let corr = body_correlation(&body);
            let kwargs = event_kwargs(body)?;
            (service.read_order(kwargs).map_err(Rejected::Invalid)?, corr)
        }
    };
    let order = service.check_order(order).map_err(Rejected::Invalid)?;
    Ok((order, corr))
}

fn body_correlation(body: &Value) -> Option<String> {
    body.get("correlation_id")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// The keyword arguments of an event body: the `data` of a `publish_event`
/// envelope (it has `data`, `timestamp` and `source_service`, as Cliffracer
/// tells one apart), else the body without the keys `publish_event` adds.
fn event_kwargs(body: Value) -> Result<Map<String, Value>, Rejected> {
    let mut map = match body {
        Value::Object(m) => m,
        other => return Err(Rejected::Invalid(vec![not_an_object(other)])),
    };
    let enveloped = map.get("data").is_some_and(Value::is_object)
        && map.contains_key("timestamp")
        && map.contains_key("source_service");
    if enveloped && let Some(Value::Object(data)) = map.remove("data") {
        map = data;
    }
    for added in ["data", "timestamp", "source_service", "correlation_id"] {
        map.remove(added);
    }
    Ok(map)
}

fn not_an_object(input: Value) -> ErrorDetail {
    ErrorDetail {
        kind: "model_type".into(),
        loc: vec![],
        msg: format!("Input should be a valid dictionary or instance of {SCHEMA}"),
        input: Some(input),
        ctx: Some(json!({"class_name": SCHEMA})),
    }
}

/// A dead letter and its correlation id, in Cliffracer's formats
/// (`core/dispatch/dlq.py`): `handle_invalid_message` for a validation
/// failure, `dead_letter_decode_error` for a body that does not decode.
fn dead_letter(
    msg: &Message,
    codec: Option<Codec>,
    header_corr: Option<String>,
    rejected: Rejected,
    deliveries: i64,
) -> (String, Value) {
    let subject = msg.subject.as_str();
    match rejected {
        Rejected::Undecodable(why) => {
            let corr = header_corr.or_else(new_correlation_id).unwrap_or_default();
            let raw = String::from_utf8_lossy(&msg.payload);
            let letter = json!({
                "original_subject": subject,
                "error": format!("Decode error: {why}"),
                "service": NAME,
                "deliveries": deliveries,
                "payload": {"raw": raw},
                "correlation_id": corr,
            });
            (corr, letter)
        }
        Rejected::Invalid(errors) => {
            // Failure path only: the body again, as sent, for the letter.
            let payload = decode(codec, &msg.payload).unwrap_or(Value::Null);
            let corr = header_corr
                .or_else(|| body_correlation(&payload))
                .or_else(new_correlation_id)
                .unwrap_or_default();
            let letter = json!({
                "original_subject": subject,
                "errors": errors,
                "service": NAME,
                "schema": SCHEMA,
                "payload": payload,
                "correlation_id": corr,
            });
            (corr, letter)
        }
    }
}

/// Cliffracer's `dead_letter_terminated`: a JetStream message given up on.
fn terminated(
    msg: &Message,
    codec: Option<Codec>,
    corr: &str,
    why: &str,
    deliveries: i64,
) -> Value {
    let payload = decode(codec, &msg.payload)
        .unwrap_or_else(|_| json!({"raw": String::from_utf8_lossy(&msg.payload)}));
    json!({
        "original_subject": msg.subject.as_str(),
        "error": why,
        "service": NAME,
        "deliveries": deliveries,
        "payload": payload,
        "correlation_id": corr,
    })
}

//! The engine's [`Transport`] over Celery, for the framework comparison: a
//! task's request goes to a real Celery worker as a Celery protocol-2
//! message on a Redis broker, and its result comes back from the Redis
//! result backend.
//!
//! - **Task names.** A task's subject `{service}.rpc.{method}` (the
//!   Cliffracer RPC) maps to the Celery task `{service}.{method}`, e.g.
//!   `order_processing_service.process_order`; its body (a JSON object of
//!   keyword arguments) becomes the task's kwargs.
//! - **Sending.** The message (kombu's envelope: `body` as base64 of
//!   `[args, kwargs, embed]`, `headers` with `task` and `id`, `properties`
//!   with the routing key) is pushed on the queue's list (`celery` by
//!   default), as `celery.send_task` does.
//! - **Results.** The Redis backend stores a task's result under
//!   `celery-task-meta-{id}` and publishes it on the channel of the same
//!   name; each worker thread subscribes to `celery-task-meta-*` once and
//!   hands each result to the request waiting for its id, so a request costs
//!   one LPUSH and one message, with no polling.
//! - **Outcome.** A `SUCCESS` result is the service's reply: the peers
//!   return the Cliffracer envelope, judged by the same classifier as a NATS
//!   reply. A `FAILURE` (the task raised) is a service error; no result
//!   within the task's timeout is a timeout.
//!
//! Key types: [`CeleryTarget`], [`CeleryConnector`], [`CeleryTransport`],
//! [`CeleryError`].

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use cliffload_engine::{Connector, Payload, Reply, ReplyRules, Transport};
use cliffload_metrics::Outcome;
use cliffload_protocol::RequestSpec;
use futures_util::StreamExt;
use redis::AsyncCommands;
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// Why the Celery side of a comparison cannot run.
#[derive(Debug, thiserror::Error)]
pub enum CeleryError {
    /// The task's subject has no `.rpc.`, so no Celery task name.
    #[error(
        "task {task}: subject '{subject}' is not `service.rpc.method`, so it has no Celery task"
    )]
    NotRpc {
        /// Task name.
        task: String,
        /// Its subject.
        subject: String,
    },
    /// The broker URL is not a Redis URL.
    #[error("'{url}' is not a Redis URL (redis://HOST:PORT[/DB]): {reason}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// Why.
        reason: String,
    },
    /// Redis could not be reached or refused a command.
    #[error("Redis at {url}: {reason}; is redis-server running there?")]
    Redis {
        /// The broker URL.
        url: String,
        /// What Redis or the connection said.
        reason: String,
    },
}

/// Whether the Redis broker at `url` answers `PING`.
pub async fn ping(url: &str) -> Result<(), CeleryError> {
    let error = |e: redis::RedisError| CeleryError::Redis {
        url: url.to_owned(),
        reason: e.to_string(),
    };
    let client = redis::Client::open(url).map_err(|e| CeleryError::BadUrl {
        url: url.to_owned(),
        reason: e.to_string(),
    })?;
    let mut c = client
        .get_multiplexed_async_connection()
        .await
        .map_err(error)?;
    redis::cmd("PING")
        .query_async::<String>(&mut c)
        .await
        .map(drop)
        .map_err(error)
}

/// Where one task's requests go.
#[derive(Debug, Clone)]
pub struct CeleryTarget {
    /// Task name in reports.
    pub name: String,
    /// The Celery task: `{service}.{method}`.
    pub task: String,
    timeout: Duration,
    rules: ReplyRules,
}

impl CeleryTarget {
    /// The Celery task of `request` (`{service}.rpc.{method}` →
    /// `{service}.{method}`).
    pub fn of(name: &str, request: &RequestSpec) -> Result<Self, CeleryError> {
        let subject = request.subject.as_str();
        let Some((service, method)) = subject.split_once(".rpc.") else {
            return Err(CeleryError::NotRpc {
                task: name.to_owned(),
                subject: subject.to_owned(),
            });
        };
        Ok(Self {
            name: name.to_owned(),
            task: format!("{service}.{method}"),
            timeout: request.timeout,
            rules: ReplyRules::of(request),
        })
    }
}

/// Makes one [`CeleryTransport`] (a command connection and a result
/// subscription) per worker thread.
#[derive(Debug, Clone)]
pub struct CeleryConnector {
    url: String,
    queue: String,
    targets: Arc<[CeleryTarget]>,
}

impl CeleryConnector {
    /// A connector for `targets` (plan order) on the broker at `url`,
    /// sending to `queue`.
    pub fn new(url: &str, queue: &str, targets: Vec<CeleryTarget>) -> Self {
        Self {
            url: url.to_owned(),
            queue: queue.to_owned(),
            targets: targets.into(),
        }
    }

    fn error(&self, e: &redis::RedisError) -> CeleryError {
        CeleryError::Redis {
            url: self.url.clone(),
            reason: e.to_string(),
        }
    }
}

/// Requests waiting for their result, by task id.
type Waiting = Rc<RefCell<HashMap<String, oneshot::Sender<Value>>>>;

impl Connector for CeleryConnector {
    type Transport = CeleryTransport;
    type Error = CeleryError;

    async fn connect(&self, _worker: usize) -> Result<CeleryTransport, CeleryError> {
        let client = redis::Client::open(self.url.as_str()).map_err(|e| CeleryError::BadUrl {
            url: self.url.clone(),
            reason: e.to_string(),
        })?;
        let commands = client
            .get_multiplexed_async_connection()
            .await
            .map_err(|e| self.error(&e))?;
        let mut results = client
            .get_async_pubsub()
            .await
            .map_err(|e| self.error(&e))?;
        results
            .psubscribe("celery-task-meta-*")
            .await
            .map_err(|e| self.error(&e))?;
        let waiting: Waiting = Rc::default();
        let listener = tokio::task::spawn_local(deliver(results, waiting.clone()));
        Ok(CeleryTransport {
            commands,
            queue: self.queue.clone(),
            targets: self.targets.clone(),
            waiting,
            listener,
        })
    }
}

/// Hands each published result to the request waiting for it.
async fn deliver(results: redis::aio::PubSub, waiting: Waiting) {
    let mut stream = results.into_on_message();
    while let Some(msg) = stream.next().await {
        let Ok(payload) = msg.get_payload::<Vec<u8>>() else {
            continue;
        };
        let Ok(meta) = serde_json::from_slice::<Value>(&payload) else {
            continue;
        };
        let Some(id) = meta.get("task_id").and_then(Value::as_str) else {
            continue;
        };
        if let Some(tx) = waiting.borrow_mut().remove(id) {
            let _ = tx.send(meta);
        }
    }
}

/// One worker thread's Celery client.
#[derive(Debug)]
pub struct CeleryTransport {
    commands: redis::aio::MultiplexedConnection,
    queue: String,
    targets: Arc<[CeleryTarget]>,
    waiting: Waiting,
    listener: tokio::task::JoinHandle<()>,
}

impl Drop for CeleryTransport {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

impl Transport for CeleryTransport {
    async fn call(&self, task: usize, payload: &Payload) -> Reply {
        let target = &self.targets[task];
        let id = uuid::Uuid::new_v4().to_string();
        let (tx, rx) = oneshot::channel();
        self.waiting.borrow_mut().insert(id.clone(), tx);
        let message = message(&target.task, &id, &self.queue, &payload.body);
        let mut commands = self.commands.clone();
        let pushed: redis::RedisResult<()> = commands.lpush(&self.queue, message).await;
        if let Err(e) = pushed {
            self.waiting.borrow_mut().remove(&id);
            return Reply::with_detail(Outcome::Transport, format!("LPUSH {}: {e}", self.queue));
        }
        match tokio::time::timeout(target.timeout, rx).await {
            Ok(Ok(meta)) => reply_of(target, payload.injected, &meta),
            Ok(Err(_)) => Reply::with_detail(Outcome::Transport, "the result subscription closed"),
            Err(_) => {
                self.waiting.borrow_mut().remove(&id);
                Reply::with_detail(
                    Outcome::Timeout,
                    format!(
                        "no result within {} ms (is a Celery worker consuming queue {}?)",
                        target.timeout.as_millis(),
                        self.queue
                    ),
                )
            }
        }
    }
}

/// What a task's stored result means.
fn reply_of(target: &CeleryTarget, injected: Option<&str>, meta: &Value) -> Reply {
    match meta.get("status").and_then(Value::as_str) {
        Some("SUCCESS") => {
            let body =
                serde_json::to_vec(meta.get("result").unwrap_or(&Value::Null)).unwrap_or_default();
            let content_type = Some("application/json");
            let kind = target.rules.kind(content_type, None, &body);
            target
                .rules
                .judge(&kind, injected, content_type, None, &body)
        }
        Some("FAILURE")
            if meta.pointer("/result/exc_type").and_then(Value::as_str)
                == Some("NotRegistered") =>
        {
            // Celery's counterpart of NATS's no responders.
            Reply::with_detail(
                Outcome::NoResponders,
                format!("no Celery worker has task {} registered", target.task),
            )
        }
        Some(status) => Reply::with_detail(
            Outcome::ServiceError,
            format!(
                "Celery task {} {status}: {}",
                target.task,
                meta.get("result").map(Value::to_string).unwrap_or_default()
            ),
        ),
        None => Reply::with_detail(Outcome::Decode, "a Celery result without a status"),
    }
}

/// The Celery protocol-2 message for task `task` with id `id` and the JSON
/// object `kwargs` as its keyword arguments, as kombu's Redis transport
/// stores it on the queue's list.
pub fn message(task: &str, id: &str, queue: &str, kwargs: &[u8]) -> Vec<u8> {
    // [args, kwargs, embed], with the kwargs' bytes as they are (already JSON).
    let mut body = Vec::with_capacity(kwargs.len() + 96);
    body.extend_from_slice(b"[[], ");
    body.extend_from_slice(if kwargs.is_empty() { b"{}" } else { kwargs });
    body.extend_from_slice(
        br#", {"callbacks": null, "errbacks": null, "chain": null, "chord": null}]"#,
    );
    let envelope = json!({
        "body": base64::engine::general_purpose::STANDARD.encode(&body),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": {
            "lang": "py",
            "task": task,
            "id": id,
            "shadow": null,
            "eta": null,
            "expires": null,
            "group": null,
            "group_index": null,
            "retries": 0,
            "timelimit": [null, null],
            "root_id": id,
            "parent_id": null,
            "argsrepr": "()",
            "kwargsrepr": "{...}",
            "origin": "cliffload",
            "ignore_result": false,
        },
        "properties": {
            "correlation_id": id,
            "reply_to": "",
            "delivery_mode": 2,
            "delivery_info": {"exchange": "", "routing_key": queue},
            "priority": 0,
            "body_encoding": "base64",
            "delivery_tag": id,
        },
    });
    serde_json::to_vec(&envelope).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_carries_the_task_its_id_and_the_kwargs_as_they_are() {
        let m: Value = serde_json::from_slice(&message("svc.m", "id-1", "celery", br#"{"a": 1}"#))
            .expect("JSON");
        assert_eq!(m["headers"]["task"], "svc.m");
        assert_eq!(m["headers"]["id"], "id-1");
        assert_eq!(m["properties"]["delivery_info"]["routing_key"], "celery");
        let body = base64::engine::general_purpose::STANDARD
            .decode(m["body"].as_str().expect("body"))
            .expect("base64");
        let body: Value = serde_json::from_slice(&body).expect("body is JSON");
        assert_eq!(body[0], json!([]));
        assert_eq!(body[1], json!({"a": 1}));
        assert!(body[2]["callbacks"].is_null());
    }

    #[test]
    fn a_subject_maps_to_service_dot_method() {
        let spec = RequestSpec {
            subject: "order_processing_service.rpc.process_order".into(),
            protocol: cliffload_protocol::Protocol::Cliffracer,
            timeout: Duration::from_secs(5),
            codec: cliffload_protocol::Codec::Json,
            headers: true,
            expect: cliffload_protocol::ReplyExpect::default(),
            keep_reply: false,
            send: Default::default(),
            observe: None,
        };
        let t = CeleryTarget::of("t", &spec).expect("rpc subject");
        assert_eq!(t.task, "order_processing_service.process_order");
        let not_rpc = RequestSpec {
            subject: "orders.create".into(),
            ..spec
        };
        assert!(matches!(
            CeleryTarget::of("t", &not_rpc),
            Err(CeleryError::NotRpc { .. })
        ));
    }
}

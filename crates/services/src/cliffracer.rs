//! The server side of the Cliffracer protocol (protocol doc §11 checklist).
//!
//! A service subscribes to `{ns.}{svc}.rpc.*` and `{ns.}{svc}.describe` in
//! queue group `{ns.}{svc}.rpc`, and to `{ns.}{svc}.async.*` in queue group
//! `{ns.}{svc}.async`, through the NATS service API, so `$SRV.PING`,
//! `$SRV.INFO` and `$SRV.STATS` also answer (Cliffracer itself has no `$SRV`;
//! this is an addition that lets a load tester read the service's own count).

use std::future::Future;
use std::sync::Arc;

use async_nats::service::endpoint::Endpoint;
use async_nats::service::{Request, Service, ServiceExt};
use async_nats::{Client, HeaderMap, Message};
use bytes::Bytes;
use cliffload_protocol::{
    Codec, Envelope, ErrorDetail, INTERNAL_ERROR_PREFIX, REFUSED_PREFIX, UNKNOWN_METHOD_PREFIX,
    VALIDATION_FAILED, headers, subject,
};
use futures_util::StreamExt;
use serde_json::{Map, Value, json};
use tokio::sync::Semaphore;

use crate::kwargs::RawKwargs;

/// A method, for `describe`.
#[derive(Debug, Clone, Copy)]
pub struct Method {
    /// Name: the last subject token.
    pub name: &'static str,
    /// One-line description.
    pub doc: &'static str,
    /// Parameters: name and Python-style type.
    pub params: &'static [(&'static str, &'static str)],
}

/// What a handler answers.
#[derive(Debug)]
pub enum Reply {
    /// Success with a result.
    Ok(Value),
    /// The arguments failed validation: every error found.
    Invalid(Vec<ErrorDetail>),
    /// A deliberate refusal (business rule): `refused: {reason}`.
    Refused(String),
    /// The method does not exist.
    Unknown,
    /// The handler failed; the client sees no internals.
    Internal,
}

/// A service's methods.
pub trait Handler: Send + Sync + 'static {
    /// Service name (subject prefix, `$SRV` name).
    fn name(&self) -> &str;
    /// Its methods, for `describe` and unknown-method checks.
    fn methods(&self) -> &[Method];
    /// Runs `method` with its keyword arguments (`correlation_id` removed).
    /// Every refusal of a request's shape is written here.
    fn call(&self, method: &str, args: Map<String, Value>) -> impl Future<Output = Reply> + Send;

    /// The fast way: decodes `args` straight into `method`'s typed
    /// arguments and returns the call to run, with the body's
    /// `correlation_id` when it is a string. `None` (the default: no method
    /// has a fast way) sends the request to [`Handler::call`]. Answer `None`
    /// on any doubt (a decode error, a method without typed arguments): the
    /// reply must be the one `call` would give.
    fn call_typed(
        &self,
        method: &str,
        args: RawKwargs<'_>,
    ) -> Option<(impl Future<Output = Reply> + Send, Option<String>)> {
        let _ = (method, args);
        None::<(std::future::Ready<Reply>, Option<String>)>
    }
}

/// How a service runs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Subject prefix (`{ns}.{svc}.rpc.*`), if any.
    pub namespace: Option<String>,
    /// Requests handled at once; further requests wait in the subscription
    /// (as with Cliffracer, overload means late or no replies, never an error envelope).
    pub max_in_flight: usize,
    /// Larger request bodies get a `validation failed` envelope, unread.
    pub max_request_bytes: usize,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            namespace: None,
            max_in_flight: 1024,
            max_request_bytes: crate::MAX_REQUEST_BYTES,
        }
    }
}

/// Why a service could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Registration or subscription failed.
    #[error("cannot start service {name}: {message}")]
    Start {
        /// Service name.
        name: String,
        /// The client's error.
        message: String,
    },
    /// The service did not answer `$SRV.PING` in time.
    #[error("service {name} did not answer {subject} within {waited_s} s")]
    NotReady {
        /// Service name.
        name: String,
        /// The ping subject.
        subject: String,
        /// How long it was given, in seconds.
        waited_s: f64,
    },
}

/// Serves `handler` on `client` until `shutdown` completes.
pub async fn serve<H: Handler>(
    client: Client,
    handler: Arc<H>,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServiceError> {
    let Registered {
        service,
        mut rpc,
        mut describe,
        mut fire_and_forget,
    } = register(&client, handler.name(), options.namespace.as_deref()).await?;
    let description = describe_body(&*handler);
    let permits = Arc::new(Semaphore::new(options.max_in_flight.max(1)));
    let limit = options.max_request_bytes;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(req) = rpc.next() => {
                let Ok(permit) = permits.clone().acquire_owned().await else { break };
                let handler = handler.clone();
                tokio::spawn(async move {
                    let (headers, body) = handle(&*handler, &req.message, limit).await;
                    respond(&req, headers, body).await;
                    drop(permit);
                });
            }
            Some(req) = describe.next() => {
                let headers = req.message.headers.clone().unwrap_or_default();
                respond(&req, headers, description.clone()).await;
            }
            Some(req) = fire_and_forget.next() => {
                // Runs the handler, never replies (protocol doc §2).
                let Ok(permit) = permits.clone().acquire_owned().await else { break };
                let handler = handler.clone();
                tokio::spawn(async move {
                    let _ = handle(&*handler, &req.message, limit).await;
                    drop(permit);
                });
            }
            else => break,
        }
    }
    let _ = service.stop().await;
    Ok(())
}

/// A service registered with the NATS service API, and its three endpoints.
struct Registered {
    service: Service,
    rpc: Endpoint,
    describe: Endpoint,
    fire_and_forget: Endpoint,
}

/// Registers service `name`: `rpc` and `describe` share one queue group, so
/// replicas split them; `async` has its own.
async fn register(
    client: &Client,
    name: &str,
    namespace: Option<&str>,
) -> Result<Registered, ServiceError> {
    let start_err = |e: &dyn std::fmt::Display| ServiceError::Start {
        name: name.to_owned(),
        message: e.to_string(),
    };
    let rpc_group = subject::rpc_queue_group(namespace, name);
    let service = client
        .service_builder()
        .description(format!(
            "cliffload reference service `{name}` (Cliffracer protocol)"
        ))
        .queue_group(&rpc_group)
        .start(name, env!("CARGO_PKG_VERSION"))
        .await
        .map_err(|e| start_err(&e))?;
    let endpoint = |ep: &'static str, subj: String, group: String| {
        let builder = service.endpoint_builder().name(ep).queue_group(group);
        async move { builder.add(subj).await.map_err(|e| start_err(&e)) }
    };
    let rpc = endpoint(
        "rpc",
        subject::rpc_wildcard(namespace, name),
        rpc_group.clone(),
    )
    .await?;
    let describe = endpoint("describe", subject::describe(namespace, name), rpc_group).await?;
    let fire_and_forget = endpoint(
        "async",
        subject::async_wildcard(namespace, name),
        subject::async_queue_group(namespace, name),
    )
    .await?;
    Ok(Registered {
        service,
        rpc,
        describe,
        fire_and_forget,
    })
}

async fn respond(req: &Request, headers: HeaderMap, body: Bytes) {
    // No reply subject (a plain publish) means no reply; a failed publish
    // means the client is gone: nothing to tell anyone either way.
    if req.message.reply.is_some() {
        let _ = req.respond_with_headers(Ok(body), headers).await;
    }
}

/// Processes one RPC message: returns the reply headers and body.
pub async fn handle<H: Handler>(
    handler: &H,
    msg: &Message,
    max_request_bytes: usize,
) -> (HeaderMap, Bytes) {
    let mut reply_headers = msg.headers.clone().unwrap_or_default();
    let header_corr = msg.headers.as_ref().and_then(correlation_from_headers);
    let codec = codec_of(msg);
    let method = subject::method_of(msg.subject.as_str());
    let envelope = envelope_for(
        handler,
        method,
        codec,
        &msg.payload,
        header_corr,
        max_request_bytes,
    )
    .await;
    let out_codec = codec.unwrap_or_else(|| Codec::sniff(&msg.payload));
    reply_headers.insert(headers::CONTENT_TYPE, out_codec.mime());
    // Envelopes are plain data: encoding cannot fail.
    let body = out_codec.encode(&envelope).unwrap_or_default();
    (reply_headers, Bytes::from(body))
}

/// The envelope answering `body` sent to `method`: decoding, the
/// unknown-method check, argument shape, correlation id, the handler's reply.
/// Shared by the NATS and HTTP front ends. A body the handler can decode
/// straight into typed arguments ([`Handler::call_typed`]) skips the rest:
/// it is a known method's object of valid keyword arguments, so none of
/// those checks could refuse it.
pub async fn envelope_for<H: Handler>(
    handler: &H,
    method: &str,
    codec: Option<Codec>,
    body: &[u8],
    header_corr: Option<String>,
    max_request_bytes: usize,
) -> Envelope {
    let now = timestamp();
    if body.len() > max_request_bytes {
        return invalid(too_large(body.len(), max_request_bytes), now, header_corr);
    }
    if let Some((call, body_corr)) =
        RawKwargs::json_object(codec, body).and_then(|raw| handler.call_typed(method, raw))
    {
        let corr = header_corr.or(body_corr).or_else(new_correlation_id);
        let reply = CORRELATION_ID.scope(corr.clone(), call).await;
        return reply_envelope(reply, method, timestamp(), corr);
    }
    let args = match decode(codec, body) {
        Ok(v) => v,
        Err(why) => return invalid(undecodable(&why), now, header_corr),
    };
    if !handler.methods().iter().any(|m| m.name == method) {
        return unknown_method(method, now, header_corr);
    }
    let mut args = match args {
        Value::Object(map) => map,
        other => {
            let d = not_keyword_args(handler.name(), method, other);
            return invalid(d, now, header_corr.or_else(new_correlation_id));
        }
    };
    let body_corr = match args.remove("correlation_id") {
        Some(Value::String(s)) => Some(s),
        _ => None,
    };
    let corr = header_corr.or(body_corr).or_else(new_correlation_id);
    let reply = CORRELATION_ID
        .scope(corr.clone(), handler.call(method, args))
        .await;
    reply_envelope(reply, method, timestamp(), corr)
}

fn invalid(detail: ErrorDetail, now: String, corr: Option<String>) -> Envelope {
    Envelope::err(VALIDATION_FAILED.into(), Some(vec![detail]), now, corr)
}

fn unknown_method(method: &str, now: String, corr: Option<String>) -> Envelope {
    Envelope::err(format!("{UNKNOWN_METHOD_PREFIX}{method}"), None, now, corr)
}

fn too_large(len: usize, max_request_bytes: usize) -> ErrorDetail {
    ErrorDetail {
        kind: "payload_too_large".into(),
        loc: vec!["__root__".into()],
        msg: format!("Request body of {len} bytes exceeds the limit of {max_request_bytes} bytes"),
        input: None,
        ctx: Some(json!({"max_bytes": max_request_bytes})),
    }
}

fn undecodable(why: &str) -> ErrorDetail {
    ErrorDetail {
        kind: "payload_invalid".into(),
        loc: vec!["__root__".into()],
        msg: format!("Invalid payload: {why}"),
        input: None,
        ctx: None,
    }
}

/// A body that is not a map of keyword arguments, in pydantic's words for
/// the method's payload class.
fn not_keyword_args(service: &str, method: &str, input: Value) -> ErrorDetail {
    let class = format!("{service}_{method}_Payload");
    ErrorDetail {
        kind: "model_type".into(),
        loc: vec![],
        msg: format!("Input should be a valid dictionary or instance of {class}"),
        input: Some(input),
        ctx: Some(json!({"class_name": class})),
    }
}

fn reply_envelope(reply: Reply, method: &str, now: String, corr: Option<String>) -> Envelope {
    match reply {
        Reply::Ok(v) => Envelope::ok(v, now, corr),
        Reply::Invalid(d) => Envelope::err(VALIDATION_FAILED.into(), Some(d), now, corr),
        Reply::Refused(reason) => {
            Envelope::err(format!("{REFUSED_PREFIX}{reason}"), None, now, corr)
        }
        Reply::Unknown => unknown_method(method, now, corr),
        Reply::Internal => {
            let id = corr.clone().unwrap_or_default();
            Envelope::err(
                format!("{INTERNAL_ERROR_PREFIX} (correlation_id: {id})"),
                None,
                now,
                corr,
            )
        }
    }
}

/// Decodes a body: empty is `{}`; with a Content-Type, that codec only;
/// The codec a message's `Content-Type` names, if it has one.
pub(crate) fn codec_of(msg: &Message) -> Option<Codec> {
    msg.headers
        .as_ref()
        .and_then(|h| find_header(h, headers::CONTENT_TYPE))
        .map(Codec::from_content_type)
}

/// without, JSON first and MsgPack second (as Cliffracer sniffs).
pub(crate) fn decode(codec: Option<Codec>, body: &[u8]) -> Result<Value, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    match codec {
        Some(c) => c.decode(body).map_err(|e| e.to_string()),
        None => Codec::Json
            .decode(body)
            .or_else(|e| Codec::MsgPack.decode(body).map_err(|_| e.to_string())),
    }
}

pub(crate) fn find_header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.iter()
        .find(|(k, _)| AsRef::<str>::as_ref(*k).eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.first())
        .map(|v| v.as_str())
}

pub(crate) fn correlation_from_headers(h: &HeaderMap) -> Option<String> {
    headers::CORRELATION_HEADERS
        .iter()
        .find_map(|name| find_header(h, name))
        .map(str::to_owned)
}

tokio::task_local! {
    /// The correlation id of the request a handler is running for, as
    /// Cliffracer's `CorrelationContext` holds it for a handler's
    /// `publish_event`: events a handler publishes carry its request's id
    /// without every handler taking it as an argument.
    static CORRELATION_ID: Option<String>;
}

/// The correlation id of the request the calling handler runs for (header,
/// else body, else a new `corr_` id); `None` outside a handler.
pub fn correlation_id() -> Option<String> {
    CORRELATION_ID.try_with(Clone::clone).ok().flatten()
}

/// A new correlation id, `corr_` + 16 hex digits, as Cliffracer makes one.
pub(crate) fn new_correlation_id() -> Option<String> {
    let hex = uuid::Uuid::new_v4().simple().to_string();
    Some(format!("corr_{}", &hex[..16]))
}

/// The endpoints [`serve`] registers, as `$SRV.INFO` names them.
pub const ENDPOINTS: [&str; 3] = ["rpc", "describe", "async"];

/// Whether a `$SRV.INFO` reply lists every endpoint of [`ENDPOINTS`]: the
/// service adds an endpoint to its info after subscribing it, so such a
/// replica takes requests. (`$SRV.PING` answers as soon as the service
/// starts, before its endpoints subscribe: a request sent then can meet no
/// responders.)
pub fn info_lists_endpoints(info: &[u8]) -> bool {
    let info: Value = serde_json::from_slice(info).unwrap_or(Value::Null);
    let names: Vec<&str> = info["endpoints"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["name"].as_str())
        .collect();
    ENDPOINTS.iter().all(|e| names.contains(e))
}

/// Waits until service `name` answers `$SRV.INFO.{name}` with all its
/// endpoints subscribed ([`info_lists_endpoints`]), polling until `timeout`.
pub async fn wait_ready(
    client: &Client,
    name: &str,
    timeout: std::time::Duration,
) -> Result<(), ServiceError> {
    let deadline = tokio::time::Instant::now() + timeout;
    let subject = format!("$SRV.INFO.{name}");
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let info = async_nats::Request::new()
            .timeout(Some(left.min(std::time::Duration::from_millis(250))));
        if let Ok(reply) = client.send_request(subject.clone(), info).await
            && info_lists_endpoints(&reply.payload)
        {
            return Ok(());
        }
        if left.is_zero() {
            return Err(ServiceError::NotReady {
                name: name.to_owned(),
                subject,
                waited_s: timeout.as_secs_f64(),
            });
        }
        // No responders comes back at once: give the service's task a turn.
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
}

/// Now, as Python's `datetime.now(timezone.utc).isoformat()` writes it.
pub fn timestamp() -> String {
    let now = jiff::Timestamp::now();
    format!(
        "{}.{:06}+00:00",
        now.strftime("%Y-%m-%dT%H:%M:%S"),
        now.subsec_microsecond()
    )
}

/// The `describe` reply: the service and its methods.
pub fn describe_body<H: Handler>(handler: &H) -> Bytes {
    let methods: Vec<Value> = handler
        .methods()
        .iter()
        .map(|m| {
            let params: Vec<Value> = m
                .params
                .iter()
                .map(|(n, t)| json!({"name": n, "type": {"kind": "scalar", "name": t}}))
                .collect();
            json!({"name": m.name, "description": m.doc, "doc": m.doc, "doc_summary": m.doc, "params": params})
        })
        .collect();
    let body = json!({
        "service": handler.name(),
        "version": env!("CARGO_PKG_VERSION"),
        "methods": methods,
        "listeners": [],
        "streams": [],
    });
    Bytes::from(serde_json::to_vec(&body).unwrap_or_default())
}

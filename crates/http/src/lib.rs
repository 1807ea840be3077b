//! The engine's [`Transport`] over HTTP, for the NATS-vs-HTTP comparison:
//! the same plan, the same bodies, sent as `POST
//! {base}/{service}/rpc/{method}` — the route the reference services (and
//! Cliffracer's HTTP gateway shape) answer with the same envelope as over
//! NATS — and judged by the same classifier.
//!
//! One `reqwest` client per worker (its own keep-alive pool on the worker's
//! runtime); every failure is an [`Outcome`]: a timeout, a refused
//! connection (`transport`), a 404 without an envelope (`no_responders`,
//! nobody serves that route), or a reply that is not an envelope (`decode`).
//!
//! Key types: [`HttpTarget`], [`HttpConnector`] and [`HttpTransport`],
//! [`preflight`], and [`HttpError`] (what stops a comparison before its load).

use std::sync::Arc;
use std::time::Duration;

use cliffload_engine::{Connector, Payload, Reply, ReplyRules, Transport};
use cliffload_metrics::Outcome;
use cliffload_protocol::headers::CorrelationIds;
use cliffload_protocol::{ReplyKind, RequestSpec, headers};

/// Why the HTTP comparison cannot run: a task without a route, a base URL
/// that is not plain HTTP, no client, or a failed smoke call. Each message
/// names the task or URL and what to do.
///
/// Errors from below (reqwest, URL parsing) are quoted in the message, not
/// returned by `source()`, so the CLI's `{:#}` prints them once.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The task's subject has no `.rpc.`, so no HTTP route.
    #[error(
        "task {task}: subject {subject:?} is not `service.rpc.method`, so it has no HTTP route to compare with"
    )]
    NotRpc {
        /// Task name.
        task: String,
        /// Its subject.
        subject: String,
    },
    /// The base URL does not parse.
    #[error("{base:?} is not a URL: {reason}")]
    NotAUrl {
        /// The URL as given.
        base: String,
        /// Why it does not parse.
        reason: String,
    },
    /// The base URL is not `http://HOST[:PORT]`.
    #[error("{base:?}: expected http://HOST:PORT (plain HTTP, e.g. http://127.0.0.1:PORT)")]
    NotHttp {
        /// The URL as given.
        base: String,
    },
    /// The HTTP client cannot be built (TLS roots, resolver).
    #[error("cannot create the HTTP client: {0}")]
    Client(reqwest::Error),
    /// A task's smoke call got no usable reply.
    #[error(
        "HTTP preflight: task {task} at {url}: {} ({detail})",
        outcome.name()
    )]
    Preflight {
        /// Task name.
        task: String,
        /// The route called.
        url: String,
        /// What the call came to (`no_responders`, `transport`, `timeout`, `decode`).
        outcome: Outcome,
        /// Why, in the words of the failure.
        detail: String,
    },
}

/// Where and how one task's requests go over HTTP.
#[derive(Debug, Clone)]
pub struct HttpTarget {
    /// Task name (for messages).
    pub name: String,
    /// Full URL of the route.
    pub url: String,
    /// Reply timeout (the whole exchange).
    pub timeout: Duration,
    /// How replies are judged.
    pub rules: ReplyRules,
    /// `Content-Type` of the body.
    pub content_type: &'static str,
    /// Add a unique `X-Correlation-ID` to each request.
    pub correlation: bool,
    /// Hand the reply body back: the task saves values from it.
    pub keep_reply: bool,
}

impl HttpTarget {
    /// The HTTP route of a task whose subject is `[prefix.]{service}.rpc.{method}`.
    ///
    /// # Errors
    /// When the subject is not an RPC subject (no `.rpc.`): it has no HTTP route.
    pub fn of(name: &str, request: &RequestSpec, base: &str) -> Result<Self, HttpError> {
        let Some((service, method)) = request.subject.split_once(".rpc.") else {
            return Err(HttpError::NotRpc {
                task: name.to_owned(),
                subject: request.subject.clone(),
            });
        };
        Ok(Self {
            name: name.to_owned(),
            url: format!("{}/{service}/rpc/{method}", base.trim_end_matches('/')),
            timeout: request.timeout,
            rules: ReplyRules::of(request),
            content_type: request.codec.mime(),
            correlation: request.headers,
            keep_reply: request.keep_reply,
        })
    }
}

/// Checks that `base` is an `http://` URL (no TLS: comparisons are of the
/// protocol, on the same machine or network as the NATS run).
///
/// # Errors
/// A message naming what is wrong with the URL.
pub fn check_base(base: &str) -> Result<(), HttpError> {
    let url = reqwest::Url::parse(base).map_err(|e| HttpError::NotAUrl {
        base: base.to_owned(),
        reason: e.to_string(),
    })?;
    if url.scheme() != "http" || url.host_str().is_none() {
        return Err(HttpError::NotHttp {
            base: base.to_owned(),
        });
    }
    Ok(())
}

/// Makes one [`HttpTransport`] (one client with its own connection pool) per worker.
#[derive(Debug, Clone)]
pub struct HttpConnector {
    targets: Arc<[HttpTarget]>,
}

impl HttpConnector {
    /// A connector for `targets` (one per task, in plan order).
    pub fn new(targets: Vec<HttpTarget>) -> Self {
        Self {
            targets: targets.into(),
        }
    }
}

impl Connector for HttpConnector {
    type Transport = HttpTransport;
    type Error = HttpError;

    async fn connect(&self, worker: usize) -> Result<HttpTransport, HttpError> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .pool_idle_timeout(Duration::from_secs(30))
            .tcp_nodelay(true)
            .build()
            .map_err(HttpError::Client)?;
        Ok(HttpTransport {
            client,
            targets: self.targets.clone(),
            correlation: CorrelationIds::new(worker),
        })
    }
}

/// One worker's HTTP client.
#[derive(Debug)]
pub struct HttpTransport {
    client: reqwest::Client,
    targets: Arc<[HttpTarget]>,
    correlation: CorrelationIds,
}

impl HttpTransport {
    /// Sends one request and returns its outcome, and the reply's class or
    /// the error (for preflight messages).
    pub async fn exchange(
        &self,
        task: usize,
        payload: &Payload,
    ) -> (Reply, Result<ReplyKind, String>) {
        let target = &self.targets[task];
        let mut request = self
            .client
            .post(&target.url)
            .timeout(target.timeout)
            .header(headers::CONTENT_TYPE, target.content_type)
            .body(payload.body.clone());
        if target.correlation {
            request = request.header(headers::CORRELATION_ID, self.correlation.next_id());
        }
        for (name, value) in payload.headers.iter().flatten() {
            request = request.header(name.as_str(), value.as_str());
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => return failed(error_outcome(&e), chain(&e)),
        };
        let status = response.status();
        let content_type = response
            .headers()
            .get(headers::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let code = response
            .headers()
            .get(headers::SERVICE_ERROR_CODE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = match response.bytes().await {
            Ok(b) => b,
            Err(e) => return failed(error_outcome(&e), chain(&e)),
        };
        let kind = target
            .rules
            .kind(content_type.as_deref(), code.as_deref(), &body);
        if let ReplyKind::Unrecognised(why) = &kind {
            // Nobody serves the route: the HTTP counterpart of no responders.
            if status == reqwest::StatusCode::NOT_FOUND {
                return failed(
                    Outcome::NoResponders,
                    format!("404 Not Found at {}", target.url),
                );
            }
            return failed(
                Outcome::Decode,
                format!("HTTP {status} from {}: {why}", target.url),
            );
        }
        let mut reply = target.rules.judge(
            &kind,
            payload.injected,
            content_type.as_deref(),
            None,
            &body,
        );
        if target.keep_reply {
            reply.body = Some(body);
        }
        (reply, Ok(kind))
    }
}

impl Transport for HttpTransport {
    async fn call(&self, task: usize, payload: &Payload) -> Reply {
        self.exchange(task, payload).await.0
    }
}

/// A failure with its text, as both the reply and the preflight error.
fn failed(outcome: Outcome, why: String) -> (Reply, Result<ReplyKind, String>) {
    (Reply::with_detail(outcome, why.clone()), Err(why))
}

/// The error and its causes (reqwest's own message hides "connection refused").
fn chain(e: &reqwest::Error) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

fn error_outcome(e: &reqwest::Error) -> Outcome {
    if e.is_timeout() {
        Outcome::Timeout
    } else {
        Outcome::Transport
    }
}

/// One call per task before the load, as over NATS: a route nobody serves,
/// a refused connection or a reply that is not an envelope stops the
/// comparison with a message naming the task and URL.
///
/// # Errors
/// The first task that cannot be served, and why. A task without a payload
/// (`None`: it sends values saved from earlier replies, or takes unique
/// data rows) is not called.
pub async fn preflight(
    connector: &HttpConnector,
    first_payloads: &[Option<&Payload>],
) -> Result<(), HttpError> {
    let transport = connector.connect(0).await?;
    for (task, payload) in first_payloads.iter().enumerate() {
        let Some(payload) = payload else { continue };
        let (reply, detail) = transport.exchange(task, payload).await;
        let outcome = reply.outcome;
        if matches!(
            outcome,
            Outcome::NoResponders | Outcome::Transport | Outcome::Timeout | Outcome::Decode
        ) {
            let target = &connector.targets[task];
            return Err(HttpError::Preflight {
                task: target.name.clone(),
                url: target.url.clone(),
                outcome,
                detail: detail.err().unwrap_or_default(),
            });
        }
    }
    Ok(())
}

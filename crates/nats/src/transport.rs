//! The engine's [`Transport`] over async-nats.

use std::future::Future;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use async_nats::{Client, ConnectOptions, HeaderMap, Message, RequestErrorKind, Subject};
use cliffload_engine::{Connector, Payload, Reply, ReplyRules, Transport};
use cliffload_metrics::Outcome;
use cliffload_protocol::headers::CorrelationIds;
use cliffload_protocol::{Observe, ReplyKind, RequestSpec, SendMode, headers};

use crate::access::NatsAccess;
use crate::effects::Effects;
use crate::error::NatsError;
use crate::events::ConnectionEvents;
use crate::publish;

/// Where and how one task's requests go, prepared once before the load.
#[derive(Debug, Clone)]
pub struct Target {
    /// Task name (for messages).
    pub name: String,
    /// Subject, shared cheaply (`Subject` is reference-counted bytes).
    pub subject: Subject,
    /// Reply timeout.
    pub timeout: Duration,
    /// How replies are judged.
    pub rules: ReplyRules,
    /// Headers sent with every request (`Content-Type`), if any.
    pub headers: Option<HeaderMap>,
    /// Add a unique `X-Correlation-ID` to each request.
    pub correlation: bool,
    /// Hand the reply body back: the task saves values from it.
    pub keep_reply: bool,
    /// A request, a publish, or a JetStream publish.
    pub send: SendMode,
    /// Where its effect (and dead letter) appears and how it is matched,
    /// if it is observed.
    pub observe: Option<Observe>,
}

impl Target {
    /// The target of task `name`'s requests.
    pub fn of(name: &str, request: &RequestSpec) -> Self {
        let headers = request.headers.then(|| {
            let mut h = HeaderMap::new();
            h.insert(headers::CONTENT_TYPE, request.codec.mime());
            h
        });
        Self {
            name: name.to_owned(),
            subject: Subject::from(request.subject.as_str()),
            timeout: request.timeout,
            rules: ReplyRules::of(request),
            headers,
            correlation: request.headers,
            keep_reply: request.keep_reply,
            send: request.send,
            observe: request.observe.clone(),
        }
    }

    /// The outcome of a reply to a request (`injected`: the request's
    /// injected error), with the text saying why when it is not a success.
    pub fn reply(&self, msg: &Message, injected: Option<&str>) -> Reply {
        let mut reply = self.rules.judge(
            &self.reply_kind(msg),
            injected,
            header(msg, headers::CONTENT_TYPE),
            header(msg, headers::SERVICE_ERROR),
            &msg.payload,
        );
        if self.keep_reply {
            reply.body = Some(msg.payload.clone());
        }
        reply
    }

    /// Classifies a reply to this target.
    pub fn reply_kind(&self, msg: &Message) -> ReplyKind {
        self.rules.kind(
            header(msg, headers::CONTENT_TYPE),
            header(msg, headers::SERVICE_ERROR_CODE),
            &msg.payload,
        )
    }
}

/// The value of header `name` of a reply, if present.
fn header<'a>(msg: &'a Message, name: &str) -> Option<&'a str> {
    msg.headers
        .as_ref()
        .and_then(|h| h.get(name))
        .map(|v| v.as_str())
}

/// Connects a client the way the load generator uses it, named `name`
/// (seen in the server's `/connz`). The error says what failed and what to
/// check, and never holds a secret.
pub async fn connect(access: &NatsAccess, name: &str) -> Result<Client, NatsError> {
    connect_with(access, name, ConnectOptions::new()).await
}

/// [`connect`] with `options` (an event callback, say) as the start.
async fn connect_with(
    access: &NatsAccess,
    name: &str,
    options: ConnectOptions,
) -> Result<Client, NatsError> {
    access
        .apply(options, name)
        .await?
        // Subjects are validated once, when the scenario is loaded.
        .skip_subject_validation(true)
        .connect(access.servers.clone())
        .await
        .map_err(|e| access.explain(&e))
}

/// Makes one [`NatsTransport`] (one connection) per worker.
#[derive(Debug, Clone)]
pub struct NatsConnector {
    access: NatsAccess,
    name: String,
    targets: Arc<[Target]>,
    events: ConnectionEvents,
}

impl NatsConnector {
    /// A connector for `targets` (one per task, in plan order) on the
    /// deployment `access`; connections are named `{name}/worker-N`.
    pub fn new(access: NatsAccess, name: &str, targets: Vec<Target>) -> Self {
        Self {
            access,
            name: name.to_owned(),
            targets: targets.into(),
            events: ConnectionEvents::default(),
        }
    }

    /// What happened to the workers' connections (shared: read it while the load runs).
    pub fn events(&self) -> ConnectionEvents {
        self.events.clone()
    }
}

impl NatsConnector {
    /// The effect matcher of a worker whose tasks observe effects: one
    /// subscription per observed subject, in place before the load.
    async fn effects(&self, client: &Client) -> Result<Option<Effects>, NatsError> {
        let observes: Vec<Option<&Observe>> =
            self.targets.iter().map(|t| t.observe.as_ref()).collect();
        let Some(longest) = self
            .targets
            .iter()
            .filter(|t| t.observe.is_some())
            .map(|t| t.timeout)
            .max()
        else {
            return Ok(None);
        };
        Ok(Some(Effects::start(client, &observes, longest).await?))
    }
}

impl Connector for NatsConnector {
    type Transport = NatsTransport;
    type Error = NatsError;

    async fn connect(&self, worker: usize) -> Result<NatsTransport, NatsError> {
        let events = self.events.clone();
        let options = ConnectOptions::new().event_callback(move |event| {
            events.record(worker, &event);
            async {}
        });
        let name = format!("{}/worker-{worker}", self.name);
        let client = connect_with(&self.access, &name, options).await?;
        let effects = self.effects(&client).await?;
        Ok(NatsTransport {
            client,
            targets: self.targets.clone(),
            correlation: CorrelationIds::new(worker),
            effects,
        })
    }
}

/// One worker's connection.
pub struct NatsTransport {
    client: Client,
    targets: Arc<[Target]>,
    correlation: CorrelationIds,
    /// Matches effects to their causes, when a task observes them.
    effects: Option<Effects>,
}

impl std::fmt::Debug for NatsTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsTransport")
            .field("targets", &self.targets)
            .field("observes", &self.effects.is_some())
            .finish_non_exhaustive()
    }
}

impl NatsTransport {
    /// The headers of one message: the task's own, and its correlation id
    /// (`id` for an observed message, else a fresh one when the task sends
    /// the standard headers).
    fn headers_for(
        &self,
        target: &Target,
        payload: &Payload,
        id: Option<&str>,
    ) -> Option<HeaderMap> {
        let mut h = match (&target.headers, id) {
            (Some(h), _) => h.clone(),
            (None, Some(_)) => HeaderMap::new(),
            (None, None) => return None,
        };
        match id {
            Some(id) => h.insert(headers::CORRELATION_ID, id),
            None if target.correlation => {
                h.insert(headers::CORRELATION_ID, self.correlation.next_id().as_str());
            }
            None => {}
        }
        for (name, value) in payload.headers.iter().flatten() {
            h.insert(name.as_str(), value.as_str());
        }
        Some(h)
    }
}

impl Transport for NatsTransport {
    fn unsolicited(&self, take: &mut dyn FnMut(usize, Reply, Duration)) {
        if let Some(e) = &self.effects {
            e.take_duplicates(take);
        }
    }

    async fn call(&self, task: usize, payload: &Payload) -> Reply {
        let target = &self.targets[task];
        if target.send != SendMode::Request {
            return self.publish(task, target, payload).await;
        }
        let headers = self.headers_for(target, payload, None);
        let subject = subject_of(target, payload);
        match self.timed_request(target, subject, headers, payload).await {
            Ok(Timed::Late) => Reply::with_detail(
                Outcome::Timeout,
                format!("reply came after the {:?} timeout", target.timeout),
            ),
            Ok(Timed::InTime(msg)) => target.reply(&msg, payload.injected),
            Err(Some(e)) => {
                let outcome = error_outcome(e.kind());
                let detail = match outcome {
                    Outcome::NoResponders => format!("no responders on {}", target.subject),
                    _ => e.to_string(),
                };
                Reply::with_detail(outcome, detail)
            }
            Err(None) => Reply::with_detail(
                Outcome::Timeout,
                format!("no reply within {:?}", target.timeout),
            ),
        }
    }
}

impl NatsTransport {
    /// A publish (core or JetStream) and, when the task observes one, its
    /// effect. The task's timeout spans both.
    async fn publish(&self, task: usize, target: &Target, payload: &Payload) -> Reply {
        let (Some(observed), Some(effects)) = (&target.observe, &self.effects) else {
            let headers = self.headers_for(target, payload, None);
            return self.handed(target, headers, payload).await;
        };
        let sent = tokio::time::Instant::now();
        let (id, cause) = effects.expect(task, sent);
        let headers = self.headers_for(target, payload, Some(&id));
        let handed = self.handed(target, headers, payload).await;
        if handed.outcome != Outcome::Ok {
            effects.give_up(cause.n);
            return handed;
        }
        let left = target.timeout.saturating_sub(sent.elapsed());
        let wait = (left, target.timeout);
        effects.wait(cause, wait, observed, payload.injected).await
    }

    /// The message handed over: taken by the connection (core NATS) or
    /// acknowledged by its stream (JetStream).
    async fn handed(
        &self,
        target: &Target,
        headers: Option<HeaderMap>,
        payload: &Payload,
    ) -> Reply {
        let subject = subject_of(target, payload);
        match target.send {
            SendMode::Jetstream => self.jetstream(target, subject, headers, payload).await,
            _ => self.core(target, subject, headers, payload).await,
        }
    }

    /// A core NATS publish: a success once the connection has taken it.
    async fn core(
        &self,
        target: &Target,
        subject: Subject,
        headers: Option<HeaderMap>,
        payload: &Payload,
    ) -> Reply {
        let body = payload.body.clone();
        let publish = async {
            match headers {
                Some(h) => self.client.publish_with_headers(subject, h, body).await,
                None => self.client.publish(subject, body).await,
            }
        };
        // Taken at once unless the connection's queue is full: the timeout
        // (a clock read and a timer) is armed only then.
        let mut publish = std::pin::pin!(publish);
        let first = std::future::poll_fn(|cx| Poll::Ready(publish.as_mut().poll(cx))).await;
        let taken = match first {
            Poll::Ready(r) => Ok(r),
            Poll::Pending => tokio::time::timeout(target.timeout, publish).await,
        };
        match taken {
            Ok(Ok(())) => Reply::from(Outcome::Ok),
            Ok(Err(e)) => Reply::with_detail(Outcome::Transport, format!("publish failed: {e}")),
            Err(_) => Reply::with_detail(
                Outcome::Timeout,
                format!(
                    "the connection did not take the message within {:?} (disconnected, its buffer full)",
                    target.timeout
                ),
            ),
        }
    }

    /// A JetStream publish: a request answered by the stream's PubAck.
    async fn jetstream(
        &self,
        target: &Target,
        subject: Subject,
        headers: Option<HeaderMap>,
        payload: &Payload,
    ) -> Reply {
        match self.timed_request(target, subject, headers, payload).await {
            Ok(Timed::Late) => Reply::with_detail(
                Outcome::Timeout,
                format!("the PubAck came after the {:?} timeout", target.timeout),
            ),
            Ok(Timed::InTime(msg)) => publish::judge_ack(&msg.payload, target.subject.as_str()),
            Err(Some(e)) if e.kind() == RequestErrorKind::NoResponders => Reply::with_detail(
                Outcome::NoResponders,
                publish::no_stream(target.subject.as_str()),
            ),
            Err(Some(e)) => Reply::with_detail(error_outcome(e.kind()), e.to_string()),
            Err(None) => Reply::with_detail(
                Outcome::Timeout,
                format!("no PubAck within {:?}", target.timeout),
            ),
        }
    }
}

/// A reply that came within the task's timeout, or one the worker saw only
/// after it (a starved runtime): still late, a timeout, never a success.
enum Timed {
    InTime(Message),
    Late,
}

impl NatsTransport {
    /// A request timed as a whole against the task's timeout: async-nats
    /// starts its own only once the request is queued, and queueing waits
    /// while the connection is down and its buffer full (requests then hung
    /// for ever), so it gets none (one timer, not two). `Err(None)`: nothing
    /// within the timeout.
    async fn timed_request(
        &self,
        target: &Target,
        subject: Subject,
        headers: Option<HeaderMap>,
        payload: &Payload,
    ) -> Result<Timed, Option<async_nats::RequestError>> {
        let mut request = async_nats::Request::new()
            .payload(payload.body.clone())
            .timeout(None);
        if let Some(h) = headers {
            request = request.headers(h);
        }
        let sent = tokio::time::Instant::now();
        match tokio::time::timeout(target.timeout, self.client.send_request(subject, request)).await
        {
            Ok(Ok(_)) if sent.elapsed() > target.timeout => Ok(Timed::Late),
            Ok(Ok(msg)) => Ok(Timed::InTime(msg)),
            Ok(Err(e)) => Err(Some(e)),
            Err(_) => Err(None),
        }
    }
}

/// Publishes one message outside the engine (the smoke call) with the
/// correlation id `id`, as the load would: a core publish (flushed, so a
/// refused one is seen) or a JetStream publish judged by its PubAck.
pub(crate) async fn publish_once(
    client: &Client,
    target: &Target,
    payload: &Payload,
    id: Option<&str>,
) -> Reply {
    let transport = NatsTransport {
        client: client.clone(),
        targets: Arc::from(Vec::new()),
        correlation: CorrelationIds::new(0),
        effects: None,
    };
    let headers = transport.headers_for(target, payload, id);
    let subject = subject_of(target, payload);
    match target.send {
        SendMode::Jetstream => transport.jetstream(target, subject, headers, payload).await,
        _ => {
            let reply = transport.core(target, subject, headers, payload).await;
            match client.flush().await {
                Ok(()) => reply,
                Err(e) => Reply::with_detail(Outcome::Transport, format!("publish failed: {e}")),
            }
        }
    }
}

/// Where one message goes: its rendered subject, or the task's.
fn subject_of(target: &Target, payload: &Payload) -> Subject {
    match &payload.subject {
        Some(s) => Subject::from(s.as_str()),
        None => target.subject.clone(),
    }
}

/// The outcome of a request that got no usable reply.
pub(crate) fn error_outcome(kind: RequestErrorKind) -> Outcome {
    match kind {
        RequestErrorKind::TimedOut => Outcome::Timeout,
        RequestErrorKind::NoResponders => Outcome::NoResponders,
        _ => Outcome::Transport,
    }
}

/// Sends one request outside the engine (preflight, tools) and returns the reply.
pub(crate) async fn request_once(
    client: &Client,
    target: &Target,
    payload: &Payload,
) -> Result<Message, async_nats::RequestError> {
    let mut request = async_nats::Request::new()
        .payload(payload.body.clone())
        .timeout(Some(target.timeout));
    if let Some(mut h) = target.headers.clone() {
        if target.correlation {
            h.insert(headers::CORRELATION_ID, "cl-preflight");
        }
        for (name, value) in payload.headers.iter().flatten() {
            h.insert(name.as_str(), value.as_str());
        }
        request = request.headers(h);
    }
    let subject = match &payload.subject {
        Some(s) => Subject::from(s.as_str()),
        None => target.subject.clone(),
    };
    client.send_request(subject, request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NatsServer;

    /// A loopback port nothing listens on (bound, then released).
    fn closed_port() -> u16 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    }

    #[tokio::test]
    async fn a_closed_port_is_refused_and_says_to_start_a_server() {
        let url = format!("nats://127.0.0.1:{}", closed_port());
        let e = connect(&NatsAccess::plain(&url), "t")
            .await
            .expect_err("nothing listens");
        assert!(
            matches!(&e, NatsError::Refused { servers, .. } if *servers == url),
            "{e:?}"
        );
        let text = e.to_string();
        assert!(
            text.starts_with(&format!("cannot connect to {url}: "))
                && text.contains("is nats-server running there?"),
            "{text}"
        );
        // The cause once, not once from async-nats and again from its source.
        assert_eq!(text.matches("Connection refused").count(), 1, "{text}");
    }

    #[tokio::test]
    async fn the_connector_gives_the_engine_the_typed_error() {
        let url = format!("nats://127.0.0.1:{}", closed_port());
        let connector = NatsConnector::new(NatsAccess::plain(&url), "t", Vec::new());
        let e = connector.connect(3).await.expect_err("nothing listens");
        assert!(matches!(e, NatsError::Refused { .. }), "{e:?}");
    }

    #[tokio::test]
    async fn a_wrong_password_is_an_authorization_error_naming_the_user_not_the_password() {
        let server = NatsServer::start_with_config_via(
            crate::server::setpriv_launcher(),
            "authorization { user: alice, password: s3cretpw }",
        )
        .expect("nats-server starts");
        let url = server.url().replace("nats://", "nats://alice:wr0ngpw@");
        let access = NatsAccess::from_urls(&[url]).expect("valid URL");
        let e = connect(&access, "t").await.expect_err("wrong password");
        assert!(
            matches!(&e, NatsError::Authorization { who, .. } if who == "user alice"),
            "{e:?}"
        );
        let text = e.to_string();
        assert!(
            !text.contains("wr0ngpw") && !format!("{e:?}").contains("wr0ngpw"),
            "{text}"
        );
        // The right password gets in: the variant was about the password.
        let url = server.url().replace("nats://", "nats://alice:s3cretpw@");
        let access = NatsAccess::from_urls(&[url]).expect("valid URL");
        connect(&access, "t").await.expect("right password");
    }

    #[tokio::test]
    async fn a_missing_nkey_file_names_its_flag_before_connecting() {
        let access = NatsAccess {
            credentials: crate::Credentials::NKeyFile("/nonexistent/user.nk".into()),
            ..NatsAccess::plain(&format!("nats://127.0.0.1:{}", closed_port()))
        };
        let e = connect(&access, "t").await.expect_err("no file");
        assert!(
            matches!(&e, NatsError::Unreadable { flag: "--nkey", error, .. }
                if error.kind() == std::io::ErrorKind::NotFound),
            "{e:?}"
        );
        assert!(
            e.to_string()
                .starts_with("--nkey /nonexistent/user.nk: cannot read it (")
        );
    }
}

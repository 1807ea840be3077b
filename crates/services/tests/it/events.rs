// order_processing_service's events: core fan-out on orders.placed, the
// JetStream durable on orders.queued, the order.processed effect (also of
// process_order), dead letters, and a server without JetStream.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, consumer::AckPolicy};
use async_nats::{Client, HeaderMap, Message, Subscriber};
use cliffload_payloads::{ComplexOrder, GenConfig, Generator, PaymentMethod};
use cliffload_services::cliffracer::info_lists_endpoints;
use cliffload_services::events::{
    DEAD_LETTER, DURABLE, Durable, PLACED, PROCESSED, QUEUED, STREAM,
};
use cliffload_services::order_service::{self, LatencyProfile, NAME, OrderConfig, OrderService};
use futures_util::{FutureExt, StreamExt};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(10);

struct Replica {
    client: Client,
    service: Arc<OrderService>,
    task: JoinHandle<()>,
}

/// Replicas of the order service on `server`, each on its own connection,
/// started at once (so they race to make the stream and the consumer), and
/// a test client subscribed to the effects and the dead letters before any
/// event is sent.
struct Env {
    /// Kept for its lifetime: the server dies with the test.
    _server: cliffload_testkit::NatsServer,
    client: Client,
    stop: CancellationToken,
    replicas: Vec<Replica>,
    effects: Subscriber,
    dead_letters: Subscriber,
}

impl Drop for Env {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn env(server: cliffload_testkit::NatsServer, replicas: usize) -> Env {
    env_with(server, replicas, Durable::IfAvailable).await
}

async fn env_with(server: cliffload_testkit::NatsServer, replicas: usize, durable: Durable) -> Env {
    let client = cliffload_testkit::client(&server).await;
    let effects = client.subscribe(PROCESSED).await.expect("subscribe");
    let dead_letters = client.subscribe(DEAD_LETTER).await.expect("subscribe");
    client.flush().await.expect("flush");
    let stop = CancellationToken::new();
    let mut started = Vec::new();
    for _ in 0..replicas {
        let c = cliffload_testkit::client(&server).await;
        let service = Arc::new(OrderService::new(OrderConfig {
            latency: LatencyProfile::None,
            durable,
            ..OrderConfig::default()
        }));
        let (run_client, svc, shutdown) = (c.clone(), service.clone(), stop.clone());
        let task = tokio::spawn(async move {
            order_service::run(run_client, svc, shutdown.cancelled_owned())
                .await
                .expect("service runs");
        });
        started.push(Replica {
            client: c,
            service,
            task,
        });
    }
    wait_for_replicas(&client, replicas).await;
    Env {
        _server: server,
        client,
        stop,
        replicas: started,
        effects,
        dead_letters,
    }
}

/// Waits until `n` replicas answer `$SRV.INFO` with their endpoints (their
/// listeners are subscribed before they register).
async fn wait_for_replicas(client: &Client, n: usize) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let inbox = client.new_inbox();
        let mut sub = client.subscribe(inbox.clone()).await.expect("subscribe");
        client
            .publish_with_reply(format!("$SRV.INFO.{NAME}"), inbox, "".into())
            .await
            .expect("publish");
        let mut ready = 0;
        let until = tokio::time::Instant::now() + Duration::from_millis(300);
        while ready < n {
            match tokio::time::timeout_at(until, sub.next()).await {
                Ok(Some(m)) if info_lists_endpoints(&m.payload) => ready += 1,
                Ok(Some(_)) => {}
                _ => break,
            }
        }
        if ready >= n {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{ready} of {n} replicas ready within {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

impl Env {
    fn counts(&self, f: impl Fn(&OrderService) -> u64) -> u64 {
        self.replicas.iter().map(|r| f(&r.service)).sum()
    }

    /// Waits until the replicas' counter `f` sums to `n`.
    async fn wait_count(&self, what: &str, n: u64, f: impl Fn(&OrderService) -> u64) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while self.counts(&f) < n {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{what}: {} of {n} within {WAIT:?}",
                self.counts(&f)
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Everything the replicas published so far has reached the test
    /// client's subscriptions. A request a replica sends is answered after
    /// the server has routed what that replica sent before it (into the
    /// test connection's outgoing queue); the test client's own request is
    /// then answered behind those messages. (`flush` is no barrier: it
    /// only writes the client's buffer out.)
    async fn barrier(&self) {
        let ping = format!("$SRV.PING.{NAME}");
        for r in &self.replicas {
            r.client
                .request(ping.clone(), "".into())
                .await
                .expect("a replica answers $SRV.PING");
        }
        self.client
            .request(ping, "".into())
            .await
            .expect("a replica answers $SRV.PING");
    }

    async fn publish(&self, subject: &str, corr: Option<&str>, body: &Value) {
        let mut h = HeaderMap::new();
        if let Some(c) = corr {
            h.insert("X-Correlation-ID", c);
        }
        h.insert("Content-Type", "application/json");
        let body = serde_json::to_vec(body).expect("json");
        self.client
            .publish_with_headers(subject.to_owned(), h, body.into())
            .await
            .expect("publish");
    }
}

/// What a subscription holds now, without waiting.
fn drain(sub: &mut Subscriber) -> Vec<Message> {
    let mut out = vec![];
    while let Some(Some(m)) = sub.next().now_or_never() {
        out.push(m);
    }
    out
}

async fn next(sub: &mut Subscriber, what: &str) -> Message {
    match tokio::time::timeout(WAIT, sub.next()).await {
        Ok(Some(m)) => m,
        _ => panic!("no {what} within {WAIT:?}"),
    }
}

fn header<'a>(m: &'a Message, name: &str) -> Option<&'a str> {
    m.headers
        .as_ref()
        .and_then(|h| h.get(name))
        .map(|v| v.as_str())
}

fn json_of(m: &Message) -> Value {
    serde_json::from_slice(&m.payload).expect("a JSON body")
}

/// `m` is the effect of `order_id` for `corr` with `status`, in
/// Cliffracer's `publish_event` shape.
fn assert_effect(m: &Message, corr: &str, order_id: &str, status: &str) {
    let b = json_of(m);
    assert_eq!(m.subject.as_str(), PROCESSED);
    assert_eq!(header(m, "X-Correlation-ID"), Some(corr), "{b}");
    assert_eq!(header(m, "Content-Type"), Some("application/json"));
    assert_eq!(b["order_id"], order_id, "{b}");
    assert_eq!(b["status"], status, "{b}");
    assert_eq!(b["data"]["order_id"], order_id, "{b}");
    assert_eq!(b["data"]["status"], status, "{b}");
    assert_eq!(b["source_service"], NAME);
    assert_eq!(b["correlation_id"], corr);
    assert!(
        b["timestamp"]
            .as_str()
            .is_some_and(|t| t.ends_with("+00:00"))
    );
}

/// Orders no rule refuses (as in the order service's own tests).
fn benign_orders(n: usize) -> Vec<ComplexOrder> {
    let mut c = GenConfig::new(11, jiff::Timestamp::now());
    c.customer_pool_size = 50;
    c.product_pool_size = 50;
    let mut g = Generator::new(&c);
    let mut out = Vec::new();
    while out.len() < n {
        let mut o = g.order_with_items(1);
        if o.total_amount < Decimal::from(900)
            && o.payment.method != PaymentMethod::Crypto
            && o.fraud_check_passed
        {
            o.customer.customer_id = format!("CUST-EVENT{}", out.len());
            out.push(o);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_event_yields_one_effect_with_its_correlation_id() {
    let mut env = env(cliffload_testkit::jetstream_server(), 1).await;
    let orders = benign_orders(3);
    env.publish(PLACED, Some("evt-1"), &json!({"order": orders[0]}))
        .await;
    let m = next(&mut env.effects, "effect").await;
    assert_effect(&m, "evt-1", &orders[0].order_id, "processed");

    // Cliffracer's publish_event envelope, its id only in the body: the
    // order is read from `data`, the extra keys are no error.
    let kw = json!({"order": orders[1]});
    let envelope = json!({"order": orders[1], "data": kw, "timestamp": "2026-12-07T10:00:00+00:00",
        "source_service": "shop", "correlation_id": "evt-body-2"});
    env.publish(PLACED, None, &envelope).await;
    let m = next(&mut env.effects, "effect of the envelope").await;
    assert_effect(&m, "evt-body-2", &orders[1].order_id, "processed");

    // Both: the header wins, as for a request.
    let body = json!({"order": orders[2], "correlation_id": "evt-3-body"});
    env.publish(PLACED, Some("evt-3-header"), &body).await;
    let m = next(&mut env.effects, "effect of the third").await;
    assert_effect(&m, "evt-3-header", &orders[2].order_id, "processed");

    env.wait_count("core events", 3, |s| s.event_counts().core())
        .await;
    env.barrier().await;
    assert!(drain(&mut env.effects).is_empty(), "one effect per event");
    assert!(drain(&mut env.dead_letters).is_empty());
    assert_eq!(env.replicas[0].service.processed(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_or_undecodable_events_are_dead_lettered_without_effect() {
    let mut env = env(cliffload_testkit::server(), 1).await;
    let mut bad = benign_orders(1).remove(0);
    bad.total_amount = Decimal::from(-5);
    env.publish(PLACED, Some("evt-bad"), &json!({"order": bad}))
        .await;
    let m = next(&mut env.dead_letters, "dead letter").await;
    let b = json_of(&m);
    assert_eq!(header(&m, "X-Correlation-ID"), Some("evt-bad"), "{b}");
    assert_eq!(b["original_subject"], PLACED);
    assert_eq!(b["service"], NAME);
    assert_eq!(b["correlation_id"], "evt-bad");
    assert_eq!(b["payload"]["order"]["order_id"], json!(bad.order_id));
    let locs: Vec<&Value> = b["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| &e["loc"])
        .collect();
    assert!(locs.contains(&&json!(["order", "total_amount"])), "{b}");

    // Not JSON at all; and an extra key, refused as Cliffracer's listener
    // (extra="forbid") would.
    let mut h = HeaderMap::new();
    h.insert("X-Correlation-ID", "evt-garbage");
    env.client
        .publish_with_headers(PLACED, h, "{not json".into())
        .await
        .expect("publish");
    let m = next(&mut env.dead_letters, "dead letter of garbage").await;
    let b = json_of(&m);
    assert_eq!(header(&m, "X-Correlation-ID"), Some("evt-garbage"));
    assert!(
        b["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("Decode error: ")),
        "{b}"
    );
    assert_eq!(b["payload"]["raw"], "{not json");
    let ok = benign_orders(1).remove(0);
    env.publish(
        PLACED,
        Some("evt-extra"),
        &json!({"order": ok, "coupon": "X"}),
    )
    .await;
    let b = json_of(&next(&mut env.dead_letters, "dead letter of an extra key").await);
    assert_eq!(b["errors"][0]["type"], "extra_forbidden", "{b}");

    env.wait_count("dead letters", 3, |s| s.event_counts().dead_lettered())
        .await;
    env.barrier().await;
    assert!(
        drain(&mut env.effects).is_empty(),
        "no effect for a dead letter"
    );
    assert_eq!(env.counts(|s| s.event_counts().core()), 0);
}

/// Documented: core events have no queue group, so every replica handles
/// every event (Cliffracer's fanout=True); the durable is for "once".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_replica_handles_a_core_event() {
    let mut env = env(cliffload_testkit::server(), 2).await;
    let order = benign_orders(1).remove(0);
    env.publish(PLACED, Some("evt-fan"), &json!({"order": order}))
        .await;
    env.wait_count("core events", 2, |s| s.event_counts().core())
        .await;
    env.barrier().await;
    let effects = drain(&mut env.effects);
    assert_eq!(effects.len(), 2, "one effect per replica");
    for m in &effects {
        assert_effect(m, "evt-fan", &order.order_id, "processed");
    }
    assert!(
        env.replicas.iter().all(|r| r.service.processed() == 1),
        "each replica processed the event"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_messages_are_processed_once_by_the_shared_durable_and_acked() {
    let mut env = env(cliffload_testkit::jetstream_server(), 2).await;
    let js = jetstream::new(env.client.clone());
    let mut consumer: jetstream::consumer::PullConsumer = js
        .get_stream(STREAM)
        .await
        .expect("the service made the stream")
        .get_consumer(DURABLE)
        .await
        .expect("the service made the consumer");
    let info = consumer.info().await.expect("consumer info").clone();
    assert_eq!(info.config.ack_policy, AckPolicy::Explicit);
    assert_eq!(info.config.ack_wait, Duration::from_secs(30));
    assert_eq!(info.config.max_ack_pending, 1000);
    assert_eq!(info.config.filter_subject, QUEUED);
    // Both replicas pull from the one consumer.
    wait_consumer(&consumer, "both replicas waiting", |i| i.num_waiting >= 2).await;

    let orders = benign_orders(20);
    for (i, order) in orders.iter().enumerate() {
        let mut h = HeaderMap::new();
        h.insert("X-Correlation-ID", format!("js-{i}").as_str());
        let body = serde_json::to_vec(&json!({"order": order})).expect("json");
        js.publish_with_headers(QUEUED, h, body.into())
            .await
            .expect("publish")
            .await
            .expect("PubAck");
    }
    // One that fails validation: dead-lettered and terminated.
    let mut bad = orders[0].clone();
    bad.items.clear();
    let mut h = HeaderMap::new();
    h.insert("X-Correlation-ID", "js-bad");
    let body = serde_json::to_vec(&json!({"order": bad})).expect("json");
    js.publish_with_headers(QUEUED, h, body.into())
        .await
        .expect("publish")
        .await
        .expect("PubAck");

    env.wait_count("JetStream events", 20, |s| s.event_counts().jetstream())
        .await;
    let letter = next(&mut env.dead_letters, "dead letter").await;
    assert_eq!(header(&letter, "X-Correlation-ID"), Some("js-bad"));
    wait_consumer(&consumer, "all acked", |i| {
        i.num_ack_pending == 0 && i.num_pending == 0
    })
    .await;
    env.barrier().await;
    let mut per_id: HashMap<String, usize> = HashMap::new();
    for m in drain(&mut env.effects) {
        *per_id
            .entry(header(&m, "X-Correlation-ID").unwrap_or("").to_owned())
            .or_default() += 1;
    }
    assert_eq!(per_id.len(), 20, "{per_id:?}");
    assert!(
        per_id.values().all(|n| *n == 1),
        "one effect per message: {per_id:?}"
    );
    assert_eq!(env.counts(|s| s.event_counts().core()), 0);
    let info = consumer.info().await.expect("consumer info");
    assert_eq!(info.num_redelivered, 0, "nothing redelivered");

    // Shutdown ends run() cleanly, listeners and all.
    env.stop.cancel();
    for r in std::mem::take(&mut env.replicas) {
        tokio::time::timeout(WAIT, r.task)
            .await
            .expect("run returns on shutdown")
            .expect("run did not panic");
    }
}

async fn wait_consumer(
    consumer: &jetstream::consumer::PullConsumer,
    what: &str,
    ok: impl Fn(&jetstream::consumer::Info) -> bool,
) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let info = consumer.get_info().await.expect("consumer info");
        if ok(&info) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {WAIT:?}: waiting {}, pending {}, ack pending {}",
            info.num_waiting,
            info.num_pending,
            info.num_ack_pending
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_order_over_rpc_and_async_publishes_the_effect() {
    let mut env = env(cliffload_testkit::server(), 1).await;
    let orders = benign_orders(2);
    let mut h = HeaderMap::new();
    h.insert("X-Correlation-ID", "rpc-1");
    let body = serde_json::to_vec(&json!({"order": orders[0]})).expect("json");
    let reply = env
        .client
        .request_with_headers(format!("{NAME}.rpc.process_order"), h, body.into())
        .await
        .expect("reply");
    assert_eq!(json_of(&reply)["success"], true);
    assert_effect(
        &next(&mut env.effects, "effect of rpc").await,
        "rpc-1",
        &orders[0].order_id,
        "processed",
    );

    // Async: no reply, the effect all the same; the id from the body.
    let body = json!({"order": orders[1], "correlation_id": "async-2"});
    env.publish(&format!("{NAME}.async.process_order"), None, &body)
        .await;
    assert_effect(
        &next(&mut env.effects, "effect of async").await,
        "async-2",
        &orders[1].order_id,
        "processed",
    );

    // A business refusal is an effect too, with its reason: a new
    // customer's first order over 1000.
    let mut g = Generator::new(&GenConfig::new(5, jiff::Timestamp::now()));
    let big = loop {
        let o = g.order_with_items(6);
        if o.total_amount > Decimal::from(1000)
            && o.total_amount < Decimal::from(5000)
            && o.payment.method != PaymentMethod::Crypto
            && o.fraud_check_passed
        {
            break o;
        }
    };
    let mut h = HeaderMap::new();
    h.insert("X-Correlation-ID", "rpc-big");
    let body = serde_json::to_vec(&json!({"order": big})).expect("json");
    let reply = env
        .client
        .request_with_headers(format!("{NAME}.rpc.process_order"), h, body.into())
        .await
        .expect("reply");
    assert_eq!(json_of(&reply)["success"], false);
    let m = next(&mut env.effects, "effect of a refusal").await;
    assert_effect(&m, "rpc-big", &big.order_id, "refused");
    assert!(
        json_of(&m)["reason"]
            .as_str()
            .is_some_and(|r| r.contains("new_customer_limit")),
        "{}",
        json_of(&m)
    );
    env.barrier().await;
    assert!(drain(&mut env.effects).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_jetstream_rpc_and_core_events_are_served() {
    let mut env = env(cliffload_testkit::server(), 1).await;
    let reply = env
        .client
        .request(format!("{NAME}.rpc.echo"), r#"{"message":"hi"}"#.into())
        .await
        .expect("reply");
    assert_eq!(json_of(&reply)["result"], "hi");
    let order = benign_orders(1).remove(0);
    env.publish(PLACED, Some("evt-nojs"), &json!({"order": order}))
        .await;
    assert_effect(
        &next(&mut env.effects, "effect").await,
        "evt-nojs",
        &order.order_id,
        "processed",
    );
    // No JetStream here (its API answers an error, or nothing does), and
    // nothing consumed.
    if let Ok(info) = env.client.request("$JS.API.INFO", "".into()).await {
        assert!(json_of(&info).get("error").is_some(), "{}", json_of(&info));
    }
    assert_eq!(env.counts(|s| s.event_counts().jetstream()), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_off_leaves_jetstream_alone() {
    let mut env = env_with(cliffload_testkit::jetstream_server(), 1, Durable::Off).await;
    let order = benign_orders(1).remove(0);
    env.publish(PLACED, Some("evt-off"), &json!({"order": order}))
        .await;
    assert_effect(
        &next(&mut env.effects, "effect").await,
        "evt-off",
        &order.order_id,
        "processed",
    );
    let js = jetstream::new(env.client.clone());
    assert!(
        js.get_stream(STREAM).await.is_err(),
        "no stream made with the durable listener off"
    );
}

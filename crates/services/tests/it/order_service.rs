// order_processing_service: every method, captured client bytes, MsgPack,
// limits, replicas, and the HTTP variant answering like NATS.

use std::sync::Arc;
use std::time::Duration;

use async_nats::{Client, HeaderMap};
use cliffload_payloads::{
    ComplexOrder, GenConfig, Generator, InjectKind, ModelSpec, PaymentMethod,
};
use cliffload_services::cliffracer::ServeOptions;
use cliffload_services::order_service::{self, LatencyProfile, NAME, OrderConfig, OrderService};
use futures_util::StreamExt;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

struct Svc {
    server: cliffload_testkit::NatsServer,
    client: Client,
    stop: CancellationToken,
    service: Arc<OrderService>,
}

async fn start_with(config: OrderConfig) -> Svc {
    let server = cliffload_testkit::server();
    let client = cliffload_testkit::client(&server).await;
    let stop = CancellationToken::new();
    let service = Arc::new(OrderService::new(config));
    spawn_replica(&server, service.clone(), stop.clone()).await;
    cliffload_services::cliffracer::wait_ready(&client, NAME, Duration::from_secs(5))
        .await
        .expect("ready");
    Svc {
        server,
        client,
        stop,
        service,
    }
}

async fn spawn_replica(
    server: &cliffload_testkit::NatsServer,
    service: Arc<OrderService>,
    stop: CancellationToken,
) {
    let c = cliffload_testkit::client(server).await;
    tokio::spawn(async move {
        order_service::run(c, service, stop.cancelled_owned())
            .await
            .expect("service runs");
    });
}

async fn start() -> Svc {
    start_with(OrderConfig {
        latency: LatencyProfile::None,
        ..OrderConfig::default()
    })
    .await
}

impl Drop for Svc {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn call(client: &Client, method: &str, body: &Value) -> Value {
    let subject = format!("{NAME}.rpc.{method}");
    let msg = client
        .request(subject, serde_json::to_vec(body).expect("json").into())
        .await
        .expect("reply");
    serde_json::from_slice(&msg.payload).expect("JSON envelope")
}

fn generator(seed: u64) -> Generator {
    let mut c = GenConfig::new(seed, jiff::Timestamp::now());
    c.customer_pool_size = 50;
    c.product_pool_size = 50;
    Generator::new(&c)
}

/// An order no rule refuses: small, not crypto, fraud check passed, domestic.
fn benign_orders(n: usize) -> Vec<ComplexOrder> {
    let mut g = generator(11);
    let mut out = Vec::new();
    while out.len() < n {
        let mut o = g.order_with_items(1);
        if o.total_amount < Decimal::from(900)
            && o.payment.method != PaymentMethod::Crypto
            && o.fraud_check_passed
        {
            o.customer.customer_id = format!("CUST-BENIGN{}", out.len());
            out.push(o);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_order_accepts_refuses_and_rejects() {
    let svc = start().await;
    let order = benign_orders(1).remove(0);
    let v = call(&svc.client, "process_order", &json!({"order": order})).await;
    assert_eq!(v["success"], true, "{v}");
    let r = &v["result"];
    assert_eq!(r["order_id"], json!(order.order_id));
    assert_eq!(r["status"], "processed");
    assert!(
        r["tracking_number"]
            .as_str()
            .is_some_and(|t| t.starts_with("TRK"))
    );
    assert_eq!(r["total"], json!(order.total_amount.to_string()));
    assert!(
        r["fraud_score"]
            .as_f64()
            .is_some_and(|f| (0.0..=0.8).contains(&f))
    );
    assert!(r["processing_time_ms"].as_f64().is_some());

    // A new customer's first order over 1000 breaks a named business rule.
    let mut g = generator(5);
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
    let v = call(&svc.client, "process_order", &json!({"order": big})).await;
    assert_eq!(v["success"], false);
    assert!(
        v["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("refused: ") && e.contains("new_customer_limit")),
        "{v}"
    );

    // An injected error: validation failed, at the path of the error.
    let bad = ModelSpec::Order { items: None }
        .sample(&mut g, Some(InjectKind::NegativeTotal))
        .expect("injects");
    let v = call(&svc.client, "process_order", &json!({"order": bad.value})).await;
    assert_eq!(v["error"], "validation failed");
    let locs: Vec<&Value> = v["details"]
        .as_array()
        .expect("details")
        .iter()
        .map(|d| &d["loc"])
        .collect();
    assert!(
        locs.contains(&&json!(["order", "total_amount"])),
        "{locs:?}"
    );
    assert_eq!(svc.service.processed(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_analytics_large_payloads_error_tests_and_metrics() {
    let svc = start().await;
    let v = call(
        &svc.client,
        "batch_process_orders",
        &json!({"orders": benign_orders(3)}),
    )
    .await;
    assert_eq!(v["result"]["total_orders"], 3, "{v}");
    assert_eq!(v["result"]["successful"], 3, "{v}");
    assert_eq!(v["result"]["results"].as_array().map(Vec::len), Some(3));

    let mut g = generator(3);
    let events = ModelSpec::AnalyticsBatch { events: (20, 20) }
        .sample(&mut g, None)
        .expect("events")
        .value;
    let v = call(
        &svc.client,
        "analytics_ingestion",
        &json!({"events": events}),
    )
    .await;
    assert_eq!(v["result"]["processed_events"], 20, "{v}");
    let by_type: u64 = v["result"]["event_types"]
        .as_object()
        .expect("types")
        .values()
        .filter_map(Value::as_u64)
        .sum();
    assert_eq!(by_type, 20);

    let batch = ModelSpec::BatchRequest {
        items: (100, 100),
        metadata_kb: 4,
    }
    .sample(&mut g, None)
    .expect("batch")
    .value;
    let v = call(
        &svc.client,
        "large_payload_processing",
        &json!({"batch_request": batch}),
    )
    .await;
    assert_eq!(v["result"]["processed_items"], 100, "{v}");
    assert!(
        v["result"]["payload_size_mb"]
            .as_f64()
            .is_some_and(|mb| mb > 0.004)
    );

    let ok = ModelSpec::ValidationErrorTest
        .sample(&mut g, None)
        .expect("valid")
        .value;
    assert_eq!(
        call(
            &svc.client,
            "error_scenario_test",
            &json!({"test_data": ok})
        )
        .await["success"],
        true
    );
    for kind in InjectKind::VALIDATION_TEST {
        let s = ModelSpec::ValidationErrorTest
            .sample(&mut g, Some(kind))
            .expect("injects");
        let v = call(
            &svc.client,
            "error_scenario_test",
            &json!({"test_data": s.value}),
        )
        .await;
        assert_eq!(v["error"], "validation failed", "{kind}: {v}");
        let field = s
            .expect_at
            .last()
            .map(ToString::to_string)
            .expect("a field");
        assert!(
            v["details"]
                .as_array()
                .expect("details")
                .iter()
                .any(|d| d["loc"] == json!(["test_data", field])),
            "{kind}: {v}"
        );
    }

    let v = call(&svc.client, "get_service_metrics", &json!({})).await;
    let m = &v["result"];
    assert_eq!(m["processed_orders"], 3, "{v}");
    for key in [
        "validation_time_ms",
        "serialization_time_ms",
        "business_logic_time_ms",
        "database_simulation_time_ms",
        "total_revenue",
        "success_rate",
    ] {
        assert!(!m[key].is_null(), "{key} missing: {m}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn captured_client_bytes_get_cliffracer_envelopes() {
    let svc = start().await;
    let raw = |method: &str, body: &'static [u8]| {
        let c = svc.client.clone();
        let subject = format!("{NAME}.rpc.{method}");
        async move {
            let msg = c.request(subject, body.into()).await.expect("reply");
            serde_json::from_slice::<Value>(&msg.payload).expect("JSON")
        }
    };
    // protocol doc §9, byte for byte
    let v = raw("echo", br#"{"message":"hello"}"#).await;
    assert_eq!(
        (v["success"].clone(), v["result"].clone()),
        (json!(true), json!("hello"))
    );
    let v = raw("process_order", br#"{"order": {"order_id": "o-1", "customer_id": "c-9", "items": [{"sku": "A1", "quantity": 2, "unit_price": 3.5}]}}"#).await;
    assert_eq!(v["error"], "validation failed");
    let keys: Vec<&str> = v
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["success", "error", "details", "timestamp", "correlation_id"]
    );
    let v = raw(
        "process_order",
        br#"{"order_id": "o-1", "customer_id": "c-9", "items": []}"#,
    )
    .await;
    let kinds: Vec<(String, Value)> = v["details"]
        .as_array()
        .expect("details")
        .iter()
        .map(|d| {
            (
                d["type"].as_str().unwrap_or("").to_owned(),
                d["loc"].clone(),
            )
        })
        .collect();
    assert!(
        kinds.contains(&("missing".into(), json!(["order"]))),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&("extra_forbidden".into(), json!(["order_id"]))),
        "{kinds:?}"
    );
    assert_eq!(
        raw("no_such_method", b"{}").await["error"],
        "Unknown method: no_such_method"
    );
    assert_eq!(
        raw("echo", br#"["hello"]"#).await["details"][0]["type"],
        "model_type"
    );
    assert_eq!(
        raw("echo", b"{bad").await["details"][0]["type"],
        "payload_invalid"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msgpack_orders_and_describe() {
    let svc = start().await;
    let order = benign_orders(1).remove(0);
    let mut h = HeaderMap::new();
    h.insert("Content-Type", "application/msgpack");
    let body = rmp_serde::to_vec_named(&json!({"order": order})).expect("msgpack");
    let msg = svc
        .client
        .request_with_headers(format!("{NAME}.rpc.process_order"), h, body.into())
        .await
        .expect("reply");
    let v: Value = rmp_serde::from_slice(&msg.payload).expect("MsgPack reply");
    assert_eq!(v["success"], true, "{v}");

    let msg = svc
        .client
        .request(format!("{NAME}.describe"), "".into())
        .await
        .expect("describe");
    let d: Value = serde_json::from_slice(&msg.payload).expect("JSON");
    let names: Vec<&str> = d["methods"]
        .as_array()
        .expect("methods")
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    for m in [
        "process_order",
        "batch_process_orders",
        "analytics_ingestion",
        "large_payload_processing",
        "error_scenario_test",
        "get_service_metrics",
    ] {
        assert!(names.contains(&m), "{m} not in {names:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_requests_and_batches_get_validation_envelopes() {
    let svc = start_with(OrderConfig {
        latency: LatencyProfile::None,
        max_batch_orders: 2,
        serve: ServeOptions {
            max_request_bytes: 64 * 1024,
            ..ServeOptions::default()
        },
        ..OrderConfig::default()
    })
    .await;
    let v = call(
        &svc.client,
        "batch_process_orders",
        &json!({"orders": benign_orders(3)}),
    )
    .await;
    assert_eq!(v["error"], "validation failed");
    assert_eq!(v["details"][0]["type"], "too_long");
    let mut g = generator(1);
    let big = ModelSpec::BatchRequest {
        items: (100, 100),
        metadata_kb: 100,
    }
    .sample(&mut g, None)
    .expect("batch")
    .value;
    let v = call(
        &svc.client,
        "large_payload_processing",
        &json!({"batch_request": big}),
    )
    .await;
    assert_eq!(v["details"][0]["type"], "payload_too_large", "{v}");
    // still serving
    assert_eq!(
        call(&svc.client, "echo", &json!({"message": "alive"})).await["result"],
        "alive"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_the_load_through_the_queue_group() {
    let svc = start().await;
    spawn_replica(
        &svc.server,
        Arc::new(OrderService::new(OrderConfig {
            latency: LatencyProfile::None,
            ..OrderConfig::default()
        })),
        svc.stop.clone(),
    )
    .await;
    // Wait until both replicas answer $SRV.PING.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while srv_replies(&svc.client, "PING").await.len() < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "second replica never came up"
        );
    }
    for i in 0..200 {
        call(&svc.client, "echo", &json!({"message": format!("m{i}")})).await;
    }
    let counts: Vec<u64> = srv_replies(&svc.client, "STATS")
        .await
        .iter()
        .map(|s| cliffload_testkit::endpoint_requests(s, "rpc"))
        .collect();
    assert_eq!(counts.len(), 2, "{counts:?}");
    assert_eq!(counts.iter().sum::<u64>(), 200, "{counts:?}");
    assert!(
        counts.iter().all(|c| *c > 20),
        "both replicas served: {counts:?}"
    );
}

/// Every reply to `$SRV.{verb}.{NAME}` within 300 ms (one per replica).
async fn srv_replies(client: &Client, verb: &str) -> Vec<Value> {
    let inbox = client.new_inbox();
    let mut sub = client.subscribe(inbox.clone()).await.expect("subscribe");
    client
        .publish_with_reply(format!("$SRV.{verb}.{NAME}"), inbox, "".into())
        .await
        .expect("publish");
    let mut out = vec![];
    let until = tokio::time::Instant::now() + Duration::from_millis(300);
    while let Ok(Some(m)) = tokio::time::timeout_at(until, sub.next()).await {
        out.push(serde_json::from_slice(&m.payload).unwrap_or(Value::Null));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_variant_answers_as_nats_does() {
    let svc = start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = cliffload_services::http::router(svc.service.clone(), 8 * 1024 * 1024);
    let stop = svc.stop.clone();
    tokio::spawn(cliffload_services::http::serve(
        listener,
        app,
        stop.cancelled_owned(),
    ));
    let http = reqwest::Client::new();
    let mut g = generator(2);
    let invalid = ModelSpec::ValidationErrorTest
        .sample(&mut g, Some(InjectKind::BadPattern))
        .expect("injects")
        .value;
    for (method, body) in [
        ("echo", json!({"message": "same"})),
        ("error_scenario_test", json!({"test_data": invalid})),
        ("no_such_method", json!({})),
        ("echo", json!({"msg": 1})),
    ] {
        let mut h = HeaderMap::new();
        h.insert("X-Correlation-ID", "corr-same");
        let nats = svc
            .client
            .request_with_headers(
                format!("{NAME}.rpc.{method}"),
                h,
                serde_json::to_vec(&body).expect("json").into(),
            )
            .await
            .expect("reply");
        let mut over_nats: Value = serde_json::from_slice(&nats.payload).expect("JSON");
        let mut over_http: Value = http
            .post(format!("http://{addr}/{NAME}/rpc/{method}"))
            .header("X-Correlation-ID", "corr-same")
            .json(&body)
            .send()
            .await
            .expect("HTTP reply")
            .json()
            .await
            .expect("JSON");
        for v in [&mut over_nats, &mut over_http] {
            v["timestamp"] = Value::Null;
        }
        assert_eq!(over_http, over_nats, "{method}");
    }
    let health = http
        .get(format!("http://{addr}/health"))
        .send()
        .await
        .expect("health");
    assert!(health.status().is_success());
}

// The `test` service: Cliffracer envelopes, headers, codecs, describe, $SRV.

use std::time::Duration;

use async_nats::{Client, HeaderMap};
use cliffload_services::test_service::{self, TestConfig};
use serde_json::{Value, json};
use tokio::sync::oneshot;

struct Running {
    server: cliffload_testkit::NatsServer,
    client: Client,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

async fn start() -> Running {
    let server = cliffload_testkit::server();
    let client = cliffload_testkit::client(&server).await;
    let svc_client = cliffload_testkit::client(&server).await;
    let (stop, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let shutdown = async {
            let _ = rx.await;
        };
        test_service::run(svc_client, TestConfig::default(), shutdown)
            .await
            .expect("service runs");
    });
    // Ready when $SRV.PING answers: the endpoints are subscribed by then.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while client.request("$SRV.PING.test", "".into()).await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "test service never answered $SRV.PING"
        );
        tokio::task::yield_now().await;
    }
    Running {
        server,
        client,
        stop: Some(stop),
        task,
    }
}

impl Running {
    async fn call(
        &self,
        subject: &str,
        body: &[u8],
        headers: Option<HeaderMap>,
    ) -> (HeaderMap, Value) {
        let msg = match headers {
            Some(h) => {
                self.client
                    .request_with_headers(subject.to_owned(), h, body.to_vec().into())
                    .await
            }
            None => {
                self.client
                    .request(subject.to_owned(), body.to_vec().into())
                    .await
            }
        }
        .expect("reply");
        let value = if msg
            .headers
            .as_ref()
            .and_then(|h| h.get("Content-Type"))
            .map(|v| v.as_str())
            == Some("application/msgpack")
        {
            rmp_decode(&msg.payload)
        } else {
            serde_json::from_slice(&msg.payload).expect("JSON reply")
        };
        (msg.headers.unwrap_or_default(), value)
    }

    async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = (&mut self.task).await;
    }
}

fn rmp_decode(bytes: &[u8]) -> Value {
    cliffload_protocol::Codec::MsgPack
        .decode(bytes)
        .expect("MsgPack reply")
}

fn json_headers(corr: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("Content-Type", "application/json");
    h.insert("X-Correlation-ID", corr);
    h
}

#[tokio::test]
async fn echo_answers_the_captured_request_like_cliffracer() {
    let svc = start().await;
    // The exact body and headers of the capture in protocol doc §9.
    let (h, v) = svc
        .call(
            "test.rpc.echo",
            br#"{"message":"hello"}"#,
            Some(json_headers("corr-demo-0001")),
        )
        .await;
    assert_eq!(v["success"], true);
    assert_eq!(v["result"], "hello");
    assert_eq!(v["correlation_id"], "corr-demo-0001");
    let ts = v["timestamp"].as_str().expect("timestamp");
    assert!(
        ts.ends_with("+00:00") && ts.len() == "2026-11-29T12:38:04.138380+00:00".len(),
        "{ts}"
    );
    let keys: Vec<&String> = v.as_object().expect("object").keys().collect();
    assert_eq!(keys.len(), 4, "{keys:?}");
    assert_eq!(
        h.get("X-Correlation-ID").map(|v| v.as_str()),
        Some("corr-demo-0001")
    );
    assert_eq!(
        h.get("Content-Type").map(|v| v.as_str()),
        Some("application/json")
    );
    svc.stop().await;
}

#[tokio::test]
async fn validation_errors_unknown_methods_and_bad_bodies_get_cliffracer_envelopes() {
    let svc = start().await;
    let (_, v) = svc.call("test.rpc.echo", br#"{"msg": 1}"#, None).await;
    assert_eq!(v["success"], false);
    assert_eq!(v["error"], "validation failed");
    let kinds: Vec<&str> = v["details"]
        .as_array()
        .expect("details")
        .iter()
        .filter_map(|d| d["type"].as_str())
        .collect();
    assert_eq!(kinds, ["missing", "extra_forbidden"]);
    assert!(
        v["correlation_id"]
            .as_str()
            .is_some_and(|c| c.starts_with("corr_") && c.len() == 21),
        "{v}"
    );

    let (_, v) = svc
        .call("test.rpc.no_such_method", b"{}", Some(json_headers("c-1")))
        .await;
    assert_eq!(v["error"], "Unknown method: no_such_method");
    assert_eq!(v["correlation_id"], "c-1");
    let (_, v) = svc.call("test.rpc.no_such_method", b"{}", None).await;
    assert_eq!(
        v["correlation_id"],
        Value::Null,
        "unknown method reads headers only"
    );

    let (_, v) = svc.call("test.rpc.echo", b"{bad", None).await;
    assert_eq!(v["details"][0]["type"], "payload_invalid");
    assert_eq!(v["details"][0]["loc"], json!(["__root__"]));

    let (_, v) = svc.call("test.rpc.echo", br#"["hello"]"#, None).await;
    assert_eq!(v["details"][0]["type"], "model_type");
    assert_eq!(v["details"][0]["loc"], json!([]));

    let (_, v) = svc
        .call("test.rpc.compute", br#"{"numbers": []}"#, None)
        .await;
    assert_eq!(v["details"][0]["type"], "too_short");
    svc.stop().await;
}

#[tokio::test]
async fn compute_ping_and_correlation_from_body() {
    let svc = start().await;
    let (_, v) = svc
        .call(
            "test.rpc.compute",
            br#"{"numbers": [1, 2, 3.5], "correlation_id": "from-body"}"#,
            None,
        )
        .await;
    assert_eq!(
        v["result"],
        json!({"sum": 6.5, "mean": 6.5 / 3.0, "count": 3})
    );
    assert_eq!(v["correlation_id"], "from-body");
    let (_, v) = svc.call("test.rpc.ping", b"", None).await;
    assert_eq!(v["result"], "pong");
    svc.stop().await;
}

#[tokio::test]
async fn msgpack_request_gets_msgpack_reply() {
    let svc = start().await;
    let mut h = HeaderMap::new();
    h.insert("Content-Type", "application/msgpack");
    // The exact MsgPack body of the capture in protocol doc §9.
    let (h, v) = svc
        .call("test.rpc.echo", b"\x81\xa7message\xa6packed", Some(h))
        .await;
    assert_eq!(
        h.get("Content-Type").map(|v| v.as_str()),
        Some("application/msgpack")
    );
    assert_eq!(v["result"], "packed");
    assert_eq!(v["success"], true);
    svc.stop().await;
}

#[tokio::test]
async fn request_headers_are_echoed_and_x_request_id_correlates() {
    let svc = start().await;
    let mut h = HeaderMap::new();
    h.insert("content-type", "application/json; charset=utf-8");
    h.insert("X-Custom", "abc");
    h.insert("X-Request-ID", "req-77");
    let (h, v) = svc
        .call("test.rpc.echo", br#"{"message":"x"}"#, Some(h))
        .await;
    assert_eq!(v["correlation_id"], "req-77");
    assert_eq!(h.get("X-Custom").map(|v| v.as_str()), Some("abc"));
    assert_eq!(
        h.get("Content-Type").map(|v| v.as_str()),
        Some("application/json")
    );
    svc.stop().await;
}

#[tokio::test]
async fn describe_lists_methods_and_srv_stats_counts_requests() {
    let svc = start().await;
    let msg = svc
        .client
        .request("test.describe", "".into())
        .await
        .expect("describe answers");
    let d: Value = serde_json::from_slice(&msg.payload).expect("JSON");
    let names: Vec<&str> = d["methods"]
        .as_array()
        .expect("methods")
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["ping", "echo", "compute", "create", "get", "register"]
    );
    for _ in 0..7 {
        svc.call("test.rpc.ping", b"{}", None).await;
    }
    let stats = cliffload_testkit::srv_stats(&svc.client, "test").await;
    assert_eq!(
        cliffload_testkit::endpoint_requests(&stats, "rpc"),
        7,
        "{stats}"
    );
    svc.stop().await;
}

#[tokio::test]
async fn async_subject_runs_but_never_replies() {
    let svc = start().await;
    let reply = svc
        .client
        .send_request(
            "test.async.ping",
            async_nats::Request::new()
                .payload("{}".into())
                .timeout(Some(Duration::from_millis(300))),
        )
        .await;
    let err = reply.expect_err("no reply on async");
    assert_eq!(err.kind(), async_nats::RequestErrorKind::TimedOut);
    // ...but the request reached the service's async endpoint (the NATS
    // service API counts only answered requests, so ask the server what it
    // delivered to that subscription).
    let connz: serde_json::Value =
        reqwest::get(format!("{}/connz?subs=detail", svc.server.monitor_url()))
            .await
            .expect("monitoring answers")
            .json()
            .await
            .expect("connz is JSON");
    let delivered: u64 = connz["connections"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| {
            c["subscriptions_list_detail"]
                .as_array()
                .into_iter()
                .flatten()
        })
        .filter(|s| s["subject"] == "test.async.*")
        .filter_map(|s| s["msgs"].as_u64())
        .sum();
    assert_eq!(delivered, 1, "{connz}");
    svc.stop().await;
}

#[tokio::test]
async fn create_answers_an_id_get_knows_only_those_and_register_refuses_a_repeat() {
    let svc = start().await;
    let (_, created) = svc
        .call("test.rpc.create", br#"{"item": "pen"}"#, None)
        .await;
    let id = created["result"]["id"].as_str().expect("an id").to_owned();
    let (_, got) = svc
        .call(
            "test.rpc.get",
            format!(r#"{{"id": "{id}"}}"#).as_bytes(),
            None,
        )
        .await;
    assert_eq!(got["result"]["item"], "pen", "{got}");
    let (_, unknown) = svc
        .call("test.rpc.get", br#"{"id": "it-999999"}"#, None)
        .await;
    assert_eq!(unknown["success"], false, "{unknown}");
    assert!(
        unknown["error"]
            .as_str()
            .is_some_and(|e| e.contains("no item"))
    );
    let body = br#"{"email": "a@example.com"}"#;
    let (_, first) = svc.call("test.rpc.register", body, None).await;
    assert_eq!(first["success"], true, "{first}");
    let (_, again) = svc.call("test.rpc.register", body, None).await;
    assert_eq!(again["success"], false, "{again}");
    assert!(
        again["error"]
            .as_str()
            .is_some_and(|e| e.contains("already registered"))
    );
}

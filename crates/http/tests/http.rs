//! The HTTP transport against the real reference service (axum, loopback,
//! a random port): each kind of reply becomes the right outcome.

use std::sync::Arc;

use cliffload_engine::{Connector, Payload, Transport};
use cliffload_http::{HttpConnector, HttpError, HttpTarget, check_base, preflight};
use cliffload_metrics::Outcome;
use cliffload_scenario::ScenarioFile;
use cliffload_services::{http, test_service};

/// Serves the `test` service over HTTP until the returned sender is dropped.
async fn serve() -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = http::router(Arc::new(test_service::TestService::default()), 8 << 20);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(http::serve(listener, app, async move {
        let _ = stopped.await;
    }));
    (format!("http://{addr}"), stop)
}

fn tasks(yaml_tasks: &str) -> Vec<cliffload_scenario::Task> {
    let yaml =
        format!("scenarios:\n  s:\n    users: 1\n    duration: 1s\n    tasks:\n{yaml_tasks}");
    let file = ScenarioFile::parse(&yaml, "t.yaml").expect("valid");
    file.get("s").expect("s").tasks.clone()
}

const TASKS: &str = "      - {name: ping, service: test, method: ping, timeout: 2s}\n      - {name: echo, service: test, method: echo, timeout: 2s, payload: {message: hi}}\n      - {name: nope, service: test, method: no_such_method, timeout: 2s}\n      - {name: absent, service: nobody, method: ping, timeout: 2s}\n";

fn connector(base: &str) -> HttpConnector {
    HttpConnector::new(
        tasks(TASKS)
            .iter()
            .map(|t| HttpTarget::of(&t.name, &t.request, base).expect("rpc subject"))
            .collect(),
    )
}

#[tokio::test]
async fn replies_become_outcomes_as_over_nats() {
    let (base, _stop) = serve().await;
    let c = connector(&base);
    let t = c.connect(0).await.expect("client");
    let body = |s: &'static str| Payload::valid(s.as_bytes());
    assert_eq!(t.call(0, &body("{}")).await.outcome, Outcome::Ok);
    let ok = t.call(1, &body(r#"{"message":"hi"}"#)).await;
    assert_eq!(ok.outcome, Outcome::Ok);
    assert!(ok.bytes > 16 && ok.sample.is_none(), "{ok:?}");
    // A flat body is refused as invalid: a failure for a valid request,
    // with the service's words kept...
    let refused = t.call(1, &body(r#"{"msg":1}"#)).await;
    assert_eq!(refused.outcome, Outcome::ValidationFailed);
    // (and the fields it names: echo takes `message`, not `msg`).
    let detail = refused.detail.as_deref().unwrap_or_default();
    assert!(
        detail.starts_with("validation failed: ") && detail.contains("message"),
        "{detail}"
    );
    assert!(
        refused
            .sample
            .as_deref()
            .is_some_and(|s| s.contains("validation failed"))
    );
    // ...and the correct answer to an injected one.
    let injected = Payload {
        body: bytes::Bytes::from_static(br#"{"msg":1}"#),
        injected: Some("missing_required"),
        ..Payload::valid(bytes::Bytes::new())
    };
    assert_eq!(
        t.call(1, &injected).await.outcome,
        Outcome::RejectedExpected
    );
    assert_eq!(t.call(2, &body("{}")).await.outcome, Outcome::ServiceError);
    assert_eq!(t.call(3, &body("{}")).await.outcome, Outcome::NoResponders);
}

#[tokio::test]
async fn a_closed_port_is_a_transport_failure_and_preflight_names_it() {
    // A port that was free a moment ago, with nothing listening on it now.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    drop(listener);
    let c = connector(&base);
    let t = c.connect(0).await.expect("client");
    assert_eq!(
        t.call(0, &Payload::valid(&b"{}"[..])).await.outcome,
        Outcome::Transport
    );
    let ping = Payload::valid(&b"{}"[..]);
    let err = preflight(&c, &[Some(&ping)])
        .await
        .expect_err("nothing serves");
    assert!(
        matches!(
            err,
            HttpError::Preflight {
                outcome: Outcome::Transport,
                ..
            }
        ),
        "{err:?}"
    );
    let err = err.to_string();
    assert!(
        err.contains("s.ping") && err.contains("transport") && err.contains("refused"),
        "{err}"
    );
}

#[tokio::test]
async fn preflight_stops_at_a_route_nobody_serves() {
    let (base, _stop) = serve().await;
    let c = connector(&base);
    let ok = Payload::valid(&b"{}"[..]);
    let echo = Payload::valid(&br#"{"message":"hi"}"#[..]);
    let err = preflight(&c, &[Some(&ok), Some(&echo), Some(&ok), Some(&ok)])
        .await
        .expect_err("task 3 has no route");
    assert!(
        matches!(&err, HttpError::Preflight { task, outcome: Outcome::NoResponders, .. } if task == "s.absent"),
        "{err:?}"
    );
    let err = err.to_string();
    assert!(
        err.contains("absent") && err.contains("/nobody/rpc/ping"),
        "{err}"
    );
    assert!(err.contains("no_responders"), "{err}");
}

#[tokio::test]
async fn a_slow_reply_is_a_timeout() {
    // A listener that accepts and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    let t = tasks("      - {name: ping, service: test, method: ping, timeout: 200ms}\n");
    let c = HttpConnector::new(vec![
        HttpTarget::of(&t[0].name, &t[0].request, &base).expect("rpc"),
    ]);
    let transport = c.connect(0).await.expect("client");
    assert_eq!(
        transport.call(0, &Payload::valid(&b"{}"[..])).await.outcome,
        Outcome::Timeout
    );
    held.abort();
}

#[test]
fn routes_and_base_urls() {
    let t = tasks(
        "      - {name: a, subject: order_processing_service.rpc.process_order}\n      - {name: b, subject: metrics.flush}\n",
    );
    let a = HttpTarget::of(&t[0].name, &t[0].request, "http://127.0.0.1:18080/").expect("rpc");
    assert_eq!(
        a.url,
        "http://127.0.0.1:18080/order_processing_service/rpc/process_order"
    );
    let err =
        HttpTarget::of(&t[1].name, &t[1].request, "http://127.0.0.1:18080").expect_err("not rpc");
    assert!(matches!(err, HttpError::NotRpc { .. }), "{err:?}");
    let err = err.to_string();
    assert!(err.contains("metrics.flush"), "{err}");
    assert!(check_base("http://127.0.0.1:18080").is_ok());
    assert!(check_base("https://example.com").is_err());
    assert!(check_base("127.0.0.1:18080").is_err());
    assert!(matches!(
        check_base("https://example.com"),
        Err(HttpError::NotHttp { .. })
    ));
    assert!(matches!(
        check_base("http://"),
        Err(HttpError::NotAUrl { .. })
    ));
}

#[tokio::test]
async fn bodies_over_axums_default_2_mb_reach_the_service() {
    let (base, _stop) = serve().await;
    let c = connector(&base);
    let t = c.connect(0).await.expect("client");
    let big = format!(r#"{{"message":"{}"}}"#, "x".repeat(3 << 20));
    assert_eq!(
        t.call(1, &Payload::valid(big.into_bytes())).await.outcome,
        Outcome::Ok
    );
}

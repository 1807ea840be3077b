// --otlp (issue 17): an OTLP/HTTP receiver in the test decodes the pushed
// protobuf (opentelemetry-proto); the last push's counts are result.json's;
// an unreachable collector is named (issue 27).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point};
use prost::Message;

use crate::harness::{Env, assert_schema_valid, free_port, read_result, run, stderr};

type Pushes = Arc<Mutex<Vec<ExportMetricsServiceRequest>>>;

/// A receiver on a free loopback port: every push to /v1/metrics, decoded.
async fn receiver() -> (String, Pushes) {
    let pushes: Pushes = Arc::default();
    let kept = pushes.clone();
    let app = axum::Router::new().route(
        "/v1/metrics",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| async move {
                assert_eq!(headers["content-type"], "application/x-protobuf");
                let request = ExportMetricsServiceRequest::decode(body).expect("OTLP protobuf");
                kept.lock().expect("lock").push(request);
                axum::http::StatusCode::OK
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), pushes)
}

fn text(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| match &kv.value {
            Some(AnyValue {
                value: Some(any_value::Value::StringValue(s)),
            }) => Some(s.clone()),
            _ => None,
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pushed_counts_equal_the_results_and_arrive_each_second() {
    let env = Env::with_test_service().await;
    let (url, pushes) = receiver().await;
    let out = env.out();
    let o = run(
        &[
            "run",
            "ping",
            "--nats-url",
            env.url(),
            "-d",
            "4s",
            "--quiet",
            "--otlp",
            &url,
            "--out",
            out.to_str().expect("utf-8"),
        ],
        Duration::from_secs(60),
    )
    .await;
    let r = read_result(&out);
    crate::harness::assert_passed_but_for_speed(o.status.code(), &r, &stderr(&o));
    let pushes = pushes.lock().expect("lock").clone();
    assert!(pushes.len() >= 3, "a push each second: {}", pushes.len());
    let last = pushes.last().expect("a push");
    let resource = last.resource_metrics[0]
        .resource
        .as_ref()
        .expect("resource");
    assert_eq!(
        text(&resource.attributes, "service.name").as_deref(),
        Some("cliffload")
    );
    assert!(text(&resource.attributes, "cliffload.run_id").is_some());

    // Cumulative: the last push holds the run's totals.
    let mut requests: BTreeMap<(String, String), i64> = BTreeMap::new();
    let mut latency: BTreeMap<String, u64> = BTreeMap::new();
    for m in last
        .resource_metrics
        .iter()
        .flat_map(|rm| &rm.scope_metrics)
        .flat_map(|sm| &sm.metrics)
    {
        match (m.name.as_str(), &m.data) {
            ("cliffload.requests", Some(metric::Data::Sum(sum))) => {
                assert!(sum.is_monotonic);
                for p in &sum.data_points {
                    assert_eq!(text(&p.attributes, "scenario").as_deref(), Some("ping"));
                    let key = (
                        text(&p.attributes, "task").expect("task"),
                        text(&p.attributes, "outcome").expect("outcome"),
                    );
                    let Some(number_data_point::Value::AsInt(n)) = p.value else {
                        panic!("an integer count: {p:?}");
                    };
                    requests.insert(key, n);
                }
            }
            ("cliffload.latency", Some(metric::Data::Histogram(h))) => {
                assert_eq!(m.unit, "s");
                for p in &h.data_points {
                    latency.insert(text(&p.attributes, "task").expect("task"), p.count);
                }
            }
            _ => {}
        }
    }
    let tasks = r["tasks"].as_array().expect("tasks");
    assert_eq!(tasks.len(), 3);
    for t in tasks {
        let name = t["name"].as_str().expect("name");
        let ok = t["outcomes"]["ok"]["count"].as_i64().expect("ok count");
        assert!(ok > 0);
        assert_eq!(
            requests.get(&(name.to_owned(), "ok".to_owned())),
            Some(&ok),
            "{name}: {requests:?}"
        );
        assert_eq!(latency.get(name), u64::try_from(ok).ok().as_ref(), "{name}");
    }
    let pushed: i64 = requests.values().sum();
    assert_eq!(Some(pushed), r["summary"]["requests"].as_i64());
}

#[tokio::test]
async fn a_bad_otlp_url_is_a_usage_error_before_any_load() {
    let o = run(
        &["run", "ping", "--otlp", "localhost:4318", "-d", "1s"],
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--otlp localhost:4318"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_collector_is_named_under_quiet_and_in_the_result() {
    // Issue 27: a collector that could not be reached gave no word under
    // --quiet, and otherwise only the SDK's InternalFailure("Failed to shutdown").
    let env = Env::with_test_service().await;
    // Free a moment ago: nothing listens there.
    let endpoint = format!("http://127.0.0.1:{}/v1/metrics", free_port());
    let out = env.out();
    let o = run(
        &[
            "run",
            "ping",
            "--nats-url",
            env.url(),
            "-d",
            "3s",
            "--quiet",
            "--otlp",
            &endpoint,
            "--out",
            out.to_str().expect("utf-8"),
        ],
        Duration::from_secs(60),
    )
    .await;
    let err = stderr(&o);
    let r = read_result(&out);
    // Exporting watches the run: its failure changes no check, and the
    // exit code is the verdict's.
    crate::harness::assert_passed_but_for_speed(o.status.code(), &r, &err);
    assert_schema_valid(&r);
    // Said once, not once a push: the endpoint, the cause and the fix.
    let said: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("warning: --otlp"))
        .collect();
    assert_eq!(said.len(), 1, "{err}");
    let line = said[0];
    assert!(
        line.contains(&format!(
            "cannot push the metrics to {endpoint}: cannot connect"
        )),
        "{line}"
    );
    assert!(
        line.contains("start an OTLP/HTTP collector there"),
        "{line}"
    );
    assert!(!err.contains("InternalFailure"), "{err}");
    let w = r["warnings"]
        .as_array()
        .and_then(|ws| ws.iter().find(|w| w["kind"] == "export_failed"))
        .unwrap_or_else(|| panic!("an export_failed warning: {}", r["warnings"]));
    assert_eq!(w["exporter"], "otlp");
    assert_eq!(w["endpoint"], endpoint.as_str());
    let failures = w["failures"].as_u64().expect("failures");
    // A push each second and one at the end: none got through.
    assert!(failures >= 2, "{w}");
    assert_eq!(w["pushes"].as_u64(), Some(failures), "{w}");
    assert!(
        w["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("cannot connect")),
        "{w}"
    );
}

// The framework comparison (issue 16): comparison_frameworks honoured by
// `run` and `compare`, against a real HTTP service (the Rust reference's
// HTTP side), with an unreachable and a disabled framework beside it.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::harness::{Env, SMALL_POOLS, assert_schema_valid, read_result, run, stderr, warning};

/// The `test` service over HTTP on a free loopback port, until `stop`.
async fn http_test_service(stop: tokio_util::sync::CancellationToken) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = cliffload_services::http::router(
        Arc::new(cliffload_services::test_service::TestService::default()),
        cliffload_services::MAX_REQUEST_BYTES,
    );
    tokio::spawn(cliffload_services::http::serve(
        listener,
        app,
        stop.cancelled_owned(),
    ));
    format!("http://{addr}")
}

fn row<'a>(r: &'a Value, name: &str) -> &'a Value {
    r["frameworks"]
        .as_array()
        .and_then(|rows| rows.iter().find(|f| f["name"] == name))
        .unwrap_or_else(|| panic!("no row {name}: {}", r["frameworks"]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_compares_the_listed_frameworks_and_says_which_could_not_run() {
    let env = Env::with_test_service().await;
    let stop = tokio_util::sync::CancellationToken::new();
    let http = http_test_service(stop.clone()).await;
    // A loopback port nothing listens on: bound, then let go.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let cfg = env.scenario(&format!(
        "{SMALL_POOLS}comparison_frameworks:\n  rust_http: {{enabled: true, endpoint: \"{http}\", scenarios: [ping]}}\n  gone: {{enabled: true, endpoint: \"http://127.0.0.1:{closed}\", scenarios: [ping]}}\n  off: {{enabled: false, broker_url: \"redis://127.0.0.1:{closed}\", scenarios: [ping]}}\n  elsewhere: {{enabled: true, endpoint: \"http://127.0.0.1:{closed}\", scenarios: [baseline]}}\n"
    ));
    let o = env
        .run_file("ping", &cfg, &["-d", "10s", "--requests", "300"])
        .await;
    let r = read_result(&env.out());
    crate::harness::assert_passed_but_for_speed(o.status.code(), &r, &stderr(&o));
    assert_schema_valid(&r);
    let names: Vec<&str> = r["frameworks"]
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    // This run first; only the frameworks that list `ping`.
    assert_eq!(names, ["NATS (this run)", "gone", "off", "rust_http"]);
    let (nats, rust) = (row(&r, "NATS (this run)"), row(&r, "rust_http"));
    // The same plan: the same number of requests, task by task.
    assert_eq!(nats["requests"], 300);
    assert_eq!(rust["requests"], 300);
    assert_eq!(rust["failures"], 0);
    assert!(rust["skipped"].is_null());
    assert_eq!(rust["tasks"].as_array().map(Vec::len), Some(3));
    let gone = row(&r, "gone")["skipped"].as_str().expect("skipped");
    assert!(
        gone.contains(&format!("not reachable at http://127.0.0.1:{closed}")),
        "{gone}"
    );
    let off = row(&r, "off")["skipped"].as_str().expect("skipped");
    assert!(off.contains("disabled"), "{off}");
    let w = warning(&r, "framework_skipped").expect("a warning");
    assert!(w.contains("gone"), "{w}");
    let skipped_warnings = r["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .filter(|w| w["kind"] == "framework_skipped")
        .count();
    assert_eq!(
        skipped_warnings, 1,
        "the unreachable one, not the disabled one"
    );
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_names_an_unknown_framework_and_exits_2() {
    let env = Env::with_test_service().await;
    let o = run(
        &[
            "compare",
            "ping",
            "--nats-url",
            env.url(),
            "--framework",
            "nope",
            "--quiet",
        ],
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(
            "--framework nope: not in comparison_frameworks (there: celery_redis, fastapi, flask)"
        ),
        "{}",
        stderr(&o)
    );
}

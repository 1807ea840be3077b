// The built-in ping scenario against the test service: counts, schema, µs.

use std::time::Duration;

use crate::harness::{Env, assert_schema_valid, read_result, run, stderr};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_has_no_failures_and_the_service_counted_every_request() {
    let env = Env::with_test_service().await;
    let out = env.out();
    let o = run(
        &[
            "run",
            "ping",
            "--nats-url",
            env.url(),
            "--duration",
            "2s",
            "--quiet",
            "--out",
            out.to_str().expect("utf-8"),
        ],
        Duration::from_secs(30),
    )
    .await;
    let r = read_result(&out);
    assert_schema_valid(&r);
    assert_claim_consistent(&r, o.status.code());
    let requests = r["summary"]["requests"].as_u64().expect("requests");
    assert!(requests > 100, "{requests}");
    assert_eq!(r["summary"]["failures"], 0);
    assert_eq!(r["summary"]["successes"].as_u64(), Some(requests));
    assert_eq!(r["target"]["embedded"], false);
    // The service saw every load request plus one preflight call per task.
    let preflight = r["preflight"].as_array().expect("preflight").len() as u64;
    assert_eq!(preflight, 3);
    let stats = cliffload_testkit::srv_stats(&env.client, "test").await;
    assert_eq!(
        cliffload_testkit::endpoint_requests(&stats, "rpc"),
        requests + preflight,
        "{stats}"
    );
    // Task counts add up to the total.
    let by_task: u64 = r["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .filter_map(|t| t["requests"].as_u64())
        .sum();
    assert_eq!(by_task, requests);
    // The per-second series covers the run and adds up too.
    let by_second: u64 = r["intervals"]
        .as_array()
        .expect("intervals")
        .iter()
        .filter_map(|i| i["requests"].as_u64())
        .sum();
    assert_eq!(by_second, requests);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latencies_are_microseconds_in_json_and_text() {
    let env = Env::with_test_service().await;
    let o = run(
        &[
            "run",
            "ping",
            "--nats-url",
            env.url(),
            "--duration",
            "1s",
            "--users",
            "1",
            "--quiet",
            "--format",
            "json",
        ],
        Duration::from_secs(30),
    )
    .await;
    let r: serde_json::Value =
        serde_json::from_slice(&o.stdout).expect("--format json prints the result");
    assert_schema_valid(&r);
    assert_claim_consistent(&r, o.status.code());
    let lat = &r["summary"]["latency_us"];
    let p50 = lat["p50"].as_u64().expect("integer µs");
    assert!(p50 > 0);
    // Distinct percentiles at µs resolution, not whole milliseconds.
    let values: Vec<u64> = ["min", "p50", "p90", "p99"]
        .iter()
        .filter_map(|k| lat[k].as_u64())
        .collect();
    assert!(values.iter().any(|v| v % 1000 != 0), "{lat}");

    let o = run(
        &[
            "run",
            "ping",
            "--nats-url",
            env.url(),
            "--duration",
            "1s",
            "--users",
            "1",
            "--quiet",
        ],
        Duration::from_secs(30),
    )
    .await;
    let text = String::from_utf8_lossy(&o.stdout);
    let total = text
        .lines()
        .find(|l| l.trim_start().starts_with("total"))
        .expect("a total row");
    assert!(total.contains("µs") || total.contains("ms"), "{total}");
    // The verdict line says what the exit code says (which one depends on
    // this machine's speed, so neither is required).
    let verdict = text
        .lines()
        .find(|l| l.starts_with("verdict: "))
        .expect("a verdict line");
    let word = match o.status.code() {
        Some(0) => "PASSED",
        Some(3) => "INCONCLUSIVE",
        _ => "FAILED",
    };
    assert!(verdict.starts_with(&format!("verdict: {word}")), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_open_model_holds_its_rate_against_the_real_service() {
    let env = Env::with_test_service().await;
    let o = run(
        &[
            "run",
            "ping",
            "--nats-url",
            env.url(),
            "--duration",
            "3s",
            "--rate",
            "300",
            "--quiet",
            "--format",
            "json",
        ],
        Duration::from_secs(30),
    )
    .await;
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_schema_valid(&r);
    assert_claim_consistent(&r, o.status.code());
    assert_eq!(r["load"]["model"], "open");
    assert_eq!(r["load"]["arrival_rate"], 300.0);
    let n = r["summary"]["requests"].as_u64().expect("requests");
    assert!((870..=930).contains(&n), "300/s × 3 s: {n}");
    let open = &r["open_model"];
    assert!(
        open["intended_latency_us"]["p50"].as_u64() >= r["summary"]["latency_us"]["p50"].as_u64(),
        "{open}"
    );
    let stats = cliffload_testkit::srv_stats(&env.client, "test").await;
    assert_eq!(cliffload_testkit::endpoint_requests(&stats, "rpc"), n + 3);
}

/// ping judges the sub-millisecond claim: its status must follow from the
/// measured median of successful requests (every ping task is a simple RPC),
/// and the exit code from the verdict. The checks themselves must pass.
fn assert_claim_consistent(r: &serde_json::Value, code: Option<i32>) {
    let claim = &r["verdict"]["claims"][0];
    assert_eq!(claim["name"], "sub_millisecond", "{}", r["verdict"]);
    let p50 = r["summary"]["latency_us"]["p50"].as_u64().expect("p50");
    let want = if p50 < 1000 {
        "validated"
    } else {
        "not_validated"
    };
    assert_eq!(claim["status"], want, "p50 {p50} µs: {claim}");
    let checks_passed = r["verdict"]["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .all(|c| c["passed"] == true);
    assert!(checks_passed, "{}", r["verdict"]);
    assert_eq!(
        code,
        Some(if r["verdict"]["passed"] == true { 0 } else { 1 }),
        "{}",
        r["verdict"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_writes_every_report_and_report_rerenders_them() {
    let env = Env::with_test_service().await;
    let out = env.out();
    let dir = out.to_str().expect("utf-8");
    run(
        &[
            "run",
            "ping",
            "--nats-url",
            env.url(),
            "--duration",
            "1s",
            "--quiet",
            "--out",
            dir,
        ],
        Duration::from_secs(30),
    )
    .await;
    for f in [
        "result.json",
        "summary.txt",
        "summary.md",
        "junit.xml",
        "cliffload_stats.csv",
        "cliffload_stats_history.csv",
        "cliffload_failures.csv",
    ] {
        assert!(
            std::fs::metadata(out.join(f)).is_ok_and(|m| m.len() > 0),
            "{f} missing"
        );
    }
    // Issue 27: Locust's Average Content Size is the reply bytes per
    // request (it was always 0); every ping reply is an envelope of more
    // than 16 bytes.
    let r = read_result(&out);
    let bytes: u64 = r["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .filter_map(|t| t["reply_bytes"].as_u64())
        .sum();
    let requests = r["summary"]["requests"].as_u64().expect("requests");
    let stats = std::fs::read_to_string(out.join("cliffload_stats.csv")).expect("csv");
    let mut rows = stats.lines().map(|l| l.split(',').collect::<Vec<_>>());
    let header = rows.next().expect("header");
    let column = header
        .iter()
        .position(|h| *h == "Average Content Size")
        .expect("the column");
    let aggregated = rows.find(|r| r[1] == "Aggregated").expect("Aggregated");
    let average: u64 = aggregated[column].parse().expect("a whole number");
    assert_eq!(average, bytes / requests, "{stats}");
    assert!(average > 16, "{stats}");
    let result = out.join("result.json");
    let again = env.dir.path().join("again");
    let o = run(
        &[
            "report",
            result.to_str().expect("utf-8"),
            "--format",
            "markdown",
            "--out",
            again.to_str().expect("utf-8"),
        ],
        Duration::from_secs(30),
    )
    .await;
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("# cliffload: ping"));
    assert_eq!(
        std::fs::read(out.join("summary.md")).expect("md"),
        std::fs::read(again.join("summary.md")).expect("md")
    );
    let o = run(
        &[
            "report",
            result.to_str().expect("utf-8"),
            "--baseline",
            result.to_str().expect("utf-8"),
        ],
        Duration::from_secs(30),
    )
    .await;
    let compared = String::from_utf8_lossy(&o.stdout);
    assert!(compared.contains("✓ no_regression: none"), "{compared}");
    // Issue 27: the comparison is shown as a table, one row per figure,
    // none regressed against itself.
    assert!(compared.contains("baseline (ping of "), "{compared}");
    let medians = compared
        .lines()
        .filter(|l| l.contains(" median ") && l.contains(" unchanged "))
        .count();
    assert_eq!(medians, 3, "one median row per task:\n{compared}");
    // Not a terminal: no colour unless asked for.
    assert!(!o.stdout.contains(&0x1b));
    let o = run(
        &[
            "report",
            result.to_str().expect("utf-8"),
            "--color",
            "always",
        ],
        Duration::from_secs(30),
    )
    .await;
    let coloured = String::from_utf8_lossy(&o.stdout);
    assert!(coloured.contains("\x1b[32m✓\x1b[0m"), "{coloured}");
    let bad = env.dir.path().join("bad.json");
    std::fs::write(&bad, "{}").expect("write");
    let o = run(
        &["report", bad.to_str().expect("utf-8")],
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(o.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_stops_the_run_after_exactly_that_many() {
    let env = Env::with_test_service().await;
    let o = run(
        &[
            "run",
            "ping",
            "--nats-url",
            env.url(),
            "--duration",
            "10m",
            "--requests",
            "5000",
            "--workers",
            "2",
            "--quiet",
            "--format",
            "json",
        ],
        Duration::from_secs(60),
    )
    .await;
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).expect("result JSON");
    assert_eq!(r["summary"]["requests"], 5000, "{}", stderr(&o));
    assert_schema_valid(&r);
    assert_eq!(r["load"]["max_requests"], 5000);
    assert_eq!(r["interrupted"], false);
    assert!(r["duration_s"].as_f64() < Some(60.0), "{}", r["duration_s"]);
    let stats = cliffload_testkit::srv_stats(&env.client, "test").await;
    assert_eq!(
        cliffload_testkit::endpoint_requests(&stats, "rpc"),
        5000 + 3
    );
}

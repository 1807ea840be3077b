// Issue 29: thresholds per task pass and fail as set, in the verdict, the
// exit code, result.json, junit.xml and `report` on the saved result.

use std::time::Duration;

use crate::harness::{Env, assert_schema_valid, read_result, run, stderr};

/// The test service's echo, which answers, and its compute given a list
/// that is not one, which it refuses as invalid (a failure of the run, let
/// through preflight). The scenario allows any failure: only a threshold
/// can fail it.
const SCENARIO: &str = "\
scenarios:
  q:
    users: 2
    duration: 20s
    max_requests: 600
    preflight: warn
    tasks:
      - {name: echo, service: test, method: echo, payload: {message: hi}}
      - {name: bad, service: test, method: compute, payload: {numbers: not-a-list}}
    expectations:
      max_failure_percent: 100
      tasks:
        # Every success comes within its 5 s timeout: 60 s always holds.
        echo: {max_failure_percent: 0, max_p95_ms: 60000}
        q.bad: {max_failure_percent: 1}
";

fn check<'a>(r: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    r["verdict"]["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {}", r["verdict"]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_threshold_that_holds_passes_and_one_that_does_not_fails_the_run() {
    let env = Env::with_test_service().await;
    let cfg = env.scenario(SCENARIO);
    let out = env.out();
    let o = env.run_file("q", &cfg, &[]).await;
    let r = read_result(&out);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(r["verdict"]["status"], "failed", "{}", r["verdict"]);
    // The echo held both of its bounds on its own requests.
    for name in ["q.echo.max_failure_percent", "q.echo.max_p95_ms"] {
        assert_eq!(check(&r, name)["status"], "passed", "{}", check(&r, name));
    }
    let echo = &r["tasks"][0];
    assert_eq!(echo["name"], "q.echo");
    assert_eq!(echo["failures"], 0, "{echo}");
    // Every refused compute is a failure of its task, over its bound.
    let bad = check(&r, "q.bad.max_failure_percent");
    assert_eq!(bad["status"], "failed", "{bad}");
    let requests = r["tasks"][1]["requests"].as_u64().expect("requests");
    assert!(requests > 0, "{}", r["tasks"][1]);
    assert_eq!(
        bad["actual"],
        format!("100.000% ({requests} of {requests})")
    );
    assert_eq!(bad["expected"], "≤ 1%");
    // Nothing else failed: the threshold alone fails the run.
    let others: Vec<&serde_json::Value> = r["verdict"]["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["name"] != "q.bad.max_failure_percent" && c["status"] != "passed")
        .collect();
    assert!(others.is_empty(), "{others:?}");
    assert_schema_valid(&r);
    // junit.xml: a case per threshold, the failing one with its message.
    let junit = std::fs::read_to_string(out.join("junit.xml")).expect("junit.xml");
    assert!(
        junit.contains("name=\"q.echo.max_p95_ms\"></testcase>"),
        "{junit}"
    );
    assert!(
        junit.contains(&format!(
            "name=\"q.bad.max_failure_percent\"><failure message=\"FAILED q.bad.max_failure_percent: 100.000% ({requests} of {requests}), expected ≤ 1%\">"
        )),
        "{junit}"
    );
    assert!(junit.contains("failures=\"1\""), "{junit}");
    // `report` on the saved result judges the same and exits the same.
    let again = run(
        &[
            "report",
            out.join("result.json").to_str().expect("utf-8"),
            "--format",
            "junit",
        ],
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(again.status.code(), Some(1), "{}", stderr(&again));
    assert_eq!(
        String::from_utf8_lossy(&again.stdout).trim_end(),
        junit.trim_end()
    );
}

// `cliffload suite`: scenarios in sequence with a cool-down, one summary,
// exit 1 when any scenario failed or could not run.

use std::time::Duration;

use serde_json::Value;

use crate::harness::{Env, SMALL_POOLS, assert_schema_valid, read_result, run, stderr};

fn read_json(path: &std::path::Path) -> Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{} written: {e}", path.display()));
    serde_json::from_str(&text).expect("JSON")
}

fn rfc3339_seconds(v: &Value) -> f64 {
    let t: jiff::Timestamp = v.as_str().expect("timestamp").parse().expect("RFC 3339");
    t.as_millisecond() as f64 / 1000.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_suite_runs_both_scenarios_with_a_cooldown_and_one_summary() {
    let env = Env::bare().await;
    let cfg = env.scenario(SMALL_POOLS);
    let out = env.out();
    let o = run(
        &[
            "suite",
            "quick",
            "--config",
            cfg.to_str().expect("utf-8"),
            "--duration",
            "2s",
            "--cooldown",
            "2s",
            "--latency",
            "none",
            "--quiet",
            "--out",
            out.to_str().expect("utf-8"),
        ],
        Duration::from_secs(180),
    )
    .await;
    let summary = read_json(&out.join("suite.json"));
    let rows = summary["scenarios"].as_array().expect("rows");
    let names: Vec<&str> = rows.iter().filter_map(|r| r["scenario"].as_str()).collect();
    assert_eq!(names, ["baseline", "high_throughput"], "{summary}");

    // Each row agrees with its scenario's own result.json, which is complete.
    let mut results = Vec::new();
    for row in rows {
        let name = row["scenario"].as_str().expect("name");
        let r = read_result(&out.join(name));
        assert_schema_valid(&r);
        assert!(r["summary"]["requests"].as_u64() > Some(0), "{name} ran");
        assert_eq!(row["requests"], r["summary"]["requests"], "{name}");
        let expected = if r["verdict"]["passed"] == true {
            "passed"
        } else {
            "failed"
        };
        assert_eq!(row["status"], expected, "{name}");
        assert!(out.join(name).join("report.html").is_file());
        results.push(r);
    }
    // --duration beats the mode's 30 s; quick mode's 50 users stay.
    assert_eq!(results[0]["planned_duration_s"], 2.0);
    assert_eq!(results[1]["load"]["users"], 50);
    // The second scenario started after the first finished and the cool-down.
    let gap =
        rfc3339_seconds(&results[1]["started_at"]) - rfc3339_seconds(&results[0]["started_at"]);
    let first = results[0]["duration_s"].as_f64().expect("duration");
    assert!(
        gap >= first + 2.0,
        "gap {gap} s after a {first} s run: no cool-down"
    );

    // Exit code, suite verdict and rows agree.
    let all_passed = rows.iter().all(|r| r["status"] == "passed");
    assert_eq!(summary["passed"], all_passed);
    assert_eq!(
        o.status.code(),
        Some(if all_passed { 0 } else { 1 }),
        "{}",
        stderr(&o)
    );
    // The human summaries: stdout and suite.md are the same table, index.html links each report.
    let md = std::fs::read_to_string(out.join("suite.md")).expect("suite.md");
    assert_eq!(String::from_utf8_lossy(&o.stdout), md);
    assert!(md.contains("| baseline |"), "{md}");
    let index = std::fs::read_to_string(out.join("index.html")).expect("index.html");
    assert!(index.contains("href=\"baseline/report.html\""), "{index}");
    assert!(index.contains("href=\"high_throughput/report.html\""));
    // One JUnit file for the suite: a test suite per scenario (issue 14).
    let junit = std::fs::read_to_string(out.join("junit.xml")).expect("junit.xml");
    assert!(junit.contains("<testsuites"), "{junit}");
    assert_eq!(junit.matches("<testsuite ").count(), 2, "{junit}");
    assert!(junit.contains("cliffload.baseline") && junit.contains("cliffload.high_throughput"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scenario_that_cannot_run_is_an_error_row_and_exit_1() {
    // A server without the services: every preflight finds no responders.
    let env = Env::bare().await;
    let cfg = env.scenario(SMALL_POOLS);
    let out = env.out();
    let o = run(
        &[
            "suite",
            "stress",
            "--config",
            cfg.to_str().expect("utf-8"),
            "--nats-url",
            env.url(),
            "--duration",
            "2s",
            "--quiet",
            "--out",
            out.to_str().expect("utf-8"),
        ],
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let summary = read_json(&out.join("suite.json"));
    assert_eq!(summary["passed"], false);
    let row = &summary["scenarios"][0];
    assert_eq!(row["scenario"], "stress_test");
    assert_eq!(row["status"], "error");
    let error = row["error"].as_str().expect("error message");
    assert!(error.contains("no responders"), "{error}");
    let md = std::fs::read_to_string(out.join("suite.md")).expect("suite.md");
    assert!(md.contains("| stress_test | ERROR |"), "{md}");
    let junit = std::fs::read_to_string(out.join("junit.xml")).expect("junit.xml");
    assert!(
        junit.contains("cliffload.stress_test") && junit.contains("<error message="),
        "{junit}"
    );
}

#[tokio::test]
async fn bad_suite_flags_are_usage_errors() {
    for (args, needle) in [
        (vec!["suite", "quick", "--cooldown", "soon"], "--cooldown"),
        (vec!["suite", "quick", "--duration", "0s"], "--duration"),
        (vec!["suite", "sometimes"], "sometimes"),
    ] {
        let o = run(&args, Duration::from_secs(30)).await;
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_in_the_cooldown_writes_the_summary_and_exits_130() {
    let env = Env::bare().await;
    let cfg = env.scenario(SMALL_POOLS);
    let out = env.out();
    let mut child = crate::harness::cliffload()
        .args([
            "suite",
            "quick",
            "--config",
            cfg.to_str().expect("utf-8"),
            "--duration",
            "2s",
            "--cooldown",
            "120s",
            "--latency",
            "none",
            "--quiet",
            "--out",
            out.to_str().expect("utf-8"),
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    // The first scenario's results are written before its cool-down starts.
    let first = out.join("baseline").join("result.json");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    while !first.is_file() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "baseline never finished"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Well before the 120 s cool-down would have ended.
    assert_eq!(
        crate::harness::interrupt(&mut child, Duration::from_secs(30)).await,
        Some(130)
    );
    let summary = read_json(&out.join("suite.json"));
    assert_eq!(summary["passed"], false);
    let statuses: Vec<&str> = summary["scenarios"]
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|r| r["status"].as_str())
        .collect();
    assert_eq!(statuses.len(), 2, "{summary}");
    assert!(matches!(statuses[0], "passed" | "failed"), "{statuses:?}");
    assert_eq!(statuses[1], "not_run");
    assert!(!out.join("high_throughput").exists());
}

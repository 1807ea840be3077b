// The built-in scenarios, shortened, against the embedded reference services:
// each runs, classifies every outcome, and shows the mix its error_rate implies.

use std::time::Duration;

use serde_json::Value;

use crate::harness::{SMALL_POOLS, assert_schema_valid, run, stderr};

async fn run_scenario(name: &str, extra_yaml: &str, users: &str) -> Value {
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = dir.path().join("overrides.yaml");
    let yaml = if extra_yaml.contains("data_generation:") {
        extra_yaml.to_owned()
    } else {
        format!("{SMALL_POOLS}{extra_yaml}")
    };
    std::fs::write(&cfg, yaml).expect("write");
    let o = run(
        &[
            "run",
            name,
            "--config",
            cfg.to_str().expect("utf-8"),
            "--duration",
            "3s",
            "--users",
            users,
            "--spawn-rate",
            "100",
            "--quiet",
            "--format",
            "json",
        ],
        Duration::from_secs(120),
    )
    .await;
    // 0, 1 or 3: the original's throughput expectations may not hold (or be judged) in 3 s on a shared machine.
    assert!(
        matches!(o.status.code(), Some(0 | 1 | 3)),
        "{name}: exit {:?}: {}",
        o.status.code(),
        stderr(&o)
    );
    let r: Value = serde_json::from_slice(&o.stdout).expect("result JSON");
    assert_schema_valid(&r);
    r
}

fn count(r: &Value, outcome: &str) -> u64 {
    r["summary"]["outcomes"][outcome].as_u64().unwrap_or(0)
}

fn assert_clean(name: &str, r: &Value) {
    let s = &r["summary"];
    assert!(s["requests"].as_u64() > Some(0), "{name}: nothing ran");
    assert!(count(r, "ok") > 0, "{name}: no success: {s}");
    assert_eq!(
        s["failures"], 0,
        "{name}: unexpected failures: {}",
        s["outcomes"]
    );
    assert_eq!(count(r, "unexpected_accept"), 0, "{name}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baseline_runs_every_user_class_cleanly() {
    let r = run_scenario("baseline", "", "10").await;
    assert_clean("baseline", &r);
    let tasks: Vec<&str> = r["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(
        tasks.contains(&"OrderProcessingUser.process_single_order"),
        "{tasks:?}"
    );
    assert!(
        tasks.contains(&"ErrorScenarioUser.trigger_validation_errors"),
        "{tasks:?}"
    );
    let checks: Vec<&str> = r["verdict"]["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(
        checks,
        [
            "requests_completed",
            "max_failure_percent",
            "max_median_ms",
            "min_rps"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_resilience_rejects_what_was_injected() {
    let r = run_scenario("error_resilience", "", "10").await;
    assert_clean("error_resilience", &r);
    assert!(
        count(&r, "rejected_expected") > 0,
        "{}",
        r["summary"]["outcomes"]
    );
    for t in r["tasks"].as_array().expect("tasks") {
        if t["name"] == "ErrorScenarioUser.trigger_validation_errors"
            && t["requests"].as_u64() > Some(0)
        {
            // error_rate 1.0: every request is invalid on purpose, and refused.
            assert_eq!(t["rejected"], t["requests"], "{t}");
            assert_eq!(
                t["outcomes"]["rejected_expected"]["count"], t["requests"],
                "{t}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_injected_share_matches_the_error_rate() {
    let yaml = concat!(
        "scenarios:\n  injected:\n    users: 4\n    duration: 3s\n    error_rate: 0.25\n    wait_time: {constant: 0}\n    tasks:\n",
        "      - {name: check, service: order_processing_service, method: error_scenario_test, arg: test_data, generate: {model: validation_error_test}}\n",
        "data_generation:\n  payload_pool_size: 200\n",
    );
    let r = run_scenario("injected", yaml, "4").await;
    assert_clean("injected", &r);
    let n = r["summary"]["requests"].as_u64().expect("requests") as f64;
    let injected = count(&r, "rejected_expected") as f64;
    let share = injected / n;
    let sigma = (0.25 * 0.75 / n).sqrt();
    assert!(n > 200.0, "{n}");
    assert!(
        (share - 0.25).abs() < 4.0 * sigma + 0.01,
        "share {share:.3} of {n} requests, want 0.25 ± {:.3}",
        4.0 * sigma
    );
    // Every other request was accepted: valid payloads are valid.
    assert_eq!(count(&r, "ok") + count(&r, "rejected_expected"), n as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_other_built_in_scenarios_run_cleanly() {
    for (name, users) in [
        ("high_throughput", "10"),
        ("large_payloads", "6"),
        ("mixed_workload", "8"),
        ("stress_test", "10"),
        ("comparison_baseline", "6"),
    ] {
        let r = run_scenario(name, "", users).await;
        assert_clean(name, &r);
        assert_eq!(r["scenario"], name);
    }
}

// Issue 14: `cliffload scenarios | head -1` ends quietly when the reader
// goes away (it panicked with "failed printing to stdout", exit 101).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_stdout_ends_the_program_quietly() {
    for args in [
        &["scenarios"][..],
        &["validate", "../../examples/cliffracer-suite.yaml"],
    ] {
        let mut child = crate::harness::cliffload()
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        // The reader is gone before anything is written.
        drop(child.stdout.take());
        let o = tokio::time::timeout(std::time::Duration::from_secs(20), child.wait_with_output())
            .await
            .expect("in time")
            .expect("ran");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(141), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

// Issue 14: what a person reads has no Rust internals in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_and_scenarios_speak_words_not_rust() {
    let validate = crate::harness::run(
        &["validate", "../../examples/cliffracer-suite.yaml"],
        std::time::Duration::from_secs(20),
    )
    .await;
    let scenarios = crate::harness::run(&["scenarios"], std::time::Duration::from_secs(20)).await;
    let bad = crate::harness::run(
        &["validate", "/no/such/file.yaml"],
        std::time::Duration::from_secs(20),
    )
    .await;
    for o in [&validate, &scenarios, &bad] {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        for internal in [
            "Some(",
            "None ",
            "{ ",
            "os error",
            "Constant(",
            "Between(",
            "ns)",
        ] {
            assert!(!text.contains(internal), "{internal:?} in:\n{text}");
        }
    }
    assert_eq!(bad.status.code(), Some(2));
}

// Issue 14: validate speaks of the file's own scenarios, and of all its mistakes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_counts_the_files_own_scenarios_and_lists_every_mistake() {
    let dir = tempfile::tempdir().expect("temp dir");
    let good = dir.path().join("mine.yaml");
    std::fs::write(
        &good,
        "scenarios:\n  smoke:\n    users: 2\n    duration: 10s\n    tasks: [{name: t, subject: a.b}]\n",
    )
    .expect("write");
    let o = crate::harness::run(
        &["validate", good.to_str().expect("utf-8")],
        std::time::Duration::from_secs(20),
    )
    .await;
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("valid; 1 scenario of its own (smoke);"),
        "{out}"
    );
    // Only the file's scenario is detailed, not the catalog's.
    assert!(out.contains("\nsmoke"), "{out}");
    assert!(!out.contains("\nbaseline"), "{out}");

    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "scenarios:\n  smoke:\n    users: 2\n    duration: 10\n    tasks: [{name: t, subject: a.b}]\n  baseline:\n    users: 0\n",
    )
    .expect("write");
    let o = crate::harness::run(
        &["validate", bad.to_str().expect("utf-8")],
        std::time::Duration::from_secs(20),
    )
    .await;
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("2 problems"), "{err}");
    assert!(
        err.contains("bad.yaml:7:5: scenarios.baseline.users: must be at least 1, got 0"),
        "{err}"
    );
    assert!(
        err.contains("bad.yaml:4:5: scenarios.smoke.duration: 10 has no unit"),
        "{err}"
    );
}

// Issue 14: numeric flags say what is wrong with the number, in words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_numbers_in_flags_are_named_in_words() {
    for (flag, value, words) in [
        (
            "--users",
            "-5",
            "-5 is negative: give a whole number from 1 up",
        ),
        ("--users", "two", "\"two\" is not a number"),
        ("--users", "2.5", "2.5 is not a whole number"),
        ("--requests", "0", "must be at least 1, got 0"),
        ("--rate", "-3", "must be above 0, got -3"),
        (
            "--duration",
            "10",
            "10 has no unit (seconds? milliseconds?): write 10s or 10ms",
        ),
    ] {
        let o = crate::harness::run(
            &["run", "ping", flag, value],
            std::time::Duration::from_secs(20),
        )
        .await;
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{flag} {value}: {err}");
        assert!(err.contains(words), "{flag} {value}: {err}");
        assert!(!err.contains("tip: to pass"), "{err}");
        assert!(!err.contains("invalid digit"), "{err}");
    }
}

// Issue 14: serve names what it serves in words, and stops when told.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_speaks_words_and_stops_when_its_stdin_closes() {
    use tokio::io::AsyncBufReadExt;
    let env = crate::harness::Env::bare().await;
    let mut child = crate::harness::cliffload()
        .args(["serve", "--nats-url", env.url(), "--stop-on-stdin-eof"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let mut text = String::new();
    let read = async {
        while let Ok(Some(line)) = lines.next_line().await {
            text.push_str(&line);
            text.push('\n');
            if line.starts_with("replicas:") {
                break;
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(30), read)
        .await
        .expect("serve printed its services");
    assert!(text.contains("simulated I/O: realistic"), "{text}");
    for internal in ["Some(", "None", "{ ", "Realistic", "os error"] {
        assert!(!text.contains(internal), "{internal:?} in:\n{text}");
    }
    // The services answer while it runs.
    let reply = env
        .client
        .request("test.rpc.ping", "{}".into())
        .await
        .expect("the test service answers");
    assert!(
        String::from_utf8_lossy(&reply.payload).contains("\"success\": true")
            || String::from_utf8_lossy(&reply.payload).contains("\"success\":true"),
        "{:?}",
        reply.payload
    );
    drop(child.stdin.take());
    let status = tokio::time::timeout(std::time::Duration::from_secs(15), child.wait())
        .await
        .expect("serve stopped once its stdin closed")
        .expect("waited");
    assert_eq!(status.code(), Some(0));
}

// Issue 26: `--config <(cat file)` was refused as "not a regular file". A
// pipe (bash's process substitution, a real FIFO) is read like a file, and
// read once: `k8s render` ships what it parsed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scenario_file_can_come_from_a_pipe() {
    const PIPED: &str = "scenarios:\n  piped:\n    users: 3\n    duration: 2s\n    tasks:\n      - {name: p, subject: piped.rpc.p}\n";
    let bin = env!("CARGO_BIN_EXE_cliffload");
    // Rendered, never dialled; a free port all the same.
    let url = format!("nats://127.0.0.1:{}", crate::harness::free_port());
    for script in [
        r#"exec "$0" validate <(printf %s "$1") piped"#,
        r#"exec "$0" scenarios --config <(printf %s "$1")"#,
        r#"exec "$0" k8s render piped --config <(printf %s "$1") --distributed 2 --nats-url "$2""#,
    ] {
        let child = tokio::process::Command::new("bash")
            .args(["-c", script, bin, PIPED, &url])
            .env_remove("CLIFFLOAD_NATS_URL")
            .kill_on_drop(true)
            .output();
        let o = tokio::time::timeout(Duration::from_secs(20), child)
            .await
            .expect("in time")
            .expect("bash runs");
        let out = String::from_utf8_lossy(&o.stdout);
        assert_eq!(o.status.code(), Some(0), "{script}: {}", stderr(&o));
        assert!(out.contains("piped"), "{script}: {out}");
        if script.contains("k8s") {
            assert!(
                out.contains("subject: piped.rpc.p"),
                "the ConfigMap is empty: {out}"
            );
        }
    }
}

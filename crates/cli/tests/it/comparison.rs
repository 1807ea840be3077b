// NATS vs HTTP: comparison_baseline runs the same plan over NATS and then over
// the reference services' HTTP endpoint, and judges ten_x_faster_than_rest.

use std::time::Duration;

use serde_json::Value;

use crate::harness::{Env, SMALL_POOLS, assert_schema_valid, run, stderr};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comparison_baseline_runs_the_same_requests_over_http_and_judges_ten_x() {
    let env = Env::bare().await;
    let cfg = env.scenario(SMALL_POOLS);
    let o = run(
        &[
            "run",
            "comparison_baseline",
            "--config",
            cfg.to_str().expect("utf-8"),
            "--duration",
            "3s",
            "--users",
            "100",
            "--spawn-rate",
            "1000",
            "--latency",
            "none",
            "--quiet",
            "--format",
            "json",
        ],
        Duration::from_secs(120),
    )
    .await;
    let r: Value = serde_json::from_slice(&o.stdout).expect("result JSON");
    assert_schema_valid(&r);
    let c = &r["comparison"];
    assert!(
        c["http_url"]
            .as_str()
            .is_some_and(|u| u.starts_with("http://127.0.0.1:")),
        "{c}"
    );
    let (nats, http) = (&r["summary"], &c["http"]);
    assert!(nats["successes"].as_u64() > Some(100), "{nats}");
    assert!(http["successes"].as_u64() > Some(100), "{http}");
    // Same service, same requests: nothing fails either way.
    assert_eq!(nats["failures"], 0, "{}", nats["outcomes"]);
    assert_eq!(http["failures"], 0, "{}", http["outcomes"]);
    // Same plan: the same tasks, in the same order, over both.
    let names = |v: &Value| -> Vec<String> {
        v.as_array()
            .expect("tasks")
            .iter()
            .filter_map(|t| t["name"].as_str().map(str::to_owned))
            .collect()
    };
    assert_eq!(names(&r["tasks"]), names(&c["tasks"]));
    // The claim follows from the measured medians, and the exit code from the claim.
    let ratio = c["median_ratio"].as_f64().expect("ratio");
    let expected = http["latency_us"]["p50"].as_f64().expect("p50")
        / nats["latency_us"]["p50"].as_f64().expect("p50");
    assert!((ratio - expected).abs() < 0.01, "{ratio} vs {expected}");
    let claim = &r["verdict"]["claims"][0];
    assert_eq!(claim["name"], "ten_x_faster_than_rest");
    let want = if ratio >= 10.0 {
        "validated"
    } else {
        "not_validated"
    };
    assert_eq!(claim["status"], want, "{claim}");
    assert_eq!(
        o.status.code(),
        Some(if r["verdict"]["passed"] == true { 0 } else { 1 }),
        "{}",
        stderr(&o)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_http_endpoint_ten_x_stays_inconclusive_and_says_why() {
    let env = Env::with_test_service().await;
    let cfg = env.scenario(
        "scenarios:\n  cmp:\n    users: 2\n    duration: 2s\n    claims: [ten_x_faster_than_rest]\n    tasks:\n      - {name: ping, service: test, method: ping}\n",
    );
    let o = run(
        &[
            "run",
            "cmp",
            "--config",
            cfg.to_str().expect("utf-8"),
            "--nats-url",
            env.url(),
            "--quiet",
            "--format",
            "json",
        ],
        Duration::from_secs(60),
    )
    .await;
    let r: Value = serde_json::from_slice(&o.stdout).expect("result JSON");
    assert_eq!(r["verdict"]["claims"][0]["status"], "inconclusive");
    assert!(r["comparison"].is_null());
    let w = crate::harness::warning(&r, "rest_claim_without_http");
    assert!(
        w.as_deref().is_some_and(|w| w.contains("--http-url")),
        "{}",
        r["warnings"]
    );

    let o = run(
        &[
            "run",
            "cmp",
            "--config",
            cfg.to_str().expect("utf-8"),
            "--nats-url",
            env.url(),
            "--http-url",
            "ftp://127.0.0.1:1",
        ],
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--http-url"), "{}", stderr(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_during_the_http_half_is_an_interrupted_run_without_a_verdict_on_ten_x() {
    use tokio::io::AsyncBufReadExt;
    let env = Env::bare().await;
    let cfg = env.scenario(SMALL_POOLS);
    let out = env.out();
    let mut child = crate::harness::cliffload()
        .args([
            "run",
            "comparison_baseline",
            "--config",
            cfg.to_str().expect("utf-8"),
            "--duration",
            "30s",
            "--users",
            "20",
            "--spawn-rate",
            "1000",
            "--latency",
            "none",
            "--requests",
            "300",
            "--out",
            out.to_str().expect("utf-8"),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut lines = tokio::io::BufReader::new(child.stderr.take().expect("stderr")).lines();
    // The NATS half ends after its 300 requests; then the HTTP half starts.
    let started = tokio::time::timeout(Duration::from_secs(90), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains("running comparison_baseline") && line.contains("over HTTP") {
                return true;
            }
        }
        false
    })
    .await
    .expect("the HTTP half started in time");
    assert!(started, "no HTTP half");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    assert_eq!(
        crate::harness::interrupt(&mut child, Duration::from_secs(30)).await,
        Some(130)
    );
    let r = crate::harness::read_result(&out);
    assert_eq!(r["interrupted"], true);
    assert!(r["comparison"].is_null());
    assert_eq!(r["verdict"]["claims"][0]["status"], "inconclusive");
    assert!(
        crate::harness::warning(&r, "comparison_interrupted").is_some(),
        "{}",
        r["warnings"]
    );
}

// Ctrl-C: stop sending, finish in-flight requests, write the partial result, exit 130.

use std::time::Duration;

use crate::harness::{Env, assert_schema_valid, read_result};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_mid_run_exits_130_with_a_partial_result() {
    let env = Env::with_test_service().await;
    let out = env.out();
    let mut child = crate::harness::cliffload()
        .args([
            "run",
            "ping",
            "--nats-url",
            env.url(),
            "--duration",
            "60s",
            "--quiet",
            "--out",
            out.to_str().expect("utf-8"),
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    env.wait_until_served(200).await;
    assert_eq!(
        crate::harness::interrupt(&mut child, Duration::from_secs(20)).await,
        Some(130)
    );
    let r = read_result(&out);
    assert_schema_valid(&r);
    assert_eq!(r["interrupted"], true);
    assert!(r["duration_s"].as_f64() < Some(30.0), "{}", r["duration_s"]);
    assert!(r["summary"]["requests"].as_u64() > Some(200));
    assert_eq!(
        r["summary"]["failures"], 0,
        "in-flight requests finished, none were cut"
    );
    let stats = cliffload_testkit::srv_stats(&env.client, "test").await;
    let served = cliffload_testkit::endpoint_requests(&stats, "rpc");
    assert_eq!(
        served,
        r["summary"]["requests"].as_u64().expect("requests") + 3,
        "every request sent was recorded"
    );
}

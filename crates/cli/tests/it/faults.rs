// The server under load goes away (issue 12): the run still ends on time,
// classifies what it could not get, writes its result, and counts the
// successes once the server is back.

use std::time::{Duration, Instant};

use crate::harness::{Env, assert_schema_valid, read_result};

/// Runs `ping` for 6 s against `env`, kills its nats-server after some load,
/// restarts it 3 s later when `restart`; returns the result and how long the
/// run took.
async fn run_through_a_server_loss(
    open_model: bool,
    restart: bool,
) -> (serde_json::Value, Duration) {
    let mut env = Env::with_test_service().await;
    let out = env.out();
    let mut args = vec![
        "run".to_owned(),
        "ping".into(),
        "--nats-url".into(),
        env.url().into(),
        "--duration".into(),
        "6s".into(),
        "--quiet".into(),
        "--out".into(),
        out.to_str().expect("utf-8").into(),
    ];
    if open_model {
        args.extend(["--rate".into(), "500".into()]);
    }
    let started = Instant::now();
    let mut child = crate::harness::cliffload()
        .args(&args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    env.wait_until_served(200).await;
    env.server.stop();
    if restart {
        // The outage itself (the 3 s), not a wait for something to happen.
        tokio::time::sleep(Duration::from_secs(3)).await;
        env.server
            .restart()
            .expect("the server restarts on its port");
    }
    // 6 s of load + 1 s task timeout + a few seconds to write: 20 s is generous,
    // and far below "never" (the run used to hang for ever here).
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("the run ended on time with the server gone")
        .expect("ran");
    let took = started.elapsed();
    assert_eq!(status.code(), Some(1), "a run with failures fails");
    let r = read_result(&out);
    assert_schema_valid(&r);
    (r, took)
}

fn gap_failures(r: &serde_json::Value) -> u64 {
    let o = &r["summary"]["outcomes"];
    ["timeout", "transport", "no_responders"]
        .iter()
        .map(|k| o[*k].as_u64().unwrap_or(0))
        .sum()
}

fn events(r: &serde_json::Value) -> Vec<String> {
    r["connection_events"]
        .as_array()
        .expect("connection_events")
        .iter()
        .filter_map(|e| e["event"].as_str().map(str::to_owned))
        .collect()
}

fn successes_after(r: &serde_json::Value, second: u64) -> u64 {
    r["intervals"]
        .as_array()
        .expect("intervals")
        .iter()
        .filter(|i| i["t"].as_u64() >= Some(second))
        .map(|i| i["successes"].as_u64().unwrap_or(0))
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_for_good_ends_the_closed_run_on_time_with_failures_classified() {
    let (r, took) = run_through_a_server_loss(false, false).await;
    assert!(gap_failures(&r) > 0, "{}", r["summary"]["outcomes"]);
    assert!(
        events(&r).contains(&"disconnected".to_owned()),
        "{:?}",
        events(&r)
    );
    let w = crate::harness::warning(&r, "connection_trouble");
    assert!(
        w.as_deref()
            .is_some_and(|w| w.contains("connections had trouble")),
        "{}",
        r["warnings"]
    );
    assert!(took < Duration::from_secs(15), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_for_good_ends_the_open_run_on_time_with_failures_classified() {
    let (r, took) = run_through_a_server_loss(true, false).await;
    assert!(gap_failures(&r) > 0, "{}", r["summary"]["outcomes"]);
    let om = &r["open_model"];
    assert_eq!(
        om["planned"].as_u64(),
        om["sent"]
            .as_u64()
            .zip(om["never_sent"].as_u64())
            .map(|(a, b)| a + b),
        "{om}"
    );
    assert!(took < Duration::from_secs(15), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restarted_mid_run_gives_successes_again() {
    for open_model in [false, true] {
        let (r, _) = run_through_a_server_loss(open_model, true).await;
        assert!(gap_failures(&r) > 0, "{}", r["summary"]["outcomes"]);
        let ev = events(&r);
        let lost = ev.iter().position(|e| e == "disconnected");
        let back = ev.iter().rposition(|e| e == "reconnected");
        assert!(lost.is_some() && back > lost, "{ev:?}");
        // Killed after ~0.5 s, back 3 s later: successes in the last seconds.
        assert!(
            successes_after(&r, 4) > 0,
            "open model {open_model}: no success after the restart: {}",
            r["intervals"]
        );
    }
}

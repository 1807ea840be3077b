// The monitor: the generator, the services under test and nats-server are
// separate processes, each sampled for memory and CPU; --monitor-pid adds one.

use std::time::Duration;

use serde_json::Value;

use crate::harness::{Env, assert_schema_valid, run, stderr};

fn processes(r: &Value) -> &Vec<Value> {
    r["monitor"]["processes"]
        .as_array()
        .expect("monitor.processes")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_embedded_run_watches_generator_services_and_server_separately() {
    let o = run(
        &[
            "run",
            "ping",
            "--duration",
            "3s",
            "--quiet",
            "--format",
            "json",
        ],
        Duration::from_secs(60),
    )
    .await;
    // Ran (0, 1 or 3: the verdict depends on this machine's speed).
    assert!(matches!(o.status.code(), Some(0 | 1 | 3)), "{}", stderr(&o));
    let r: Value = serde_json::from_slice(&o.stdout).expect("result JSON");
    assert_eq!(o.status.code() == Some(0), r["verdict"]["passed"] == true);
    assert_schema_valid(&r);
    let ps = processes(&r);
    let roles: Vec<&str> = ps.iter().filter_map(|p| p["role"].as_str()).collect();
    assert_eq!(roles, ["generator", "service", "nats_server"]);
    let pids: Vec<u64> = ps.iter().filter_map(|p| p["pid"].as_u64()).collect();
    assert!(
        pids[0] != pids[1] && pids[1] != pids[2] && pids[0] != pids[2],
        "three processes: {pids:?}"
    );
    for p in ps {
        let samples = p["samples"].as_array().expect("samples");
        // One before the load, one a second during it, one after.
        assert!(
            samples.len() >= 4,
            "{}: {} samples",
            p["label"],
            samples.len()
        );
        assert!(
            samples
                .iter()
                .all(|s| s["rss_bytes"].as_u64() > Some(1 << 20))
        );
        assert_eq!(p["exited"], false);
    }
    // The services answered every request: they used CPU, in their own process.
    let service_cpu = ps[1]["mean_cpu_percent"].as_f64().expect("service CPU");
    assert!(service_cpu > 0.0, "service CPU {service_cpu}");
    // nats-server's own counters: every request and every reply passed through it.
    let nats = &r["monitor"]["nats"];
    let requests = r["summary"]["requests"].as_u64().expect("requests");
    let in_msgs = nats["in_msgs"].as_u64().expect("in_msgs");
    assert!(
        (2 * requests..=2 * requests + 100).contains(&in_msgs),
        "{in_msgs} messages for {requests} requests"
    );
    assert_eq!(nats["slow_consumers"], 0);
    // Too short to judge memory growth (5 s warm-up): said, not passed silently.
    let w = crate::harness::warning(&r, "memory_too_few_samples");
    assert!(
        w.as_deref()
            .is_some_and(|w| w.contains("memory growth not judged")),
        "{}",
        r["warnings"]
    );
    assert!(!r["verdict"]["checks"].to_string().contains("memory_growth"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_pid_watches_an_external_service_and_rejects_a_missing_one() {
    // The test service runs in this test process: watch it by pid.
    let env = Env::with_test_service().await;
    let me = std::process::id().to_string();
    let o = run(
        &[
            "run",
            "ping",
            "--nats-url",
            env.url(),
            "--duration",
            "2s",
            "--monitor-pid",
            &me,
            "--quiet",
            "--format",
            "json",
        ],
        Duration::from_secs(60),
    )
    .await;
    let r: Value = serde_json::from_slice(&o.stdout).expect("result JSON");
    let ps = processes(&r);
    let watched: Vec<(&str, u64)> = ps
        .iter()
        .map(|p| {
            (
                p["role"].as_str().unwrap_or(""),
                p["pid"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(watched.len(), 2, "{watched:?}");
    assert_eq!(watched[0].0, "generator");
    assert_eq!(watched[1], ("service", u64::from(std::process::id())));

    // A pid that does not exist (above Linux's pid_max) is a usage error.
    let o = run(
        &[
            "run",
            "ping",
            "--nats-url",
            env.url(),
            "--duration",
            "1s",
            "--monitor-pid",
            "4194305",
        ],
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--monitor-pid 4194305: no such process"),
        "{}",
        stderr(&o)
    );
}

// Ctrl-C: stop sending, finish in-flight requests, write the partial result, exit 130.

use std::time::Duration;

use crate::harness::{Env, assert_schema_valid, read_result};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_mid_run_exits_130_with_a_partial_result() {
    let env = Env::with_test_service().await;
    let out = env.out();
    let mut child = env.spawn_long("ping", &[]);
    let served_before = env.wait_until_served(200).await;
    assert_eq!(
        crate::harness::interrupt(&mut child, Duration::from_secs(20)).await,
        Some(130)
    );
    let r = read_result(&out);
    assert_schema_valid(&r);
    assert_eq!(r["interrupted"], true);
    assert!(r["duration_s"].as_f64() < Some(30.0), "{}", r["duration_s"]);
    // The preflight made 3 of the requests served.
    crate::harness::assert_served_are_recorded(&r, served_before, 3);
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

// Issue 12: the nats-server and services cliffload starts die with it, even
// when it is SIGKILLed (nothing runs in cliffload to stop them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_leaves_no_nats_server_or_services_behind() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = crate::harness::cliffload()
        .args(["run", "ping", "--duration", "60s", "--quiet"])
        .env("TMPDIR", dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let pid = child.id().expect("running");
    // Wait (bounded) until both children run: nats-server and `cliffload serve`.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let kids = loop {
        let kids = crate::harness::children_of(pid);
        if kids.iter().any(|(_, c)| c == "nats-server") && kids.len() >= 2 {
            break kids;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "children never started: {kids:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    crate::harness::send_signal(&child, "KILL").await;
    let _ = child.wait().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while kids.iter().any(|(p, _)| crate::harness::alive(*p)) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "still running 10 s after cliffload was killed: {:?}",
            kids.iter()
                .filter(|(p, _)| crate::harness::alive(*p))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Its temp folder stays (nothing ran to remove it) until the next run.
    let stale = format!("cliffload-nats-{pid}-");
    let leftovers = || {
        std::fs::read_dir(dir.path())
            .expect("tmp")
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(&stale))
            .count()
    };
    assert_eq!(leftovers(), 1);
    let o = tokio::time::timeout(
        Duration::from_secs(60),
        crate::harness::cliffload()
            .args([
                "run",
                "ping",
                "--duration",
                "1s",
                "--requests",
                "20",
                "--quiet",
            ])
            .env("TMPDIR", dir.path())
            .output(),
    )
    .await
    .expect("in time")
    .expect("ran");
    assert!(
        matches!(o.status.code(), Some(0 | 1 | 3)),
        "{}",
        crate::harness::stderr(&o)
    );
    assert_eq!(leftovers(), 0, "the next run removed the dead run's folder");
}

// Issue 12: SIGHUP (a closed terminal) and SIGTERM behave as Ctrl-C.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_and_sigterm_write_a_partial_result_and_exit_130() {
    let env = Env::with_test_service().await;
    for (i, signal) in ["HUP", "TERM"].into_iter().enumerate() {
        let out = env.out();
        let mut child = env.spawn_long("ping", &[]);
        // The service counts across both runs: wait for this run's requests
        // (the signal handlers are in place once it sends).
        let before = if i == 0 {
            0
        } else {
            let stats = cliffload_testkit::srv_stats(&env.client, "test").await;
            cliffload_testkit::endpoint_requests(&stats, "rpc")
        };
        env.wait_until_served(before + 100).await;
        assert_eq!(
            crate::harness::signal_and_wait(&mut child, signal, Duration::from_secs(20)).await,
            Some(130),
            "SIG{signal}"
        );
        let r = read_result(&out);
        assert_eq!(r["interrupted"], true, "SIG{signal}");
    }
}

// Issue 12: a second Ctrl-C stops waiting for slow requests in flight, and
// what was recorded is still written, marked interrupted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_ctrl_c_stops_waiting_for_slow_requests_and_still_writes_results() {
    let env = Env::bare().await;
    // A second subscriber sees every request the run sends.
    let mut watch = env
        .client
        .subscribe("slow.rpc.ping")
        .await
        .expect("subscribe");
    crate::harness::respond_first_then_never(
        &env.client,
        "slow.rpc.ping",
        br#"{"success": true, "result": "pong", "timestamp": "t", "correlation_id": null}"#,
    )
    .await;
    let cfg = env.scenario(concat!(
        "scenarios:\n  s:\n    users: 4\n    duration: 60s\n    tasks:\n",
        "      - {name: ping, subject: slow.rpc.ping, timeout: 120s}\n",
    ));
    let out = env.out();
    let mut child = crate::harness::cliffload()
        .args([
            "run",
            "s",
            "--config",
            cfg.to_str().expect("utf-8"),
            "--nats-url",
            env.url(),
            "--quiet",
            "--out",
            out.to_str().expect("utf-8"),
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    // Wait (bounded) until preflight and the 4 users' never-answered requests are out.
    use futures_util::StreamExt as _;
    for _ in 0..5 {
        tokio::time::timeout(Duration::from_secs(20), watch.next())
            .await
            .expect("the run sends its requests")
            .expect("a request");
    }
    crate::harness::send_signal(&child, "INT").await;
    // The first Ctrl-C waits for the in-flight requests (120 s timeout)...
    assert!(
        tokio::time::timeout(Duration::from_millis(1500), child.wait())
            .await
            .is_err(),
        "the first Ctrl-C lets requests in flight finish"
    );
    // ...the second stops waiting, and the results are written.
    assert_eq!(
        crate::harness::interrupt(&mut child, Duration::from_secs(20)).await,
        Some(130)
    );
    let r = read_result(&out);
    assert_schema_valid(&r);
    assert_eq!(r["interrupted"], true);
}

// Issue 12: Ctrl-C while preflight waits on a silent service exits 130 at
// once (it used to wait out the timeout and exit 2).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_during_preflight_exits_130_at_once() {
    let env = Env::bare().await;
    // Subscribed, never answering: preflight waits for the task's 60 s timeout.
    let mut silent = env
        .client
        .subscribe("silent.rpc.ping")
        .await
        .expect("subscribe");
    env.client.flush().await.expect("flush");
    let cfg = env.scenario(concat!(
        "scenarios:\n  s:\n    users: 1\n    duration: 5s\n    tasks:\n",
        "      - {name: ping, subject: silent.rpc.ping, timeout: 60s}\n",
    ));
    let mut child = crate::harness::cliffload()
        .args([
            "run",
            "s",
            "--config",
            cfg.to_str().expect("utf-8"),
            "--nats-url",
            env.url(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    // The preflight request arriving here means preflight is under way.
    use futures_util::StreamExt as _;
    tokio::time::timeout(Duration::from_secs(20), silent.next())
        .await
        .expect("preflight reached the service")
        .expect("a request");
    let started = std::time::Instant::now();
    assert_eq!(
        crate::harness::interrupt(&mut child, Duration::from_secs(10)).await,
        Some(130)
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

// Issue 12: users cost memory only once started, spawning yields to Ctrl-C,
// and a plan that cannot fit in memory is refused before anything starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn millions_of_users_spawn_lazily_stop_on_ctrl_c_and_too_many_are_refused() {
    let o = crate::harness::run(
        &[
            "run",
            "ping",
            "--users",
            "4000000000",
            "--spawn-rate",
            "1000000000",
        ],
        Duration::from_secs(30),
    )
    .await;
    let err = crate::harness::stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("4000000000 users") && err.contains("GiB"),
        "{err}"
    );
    assert!(
        !err.contains("started nats-server"),
        "refused before starting: {err}"
    );

    let env = Env::with_test_service().await;
    let mut child = env.spawn_long("ping", &["--users", "3000000", "--spawn-rate", "10000000"]);
    env.wait_until_served(1000).await;
    let pid = child.id().expect("running");
    // Three million users due at once, but only those started hold memory.
    let rss_kb = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .expect("VmRSS");
    assert!(
        rss_kb < 2 * 1024 * 1024,
        "{rss_kb} KB: users allocated before they start"
    );
    let started = std::time::Instant::now();
    assert_eq!(
        crate::harness::interrupt(&mut child, Duration::from_secs(20)).await,
        Some(130)
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

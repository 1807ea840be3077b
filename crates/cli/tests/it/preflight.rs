// Preflight: a run that would measure nothing useful stops before any load.

use std::time::{Duration, Instant};

use crate::harness::{Env, respond_always, run, stderr};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_suites_subject_without_rpc_stops_the_run_with_exit_2() {
    let env = Env::with_test_service().await;
    // The original suite's subject (protocol doc §7): nothing subscribes to it.
    let cfg = env.scenario(concat!(
        "scenarios:\n  seed:\n    users: 10\n    duration: 60s\n    tasks:\n",
        "      - {name: process_order, subject: order_processing_service.process_order, timeout: 5s}\n",
    ));
    let started = Instant::now();
    let o = run(
        &[
            "run",
            "seed",
            "--config",
            cfg.to_str().expect("utf-8"),
            "--nats-url",
            env.url(),
        ],
        Duration::from_secs(20),
    )
    .await;
    let elapsed = started.elapsed();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("order_processing_service.process_order"),
        "{err}"
    );
    assert!(err.contains("no responders"), "{err}");
    assert!(
        err.contains("order_processing_service.rpc.process_order"),
        "suggests the right subject: {err}"
    );
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
    assert!(
        o.stdout.is_empty(),
        "no summary for a run that never started"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payload_the_service_refuses_as_invalid_stops_the_run() {
    let env = Env::with_test_service().await;
    // Bare fields instead of the handler's keyword arguments.
    let cfg = env.scenario("scenarios:\n  s:\n    users: 1\n    duration: 5s\n    tasks:\n      - {name: echo, subject: test.rpc.echo, payload: {text: hi}}\n");
    let o = run(
        &[
            "run",
            "s",
            "--config",
            cfg.to_str().expect("utf-8"),
            "--nats-url",
            env.url(),
        ],
        Duration::from_secs(20),
    )
    .await;
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("test.rpc.echo")
            && err.contains("validation failed")
            && err.contains("keyword arguments"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_that_is_not_an_envelope_stops_the_run() {
    let env = Env::bare().await;
    respond_always(&env.client, "plain.rpc.ping", b"pong").await;
    let cfg = env.scenario("scenarios:\n  s:\n    users: 1\n    duration: 5s\n    tasks:\n      - {name: ping, subject: plain.rpc.ping}\n");
    let o = run(
        &[
            "run",
            "s",
            "--config",
            cfg.to_str().expect("utf-8"),
            "--nats-url",
            env.url(),
        ],
        Duration::from_secs(20),
    )
    .await;
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("plain.rpc.ping") && err.contains("pong") && err.contains("protocol: raw"),
        "{err}"
    );
}

#[tokio::test]
async fn usage_errors_exit_2_with_the_flag_named() {
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "run",
                "no_such_scenario",
                "--nats-url",
                "nats://127.0.0.1:1",
            ],
            "no scenario named \"no_such_scenario\"",
        ),
        (&["run", "ping", "--duration", "soon"], "--duration"),
        (&["run", "ping", "--users", "0"], "--users"),
        (&["run", "ping", "--spawn-rate", "0"], "--spawn-rate"),
        (&["run", "ping", "--workers", "0"], "--workers"),
        (
            &["run", "ping", "--config", "/nonexistent/x.yaml"],
            "cannot read /nonexistent/x.yaml",
        ),
        (
            &[
                "run",
                "ping",
                "--nats-url",
                "nats://127.0.0.1:1",
                "--duration",
                "1s",
            ],
            "cannot connect to nats://127.0.0.1:1",
        ),
        (
            &["run", "ping", "--nats-url", "nats://127.0.0.1:1"],
            "is nats-server running there? (without --nats-url, cliffload starts its own)",
        ),
        (&["run"], "SCENARIO"),
        (&["frobnicate"], "unrecognized subcommand"),
    ];
    for (args, want) in cases {
        let o = run(args, Duration::from_secs(20)).await;
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: want {want:?} in {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

/// `cliffload run ping` for 1 s, on its own server, with `var` set to
/// `value`; its output.
async fn run_ping_with(var: &str, value: &str) -> std::process::Output {
    crate::harness::cliffload()
        .args(["run", "ping", "--duration", "1s"])
        .env(var, value)
        .output()
        .await
        .expect("ran")
}

#[tokio::test]
async fn a_missing_nats_server_says_how_to_install_it() {
    let o = run_ping_with("CLIFFLOAD_NATS_SERVER", "/nonexistent/nats-server").await;
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("/nonexistent/nats-server") && err.contains("apt-get install nats-server"),
        "{err}"
    );
}

#[tokio::test]
async fn an_unwritable_temp_directory_is_named_once_with_the_fix() {
    let o = run_ping_with("TMPDIR", "/nonexistent/tmp").await;
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("cannot make a folder for nats-server in /nonexistent/tmp")
            && err.contains("set TMPDIR to a writable directory"),
        "{err}"
    );
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
}

const ERROR: &[u8] = br#"{"success": false, "error": "Internal server error (correlation_id: x)", "timestamp": "t", "correlation_id": null}"#;
const OK: &[u8] = br#"{"success": true, "result": 1, "timestamp": "t", "correlation_id": null}"#;

fn flaky_scenario(env: &Env, extra: &str) -> std::path::PathBuf {
    env.scenario(&format!(
        "scenarios:\n  s:\n    users: 1\n    duration: 1s\n    max_requests: 20\n{extra}    tasks:\n      - {{name: flaky, subject: flaky.rpc.call, timeout: 2s}}\n"
    ))
}

async fn run_flaky(env: &Env, cfg: &std::path::Path, extra: &[&str]) -> std::process::Output {
    env.run_file("s", cfg, extra).await
}

// Issue 12: a service that fails one call in two no longer aborts the run at
// random: strict preflight tries a service error again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_preflight_tries_a_service_error_again() {
    let env = Env::bare().await;
    crate::harness::respond_alternating(&env.client, "flaky.rpc.call", ERROR, OK).await;
    let cfg = flaky_scenario(&env, "");
    let o = run_flaky(&env, &cfg, &[]).await;
    // It ran (and failed on the service errors in the load): not exit 2.
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let r = crate::harness::read_result(&env.out());
    assert_eq!(r["preflight"][0]["outcome"], "ok", "{}", r["preflight"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_that_always_errs_stops_strict_warns_under_warn_and_off_skips() {
    let env = Env::bare().await;
    respond_always(&env.client, "flaky.rpc.call", ERROR).await;
    let cfg = flaky_scenario(&env, "");
    let o = run_flaky(&env, &cfg, &[]).await;
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("in each of 3 tries") && err.contains("--preflight warn"),
        "{err}"
    );
    // warn, from the flag: the run goes on, the problem is a warning.
    let o = run_flaky(&env, &cfg, &["--preflight", "warn"]).await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let r = crate::harness::read_result(&env.out());
    let w = crate::harness::warning(&r, "preflight_tolerated");
    assert!(
        w.as_deref()
            .is_some_and(|w| w.contains("preflight of task s.flaky")),
        "{}",
        r["warnings"]
    );
    assert_eq!(
        r["summary"]["outcomes"]["service_error"],
        r["summary"]["requests"]
    );
    // off, from the file: no smoke call at all.
    let cfg = flaky_scenario(&env, "    preflight: off\n");
    let o = run_flaky(&env, &cfg, &[]).await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let r = crate::harness::read_result(&env.out());
    assert_eq!(r["preflight"], serde_json::json!([]));
}

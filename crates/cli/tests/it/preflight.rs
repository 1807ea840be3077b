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

#[tokio::test]
async fn a_missing_nats_server_says_how_to_install_it() {
    let o = crate::harness::cliffload()
        .args(["run", "ping", "--duration", "1s"])
        .env("CLIFFLOAD_NATS_SERVER", "/nonexistent/nats-server")
        .output()
        .await
        .expect("ran");
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("/nonexistent/nats-server") && err.contains("apt-get install nats-server"),
        "{err}"
    );
}

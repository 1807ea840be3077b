//! The run without the binary: a real nats-server on loopback and the
//! reference `test` service in this process.

use std::sync::Arc;
use std::time::Duration;

use cliffload_scenario::Overrides;
use cliffload_services::{cliffracer, test_service};

use super::*;
use crate::{CancellationToken, Unobserved};

/// A nats-server with the `test` service on it; both end with the guard.
struct TestServer {
    server: cliffload_testkit::NatsServer,
    stop: CancellationToken,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn deployment() -> TestServer {
    let server = cliffload_testkit::server();
    let client = cliffload_testkit::client(&server).await;
    let stop = CancellationToken::new();
    let svc = cliffload_testkit::client(&server).await;
    let shutdown = stop.clone();
    tokio::spawn(async move {
        let _ = test_service::run(svc, Default::default(), shutdown.cancelled_owned()).await;
    });
    cliffracer::wait_ready(&client, "test", Duration::from_secs(5))
        .await
        .expect("service ready");
    TestServer { server, stop }
}

fn ping(requests: u64) -> (Scenario, Settings) {
    let file = catalog::builtin();
    let mut s = file.get("ping").expect("ping").clone();
    s.apply(&Overrides {
        duration: Some("5s"),
        users: Some(2),
        requests: Some(requests),
        ..Overrides::default()
    })
    .expect("overrides");
    (s, file.settings)
}

/// A session nobody watches, with `cancel` as its Ctrl-C.
fn unobserved(printer: &mut Printer, cancel: CancellationToken) -> Session<'_> {
    Session {
        printer,
        cancel,
        abort: CancellationToken::new(),
        observer: Arc::new(Unobserved),
    }
}

fn spec(scenario: Scenario, settings: Settings, url: &str) -> RunSpec {
    RunSpec {
        scenario,
        settings,
        baseline: Baseline::None,
        deployment: Deployment {
            target: Some(NatsAccess::from_urls(&[url]).expect("url")),
            workers: 1,
            ..Deployment::default()
        },
        route: Route::Nats,
        frameworks: Vec::new(),
        history: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_against_a_real_server_counts_every_request_and_judges_them() {
    let d = deployment().await;
    let (scenario, settings) = ping(300);
    let mut printer = Printer::new(true);
    let mut session = unobserved(&mut printer, CancellationToken::new());
    let r = run(spec(scenario, settings, d.server.url()), &mut session)
        .await
        .expect("runs");
    assert_eq!(r.summary.requests, 300, "--requests bounds the run");
    assert_eq!(r.summary.failures, 0);
    assert_eq!(r.tasks.iter().map(|t| t.requests).sum::<u64>(), 300);
    assert!(!r.interrupted);
    assert!(
        r.verdict
            .checks
            .iter()
            .any(|c| c.name == "max_failure_percent" && c.passed()),
        "{:?}",
        r.verdict.checks
    );
    // And against its own result as a baseline: compared, figure by figure.
    let (scenario, settings) = ping(300);
    let mut again = spec(scenario, settings, d.server.url());
    again.baseline = Baseline::Found(Box::new(r));
    let second = run(again, &mut session).await.expect("runs");
    assert!(second.baseline.as_ref().is_some_and(|b| !b.rows.is_empty()));
    assert!(
        second
            .verdict
            .checks
            .iter()
            .any(|c| c.name == "no_regression"),
        "{:?}",
        second.verdict.checks
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_before_the_load_is_an_interruption_not_a_result() {
    let d = deployment().await;
    let (scenario, settings) = ping(100);
    let mut printer = Printer::new(true);
    let cancel = CancellationToken::new();
    cancel.cancel();
    let mut session = unobserved(&mut printer, cancel);
    let e = run(spec(scenario, settings, d.server.url()), &mut session)
        .await
        .expect_err("nothing ran");
    assert!(e.downcast_ref::<crate::Interrupted>().is_some(), "{e:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_is_not_there_is_an_error_naming_it() {
    // A port nothing listens on: bind one, then let it go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let url = format!("nats://127.0.0.1:{port}");
    let (scenario, settings) = ping(10);
    let mut printer = Printer::new(true);
    let mut session = unobserved(&mut printer, CancellationToken::new());
    let e = run(spec(scenario, settings, &url), &mut session)
        .await
        .expect_err("no server");
    let words = format!("{e:#}");
    assert!(
        words.contains(&url) || words.contains(&port.to_string()),
        "{words}"
    );
}

#[test]
fn frameworks_are_chosen_by_scenario_or_by_name() {
    let file = cliffload_scenario::ScenarioFile::parse_over_catalog(
        "comparison_frameworks:\n  fast: {endpoint: 'http://127.0.0.1:1', scenarios: [ping]}\n  slow: {endpoint: 'http://127.0.0.1:2'}\n",
        "test",
    )
    .expect("file");
    let names = |v: Vec<Framework>| v.into_iter().map(|f| f.name).collect::<Vec<_>>();
    let s = &file.settings;
    assert_eq!(
        names(frameworks_for(s, "ping", None).expect("ok")),
        ["fast"]
    );
    // The built-in catalog's frameworks list `baseline`; none lists this one.
    assert!(
        frameworks_for(s, "error_resilience", None)
            .expect("ok")
            .is_empty()
    );
    let all = names(frameworks_for(s, "x", Some(&[])).expect("ok"));
    assert!(
        all.len() >= 2 && all.iter().any(|n| n == "fast") && all.iter().any(|n| n == "slow"),
        "{all:?}"
    );
    assert_eq!(
        names(frameworks_for(s, "x", Some(&["slow".to_owned()])).expect("ok")),
        ["slow"]
    );
    let e = frameworks_for(s, "x", Some(&["nope".to_owned()]))
        .expect_err("unknown")
        .to_string();
    assert!(e.contains("--framework nope") && e.contains("slow"), "{e}");
}

// Closed model: users, spawn rate, weights, think time, stop, cancellation.

use std::sync::Arc;
use std::time::Duration;

use cliffload_engine::mock::{MockConnectError, MockConnector, MockTransport, Script};
use cliffload_engine::{
    CancellationToken, Connector, EngineError, Payload, Plan, RunOptions, RunOutput, run,
};
use cliffload_metrics::Outcome;
use cliffload_scenario::ScenarioFile;

fn plan(yaml_scenario: &str) -> Plan {
    let yaml = format!("scenarios:\n  s:\n{yaml_scenario}");
    let file = ScenarioFile::parse(&yaml, "test.yaml").expect("valid scenario");
    let s = file.get("s").expect("present");
    let pools = s
        .tasks
        .iter()
        .map(|_| vec![Payload::valid(&b"{}"[..])])
        .collect();
    Plan::new(s, pools)
}

async fn run_inline(plan: Plan, connector: &MockConnector, cancel: CancellationToken) -> RunOutput {
    run(
        Arc::new(plan),
        Arc::new(connector.clone()),
        RunOptions::workers(0),
        cancel,
        |_| {},
    )
    .await
    .expect("runs")
}

#[tokio::test(start_paused = true)]
async fn back_to_back_users_send_duration_over_latency_requests() {
    let p = plan(
        "    users: 2\n    spawn_rate: 1000\n    duration: 10s\n    tasks:\n      - {name: a, subject: x.y}\n",
    );
    let mock = MockConnector::new(vec![Script::ok(Duration::from_millis(1))]);
    let out = run_inline(p, &mock, CancellationToken::new()).await;
    let total = out.totals.counts().total();
    // user 0 starts at 0, user 1 at 1 ms; each sends one request per ms for 10 s.
    assert!((19_997..=20_001).contains(&total), "{total}");
    assert_eq!(total, mock.calls(0));
    let per_second: Vec<u64> = out.intervals.iter().map(|i| i.counts.total()).collect();
    // Ten seconds; the replies in flight at the deadline, a millisecond's
    // remainder, join the tenth rather than make a 1 ms interval of their own.
    assert_eq!(per_second.len(), 10, "{per_second:?}");
    assert!(
        per_second.iter().all(|n| (1990..=2010).contains(n)),
        "{per_second:?}"
    );
    assert!(
        out.intervals[..9]
            .iter()
            .all(|i| i.length == Duration::from_secs(1))
    );
    assert_eq!(
        out.intervals[9].length,
        out.elapsed - Duration::from_secs(9),
        "one second plus the remainder"
    );
    // Each interval also carries the successes since the start (Locust's "Total" columns).
    let mut running = 0;
    for i in &out.intervals {
        running += i.success_latency.count;
        assert_eq!(
            i.total_success_latency.count, running,
            "interval {}",
            i.index
        );
    }
    assert_eq!(running, total);
    let ok = out.totals.tasks()[0]
        .get(Outcome::Ok)
        .expect("ok histogram")
        .summary();
    assert_eq!(
        (ok.p50, ok.max),
        (1000, 1000),
        "latency is measured exactly: 1 ms = 1000 µs"
    );
    assert!(!out.interrupted);
    assert!(out.elapsed >= Duration::from_secs(10) && out.elapsed < Duration::from_millis(10_010));
}

#[tokio::test(start_paused = true)]
async fn tasks_are_chosen_by_weight_and_outcomes_kept_apart() {
    let p = plan(concat!(
        "    users: 4\n    duration: 60s\n    wait_time: {constant: 0.01}\n    tasks:\n",
        "      - {name: a, subject: x.a, weight: 3}\n",
        "      - {name: b, subject: x.b, weight: 1}\n",
    ));
    let mock = MockConnector::new(vec![
        Script::ok(Duration::from_millis(2)),
        Script {
            latency: Duration::from_millis(5),
            outcomes: vec![Outcome::Ok, Outcome::Timeout],
        },
    ]);
    let out = run_inline(p, &mock, CancellationToken::new()).await;
    let (a, b) = (
        out.totals.tasks()[0].counts(),
        out.totals.tasks()[1].counts(),
    );
    let share = a.total() as f64 / (a.total() + b.total()) as f64;
    assert!((share - 0.75).abs() < 0.02, "share of a = {share}");
    assert_eq!(a.get(Outcome::Timeout), 0);
    assert!(
        b.get(Outcome::Timeout).abs_diff(b.get(Outcome::Ok)) <= 4,
        "{b:?}"
    );
    let timeouts = out.totals.tasks()[1]
        .get(Outcome::Timeout)
        .expect("timeouts")
        .summary();
    // HDR reports the top of the value's bucket: within 0.1% (3 digits).
    assert!((5000..=5005).contains(&timeouts.p50), "{}", timeouts.p50);
}

#[tokio::test(start_paused = true)]
async fn users_start_at_the_spawn_rate() {
    // 10 users at 2/s: the last starts at 4.5 s. Each sends about one request
    // per second (1 ms of latency keeps completions off interval boundaries).
    let p = plan(
        "    users: 10\n    spawn_rate: 2\n    duration: 20s\n    wait_time: {constant: 1}\n    tasks:\n      - {name: a, subject: x.y}\n",
    );
    let mock = MockConnector::new(vec![Script::ok(Duration::from_millis(1))]);
    let out = run_inline(p, &mock, CancellationToken::new()).await;
    let per_second: Vec<u64> = out.intervals.iter().map(|i| i.counts.total()).collect();
    assert_eq!(&per_second[..6], &[2, 4, 6, 8, 10, 10], "{per_second:?}");
    assert!(per_second[6..19].iter().all(|n| *n == 10), "{per_second:?}");
}

#[tokio::test(start_paused = true)]
async fn think_time_between_bounds_sets_the_rate() {
    // Uniform 1–3 s: a mean of 2 s, so 10 users make ~5 requests/s.
    let p = plan(
        "    users: 10\n    duration: 600s\n    wait_time: {between: [1, 3]}\n    tasks:\n      - {name: a, subject: x.y}\n",
    );
    let mock = MockConnector::new(vec![Script::ok(Duration::ZERO)]);
    let out = run_inline(p, &mock, CancellationToken::new()).await;
    let rate = out.totals.counts().total() as f64 / 600.0;
    assert!((rate - 5.0).abs() < 0.25, "rate {rate}");
}

#[tokio::test(start_paused = true)]
async fn cancel_stops_sending_and_keeps_what_was_measured() {
    let p = plan("    users: 3\n    duration: 1h\n    tasks:\n      - {name: a, subject: x.y}\n");
    let mock = MockConnector::new(vec![Script::ok(Duration::from_millis(10))]);
    let cancel = CancellationToken::new();
    let c = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(5_005)).await;
        c.cancel();
    });
    let out = run_inline(p, &mock, cancel).await;
    assert!(out.interrupted);
    assert!(
        out.elapsed < Duration::from_millis(5_020),
        "{:?}",
        out.elapsed
    );
    // every call made was recorded: the in-flight ones finished and counted
    assert_eq!(out.totals.counts().total(), mock.calls(0));
    // users start at 0, 1/3 and 2/3 s (spawn rate defaults to users/s) and
    // send every 10 ms until 5.005 s: 501 + 468 + 434 calls.
    assert!(
        (1_400..=1_406).contains(&mock.calls(0)),
        "{}",
        mock.calls(0)
    );
}

#[tokio::test(start_paused = true)]
async fn connect_failure_is_an_error_and_nothing_runs() {
    let p = plan("    users: 3\n    duration: 10s\n    tasks:\n      - {name: a, subject: x.y}\n");
    let mock = MockConnector::failing("connection refused: is nats-server running?");
    let err = run(
        Arc::new(p),
        Arc::new(mock),
        RunOptions::workers(0),
        CancellationToken::new(),
        |_| {},
    )
    .await
    .expect_err("cannot connect");
    assert!(matches!(err, EngineError::Connect { .. }));
    assert!(err.to_string().contains("is nats-server running?"), "{err}");
    // The connector's own error comes through by type.
    assert_eq!(
        err.connector_error::<MockConnectError>(),
        Some(&MockConnectError(
            "connection refused: is nats-server running?".into()
        ))
    );
    assert!(err.connector_error::<std::io::Error>().is_none());
}

/// Panics while connecting, as a connector with a bug would.
#[derive(Debug)]
struct Panicking;

impl Connector for Panicking {
    type Transport = MockTransport;
    type Error = std::convert::Infallible;

    async fn connect(&self, _worker: usize) -> Result<MockTransport, Self::Error> {
        panic!("a connector bug")
    }
}

#[tokio::test(start_paused = true)]
async fn a_worker_that_dies_while_connecting_stops_the_run_naming_it() {
    let p = plan("    users: 1\n    duration: 10s\n    tasks:\n      - {name: a, subject: x.y}\n");
    let err = run(
        Arc::new(p),
        Arc::new(Panicking),
        RunOptions::workers(0),
        CancellationToken::new(),
        |_| {},
    )
    .await
    .expect_err("never connected");
    assert!(
        matches!(err, EngineError::WorkerLost { worker: 0 }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "worker 0 could not connect: the worker stopped while connecting"
    );
    assert!(err.connector_error::<std::convert::Infallible>().is_none());
}

#[tokio::test(start_paused = true)]
async fn progress_is_reported_once_per_interval_with_running_totals() {
    let p = plan(
        "    users: 1\n    duration: 5s\n    wait_time: {constant: 0.1}\n    tasks:\n      - {name: a, subject: x.y}\n",
    );
    let mock = MockConnector::new(vec![Script::ok(Duration::ZERO)]);
    let mut seen = vec![];
    run(
        Arc::new(p),
        Arc::new(mock),
        RunOptions::workers(0),
        CancellationToken::new(),
        |pr| {
            seen.push((pr.interval.index, pr.totals.total()));
        },
    )
    .await
    .expect("runs");
    // The run ends at 5 s sharp: its empty 0 ms remainder joins the fifth
    // second and is not reported again.
    assert_eq!(seen, vec![(0, 10), (1, 20), (2, 30), (3, 40), (4, 50)]);
}

#[test]
fn threaded_workers_split_users_and_merge_exactly() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let p = plan(
        "    users: 5\n    duration: 1s\n    wait_time: {constant: 0.05}\n    tasks:\n      - {name: a, subject: x.y}\n",
    );
    let mock = MockConnector::new(vec![Script::ok(Duration::ZERO)]);
    let out = rt
        .block_on(run(
            Arc::new(p),
            Arc::new(mock.clone()),
            RunOptions::workers(3),
            CancellationToken::new(),
            |_| {},
        ))
        .expect("runs");
    assert_eq!(out.workers, 3);
    assert_eq!(out.totals.counts().total(), mock.calls(0));
    // users start every 0.2 s and send every 50 ms until 1 s: 20+16+12+8+4,
    // in real time, so allow scheduling slack.
    assert!((50..=65).contains(&mock.calls(0)), "{}", mock.calls(0));
    assert!(!out.intervals.is_empty());
    // Every worker's last interval, sent as it finished, is in the series.
    let in_series: u64 = out.intervals.iter().map(|i| i.counts.total()).sum();
    assert_eq!(in_series, mock.calls(0));
}

#[tokio::test(start_paused = true)]
async fn stages_change_the_user_count_at_the_right_times() {
    let yaml = concat!(
        "advanced:\n  gradual_load_increase: {enabled: true, steps: [2, 6, 3], step_duration_seconds: 10}\n",
        "scenarios:\n  s:\n    users: 1\n    spawn_rate: 100\n    duration: 1s\n    wait_time: {constant: 1}\n    tasks:\n      - {name: a, subject: x.y}\n",
    );
    let file = ScenarioFile::parse(yaml, "t.yaml").expect("valid");
    let s = file.get("s").expect("s");
    assert_eq!(s.duration, Duration::from_secs(30));
    let p = Plan::new(s, vec![vec![Payload::valid(&b"{}"[..])]]);
    let mock = MockConnector::new(vec![Script::ok(Duration::from_millis(1))]);
    let out = run_inline(p, &mock, CancellationToken::new()).await;
    let per_second: Vec<u64> = out.intervals.iter().map(|i| i.counts.total()).collect();
    // One request per user per second: the series shows the user count.
    assert_eq!(&per_second[2..9], &[2; 7], "{per_second:?}");
    assert_eq!(&per_second[12..19], &[6; 7], "{per_second:?}");
    assert_eq!(&per_second[22..29], &[3; 7], "{per_second:?}");
}

#[tokio::test(start_paused = true)]
async fn users_are_spread_over_classes_by_weight() {
    let yaml = concat!(
        "user_classes:\n",
        "  Heavy: {weight: 3, wait_time: {constant: 1}, tasks: [{name: h, subject: x.h}]}\n",
        "  Light: {weight: 1, wait_time: {constant: 1}, tasks: [{name: l, subject: x.l}]}\n",
        "scenarios:\n  s:\n    users: 8\n    spawn_rate: 100\n    duration: 10s\n",
    );
    let file = ScenarioFile::parse(yaml, "t.yaml").expect("valid");
    let s = file.get("s").expect("s");
    let p = Plan::new(s, vec![vec![Payload::valid(&b"{}"[..])]; 2]);
    let mock = MockConnector::new(vec![
        Script::ok(Duration::from_millis(1)),
        Script::ok(Duration::from_millis(1)),
    ]);
    let out = run_inline(p, &mock, CancellationToken::new()).await;
    // 6 Heavy users and 2 Light ones, one request per second each.
    assert_eq!((mock.calls(0), mock.calls(1)), (60, 20));
    assert_eq!(out.totals.counts().total(), 80);
}

#[tokio::test(start_paused = true)]
async fn pacing_starts_a_task_every_period_whatever_the_reply_took() {
    // 30 ms replies, a task every 100 ms: 10 per second, not 1/130 ms.
    let p = plan(
        "    users: 1\n    duration: 10s\n    wait_time: {pacing: 100ms}\n    tasks:\n      - {name: a, subject: x.y}\n",
    );
    let mock = MockConnector::new(vec![Script::ok(Duration::from_millis(30))]);
    let out = run_inline(p, &mock, CancellationToken::new()).await;
    let n = out.totals.counts().total();
    assert!((99..=101).contains(&n), "{n}");
    // A reply slower than the period: the next starts at once.
    let p = plan(
        "    users: 1\n    duration: 10s\n    wait_time: {pacing: 100ms}\n    tasks:\n      - {name: a, subject: x.y}\n",
    );
    let mock = MockConnector::new(vec![Script::ok(Duration::from_millis(250))]);
    let out = run_inline(p, &mock, CancellationToken::new()).await;
    let n = out.totals.counts().total();
    assert!((40..=41).contains(&n), "{n}");
}

#[tokio::test(start_paused = true)]
async fn max_requests_stops_the_run_at_exactly_that_many() {
    let p = plan(
        "    users: 4\n    spawn_rate: 1000\n    duration: 60s\n    max_requests: 1000\n    tasks:\n      - {name: a, subject: x.y}\n",
    );
    let mock = MockConnector::new(vec![Script::ok(Duration::from_millis(1))]);
    let out = run_inline(p, &mock, CancellationToken::new()).await;
    assert_eq!(out.totals.counts().total(), 1000);
    assert_eq!(mock.calls(0), 1000);
    assert_eq!((out.planned, out.sent, out.never_sent), (1000, 1000, 0));
    // 4 users at 1 ms: about 250 ms, not the 60 s duration.
    assert!(out.elapsed < Duration::from_secs(2), "{:?}", out.elapsed);
    assert!(!out.interrupted);
}

#[test]
fn the_request_budget_is_split_across_workers_exactly() {
    let p = plan(
        "    users: 4\n    duration: 1s\n    max_requests: 10\n    tasks:\n      - {name: a, subject: x.y}\n",
    );
    let shares: Vec<u64> = (0..3)
        .map(|w| p.request_budget(cliffload_engine::Slice::WHOLE.slot(w, 3)))
        .collect();
    assert_eq!(shares, [4, 3, 3]);
    let unlimited =
        plan("    users: 1\n    duration: 1s\n    tasks:\n      - {name: a, subject: x.y}\n");
    assert_eq!(
        unlimited.request_budget(cliffload_engine::Slice::WHOLE.slot(0, 1)),
        u64::MAX
    );
}

/// Distributed generation (issue 15): the users of three processes' slices
/// are the whole plan's users, so each task gets, between them, exactly the
/// requests it gets from one process; and a request budget splits exactly.
#[tokio::test(start_paused = true)]
async fn three_slices_run_the_whole_plans_users_and_budget() {
    const SCENARIO: &str = "    users: 10\n    spawn_rate: 20\n    duration: 5s\n    user_classes: [A, B]\nuser_classes:\n  A:\n    weight: 1\n    wait_time: {between: [0.01, 0.02]}\n    tasks:\n      - {name: a, subject: x.a}\n  B:\n    weight: 3\n    wait_time: {between: [0.01, 0.03]}\n    tasks:\n      - {name: b1, subject: x.b, weight: 2}\n      - {name: b2, subject: x.c}\n";
    let budget = SCENARIO.replace("duration: 5s", "duration: 5s\n    max_requests: 2000");
    let whole = per_task(&run_slice(SCENARIO, cliffload_engine::Slice::WHOLE).await);
    let (mut sum, mut budgeted) = (vec![0u64; 3], 0);
    for index in 0..3 {
        let slice = cliffload_engine::Slice::new(index, 3).expect("index < 3");
        for (s, n) in sum
            .iter_mut()
            .zip(per_task(&run_slice(SCENARIO, slice).await))
        {
            *s += n;
        }
        budgeted += run_slice(&budget, slice).await.totals.counts().total();
    }
    assert_eq!(sum, whole);
    assert_eq!(budgeted, 2000, "the budget, used up and not exceeded");
}

/// Requests per task.
fn per_task(o: &RunOutput) -> Vec<u64> {
    o.totals
        .tasks()
        .iter()
        .map(|t| t.counts().total())
        .collect()
}

/// One slice of the scenario, its three tasks answered in 2 ms.
async fn run_slice(scenario: &str, slice: cliffload_engine::Slice) -> RunOutput {
    let mock = MockConnector::new(
        (0..3)
            .map(|_| Script::ok(Duration::from_millis(2)))
            .collect(),
    );
    run(
        Arc::new(plan(scenario)),
        Arc::new(mock),
        RunOptions {
            slice,
            ..RunOptions::workers(0)
        },
        CancellationToken::new(),
        |_| {},
    )
    .await
    .expect("runs")
}

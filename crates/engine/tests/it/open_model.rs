// Open model (arrival rate) under virtual time: rate held, ramps, and
// latency from the intended send time when the transport stalls.

use std::sync::Arc;
use std::time::Duration;

use cliffload_engine::mock::{MockConnector, Script};
use cliffload_engine::{CancellationToken, Payload, Plan, RunOptions, RunOutput, run};
use cliffload_metrics::Outcome;
use cliffload_scenario::ScenarioFile;

fn plan(arrival: &str, duration: &str) -> Plan {
    let yaml = format!(
        "scenarios:\n  s:\n    arrival_rate: {arrival}\n    duration: {duration}\n    tasks:\n      - {{name: a, subject: x.y}}\n"
    );
    let file = ScenarioFile::parse(&yaml, "t.yaml").expect("valid scenario");
    Plan::new(
        file.get("s").expect("s"),
        vec![vec![Payload::valid(&b"{}"[..])]],
    )
}

async fn go(plan: Plan, mock: &MockConnector) -> RunOutput {
    run(
        Arc::new(plan),
        Arc::new(mock.clone()),
        RunOptions::workers(0),
        CancellationToken::new(),
        |_| {},
    )
    .await
    .expect("runs")
}

#[tokio::test(start_paused = true)]
async fn holds_a_constant_rate() {
    let mock = MockConnector::new(vec![Script::ok(Duration::from_millis(5))]);
    let out = go(plan("{rate: 200, max_in_flight: 100}", "30s"), &mock).await;
    let n = out.totals.counts().total() as f64;
    assert!(
        (n - 6000.0).abs() / 6000.0 < 0.02,
        "{n} requests for 200/s × 30 s"
    );
    let per_second: Vec<u64> = out.intervals.iter().map(|i| i.counts.total()).collect();
    assert!(
        per_second[1..29].iter().all(|c| (196..=204).contains(c)),
        "{per_second:?}"
    );
    assert_eq!((out.late, out.never_sent), (0, 0));
    assert_eq!(out.planned, 6000, "200/s × 30 s");
}

#[tokio::test(start_paused = true)]
async fn ramps_linearly() {
    let mock = MockConnector::new(vec![Script::ok(Duration::from_millis(2))]);
    let out = go(
        plan("{rate: 100, ramp_to: 300, max_in_flight: 100}", "20s"),
        &mock,
    )
    .await;
    let n = out.totals.counts().total() as f64;
    assert!(
        (n - 4000.0).abs() / 4000.0 < 0.02,
        "{n}: (100 + 300) / 2 × 20 s = 4000"
    );
    let per_second: Vec<u64> = out.intervals.iter().map(|i| i.counts.total()).collect();
    assert!(
        per_second[1] < 120 && per_second[18] > 280,
        "{per_second:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn rate_stages_send_the_planned_arrivals_each_second() {
    // 0 → 100/s over 2 s, 100/s for 2 s, → 0 over 2 s, a second of nothing,
    // then 50/s at once for a second: the integral of the rate, per second.
    let yaml = concat!(
        "scenarios:\n  s:\n    arrival_rate: {max_in_flight: 100}\n    stages:\n",
        "      - {duration: 2s, rate: 100}\n      - {duration: 2s, rate: 100}\n",
        "      - {duration: 2s, rate: 0}\n      - {duration: 1s, rate: 0}\n",
        "      - {duration: 0s, rate: 50}\n      - {duration: 1s, rate: 50}\n",
        "    tasks:\n      - {name: a, subject: x.y}\n",
    );
    let file = ScenarioFile::parse(yaml, "t.yaml").expect("valid scenario");
    let plan = Plan::new(
        file.get("s").expect("s"),
        vec![vec![Payload::valid(&b"{}"[..])]],
    );
    let mock = MockConnector::new(vec![Script::ok(Duration::from_millis(1))]);
    let out = go(plan, &mock).await;
    let per_second: Vec<u64> = out.intervals.iter().map(|i| i.counts.total()).collect();
    assert_eq!(per_second, [25, 75, 100, 100, 75, 25, 0, 50]);
    assert_eq!(
        (out.planned, out.sent, out.never_sent, out.late),
        (450, 450, 0, 0)
    );
}

#[tokio::test(start_paused = true)]
async fn rate_stages_start_from_the_arrival_rate_given() {
    let yaml = "scenarios:\n  s:\n    arrival_rate: {rate: 100, max_in_flight: 100}\n    stages: [{duration: 2s, rate: 300}]\n    tasks:\n      - {name: a, subject: x.y}\n";
    let file = ScenarioFile::parse(yaml, "t.yaml").expect("valid scenario");
    let plan = Plan::new(
        file.get("s").expect("s"),
        vec![vec![Payload::valid(&b"{}"[..])]],
    );
    let mock = MockConnector::new(vec![Script::ok(Duration::from_millis(1))]);
    let out = go(plan, &mock).await;
    let per_second: Vec<u64> = out.intervals.iter().map(|i| i.counts.total()).collect();
    // 100 → 200/s in the first second, 200 → 300/s in the second.
    assert_eq!(per_second, [150, 250]);
}

#[tokio::test(start_paused = true)]
async fn a_rate_that_falls_to_nothing_still_lasts_the_load() {
    let yaml = "scenarios:\n  s:\n    stages: [{duration: 1s, rate: 100}, {duration: 1s, rate: 0}]\n    tasks:\n      - {name: a, subject: x.y}\n";
    let file = ScenarioFile::parse(yaml, "t.yaml").expect("valid scenario");
    let plan = Plan::new(
        file.get("s").expect("s"),
        vec![vec![Payload::valid(&b"{}"[..])]],
    );
    let mock = MockConnector::new(vec![Script::ok(Duration::from_millis(1))]);
    let out = go(plan, &mock).await;
    // The last of 100 arrivals is due at 1.9 s; the second is still whole.
    let seconds: Vec<(u64, Duration)> = out
        .intervals
        .iter()
        .map(|i| (i.counts.total(), i.length))
        .collect();
    assert_eq!(
        seconds,
        [(50, Duration::from_secs(1)), (50, Duration::from_secs(1))]
    );
}

#[tokio::test(start_paused = true)]
async fn a_stalled_transport_shows_in_intended_time_latency() {
    // 100 requests/s wanted, but 10 in flight × 500 ms each = 20/s possible.
    let mock = MockConnector::new(vec![Script::ok(Duration::from_millis(500))]);
    let out = go(plan("{rate: 100, max_in_flight: 10}", "10s"), &mock).await;
    let actual = out.totals.tasks()[0]
        .get(Outcome::Ok)
        .expect("ok")
        .summary();
    let intended = out.intended.tasks()[0]
        .get(Outcome::Ok)
        .expect("ok")
        .summary();
    assert!(
        (500_000..=500_600).contains(&actual.p50),
        "actual p50 {}",
        actual.p50
    );
    assert!(
        intended.p50 > 2 * actual.p50,
        "intended p50 {} vs actual {}",
        intended.p50,
        actual.p50
    );
    assert!(
        intended.max > 4_000_000,
        "the last sends waited seconds: {}",
        intended.max
    );
    assert!(out.late > 100, "{}", out.late);
    let sent = out.totals.counts().total();
    assert!(
        (190..=210).contains(&sent),
        "about 20/s × 10 s completed: {sent}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_timer_tick_is_not_charged_to_the_service() {
    // 5000/s is 0.2 ms apart: tokio's 1 ms timer cannot wake for each. A
    // service that always answers in 1 ms must show 1 ms from the intended
    // time too, and nothing late.
    let mock = MockConnector::new(vec![Script::ok(Duration::from_millis(1))]);
    let out = go(plan("{rate: 5000, max_in_flight: 100}", "3s"), &mock).await;
    let n = out.totals.counts().total();
    assert!((14_900..=15_000).contains(&n), "{n}");
    let sent = out.totals.merged(|o| o == Outcome::Ok).summary();
    let intended = out.intended.merged(|o| o == Outcome::Ok).summary();
    assert_eq!((sent.p50, sent.max), (1000, 1000));
    assert_eq!(
        (intended.p50, intended.p99),
        (1000, 1000),
        "latency from the intended time {intended:?}"
    );
    assert_eq!(out.late, 0);
}

#[tokio::test(start_paused = true)]
async fn max_requests_ends_the_open_model_early() {
    let yaml = "scenarios:\n  s:\n    arrival_rate: {rate: 1000, max_in_flight: 100}\n    duration: 60s\n    max_requests: 500\n    tasks:\n      - {name: a, subject: x.y}\n";
    let file = ScenarioFile::parse(yaml, "t.yaml").expect("valid scenario");
    let p = Plan::new(
        file.get("s").expect("s"),
        vec![vec![Payload::valid(&b"{}"[..])]],
    );
    let mock = MockConnector::new(vec![Script::ok(Duration::from_millis(2))]);
    let out = go(p, &mock).await;
    assert_eq!(out.totals.counts().total(), 500);
    assert!(out.elapsed < Duration::from_secs(2), "{:?}", out.elapsed);
}

/// 100 arrivals a second for 10 s (1000 planned) into 5 slots held by
/// replies that take a minute: 5 are sent, the rest wait for a slot.
fn stalled(extra: &str) -> (Plan, MockConnector) {
    let yaml = format!(
        "scenarios:\n  s:\n    arrival_rate: {{rate: 100, max_in_flight: 5}}\n    duration: 10s\n{extra}    tasks:\n      - {{name: a, subject: x.y}}\n"
    );
    let file = ScenarioFile::parse(&yaml, "t.yaml").expect("valid scenario");
    let p = Plan::new(
        file.get("s").expect("s"),
        vec![vec![Payload::valid(&b"{}"[..])]],
    );
    (
        p,
        MockConnector::new(vec![Script::ok(Duration::from_secs(60))]),
    )
}

#[tokio::test(start_paused = true)]
async fn every_planned_arrival_is_sent_or_counted_as_never_sent() {
    let (p, mock) = stalled("");
    let out = go(p, &mock).await;
    assert_eq!((out.planned, out.sent, out.never_sent), (1000, 5, 995));
    assert_eq!(out.sent, mock.calls(0));
    assert_eq!(out.sent, out.totals.counts().total());
    // Each waited from its intended time to the deadline: the 6th (due at
    // 50 ms) 9.95 s, the last (due at 9.99 s) 10 ms.
    let wait = out.never_sent_wait.summary();
    assert_eq!(wait.count, 995);
    assert!((9_940_000..=9_960_000).contains(&wait.max), "{wait:?}");
    assert!((9_990..=10_010).contains(&wait.min), "{wait:?}");
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_run_plans_only_the_arrivals_due_by_then() {
    let (p, mock) = stalled("");
    let cancel = CancellationToken::new();
    let c = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(3_005)).await;
        c.cancel();
    });
    let out = run(
        Arc::new(p),
        Arc::new(mock.clone()),
        RunOptions::workers(0),
        cancel,
        |_| {},
    )
    .await
    .expect("runs");
    // Due at 0, 10 ms, …, 3 s: 301 arrivals.
    assert_eq!((out.planned, out.sent, out.never_sent), (301, 5, 296));
    assert_eq!(out.never_sent_wait.count(), 296);
    let max = out.never_sent_wait.summary().max;
    assert!((2_950_000..=2_960_000).contains(&max), "{max}");
}

#[tokio::test(start_paused = true)]
async fn arrivals_beyond_max_requests_are_not_planned() {
    let (p, mock) = stalled("    max_requests: 500\n");
    let out = go(p, &mock).await;
    assert_eq!((out.planned, out.sent, out.never_sent), (500, 5, 495));
    assert_eq!(out.never_sent_wait.count(), 495);
}

/// Distributed generation (issue 15): three processes' slices of one plan
/// send, between them, exactly the arrivals the whole plan sends, each
/// within a request of a third, and at the same instants.
#[tokio::test(start_paused = true)]
async fn three_slices_add_up_to_the_whole_schedule() {
    let whole = go(
        plan("{rate: 300, ramp_to: 600, max_in_flight: 90}", "10s"),
        &{ MockConnector::new(vec![Script::ok(Duration::from_millis(3))]) },
    )
    .await;
    let mut sum = 0;
    let mut per_second = vec![0u64; whole.intervals.len()];
    for index in 0..3 {
        let mock = MockConnector::new(vec![Script::ok(Duration::from_millis(3))]);
        let out = run(
            Arc::new(plan("{rate: 300, ramp_to: 600, max_in_flight: 90}", "10s")),
            Arc::new(mock),
            RunOptions {
                slice: cliffload_engine::Slice::new(index, 3).expect("index < 3"),
                ..RunOptions::workers(0)
            },
            CancellationToken::new(),
            |_| {},
        )
        .await
        .expect("runs");
        let n = out.totals.counts().total();
        assert!(n.abs_diff(whole.planned / 3) <= 1, "slice {index}: {n}");
        sum += n;
        for (i, s) in out.intervals.iter().enumerate() {
            per_second[i] += s.counts.total();
        }
    }
    assert_eq!(sum, whole.totals.counts().total());
    let whole_per_second: Vec<u64> = whole.intervals.iter().map(|i| i.counts.total()).collect();
    assert_eq!(per_second, whole_per_second);
}

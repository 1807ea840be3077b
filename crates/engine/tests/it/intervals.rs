// The per-second series: a request counts in the second it completed in,
// however late the worker's flush runs; the last remainder; active users and
// requests in flight; the same counts from the same plan.

use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Waker};
use std::time::Duration;

use cliffload_engine::{
    CancellationToken, Connector, Payload, Plan, Reply, RunOptions, RunOutput, Transport, run,
};
use cliffload_metrics::Outcome;
use cliffload_scenario::ScenarioFile;
use tokio::time::Instant;

fn plan(yaml_scenario: &str) -> Plan {
    let yaml = format!("scenarios:\n  s:\n{yaml_scenario}");
    let file = ScenarioFile::parse(&yaml, "test.yaml").expect("valid scenario");
    let s = file.get("s").expect("present");
    Plan::new(s, vec![vec![Payload::valid(&b"{}"[..])]; s.tasks.len()])
}

/// Moves the virtual clock on by `d` without letting any other task run, as
/// when the OS deschedules the worker thread mid-task (CPU pressure).
/// `tokio::time::advance` moves the clock on its first poll and only then
/// yields; polled once and dropped, it does not yield.
fn stall_thread(d: Duration) {
    let mut advance = pin!(tokio::time::advance(d));
    let _ = advance
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()));
}

/// Calls take `latency`; call number `stall_on` stalls the thread for
/// `stall` after its reply. Every completion time is logged.
#[derive(Debug, Clone)]
struct Stalling {
    latency: Duration,
    stall_on: u64,
    stall: Duration,
    calls: Arc<AtomicU64>,
    done: Arc<Mutex<Vec<Instant>>>,
}

impl Connector for Stalling {
    type Transport = Stalling;
    type Error = std::convert::Infallible;

    async fn connect(&self, _worker: usize) -> Result<Stalling, Self::Error> {
        Ok(self.clone())
    }
}

impl Transport for Stalling {
    async fn call(&self, _task: usize, _payload: &Payload) -> Reply {
        let n = self.calls.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(self.latency).await;
        if n == self.stall_on {
            stall_thread(self.stall);
        }
        self.done.lock().expect("not poisoned").push(Instant::now());
        Outcome::Ok.into()
    }
}

async fn run_inline<C: Connector>(plan: Plan, connector: C) -> RunOutput {
    run(
        Arc::new(plan),
        Arc::new(connector),
        RunOptions::workers(0),
        CancellationToken::new(),
        |_| {},
    )
    .await
    .expect("runs")
}

#[tokio::test(start_paused = true)]
async fn a_late_flush_leaves_each_request_in_the_second_it_completed() {
    // Two users back to back, 10 ms per call: 200 completions a second. At
    // ~0.75 s the thread stalls for 1.5 s, so the flush due at 1 s runs at
    // ~2.26 s, after replies of second 2 were recorded.
    let p = plan(
        "    users: 2\n    spawn_rate: 1000\n    duration: 6s\n    tasks:\n      - {name: a, subject: x.y}\n",
    );
    let stalling = Stalling {
        latency: Duration::from_millis(10),
        stall_on: 150,
        stall: Duration::from_millis(1500),
        calls: Arc::default(),
        done: Arc::default(),
    };
    let t0 = Instant::now();
    let out = run_inline(p, stalling.clone()).await;
    let done = stalling.done.lock().expect("not poisoned").clone();
    let last = out.intervals.len() - 1;
    let mut want = vec![0u64; out.intervals.len()];
    for t in &done {
        // The run's start is `t0`: nothing sleeps before it under paused time.
        let second = (*t - t0).as_secs() as usize;
        want[second.min(last)] += 1;
    }
    let got: Vec<u64> = out.intervals.iter().map(|i| i.counts.total()).collect();
    assert_eq!(
        got, want,
        "requests per second against their completion times"
    );
    assert_eq!(got[1], 0, "the thread was stalled through second 1");
    assert!(
        got[2] > 0 && got[3] >= 199,
        "every second after the stall has its replies: {got:?}"
    );
    assert_eq!(out.totals.counts().total(), done.len() as u64);
    assert!(
        out.intervals
            .iter()
            .all(|i| i.length >= Duration::from_secs(1)),
        "whole seconds, the last with the run's remainder"
    );
}

fn lengths(out: &RunOutput) -> Vec<Duration> {
    out.intervals.iter().map(|i| i.length).collect()
}

#[tokio::test(start_paused = true)]
async fn a_short_last_remainder_joins_the_second_before() {
    use cliffload_engine::mock::{MockConnector, Script};
    // One request every 100 ms for 5.3 s: the last 0.3 s would read as a
    // rate over a third of a second; it joins second 4, exactly.
    let p = plan(
        "    users: 1\n    duration: 5s 300ms\n    wait_time: {constant: 0.1}\n    tasks:\n      - {name: a, subject: x.y}\n",
    );
    let out = run_inline(p, MockConnector::new(vec![Script::ok(Duration::ZERO)])).await;
    let s = Duration::from_secs(1);
    assert_eq!(lengths(&out), [s, s, s, s, Duration::from_millis(1300)]);
    let per_second: Vec<u64> = out.intervals.iter().map(|i| i.counts.total()).collect();
    assert_eq!(per_second, [10, 10, 10, 10, 13]);
    let last = &out.intervals[4];
    assert_eq!((last.index, last.success_latency.count), (4, 13));
    assert_eq!(last.total_success_latency.count, 53);
}

#[tokio::test(start_paused = true)]
async fn a_long_last_remainder_is_an_interval_of_its_own() {
    use cliffload_engine::mock::{MockConnector, Script};
    let p = plan(
        "    users: 1\n    duration: 2s 700ms\n    wait_time: {constant: 0.1}\n    tasks:\n      - {name: a, subject: x.y}\n",
    );
    let out = run_inline(p, MockConnector::new(vec![Script::ok(Duration::ZERO)])).await;
    let s = Duration::from_secs(1);
    assert_eq!(lengths(&out), [s, s, Duration::from_millis(700)]);
    let per_second: Vec<u64> = out.intervals.iter().map(|i| i.counts.total()).collect();
    assert_eq!(per_second, [10, 10, 7]);
}

/// Counts per task and outcome.
fn counts(out: &RunOutput) -> Vec<Vec<u64>> {
    out.totals
        .tasks()
        .iter()
        .map(|t| Outcome::ALL.iter().map(|o| t.counts().get(*o)).collect())
        .collect()
}

#[tokio::test(start_paused = true)]
async fn the_same_plan_under_virtual_time_gives_the_same_counts() {
    use cliffload_engine::mock::{MockConnector, Script};
    // Replies free a slot at the instant the deadline falls and at the
    // instants arrivals are due: `select!` must not pick among them at random.
    let open = || {
        plan(
            "    arrival_rate: {rate: 100, max_in_flight: 10}\n    duration: 10s\n    tasks:\n      - {name: a, subject: x.a}\n",
        )
    };
    let closed = || {
        plan(concat!(
            "    users: 3\n    spawn_rate: 10\n    duration: 10s\n    wait_time: {constant: 0.1}\n    tasks:\n",
            "      - {name: a, subject: x.a, weight: 3}\n",
            "      - {name: b, subject: x.b, weight: 1}\n",
        ))
    };
    let scripts = || {
        vec![
            Script::ok(Duration::from_millis(500)),
            Script {
                latency: Duration::from_millis(100),
                outcomes: vec![Outcome::Ok, Outcome::Timeout],
            },
        ]
    };
    let mut seen = Vec::new();
    for _ in 0..8 {
        let a = run_inline(open(), MockConnector::new(scripts())).await;
        let b = run_inline(closed(), MockConnector::new(scripts())).await;
        seen.push((counts(&a), counts(&b)));
    }
    assert!(
        seen.windows(2).all(|w| w[0] == w[1]),
        "runs differ: {seen:?}"
    );
}

fn active(out: &RunOutput) -> Vec<u32> {
    out.intervals.iter().map(|i| i.active).collect()
}

#[tokio::test(start_paused = true)]
async fn active_shows_users_ramping_at_the_spawn_rate() {
    use cliffload_engine::mock::{MockConnector, Script};
    // 10 users at 2/s: two more at the end of each second until 5 s.
    let p = plan(
        "    users: 10\n    spawn_rate: 2\n    duration: 10s\n    wait_time: {constant: 1}\n    tasks:\n      - {name: a, subject: x.y}\n",
    );
    let mock = MockConnector::new(vec![Script::ok(Duration::from_millis(1))]);
    let out = run_inline(p, mock).await;
    assert_eq!(active(&out), [2, 4, 6, 8, 10, 10, 10, 10, 10, 10]);
}

#[tokio::test(start_paused = true)]
async fn active_follows_the_stages_up_and_down() {
    use cliffload_engine::mock::{MockConnector, Script};
    let yaml = concat!(
        "advanced:\n  gradual_load_increase: {enabled: true, steps: [2, 6, 3], step_duration_seconds: 10}\n",
        "scenarios:\n  s:\n    users: 1\n    spawn_rate: 100\n    duration: 1s\n    wait_time: {constant: 1}\n    tasks:\n      - {name: a, subject: x.y}\n",
    );
    let file = ScenarioFile::parse(yaml, "t.yaml").expect("valid");
    let p = Plan::new(
        file.get("s").expect("s"),
        vec![vec![Payload::valid(&b"{}"[..])]],
    );
    let mock = MockConnector::new(vec![Script::ok(Duration::from_millis(1))]);
    let out = run_inline(p, mock).await;
    let mut want = vec![2; 10];
    want.extend([6; 10]);
    // The last stage's users run to the end of the load, which counts them.
    want.extend([3; 10]);
    assert_eq!(active(&out), want);
}

#[tokio::test(start_paused = true)]
async fn active_follows_user_stages_up_down_and_up_again() {
    use cliffload_engine::mock::{MockConnector, Script};
    // 0 → 4 over 2 s, 4 for 2 s, → 0 over 2 s, none for 1 s, → 2 over 2 s, 2 for 1 s.
    let p = plan(concat!(
        "    stages:\n",
        "      - {duration: 2s, users: 4}\n      - {duration: 2s, users: 4}\n",
        "      - {duration: 2s, users: 0}\n      - {duration: 1s, users: 0}\n",
        "      - {duration: 2s, users: 2}\n      - {duration: 1s, users: 2}\n",
        "    wait_time: {constant: 100ms}\n    tasks:\n      - {name: a, subject: x.y}\n",
    ));
    assert_eq!(p.duration, Duration::from_secs(10), "the stages' sum");
    let mock = MockConnector::new(vec![Script::ok(Duration::from_millis(1))]);
    let out = run_inline(p, mock).await;
    // Users at the end of each second: a ramp of 4 over 2 s starts one
    // every ½ s; one of 4 to 0 stops one every ½ s from its start.
    assert_eq!(active(&out), [2, 4, 4, 4, 2, 0, 0, 1, 2, 2]);
    // No user sends while the stages are at 0, and the load still lasts 10 s.
    let per_second: Vec<u64> = out.intervals.iter().map(|i| i.counts.total()).collect();
    assert_eq!(&per_second[6..7], &[0], "{per_second:?}");
    assert!(per_second[3] > 30, "4 users every ~100 ms: {per_second:?}");
    assert_eq!(out.elapsed.as_secs(), 10, "{:?}", out.elapsed);
}

#[tokio::test(start_paused = true)]
async fn a_stage_ending_at_no_users_ends_with_none_running() {
    use cliffload_engine::mock::{MockConnector, Script};
    let p = plan(
        "    stages: [{duration: 1s, users: 4}, {duration: 1s, users: 4}, {duration: 1s, users: 0}]\n    wait_time: {constant: 1s}\n    tasks:\n      - {name: a, subject: x.y}\n",
    );
    let mock = MockConnector::new(vec![Script::ok(Duration::from_millis(1))]);
    let out = run_inline(p, mock).await;
    assert_eq!(active(&out), [4, 4, 0]);
    // The last user stops at 2.75 s; the load still lasts its 3 s, so the
    // last second is a whole one.
    assert!(
        (Duration::from_secs(3)..Duration::from_millis(3050)).contains(&out.elapsed),
        "{:?}",
        out.elapsed
    );
}

#[tokio::test(start_paused = true)]
async fn active_is_the_most_in_flight_under_the_open_model() {
    use cliffload_engine::mock::{MockConnector, Script};
    // 100/s wanted, 10 slots, 500 ms replies: all 10 in flight every second.
    let p = plan(
        "    arrival_rate: {rate: 100, max_in_flight: 10}\n    duration: 10s\n    tasks:\n      - {name: a, subject: x.y}\n",
    );
    let mock = MockConnector::new(vec![Script::ok(Duration::from_millis(500))]);
    let out = run_inline(p, mock).await;
    assert_eq!(active(&out), [10; 10]);
    // 20/s rising to 200/s with 100 ms replies: about rate/10 in flight.
    let p = plan(
        "    arrival_rate: {rate: 20, ramp_to: 200, max_in_flight: 100}\n    duration: 10s\n    tasks:\n      - {name: a, subject: x.y}\n",
    );
    let mock = MockConnector::new(vec![Script::ok(Duration::from_millis(100))]);
    let out = run_inline(p, mock).await;
    let a = active(&out);
    assert_eq!(a.len(), 10, "{a:?}");
    for (k, got) in a.iter().enumerate() {
        // The rate at the end of second k, over 10.
        let want = (20.0 + 18.0 * (k + 1) as f64) / 10.0;
        assert!(
            (f64::from(*got) - want).abs() <= 2.0,
            "second {k}: {got} in flight, about {want} expected: {a:?}"
        );
    }
}

/// Distributed generation (issue 15): a held start waits for the go after
/// saying the workers are connected, and every second's merged record goes
/// to the sink, adding up to the run's totals.
#[tokio::test(start_paused = true)]
async fn a_gated_run_starts_on_the_go_and_hands_over_every_second() {
    use cliffload_engine::mock::{MockConnector, Script};
    use cliffload_engine::{Recorded, StartGate};
    let (connected_tx, mut connected) = tokio::sync::mpsc::unbounded_channel();
    let (go_tx, go) = tokio::sync::watch::channel(false);
    let (sink, mut records) = tokio::sync::mpsc::unbounded_channel::<(u32, Recorded)>();
    let mock = MockConnector::new(vec![Script::ok(Duration::from_millis(10))]);
    let options = RunOptions {
        intervals: Some(sink),
        gate: Some(StartGate {
            connected: connected_tx,
            go,
        }),
        ..RunOptions::workers(0)
    };
    let engine = run(
        Arc::new(plan(
            "    users: 2\n    duration: 3s\n    tasks:\n      - {name: a, subject: x.y}\n",
        )),
        Arc::new(mock.clone()),
        options,
        CancellationToken::new(),
        |_| {},
    );
    let driver = async {
        connected
            .recv()
            .await
            .expect("told the workers are connected");
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(mock.calls(0), 0, "nothing sent before the go");
        go_tx.send(true).expect("engine waits");
        Instant::now()
    };
    let (out, go_at) = tokio::join!(engine, driver);
    let out = out.expect("runs");
    assert!(Instant::now() - go_at >= Duration::from_secs(3));
    let mut indices = Vec::new();
    let mut total = 0;
    while let Ok((index, rec)) = records.try_recv() {
        indices.push(index);
        total += rec.table.counts().total();
    }
    assert_eq!(indices, (0..indices.len() as u32).collect::<Vec<_>>());
    assert!(indices.len() >= 3, "{indices:?}");
    assert_eq!(total, out.totals.counts().total());
    assert!(total > 0);
}

/// The live dashboard (issue 17): the failure messages travel with the
/// seconds' records as they close, and add up to the run's error log.
#[tokio::test(start_paused = true)]
async fn failure_messages_travel_with_each_seconds_record() {
    use cliffload_engine::Recorded;
    use cliffload_engine::mock::{MockConnector, Script};
    let (sink, mut records) = tokio::sync::mpsc::unbounded_channel::<(u32, Recorded)>();
    let mock = MockConnector::new(vec![Script {
        latency: Duration::from_millis(10),
        outcomes: vec![Outcome::Ok, Outcome::Timeout],
    }]);
    let options = RunOptions {
        intervals: Some(sink),
        ..RunOptions::workers(0)
    };
    let out = run(
        Arc::new(plan(
            "    users: 2\n    duration: 3s\n    tasks:\n      - {name: a, subject: x.y}\n",
        )),
        Arc::new(mock),
        options,
        CancellationToken::new(),
        |_| {},
    )
    .await
    .expect("runs");
    let mut seen = cliffload_metrics::ErrorLog::default();
    let mut with_messages = 0;
    while let Ok((_, rec)) = records.try_recv() {
        with_messages += usize::from(!rec.errors.is_empty());
        seen.merge(&rec.errors);
    }
    assert!(
        with_messages >= 3,
        "messages arrive each second, not at the end"
    );
    let timeouts = seen.messages(0, Outcome::Timeout);
    assert_eq!(timeouts.len(), 1, "one message, ids masked: {timeouts:?}");
    assert_eq!(
        timeouts[0].count,
        out.totals.counts().get(Outcome::Timeout),
        "every timeout's message"
    );
    assert_eq!(seen, out.errors, "the run's log is the seconds' logs added");
}

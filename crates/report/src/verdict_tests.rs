//! Verdicts that cannot lie (issue 11): failed runs fail by default, counts
//! are compared unrounded, one minimum-sample rule, claims within the bound.

use std::time::Duration;

use cliffload_metrics::{IntervalStats, LatencyHistogram, Outcome, TaskTable};

use crate::tests::{build, meta, scenario, ten_x, ten_x_result, validate};
use crate::verdict::{MIN_SAMPLES, Status, percent};
use crate::{ClaimStatus, OpenMeasures, RunResult};

fn check<'a>(r: &'a RunResult, name: &str) -> &'a crate::Check {
    r.verdict
        .checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no check {name} in {:?}", r.verdict.checks))
}

#[test]
fn a_scenario_without_expectations_fails_on_a_fifth_of_calls_failing() {
    let s = scenario("{}");
    let mut t = TaskTable::new(2);
    for i in 0..1000 {
        let o = if i % 5 == 0 {
            Outcome::ServiceError
        } else {
            Outcome::Ok
        };
        t.record(0, o, Duration::from_micros(200));
    }
    let r = build(&s, &t);
    assert_eq!(r.verdict.status(), Status::Failed, "{:?}", r.verdict);
    let c = check(&r, "max_failure_percent");
    assert_eq!(c.status, Status::Failed);
    assert!(c.actual.contains("20.000% (200 of 1000)"), "{c:?}");
    assert!(c.expected.contains("≤ 0%"), "{c:?}");
    validate(&r);
}

#[test]
fn expected_rejections_are_not_failures_by_default() {
    let s = scenario("{}");
    let mut t = TaskTable::new(2);
    for i in 0..300 {
        let o = if i % 3 == 0 {
            Outcome::RejectedExpected
        } else {
            Outcome::Ok
        };
        t.record(0, o, Duration::from_micros(200));
    }
    let r = build(&s, &t);
    assert!(r.verdict.passed(), "{:?}", r.verdict);
}

#[test]
fn requests_completed_counts_successes_not_attempts() {
    let s = scenario("{max_failure_percent: 100}");
    let mut t = TaskTable::new(2);
    for _ in 0..500 {
        t.record(0, Outcome::Decode, Duration::from_micros(50));
    }
    let r = build(&s, &t);
    let c = check(&r, "requests_completed");
    assert_eq!(c.status, Status::Failed, "{c:?}");
    assert!(c.actual.contains("0 successful of 500"), "{c:?}");
    assert!(!r.verdict.passed());
}

#[test]
fn one_failure_in_200001_fails_a_zero_bound_and_is_not_shown_as_zero() {
    let s = scenario("{max_failure_percent: 0}");
    let mut t = TaskTable::new(2);
    for _ in 0..200_000 {
        t.record(0, Outcome::Ok, Duration::from_micros(100));
    }
    t.record(1, Outcome::Timeout, Duration::from_secs(1));
    let r = build(&s, &t);
    let c = check(&r, "max_failure_percent");
    assert_eq!(c.status, Status::Failed, "{c:?}");
    assert!(c.actual.starts_with("0.0005%"), "{c:?}");
    assert_eq!(percent(0.0), "0.000%");
    assert_eq!(percent(12.3456), "12.346%");
}

#[test]
fn a_latency_check_on_one_success_is_inconclusive_not_passed() {
    let s = scenario("{max_failure_percent: 100, max_median_ms: 5, max_p99_ms: 5}");
    let mut t = TaskTable::new(2);
    t.record(0, Outcome::Ok, Duration::from_micros(100));
    let r = build(&s, &t);
    for name in ["max_median_ms", "max_p99_ms"] {
        let c = check(&r, name);
        assert_eq!(c.status, Status::Inconclusive, "{c:?}");
        assert!(c.actual.contains("only 1 requests"), "{c:?}");
    }
    assert_eq!(r.verdict.status(), Status::Inconclusive);
    assert!(!r.verdict.passed());
    // Enough samples: judged.
    let mut t = TaskTable::new(2);
    for _ in 0..MIN_SAMPLES {
        t.record(0, Outcome::Ok, Duration::from_micros(100));
    }
    assert!(build(&s, &t).verdict.passed());
    // The status survives a round trip through result.json.
    let back: RunResult = serde_json::from_str(&r.to_json()).expect("reads");
    assert_eq!(back.verdict.status(), Status::Inconclusive);
    validate(&r);
}

fn throughput_run(seconds: u64, ok: u64, failed: u64) -> RunResult {
    let mut s = scenario("{max_failure_percent: 5}");
    s.claims.high_throughput_rps = Some(100.0);
    let mut t = TaskTable::new(2);
    for _ in 0..ok {
        t.record(0, Outcome::Ok, Duration::from_micros(100));
    }
    for _ in 0..failed {
        t.record(1, Outcome::Timeout, Duration::from_secs(1));
    }
    let mut m = meta(&s);
    m.elapsed = Duration::from_secs(seconds);
    let only = IntervalStats::from_table(0, &t);
    RunResult::build(m, &t, &[only])
}

fn high_throughput(r: &RunResult) -> &crate::Claim {
    r.verdict
        .claims
        .iter()
        .find(|c| c.name == "high_throughput")
        .expect("claim")
}

#[test]
fn high_throughput_is_judged_within_the_failure_bound_and_a_minimum_duration() {
    let good = throughput_run(20, 4000, 0);
    assert_eq!(high_throughput(&good).status, ClaimStatus::Validated);
    // 200 ok req/s, but a third of requests failed.
    let failing = throughput_run(20, 4000, 2000);
    let c = high_throughput(&failing);
    assert_eq!(c.status, ClaimStatus::NotValidated, "{c:?}");
    assert!(c.detail.contains("failed"), "{c:?}");
    // A 2-second burst says nothing about a sustained rate.
    let short = throughput_run(2, 400, 0);
    let c = high_throughput(&short);
    assert_eq!(c.status, ClaimStatus::Inconclusive, "{c:?}");
}

#[test]
fn ten_x_is_judged_on_the_unrounded_ratio() {
    // 3_999 µs / 400 µs = 9.9975: rounded to two decimals that was 10.00.
    let mut r = ten_x_result(Duration::from_micros(400), 500, 0);
    crate::comparison::apply(
        &mut r,
        &ten_x_result(Duration::from_micros(3_999), 500, 0),
        "http://h",
        0.0,
    );
    let ratio = r
        .comparison
        .as_ref()
        .and_then(|c| c.median_ratio)
        .expect("ratio");
    assert!(ratio < 10.0, "{ratio}");
    assert_eq!(
        ten_x(&r).status,
        ClaimStatus::NotValidated,
        "{:?}",
        ten_x(&r)
    );
}

#[test]
fn a_baseline_with_no_common_task_is_inconclusive_and_another_scenario_warns() {
    let s = scenario("{}");
    let mut t = TaskTable::new(2);
    for _ in 0..200 {
        t.record(0, Outcome::Ok, Duration::from_micros(100));
    }
    let new = build(&s, &t);
    let mut base = new.clone();
    base.scenario = "another".into();
    base.load.users = 50;
    for task in &mut base.tasks {
        task.name = format!("other.{}", task.name);
    }
    let mut r = new.clone();
    crate::regression::apply(&mut r, &base, 20.0);
    let c = check(&r, "no_regression");
    assert_eq!(c.status, Status::Inconclusive, "{c:?}");
    assert!(c.actual.contains("no task of this run"), "{c:?}");
    assert!(!r.verdict.passed());
    let w = words(&r.warnings);
    assert!(
        w.contains("scenario 'another'") && w.contains("50 users"),
        "{w}"
    );
}

#[test]
fn open_model_latency_checks_count_never_sent_arrivals_as_their_wait() {
    // 200 sent and answered in 100 µs, 800 never sent after waiting ~5 s:
    // from the send the service looks fast; from the intended time it is not.
    let mut s = scenario("{max_failure_percent: 0, max_median_ms: 5}");
    s.arrival = Some(cliffload_scenario::ArrivalRate {
        rate: cliffload_scenario::Rate::Constant(100.0),
        max_in_flight: std::num::NonZeroU32::new(10).expect("10"),
    });
    let mut t = TaskTable::new(2);
    for _ in 0..200 {
        t.record(0, Outcome::Ok, Duration::from_micros(100));
    }
    let mut waits = LatencyHistogram::new();
    for _ in 0..800 {
        waits.record(Duration::from_secs(5));
    }
    let mut m = meta(&s);
    m.open = Some(OpenMeasures {
        intended: t.clone(),
        never_sent_wait: waits,
        planned: 1000,
        sent: 200,
        never_sent: 800,
        late: 0,
    });
    let only = IntervalStats::from_table(0, &t);
    let r = RunResult::build(m, &t, &[only]);
    let o = r.open_model.as_ref().expect("open model");
    assert_eq!((o.planned, o.sent, o.never_sent), (1000, 200, 800));
    assert_eq!(o.intended_latency_us.count, 1000);
    let c = check(&r, "max_median_ms");
    assert_eq!(c.status, Status::Failed, "{c:?}");
    assert!(c.actual.contains("from the intended send time"), "{c:?}");
    assert!(r.warnings.iter().any(|w| matches!(
        w,
        crate::Warning::OpenModelBehind {
            planned: 1000,
            never_sent: 800,
            ..
        }
    )));
    assert!(words(&r.warnings).contains("800 never sent"));
    validate(&r);
}

#[test]
fn failure_messages_reach_the_terminal_the_page_the_json_and_the_csv() {
    let s = scenario("{}");
    let mut t = TaskTable::new(2);
    let mut m = meta(&s);
    for i in 0..50 {
        t.record(0, Outcome::ServiceError, Duration::from_micros(300));
        m.errors.record(
            0,
            Outcome::ServiceError,
            &format!("Internal server error (correlation_id: cl-0-{i})"),
        );
    }
    t.record(1, Outcome::Decode, Duration::from_micros(300));
    m.errors
        .record(1, Outcome::Decode, "not a Json object: <b>bold</b>");
    let only = IntervalStats::from_table(0, &t);
    let r = RunResult::build(m, &t, &[only]);
    let e = &r.tasks[0].errors;
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].count, 50);
    assert_eq!(
        e[0].message,
        "Internal server error (correlation_id: cl-#-#)"
    );
    let text = crate::text::render(&r);
    assert!(
        text.contains("50 × s.ping service_error: Internal server error (correlation_id: cl-0-0)"),
        "{text}"
    );
    let csv = crate::csv_locust::failures(&r);
    assert!(
        csv.contains(
            "test.rpc.ping,s.ping,service_error: Internal server error (correlation_id: cl-#-#),50"
        ),
        "{csv}"
    );
    let html = crate::html::render(&r);
    assert!(html.contains("Failures and refusals"));
    assert!(html.contains("&lt;b&gt;bold&lt;/b&gt;") && !html.contains("<b>bold"));
    validate(&r);
}

#[test]
fn locust_csv_shows_the_users_of_each_second_and_na_without_a_success() {
    let s = scenario("{max_failure_percent: 100}");
    let mut t = TaskTable::new(2);
    for _ in 0..10 {
        t.record(0, Outcome::Ok, Duration::from_micros(100));
    }
    t.record(1, Outcome::Timeout, Duration::from_secs(1));
    let mut first = IntervalStats::from_table(0, &t);
    first.active = 1;
    let mut second = IntervalStats::from_table(1, &TaskTable::new(2));
    second.active = 2;
    let r = RunResult::build(meta(&s), &t, &[first, second]);
    let history = crate::csv_locust::stats_history(&r);
    let users: Vec<&str> = history
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap_or(""))
        .collect();
    assert_eq!(users, ["1", "2"], "{history}");
    let stats = crate::csv_locust::stats(&r);
    let failing = stats
        .lines()
        .find(|l| l.contains("alert(1)"))
        .expect("the failing task's row");
    assert!(failing.contains(",N/A,N/A,N/A,N/A,"), "{failing}");
}

#[test]
fn users_that_never_started_are_warned_about() {
    // 200 users at 20/s for 5 s: about 100 ever ran.
    let mut s = scenario("{}");
    s.users = std::num::NonZeroU32::new(200).expect("200");
    s.spawn_rate = 20.0;
    let mut t = TaskTable::new(2);
    t.record(0, Outcome::Ok, Duration::from_micros(100));
    let intervals: Vec<IntervalStats> = (0..5u32)
        .map(|i| {
            let mut st = IntervalStats::from_table(i, &t);
            st.active = 20 * (i + 1);
            st
        })
        .collect();
    let r = RunResult::build(meta(&s), &t, &intervals);
    assert!(
        words(&r.warnings).contains("only 100 of the 200 users planned ever ran at once"),
        "{:?}",
        r.warnings
    );
    // All of them running: no warning.
    s.users = std::num::NonZeroU32::new(100).expect("100");
    let r = RunResult::build(meta(&s), &t, &intervals);
    assert!(
        !r.warnings
            .iter()
            .any(|w| matches!(w, crate::Warning::UsersNeverStarted { .. })),
        "{:?}",
        r.warnings
    );
}

#[test]
fn connection_events_are_warned_about_listed_and_marked_on_the_page() {
    let s = scenario("{max_failure_percent: 100}");
    let mut t = TaskTable::new(2);
    t.record(0, Outcome::Ok, Duration::from_micros(100));
    let mut m = meta(&s);
    m.connection_events = vec![
        crate::ConnectionEventRow {
            t_s: 2.5,
            worker: 0,
            event: "disconnected".into(),
            detail: "disconnected".into(),
        },
        crate::ConnectionEventRow {
            t_s: 5.0,
            worker: 0,
            event: "reconnected".into(),
            detail: "connected <again>".into(),
        },
    ];
    let intervals: Vec<IntervalStats> = (0..10).map(|i| IntervalStats::from_table(i, &t)).collect();
    let quiet = RunResult::build(meta(&s), &t, &intervals);
    let r = RunResult::build(m, &t, &intervals);
    let w = words(&r.warnings);
    assert!(
        w.contains("1 disconnected, 1 reconnected (first at 2.5 s"),
        "{w}"
    );
    let html = crate::html::render(&r);
    assert!(html.contains("Connection events") && html.contains("connected &lt;again&gt;"));
    // The marks: dashed lines (many short segments) in red and green.
    let segments = |h: &str| h.matches("<polyline").count() + h.matches("<line").count();
    assert!(
        segments(&html) > segments(&crate::html::render(&quiet)) + 4,
        "dashed marks on the chart"
    );
    validate(&r);
}

/// The warnings as the reports show them, one per line.
fn words(warnings: &[crate::Warning]) -> String {
    warnings
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

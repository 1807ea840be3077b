//! Thresholds per task (issue 29): judged on the task's own row by the one
//! verdict, shown in every checks table and JUnit, kept in result.json.

use std::time::Duration;

use cliffload_metrics::{IntervalStats, Outcome, TaskTable};
use cliffload_scenario::TaskExpectations;

use crate::tests::{build, meta, scenario, validate};
use crate::verdict::Status;
use crate::{Check, OpenMeasures, RunResult};

/// The hostile second task of the test scenario, as the file names it.
const HOSTILE: &str = "\"<script>alert(1)</script>\"";

fn check<'a>(r: &'a RunResult, name: &str) -> &'a Check {
    r.verdict
        .checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no check {name} in {:#?}", r.verdict.checks))
}

/// `ping` fast and faultless; the second task slow (5 ms) with a quarter
/// of its requests failing. The scenario allows any failure, so only the
/// thresholds can fail the run.
fn two_tasks(thresholds: &str) -> RunResult {
    let s = scenario(&format!(
        "{{max_failure_percent: 100, max_p95_ms: 60000, tasks: {{{thresholds}}}}}"
    ));
    let mut t = TaskTable::new(2);
    for _ in 0..200 {
        t.record(0, Outcome::Ok, Duration::from_micros(200));
    }
    for i in 0..200 {
        let o = if i % 4 == 0 {
            Outcome::ServiceError
        } else {
            Outcome::Ok
        };
        t.record(1, o, Duration::from_millis(5));
    }
    build(&s, &t)
}

#[test]
fn a_threshold_passes_on_its_task_and_fails_on_the_other() {
    let r = two_tasks(&format!(
        "ping: {{max_p95_ms: 1, max_failure_percent: 0}}, {HOSTILE}: {{max_p95_ms: 1, max_failure_percent: 10, min_rps: 10}}"
    ));
    let ping_p95 = check(&r, "s.ping.max_p95_ms");
    assert_eq!(ping_p95.status, Status::Passed, "{ping_p95:?}");
    assert_eq!(ping_p95.expected, "≤ 1 ms");
    assert_eq!(ping_p95.actual, "p95 0.200 ms of successful requests");
    assert!(check(&r, "s.ping.max_failure_percent").passed());
    let slow = "s.<script>alert(1)</script>";
    let p95 = check(&r, &format!("{slow}.max_p95_ms"));
    assert_eq!(p95.status, Status::Failed, "{p95:?}");
    assert_eq!(p95.actual, "p95 5.003 ms of successful requests");
    let failures = check(&r, &format!("{slow}.max_failure_percent"));
    assert_eq!(failures.status, Status::Failed, "{failures:?}");
    assert_eq!(failures.actual, "25.000% (50 of 200)");
    assert_eq!(failures.expected, "≤ 10%");
    // 150 successes over the 10 s run.
    let rps = check(&r, &format!("{slow}.min_rps"));
    assert!(rps.passed(), "{rps:?}");
    assert_eq!(rps.actual, "15.0 successful req/s");
    // The scenario's own checks hold: the thresholds alone fail the run.
    for c in ["requests_completed", "max_failure_percent", "max_p95_ms"] {
        assert!(check(&r, c).passed(), "{c}: {:?}", check(&r, c));
    }
    assert_eq!(r.verdict.status(), Status::Failed);
    validate(&r);
    // Bounds the tasks meet pass the run.
    let r = two_tasks(&format!(
        "ping: {{max_p95_ms: 1}}, {HOSTILE}: {{max_p95_ms: 6}}"
    ));
    assert_eq!(r.verdict.status(), Status::Passed, "{:#?}", r.verdict);
}

#[test]
fn a_latency_threshold_cannot_pass_without_enough_successes_of_its_task() {
    let s = scenario(&format!(
        "{{max_failure_percent: 100, tasks: {{ping: {{max_median_ms: 100, min_rps: 1}}, {HOSTILE}: {{max_p99_ms: 100, max_failure_percent: 50}}}}}}"
    ));
    // Every request of the second task fails: a latency of failures is not one.
    let mut t = TaskTable::new(2);
    for _ in 0..150 {
        t.record(0, Outcome::Ok, Duration::from_micros(200));
        t.record(1, Outcome::Timeout, Duration::from_millis(1));
    }
    let r = build(&s, &t);
    let c = check(&r, "s.<script>alert(1)</script>.max_p99_ms");
    assert_eq!(c.status, Status::Failed, "{c:?}");
    assert!(c.actual.starts_with("no successful requests"), "{c:?}");
    assert_eq!(r.verdict.status(), Status::Failed);
    // Ten successes: too few for a median either way.
    let mut t = TaskTable::new(2);
    for _ in 0..10 {
        t.record(0, Outcome::Ok, Duration::from_micros(200));
    }
    let r = build(&s, &t);
    let c = check(&r, "s.ping.max_median_ms");
    assert_eq!(c.status, Status::Inconclusive, "{c:?}");
    assert!(c.actual.contains("over only 10 requests"), "{c:?}");
    // No request of the second task completed: nothing to judge, not a pass.
    for key in ["max_p99_ms", "max_failure_percent"] {
        let c = check(&r, &format!("s.<script>alert(1)</script>.{key}"));
        assert_eq!(c.status, Status::Inconclusive, "{c:?}");
        assert!(c.actual.contains("no request of"), "{c:?}");
    }
    // A rate is measured whatever ran: 1 successful request/s of ping.
    assert!(check(&r, "s.ping.min_rps").passed());
    assert_eq!(r.verdict.status(), Status::Inconclusive);
    validate(&r);
}

#[test]
fn open_model_thresholds_judge_the_latency_from_the_intended_send_time() {
    let mut s = scenario("{tasks: {ping: {max_p95_ms: 10}}}");
    s.arrival = Some(cliffload_scenario::ArrivalRate {
        rate: cliffload_scenario::Rate::Constant(100.0),
        max_in_flight: std::num::NonZeroU32::new(10).expect("10"),
    });
    // Answered in 100 µs, but sent 50 ms late.
    let (mut sent, mut intended) = (TaskTable::new(2), TaskTable::new(2));
    for _ in 0..200 {
        sent.record(0, Outcome::Ok, Duration::from_micros(100));
        intended.record(0, Outcome::Ok, Duration::from_millis(50));
    }
    let mut m = meta(&s);
    m.open = Some(OpenMeasures {
        intended,
        never_sent_wait: Default::default(),
        planned: 200,
        sent: 200,
        never_sent: 0,
        late: 200,
    });
    let r = RunResult::build(m, &sent, &[IntervalStats::from_table(0, &sent)]);
    let c = check(&r, "s.ping.max_p95_ms");
    assert_eq!(c.status, Status::Failed, "{c:?}");
    assert_eq!(c.actual, "p95 50.015 ms from the intended send time");
    assert!(r.tasks[0].intended_latency_us.is_some());
    validate(&r);
}

#[test]
fn a_threshold_is_looked_up_in_the_tasks_then_the_flows() {
    let mut r = two_tasks("ping: {max_p95_ms: 1}");
    let mut flow = r.tasks[1].clone();
    flow.name = "checkout".into();
    // A flow named like a task: the task's row is judged.
    let mut shadow = r.tasks[1].clone();
    shadow.name = "s.ping".into();
    r.flows = vec![shadow, flow];
    let mut s = scenario("{max_failure_percent: 100}");
    s.expectations.tasks = ["s.ping", "checkout", "gone"]
        .map(|name| TaskExpectations {
            name: name.into(),
            max_p95_ms: Some(1.0),
            ..Default::default()
        })
        .to_vec();
    let checks = crate::verdict::checks(&s, &r);
    let by = |n: &str| checks.iter().find(|c| c.name == n).expect(n);
    assert!(
        by("s.ping.max_p95_ms").passed(),
        "{:?}",
        by("s.ping.max_p95_ms")
    );
    let c = by("checkout.max_p95_ms");
    assert_eq!(c.status, Status::Failed, "{c:?}");
    assert!(c.actual.contains("p95 5.003 ms"), "{c:?}");
    let c = by("gone.max_p95_ms");
    assert_eq!(c.status, Status::Inconclusive, "{c:?}");
    assert_eq!(c.actual, "no task or flow named \"gone\" in this run");
}

#[test]
fn thresholds_are_rows_of_every_checks_table_and_junit_cases() {
    let r = two_tasks(&format!(
        "ping: {{max_p95_ms: 1}}, {HOSTILE}: {{max_failure_percent: 10}}"
    ));
    let text = crate::text::render(&r);
    assert!(
        text.contains("✓ s.ping.max_p95_ms: p95 0.200 ms of successful requests (expected ≤ 1 ms)"),
        "{text}"
    );
    assert!(
        text.contains("✗ s.<script>alert(1)</script>.max_failure_percent: 25.000% (50 of 200) (expected ≤ 10%)"),
        "{text}"
    );
    let md = crate::markdown::render(&r);
    assert!(
        md.contains(
            "| s.ping.max_p95_ms | ✅ pass | p95 0.200 ms of successful requests | ≤ 1 ms |"
        ),
        "{md}"
    );
    let html = crate::html::render(&r);
    assert!(
        html.contains("<td>s.&lt;script&gt;alert(1)&lt;/script&gt;.max_failure_percent</td><td class=\"fail\">failed</td>"),
        "{html}"
    );
    assert!(!html.contains("<script>alert"), "unescaped");
    let junit = crate::junit::render(&r);
    assert!(
        junit.contains("name=\"s.ping.max_p95_ms\"></testcase>"),
        "{junit}"
    );
    assert!(
        junit.contains("name=\"s.&lt;script&gt;alert(1)&lt;/script&gt;.max_failure_percent\"><failure message=\"FAILED s.&lt;script&gt;alert(1)&lt;/script&gt;.max_failure_percent: 25.000% (50 of 200), expected ≤ 10%\">"),
        "{junit}"
    );
    assert!(junit.contains("failures=\"1\""), "{junit}");
}

#[test]
fn a_result_json_re_rendered_keeps_the_thresholds_and_their_verdict() {
    let r = two_tasks(&format!(
        "ping: {{max_p95_ms: 1}}, {HOSTILE}: {{max_failure_percent: 10}}"
    ));
    let dir = std::env::temp_dir().join(format!("cliffload-thresholds-{}", std::process::id()));
    crate::write_all(&dir, &r).expect("written");
    let back = crate::read_result(&dir.join("result.json")).expect("read back");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(back.verdict, r.verdict);
    assert_eq!(back.verdict.status(), Status::Failed);
    for render in [
        crate::text::render,
        crate::markdown::render,
        crate::junit::render,
        crate::html::render,
    ] {
        assert_eq!(render(&back), render(&r));
    }
}

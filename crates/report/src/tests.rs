//! RunResult building, verdicts and the schema, on synthetic measurements.

use std::time::{Duration, SystemTime};

use cliffload_metrics::{IntervalStats, Outcome, TaskTable};
use cliffload_scenario::ScenarioFile;

use crate::{RunMeta, RunResult, SCHEMA, text};

pub(crate) fn scenario(expectations: &str) -> cliffload_scenario::Scenario {
    let yaml = format!(
        "scenarios:\n  s:\n    users: 2\n    duration: 10s\n    expectations: {expectations}\n    tasks:\n      - {{name: ping, subject: test.rpc.ping}}\n      - {{name: \"<script>alert(1)</script>\", subject: test.rpc.echo}}\n"
    );
    ScenarioFile::parse(&yaml, "t.yaml")
        .expect("valid")
        .get("s")
        .expect("s")
        .clone()
}

pub(crate) fn meta(s: &cliffload_scenario::Scenario) -> RunMeta<'_> {
    RunMeta {
        scenario: s,
        nats_url: "nats://127.0.0.1:4".into(),
        embedded: true,
        workers: 1,
        preflight: vec![],
        started_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
        elapsed: Duration::from_secs(10),
        interrupted: false,
        warnings: vec![],
        generator_cpu: Some(Duration::from_millis(20)),
        open: None,
        errors: Default::default(),
        connection_events: Vec::new(),
        flows: Default::default(),
        out_of_rows: 0,
    }
}

pub(crate) fn build(s: &cliffload_scenario::Scenario, table: &TaskTable) -> RunResult {
    // One interval: the run so far is that interval.
    let mut only = IntervalStats::from_table(0, table);
    only.total_success_latency = only.success_latency;
    only.active = s.users.get();
    RunResult::build(meta(s), table, &[only])
}

pub(crate) fn validate(r: &RunResult) {
    let schema: serde_json::Value = serde_json::from_str(SCHEMA).expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let value = serde_json::to_value(r).expect("serialises");
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "result does not match docs/run-result.schema.json:\n{}",
        errors.join("\n")
    );
}

#[test]
fn summary_separates_successes_rejections_and_failures() {
    let s = scenario("{max_failure_percent: 50}");
    let mut t = TaskTable::new(2);
    for _ in 0..6 {
        t.record(0, Outcome::Ok, Duration::from_micros(250));
    }
    t.record(0, Outcome::RejectedBusiness, Duration::from_micros(300));
    t.record(1, Outcome::Timeout, Duration::from_secs(5));
    t.record(1, Outcome::NoResponders, Duration::from_micros(90));
    t.record(1, Outcome::Ok, Duration::from_micros(350));
    let r = build(&s, &t);
    assert_eq!(
        (
            r.summary.requests,
            r.summary.successes,
            r.summary.rejected,
            r.summary.failures
        ),
        (10, 7, 1, 2)
    );
    assert_eq!(r.summary.failure_percent, 20.0);
    assert_eq!(r.summary.rps, 1.0);
    assert_eq!(
        r.summary.latency_us.max, 350,
        "success latency excludes the 5 s timeout"
    );
    assert!(r.summary.all_latency_us.max >= 5_000_000);
    assert_eq!(r.tasks[1].outcomes[&Outcome::Timeout].count, 1);
    assert!(r.verdict.passed(), "{:?}", r.verdict);
    validate(&r);
}

#[test]
fn the_seeds_all_failed_run_is_not_validated() {
    // 810 requests, 810 failures in 10.9 µs each: the seed's "sub-millisecond" run.
    let mut s = scenario("{max_failure_percent: 1, max_median_ms: 1}");
    s.claims.sub_millisecond = true;
    s.claims.ten_x_faster_than_rest = true;
    let mut t = TaskTable::new(2);
    for _ in 0..810 {
        t.record(0, Outcome::NoResponders, Duration::from_nanos(10_900));
    }
    let r = build(&s, &t);
    assert!(!r.verdict.passed());
    let claim = &r.verdict.claims[0];
    assert_eq!(
        (claim.name.as_str(), claim.status),
        ("sub_millisecond", crate::ClaimStatus::NotValidated)
    );
    assert!(
        claim.detail.contains("none of 810 simple RPCs succeeded"),
        "{}",
        claim.detail
    );
    assert_eq!(r.verdict.claims[1].status, crate::ClaimStatus::Inconclusive);
    let median = r
        .verdict
        .checks
        .iter()
        .find(|c| c.name == "max_median_ms")
        .expect("median check");
    assert!(!median.passed());
    assert!(
        median.actual.contains("no successful requests"),
        "{}",
        median.actual
    );
    let text = text::render(&r);
    assert!(
        text.contains("FAILED") && text.contains("no_responders 810"),
        "{text}"
    );
    validate(&r);
}

#[test]
fn sub_millisecond_is_validated_only_by_fast_successes_within_the_failure_bound() {
    let mut s = scenario("{max_failure_percent: 5}");
    s.claims.sub_millisecond = true;
    s.claims.high_throughput_rps = Some(10_000.0);
    let mut fast = TaskTable::new(2);
    for _ in 0..150 {
        fast.record(0, Outcome::Ok, Duration::from_micros(300));
    }
    fast.record(1, Outcome::Timeout, Duration::from_secs(1));
    let r = build(&s, &fast);
    assert_eq!(
        r.verdict.claims[0].status,
        crate::ClaimStatus::Validated,
        "{:?}",
        r.verdict.claims
    );
    assert_eq!(
        r.verdict.claims[1].status,
        crate::ClaimStatus::NotValidated,
        "10 req/s is not 10000"
    );
    assert!(!r.verdict.passed());
    let mut failing = TaskTable::new(2);
    for _ in 0..10 {
        failing.record(0, Outcome::Ok, Duration::from_micros(300));
        failing.record(1, Outcome::ServiceError, Duration::from_micros(300));
    }
    let r = build(&s, &failing);
    assert_eq!(
        r.verdict.claims[0].status,
        crate::ClaimStatus::NotValidated,
        "50% failed: {:?}",
        r.verdict.claims
    );
}

#[test]
fn an_empty_run_fails_rather_than_passes() {
    let r = build(&scenario("{}"), &TaskTable::new(2));
    assert!(!r.verdict.passed());
    assert_eq!(r.verdict.checks[0].name, "requests_completed");
    validate(&r);
}

#[test]
fn json_round_trips() {
    let mut t = TaskTable::new(2);
    t.record(0, Outcome::Ok, Duration::from_micros(120));
    let r = build(&scenario("{}"), &t);
    let back: RunResult = serde_json::from_str(&r.to_json()).expect("parses");
    assert_eq!(back, r);
    assert!(r.started_at.starts_with("2027-01-15T"), "{}", r.started_at);
}

#[test]
fn text_shows_microseconds() {
    let mut t = TaskTable::new(2);
    t.record(0, Outcome::Ok, Duration::from_micros(420));
    let out = text::render(&build(&scenario("{}"), &t));
    assert!(out.contains("420µs"), "{out}");
}

fn sample_result() -> RunResult {
    let mut s = scenario("{max_failure_percent: 5, max_median_ms: 1}");
    s.claims.sub_millisecond = true;
    s.claims.ten_x_faster_than_rest = true;
    let mut t = TaskTable::new(2);
    for i in 0..200u64 {
        t.record(0, Outcome::Ok, Duration::from_micros(300 + i * 3));
    }
    for i in 0..40u64 {
        t.record(1, Outcome::Ok, Duration::from_micros(900 + i * 20));
    }
    t.record(1, Outcome::Timeout, Duration::from_secs(5));
    t.record(1, Outcome::RejectedExpected, Duration::from_micros(700));
    build(&s, &t)
}

#[test]
fn text_snapshot() {
    insta::assert_snapshot!(text::render(&sample_result()));
}

#[test]
fn coloured_text_is_the_plain_text_with_ansi_styles() {
    let mut r = sample_result();

    r.verdict.checks[0].status = crate::verdict::Status::Failed;
    let plain = text::render(&r);
    let coloured = text::render_styled(
        &r,
        text::Style {
            colour: true,
            width: None,
        },
    );
    assert!(!plain.contains('\x1b'));
    assert!(
        coloured.contains("\x1b[1m\x1b[31mFAILED\x1b[0m"),
        "{coloured}"
    );
    assert!(coloured.contains("\x1b[31m✗\x1b[0m"));
    assert!(coloured.contains("\x1b[32mVALIDATED\x1b[0m"));
    // Strip the styles: the same text.
    let stripped = strip_ansi(&coloured);
    assert_eq!(stripped, plain);
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('\x1b') {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        let end = after.find('m').expect("an SGR sequence ends with m");
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

#[test]
fn markdown_snapshot() {
    insta::assert_snapshot!(crate::markdown::render(&sample_result()));
}

#[test]
fn csv_snapshots() {
    let r = sample_result();
    insta::assert_snapshot!("stats_csv", crate::csv_locust::stats(&r));
    insta::assert_snapshot!("stats_history_csv", crate::csv_locust::stats_history(&r));
    insta::assert_snapshot!("failures_csv", crate::csv_locust::failures(&r));
}

#[test]
fn junit_has_a_case_per_check_and_claim_and_escapes_names() {
    let xml = crate::junit::render(&sample_result());
    assert_eq!(xml.matches("<testcase ").count(), 3 + 2, "{xml}");
    assert!(xml.contains("<skipped message=\"INCONCLUSIVE"), "{xml}");
    assert!(xml.contains("failures=\"0\""), "{xml}");
    let mut hostile = sample_result();
    hostile.scenario = "<x a=\"b\">&".into();
    let xml = crate::junit::render(&hostile);
    assert!(
        xml.contains("cliffload.&lt;x a=&quot;b&quot;&gt;&amp;") && !xml.contains("<x a"),
        "{xml}"
    );
}

#[test]
fn locust_csv_has_locust_columns() {
    let r = sample_result();
    let stats = crate::csv_locust::stats(&r);
    let header = stats.lines().next().expect("header");
    assert!(header.starts_with("Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%"), "{header}");
    assert!(
        stats
            .lines()
            .last()
            .is_some_and(|l| l.starts_with(",Aggregated,242,1,")),
        "{stats}"
    );
}

#[test]
fn write_all_writes_every_file() {
    let dir = std::env::temp_dir().join(format!("cliffload-report-test-{}", std::process::id()));
    let files = crate::write_all(&dir, &sample_result()).expect("writes");
    assert_eq!(files.len(), 8);
    for f in &files {
        assert!(
            std::fs::metadata(f).is_ok_and(|m| m.len() > 0),
            "{}",
            f.display()
        );
    }
    let back: RunResult =
        serde_json::from_str(&std::fs::read_to_string(dir.join("result.json")).expect("read"))
            .expect("parse");
    assert_eq!(back, sample_result());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn html_is_self_contained_with_a_chart_each_and_escapes_hostile_strings() {
    let mut r = sample_result();
    r.warnings.push(crate::Warning::Note {
        message: "<img src=x onerror=alert(1)>".into(),
    });
    let html = crate::html::render(&r);
    // Successes, failures (its one timeout), users, latency over time and
    // by percentile, outcomes.
    assert_eq!(html.matches("<svg").count(), 6, "six charts");
    // Nothing is fetched: no script, stylesheet link, image or url() (the
    // only http string allowed is the SVG namespace identifier).
    for forbidden in [
        "<script", "<link", "<img", " src=\"", " href=\"", "url(", "@import",
    ] {
        assert!(!html.contains(forbidden), "{forbidden} in the report");
    }
    assert_eq!(
        html.matches("http").count(),
        html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count()
    );
    assert!(html.contains("s.&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("VALIDATED") && html.contains("PASSED"));
}

pub(crate) fn run_with(scale: f64, jitter: u64) -> RunResult {
    let s = scenario("{}");
    let mut t = TaskTable::new(2);
    let mut intervals = Vec::new();
    for sec in 0..10u32 {
        let mut one = TaskTable::new(2);
        for i in 0..100u64 {
            let us = ((400 + (i % 7) * 10 + u64::from(sec % 3) * jitter) as f64 * scale) as u64;
            one.record(0, Outcome::Ok, Duration::from_micros(us));
        }
        t.merge(&one);
        intervals.push(IntervalStats::from_table(sec, &one));
    }
    let mut meta = meta(&s);
    meta.generator_cpu = None;
    RunResult::build(meta, &t, &intervals)
}

#[test]
fn a_thirty_percent_slowdown_is_a_regression_and_an_identical_run_is_not() {
    let base = run_with(1.0, 5);
    let same = run_with(1.0, 5);
    let slower = run_with(1.3, 5);
    assert!(crate::regression::compare(&same, &base, 20.0).passed());
    let check = crate::regression::compare(&slower, &base, 20.0);
    assert!(!check.passed(), "{check:?}");
    assert!(
        check.actual.contains("s.ping median 29.9% slower"),
        "{}",
        check.actual
    );
    // Noisy runs: a 30% change inside the noise is not called a regression.
    let noisy_base = run_with(1.0, 400);
    let noisy_slower = run_with(1.3, 400);
    let check = crate::regression::compare(&noisy_slower, &noisy_base, 20.0);
    assert!(check.passed(), "{check:?}");
    let mut r = slower.clone();
    crate::regression::apply(&mut r, &base, 20.0);
    assert!(!r.verdict.passed());
}

// Issue 27: the comparison is a table a person reads, figure by figure,
// in the terminal and the HTML report, and kept in result.json.
#[test]
fn the_baseline_comparison_is_a_table_per_task_and_figure() {
    let base = run_with(1.0, 5);
    let mut r = run_with(1.3, 5);
    crate::regression::apply(&mut r, &base, 20.0);
    let b = r.baseline.as_ref().expect("a comparison");
    let ping: Vec<_> = b.rows.iter().filter(|row| row.task == "s.ping").collect();
    let metrics: Vec<&str> = ping.iter().map(|row| row.metric.as_str()).collect();
    assert_eq!(
        metrics,
        ["median_us", "p99_us", "rps", "failure_rate_percent"]
    );
    // A task without successes in either run has no latency to compare.
    assert!(
        b.rows
            .iter()
            .all(|row| row.task == "s.ping" || !row.metric.ends_with("_us"))
    );
    let median = ping[0];
    assert!(median.regressed, "{median:?}");
    assert!(median.after > median.before, "{median:?}");
    assert!(!ping[3].regressed, "no new failures");
    let text = crate::text::render(&r);
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("s.ping") && l.contains("median"))
        .unwrap_or_else(|| panic!("a median row:\n{text}"));
    assert!(
        line.contains("29.9% slower") && line.ends_with('✗'),
        "{line}"
    );
    let rps = text
        .lines()
        .find(|l| l.contains("req/s") && l.contains("s.ping"))
        .unwrap_or_else(|| panic!("a req/s row:\n{text}"));
    assert!(!rps.ends_with('✗'), "{rps}");
    let html = crate::html::render(&r);
    assert!(
        html.contains("Against the baseline"),
        "no table in the HTML"
    );
    assert!(
        html.contains("<td>29.9% slower</td>"),
        "no median change in the HTML"
    );
    // And it survives result.json.
    let back: RunResult =
        serde_json::from_str(&serde_json::to_string(&r).expect("json")).expect("reads back");
    assert_eq!(back.baseline, r.baseline);
    validate(&r);
}

fn sample_suite() -> crate::suite::SuiteSummary {
    use crate::suite::{SuiteRow, SuiteSummary};
    let mut passed = sample_result();
    passed.scenario = "baseline".into();
    let mut failed = sample_result();
    failed.scenario = "high_throughput".into();

    failed.verdict.checks[0].status = crate::verdict::Status::Failed;
    SuiteSummary::new(
        "quick",
        "2026-11-29T12:00:00Z".into(),
        30.0,
        "nats://127.0.0.1:4222",
        vec![
            SuiteRow::ran(&passed, "baseline"),
            SuiteRow::ran(&failed, "high_throughput"),
            SuiteRow::not_run(
                "stress_test",
                Some("no responders on <script>alert(1)</script>".into()),
            ),
            SuiteRow::not_run("mixed_workload", None),
        ],
    )
}

#[test]
fn suite_markdown_snapshot() {
    insta::assert_snapshot!(crate::suite::markdown(&sample_suite()));
}

#[test]
fn a_suite_passes_only_when_every_scenario_ran_and_passed() {
    use crate::suite::{SuiteRow, SuiteStatus, SuiteSummary};
    let s = sample_suite();
    assert!(!s.passed);
    let statuses: Vec<SuiteStatus> = s.scenarios.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [
            SuiteStatus::Passed,
            SuiteStatus::Failed,
            SuiteStatus::Error,
            SuiteStatus::NotRun
        ]
    );
    let ok = SuiteRow::ran(&sample_result(), "baseline");
    assert_eq!(ok.status, SuiteStatus::Passed);
    assert!(SuiteSummary::new("stress", String::new(), 0.0, "", vec![ok.clone()]).passed);
    assert!(!SuiteSummary::new("stress", String::new(), 0.0, "", vec![]).passed);
    let mut interrupted = sample_result();
    interrupted.interrupted = true;
    let row = SuiteRow::ran(&interrupted, "baseline");
    assert_eq!(row.status, SuiteStatus::Interrupted);
    assert!(!SuiteSummary::new("stress", String::new(), 0.0, "", vec![ok, row]).passed);
}

#[test]
fn suite_index_links_reports_and_escapes_hostile_strings() {
    let s = sample_suite();
    let html = crate::suite::html(&s);
    assert!(html.contains("<a href=\"baseline/report.html\">baseline</a>"));
    assert!(html.contains("<a href=\"high_throughput/report.html\">"));
    // Scenarios that did not run have no link.
    assert!(!html.contains("stress_test/report.html"));
    assert!(!html.contains("<script"), "unescaped");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    for forbidden in ["<link", "<img", " src=\"", "url(", "http://", "https://"] {
        // The NATS URL is text, not a fetched resource; it has no http scheme.
        assert!(!html.contains(forbidden), "{forbidden} in the index");
    }
    let back: crate::suite::SuiteSummary =
        serde_json::from_str(&s.to_json()).expect("suite.json round-trips");
    assert_eq!(back, s);
}

fn watched(
    label: &str,
    role: cliffload_monitor::Role,
    mib: impl Fn(f64) -> f64,
) -> cliffload_monitor::ProcessSeries {
    cliffload_monitor::ProcessSeries {
        label: label.into(),
        role,
        pid: 4242,
        exited: false,
        samples: (0..61)
            .map(|i| {
                let t = f64::from(i);
                cliffload_monitor::Sample {
                    t,
                    rss_bytes: (mib(t) * 1_048_576.0) as u64,
                    cpu_percent: (i > 0).then_some(40.0),
                }
            })
            .collect(),
    }
}

fn one_minute_result() -> RunResult {
    let mut r = sample_result();
    r.duration_s = 60.0;
    r
}

#[test]
fn a_service_that_grows_past_the_bound_fails_memory_growth() {
    use cliffload_monitor::Role;
    let mut r = one_minute_result();
    assert!(r.verdict.passed());
    crate::processes::apply(
        &mut r,
        1.0,
        vec![
            watched("cliffload (generator)", Role::Generator, |_| 30.0),
            // 10 MiB/s: 540 MiB over the 54 s after the 6 s warm-up.
            watched("reference services", Role::Service, |t| 50.0 + 10.0 * t),
            watched("nats-server", Role::NatsServer, |_| 16.0),
        ],
        None,
        Some(500.0),
    );
    let check = r
        .verdict
        .checks
        .iter()
        .find(|c| c.name == "memory_growth")
        .expect("memory_growth check");
    assert!(!check.passed(), "{check:?}");
    assert!(
        check
            .actual
            .starts_with("reference services: trend +540.0 MiB"),
        "{check:?}"
    );
    assert!(!r.verdict.passed());
    let m = r.monitor.as_ref().expect("monitor");
    assert_eq!(m.processes[1].mean_cpu_percent, Some(40.0));
    // The page draws memory and CPU (two more charts) and names the processes.
    let html = crate::html::render(&r);
    assert_eq!(html.matches("<svg").count(), 8);
    assert!(html.contains("reference services (pid 4242): RSS"));
    assert!(text::render(&r).contains("processes:\n  cliffload (generator) (pid 4242)"));
    validate(&r);
}

#[test]
fn a_flat_service_passes_and_a_growing_generator_is_not_judged() {
    use cliffload_monitor::Role;
    let mut r = one_minute_result();
    crate::processes::apply(
        &mut r,
        1.0,
        vec![
            watched("cliffload (generator)", Role::Generator, |t| {
                30.0 + 20.0 * t
            }),
            watched("reference services", Role::Service, |t| {
                // Allocator noise, no trend.
                60.0 + if (t as u64).is_multiple_of(2) {
                    3.0
                } else {
                    -3.0
                }
            }),
        ],
        None,
        Some(500.0),
    );
    let check = r
        .verdict
        .checks
        .iter()
        .find(|c| c.name == "memory_growth")
        .expect("memory_growth check");
    assert!(check.passed(), "{check:?}");
    assert!(r.verdict.passed());

    // Leak detection off: no check, series still kept.
    let mut r = one_minute_result();
    crate::processes::apply(
        &mut r,
        1.0,
        vec![watched("reference services", Role::Service, |t| {
            50.0 + 10.0 * t
        })],
        Some(cliffload_monitor::NatsTraffic {
            url: "http://127.0.0.1:18222".into(),
            in_msgs: 10,
            out_msgs: 10,
            in_bytes: 100,
            out_bytes: 100,
            slow_consumers: 2,
        }),
        None,
    );
    assert!(r.verdict.checks.iter().all(|c| c.name != "memory_growth"));
    // Slow consumers at the server are said, with what to do.
    assert!(
        r.warnings.iter().any(
            |w| matches!(w, crate::Warning::SlowConsumers { count: 2, .. })
                && w.to_string().contains("2 new slow consumer(s)")
        ),
        "{:?}",
        r.warnings
    );
    assert!(text::render(&r).contains("2 slow consumer(s)"));
    validate(&r);
    assert!(r.verdict.passed());
    assert_eq!(r.monitor.as_ref().map(|m| m.processes.len()), Some(1));
}

#[test]
fn a_result_without_monitor_still_reads() {
    let r = sample_result();
    let mut v: serde_json::Value = serde_json::from_str(&r.to_json()).expect("json");
    v.as_object_mut().expect("object").remove("monitor");
    let back: RunResult = serde_json::from_value(v).expect("older result.json reads");
    assert_eq!(back.monitor, None);
}

#[test]
fn locust_total_columns_are_since_the_start() {
    let s = scenario("{}");
    let (mut first, mut second, mut all) =
        (TaskTable::new(2), TaskTable::new(2), TaskTable::new(2));
    for _ in 0..100 {
        first.record(0, Outcome::Ok, Duration::from_millis(1));
        all.record(0, Outcome::Ok, Duration::from_millis(1));
    }
    for _ in 0..300 {
        second.record(0, Outcome::Ok, Duration::from_millis(9));
        all.record(0, Outcome::Ok, Duration::from_millis(9));
    }
    let mut i0 = IntervalStats::from_table(0, &first);
    i0.total_success_latency = i0.success_latency;
    let mut i1 = IntervalStats::from_table(1, &second);
    i1.total_success_latency = all.merged(|o| o == Outcome::Ok).summary();
    let r = RunResult::build(meta(&s), &all, &[i0, i1]);
    let csv = crate::csv_locust::stats_history(&r);
    let mut rows = csv::Reader::from_reader(csv.as_bytes());
    let header = rows.headers().expect("header").clone();
    let col = |name: &str| header.iter().position(|h| h == name).expect(name);
    let rows: Vec<csv::StringRecord> = rows.records().map(|r| r.expect("row")).collect();
    let second_row = &rows[1];
    // This second: all 9 ms. Since the start: 100 × 1 ms and 300 × 9 ms.
    let num = |name: &str| -> f64 { second_row[col(name)].parse().expect(name) };
    assert!((num("50%") - 9.0).abs() < 0.01);
    assert!((num("Total Median Response Time") - 9.0).abs() < 0.01);
    assert_eq!(&second_row[col("Total Request Count")], "400");
    // The minimum since the start is the first second's 1 ms, not this second's 9.
    assert!((num("Total Min Response Time") - 1.0).abs() < 0.01);
    let mean: f64 = second_row[col("Total Average Response Time")]
        .parse()
        .expect("number");
    assert!((mean - 7.0).abs() < 0.05, "{mean}");
}

#[test]
fn p95_and_p99_bounds_are_checked_when_given() {
    let s = scenario("{max_p95_ms: 5, max_p99_ms: 50}");
    let mut t = TaskTable::new(2);
    // 90 fast, 10 at 20 ms: p95 is 20 ms (over 5), p99 20 ms (under 50).
    for _ in 0..90 {
        t.record(0, Outcome::Ok, Duration::from_millis(1));
    }
    for _ in 0..10 {
        t.record(0, Outcome::Ok, Duration::from_millis(20));
    }
    let r = build(&s, &t);
    let get = |name: &str| {
        r.verdict
            .checks
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("{name} checked: {:?}", r.verdict.checks))
    };
    assert!(!get("max_p95_ms").passed());
    assert!(get("max_p99_ms").passed());
    assert!(!r.verdict.passed());
}

#[test]
fn a_handful_of_fast_successes_does_not_validate_a_claim() {
    let mut s = scenario("{max_failure_percent: 5}");
    s.claims.sub_millisecond = true;
    let mut few = TaskTable::new(2);
    for _ in 0..4 {
        few.record(0, Outcome::Ok, Duration::from_micros(300));
    }
    let r = build(&s, &few);
    let claim = &r.verdict.claims[0];
    assert_eq!(claim.status, crate::ClaimStatus::Inconclusive, "{claim:?}");
    assert!(claim.detail.contains("only 4 successful"), "{claim:?}");
}

pub(crate) fn ten_x_result(latency: Duration, n: u64, failures: u64) -> RunResult {
    let mut s = scenario("{}");
    s.claims.ten_x_faster_than_rest = true;
    let mut t = TaskTable::new(2);
    for _ in 0..n {
        t.record(0, Outcome::Ok, latency);
    }
    for _ in 0..failures {
        t.record(1, Outcome::Timeout, Duration::from_secs(1));
    }
    build(&s, &t)
}

pub(crate) fn ten_x(r: &RunResult) -> &crate::Claim {
    r.verdict
        .claims
        .iter()
        .find(|c| c.name == "ten_x_faster_than_rest")
        .expect("claim")
}

#[test]
fn ten_x_is_judged_on_the_medians_of_both_runs() {
    use crate::ClaimStatus::{Inconclusive, NotValidated, Validated};
    let nats = || ten_x_result(Duration::from_micros(300), 500, 0);
    let mut r = nats();
    assert_eq!(ten_x(&r).status, Inconclusive, "no comparison yet");
    crate::comparison::apply(
        &mut r,
        &ten_x_result(Duration::from_micros(3500), 500, 0),
        "http://h",
        1.0,
    );
    assert_eq!(ten_x(&r).status, Validated, "{:?}", ten_x(&r));
    let c = r.comparison.as_ref().expect("comparison");
    assert!(
        (c.median_ratio.expect("ratio") - 11.67).abs() < 0.02,
        "{c:?}"
    );
    assert!(r.verdict.passed());
    validate(&r);
    // The page adds the comparison bars to its four charts.
    let html = crate::html::render(&r);
    assert_eq!(html.matches("<svg").count(), 6, "comparison chart");
    assert!(html.contains("NATS 11.67× faster"));

    let mut r = nats();
    crate::comparison::apply(
        &mut r,
        &ten_x_result(Duration::from_micros(600), 500, 0),
        "http://h",
        1.0,
    );
    assert_eq!(ten_x(&r).status, NotValidated);
    assert!(
        ten_x(&r).detail.contains("NATS 2.00× faster"),
        "{:?}",
        ten_x(&r)
    );
    assert_eq!(crate::comparison::faster(0.5), "HTTP 2.00× faster");
    assert!(!r.verdict.passed());

    // HTTP failing beyond the bound: no fair comparison, not a refutation.
    let mut r = nats();
    crate::comparison::apply(
        &mut r,
        &ten_x_result(Duration::from_micros(6000), 500, 50),
        "http://h",
        1.0,
    );
    assert_eq!(ten_x(&r).status, Inconclusive, "{:?}", ten_x(&r));
    // Too few successes on one side.
    let mut r = ten_x_result(Duration::from_micros(300), 20, 0);
    crate::comparison::apply(
        &mut r,
        &ten_x_result(Duration::from_micros(6000), 500, 0),
        "http://h",
        1.0,
    );
    assert_eq!(ten_x(&r).status, Inconclusive);
    let text = text::render(&r);
    assert!(
        text.contains("comparison (the same requests over HTTP):"),
        "{text}"
    );
}

#[test]
fn a_generator_near_a_full_core_warns_that_it_may_be_the_bottleneck() {
    use cliffload_monitor::Role;
    let busy = |cpu: f64| {
        let mut g = watched("cliffload (generator)", Role::Generator, |_| 30.0);
        for s in &mut g.samples {
            s.cpu_percent = s.cpu_percent.map(|_| cpu);
        }
        g
    };
    let mut r = one_minute_result();
    crate::processes::apply(&mut r, 1.0, vec![busy(97.0)], None, None);
    assert!(
        r.warnings.iter().any(
            |w| matches!(w, crate::Warning::GeneratorBusy { workers: 1, .. })
                && w.to_string().contains("may have been the bottleneck")
        ),
        "{:?}",
        r.warnings
    );
    // Two workers: 97% is half their capacity.
    let mut r = one_minute_result();
    r.load.workers = 2;
    crate::processes::apply(&mut r, 1.0, vec![busy(97.0)], None, None);
    assert!(
        r.warnings
            .iter()
            .all(|w| !matches!(w, crate::Warning::GeneratorBusy { .. })),
        "{:?}",
        r.warnings
    );
}

/// `n` successes of task 0 at 1 ms, `slow` of them at 2 ms.
fn with_slow(n: u64, slow: u64) -> RunResult {
    let s = scenario("{}");
    let mut t = TaskTable::new(2);
    for i in 0..n {
        let us = if i < slow { 2000 } else { 1000 };
        t.record(0, Outcome::Ok, Duration::from_micros(us));
    }
    build(&s, &t)
}

// Issue 30: a p99 resting on three requests is not a regression; the same
// share of slow requests among twenty thousand is.
#[test]
fn a_p99_is_judged_by_the_runs_intervals_not_their_points() {
    let p99_regressed = |new: &RunResult, base: &RunResult| {
        crate::regression::table(new, base, 20.0)
            .rows
            .iter()
            .find(|r| r.task == "s.ping" && r.metric == "p99_us")
            .map(|r| (r.worse_percent, r.regressed))
            .expect("a p99 row")
    };
    let (worse, regressed) = p99_regressed(&with_slow(200, 3), &with_slow(200, 0));
    assert!(worse > 90.0, "the points doubled: {worse}");
    assert!(
        !regressed,
        "three slow requests in 200 are inside the p99's interval"
    );
    let (worse, regressed) = p99_regressed(&with_slow(20_000, 300), &with_slow(20_000, 0));
    assert!(worse > 90.0 && regressed, "{worse} {regressed}");
}

//! File-level tests: good files resolve, bad ones name what is wrong.

use std::time::Duration;

use crate::{ConfigError, Payload, Protocol, ScenarioFile, WaitTime, catalog};

const SMOKE: &str = r#"
scenarios:
  smoke:
    users: 10
    spawn_rate: 5            # users started per second
    duration: 30s
    wait_time: {between: [0.1, 1.0]}
    tasks:
      - name: echo
        subject: test.rpc.echo
        protocol: cliffracer
        weight: 3
        timeout: 5s
        payload: {message: "hello"}
      - name: raw
        subject: test.rpc.ping
        protocol: raw
"#;

#[test]
fn parses_the_documented_shape() {
    let f = ScenarioFile::parse(SMOKE, "smoke.yaml").expect("valid");
    let s = f.get("smoke").expect("present");
    assert_eq!(s.users.get(), 10);
    assert_eq!(s.spawn_rate, 5.0);
    assert_eq!(s.duration, Duration::from_secs(30));
    assert_eq!(
        s.classes[0].wait_time,
        WaitTime::Between(Duration::from_millis(100), Duration::from_secs(1))
    );
    assert_eq!(s.tasks[0].name, "smoke.echo");
    assert_eq!(s.tasks[0].weight.get(), 3);
    assert_eq!(
        s.tasks[0].payload,
        Payload::Static(serde_json::json!({"message": "hello"}))
    );
    assert_eq!(s.tasks[1].request.protocol, Protocol::Raw);
    assert_eq!(s.tasks[1].request.timeout, Duration::from_secs(5));
    assert_eq!(s.tasks[1].payload, Payload::Static(serde_json::json!({})));
}

#[test]
fn builtin_catalog_is_valid() {
    let c = catalog::builtin();
    let ping = c.get("ping").expect("ping is built in");
    assert!(
        ping.tasks
            .iter()
            .all(|t| t.request.subject.starts_with("test.rpc."))
    );
    let names: Vec<&str> = c.scenarios.iter().map(|s| s.name.as_str()).collect();
    for want in [
        "baseline",
        "high_throughput",
        "error_resilience",
        "large_payloads",
        "mixed_workload",
        "stress_test",
        "comparison_baseline",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    let baseline = c.get("baseline").expect("baseline");
    assert_eq!(
        (baseline.users.get(), baseline.spawn_rate, baseline.duration),
        (10, 2.0, Duration::from_secs(60))
    );
    assert_eq!(baseline.error_rate, 0.01);
    assert_eq!(baseline.expectations.max_median_ms, Some(50.0));
    assert_eq!(baseline.expectations.min_rps, Some(100.0));
    assert_eq!(baseline.expectations.max_failure_percent, Some(1.0));
    let classes: Vec<(&str, u32)> = baseline
        .classes
        .iter()
        .map(|c| (c.name.as_str(), c.weight.get()))
        .collect();
    assert_eq!(
        classes,
        [
            ("AnalyticsUser", 2),
            ("ErrorScenarioUser", 1),
            ("LargePayloadUser", 1),
            ("MixedWorkloadUser", 2),
            ("OrderProcessingUser", 3)
        ]
    );
    assert!(baseline.tasks.iter().all(|t| {
        t.request
            .subject
            .starts_with("order_processing_service.rpc.")
    }));
    let mixed = c.get("mixed_workload").expect("mixed");
    let weights: Vec<(&str, u32)> = mixed
        .tasks
        .iter()
        .map(|t| (t.name.as_str(), t.weight.get()))
        .collect();
    assert_eq!(weights[0], ("MixedWorkloadUser.simple_orders", 600));
    let large = c.get("large_payloads").expect("large");
    let batch = large
        .tasks
        .iter()
        .find(|t| t.name == "LargePayloadUser.process_large_batch")
        .expect("batch task");
    assert!(
        matches!(&batch.payload, Payload::Generated { models, .. } if models.len() == 3),
        "{:?}",
        batch.payload
    );
    let errors = baseline
        .tasks
        .iter()
        .find(|t| t.name == "ErrorScenarioUser.trigger_validation_errors")
        .expect("error task");
    assert_eq!(errors.error_rate, 1.0);
}

#[test]
fn the_example_file_resolves_to_the_catalog() {
    let example = include_str!("../../../examples/cliffracer-suite.yaml");
    let from_file =
        ScenarioFile::parse(example, "examples/cliffracer-suite.yaml").expect("example is valid");
    assert_eq!(from_file, catalog::builtin());
}

#[test]
fn a_users_file_overrides_the_catalog_key_by_key_and_adds_scenarios() {
    let f = ScenarioFile::parse_over_catalog(
        "scenarios:\n  baseline:\n    users: 3\n  mine:\n    users: 1\n    duration: 2s\n    user_classes: [AnalyticsUser]\nperformance_expectations:\n  baseline:\n    min_requests_per_second: 5\n",
        "mine.yaml",
    )
    .expect("valid");
    let b = f.get("baseline").expect("baseline");
    assert_eq!(b.users.get(), 3);
    assert_eq!(b.duration, Duration::from_secs(60), "kept from the catalog");
    assert_eq!(b.expectations.min_rps, Some(5.0));
    assert_eq!(
        b.expectations.max_median_ms,
        Some(50.0),
        "kept from the catalog"
    );
    let mine = f.get("mine").expect("added");
    assert_eq!(mine.classes.len(), 1);
    assert!(f.get("ping").is_ok());
}

#[test]
fn stages_follow_the_gradual_load_increase() {
    let f = ScenarioFile::parse_over_catalog("advanced:\n  gradual_load_increase: {enabled: true, steps: [2, 5], step_duration_seconds: 3}\n", "f.yaml").expect("valid");
    let s = f.get("stress_test").expect("stress");
    let Some(crate::Stages::Steps { steps, .. }) = s.stages.as_ref() else {
        panic!("stages on: {:?}", s.stages);
    };
    assert_eq!(steps, &[2, 5]);
    assert_eq!(s.users.get(), 5);
    assert_eq!(s.duration, Duration::from_secs(6));
}

#[test]
fn unknown_scenario_lists_the_known_ones() {
    let err = catalog::builtin().get("nope").expect_err("unknown");
    assert!(err.to_string().contains("ping"), "{err}");
}

fn error_of(yaml: &str) -> String {
    match ScenarioFile::parse(yaml, "bad.yaml") {
        Ok(_) => panic!("accepted a bad file:\n{yaml}"),
        Err(e) => e.to_string(),
    }
}

fn with_scenario(body: &str) -> String {
    format!("scenarios:\n  s:\n{body}")
}

const TASK: &str = "    tasks:\n      - {name: t, subject: a.rpc.b}\n";

#[test]
fn bad_inputs_are_named_and_never_panic() {
    let cases: Vec<(String, &str)> = vec![
        ("scenarios: {}\n".into(), "scenarios: is empty"),
        (
            with_scenario(&format!("    users: two\n    duration: 1s\n{TASK}")),
            "at scenarios.s.users: line 3 column 12: expected a whole number (e.g. 10)",
        ),
        (
            with_scenario(&format!("    users: 2.5\n    duration: 1s\n{TASK}")),
            "expected a whole number",
        ),
        (
            with_scenario("    users: 1\n   duration: 1s\n"),
            "line 4 column 4: this line does not line up with the keys above it",
        ),
        (
            with_scenario(&format!("    users: 1\n    duration: 10\n{TASK}")),
            "scenarios.s.duration: 10 has no unit (seconds? milliseconds?): write 10s or 10ms",
        ),
        (
            with_scenario(
                "    users: 1\n    duration: 1s\n    tasks:\n      - {name: t, subject: a.b, timeout: 100}\n",
            ),
            "scenarios.s.tasks[0].timeout: 100 has no unit",
        ),
        (
            with_scenario("    users: 1\n    duration: 1s\n    user_classes: [Nobody]\n"),
            "no user class named \"Nobody\"",
        ),
        (
            format!(
                "user_classes:\n  OrderUser: {{tasks: [{{name: a, subject: a.b}}]}}\n{}",
                with_scenario("    users: 1\n    duration: 1s\n    user_classes: [OrderUsr]\n")
            ),
            "did you mean \"OrderUser\"",
        ),
        (
            with_scenario(&format!(
                "    users: 1\n    duration: 1s\n    error_rate: 1.5\n{TASK}"
            )),
            "error_rate: must be a share from 0 to 1",
        ),
        (
            with_scenario(&format!(
                "    users: 1\n    duration: 1s\n    error_rate: -0.1\n{TASK}"
            )),
            "error_rate: must be a share from 0 to 1",
        ),
        (
            with_scenario(
                "    users: 1\n    duration: 1s\n    tasks:\n      - {name: t, service: svc}\n",
            ),
            "needs a subject, or a service and a method",
        ),
        (
            with_scenario(
                "    users: 1\n    duration: 1s\n    tasks:\n      - {name: t, subject: a.b, service: s, method: m}\n",
            ),
            "not both",
        ),
        (
            with_scenario(
                "    users: 1\n    duration: 1s\n    tasks:\n      - {name: t, subject: a.b, generate: {model: ordr}}\n",
            ),
            "did you mean \"order\"",
        ),
        (
            with_scenario(
                "    users: 1\n    duration: 1s\n    tasks:\n      - {name: t, subject: a.b, generate: {model: order, count: [5, 2]}}\n",
            ),
            "min 5 is above max 2",
        ),
        (
            with_scenario(
                "    users: 1\n    duration: 1s\n    tasks:\n      - {name: t, subject: a.b, generate: {model: analytics_batch, count: huge}}\n",
            ),
            "\"huge\" is not a size",
        ),
        (
            with_scenario(
                "    users: 1\n    duration: 1s\n    tasks:\n      - {name: t, subject: a.b, payload: {}, generate: {model: order}}\n",
            ),
            "either payload (fixed) or generate",
        ),
        (
            with_scenario(&format!(
                "    users: 1\n    duration: 1s\n    workload_distribution: {{nothing: 0.5}}\n{TASK}"
            )),
            "no task named \"nothing\"",
        ),
        (
            with_scenario(&format!(
                "    users: 1\n    duration: 1s\n    workload_distribution: {{t: 2}}\n{TASK}"
            )),
            "must be a share in (0, 1]",
        ),
        (
            with_scenario("    users: 1\n    duration: 1s\n    user_classes: []\n"),
            "no tasks",
        ),
        (
            format!(
                "performance_expectations:\n  baselin: {{max_median_response_time_ms: 5}}\n{}",
                with_scenario(&format!("    users: 1\n    duration: 1s\n{TASK}"))
            ),
            "no scenario named \"baselin\"",
        ),
        (
            format!(
                "advanced:\n  gradual_load_increase: {{enabled: true, steps: []}}\n{}",
                with_scenario(&format!("    users: 1\n    duration: 1s\n{TASK}"))
            ),
            "steps: is empty",
        ),
        (
            format!(
                "advanced:\n  gradual_load_increase: {{enabled: true, steps: [5, 0]}}\n{}",
                with_scenario(&format!("    users: 1\n    duration: 1s\n{TASK}"))
            ),
            "steps[1]: must be at least 1, got 0",
        ),
        (
            format!(
                "data_generation:\n  order_complexity: {{min_items: 5, max_items: 2}}\n{}",
                with_scenario(&format!("    users: 1\n    duration: 1s\n{TASK}"))
            ),
            "min_items 5 is above max_items 2",
        ),
        (
            format!(
                "data_generation:\n  customer_pool_size: 0\n{}",
                with_scenario(&format!("    users: 1\n    duration: 1s\n{TASK}"))
            ),
            "customer_pool_size: must be at least 1",
        ),
        (
            format!(
                "environment:\n  nats_url: localhost:4222\n{}",
                with_scenario(&format!("    users: 1\n    duration: 1s\n{TASK}"))
            ),
            "is not a NATS URL",
        ),
        (
            format!(
                "reporting:\n  benchmark_claims: {{high_throughput_claim: -1}}\n{}",
                with_scenario(&format!("    users: 1\n    duration: 1s\n{TASK}"))
            ),
            "high_throughput_claim: must be > 0",
        ),
        (
            with_scenario(&format!(
                "    users: 1\n    duration: 1s\n    user_classes: [A]\n{TASK}"
            )),
            "either tasks or user_classes",
        ),
        ("scenarioz: {}\n".into(), "unknown field `scenarioz`"),
        (
            with_scenario(&format!("    users: 0\n    duration: 1s\n{TASK}")),
            "scenarios.s.users: must be at least 1",
        ),
        (
            with_scenario(&format!("    users: -3\n    duration: 1s\n{TASK}")),
            "got -3",
        ),
        (
            with_scenario(&format!("    users: 1\n    duration: 0s\n{TASK}")),
            "scenarios.s.duration: must be > 0",
        ),
        (
            with_scenario(&format!("    users: 1\n    duration: soon\n{TASK}")),
            "scenarios.s.duration: \"soon\" is not a duration",
        ),
        (
            with_scenario(&format!("    users: 1\n    duration: -5s\n{TASK}")),
            "negative",
        ),
        (
            with_scenario(&format!(
                "    users: 1\n    spawn_rate: 0\n    duration: 1s\n{TASK}"
            )),
            "spawn_rate: must be > 0",
        ),
        (
            with_scenario(&format!(
                "    users: 1\n    duration: 1s\n    wait_time: {{between: [2, 1]}}\n{TASK}"
            )),
            "wait_time.between: min",
        ),
        (
            with_scenario(&format!(
                "    users: 1\n    duration: 1s\n    wait_time: {{between: [1]}}\n{TASK}"
            )),
            "must be [min, max]",
        ),
        (
            with_scenario(&format!(
                "    users: 1\n    duration: 1s\n    wait_time: {{sometimes: 1}}\n{TASK}"
            )),
            "unknown variant",
        ),
        (
            with_scenario(&format!(
                "    users: 1\n    duration: 1s\n    wait_time: {{pacing: 0s}}\n{TASK}"
            )),
            "wait_time.pacing: must be > 0",
        ),
        (
            with_scenario(&format!(
                "    users: 1\n    duration: 1s\n    max_requests: 0\n{TASK}"
            )),
            "scenarios.s.max_requests: must be ≥ 1",
        ),
        (
            with_scenario("    users: 1\n    duration: 1s\n    tasks: []\n"),
            "scenarios.s.tasks: is empty",
        ),
        (
            with_scenario(
                "    users: 1\n    duration: 1s\n    tasks:\n      - {name: t, subject: a.rpc.b, weight: 0}\n",
            ),
            "scenarios.s.tasks[0].weight: must be at least 1",
        ),
        (
            with_scenario(
                "    users: 1\n    duration: 1s\n    tasks:\n      - {name: t, subject: 'a.*.b'}\n",
            ),
            "tasks[0].subject",
        ),
        (
            with_scenario(
                "    users: 1\n    duration: 1s\n    tasks:\n      - {name: t, subject: ''}\n",
            ),
            "tasks[0].subject",
        ),
        (
            with_scenario(
                "    users: 1\n    duration: 1s\n    tasks:\n      - {name: t, subject: a..b}\n",
            ),
            "tasks[0].subject",
        ),
        (
            with_scenario(
                "    users: 1\n    duration: 1s\n    tasks:\n      - {name: t, subject: a.b, protocol: grpc}\n",
            ),
            "unknown variant `grpc`",
        ),
        (
            with_scenario(
                "    users: 1\n    duration: 1s\n    tasks:\n      - {name: t, subject: a.b, timeout: 0s}\n",
            ),
            "tasks[0].timeout: must be in",
        ),
        (
            with_scenario(
                "    users: 1\n    duration: 1s\n    tasks:\n      - {name: t, subject: a.b, wieght: 2}\n",
            ),
            "unknown field `wieght`",
        ),
        (
            with_scenario(
                "    users: 1\n    duration: 1s\n    tasks:\n      - {name: t, subject: a.b}\n      - {name: t, subject: a.c}\n",
            ),
            "used twice",
        ),
        (
            with_scenario(
                "    users: 1\n    duration: 1s\n    tasks:\n      - {name: ' ', subject: a.b}\n",
            ),
            "name: must not be empty",
        ),
        (
            with_scenario(&format!(
                "    users: 1\n    duration: 1s\n    expectations: {{max_failure_percent: 150}}\n{TASK}"
            )),
            "expectations.max_failure_percent: must be from 0 to 100",
        ),
        (
            with_scenario(&format!(
                "    users: 1\n    duration: 1s\n    expectations: {{max_median: 1}}\n{TASK}"
            )),
            "unknown field `max_median`",
        ),
        (
            with_scenario(&format!("    users: one\n    duration: 1s\n{TASK}")),
            "line 3",
        ),
        (
            with_scenario(&format!("    duration: 1s\n{TASK}")),
            "scenarios.s.users: is required",
        ),
        ("scenarios: [1, 2]\n".into(), "line 1"),
        ("{{{{\n".into(), "bad.yaml"),
        ("".into(), "scenarios: is empty"),
    ];
    assert!(cases.len() >= 45, "{}", cases.len());
    for (yaml, want) in cases {
        let got = error_of(&yaml);
        assert!(got.contains(want), "for\n{yaml}\nwant {want:?} in\n{got}");
    }
}

#[test]
fn parse_errors_carry_line_and_column() {
    let err = ScenarioFile::parse(&with_scenario("    users: 1\n    duration: 1s\n    tasks:\n      - name: t\n        subject: a.b\n        wieght: 2\n"), "f.yaml")
        .expect_err("unknown key");
    assert!(matches!(err, ConfigError::Parse { .. }));
    let msg = err.to_string();
    assert!(msg.contains("f.yaml") && msg.contains("line 8"), "{msg}");
    assert!(msg.contains("at scenarios.s.tasks[0].wieght"), "{msg}");
    assert!(msg.contains("did you mean `weight`?"), "{msg}");
}

#[test]
fn think_time_takes_seconds_as_locust_does() {
    let f = ScenarioFile::parse(
        &with_scenario(&format!(
            "    users: 1\n    duration: 1s\n    wait_time: {{between: [1, 2.5]}}\n{TASK}"
        )),
        "f.yaml",
    )
    .expect("valid");
    assert_eq!(
        f.scenarios[0].classes[0].wait_time,
        crate::WaitTime::Between(Duration::from_secs(1), Duration::from_millis(2500))
    );
    let f = ScenarioFile::parse(
        &with_scenario(&format!(
            "    users: 1\n    duration: 1s\n    wait_time: {{constant: 0.5}}\n{TASK}"
        )),
        "f.yaml",
    )
    .expect("valid");
    assert_eq!(
        f.scenarios[0].classes[0].wait_time,
        crate::WaitTime::Constant(Duration::from_millis(500))
    );
}

#[test]
fn value_errors_name_their_line_in_the_users_file() {
    // Found after the file is laid over the catalog, where the parser's
    // positions are gone: the line is found again in the user's text.
    let yaml = "scenarios:\n  baseline:\n    users: 0\n";
    let err = ScenarioFile::parse_over_catalog(yaml, "mine.yaml").expect_err("0 users");
    let msg = err.to_string();
    assert!(
        msg.starts_with("mine.yaml:3:5: scenarios.baseline.users:"),
        "{msg}"
    );
    // A value the file does not write points at the nearest key it does.
    let yaml = "scenarios:\n  mine:\n    users: 1\n    tasks: [{name: t, subject: a.b}]\n";
    let err = ScenarioFile::parse_over_catalog(yaml, "mine.yaml").expect_err("no duration");
    assert!(err.to_string().starts_with("mine.yaml:2:3: "), "{err}");
}

#[test]
fn every_scenario_s_mistake_is_reported_at_once() {
    let yaml = "\
scenarios:
  one:
    users: 0
    duration: 1s
    tasks: [{name: t, subject: a.b}]
  two:
    users: 1
    duration: 1s
    error_rate: 7
    tasks: [{name: t, subject: a.b}]
  three:
    users: 1
    duration: 1s
    tasks: [{name: t, subject: a.b}]
performance_expectations:
  thre: {max_p95_ms: 5}
";
    let err = ScenarioFile::parse(yaml, "many.yaml").expect_err("three mistakes");
    let ConfigError::Several(all) = &err else {
        panic!("one error only: {err}")
    };
    assert_eq!(all.len(), 3, "{err}");
    let msg = err.to_string();
    assert!(msg.starts_with("3 problems:\n  1. "), "{msg}");
    assert!(msg.contains("many.yaml:3:5: scenarios.one.users"), "{msg}");
    assert!(
        msg.contains("many.yaml:9:5: scenarios.two.error_rate"),
        "{msg}"
    );
    assert!(msg.contains("did you mean \"three\"?"), "{msg}");
}

#[test]
fn one_of_counts_become_equal_sub_pools() {
    let c = catalog::builtin();
    let mixed = c.get("mixed_workload").expect("mixed_workload");
    let task = mixed
        .tasks
        .iter()
        .find(|t| t.name == "MixedWorkloadUser.analytics_events")
        .expect("analytics task");
    let Payload::Generated { models, .. } = &task.payload else {
        panic!("generated payload: {:?}", task.payload);
    };
    let events: Vec<(usize, usize)> = models
        .iter()
        .map(|m| match m {
            cliffload_payloads::ModelSpec::AnalyticsBatch { events } => *events,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(events, [(5, 5), (10, 10), (20, 20), (50, 50), (100, 100)]);
    let err = ScenarioFile::parse(
        "scenarios:\n  s:\n    users: 1\n    duration: 1s\n    tasks:\n      - {name: a, subject: x.rpc.y, generate: {model: analytics_batch, count: {one_of: []}}}\n",
        "t.yaml",
    )
    .expect_err("empty one_of");
    assert!(
        err.to_string()
            .contains("count.one_of: must list at least one count"),
        "{err}"
    );
}

fn one_task(task: &str) -> Result<crate::Task, ConfigError> {
    let yaml =
        format!("scenarios:\n  s:\n    users: 1\n    duration: 1s\n    tasks:\n      - {task}\n");
    ScenarioFile::parse(&yaml, "t.yaml").map(|f| f.scenarios[0].tasks[0].clone())
}

#[test]
fn expect_reads_status_json_text_regex_and_size() {
    let t = one_task(
        r#"{name: p, subject: a.rpc.p, expect: {status: rejected, json: {"result.status": ok}, contains: pong, regex: "^x", max_bytes: 100}}"#,
    )
    .expect("valid");
    assert_eq!(t.request.expect.status, crate::ExpectStatus::Rejected);
    assert_eq!(
        t.request.expect.json,
        vec![("result.status".to_owned(), serde_json::json!("ok"))]
    );
    assert_eq!(t.request.expect.contains.as_deref(), Some("pong"));
    assert_eq!(t.request.expect.max_bytes, Some(100));
    // Without expect: a success, nothing checked.
    let plain = one_task("{name: p, subject: a.rpc.p}").expect("valid");
    assert_eq!(plain.request.expect, crate::ReplyExpect::default());
}

#[test]
fn bad_expectations_name_their_key() {
    let err = |task: &str| one_task(task).expect_err("invalid").to_string();
    let e = err(r#"{name: p, subject: a.rpc.p, expect: {regex: "("}}"#);
    assert!(
        e.contains("tasks[0].expect.regex") && e.contains("regular expression"),
        "{e}"
    );
    let e = err("{name: p, subject: a.rpc.p, protocol: raw, expect: {status: rejected}}");
    assert!(e.contains("expect.status") && e.contains("raw"), "{e}");
    let e = err("{name: p, subject: a.rpc.p, expect: {max_bytes: 0}}");
    assert!(e.contains("expect.max_bytes"), "{e}");
    let e = err(r#"{name: p, subject: a.rpc.p, expect: {json: {"a..b": 1}}}"#);
    assert!(e.contains("expect.json"), "{e}");
    let e = err("{name: p, subject: a.rpc.p, expect: {contain: pong}}");
    assert!(e.contains("contain"), "{e}");
}

#[test]
fn files_that_are_not_scenario_files_are_refused_in_words() {
    let load = |p: &str| {
        ScenarioFile::load(std::path::Path::new(p))
            .expect_err("refused")
            .to_string()
    };
    // /dev/zero would be read for ever; a directory is not a file.
    // A character device is read as a stream, bounded (issue 26).
    assert!(load("/dev/zero").contains("MiB limit"));
    assert!(load("/").contains("a directory"));
    let missing = load("/no/such/scenario.yaml");
    assert!(
        missing.contains("/no/such/scenario.yaml") && missing.contains("no such file"),
        "{missing}"
    );
    assert!(!missing.contains("os error"), "{missing}");
    let dir = tempfile_dir();
    let big = dir.join("big.yaml");
    let f = std::fs::File::create(&big).expect("create");
    f.set_len(crate::MAX_FILE_BYTES + 1).expect("grow");
    assert!(load(big.to_str().expect("utf-8")).contains("MiB limit"));
    let _ = std::fs::remove_dir_all(dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("cliffload-scenario-test-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("mkdir");
    d
}

#[test]
fn yaml_bombs_and_deep_nesting_say_what_limit_was_hit() {
    let mut bomb = String::from(
        "scenarios:\n  s:\n    users: 1\n    duration: 1s\n    tasks:\n      - name: p\n        subject: a.rpc.p\n        payload:\n",
    );
    bomb.push_str(&format!("          l0: &a [{}]\n", ["x"; 10].join(",")));
    for i in 1..9 {
        let prev = if i == 1 {
            "a".to_owned()
        } else {
            format!("b{}", i - 1)
        };
        bomb.push_str(&format!(
            "          l{i}: &b{i} [{}]\n",
            vec![format!("*{prev}"); 10].join(",")
        ));
    }
    let e = ScenarioFile::parse(&bomb, "bomb.yaml")
        .expect_err("refused")
        .to_string();
    assert!(
        e.contains("YAML bomb") && !e.contains("budget breached"),
        "{e}"
    );
    // Issue 26: a large file without aliases is too large, not a bomb.
    let plain = format!(
        "scenarios:\n  s:\n    users: 1\n    duration: 1s\n    tasks:\n      - name: p\n        subject: a.rpc.p\n        payload: [{}]\n",
        ["1"; 300_000].join(",")
    );
    let e = ScenarioFile::parse(&plain, "plain.yaml")
        .expect_err("refused")
        .to_string();
    assert!(
        !e.contains("bomb")
            && !e.contains("alias")
            && e.contains("too large")
            && e.contains("limit"),
        "{e}"
    );
    assert!(crate::error::has_aliases(&bomb));
    assert!(crate::error::has_aliases("a: &x 1\nb: *x\n"));
    assert!(crate::error::has_aliases("a: [*x, 1]\n- *y\n"));
    assert!(!crate::error::has_aliases("a: \"2*3\"\nb: x*y\n"));
    let deep = format!(
        "scenarios:\n  s:\n    users: 1\n    duration: 1s\n    tasks:\n      - name: p\n        subject: a.rpc.p\n        payload: {}{}\n",
        "[".repeat(3000),
        "]".repeat(3000)
    );
    let e = ScenarioFile::parse(&deep, "deep.yaml")
        .expect_err("refused")
        .to_string();
    assert!(e.contains("nested too deeply"), "{e}");
}

mod fuzz {
    use proptest::prelude::*;

    use crate::ScenarioFile;

    /// YAML-looking text: known keys with random values, and random lines.
    fn yamlish() -> impl Strategy<Value = String> {
        let key = prop_oneof![
            Just("scenarios"),
            Just("users"),
            Just("duration"),
            Just("tasks"),
            Just("name"),
            Just("subject"),
            Just("timeout"),
            Just("expect"),
            Just("arrival_rate"),
            Just("rate"),
            Just("payload"),
            Just("generate"),
            Just("model"),
            Just("count"),
            Just("weight"),
            Just("s"),
            Just("- "),
        ];
        let value = prop_oneof![
            Just("".to_owned()),
            Just("1".to_owned()),
            Just("-5".to_owned()),
            Just("1e309".to_owned()),
            Just("10s".to_owned()),
            Just("[1, 2]".to_owned()),
            Just("{a: 1}".to_owned()),
            Just("&x [*x]".to_owned()),
            ".{0,12}",
        ];
        proptest::collection::vec((0usize..4, key, value), 0..25).prop_map(|lines| {
            lines
                .into_iter()
                .map(|(indent, k, v)| format!("{}{k}: {v}\n", "  ".repeat(indent)))
                .collect()
        })
    }

    proptest! {
        // Issue 12: any file is a scenario or a named error, never a panic.
        #[test]
        fn any_text_parses_or_names_its_error(text in prop_oneof![yamlish(), ".{0,200}"]) {
            for parsed in [
                ScenarioFile::parse(&text, "fuzz.yaml"),
                ScenarioFile::parse_over_catalog(&text, "fuzz.yaml"),
            ] {
                if let Err(e) = parsed {
                    prop_assert!(!e.to_string().trim().is_empty());
                }
            }
        }
    }
}

#[test]
fn nats_login_reads_secrets_from_files_and_never_prints_them() {
    let dir = tempfile_dir();
    let pw = dir.join("pw");
    std::fs::write(&pw, "s3cret\n").expect("write");
    let yaml = format!(
        "environment:\n  nats_url: nats://127.0.0.1:1\n  nats_user: alice\n  nats_password_file: {}\n  nats_tls_ca: /etc/ca.pem\n",
        pw.display()
    );
    let f = ScenarioFile::parse_over_catalog(&yaml, "env.yaml").expect("valid");
    let login = &f.settings.nats_login;
    assert_eq!(login.user.as_deref(), Some("alice"));
    assert_eq!(
        login.password.as_ref().map(crate::Secret::expose),
        Some("s3cret")
    );
    assert_eq!(
        login.tls_ca.as_deref(),
        Some(std::path::Path::new("/etc/ca.pem"))
    );
    assert!(!format!("{:?}", f.settings).contains("s3cret"));
    let both = "environment:\n  nats_password: a\n  nats_password_file: /x\n";
    let e = ScenarioFile::parse_over_catalog(both, "env.yaml")
        .expect_err("both")
        .to_string();
    assert!(
        e.contains("nats_password_file") && e.contains("not both"),
        "{e}"
    );
    let missing = "environment:\n  nats_token_file: /no/such/token\n";
    let e = ScenarioFile::parse_over_catalog(missing, "env.yaml")
        .expect_err("missing")
        .to_string();
    assert!(
        e.contains("/no/such/token") && e.contains("no such file"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// Issue 26: `k8s render` ships the file in a ConfigMap, so it must know
/// which secrets are written in it; and a scheme-less `nats_url` with a
/// password was quoted whole in its error.
#[test]
fn secrets_written_in_the_file_are_named_and_never_quoted() {
    let yaml = "environment:\n  nats_url: nats://alice:urlpw@h:1\n  nats_user: alice\n  nats_password: inl1ne\n";
    let f = ScenarioFile::parse_over_catalog(yaml, "env.yaml").expect("valid");
    assert_eq!(
        f.settings.nats_login.inline_secrets,
        ["environment.nats_password", "environment.nats_url"]
    );
    let files = "environment:\n  nats_url: nats://h:1\n  nats_token_file: /dev/null\n";
    let f = ScenarioFile::parse_over_catalog(files, "env.yaml").expect("valid");
    assert!(f.settings.nats_login.inline_secrets.is_empty());
    let bare = "environment:\n  nats_url: alice:Sch3meless@h:1\n";
    let e = ScenarioFile::parse_over_catalog(bare, "env.yaml")
        .expect_err("no scheme")
        .to_string();
    assert!(e.contains("***@h:1") && !e.contains("Sch3meless"), "{e}");
}

/// Issue 26: a 10 kB subject failed after 15 s as "the service didn't
/// answer" (the server drops a line over max_control_line). It is refused at
/// load, naming the task and the limit; so is a control character.
#[test]
fn a_subject_too_long_for_the_server_is_refused_naming_the_task_and_the_limit() {
    let task = |subject: &str| {
        format!(
            "scenarios:\n  s:\n    users: 1\n    duration: 1s\n    tasks:\n      - {{name: big, subject: \"{subject}\"}}\n"
        )
    };
    let long = format!("a.{}", "x".repeat(10_000));
    let e = ScenarioFile::parse(&task(&long), "s.yaml")
        .expect_err("too long")
        .to_string();
    assert!(
        e.contains("scenarios.s.tasks[0].subject")
            && e.contains("task \"big\"")
            && e.contains("10002 bytes")
            && e.contains("max_control_line")
            && e.contains("4000 bytes"),
        "{e}"
    );
    assert!(e.len() < 600, "the message quotes the whole subject: {e}");
    let e = ScenarioFile::parse(&task("a.b\\u0000c"), "s.yaml")
        .expect_err("control character")
        .to_string();
    assert!(e.contains("control characters"), "{e}");
    // At the limit it loads.
    let max = format!("a.{}", "x".repeat(3998));
    ScenarioFile::parse(&task(&max), "s.yaml").expect("4000 bytes load");
}

#[test]
fn a_scenario_name_typo_gets_a_suggestion() {
    let e = catalog::builtin()
        .get("basline")
        .expect_err("no such")
        .to_string();
    assert!(e.contains("did you mean \"baseline\"?"), "{e}");
    let e = catalog::builtin()
        .get("zzzzzz")
        .expect_err("no such")
        .to_string();
    assert!(!e.contains("did you mean"), "{e}");
}

/// docs/scenario-file.schema.json, from the repository root.
fn schema_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/scenario-file.schema.json")
}

#[test]
fn the_checked_in_schema_is_the_parsers() {
    let generated = format!(
        "{}\n",
        serde_json::to_string_pretty(&crate::json_schema()).expect("JSON")
    );
    if std::env::var_os("CLIFFLOAD_UPDATE_SCHEMA").is_some() {
        std::fs::write(schema_path(), &generated).expect("write the schema");
    }
    let checked_in = std::fs::read_to_string(schema_path()).unwrap_or_default();
    assert!(
        checked_in == generated,
        "docs/scenario-file.schema.json is not the parser's schema: run \
         `CLIFFLOAD_UPDATE_SCHEMA=1 cargo test -p cliffload-scenario schema` and commit it"
    );
}

#[test]
fn the_catalog_and_the_examples_match_the_schema_and_a_typo_does_not() {
    let schema = crate::json_schema();
    let validator = jsonschema::validator_for(&schema).expect("a valid schema");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = vec![
        root.join("crates/scenario/src/builtin.yaml"),
        root.join("examples/cliffracer-suite.yaml"),
    ];
    let mut own: Vec<_> = std::fs::read_dir(root.join("examples/your-service"))
        .expect("examples/your-service")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    own.sort();
    assert!(own.len() >= 4, "{own:?}");
    files.extend(own);
    for f in &files {
        let text = std::fs::read_to_string(f).expect("read");
        let value: serde_json::Value = serde_saphyr::from_str(&text).expect("YAML");
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", f.display());
    }
    let typo: serde_json::Value = serde_saphyr::from_str(
        "scenarios:\n  s:\n    users: 1\n    duration: 1s\n    tasks: [{name: t, subject: a.b, wieght: 2}]\n",
    )
    .expect("YAML");
    assert!(
        !validator.is_valid(&typo),
        "an unknown key passes the schema"
    );
}

#[test]
fn comparison_frameworks_are_read_with_their_kind_and_a_bad_one_is_named() {
    let file = ScenarioFile::parse_over_catalog(
        "comparison_frameworks:\n  fastapi: {enabled: true, endpoint: \"http://127.0.0.1:8000/\", scenarios: [baseline]}\n  celery_redis: {enabled: true, broker_url: \"redis://127.0.0.1:6379/0\", queue: q1, scenarios: [baseline]}\n",
        "f.yaml",
    )
    .expect("valid");
    let f = &file.settings.frameworks;
    let fastapi = f.iter().find(|f| f.name == "fastapi").expect("fastapi");
    assert!(fastapi.enabled);
    assert_eq!(
        fastapi.target,
        crate::FrameworkTarget::Http("http://127.0.0.1:8000".into())
    );
    let celery = f.iter().find(|f| f.name == "celery_redis").expect("celery");
    assert_eq!(
        celery.target,
        crate::FrameworkTarget::Celery {
            broker_url: "redis://127.0.0.1:6379/0".into(),
            queue: "q1".into()
        }
    );
    // The catalog's flask stays, disabled.
    assert!(f.iter().any(|f| f.name == "flask" && !f.enabled));
    for (yaml, words) in [
        (
            "  x: {endpoint: \"https://h\"}\n",
            "comparison_frameworks.x.endpoint",
        ),
        (
            "  x: {broker_url: \"amqp://h\"}\n",
            "comparison_frameworks.x.broker_url",
        ),
        ("  x: {scenarios: [baseline]}\n", "give either endpoint"),
    ] {
        let e =
            ScenarioFile::parse_over_catalog(&format!("comparison_frameworks:\n{yaml}"), "f.yaml")
                .expect_err("invalid")
                .to_string();
        assert!(e.contains(words), "{e}");
    }
}

//! File-level tests: good files resolve, bad ones name what is wrong.

use std::time::Duration;

use crate::{ConfigError, Protocol, ScenarioFile, WaitTime, catalog};

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
        s.wait_time,
        WaitTime::Between(Duration::from_millis(100), Duration::from_secs(1))
    );
    assert_eq!(s.tasks[0].weight.get(), 3);
    assert_eq!(s.tasks[0].payload, serde_json::json!({"message": "hello"}));
    assert_eq!(s.tasks[1].protocol, Protocol::Raw);
    assert_eq!(s.tasks[1].timeout, Duration::from_secs(5));
    assert_eq!(s.tasks[1].payload, serde_json::json!({}));
}

#[test]
fn builtin_catalog_is_valid() {
    let c = catalog::builtin();
    let ping = c.get("ping").expect("ping is built in");
    assert!(
        ping.tasks
            .iter()
            .all(|t| t.subject.starts_with("test.rpc."))
    );
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
        ("scenarioz: {}\n".into(), "unknown field `scenarioz`"),
        (
            with_scenario(&format!("    users: 0\n    duration: 1s\n{TASK}")),
            "scenarios.s.users: must be 1..",
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
            with_scenario("    users: 1\n    duration: 1s\n    tasks: []\n"),
            "scenarios.s.tasks: is empty",
        ),
        (
            with_scenario(
                "    users: 1\n    duration: 1s\n    tasks:\n      - {name: t, subject: a.rpc.b, weight: 0}\n",
            ),
            "scenarios.s.tasks.0.weight: must be 1",
        ),
        (
            with_scenario(
                "    users: 1\n    duration: 1s\n    tasks:\n      - {name: t, subject: 'a.*.b'}\n",
            ),
            "tasks.0.subject",
        ),
        (
            with_scenario(
                "    users: 1\n    duration: 1s\n    tasks:\n      - {name: t, subject: ''}\n",
            ),
            "tasks.0.subject",
        ),
        (
            with_scenario(
                "    users: 1\n    duration: 1s\n    tasks:\n      - {name: t, subject: a..b}\n",
            ),
            "tasks.0.subject",
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
            "tasks.0.timeout: must be in",
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
            "expectations.max_failure_percent: must be 0..=100",
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
            "missing field `users`",
        ),
        ("scenarios: [1, 2]\n".into(), "line 1"),
        ("{{{{\n".into(), "bad.yaml"),
        ("".into(), "bad.yaml"),
    ];
    assert!(cases.len() >= 25);
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
}

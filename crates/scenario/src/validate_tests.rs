//! Issue 29: thresholds per task, every mistake of a file at once, and a
//! schema that refuses what the parser refuses.

use crate::{ConfigError, ScenarioFile, TaskExpectations};

/// Two classes sharing a task name, and a scenario of its own tasks.
const CLASSES: &str = "\
user_classes:
  Shop:
    tasks:
      - {name: echo, subject: test.rpc.echo}
      - {name: place_order, subject: shop.rpc.place_order}
  Admin:
    tasks:
      - {name: echo, subject: admin.rpc.echo}
scenarios:
  s:
    users: 2
    duration: 10s
    user_classes: [Shop, Admin]
";

fn with_thresholds(thresholds: &str) -> String {
    format!("{CLASSES}    expectations:\n      tasks:\n{thresholds}")
}

fn error_of(yaml: &str) -> String {
    match ScenarioFile::parse(yaml, "t.yaml") {
        Ok(_) => panic!("accepted a bad file:\n{yaml}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_threshold_names_a_task_by_its_full_name_or_its_unique_short_name() {
    let yaml = format!(
        "{}performance_expectations:\n  s:\n    tasks:\n      place_order: {{max_p95_ms: 80, min_rps: 5}}\n",
        with_thresholds(
            "        Admin.echo: {min_rps: 10}\n        place_order: {max_p95_ms: 50, max_failure_percent: 0.1}\n"
        )
    );
    let file = ScenarioFile::parse(&yaml, "t.yaml").expect("valid");
    let s = file.get("s").expect("s");
    // In the tasks' order, under their names in results; the scenario's
    // bounds over the file's, key by key.
    assert_eq!(
        s.expectations.tasks,
        [
            TaskExpectations {
                name: "Shop.place_order".into(),
                max_p95_ms: Some(50.0),
                max_failure_percent: Some(0.1),
                min_rps: Some(5.0),
                ..Default::default()
            },
            TaskExpectations {
                name: "Admin.echo".into(),
                min_rps: Some(10.0),
                ..Default::default()
            },
        ]
    );
    // A scenario's own tasks are `scenario.task` in results; `task` names them.
    let own = "scenarios:\n  q:\n    users: 1\n    duration: 1s\n    tasks: [{name: ping, subject: a.b}]\n    expectations: {tasks: {ping: {max_median_ms: 5}}}\n";
    let file = ScenarioFile::parse(own, "t.yaml").expect("valid");
    assert_eq!(file.scenarios[0].expectations.tasks[0].name, "q.ping");
}

#[test]
fn an_unknown_or_ambiguous_task_name_is_an_error_listing_the_tasks() {
    let e = error_of(&with_thresholds("        plac_order: {max_p95_ms: 50}\n"));
    assert!(
        e.contains("t.yaml:16:9: scenarios.s.expectations.tasks.plac_order: no task named \"plac_order\" in this scenario; did you mean \"place_order\"? (tasks: Shop.echo, Shop.place_order, Admin.echo)"),
        "{e}"
    );
    let e = error_of(&with_thresholds("        echo: {max_p95_ms: 50}\n"));
    assert!(
        e.contains("scenarios.s.expectations.tasks.echo: \"echo\" is the name of 2 tasks (Shop.echo, Admin.echo): write the one meant in full"),
        "{e}"
    );
    let e = error_of(&with_thresholds(
        "        place_order: {max_p95_ms: 50}\n        Shop.place_order: {min_rps: 1}\n",
    ));
    assert!(
        e.contains(
            "names the same task as \"Shop.place_order\" (Shop.place_order): give its bounds once"
        ),
        "{e}"
    );
    // Named under performance_expectations, the error says so.
    let yaml = format!(
        "{CLASSES}performance_expectations:\n  s:\n    tasks:\n      nope: {{min_rps: 1}}\n"
    );
    let e = error_of(&yaml);
    assert!(
        e.contains("performance_expectations.s.tasks.nope: no task named \"nope\""),
        "{e}"
    );
}

#[test]
fn threshold_values_are_checked_as_the_scenarios_are() {
    let e = error_of(&with_thresholds(
        "        place_order: {max_failure_percent: 101, max_p95_ms: -1}\n        Admin.echo: {}\n",
    ));
    for want in [
        "tasks.place_order.max_failure_percent: must be from 0 to 100, got 101",
        "tasks.place_order.max_p95_ms: must be from 0 to 3600000, got -1",
        "tasks.Admin.echo: sets no bound: give max_failure_percent, max_median_ms, max_p95_ms, max_p99_ms or min_rps",
    ] {
        assert!(e.contains(want), "want {want:?} in\n{e}");
    }
    // Outage is the whole load's: not a key of a task.
    let e = error_of(&with_thresholds("        place_order: {max_outage: 2s}\n"));
    assert!(
        e.contains("unknown field `max_outage`") && e.contains("max_p95_ms"),
        "{e}"
    );
    let e = error_of(&with_thresholds("        place_order: {max_p95: 2}\n"));
    assert!(e.contains("did you mean `max_p95_ms`?"), "{e}");
}

/// A file with mistakes of every kind, in every section.
const MANY: &str = "\
data_generation:
  payload_pool_size: 0
environment:
  nats_url: http://localhost:1
  reference_service_latency: fast
user_classes:
  Shop:
    weight: 0
    tasks:
      - {name: buy, subject: shop.rpc.buy, timeout: 100}
scenarios:
  a:
    users: two
    duration: 15
    tasks:
      - {name: t1, subject: test.rpc.ping, wieght: 2}
      - name: t2
        subject: bad subject
        weight: -1
  b:
    userz: 3
    duration: 10s
    user_classes: [Shop]
    expectations: {tasks: {buys: {max_p95_ms: 5}}}
";

#[test]
fn a_file_with_many_mistakes_hears_of_all_of_them_at_once() {
    let err = ScenarioFile::parse(MANY, "many.yaml").expect_err("many mistakes");
    let msg = err.to_string();
    let want = [
        "many.yaml:2:3: data_generation.payload_pool_size: must be at least 1, got 0",
        "many.yaml:4:3: environment.nats_url: \"http://localhost:1\" is not a NATS URL",
        "many.yaml:5:3: environment.reference_service_latency: \"fast\": one of realistic, none",
        "many.yaml:8:5: user_classes.Shop.weight: must be at least 1, got 0",
        "many.yaml:10:44: user_classes.Shop.tasks[0].timeout: 100 has no unit",
        "many.yaml:13:12: scenarios.a.users: expected a whole number (e.g. 10)",
        "many.yaml:14:5: scenarios.a.duration: 15 has no unit",
        "many.yaml:16:44: scenarios.a.tasks[0].wieght: unknown field `wieght`",
        "did you mean `weight`?",
        "many.yaml:18:9: scenarios.a.tasks[1].subject: task \"t2\": \"bad subject\" is not a subject",
        "many.yaml:19:9: scenarios.a.tasks[1].weight: must be at least 1, got -1",
        "many.yaml:21:5: scenarios.b.userz: unknown field `userz`",
        "many.yaml:24:28: scenarios.b.expectations.tasks.buys: no task named \"buys\" in this scenario; did you mean \"buy\"?",
    ];
    for w in want {
        assert!(msg.contains(w), "want {w:?} in\n{msg}");
    }
    // Each once, in the order they are written, and nothing the blanked-out
    // keys would cause (`users` required, for the unreadable `two` or the typo).
    let ConfigError::Several(all) = &err else {
        panic!("one error: {msg}")
    };
    assert_eq!(all.len(), want.len() - 1, "{msg}");
    assert!(!msg.contains("is required"), "{msg}");
    let lines: Vec<usize> = msg
        .lines()
        .filter_map(|l| l.split(':').nth(1)?.parse().ok())
        .collect();
    assert!(lines.is_sorted(), "{lines:?}\n{msg}");
}

#[test]
fn one_mistake_alone_keeps_the_parsers_snippet_and_a_key_written_is_still_checked() {
    let one = "scenarios:\n  s:\n    users: two\n    duration: 1s\n    tasks: [{name: t, subject: a.b}]\n";
    let e = error_of(one);
    assert!(e.contains("at scenarios.s.users: line 3 column 12"), "{e}");
    assert!(e.contains("3 |     users: two"), "{e}");
    // `userz` is a typo of `users`, but `users: 0` is written too: wrong as well.
    let both = "scenarios:\n  s:\n    userz: 2\n    users: 0\n    duration: 1s\n    tasks: [{name: t, subject: a.b}]\n";
    let e = error_of(both);
    assert!(e.contains("2 problems"), "{e}");
    assert!(
        e.contains("t.yaml:4:5: scenarios.s.users: must be at least 1"),
        "{e}"
    );
    // Broken YAML is said as the parser says it: nothing after it can be read.
    let e = error_of("scenarios:\n  s: [1,\n  t: {users: two}\n");
    assert!(!e.contains("problems"), "{e}");
}

fn schema_errors(yaml: &str) -> Vec<String> {
    let schema = crate::json_schema();
    let validator = jsonschema::validator_for(&schema).expect("a valid schema");
    let value: serde_json::Value = serde_saphyr::from_str(yaml).expect("YAML");
    validator
        .iter_errors(&value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn the_schema_refuses_a_bare_duration_and_a_negative_weight_and_knows_thresholds() {
    let scenario = |keys: &str| {
        format!(
            "scenarios:\n  s:\n    users: 1\n    duration: 10s\n    tasks: [{{name: t, subject: a.b}}]\n{keys}"
        )
    };
    for bad in [
        "scenarios:\n  s: {users: 1, duration: 15}\n".to_owned(),
        "scenarios:\n  s: {users: 1, duration: \"15\"}\n".to_owned(),
        "scenarios:\n  s: {users: 0, duration: 1s}\n".to_owned(),
        "scenarios:\n  s:\n    tasks: [{name: t, subject: a.b, weight: -1}]\n".to_owned(),
        "scenarios:\n  s:\n    tasks: [{name: t, subject: a.b, timeout: 100}]\n".to_owned(),
        "user_classes:\n  C: {weight: -1}\n".to_owned(),
        scenario("    expectations: {max_outage: 2}\n"),
        scenario("    expectations: {tasks: {t: {max_outage: 2s}}}\n"),
        scenario("    expectations: {tasks: {t: {max_p95: 2}}}\n"),
    ] {
        assert!(!schema_errors(&bad).is_empty(), "the schema takes\n{bad}");
    }
    for good in [
        scenario("    expectations: {tasks: {t: {max_p95_ms: 50, max_failure_percent: 0.1, min_rps: 1, max_median_ms: 2, max_p99_ms: 9}}}\n"),
        scenario("    expectations: {max_outage: 10%}\n"),
        scenario("    expectations: {max_outage: 0}\n"),
        scenario("    wait_time: {between: [1, 3]}\n"),
        "scenarios:\n  s: {users: 1, duration: 1m 30s, tasks: [{name: t, subject: a.b, timeout: 250ms, weight: 3}]}\nadvanced:\n  gradual_load_increase: {steps: [1, 2], step_duration_seconds: 30}\n".to_owned(),
    ] {
        let errors = schema_errors(&good);
        assert!(errors.is_empty(), "{good}\n{errors:#?}");
        ScenarioFile::parse(&good, "t.yaml").expect("the parser takes it too");
    }
}

/// Issue 31: a scenario of `tasks` (YAML flow mappings, one per line) and
/// `extra` scenario keys.
fn messaging(tasks: &[&str], extra: &str) -> String {
    let tasks: String = tasks.iter().map(|t| format!("      - {t}\n")).collect();
    format!("scenarios:\n  s:\n    users: 1\n    duration: 5s\n{extra}    tasks:\n{tasks}")
}

#[test]
fn publishes_async_calls_and_observed_events_resolve_to_their_requests() {
    let yaml = messaging(
        &[
            "{name: place, subject: orders.placed, send: publish, observe: {subject: order.>}}",
            "{service: svc, method: work, async: true, observe: {subject: done, match: {json: data.id}}}",
            "{name: queue, subject: orders.queued, send: jetstream}",
        ],
        "    jetstream:\n      streams: [{name: S, subjects: [orders.queued], max_msgs: 5}]\n      consumers: [{stream: S, name: c}]\n    expectations: {max_consumer_lag: 7}\n",
    );
    let f = ScenarioFile::parse(&yaml, "t.yaml").expect("valid");
    let s = f.get("s").expect("s");
    let [place, work, queue] = &s.tasks[..] else {
        panic!("three tasks")
    };
    use crate::{MatchBy, SendMode};
    assert_eq!(place.request.send, SendMode::Publish);
    let o = place.request.observe.as_ref().expect("observed");
    assert_eq!(
        (o.subject.as_str(), &o.by),
        ("order.>", &MatchBy::Header("X-Correlation-ID".into()))
    );
    assert_eq!(work.request.subject, "svc.async.work");
    assert_eq!(work.request.send, SendMode::Publish);
    assert_eq!(
        work.request.observe.as_ref().map(|o| &o.by),
        Some(&MatchBy::Json("data.id".into()))
    );
    assert_eq!(queue.request.send, SendMode::Jetstream);
    assert_eq!(s.jetstream.streams[0].max_msgs, Some(5));
    assert_eq!(s.jetstream.consumers[0].to_string(), "S/c");
    assert_eq!(s.expectations.max_consumer_lag, Some(7));
}

#[test]
fn an_observed_task_injects_errors_when_it_watches_the_dead_letters() {
    let yaml = messaging(
        &[
            "{name: place, subject: orders.placed, send: publish, generate: {model: order}, arg: order, error_rate: 0.2, observe: {subject: order.processed, dead_letter: dlq.order_processing_service}}",
        ],
        "",
    );
    let f = ScenarioFile::parse(&yaml, "t.yaml").expect("valid");
    let place = &f.get("s").expect("s").tasks[0];
    assert_eq!(place.error_rate, 0.2);
    // Subjects that share no message are told apart, wildcards or not.
    for (effect, letter) in [
        ("order.*", "dlq.order"),
        ("order.>", "order"),
        ("a.*.c", "a.b.d"),
    ] {
        let yaml = messaging(
            &[&format!(
                "{{name: p, subject: x.y, send: publish, observe: {{subject: '{effect}', dead_letter: '{letter}'}}}}"
            )],
            "",
        );
        ScenarioFile::parse(&yaml, "t.yaml").unwrap_or_else(|e| panic!("{effect} {letter}: {e}"));
    }
    let o = place.request.observe.as_ref().expect("observed");
    assert_eq!(
        o.dead_letter.as_deref(),
        Some("dlq.order_processing_service")
    );
    // The plan a worker receives keeps it.
    let back: crate::Observe =
        serde_json::from_value(serde_json::to_value(o).expect("json")).expect("back");
    assert_eq!(&back, o);
}

#[test]
fn messaging_mistakes_are_named_with_their_fix() {
    for (tasks, extra, want) in [
        (
            "{name: a, subject: x.y, async: true}",
            "",
            "async: needs service and method",
        ),
        (
            "{service: s, method: m, async: true, send: request}",
            "",
            "an async call is never answered",
        ),
        (
            "{name: a, subject: x.y, observe: {subject: done}}",
            "",
            "add send: publish",
        ),
        (
            "{name: a, subject: x.y, send: publish, expect: {contains: ok}}",
            "",
            "a publish has no reply to check",
        ),
        (
            "{name: a, subject: x.y, send: publish, observe: {subject: 'a..b'}}",
            "",
            "is not a subject to subscribe to",
        ),
        (
            "{name: a, subject: x.y, send: publish, observe: {subject: d, match: {header: 'X Bad'}}}",
            "",
            "is not a header name",
        ),
        (
            "{name: a, subject: x.y, send: publish, generate: {model: order}, error_rate: 0.1, observe: {subject: d}}",
            "",
            "would count as lost",
        ),
        (
            "{name: a, subject: x.y, send: publish, observe: {subject: d, dead_letter: 'dlq x'}}",
            "",
            "dead_letter: \"dlq x\" is not a subject to subscribe to",
        ),
        (
            "{name: a, subject: x.y, send: publish, observe: {subject: d.e, dead_letter: ' d.e'}}",
            "",
            "a dead letter must be told from an effect",
        ),
        (
            "{name: a, subject: x.y, send: publish, observe: {subject: 'order.>', dead_letter: order.dlq}}",
            "",
            "order.dlq shares messages with the effect's subject (order.>)",
        ),
        (
            "{name: a, subject: x.y, send: publish, observe: {subject: order.processed, dead_letter: 'order.*'}}",
            "",
            "a dead letter must be told from an effect",
        ),
        (
            "{name: a, subject: x.y}",
            "    expectations: {max_consumer_lag: 3}\n",
            "add jetstream: {consumers",
        ),
        (
            "{name: a, subject: x.y}",
            "    jetstream: {streams: [{name: a.b, subjects: [x.y]}]}\n",
            "is not a stream or consumer name",
        ),
        (
            "{name: a, subject: x.y}",
            "    jetstream: {streams: [{name: A, subjects: []}]}\n",
            "needs at least one subject",
        ),
    ] {
        let e = error_of(&messaging(&[tasks], extra));
        assert!(e.contains(want), "{tasks} {extra}: {e}");
    }
}

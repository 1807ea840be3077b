//! Templates, data files, saved values and flows: good files resolve, each
//! mistake is named with its place in the file.

use crate::{ConfigError, Payload, RowOrder, RowPer, ScenarioFile};

fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write");
    }
    dir
}

fn parse_in(dir: &tempfile::TempDir, yaml: &str) -> Result<ScenarioFile, ConfigError> {
    let path = dir.path().join("s.yaml");
    std::fs::write(&path, yaml).expect("write");
    ScenarioFile::parse(yaml, &path.display().to_string())
}

const FLOW: &str = r#"
scenarios:
  shop:
    users: 2
    duration: 5s
    data: {file: customers.csv, order: unique, per: user}
    flow: true
    tasks:
      - name: create
        subject: shop.rpc.create
        payload: {email: "{{row.email}}", ref: "r-{{seq}}", qty: "{{random_int 1 5}}"}
        save: {order_id: result.order_id}
      - name: get
        subject: "shop.rpc.get"
        headers: {X-Order: "{{order_id}}"}
        payload: {order_id: "{{order_id}}"}
"#;

#[test]
fn a_flow_with_data_and_saved_values_resolves() {
    let dir = dir_with(&[(
        "customers.csv",
        "email,name\na@example.com,A\nb@example.com,B\n",
    )]);
    let f = parse_in(&dir, FLOW).expect("valid");
    let s = f.get("shop").expect("present");
    let data = s.data_file.as_ref().expect("data");
    assert_eq!(data.table.rows.len(), 2);
    assert_eq!((data.order, data.per), (RowOrder::Unique, RowPer::User));
    assert_eq!(s.vars, ["order_id"]);
    assert!(s.classes[0].flow);
    assert_eq!(s.tasks[0].save.len(), 1);
    assert_eq!(s.tasks[0].save[0].path, "result.order_id");
    assert!(matches!(s.tasks[0].payload, Payload::Template(_)));
    assert_eq!(
        s.tasks[1].headers,
        [("X-Order".to_owned(), "{{order_id}}".to_owned())]
    );
    assert!(
        s.tasks[1].request.headers,
        "own headers come with the standard ones"
    );
}

#[test]
fn a_template_mistake_names_its_line_column_and_the_fix() {
    let dir = dir_with(&[("customers.csv", "email\na@example.com\n")]);
    let e = parse_in(
        &dir,
        &FLOW
            .replace("{{row.email}}", "{{row.mail}}")
            .replace("r-{{seq}}", "{{sqe}}"),
    )
    .expect_err("invalid")
    .to_string();
    assert!(
        e.contains("customers.csv has no column \"mail\" (its columns: email)"),
        "{e}"
    );
    assert!(e.contains("scenarios.shop.tasks[0].payload.email"), "{e}");
    assert!(e.contains("did you mean {{seq}}"), "{e}");
    assert!(e.contains("s.yaml:11:"), "the line of the payload: {e}");
}

#[test]
fn a_value_used_before_a_step_saves_it_is_refused() {
    let dir = dir_with(&[("customers.csv", "email\na@example.com\n")]);
    let swapped = FLOW
        .replace("save: {order_id: result.order_id}", "")
        .replace(
            "payload: {order_id: \"{{order_id}}\"}",
            "payload: {order_id: \"{{order_id}}\"}\n        save: {order_id: result.id}",
        );
    let e = parse_in(&dir, &swapped)
        .expect_err("used before saved")
        .to_string();
    assert!(
        e.contains("uses {{order_id}}, but no earlier step of this flow saves it"),
        "{e}"
    );
}

#[test]
fn data_files_that_cannot_be_used_are_named() {
    let dir = dir_with(&[("bad.csv", "email\n"), ("notes.txt", "x")]);
    let e = parse_in(&dir, &FLOW.replace("customers.csv", "missing.csv"))
        .expect_err("missing")
        .to_string();
    assert!(e.contains("missing.csv") && e.contains("data.file"), "{e}");
    let e = parse_in(&dir, &FLOW.replace("customers.csv", "bad.csv"))
        .expect_err("empty")
        .to_string();
    assert!(e.contains("no rows"), "{e}");
    let e = parse_in(&dir, &FLOW.replace("customers.csv", "notes.txt"))
        .expect_err("txt")
        .to_string();
    assert!(
        e.contains("CSV (.csv, with a header row) or JSON Lines"),
        "{e}"
    );
}

#[test]
fn the_open_model_refuses_what_needs_users() {
    let dir = dir_with(&[("customers.csv", "email\na@example.com\n")]);
    let open = FLOW.replace("users: 2", "arrival_rate: {rate: 10}");
    let e = parse_in(&dir, &open).expect_err("open").to_string();
    assert!(e.contains("open model"), "{e}");
    let user = "scenarios:\n  o:\n    arrival_rate: {rate: 5}\n    duration: 1s\n    tasks:\n      - {name: a, subject: x.a, payload: {u: \"{{user}}\"}}\n";
    let e = ScenarioFile::parse(user, "o.yaml")
        .expect_err("user")
        .to_string();
    assert!(e.contains("{{user}} needs virtual users"), "{e}");
}

#[test]
fn templated_subjects_and_headers_are_checked_as_such() {
    let yaml = "scenarios:\n  t:\n    users: 1\n    duration: 1s\n    tasks:\n      - {name: a, subject: \"orders.{{pick [eu, us]}}.get\"}\n      - {name: b, subject: \"x.{{nope}}\"}\n      - {name: c, subject: x.c, headers: {\"Bad Name\": v}}\n";
    let e = ScenarioFile::parse(yaml, "t.yaml")
        .expect_err("invalid")
        .to_string();
    assert!(e.contains("unknown template field {{nope}}"), "{e}");
    assert!(e.contains("header name"), "{e}");
    let ok = "scenarios:\n  t:\n    users: 1\n    duration: 1s\n    tasks:\n      - {name: a, subject: \"orders.{{pick [eu, us]}}.get\"}\n";
    let f = ScenarioFile::parse(ok, "t.yaml").expect("valid");
    assert!(f.scenarios[0].tasks[0].is_templated());
}

//! Flows in every report (issue 29): a row per flow beside the tasks in the
//! terminal, HTML, Markdown and Locust's stats CSV, never in the totals; no
//! flows section when a run has no flow.

use std::time::Duration;

use cliffload_metrics::{IntervalStats, Outcome, TaskTable};
use cliffload_scenario::ScenarioFile;

use crate::tests::{meta, validate};
use crate::{RunResult, csv_locust, html, markdown, text};

/// A flow `shop` (create → get, the scenario's own tasks): 100 passes, 90
/// of them through both steps in 2–3 ms, 10 whose get failed.
fn shop() -> RunResult {
    let yaml = "scenarios:\n  shop:\n    users: 2\n    duration: 10s\n    flow: true\n    tasks:\n      - {name: create, subject: test.rpc.create}\n      - {name: get, subject: test.rpc.get}\n";
    let s = ScenarioFile::parse(yaml, "t.yaml")
        .expect("valid")
        .get("shop")
        .expect("shop")
        .clone();
    assert!(s.classes.iter().any(|c| c.flow), "a flow class");
    let mut tasks = TaskTable::new(2);
    let mut flows = TaskTable::new(1);
    for i in 0..100u64 {
        tasks.record(0, Outcome::Ok, Duration::from_micros(1_000 + i));
        if i % 10 == 0 {
            tasks.record(1, Outcome::ServiceError, Duration::from_micros(900));
            flows.record(0, Outcome::ServiceError, Duration::from_micros(2_000));
        } else {
            tasks.record(1, Outcome::Ok, Duration::from_micros(1_200 + i * 10));
            flows.record(0, Outcome::Ok, Duration::from_micros(2_300 + i * 10));
        }
    }
    let mut m = meta(&s);
    m.flows = flows;
    let mut only = IntervalStats::from_table(0, &tasks);
    only.total_success_latency = only.success_latency;
    RunResult::build(m, &tasks, &[only])
}

#[test]
fn a_flow_row_has_its_passes_and_is_not_in_the_summary() {
    let r = shop();
    let f = &r.flows[0];
    assert_eq!(
        (f.name.as_str(), f.subject.as_str()),
        ("shop", "create → get")
    );
    assert_eq!((f.requests, f.successes, f.failures), (100, 90, 10));
    assert_eq!(r.summary.requests, 200, "the tasks' requests alone");
    validate(&r);
}

#[test]
fn the_terminal_shows_a_flows_table_after_the_tasks() {
    let r = shop();
    let out = text::render(&r);
    let flows = out.find("flows (").unwrap_or_else(|| panic!("{out}"));
    assert!(out.find("  total ").is_some_and(|t| t < flows), "{out}");
    let row = out[flows..]
        .lines()
        .find(|l| l.trim_start().starts_with("shop "))
        .unwrap_or_else(|| panic!("no flow row:\n{out}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    let p50 = text::latency(f_p50(&r));
    assert_eq!(cells[..4], ["shop", "100", "10", p50.as_str()], "{row}");
    assert!(row.ends_with("create → get"), "{row}");
}

fn f_p50(r: &RunResult) -> u64 {
    r.flows[0].latency_us.p50
}

#[test]
fn the_flows_table_fits_the_terminal_by_cutting_steps_then_names() {
    let mut r = shop();
    r.flows[0].name = "checkout_with_a_very_long_flow_name_indeed".into();
    r.flows[0].subject = ["create", "get", "pay", "ship", "confirm", "review"].join(" → ");
    let style = |width| text::Style {
        colour: false,
        width,
    };
    let narrow = text::render_styled(&r, style(Some(80)));
    let table: Vec<&str> = narrow
        .lines()
        .skip_while(|l| !l.starts_with("flows ("))
        .take(3)
        .collect();
    assert_eq!(table.len(), 3, "{narrow}");
    for line in &table {
        assert!(line.chars().count() <= 80, "{} wide: {line}", line.len());
    }
    // Every figure stays; the steps and the name are cut, marked so.
    assert!(
        table[2].contains(" 100 ") && table[2].contains(" 10 "),
        "{narrow}"
    );
    assert!(table[2].ends_with('…'), "{narrow}");
    assert!(table[2].contains("checkout"), "{narrow}");
    // Without a width (summary.txt): every step, the whole name.
    let wide = text::render_styled(&r, style(None));
    assert!(wide.contains("checkout_with_a_very_long_flow_name_indeed "));
    assert!(wide.contains("confirm → review\n"), "{wide}");
}

#[test]
fn html_and_markdown_have_a_flows_table_beside_the_tasks() {
    let r = shop();
    let p50 = text::latency(f_p50(&r));
    let page = html::render(&r);
    let at = page
        .find("<h2>Flows</h2>")
        .unwrap_or_else(|| panic!("{page}"));
    assert!(page.find("<h2>Tasks</h2>").is_some_and(|t| t < at));
    let row = format!(
        "<tr><td>shop</td><td>create → get</td><td class=\"num\">100</td><td class=\"num\">90</td><td class=\"num\">10</td><td class=\"num\">10.0</td><td class=\"num\">{p50}</td>"
    );
    assert!(page[at..].contains(&row), "{}", &page[at..]);
    assert!(page[at..].contains("ok 90 · service_error 10"));

    let md = markdown::render(&r);
    let at = md.find("\n## Flows\n").unwrap_or_else(|| panic!("{md}"));
    assert!(md.find("\n## Tasks\n").is_some_and(|t| t < at));
    let row = format!("| shop | create → get | 100 | 90 | 10 | 10.0 | {p50} |");
    assert!(md[at..].contains(&row), "{md}");
}

#[test]
fn the_stats_csv_has_a_flow_row_and_aggregates_the_tasks_alone() {
    let stats = csv_locust::stats(&shop());
    let lines: Vec<&str> = stats.lines().collect();
    let flow = lines
        .iter()
        .position(|l| l.starts_with("FLOW,shop,100,10,"))
        .unwrap_or_else(|| panic!("{stats}"));
    assert_eq!(flow, lines.len() - 2, "before Aggregated:\n{stats}");
    assert!(
        lines[lines.len() - 1].starts_with(",Aggregated,200,10,"),
        "the two tasks' 200 requests, not the passes too:\n{stats}"
    );
    // The flow's figures are its passes': 10 failed in 10 s, its median.
    let cells: Vec<&str> = lines[flow].split(',').collect();
    assert_eq!(cells[10], "1.000", "{}", lines[flow]);
    assert_ne!(cells[4], "N/A");
}

#[test]
fn a_run_without_flows_has_no_flows_section() {
    let mut r = shop();
    r.flows.clear();
    let out = text::render(&r);
    assert!(!out.contains("flows"), "{out}");
    assert!(!html::render(&r).contains("Flows"));
    assert!(!markdown::render(&r).contains("Flows"));
    assert!(!csv_locust::stats(&r).contains("FLOW"));
}

#[test]
fn flows_text_snapshot() {
    let out = text::render_styled(
        &shop(),
        text::Style {
            colour: false,
            width: Some(80),
        },
    );
    let flows: String = out
        .lines()
        .skip_while(|l| !l.starts_with("flows ("))
        .take_while(|l| !l.is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    insta::assert_snapshot!(flows);
}

//! The HTML page's tables and charts (issue 14: a report readable at 1400 px).

use std::time::Duration;

use cliffload_metrics::{IntervalStats, Outcome, TaskTable};
use cliffload_monitor::{ProcessSeries, Role, Sample};
use cliffload_scenario::ScenarioFile;

use super::chart::{XAxis, percentile_x};
use super::{bars, charts};
use crate::RunResult;
use crate::tests::{build, meta, scenario};

/// Ten seconds: successes in the first five, then only no_responders.
fn run_that_stops_succeeding() -> RunResult {
    let s = scenario("{}");
    let mut all = TaskTable::new(2);
    let intervals: Vec<IntervalStats> = (0..10u32)
        .map(|sec| {
            let mut t = TaskTable::new(2);
            for k in 0..20 {
                let (o, d) = if sec < 5 {
                    (
                        Outcome::Ok,
                        Duration::from_micros(400 + u64::from(sec) * 10 + k * 37),
                    )
                } else {
                    (Outcome::NoResponders, Duration::from_micros(50))
                };
                t.record(0, o, d);
                all.record(0, o, d);
            }
            let mut i = IntervalStats::from_table(sec, &t);
            i.length = Duration::from_secs(1);
            i.active = 2;
            i
        })
        .collect();
    RunResult::build(meta(&s), &all, &intervals)
}

/// Every `<figure class="chart">` of the page: (its SVG, its legend).
fn figures(html: &str) -> Vec<(&str, &str)> {
    html.split("<figure class=\"chart\">")
        .skip(1)
        .map(|f| {
            let f = &f[..f.find("</figure>").expect("figure closes")];
            let (svg, legend) = f.split_at(f.find("</svg>").expect("an SVG") + "</svg>".len());
            (svg, legend)
        })
        .collect()
}

/// The text of each `<li>` in `legend`.
fn legend_names(legend: &str) -> Vec<&str> {
    legend
        .split("</span>")
        .skip(1)
        .filter_map(|s| s.split("</li>").next())
        .collect()
}

/// `<text … y="Y" …>body</text>` of an SVG, as (y, body).
fn svg_texts(svg: &str) -> Vec<(f64, &str)> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| {
            let y = t.split(" y=\"").nth(1)?.split('"').next()?.parse().ok()?;
            let body = t.split_once('>')?.1.split("</text").next()?.trim();
            Some((y, body))
        })
        .collect()
}

/// True when `svg` draws exactly `text`.
fn draws(svg: &str, text: &str) -> bool {
    svg_texts(svg).iter().any(|t| t.1 == text)
}

#[test]
fn the_percentile_axis_is_hdrhistograms_nines() {
    for (p, x) in [
        (50.0, 2f64.log10()),
        (90.0, 1.0),
        (99.0, 2.0),
        (99.9, 3.0),
        (99.99, 4.0),
    ] {
        assert!(
            (percentile_x(p) - x).abs() < 1e-9,
            "p{p} at {}",
            percentile_x(p)
        );
    }
    let r = run_that_stops_succeeding();
    let c = charts::distribution(&r.summary.latency_us).expect("successes");
    // Issue 27: p50–p99 sat flat on 0 under a linear axis to a 100 ms max.
    assert!(c.y_log && c.y_label.contains("log"), "{}", c.y_label);
    let points = &c.lines[0].points;
    let p999 = points
        .iter()
        .find(|p| (p.0 - 3.0).abs() < 1e-9)
        .expect("a point at x = 3");
    assert!((p999.1 - r.summary.latency_us.p999 as f64 / 1000.0).abs() < 1e-9);
    let svg = c.svg();
    for label in ["p50", "p90", "p99", "p99.9", "p99.99"] {
        assert!(draws(&svg, label), "tick {label} in {svg}");
    }
    assert!(
        !draws(&svg, "100"),
        "no linear 0–100 percentile axis any more"
    );
}

#[test]
fn an_exited_process_stops_at_its_last_sample_instead_of_falling_to_zero() {
    // Regression (issue 14): its RSS was drawn falling to 0. Whether the
    // sampler saw it go (`exited`) or read its zombie as 0 bytes.
    for exited in [true, false] {
        let mut r = run_that_stops_succeeding();
        let samples = (0..10)
            .map(|i| Sample {
                t: f64::from(i),
                rss_bytes: if i <= 6 { 40 << 20 } else { 0 },
                cpu_percent: (i > 0).then_some(20.0),
            })
            .collect();
        crate::processes::apply(
            &mut r,
            1.0,
            vec![ProcessSeries {
                label: "svc".into(),
                role: Role::Service,
                pid: 7,
                exited,
                samples,
            }],
            None,
            None,
        );
        let m = r.monitor.as_ref().expect("monitor");
        let [rss, cpu] = charts::processes(m, &r);
        for c in [&rss, &cpu] {
            let line = &c.lines[0];
            assert_eq!(
                line.points.last().map(|p| p.0),
                Some(6.0),
                "{}: {:?}",
                c.title,
                line.points
            );
            assert!(line.name.contains("exited after 6.0 s"), "{}", line.name);
        }
        assert!(rss.lines[0].points.iter().all(|p| p.1 > 0.0));
    }
}

#[test]
fn every_time_chart_spans_the_run_even_when_the_last_seconds_had_no_success() {
    let r = run_that_stops_succeeding();
    assert_eq!(r.duration_s, 10.0);
    let latency = charts::latency_over_time(&r);
    let last_success = latency.lines[0].points.last().expect("points").0;
    assert_eq!(last_success, 5.0, "the fifth second was the last success");
    let failures = charts::failures(&r).expect("failures");
    for c in [
        &latency,
        &charts::throughput(&r),
        &failures,
        &charts::active(&r),
    ] {
        assert_eq!(c.x, XAxis::Time { end: 10.0 }, "{}", c.title);
    }
    // The axis is labelled to its end.
    assert!(draws(&latency.svg(), "10"));
}

#[test]
fn failures_have_their_own_chart_and_latency_over_time_has_p95() {
    let r = run_that_stops_succeeding();
    let throughput = charts::throughput(&r);
    assert!(
        throughput.lines.iter().all(|l| !l.name.contains("fail")),
        "a failure burst would flatten the successes"
    );
    let failures = charts::failures(&r).expect("failures");
    assert_eq!(failures.lines[0].points.last(), Some(&(10.0, 20.0)));
    let latency = charts::latency_over_time(&r);
    let names: Vec<&str> = latency.lines.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["p50", "p90", "p95", "p99"]);

    let mut t = TaskTable::new(2);
    t.record(0, Outcome::Ok, Duration::from_micros(300));
    let clean = build(&scenario("{}"), &t);
    assert!(charts::failures(&clean).is_none());
    assert!(super::render(&clean).contains("No request failed."));
}

#[test]
fn legends_are_beside_the_charts_never_inside_the_plot() {
    // Regression (issue 14): legends covered the lines.
    let mut r = run_that_stops_succeeding();
    r.connection_events.push(crate::ConnectionEventRow {
        t_s: 6.0,
        worker: 0,
        event: "disconnected".into(),
        detail: "io error".into(),
    });
    let html = super::render(&r);
    let figures = figures(&html);
    assert_eq!(
        figures.len(),
        html.matches("<svg").count(),
        "every chart is a figure"
    );
    for (svg, legend) in figures {
        let names = legend_names(legend);
        assert!(!names.is_empty(), "a legend: {legend}");
        for name in names {
            assert!(!draws(svg, name), "{name:?} drawn inside the SVG");
        }
    }
    assert!(html.contains(">connection lost</li>"));
    assert!(html.contains(">ok</li>") && html.contains(">failed</li>"));
}

#[test]
fn outcome_labels_sit_above_their_bars() {
    // Regression (issue 14): labels were drawn over the bars.
    let r = run_that_stops_succeeding();
    let svg = bars::outcome_bars(&r);
    let label = svg_texts(&svg)
        .into_iter()
        .find(|t| t.1.starts_with("s.ping — ok 100"))
        .expect("the task's label");
    // The bars: filled rectangles other than the white background.
    let tops: Vec<f64> = svg
        .split("<rect")
        .skip(1)
        .filter(|r| !r.contains("#FFFFFF"))
        .filter_map(|r| r.split(" y=\"").nth(1)?.split('"').next()?.parse().ok())
        .collect();
    assert!(!tops.is_empty(), "{svg}");
    // The label's baseline (13 px text hanging from y) is above the bar.
    let bar_top = tops.iter().copied().fold(f64::MAX, f64::min);
    assert!(
        label.0 + 13.0 <= bar_top,
        "label at {} over bar at {bar_top}",
        label.0
    );
}

#[test]
fn the_percentile_table_has_locusts_eleven_columns_per_task() {
    let r = run_that_stops_succeeding();
    let html = super::render(&r);
    let table = html
        .split("<table class=\"percentiles\">")
        .nth(1)
        .and_then(|t| t.split("</table>").next())
        .expect("percentile table");
    let rows: Vec<&str> = table.split("</tr>").filter(|r| r.contains("<t")).collect();
    let header: Vec<&str> = rows[0]
        .split("<th>")
        .skip(1)
        .filter_map(|h| h.split("</th>").next())
        .collect();
    assert_eq!(
        header,
        [
            "task", "p50", "p66", "p75", "p80", "p90", "p95", "p98", "p99", "p99.9", "p99.99",
            "max"
        ]
    );
    // One row per task and one for all of them, each with 12 cells.
    assert_eq!(rows.len(), 1 + r.tasks.len() + 1);
    for row in &rows[1..] {
        assert_eq!(row.matches("<td").count(), 12, "{row}");
    }
    // A task without a success has no latency, not zero.
    assert!(rows[2].contains("<td class=\"num\">-</td>"), "{}", rows[2]);
    insta::assert_snapshot!(table);
}

#[test]
fn long_subjects_break_at_their_dots_only() {
    // Regression (issue 14): `word-break:break-all` made the subject column
    // one letter wide.
    assert_eq!(
        super::breakable_subject("orders.rpc.<b>"),
        "orders.<wbr>rpc.<wbr>&lt;b&gt;"
    );
    assert!(!super::STYLE.contains("break-all"));
}

#[test]
fn the_ratio_per_class_shows_weights_and_measured_shares() {
    let yaml = "user_classes:\n  Buyer:\n    weight: 3\n    tasks:\n      - {name: browse, subject: shop.rpc.browse, weight: 3}\n      - {name: pay, subject: shop.rpc.pay}\n  Admin:\n    weight: 1\n    tasks:\n      - {name: report, subject: shop.rpc.report}\nscenarios:\n  s:\n    users: 4\n    duration: 10s\n    user_classes: [Buyer, Admin]\n";
    let s = ScenarioFile::parse(yaml, "t.yaml")
        .expect("valid")
        .get("s")
        .expect("s")
        .clone();
    let names: Vec<&str> = s.tasks.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["Buyer.browse", "Buyer.pay", "Admin.report"]);
    let mut t = TaskTable::new(3);
    for (i, n) in [60, 40, 100].into_iter().enumerate() {
        for _ in 0..n {
            t.record(i, Outcome::Ok, Duration::from_micros(300));
        }
    }
    let r = build(&s, &t);
    assert_eq!(r.user_classes.len(), 2);
    let buyer_browse = r
        .tasks
        .iter()
        .find(|t| t.name == "Buyer.browse")
        .expect("Buyer.browse");
    assert_eq!(
        (buyer_browse.class.as_deref(), buyer_browse.weight),
        (Some("Buyer"), Some(3))
    );
    crate::tests::validate(&r);
    let html = super::render(&r);
    let ratio = html
        .split("<h2>Ratio per class</h2>")
        .nth(1)
        .expect("ratio");
    // Buyer: 3 of 4 class weights; browse: 3 of its class's 4 task weights,
    // 60 of the class's 100 requests, 60 of all 200.
    assert!(
        ratio.contains("Buyer</td><td class=\"num\" rowspan=\"2\">75.0%</td><td>browse</td><td class=\"num\">75.0%</td><td class=\"num\">60.0%</td><td class=\"num\">30.0%</td>"),
        "{ratio}"
    );
    assert!(ratio.contains("<td>report</td><td class=\"num\">100.0%</td><td class=\"num\">100.0%</td><td class=\"num\">50.0%</td>"), "{ratio}");

    // A result.json from before classes were recorded still reads and shows
    // the measured shares.
    let mut v: serde_json::Value = serde_json::from_str(&r.to_json()).expect("json");
    v.as_object_mut().expect("object").remove("user_classes");
    for t in v["tasks"].as_array_mut().expect("tasks") {
        let t = t.as_object_mut().expect("task");
        t.remove("class");
        t.remove("weight");
    }
    let old: RunResult = serde_json::from_value(v).expect("older result.json reads");
    let html = super::render(&old);
    assert!(html.contains("(not recorded)"), "{html}");
}

#[test]
fn a_run_without_a_success_says_so_instead_of_drawing_empty_latency_charts() {
    let mut t = TaskTable::new(2);
    for _ in 0..50 {
        t.record(0, Outcome::NoResponders, Duration::from_micros(60));
    }
    let html = super::render(&build(&scenario("{}"), &t));
    assert_eq!(
        html.matches("No successful request: no latency to show.")
            .count(),
        2
    );
    // Successes (flat), failures, users, outcomes.
    assert_eq!(html.matches("<svg").count(), 4);
}

#[test]
fn a_log_axis_is_ticked_at_round_figures_across_its_range() {
    let labels = |lo, hi| -> Vec<String> {
        super::axis::LabelledAxis::log(lo, hi)
            .ticks
            .into_iter()
            .map(|t| t.1)
            .collect()
    };
    assert_eq!(labels(0.3, 1.3), ["0.3", "0.5", "0.7", "1", "1.5"]);
    assert_eq!(labels(20.0, 600.0), ["20", "50", "100", "200", "500"]);
    assert_eq!(labels(0.2, 5000.0), ["1", "10", "100", "1000"]);
}

/// A run of `stages` (a scenario's `stages:` list) whose per-second users
/// or in-flight counts were `active`, 10 requests a second.
fn staged_run(stages: &str, active: &[u32], open: bool) -> RunResult {
    let yaml = format!(
        "scenarios:\n  s:\n    stages: {stages}\n    tasks:\n      - {{name: ping, subject: test.rpc.ping}}\n"
    );
    let file = ScenarioFile::parse(&yaml, "t.yaml").expect("valid");
    let s = file.get("s").expect("s").clone();
    let mut all = TaskTable::new(1);
    let intervals: Vec<IntervalStats> = active
        .iter()
        .zip(0u32..)
        .map(|(a, sec)| {
            let mut t = TaskTable::new(1);
            for _ in 0..10 {
                t.record(0, Outcome::Ok, Duration::from_micros(300));
                all.record(0, Outcome::Ok, Duration::from_micros(300));
            }
            let mut i = IntervalStats::from_table(sec, &t);
            i.length = Duration::from_secs(1);
            i.active = *a;
            i
        })
        .collect();
    let mut m = crate::tests::meta(&s);
    m.elapsed = Duration::from_secs(active.len() as u64);
    if open {
        m.open = Some(crate::OpenMeasures {
            intended: all.clone(),
            never_sent_wait: Default::default(),
            planned: all.counts().total(),
            sent: all.counts().total(),
            never_sent: 0,
            late: 0,
        });
    }
    RunResult::build(m, &all, &intervals)
}

#[test]
fn the_users_chart_draws_the_planned_stages_beside_the_users_that_ran() {
    let r = staged_run(
        "[{duration: 1s, users: 4}, {duration: 1s, users: 4}, {duration: 1s, users: 0}]",
        &[4, 4, 0],
        false,
    );
    crate::tests::validate(&r);
    let c = charts::active(&r);
    let names: Vec<&str> = c.lines.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["users running", "planned users"]);
    assert_eq!(c.lines[0].points, [(1.0, 4.0), (2.0, 4.0), (3.0, 0.0)]);
    assert_eq!(
        c.lines[1].points,
        [(0.0, 0.0), (1.0, 4.0), (2.0, 4.0), (3.0, 0.0)]
    );
    assert!(charts::arrivals(&r).is_none(), "a closed model");
    let html = super::render(&r);
    assert!(html.contains("planned users"), "in the legend");
    assert!(
        html.contains(
            "up to 4 users in stages (→ 4 users over 1 s, 4 users for 1 s, → 0 users over 1 s)"
        ),
        "the load in words"
    );
    // A load without stages draws no plan.
    let plain = build(&scenario("{}"), &TaskTable::new(2));
    assert_eq!(charts::active(&plain).lines.len(), 1);
}

#[test]
fn rate_stages_get_a_chart_of_the_arrival_rate_against_the_plan() {
    let r = staged_run(
        "[{duration: 2s, rate: 20}, {duration: 1s, rate: 0}]",
        &[1, 1, 1],
        true,
    );
    crate::tests::validate(&r);
    let c = charts::arrivals(&r).expect("an arrival-rate chart");
    let names: Vec<&str> = c.lines.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["requests/s (completed)", "planned arrivals/s"]);
    assert_eq!(c.lines[0].points, [(0.5, 10.0), (1.5, 10.0), (2.5, 10.0)]);
    assert_eq!(c.lines[1].points, [(0.0, 0.0), (2.0, 20.0), (3.0, 0.0)]);
    assert_eq!(charts::active(&r).lines.len(), 1, "in flight has no plan");
    assert!(super::render(&r).contains("Arrival rate against the plan"));
}

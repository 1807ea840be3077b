use super::*;
use crate::RunResult;
use crate::tests::run_with;
use crate::trend::judge;

/// Remembered runs at `scales` (±3 % of wiggle), ids from 1, a label each
/// from run 10 on, run 16's hostile.
fn history(scales: &[f64]) -> Vec<PastRun> {
    const WIGGLE: [f64; 5] = [0.0, 0.03, -0.02, 0.01, -0.03];
    scales
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let id = i as i64 + 1;
            let label = match id {
                16 => Some("<b>v2</b>".to_owned()),
                10.. => Some(format!("v1.{id}")),
                _ => None,
            };
            let mut p = PastRun::of(&run_with(s * (1.0 + WIGGLE[i % 5]), 5), id, label);
            p.started_at = format!("2026-12-01T{:02}:{:02}:00Z", i / 6, i * 7 % 60);
            p
        })
        .collect()
}

/// Fifteen runs at 1.0, four at 1.3, then this run at 1.3: a step at run 16.
fn stepped() -> RunResult {
    let mut scales = vec![1.0; 15];
    scales.extend([1.3; 4]);
    let mut r = run_with(1.3, 5);
    judge(&mut r, &history(&scales), "<h>/history.sqlite", 20.0);
    r
}

#[test]
fn the_report_draws_twenty_runs_with_their_step_and_lists_them_newest_first() {
    let r = stepped();
    let t = r.trend.as_ref().expect("a trend");
    assert_eq!(t.runs.len(), 20);
    let p50 = t
        .steps
        .iter()
        .find(|s| s.figure == "p50_us")
        .expect("a p50 step");
    assert_eq!(p50.index, 15, "at run 16");
    assert!(p50.regressed);

    let html = crate::html::render(&r);
    let at = html
        .find("<h2>Over the last 20 runs</h2>")
        .expect("the section");
    assert!(
        html.find("<h2>Against the baseline")
            .expect("the baseline table")
            < at,
        "after the baseline table"
    );
    let section = &html[at..];
    let section = &section[..section.find("<h2>Ratio per class").unwrap_or(section.len())];
    assert_eq!(section.matches("<svg").count(), 2, "latency, and rates");
    assert!(
        section.contains("in &lt;h&gt;/history.sqlite"),
        "the store, escaped"
    );
    // The step's caption in the legend, escaped (its label is hostile),
    // beside a dashed swatch in the failure colour.
    let caption = describe_step(t, p50);
    assert!(caption.contains("at run 16 (<b>v2</b>, "), "{caption}");
    assert!(section.contains(&format!(
        "<span class=\"swatch line dashed\" style=\"border-color:#d62728\"></span>{}</li>",
        escape(&caption)
    )));
    assert!(!section.contains("<b>"), "no label unescaped");
    // Its tag at the top of its line, and this run on the x axis.
    assert!(section.contains(">\np50 +29."), "the step's tag in the SVG");
    assert!(section.contains(">\nthis run\n</text>"), "this run's tick");
    // The table: this run first and in bold, then #19 down to #1.
    let rows: Vec<&str> = section.lines().filter(|l| l.starts_with("<tr")).collect();
    assert_eq!(rows.len(), 20, "a row per run (the header opens the table)");
    assert!(
        rows[0].starts_with("<tr class=\"total\"><td>this run</td>"),
        "{}",
        rows[0]
    );
    assert!(
        rows[1].starts_with("<tr><td>#19</td><td>2026-12-01 03:06</td><td>v1.19</td>"),
        "{}",
        rows[1]
    );
    assert!(
        rows[4].contains("<td>&lt;b&gt;v2&lt;/b&gt;</td>"),
        "{}",
        rows[4]
    );
    assert!(rows[19].starts_with("<tr><td>#1</td>"), "{}", rows[19]);
}

#[test]
fn the_summaries_say_the_trend_in_one_line() {
    let r = stepped();
    let text = crate::text::render(&r);
    let line = text
        .lines()
        .find(|l| l.starts_with("trend: "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        line.starts_with(
            "trend: 20 runs of this scenario in <h>/history.sqlite; steps: p50 stepped from"
        ),
        "{line}"
    );
    let md = crate::markdown::render(&r);
    assert!(
        md.contains("\ntrend: 20 runs of this scenario in &lt;h>/history.sqlite; steps: "),
        "{md}"
    );
    let mut calm = r.clone();
    if let Some(t) = calm.trend.as_mut() {
        t.steps.clear();
    }
    assert!(crate::text::render(&calm).contains("in <h>/history.sqlite; no step\n"));
    assert!(crate::html::render(&calm).contains("<p>No step in these runs.</p>"));
}

#[test]
fn run_labels_never_crowd_and_this_run_is_always_labelled() {
    let r = stepped();
    let t = r.trend.as_ref().expect("a trend");
    for plot_px in [150.0, 320.0, 750.0, 3000.0] {
        let (ticks, _) = run_ticks(t, plot_px);
        assert_eq!(ticks.last().map(|x| x.1.as_str()), Some("this run"));
        let slot = plot_px / t.runs.len() as f64;
        for w in ticks.windows(2) {
            let apart = (w[1].0 - w[0].0) * slot;
            let half_widths = (w[0].1.chars().count() + w[1].1.chars().count()) as f64 * 3.5;
            assert!(apart >= half_widths, "{ticks:?} at {plot_px} px");
        }
    }
    // Wide: every run, and its label where every labelled tick has one.
    let (wide, labelled) = run_ticks(t, 3000.0);
    assert_eq!(wide.len(), 20);
    assert_eq!(wide[0].1, "#1", "runs 1-9 have no label");
    assert!(!labelled);
}

#[test]
fn the_first_run_of_a_scenario_says_so_rather_than_counting_one() {
    let r = run_with(1.0, 5);
    let t = crate::trend::Trend::new("results/history.sqlite".into(), &[], &r, 20.0);
    let line = crate::text::trend_line(&t);
    assert_eq!(
        line,
        "trend: the first run of this scenario in results/history.sqlite (cliffload history lists the runs)"
    );
}

use super::*;
use crate::tests::run_with;

/// `n` remembered runs of the same scenario as `run_with`, each at `scale`
/// with ±3 % of run-to-run wiggle, passing.
fn history(scales: &[f64]) -> Vec<PastRun> {
    const WIGGLE: [f64; 5] = [0.0, 0.03, -0.02, 0.01, -0.03];
    scales
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut p = PastRun::of(&run_with(s * (1.0 + WIGGLE[i % 5]), 5), i as i64 + 1, None);
            p.started_at = format!("2026-12-01T{:02}:00:00Z", i % 24);
            p
        })
        .collect()
}

fn check<'a>(r: &'a RunResult, name: &str) -> Option<&'a Check> {
    r.verdict.checks.iter().find(|c| c.name == name)
}

#[test]
fn a_thirty_percent_slowdown_is_a_regression_against_the_history_and_a_usual_run_is_not() {
    let past = history(&[1.0; 12]);
    let mut usual = run_with(1.01, 5);
    judge(&mut usual, &past, "h.sqlite", 20.0);
    let c = check(&usual, "no_regression").expect("judged");
    assert_eq!(c.status, Status::Passed, "{c:?}");
    assert!(
        c.expected.contains("last 12 passing runs"),
        "{}",
        c.expected
    );
    assert_eq!(
        check(&usual, "no_step_change").expect("judged").status,
        Status::Passed
    );
    let b = usual.baseline.as_ref().expect("a table");
    assert!(
        b.against().contains("median of 12 passing runs"),
        "{}",
        b.against()
    );

    let mut slow = run_with(1.3, 5);
    judge(&mut slow, &past, "h.sqlite", 20.0);
    let c = check(&slow, "no_regression").expect("judged");
    assert_eq!(c.status, Status::Failed, "{c:?}");
    assert!(
        c.actual.contains("s.ping median") && c.actual.contains("slower"),
        "{}",
        c.actual
    );
    // One slow run is not a step: the series judges a lasting change.
    assert_eq!(
        check(&slow, "no_step_change").expect("judged").status,
        Status::Passed
    );
}

#[test]
fn a_lasting_step_fails_the_step_check_once_the_series_shows_it() {
    // Five slow runs after fifteen: the slow ones became the "usual" for a
    // median of the recent runs only if they passed; the series still shows the step.
    let mut scales = vec![1.0; 15];
    scales.extend([1.3; 4]);
    let past = history(&scales);
    let mut r = run_with(1.3, 5);
    judge(&mut r, &past, "h.sqlite", 20.0);
    let c = check(&r, "no_step_change").expect("judged");
    assert_eq!(c.status, Status::Failed, "{c:?}");
    assert!(
        c.actual.contains("p50 stepped from") && c.actual.contains("at run 16"),
        "{}",
        c.actual
    );
    let trend = r.trend.as_ref().expect("a trend");
    assert_eq!(trend.runs.len(), 20);
    assert_eq!(trend.runs.last().map(|p| p.id), Some(0), "this run is last");
}

#[test]
fn too_few_passing_runs_warn_instead_of_judging() {
    let mut past = history(&[1.0; 4]);
    past[0].verdict = "failed".into();
    past[1].interrupted = true;
    let mut r = run_with(1.0, 5);
    let checks = r.verdict.checks.len();
    judge(&mut r, &past, "results/history.sqlite", 20.0);
    assert_eq!(r.verdict.checks.len(), checks, "no check added");
    assert!(
        r.warnings.iter().any(|w| matches!(
            w,
            Warning::HistoryShort {
                passing: 2,
                needed: 3,
                ..
            }
        )),
        "{:?}",
        r.warnings
    );
    let words = r.warnings.last().expect("a warning").to_string();
    assert!(
        words.contains("results/history.sqlite has 2 passing run(s)"),
        "{words}"
    );
}

#[test]
fn the_result_with_its_trend_and_histograms_matches_the_schema_and_reads_back() {
    let past = history(&[1.0; 8]);
    let mut r = run_with(1.0, 5);
    judge(&mut r, &past, "h.sqlite", 20.0);
    crate::tests::validate(&r);
    let back: RunResult = serde_json::from_str(&r.to_json()).expect("reads back");
    assert_eq!(back, r);
    let h = &back.tasks[0]
        .latency_histogram
        .as_ref()
        .expect("a histogram")
        .0;
    assert_eq!(h.count(), back.tasks[0].successes);
    assert_eq!(h.quantile_us(0.5), back.tasks[0].latency_us.p50);
}

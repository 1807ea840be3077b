use super::*;
use crate::tests::run_with;

fn row<'a>(d: &'a Diff, task: &str, figure: &str) -> &'a DiffRow {
    d.rows
        .iter()
        .find(|r| r.task == task && r.figure == figure)
        .unwrap_or_else(|| panic!("no row {task} {figure}: {:?}", d.rows))
}

#[test]
fn a_thirty_percent_slowdown_is_worse_and_the_same_run_is_the_same() {
    let base = run_with(1.0, 5);
    let d = Diff::of((&base, "a".into()), (&run_with(1.0, 5), "b".into()), 5.0);
    assert!(d.same_scenario);
    assert_eq!(d.worse().count(), 0, "{:?}", d.rows);
    let p50 = row(&d, "s.ping", "p50_us");
    assert_eq!(p50.verdict, Change::Same);
    let (lo, hi) = p50.before_ci.expect("from the histogram");
    assert!(lo <= p50.before && p50.before <= hi, "{p50:?}");

    let d = Diff::of((&base, "a".into()), (&run_with(1.3, 5), "b".into()), 5.0);
    let p50 = row(&d, "s.ping", "p50_us");
    assert_eq!(p50.verdict, Change::Worse, "{p50:?}");
    assert!((p50.change - 30.0).abs() < 2.0, "{p50:?}");
    assert_eq!(row(&d, ALL_TASKS, "p50_us").verdict, Change::Worse);
    // Backwards it is better.
    let d = Diff::of((&run_with(1.3, 5), "a".into()), (&base, "b".into()), 5.0);
    assert_eq!(row(&d, "s.ping", "p99_us").verdict, Change::Better);
}

#[test]
fn a_small_shift_is_not_reported_and_without_histograms_it_is_said() {
    let base = run_with(1.0, 5);
    let d = Diff::of((&base, "a".into()), (&run_with(1.03, 5), "b".into()), 5.0);
    assert_eq!(row(&d, "s.ping", "p50_us").verdict, Change::Same);
    let mut old = base.clone();
    for t in &mut old.tasks {
        t.latency_histogram = None;
    }
    old.scenario_hash = None;
    let d = Diff::of((&old, "a".into()), (&run_with(1.3, 5), "b".into()), 5.0);
    assert!(!d.same_scenario);
    assert!(
        d.notes.iter().any(|n| n.contains("no latency histograms")),
        "{:?}",
        d.notes
    );
    assert_eq!(row(&d, "s.ping", "p50_us").before_ci, None);
    assert_eq!(
        row(&d, "s.ping", "p50_us").verdict,
        Change::Worse,
        "judged on the change alone"
    );
}

#[test]
fn a_quantile_interval_narrows_with_more_requests() {
    let mut few = LatencyHistogram::new();
    let mut many = LatencyHistogram::new();
    for i in 0..50u64 {
        few.record_us(1000 + i * 20);
    }
    for i in 0..50_000u64 {
        many.record_us(1000 + (i % 50) * 20);
    }
    let (a, b) = quantile_ci(&few, 0.99).expect("some");
    let (c, d) = quantile_ci(&many, 0.99).expect("some");
    assert!(d - c < b - a, "{a}-{b} vs {c}-{d}");
    assert_eq!(quantile_ci(&LatencyHistogram::new(), 0.5), None);
}

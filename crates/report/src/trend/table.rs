//! `cliffload history`: the remembered runs as a table, and the steps in
//! each scenario's series under it.

use std::fmt::Write as _;

use super::{PastRun, Trend, describe_step, steps};
use crate::text::latency;

/// The runs (oldest first) as a table, newest first, then for each scenario
/// (by hash) with 6 or more runs, the steps its series shows.
pub fn text(runs: &[PastRun], store: &str, allowance: f64) -> String {
    let mut out = String::new();
    if runs.is_empty() {
        let _ = writeln!(
            out,
            "no runs in {store} yet: `cliffload run` remembers every run there (unless --no-history)"
        );
        return out;
    }
    let width = |f: &dyn Fn(&PastRun) -> usize, min: usize, max: usize| {
        runs.iter().map(f).max().unwrap_or(min).clamp(min, max)
    };
    let sw = width(&|r| r.scenario.chars().count(), 8, 24);
    let lw = width(
        &|r| r.label.as_deref().map_or(1, |l| l.chars().count()),
        5,
        16,
    );
    let dw = width(&|r| r.load.chars().count(), 4, 28);
    let _ = writeln!(
        out,
        "{:>5}  {:<16}  {:<sw$}  {:<lw$}  {:<dw$}  {:>9}  {:>9}  {:>9}  {:>7}  verdict",
        "id", "started (UTC)", "scenario", "label", "load", "req/s", "p50", "p99", "fail%"
    );
    for r in runs.iter().rev() {
        let verdict = if r.interrupted {
            format!("{} (interrupted)", r.verdict)
        } else {
            r.verdict.clone()
        };
        let _ = writeln!(
            out,
            "{:>5}  {:<16}  {:<sw$}  {:<lw$}  {:<dw$}  {:>9.1}  {:>9}  {:>9}  {:>7.2}  {verdict}",
            r.id,
            minute(&r.started_at),
            cut(&r.scenario, sw),
            cut(r.label.as_deref().unwrap_or("-"), lw),
            cut(&r.load, dw),
            r.rps,
            latency(r.p50_us),
            latency(r.p99_us),
            r.failure_percent,
        );
    }
    for group in groups(runs) {
        if group.len() < 6 {
            continue;
        }
        let trend = Trend {
            store: store.to_owned(),
            runs: group.clone(),
            steps: steps(&group, allowance),
        };
        let name = &group[0].scenario;
        if trend.steps.is_empty() {
            let _ = writeln!(out, "{name}: no step over its last {} runs", group.len());
        }
        for s in &trend.steps {
            let mark = if s.regressed { "✗ worse: " } else { "" };
            let _ = writeln!(out, "{name}: {mark}{}", describe_step(&trend, s));
        }
    }
    out
}

/// The runs of each scenario hash, oldest first, in the order each hash first appears.
fn groups(runs: &[PastRun]) -> Vec<Vec<PastRun>> {
    let mut out: Vec<Vec<PastRun>> = Vec::new();
    for r in runs {
        match out
            .iter_mut()
            .find(|g| g[0].scenario_hash == r.scenario_hash)
        {
            Some(g) => g.push(r.clone()),
            None => out.push(vec![r.clone()]),
        }
    }
    out
}

/// "2026-12-07T04:01:22.5Z" → "2026-12-07 04:01".
pub fn minute(rfc3339: &str) -> String {
    rfc3339.get(..16).unwrap_or(rfc3339).replacen('T', " ", 1)
}

fn cut(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::run_with;

    #[test]
    fn the_table_is_newest_first_and_names_a_step() {
        let mut runs: Vec<PastRun> = (0..14)
            .map(|i| {
                let scale = if i < 8 { 1.0 } else { 1.4 };
                let mut p = PastRun::of(&run_with(scale, 5), i + 1, Some(format!("c{i}")));
                p.started_at = format!("2026-12-07T{i:02}:00:00Z");
                p
            })
            .collect();
        runs[3].interrupted = true;
        let t = text(&runs, "h.sqlite", 20.0);
        let lines: Vec<&str> = t.lines().collect();
        assert!(
            lines[0].contains("req/s") && lines[0].contains("p99"),
            "{t}"
        );
        assert!(
            lines[1].trim_start().starts_with("14 ") && lines[1].contains("c13"),
            "{t}"
        );
        assert!(
            t.contains("2026-12-07 03:00") && t.contains("(interrupted)"),
            "{t}"
        );
        assert!(
            t.contains("s: ✗ worse: p50 stepped from") && t.contains("at run 9"),
            "{t}"
        );
        assert!(text(&[], "h.sqlite", 20.0).contains("no runs in h.sqlite yet"));
    }
}

//! The terminal summary: an aligned table per task, outcomes, the verdict.

use std::fmt::Write;

use cliffload_metrics::{Outcome, visible};

use crate::result::{LatencyUs, RunResult};
use crate::verdict::{Status, percent};

/// Formats a latency in µs: `850µs` below 1 ms (never rounded to whole
/// milliseconds), `12.35ms` below 1 s, `1.234s` above.
/// A latency of a row's successful requests, or `-` when it has none (its
/// summary is then zeros, not a measurement).
pub(crate) fn success_latency(row: &crate::TaskRow, us: u64) -> String {
    if row.successes > 0 {
        latency(us)
    } else {
        "-".to_owned()
    }
}

pub fn latency(us: u64) -> String {
    match us {
        0..=999 => format!("{us}µs"),
        1_000..=999_999 => format!("{:.2}ms", us as f64 / 1e3),
        _ => format!("{:.3}s", us as f64 / 1e6),
    }
}

/// The summary table's columns: header and width (the task column's width
/// is the longest name's).
const COLUMNS: [(&str, usize); 11] = [
    ("task", 0),
    ("requests", 10),
    ("ok", 10),
    ("rejected", 9),
    ("failed", 8),
    ("req/s", 10),
    ("p50", 9),
    ("p90", 9),
    ("p99", 9),
    ("p99.9", 9),
    ("max", 9),
];

/// Columns given up, in this order, when the table is wider than the
/// terminal: each is implied by others or is detail kept in result.json.
/// (Numbers are never wrapped: a wrapped figure is harder to read than a
/// missing column.)
const DROP_ORDER: [usize; 5] = [9, 7, 10, 3, 1];

/// The narrowest task column before names are cut.
const MIN_NAME_WIDTH: usize = 8;

/// Which columns are shown and how wide the task column is, to fit `width`.
#[derive(Debug, Clone, PartialEq)]
struct Layout {
    shown: Vec<usize>,
    name_width: usize,
}

impl Layout {
    fn fit(longest_name: usize, width: Option<usize>) -> Self {
        let mut layout = Self {
            shown: (0..COLUMNS.len()).collect(),
            name_width: longest_name.max(14),
        };
        let Some(width) = width else { return layout };
        let mut drops = DROP_ORDER.iter();
        while layout.width() > width {
            match drops.next() {
                Some(c) => layout.shown.retain(|s| s != c),
                None => break,
            }
        }
        if layout.width() > width {
            let others = layout.width() - layout.name_width;
            layout.name_width = width.saturating_sub(others).max(MIN_NAME_WIDTH);
        }
        layout
    }

    /// Characters in a row: 2 of indent, the task column, then a space and each column.
    fn width(&self) -> usize {
        2 + self.name_width
            + self.shown[1..]
                .iter()
                .map(|&c| COLUMNS[c].1 + 1)
                .sum::<usize>()
    }

    fn hidden(&self) -> Vec<&'static str> {
        (0..COLUMNS.len())
            .filter(|c| !self.shown.contains(c))
            .map(|c| COLUMNS[c].0)
            .collect()
    }

    fn row(&self, out: &mut String, cells: &[String]) {
        for &c in &self.shown {
            let cell = &cells[c];
            if c == 0 {
                let w = self.name_width;
                let _ = write!(out, "  {:<w$}", cut(cell, w));
            } else {
                let w = COLUMNS[c].1;
                let _ = write!(out, " {cell:>w$}");
            }
        }
        out.push('\n');
    }
}

/// `s` cut to `width` characters, ending in `…` when cut.
pub(crate) fn cut(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(width.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

fn latency_cells(l: &LatencyUs, any: bool) -> [String; 5] {
    if !any {
        return std::array::from_fn(|_| "-".to_owned());
    }
    [
        latency(l.p50),
        latency(l.p90),
        latency(l.p99),
        latency(l.p999),
        latency(l.max),
    ]
}

/// Renders the summary as plain text (no colour, every column).
pub fn render(r: &RunResult) -> String {
    render_styled(r, Style::default())
}

/// How the summary is drawn.
#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    /// ANSI colours on the verdict, checks, claims and warnings.
    pub colour: bool,
    /// The terminal's width in columns: the table gives up its least
    /// important columns, then cuts task names, to fit. `None`: every column.
    pub width: Option<usize>,
}

const GREEN: &str = "\x1b[32m";
const RED: &str = "\x1b[31m";
const YELLOW: &str = "\x1b[33m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

/// `s` in ANSI `style` when `colour`, else as is.
fn paint(s: &str, style: &str, colour: bool) -> String {
    if colour {
        format!("{style}{s}{RESET}")
    } else {
        s.to_owned()
    }
}

/// Renders the summary for a terminal (see [`Style`]).
pub fn render_styled(r: &RunResult, style: Style) -> String {
    let mut out = String::new();
    header(&mut out, r);
    out.push('\n');
    task_table(&mut out, r, style.width);
    open_model(&mut out, r);
    out.push('\n');
    flow_table(&mut out, r, style.width);
    outcomes(&mut out, r);
    failures(&mut out, r);
    comparison_and_processes(&mut out, r);
    baseline(&mut out, r, style.colour);
    if let Some(t) = &r.trend {
        let _ = writeln!(out, "{}", visible(&trend_line(t)));
    }
    warnings(&mut out, r, style.colour);
    out.push('\n');
    verdict(&mut out, r, style.colour);
    out
}

/// The run in one line: scenario, load, duration, seed, server.
fn header(out: &mut String, r: &RunResult) {
    let _ = writeln!(
        out,
        "cliffload · {} · {} · {:.1} s{} · seed {} · {}{}",
        r.scenario,
        r.load.describe(),
        r.duration_s,
        if r.interrupted { " (interrupted)" } else { "" },
        r.seed,
        r.target.nats_url,
        if r.target.embedded { " (embedded)" } else { "" },
    );
}

/// A row per task and a total, fitted to `width`, and what it left out.
fn task_table(out: &mut String, r: &RunResult, width: Option<usize>) {
    let longest = r.tasks.iter().map(|t| t.name.chars().count()).max();
    let layout = Layout::fit(longest.unwrap_or(0), width);
    layout.row(out, &COLUMNS.map(|(h, _)| h.to_owned()));
    let mut line =
        |name: &str, req: u64, ok: u64, rej: u64, fail: u64, rps: f64, lat: &LatencyUs| {
            let mut cells = vec![
                name.to_owned(),
                req.to_string(),
                ok.to_string(),
                rej.to_string(),
                fail.to_string(),
                format!("{rps:.1}"),
            ];
            cells.extend(latency_cells(lat, ok > 0));
            layout.row(out, &cells);
        };
    for t in &r.tasks {
        line(
            &t.name,
            t.requests,
            t.successes,
            t.rejected,
            t.failures,
            t.rps,
            &t.latency_us,
        );
    }
    let s = &r.summary;
    line(
        "total",
        s.requests,
        s.successes,
        s.rejected,
        s.failures,
        s.rps,
        &s.latency_us,
    );
    out.push_str("  (latency percentiles are of successful requests, from their send)\n");
    let hidden = layout.hidden();
    if !hidden.is_empty() {
        let _ = writeln!(
            out,
            "  (not shown, to fit: {}; all are in summary.txt)",
            hidden.join(", ")
        );
    }
}

/// The flows table's columns after the name: header and width. Steps come
/// last, as the one column that can be cut.
const FLOW_COLUMNS: [(&str, usize); 5] = [
    ("passes", 8),
    ("failed", 8),
    ("p50", 9),
    ("p95", 9),
    ("p99", 9),
];

/// The fewest characters of the steps shown before the name is cut instead.
const MIN_STEPS_WIDTH: usize = 16;

/// A row per flow: its whole passes, those that failed, the latency of
/// those that succeeded, and its steps; fitted to `width` by cutting the
/// steps, then the name (every figure stays). Nothing without flows.
fn flow_table(out: &mut String, r: &RunResult, width: Option<usize>) {
    if r.flows.is_empty() {
        return;
    }
    let longest = r.flows.iter().map(|f| f.name.chars().count()).max();
    let mut name_width = longest.unwrap_or(0).max("flow".len());
    // Indent, name, the figures, two spaces before the steps.
    let fixed = 2 + FLOW_COLUMNS.iter().map(|c| c.1 + 1).sum::<usize>() + 2;
    let steps_width = width.map(|w| {
        let room = w.saturating_sub(fixed + MIN_STEPS_WIDTH);
        name_width = name_width.min(room).max(MIN_NAME_WIDTH);
        w.saturating_sub(fixed + name_width).max(MIN_STEPS_WIDTH)
    });
    out.push_str("flows (each pass runs every step; latency of the passes that succeeded):\n");
    let mut row = |name: &str, figures: [String; 5], steps: &str| {
        let _ = write!(out, "  {:<name_width$}", cut(name, name_width));
        for ((_, w), cell) in FLOW_COLUMNS.iter().zip(figures) {
            let _ = write!(out, " {cell:>w$}");
        }
        let steps = steps_width.map_or_else(|| steps.to_owned(), |w| cut(steps, w));
        let _ = writeln!(out, "  {steps}");
    };
    row("flow", FLOW_COLUMNS.map(|(h, _)| h.to_owned()), "steps");
    for f in &r.flows {
        let l = &f.latency_us;
        let lat = |us| crate::text::success_latency(f, us);
        row(
            &f.name,
            [
                f.requests.to_string(),
                f.failures.to_string(),
                lat(l.p50),
                lat(l.p95),
                lat(l.p99),
            ],
            &f.subject,
        );
    }
    out.push('\n');
}

/// Open model only: latency from the intended send time, and the arrivals.
fn open_model(out: &mut String, r: &RunResult) {
    let Some(o) = &r.open_model else { return };
    let l = &o.intended_latency_us;
    let _ = writeln!(
        out,
        "  from the intended send time (what the checks judge): p50 {} p90 {} p99 {} p99.9 {} max {}",
        latency(l.p50),
        latency(l.p90),
        latency(l.p99),
        latency(l.p999),
        latency(l.max)
    );
    let _ = writeln!(
        out,
        "  arrivals: {} planned, {} sent ({} late), {} never sent",
        o.planned, o.sent, o.late, o.never_sent
    );
}

/// Outcome counts in words: `ok 120 · timeout 3`.
pub(crate) fn outcome_words(counts: impl Iterator<Item = (Outcome, u64)>) -> String {
    counts
        .map(|(o, n)| format!("{} {n}", o.name()))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// The outcome counts, then each task's outcomes other than `ok`.
fn outcomes(out: &mut String, r: &RunResult) {
    let outcomes = outcome_words(r.summary.outcomes.iter().map(|(o, n)| (*o, *n)));
    let _ = writeln!(
        out,
        "outcomes: {}",
        if outcomes.is_empty() {
            "none"
        } else {
            &outcomes
        }
    );
    for t in &r.tasks {
        for (o, e) in t.outcomes.iter().filter(|(o, _)| **o != Outcome::Ok) {
            let _ = writeln!(
                out,
                "  {}: {} {} (after {} median)",
                t.name,
                e.count,
                o.name(),
                latency(e.latency_us.p50)
            );
        }
    }
}

/// The most frequent failure messages, the failure rate and successful req/s.
fn failures(out: &mut String, r: &RunResult) {
    let top = r.top_failures(5);
    if !top.is_empty() {
        out.push_str("top failure messages:\n");
        for (t, e) in top {
            let _ = writeln!(
                out,
                "  {} × {} {}: {}",
                e.count,
                t.name,
                e.outcome.name(),
                visible(&e.sample)
            );
            // What came back, when the reply itself is the question (it
            // could not be read, or did not hold what the task expects).
            if let Some(reply) = &e.reply
                && matches!(e.outcome, Outcome::Decode | Outcome::CheckFailed)
            {
                let _ = writeln!(out, "      reply: {}", visible(reply));
            }
        }
    }
    let s = &r.summary;
    let _ = writeln!(
        out,
        "failure rate: {} · successful req/s: {:.1}",
        percent(s.failure_percent),
        s.success_rps
    );
}

/// The HTTP comparison and the watched processes, when there are any.
fn comparison_and_processes(out: &mut String, r: &RunResult) {
    if let Some(c) = &r.comparison {
        out.push_str("comparison (the same requests over HTTP):\n");
        for l in crate::comparison::lines(r, c) {
            let _ = writeln!(out, "  {l}");
        }
    }
    if !r.consumers.is_empty() {
        out.push_str("JetStream consumers:\n");
        for l in crate::consumers::lines(r) {
            let _ = writeln!(out, "  {l}");
        }
    }
    if let Some(m) = &r.monitor {
        out.push_str("processes:\n");
        for l in crate::processes::lines(m) {
            let _ = writeln!(out, "  {l}");
        }
    }
    if !r.frameworks.is_empty() {
        out.push_str("frameworks (the same plan):\n");
        for l in crate::frameworks::lines(&r.frameworks) {
            let _ = writeln!(out, "  {l}");
        }
    }
    if let Some(d) = &r.distributed {
        out.push_str("workers:\n");
        for l in crate::distributed::lines(d) {
            let _ = writeln!(out, "  {l}");
        }
    }
}

/// The comparison with the baseline, a row per figure, regressions marked.
fn baseline(out: &mut String, r: &RunResult, colour: bool) {
    let Some(b) = &r.baseline else { return };
    let _ = writeln!(
        out,
        "baseline ({}; ✗ worse by > {}% and the noise):",
        b.against(),
        b.max_degradation_percent
    );
    let name = b
        .rows
        .iter()
        .map(|row| row.task.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 24);
    let _ = writeln!(
        out,
        "  {:<name$}  {:<12}  {:>10}  {:>10}  {:<16}  {:>7}",
        "task", "figure", "before", "after", "change", "noise"
    );
    for row in &b.rows {
        let mark = if row.regressed {
            paint("✗", RED, colour)
        } else {
            " ".to_owned()
        };
        let _ = writeln!(
            out,
            "  {:<name$}  {:<12}  {:>10}  {:>10}  {:<16}  {:>7} {mark}",
            cut(&visible(&row.task), name),
            row.label(),
            row.figure(row.before),
            row.figure(row.after),
            row.change(),
            row.noise(),
        );
    }
}

/// The history in one line: how many runs, where, and the steps in them.
pub(crate) fn trend_line(t: &crate::trend::Trend) -> String {
    if t.runs.len() < 2 {
        return format!(
            "trend: the first run of this scenario in {} (cliffload history lists the runs)",
            t.store
        );
    }
    let steps = if t.steps.is_empty() {
        "no step".to_owned()
    } else {
        let words: Vec<String> = t
            .steps
            .iter()
            .map(|s| crate::trend::describe_step(t, s))
            .collect();
        format!("steps: {}", words.join("; "))
    };
    format!(
        "trend: {} runs of this scenario in {}; {steps}",
        t.runs.len(),
        t.store
    )
}

/// Each warning, marked as one.
fn warnings(out: &mut String, r: &RunResult, colour: bool) {
    for w in &r.warnings {
        let w = w.to_string();
        let _ = writeln!(out, "{} {}", paint("warning:", YELLOW, colour), visible(&w));
    }
}

/// The verdict with its count of passed checks, then each claim and check.
fn verdict(out: &mut String, r: &RunResult, colour: bool) {
    let passed = r.verdict.checks.iter().filter(|c| c.passed()).count();
    let status = r.verdict.status();
    let verdict = paint(
        status.word(),
        &format!("{BOLD}{}", status_colour(status)),
        colour,
    );
    let _ = writeln!(
        out,
        "verdict: {verdict} ({passed}/{} checks passed)",
        r.verdict.checks.len()
    );
    for c in &r.verdict.claims {
        let status = match c.status {
            crate::ClaimStatus::Validated => paint("VALIDATED", GREEN, colour),
            crate::ClaimStatus::NotValidated => paint("NOT VALIDATED", RED, colour),
            crate::ClaimStatus::Inconclusive => paint("INCONCLUSIVE", YELLOW, colour),
        };
        let _ = writeln!(out, "  claim {}: {status} — {}", c.name, c.detail);
    }
    for c in &r.verdict.checks {
        let mark = match c.status {
            Status::Passed => paint("✓", GREEN, colour),
            Status::Failed => paint("✗", RED, colour),
            Status::Inconclusive => paint("?", YELLOW, colour),
        };
        let _ = writeln!(
            out,
            "  {mark} {}: {} (expected {})",
            c.name, c.actual, c.expected
        );
    }
}

fn status_colour(status: Status) -> &'static str {
    match status {
        Status::Passed => GREEN,
        Status::Failed => RED,
        Status::Inconclusive => YELLOW,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paint_is_a_no_op_without_colour() {
        assert_eq!(paint("FAILED", RED, false), "FAILED");
        assert_eq!(paint("FAILED", RED, true), "\x1b[31mFAILED\x1b[0m");
    }

    #[test]
    fn a_narrow_terminal_loses_the_least_important_columns_first() {
        let all = Layout::fit(20, None);
        assert_eq!(all.shown.len(), 11);
        assert!(all.width() > 100, "the full table is {} wide", all.width());
        let l = Layout::fit(20, Some(80));
        assert!(l.width() <= 80, "{l:?} is {} wide", l.width());
        assert_eq!(l.hidden(), ["requests", "rejected", "p90", "p99.9", "max"]);
        assert_eq!(l.name_width, 20, "the names fit once columns are gone");
        // Wide enough for all but p99.9.
        let full = Layout::fit(14, None).width();
        let l = Layout::fit(14, Some(full - 1));
        assert_eq!(l.hidden(), ["p99.9"]);
    }

    #[test]
    fn names_are_cut_only_when_columns_are_not_enough() {
        let l = Layout::fit(60, Some(80));
        assert!(l.width() <= 80);
        assert!(l.name_width < 60);
        let mut row = String::new();
        let mut cells = vec!["x".repeat(60)];
        cells.extend((1..11).map(|i| i.to_string()));
        l.row(&mut row, &cells);
        assert!(row.contains('…'), "{row}");
        assert!(row.trim_end().chars().count() <= 80, "{row}");
        assert_eq!(cut("abc", 3), "abc");
        assert_eq!(cut("abcd", 3), "ab…");
    }

    #[test]
    fn sub_millisecond_latencies_are_microseconds() {
        assert_eq!(latency(87), "87µs");
        assert_eq!(latency(999), "999µs");
        assert_eq!(latency(1_234), "1.23ms");
        assert_eq!(latency(2_500_000), "2.500s");
    }
}

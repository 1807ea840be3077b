//! The terminal summary: an aligned table per task, outcomes, the verdict.

use std::fmt::Write;

use cliffload_metrics::Outcome;

use crate::result::{LatencyUs, RunResult};
use crate::verdict::{Status, percent};

/// Formats a latency in µs: `850µs` below 1 ms (never rounded to whole
/// milliseconds), `12.35ms` below 1 s, `1.234s` above.
pub fn latency(us: u64) -> String {
    match us {
        0..=999 => format!("{us}µs"),
        1_000..=999_999 => format!("{:.2}ms", us as f64 / 1e3),
        _ => format!("{:.3}s", us as f64 / 1e6),
    }
}

fn row(out: &mut String, name_width: usize, cells: &[String]) {
    let widths = [name_width, 10, 10, 9, 8, 10, 9, 9, 9, 9, 9];
    for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
        if i == 0 {
            let _ = write!(out, "  {c:<w$}");
        } else {
            let _ = write!(out, " {c:>w$}");
        }
    }
    out.push('\n');
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

/// Renders the summary as plain text (no colour).
pub fn render(r: &RunResult) -> String {
    render_styled(r, false)
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

/// Renders the summary; with `colour`, the verdict, checks, claims and
/// warnings carry ANSI colours (for a terminal; the text is otherwise the same).
pub fn render_styled(r: &RunResult, colour: bool) -> String {
    let mut out = String::new();
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
    out.push('\n');
    let name_width = r
        .tasks
        .iter()
        .map(|t| t.name.chars().count())
        .max()
        .unwrap_or(0)
        .max(14);
    row(
        &mut out,
        name_width,
        &[
            "task", "requests", "ok", "rejected", "failed", "req/s", "p50", "p90", "p99", "p99.9",
            "max",
        ]
        .map(str::to_owned),
    );
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
            row(&mut out, name_width, &cells);
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
    if let Some(o) = &r.open_model {
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
    out.push('\n');

    let outcomes: Vec<String> = s
        .outcomes
        .iter()
        .map(|(o, n)| format!("{} {n}", o.name()))
        .collect();
    let _ = writeln!(
        out,
        "outcomes: {}",
        if outcomes.is_empty() {
            "none".into()
        } else {
            outcomes.join(" · ")
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
                e.sample
            );
        }
    }
    let _ = writeln!(
        out,
        "failure rate: {} · successful req/s: {:.1}",
        percent(s.failure_percent),
        s.success_rps
    );
    if let Some(c) = &r.comparison {
        out.push_str("comparison (the same requests over HTTP):\n");
        for l in crate::comparison::lines(r, c) {
            let _ = writeln!(out, "  {l}");
        }
    }
    if let Some(m) = &r.monitor {
        out.push_str("processes:\n");
        for l in crate::monitor::lines(m) {
            let _ = writeln!(out, "  {l}");
        }
    }
    for w in &r.warnings {
        let _ = writeln!(out, "{} {w}", paint("warning:", YELLOW, colour));
    }
    out.push('\n');
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
    out
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
    fn sub_millisecond_latencies_are_microseconds() {
        assert_eq!(latency(87), "87µs");
        assert_eq!(latency(999), "999µs");
        assert_eq!(latency(1_234), "1.23ms");
        assert_eq!(latency(2_500_000), "2.500s");
    }
}

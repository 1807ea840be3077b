//! A [`Diff`] for people: a terminal table, a Markdown table for a pull
//! request comment, and an HTML page in the report's style. Pure functions
//! of the diff; every string from a run is made harmless for its medium
//! (control characters shown, Markdown and HTML escaped).

use std::fmt::Write;

use cliffload_metrics::visible;

use super::{Change, Diff, DiffRow, Side};
use crate::escape::{markdown_cell, markup as escape};
use crate::text::{cut, latency};

#[cfg(test)]
mod tests;

/// The widest task name the terminal table shows before cutting it, so a
/// row stays within about 100 columns.
const TASK_WIDTH: usize = 22;

/// Changes named in the summary line before "and N more".
const LISTED: usize = 6;

/// `p50_us` … `failure_percent` for people.
fn figure_label(key: &str) -> &str {
    match key {
        "p50_us" => "p50",
        "p90_us" => "p90",
        "p99_us" => "p99",
        "rps" => "req/s",
        "failure_percent" => "failures",
        other => other,
    }
}

fn is_latency(row: &DiffRow) -> bool {
    row.figure.ends_with("_us")
}

/// One side's figure: a latency, a rate, a failure rate; `-` for the
/// latency of a side without successes (its zero is no measurement).
fn value(row: &DiffRow, v: f64) -> String {
    if is_latency(row) {
        if v <= 0.0 && row.verdict == Change::Unknown {
            "-".to_owned()
        } else {
            latency(v.round() as u64)
        }
    } else if row.figure == "rps" {
        format!("{v:.1}/s")
    } else {
        format!("{v:.2}%")
    }
}

/// The change: percent of before, points for the failure rate, `-` when
/// there is nothing to take a percentage of.
fn change(row: &DiffRow) -> String {
    if row.figure == "failure_percent" {
        format!("{:+.2} pt", row.change)
    } else if row.before <= 0.0 || (is_latency(row) && row.verdict == Change::Unknown) {
        "-".to_owned()
    } else {
        format!("{:+.1}%", row.change)
    }
}

/// A 95 % interval as `lo–hi`, or empty when the figure has none.
fn interval(ci: Option<(f64, f64)>) -> String {
    ci.map_or_else(String::new, |(lo, hi)| {
        format!(
            "{}–{}",
            latency(lo.round() as u64),
            latency(hi.round() as u64)
        )
    })
}

/// `shop.ping p50 +30.1%`: a changed row in a few words.
fn short(row: &DiffRow) -> String {
    format!("{} {} {}", row.task, figure_label(&row.figure), change(row))
}

/// Up to [`LISTED`] rows in few words, and how many more.
fn listed<'a>(rows: impl Iterator<Item = &'a DiffRow>) -> (usize, String) {
    let all: Vec<String> = rows.map(short).collect();
    let mut words = all[..all.len().min(LISTED)].join(", ");
    if all.len() > LISTED {
        let _ = write!(words, " and {} more", all.len() - LISTED);
    }
    (all.len(), words)
}

fn figures(n: usize) -> &'static str {
    if n == 1 { "figure" } else { "figures" }
}

/// The diff's outcome in one line: the figures worse, then better, beyond
/// the noise, or that none moved.
fn summary(d: &Diff) -> String {
    let (worse, worse_words) = listed(d.worse());
    let (better, better_words) = listed(d.rows.iter().filter(|r| r.verdict == Change::Better));
    match (worse, better) {
        (0, 0) => format!(
            "no figure changed beyond the noise (changes under {}% are not reported)",
            d.min_change_percent
        ),
        (0, b) => format!(
            "no figure worse beyond the noise; {b} {} better: {better_words}",
            figures(b)
        ),
        (w, 0) => format!("{w} {} worse beyond the noise: {worse_words}", figures(w)),
        (w, b) => format!(
            "{w} {} worse beyond the noise: {worse_words}; {b} better: {better_words}",
            figures(w)
        ),
    }
}

/// What the marks mean, and what "beyond the noise" is: two sentences.
fn rule(d: &Diff) -> [String; 2] {
    [
        format!(
            "✗ worse / ✓ better: beyond the noise and by at least {}% (failures: {} points)",
            d.min_change_percent,
            d.min_change_percent / 10.0
        ),
        "noise: overlapping 95% intervals (latency), 2 standard errors (req/s), a two-proportion test (failures)".to_owned(),
    ]
}

/// A side in one line: source · scenario · started · load · verdict.
fn side_words(s: &Side) -> String {
    format!(
        "{} · {} · {} · {} · {}",
        s.source, s.scenario, s.started_at, s.load, s.verdict
    )
}

fn mark(c: Change) -> &'static str {
    match c {
        Change::Worse => "✗",
        Change::Better => "✓",
        Change::Same | Change::Unknown => " ",
    }
}

/// The diff as a terminal table of about 100 columns: the sides, a row per
/// task and figure (✗ worse, ✓ better beyond the noise), the notes, and
/// the outcome last, where a terminal leaves the eye.
pub fn text(d: &Diff) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "before: {}", visible(&side_words(&d.before)));
    let _ = writeln!(out, "after:  {}", visible(&side_words(&d.after)));
    let [marks, noise] = rule(d);
    let _ = writeln!(out, "({marks};\n {noise})\n");
    let name = d
        .rows
        .iter()
        .map(|r| r.task.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, TASK_WIDTH);
    let head = format!(
        "  {:<name$}  {:<8} {:>9} {:>9}  {:>8}  {:<15}  {:<15}",
        "task", "figure", "before", "after", "change", "95% CI before", "95% CI after"
    );
    let _ = writeln!(out, "{}", head.trim_end());
    for r in &d.rows {
        let line = format!(
            "  {:<name$}  {:<8} {:>9} {:>9}  {:>8}  {:<15}  {:<15} {}",
            cut(&visible(&r.task), name),
            figure_label(&r.figure),
            value(r, r.before),
            value(r, r.after),
            change(r),
            interval(r.before_ci),
            interval(r.after_ci),
            mark(r.verdict)
        );
        let _ = writeln!(out, "{}", line.trim_end());
    }
    out.push('\n');
    for n in &d.notes {
        let _ = writeln!(out, "note: {}", visible(n));
    }
    let _ = writeln!(out, "{}", visible(&summary(d)));
    out
}

fn md_mark(c: Change) -> &'static str {
    match c {
        Change::Worse => "❌ worse",
        Change::Better => "✅ better",
        Change::Same => "",
        Change::Unknown => "❔ not judged",
    }
}

/// The diff as Markdown for a pull request comment: the outcome first,
/// the sides, then a table row per task and figure, and the notes.
pub fn markdown(d: &Diff) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## cliffload diff: {}\n",
        markdown_cell(&d.after.scenario)
    );
    let _ = writeln!(out, "**{}**\n", markdown_cell(&summary(d)));
    out.push_str("| | source | scenario | started | load | verdict |\n| --- | --- | --- | --- | --- | --- |\n");
    for (which, s) in [("before", &d.before), ("after", &d.after)] {
        let _ = writeln!(
            out,
            "| {which} | {} | {} | {} | {} | {} |",
            markdown_cell(&s.source),
            markdown_cell(&s.scenario),
            markdown_cell(&s.started_at),
            markdown_cell(&s.load),
            markdown_cell(&s.verdict)
        );
    }
    out.push_str("\n| task | figure | before | after | change | 95% CI before | 95% CI after | |\n| --- | --- | ---: | ---: | ---: | --- | --- | --- |\n");
    for r in &d.rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            markdown_cell(&r.task),
            figure_label(&r.figure),
            value(r, r.before),
            value(r, r.after),
            change(r),
            interval(r.before_ci),
            interval(r.after_ci),
            md_mark(r.verdict)
        );
    }
    let [marks, noise] = rule(d);
    let _ = writeln!(
        out,
        "\n{}; {}.",
        markdown_cell(&marks),
        markdown_cell(&noise)
    );
    if !d.notes.is_empty() {
        out.push('\n');
        for n in &d.notes {
            let _ = writeln!(out, "- {}", crate::escape::markdown_line(n));
        }
    }
    out
}

/// The outcome in a few words and its CSS class, for the page's headline.
fn headline(d: &Diff) -> (String, &'static str) {
    let worse = d.worse().count();
    let better = d
        .rows
        .iter()
        .filter(|r| r.verdict == Change::Better)
        .count();
    match (worse, better) {
        (0, 0) => ("no change beyond the noise".to_owned(), ""),
        (0, b) => (format!("{b} {} better", figures(b)), "pass"),
        (w, 0) => (format!("{w} {} worse", figures(w)), "fail"),
        (w, b) => (format!("{w} {} worse, {b} better", figures(w)), "fail"),
    }
}

/// The diff as one self-contained HTML page, styled as report.html: the
/// outcome, the sides, the table (worse rows in the failure colour, better
/// ones in the pass colour), the notes, and a chart of each task's p50 and
/// p99 with their intervals.
pub fn html(d: &Diff) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>cliffload diff · {}</title>\n<style>{}</style></head><body>\n<h1>cliffload diff · {}</h1>\n",
        escape(&d.after.scenario),
        crate::html::style(),
        escape(&d.after.scenario)
    );
    let (words, class) = headline(d);
    let _ = writeln!(
        out,
        "<p class=\"verdict {class}\">{}</p>\n<p>{}</p>",
        escape(&words),
        escape(&summary(d))
    );
    sides_table(&mut out, d);
    for n in &d.notes {
        let _ = writeln!(out, "<p class=\"warning\">⚠ {}</p>", escape(n));
    }
    rows_table(&mut out, d);
    if let Some(chart) = crate::html::diff_chart(d) {
        out.push_str("<h2>Latency, before and after</h2>\n");
        out.push_str(&chart);
    }
    out.push_str("</body></html>\n");
    out
}

fn verdict_class(verdict: &str) -> &'static str {
    match verdict {
        "passed" => "pass",
        "failed" => "fail",
        _ => "inconclusive",
    }
}

fn sides_table(out: &mut String, d: &Diff) {
    out.push_str("<table><tr><th></th><th>source</th><th>scenario</th><th>started</th><th>load</th><th>verdict</th></tr>\n");
    for (which, s) in [("before", &d.before), ("after", &d.after)] {
        let _ = writeln!(
            out,
            "<tr><th>{which}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
            escape(&s.source),
            escape(&s.scenario),
            escape(&s.started_at),
            escape(&s.load),
            verdict_class(&s.verdict),
            escape(&s.verdict)
        );
    }
    out.push_str("</table>\n");
}

fn rows_table(out: &mut String, d: &Diff) {
    out.push_str("<table><tr><th>task</th><th>figure</th><th>before</th><th>after</th><th>change</th><th>95% CI before</th><th>95% CI after</th><th></th></tr>\n");
    for r in &d.rows {
        let (class, words) = match r.verdict {
            Change::Worse => ("fail", "✗ worse"),
            Change::Better => ("pass", "✓ better"),
            Change::Same => ("", ""),
            Change::Unknown => ("", "not judged"),
        };
        // All tasks in bold, as the report's total rows.
        let total = if r.task == super::ALL_TASKS {
            " total"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "<tr class=\"{class}{total}\"><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{words}</td></tr>",
            escape(&r.task),
            figure_label(&r.figure),
            value(r, r.before),
            value(r, r.after),
            change(r),
            interval(r.before_ci),
            interval(r.after_ci)
        );
    }
    let [marks, noise] = rule(d);
    let _ = writeln!(
        out,
        "</table>\n<p class=\"note\">{}; {}.</p>",
        escape(&marks),
        escape(&noise)
    );
}

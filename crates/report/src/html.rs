//! One self-contained HTML file: verdict first, then the tables Locust's
//! report has (requests and latency percentiles per task, each flow's whole
//! passes, failures), charts as inline SVG (`chart`, plotters, legends beside
//! them) and each user class's task ratio. No script, no external URL; every
//! string from the run (task names, subjects, service replies) is escaped.

use std::fmt::Write;

use crate::result::{LatencyUs, RunResult, TaskRow};
use crate::text::latency;
use crate::verdict::ClaimStatus;

mod axis;
mod bars;
mod chart;
mod charts;
mod diff_chart;
#[cfg(test)]
mod tests;
mod trend;

pub(crate) use diff_chart::diff_chart;

pub use crate::escape::markup as escape;

/// Renders the whole report.
pub fn render(r: &RunResult) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>cliffload · {}</title>\n<style>{}</style></head><body>\n",
        escape(&r.scenario),
        STYLE
    );
    out.push_str(&body(r));
    out.push_str("</body></html>\n");
    out
}

/// The report inside `<body>`, of a finished run.
pub fn body(r: &RunResult) -> String {
    body_of(r, false)
}

/// The report inside `<body>` of a run still going (the live dashboard's,
/// each second): the verdict line says the checks are as they stand.
pub fn live_body(r: &RunResult) -> String {
    body_of(r, true)
}

fn body_of(r: &RunResult, live: bool) -> String {
    let mut out = String::new();
    head(&mut out, r, live);
    verdict_table(&mut out, r);
    for w in &r.warnings {
        let _ = writeln!(out, "<p class=\"warning\">⚠ {}</p>", escape(&w.to_string()));
    }
    open_model(&mut out, r);
    tasks_table(&mut out, r);
    flows_table(&mut out, r);
    percentile_table(&mut out, r);
    failures_table(&mut out, r);
    events_table(&mut out, r);
    charts_section(&mut out, r);
    out.push_str("<h2>Outcomes</h2>\n");
    out.push_str(&bars::outcome_bars(r));
    if let Some(c) = &r.comparison {
        comparison(&mut out, c);
    }
    if let Some(m) = &r.monitor {
        processes(&mut out, m, r);
    }
    consumers(&mut out, r);
    if let Some(d) = &r.distributed {
        workers_table(&mut out, d);
    }
    if !r.frameworks.is_empty() {
        frameworks_section(&mut out, &r.frameworks);
    }
    if let Some(b) = &r.baseline {
        baseline_table(&mut out, b);
    }
    if let Some(t) = &r.trend {
        trend::section(&mut out, t);
    }
    ratio_table(&mut out, r);
    out
}

/// The report's stylesheet, for a page that shows [`body`].
pub fn style() -> &'static str {
    STYLE
}

/// The title, and the verdict with the run in one line.
fn head(out: &mut String, r: &RunResult, live: bool) {
    let s = &r.summary;
    let status = r.verdict.status();
    let verdict_class = check_class(status);
    let verdict = if live {
        format!(
            "RUNNING: {:.0} of {:.0} s · the checks so far: {}",
            r.duration_s,
            r.planned_duration_s,
            status.word().to_lowercase()
        )
    } else {
        status.word().to_owned()
    };
    let target = if r.target.nats_url.is_empty() {
        String::new()
    } else {
        format!(" · {}", escape(&r.target.nats_url))
    };
    let _ = write!(
        out,
        "<h1>cliffload · {}</h1>\n<p class=\"verdict {verdict_class}\">{}</p>\n<p>{} requests in {:.1} s · {:.1} successful req/s · failure rate {} · {} · seed {}{target} · started {}</p>\n",
        escape(&r.scenario),
        verdict,
        s.requests,
        r.duration_s,
        s.success_rps,
        crate::verdict::percent(s.failure_percent),
        escape(&r.load.describe()),
        r.seed,
        escape(&r.started_at)
    );
}

/// Each claim and check with its result and evidence.
fn verdict_table(out: &mut String, r: &RunResult) {
    out.push_str("<table><tr><th>claim / check</th><th>result</th><th>evidence</th></tr>\n");
    for c in &r.verdict.claims {
        let (class, status) = match c.status {
            ClaimStatus::Validated => ("pass", "VALIDATED"),
            ClaimStatus::NotValidated => ("fail", "NOT VALIDATED"),
            ClaimStatus::Inconclusive => ("inconclusive", "INCONCLUSIVE"),
        };
        let _ = writeln!(
            out,
            "<tr><td>claim: {}</td><td class=\"{class}\">{status}</td><td>{}</td></tr>",
            escape(&c.name),
            escape(&c.detail)
        );
    }
    for c in &r.verdict.checks {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"{}\">{}</td><td>{} (expected {})</td></tr>",
            escape(&c.name),
            check_class(c.status),
            c.status.word().to_lowercase(),
            escape(&c.actual),
            escape(&c.expected)
        );
    }
    out.push_str("</table>\n");
}

/// The open model's schedule and its latency from the intended send time.
fn open_model(out: &mut String, r: &RunResult) {
    let Some(o) = &r.open_model else { return };
    let l = &o.intended_latency_us;
    let _ = writeln!(
        out,
        "<p>Open model: {} arrivals planned, {} sent ({} late), {} never sent. From the intended send time (what the checks judge): p50 {} · p99 {} · max {}.</p>",
        o.planned,
        o.sent,
        o.late,
        o.never_sent,
        crate::text::latency(l.p50),
        crate::text::latency(l.p99),
        crate::text::latency(l.max)
    );
}

/// Throughput, failures, users and latency over time, and the distribution.
fn charts_section(out: &mut String, r: &RunResult) {
    const NO_LATENCY: &str = "<p>No successful request: no latency to show.</p>\n";
    out.push_str("<h2>Throughput</h2>\n");
    out.push_str(&charts::throughput(r).html());
    match charts::failures(r) {
        Some(c) => out.push_str(&c.html()),
        None => out.push_str("<p>No request failed.</p>\n"),
    }
    if let Some(c) = charts::arrivals(r) {
        let _ = writeln!(out, "<h2>{}</h2>", escape(&c.title));
        out.push_str(&c.html());
    }
    let active = charts::active(r);
    let _ = writeln!(out, "<h2>{}</h2>", escape(&active.title));
    out.push_str(&active.html());
    out.push_str("<h2>Latency over time (successful requests)</h2>\n");
    if r.summary.latency_us.count > 0 {
        out.push_str(&charts::latency_over_time(r).html());
    } else {
        out.push_str(NO_LATENCY);
    }
    out.push_str("<h2>Latency distribution (successful requests)</h2>\n");
    match charts::distribution(&r.summary.latency_us) {
        Some(c) => out.push_str(&c.html()),
        None => out.push_str(NO_LATENCY),
    }
}

/// Requests and outcomes per task, and all tasks together.
fn tasks_table(out: &mut String, r: &RunResult) {
    out.push_str("<h2>Tasks</h2>\n<table><tr><th>task</th><th>subject</th><th>requests</th><th>ok</th><th>rejected</th><th>failed</th><th>req/s</th><th>outcomes</th></tr>\n");
    for t in &r.tasks {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td><code>{}</code></td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{:.1}</td><td>{}</td></tr>",
            escape(&t.name),
            breakable_subject(&t.subject),
            t.requests,
            t.successes,
            t.rejected,
            t.failures,
            t.rps,
            escape(&crate::text::outcome_words(
                t.outcomes.iter().map(|(o, e)| (*o, e.count))
            ))
        );
    }
    let s = &r.summary;
    let _ = writeln!(
        out,
        "<tr class=\"total\"><td>all tasks</td><td></td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{:.1}</td><td>{}</td></tr>",
        s.requests,
        s.successes,
        s.rejected,
        s.failures,
        s.rps,
        escape(&crate::text::outcome_words(
            s.outcomes.iter().map(|(o, n)| (*o, *n))
        ))
    );
    out.push_str("</table>\n");
}

/// Each flow's whole passes (Locust's and k6's transactions): outcomes and
/// the latency of the passes that succeeded. Nothing without flows.
fn flows_table(out: &mut String, r: &RunResult) {
    if r.flows.is_empty() {
        return;
    }
    out.push_str("<h2>Flows</h2>\n<table><tr><th>flow</th><th>steps</th><th>passes</th><th>ok</th><th>failed</th><th>passes/s</th><th>p50</th><th>p95</th><th>p99</th><th>max</th><th>outcomes</th></tr>\n");
    for f in &r.flows {
        let l = &f.latency_us;
        let lat = |v| crate::text::success_latency(f, v);
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{:.1}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            escape(&f.name),
            escape(&f.subject),
            f.requests,
            f.successes,
            f.failures,
            f.rps,
            lat(l.p50),
            lat(l.p95),
            lat(l.p99),
            lat(l.max),
            escape(&crate::text::outcome_words(
                f.outcomes.iter().map(|(o, e)| (*o, e.count))
            ))
        );
    }
    out.push_str("</table>\n<p class=\"note\">A pass runs the flow's steps in order, and failed when a step failed (its outcome is the first failing step's). Latency is of the passes that succeeded, from the first step's send to the last step's reply. Passes are not counted among the requests above.</p>\n");
}

/// A subject that may break after each dot: a long one wraps at its
/// tokens instead of squeezing the column to a letter per line.
fn breakable_subject(subject: &str) -> String {
    escape(subject).replace('.', ".<wbr>")
}

/// One figure of a latency summary.
type Percentile = fn(&LatencyUs) -> u64;

/// The percentiles of Locust's response-time table, per task and for all tasks.
const PERCENTILES: [(&str, Percentile); 11] = [
    ("p50", |l| l.p50),
    ("p66", |l| l.p66),
    ("p75", |l| l.p75),
    ("p80", |l| l.p80),
    ("p90", |l| l.p90),
    ("p95", |l| l.p95),
    ("p98", |l| l.p98),
    ("p99", |l| l.p99),
    ("p99.9", |l| l.p999),
    ("p99.99", |l| l.p9999),
    ("max", |l| l.max),
];

/// Latency percentiles of the successful requests, per task (Locust's
/// response-time statistics).
fn percentile_table(out: &mut String, r: &RunResult) {
    out.push_str("<h2>Latency percentiles (successful requests)</h2>\n<table class=\"percentiles\"><tr><th>task</th>");
    for (name, _) in PERCENTILES {
        let _ = write!(out, "<th>{name}</th>");
    }
    out.push_str("</tr>\n");
    let row = |out: &mut String, class: &str, name: &str, l: &LatencyUs| {
        let _ = write!(out, "<tr{class}><td>{}</td>", escape(name));
        for (_, f) in PERCENTILES {
            let cell = if l.count > 0 {
                latency(f(l))
            } else {
                "-".into()
            };
            let _ = write!(out, "<td class=\"num\">{cell}</td>");
        }
        out.push_str("</tr>\n");
    };
    for t in &r.tasks {
        row(out, "", &t.name, &t.latency_us);
    }
    row(out, " class=\"total\"", "all tasks", &r.summary.latency_us);
    out.push_str("</table>\n<p class=\"note\">Of successful requests only; failures keep their own latency per outcome in result.json.</p>\n");
}

/// Each user class's share of the users and each task's share within its
/// class (Locust's "ratio per class"): planned, from the weights, and
/// measured, from the requests. Results from before classes were recorded
/// have only the measured shares.
fn ratio_table(out: &mut String, r: &RunResult) {
    if r.tasks.is_empty() {
        return;
    }
    let known = |t: &&TaskRow| {
        t.class
            .as_ref()
            .is_some_and(|c| r.user_classes.iter().any(|u| &u.name == c))
    };
    let mut groups: Vec<(Option<&crate::result::UserClassRow>, Vec<&TaskRow>)> = r
        .user_classes
        .iter()
        .map(|c| {
            let tasks = r
                .tasks
                .iter()
                .filter(|t| t.class.as_deref() == Some(c.name.as_str()))
                .collect();
            (Some(c), tasks)
        })
        .collect();
    let rest: Vec<&TaskRow> = r.tasks.iter().filter(|t| !known(t)).collect();
    if !rest.is_empty() {
        groups.push((None, rest));
    }
    let class_weights: u32 = r.user_classes.iter().map(|c| c.weight).sum();
    let percent = |part: f64, whole: f64| {
        if whole > 0.0 {
            format!("{:.1}%", part / whole * 100.0)
        } else {
            "-".into()
        }
    };
    out.push_str("<h2>Ratio per class</h2>\n<table><tr><th>user class</th><th>share of users (weights)</th><th>task</th><th>in its class (weights)</th><th>in its class (requests)</th><th>of all requests</th></tr>\n");
    for (class, tasks) in groups.iter().filter(|g| !g.1.is_empty()) {
        let task_weights: u32 = tasks.iter().filter_map(|t| t.weight).sum();
        let requests: u64 = tasks.iter().map(|t| t.requests).sum();
        for (i, t) in tasks.iter().enumerate() {
            out.push_str("<tr>");
            if i == 0 {
                let (name, share) = match class {
                    Some(c) => (
                        escape(&c.name),
                        percent(f64::from(c.weight), f64::from(class_weights)),
                    ),
                    None => ("(not recorded)".into(), "-".into()),
                };
                let _ = write!(
                    out,
                    "<td rowspan=\"{n}\">{name}</td><td class=\"num\" rowspan=\"{n}\">{share}</td>",
                    n = tasks.len()
                );
            }
            let planned = t.weight.map_or("-".into(), |w| {
                percent(f64::from(w), f64::from(task_weights))
            });
            // `Class.task` beside its class reads as `task`.
            let name = class
                .and_then(|c| t.name.strip_prefix(c.name.as_str()))
                .and_then(|n| n.strip_prefix('.'))
                .unwrap_or(&t.name);
            let _ = writeln!(
                out,
                "<td>{}</td><td class=\"num\">{planned}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                escape(name),
                percent(t.requests as f64, requests as f64),
                percent(t.requests as f64, r.summary.requests as f64)
            );
        }
    }
    out.push_str("</table>\n");
}

/// NATS vs HTTP: a table per task, median and p99 of successful requests.
fn comparison(out: &mut String, c: &crate::comparison::Comparison) {
    let _ = writeln!(
        out,
        "<h2>NATS vs HTTP (the same requests, HTTP at {})</h2>",
        escape(&c.http_url)
    );
    if let Some(m) = c.median_ratio {
        let _ = writeln!(
            out,
            "<p>Median of successful requests: {}{}.</p>",
            crate::comparison::faster(m),
            c.throughput_ratio
                .map_or(String::new(), |t| format!("; {t:.2}× the successful req/s"))
        );
    }
    out.push_str(&bars::comparison_bars(c));
    out.push_str("<table><tr><th>task</th><th>NATS p50</th><th>HTTP p50</th><th>NATS p99</th><th>HTTP p99</th><th>NATS ok req/s</th><th>HTTP ok req/s</th></tr>\n");
    for t in &c.tasks {
        let cell = |l: &crate::result::LatencyUs| {
            if l.count > 0 {
                latency(l.p50)
            } else {
                "-".into()
            }
        };
        let p99 = |l: &crate::result::LatencyUs| {
            if l.count > 0 {
                latency(l.p99)
            } else {
                "-".into()
            }
        };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{:.1}</td></tr>",
            escape(&t.name),
            cell(&t.nats_latency_us),
            cell(&t.http_latency_us),
            p99(&t.nats_latency_us),
            p99(&t.http_latency_us),
            t.nats_success_rps,
            t.http_success_rps
        );
    }
    out.push_str("</table>\n");
}

/// The comparison with the baseline: a row per task and figure, the
/// regressed ones marked.
fn baseline_table(out: &mut String, b: &crate::regression::BaselineComparison) {
    let _ = writeln!(
        out,
        "<h2>Against the baseline ({})</h2>\n<p>A figure regressed when it is worse by more than {}% and by more than {} (the failure rate: up by more than a tenth of that, in points).</p>",
        escape(&b.against()),
        b.max_degradation_percent,
        b.noise_words()
    );
    out.push_str("<table><tr><th>task</th><th>figure</th><th>before</th><th>after</th><th>change</th><th>noise</th><th></th></tr>\n");
    for row in &b.rows {
        let (class, mark) = if row.regressed {
            (" class=\"fail\"", "✗ regressed")
        } else {
            ("", "")
        };
        let _ = writeln!(
            out,
            "<tr{class}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{mark}</td></tr>",
            escape(&row.task),
            row.label(),
            escape(&row.figure(row.before)),
            escape(&row.figure(row.after)),
            escape(&row.change()),
            escape(&row.noise()),
        );
    }
    out.push_str("</table>\n");
}

/// Memory and CPU of the watched processes: two charts and a line each.
fn processes(out: &mut String, m: &crate::processes::Monitor, r: &RunResult) {
    out.push_str("<h2>Processes: memory and CPU</h2>\n");
    for c in charts::processes(m, r) {
        out.push_str(&c.html());
    }
    out.push_str("<ul>\n");
    for l in crate::processes::lines(m) {
        let _ = writeln!(out, "<li>{}</li>", escape(&l));
    }
    out.push_str("</ul>\n");
}

/// The watched JetStream consumers: their lag over the load, a line each.
fn consumers(out: &mut String, r: &RunResult) {
    let Some(chart) = charts::consumers(r) else {
        return;
    };
    out.push_str("<h2>JetStream consumers</h2>\n");
    out.push_str(&chart.html());
    out.push_str("<ul>\n");
    for l in crate::consumers::lines(r) {
        let _ = writeln!(out, "<li>{}</li>", escape(&l));
    }
    out.push_str("</ul>\n");
}

/// The frameworks side by side: a row each, then medians and throughput.
fn frameworks_section(out: &mut String, rows: &[crate::frameworks::FrameworkRow]) {
    out.push_str("<h2>Frameworks: the same plan</h2>\n<table><tr><th>framework</th><th>at</th><th>requests</th><th>ok</th><th>p50</th><th>p95</th><th>p99</th><th>successful req/s</th><th>generator CPU/request</th></tr>\n");
    for r in rows {
        if let Some(why) = &r.skipped {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td colspan=\"7\">skipped: {}</td></tr>",
                escape(&r.name),
                escape(&r.target),
                escape(why)
            );
            continue;
        }
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.1}%</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{}</td></tr>",
            escape(&r.name),
            escape(&r.target),
            r.requests,
            r.success_percent,
            crate::text::latency(r.latency_us.p50),
            crate::text::latency(r.latency_us.p95),
            crate::text::latency(r.latency_us.p99),
            r.success_rps,
            r.cpu_us_per_request
                .map(|c| format!("{c:.1} µs"))
                .unwrap_or_default()
        );
    }
    out.push_str("</table>\n");
    out.push_str(&bars::framework_bars(
        rows,
        "Median latency of successful requests",
        "ms",
        |r| r.latency_us.p50 as f64 / 1000.0,
        |r| crate::text::latency(r.latency_us.p50),
    ));
    out.push_str(&bars::framework_bars(
        rows,
        "Successful requests per second",
        "req/s",
        |r| r.success_rps,
        |r| format!("{:.1}/s", r.success_rps),
    ));
}

/// Each worker of a distributed run, and the start skew.
fn workers_table(out: &mut String, d: &crate::distributed::DistributedRun) {
    out.push_str("<h2>Workers</h2>\n<table><tr><th>worker</th><th>threads</th><th>requests</th><th>failed</th><th>p50</th><th>p99</th><th>CPU</th><th>start</th><th>state</th></tr>\n");
    for w in &d.workers {
        let state = match (&w.error, w.lost) {
            (Some(e), _) => format!("could not run: {}", escape(e)),
            (None, true) => "lost".to_owned(),
            (None, false) => "done".to_owned(),
        };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>+{:.1} ms</td><td>{state}</td></tr>",
            escape(&w.name),
            w.threads,
            w.requests,
            w.failures,
            crate::text::latency(w.p50_us),
            crate::text::latency(w.p99_us),
            w.cpu_s.map(|c| format!("{c:.2} s")).unwrap_or_default(),
            w.start_offset_ms
        );
    }
    let _ = writeln!(
        out,
        "</table>\n<p>Start skew {:.1} ms; {:.1} KB of control messages.</p>",
        d.start_skew_ms,
        d.control_bytes as f64 / 1000.0
    );
}

/// The pages' style sheet (shared by the suite index).
// Subjects break only at the `<wbr>` after their dots (`break-word` does
// not shrink a column's minimum width, as `break-all` did to one letter).
// Each chart is a flex row: the SVG, then its legend to the right, or
// below when the window is narrow.
pub(crate) const STYLE: &str = concat!(
    "body{font-family:sans-serif;margin:2em;color:#222;max-width:1240px}",
    "table{border-collapse:collapse;margin:1em 0;font-size:0.85em}",
    "code{overflow-wrap:break-word}",
    "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}",
    "td.num{text-align:right;white-space:nowrap}tr.total td{font-weight:bold}",
    ".verdict{font-size:1.6em;font-weight:bold}.pass{color:#157a15}.fail{color:#b00020}",
    ".inconclusive{color:#a66d00}.warning{color:#a66d00}.note{color:#666}",
    "svg{display:block;flex:none}",
    "figure.chart{display:flex;flex-wrap:wrap;align-items:flex-start;gap:0 1.5em;margin:0.5em 0 1.5em}",
    "ul.legend{list-style:none;margin:2.5em 0 0;padding:0;font-size:0.85em;max-width:22em}",
    "ul.legend li{margin:0.3em 0}",
    ".swatch{display:inline-block;width:1.8em;margin-right:0.5em;vertical-align:middle}",
    ".swatch.line{border-top:3px solid}.swatch.dashed{border-top-style:dashed}",
    ".swatch.box{height:0.9em}"
);

/// The CSS class of a check's or the verdict's status.
fn check_class(status: crate::verdict::Status) -> &'static str {
    match status {
        crate::verdict::Status::Passed => "pass",
        crate::verdict::Status::Failed => "fail",
        crate::verdict::Status::Inconclusive => "inconclusive",
    }
}

/// Every kept failure and refusal message, per task (Locust's failures tab).
fn failures_table(out: &mut String, r: &RunResult) {
    let rows: Vec<_> = r
        .tasks
        .iter()
        .flat_map(|t| t.errors.iter().map(move |e| (t, e)))
        .collect();
    if rows.is_empty() {
        return;
    }
    out.push_str("<h2>Failures and refusals</h2>\n<table><tr><th>task</th><th>outcome</th><th>occurrences</th><th>message (ids and numbers as #)</th><th>one occurrence</th><th>its reply</th></tr>\n");
    for (t, e) in rows {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            escape(&t.name),
            if e.outcome.is_failure() {
                "fail"
            } else {
                "inconclusive"
            },
            e.outcome.name(),
            e.count,
            escape(&e.message),
            escape(&e.sample),
            escape(e.reply.as_deref().unwrap_or(""))
        );
    }
    out.push_str("</table>\n");
}

/// The load's connection events (also drawn as dashed lines on the charts).
fn events_table(out: &mut String, r: &RunResult) {
    if r.connection_events.is_empty() {
        return;
    }
    out.push_str("<h2>Connection events</h2>\n<p>Drawn as dashed lines on the throughput and failure charts.</p>\n<table><tr><th>at (s)</th><th>worker</th><th>event</th><th>detail</th></tr>\n");
    for e in &r.connection_events {
        let _ = writeln!(
            out,
            "<tr><td>{:.2}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            e.t_s,
            e.worker,
            escape(&e.event),
            escape(&e.detail)
        );
    }
    out.push_str("</table>\n");
}

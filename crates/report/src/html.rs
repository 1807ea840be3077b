//! One self-contained HTML file: verdict first, charts as inline SVG
//! (plotters), a table per task. No script, no external URL; every string
//! from the run (task names, subjects, service replies) is escaped.

use std::fmt::Write;

use plotters::prelude::*;

use crate::result::RunResult;
use crate::text::latency;
use crate::verdict::ClaimStatus;

/// Escapes text for HTML content and attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const W: u32 = 860;
const H: u32 = 300;

type Series<'a> = (&'a str, RGBColor, Vec<(f64, f64)>);

/// A line chart of `series` (x described by `x_label`), as an SVG string.
fn line_chart(title: &str, x_label: &str, y_label: &str, series: &[Series<'_>]) -> String {
    line_chart_marked(title, x_label, y_label, series, &[])
}

/// A vertical mark on a time chart: a connection event at `x` seconds.
type Mark = (f64, RGBColor);

/// The connection events of `r` as marks (red: lost, green: back, orange: other).
fn event_marks(r: &RunResult) -> Vec<Mark> {
    r.connection_events
        .iter()
        .filter(|e| e.t_s >= 0.0)
        .map(|e| {
            let color = match e.event.as_str() {
                "disconnected" | "closed" => RED,
                "reconnected" => GREEN,
                _ => RGBColor(240, 140, 0),
            };
            (e.t_s, color)
        })
        .collect()
}

/// [`line_chart`] with a dashed vertical line at each mark.
fn line_chart_marked(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series<'_>],
    marks: &[Mark],
) -> String {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let x_max = series
            .iter()
            .flat_map(|s| s.2.iter().map(|p| p.0))
            .fold(1.0f64, f64::max);
        let y_max = series
            .iter()
            .flat_map(|s| s.2.iter().map(|p| p.1))
            .fold(0.0f64, f64::max)
            .max(1e-3)
            * 1.1;
        let Ok(mut chart) = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..x_max, 0.0..y_max)
        else {
            return svg_fallback(title);
        };
        let _ = chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc(y_label)
            .draw();
        for &(x, color) in marks.iter().filter(|m| m.0 <= x_max) {
            let _ = chart.draw_series(DashedLineSeries::new(
                [(x, 0.0), (x, y_max)],
                4,
                3,
                color.stroke_width(1),
            ));
        }
        for (name, color, points) in series {
            let color = *color;
            if let Ok(s) = chart.draw_series(LineSeries::new(
                points.iter().copied(),
                color.stroke_width(2),
            )) {
                s.label(*name).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
            }
        }
        let _ = chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw();
        let _ = root.present();
    }
    svg
}

/// Bars of ok / rejected / failed requests per task.
fn outcome_bars(r: &RunResult) -> String {
    let mut svg = String::new();
    {
        let height = (80 + 40 * r.tasks.len() as u32).max(160);
        let root = SVGBackend::with_string(&mut svg, (W, height)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let n = r.tasks.len().max(1);
        let x_max = r.tasks.iter().map(|t| t.requests).max().unwrap_or(1).max(1) as f64 * 1.05;
        let Ok(mut chart) = ChartBuilder::on(&root)
            .caption("Outcomes per task", ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(10)
            .build_cartesian_2d(0.0..x_max, 0.0..n as f64)
        else {
            return svg_fallback("Outcomes per task");
        };
        let _ = chart
            .configure_mesh()
            .disable_y_mesh()
            .disable_y_axis()
            .x_desc("requests")
            .draw();
        for (i, t) in r.tasks.iter().enumerate() {
            let y0 = (n - 1 - i) as f64 + 0.2;
            let y1 = y0 + 0.6;
            let parts = [
                (t.successes, GREEN),
                (t.rejected, RGBColor(240, 170, 0)),
                (t.failures, RED),
            ];
            let mut x = 0.0;
            for (count, color) in parts {
                let w = count as f64;
                if w > 0.0 {
                    let _ = chart.draw_series(std::iter::once(Rectangle::new(
                        [(x, y0), (x + w, y1)],
                        color.filled(),
                    )));
                }
                x += w;
            }
            let label = format!(
                "{} — ok {} · rejected {} · failed {}",
                t.name, t.successes, t.rejected, t.failures
            );
            let _ = chart.draw_series(std::iter::once(Text::new(
                label,
                (x_max * 0.01, y1 + 0.05),
                ("sans-serif", 13),
            )));
        }
        let _ = root.present();
    }
    svg
}

/// Median of successful requests per task, NATS beside HTTP, as bars.
fn comparison_bars(c: &crate::comparison::Comparison) -> String {
    const TITLE: &str = "Median latency per task: NATS (blue) vs HTTP (red)";
    let mut svg = String::new();
    {
        let rows = c.tasks.len().max(1);
        let height = (80 + 56 * rows as u32).max(160);
        let root = SVGBackend::with_string(&mut svg, (W, height)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let ms = |us: u64| us as f64 / 1000.0;
        let x_max = c
            .tasks
            .iter()
            .flat_map(|t| [t.nats_latency_us.p50, t.http_latency_us.p50])
            .map(ms)
            .fold(1e-3, f64::max)
            * 1.3;
        let Ok(mut chart) = ChartBuilder::on(&root)
            .caption(TITLE, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(10)
            .build_cartesian_2d(0.0..x_max, 0.0..rows as f64)
        else {
            return svg_fallback(TITLE);
        };
        let _ = chart
            .configure_mesh()
            .disable_y_mesh()
            .disable_y_axis()
            .x_desc("ms (successful requests)")
            .draw();
        for (i, t) in c.tasks.iter().enumerate() {
            let base = (rows - 1 - i) as f64;
            for (j, (l, colour)) in [(&t.nats_latency_us, BLUE), (&t.http_latency_us, RED)]
                .into_iter()
                .enumerate()
            {
                if l.count == 0 {
                    continue;
                }
                let y0 = base + 0.1 + 0.3 * j as f64;
                let _ = chart.draw_series(std::iter::once(Rectangle::new(
                    [(0.0, y0), (ms(l.p50), y0 + 0.25)],
                    colour.filled(),
                )));
                let _ = chart.draw_series(std::iter::once(Text::new(
                    latency(l.p50),
                    (ms(l.p50) + x_max * 0.01, y0 + 0.22),
                    ("sans-serif", 12),
                )));
            }
            let _ = chart.draw_series(std::iter::once(Text::new(
                t.name.clone(),
                (x_max * 0.01, base + 0.97),
                ("sans-serif", 13),
            )));
        }
        let _ = root.present();
    }
    svg
}

fn svg_fallback(title: &str) -> String {
    format!("<p>(no chart: {})</p>", escape(title))
}

/// Renders the whole report.
pub fn render(r: &RunResult) -> String {
    let s = &r.summary;
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>cliffload · {}</title>\n<style>{}</style></head><body>\n",
        escape(&r.scenario),
        STYLE
    );
    let status = r.verdict.status();
    let verdict_class = check_class(status);
    let _ = write!(
        out,
        "<h1>cliffload · {}</h1>\n<p class=\"verdict {verdict_class}\">{}</p>\n<p>{} requests in {:.1} s · {:.1} successful req/s · failure rate {} · {} · seed {} · {} · started {}</p>\n",
        escape(&r.scenario),
        status.word(),
        s.requests,
        r.duration_s,
        s.success_rps,
        crate::verdict::percent(s.failure_percent),
        escape(&r.load.describe()),
        r.seed,
        escape(&r.target.nats_url),
        escape(&r.started_at)
    );
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
    for w in &r.warnings {
        let _ = writeln!(out, "<p class=\"warning\">⚠ {}</p>", escape(w));
    }
    if let Some(o) = &r.open_model {
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
    failures_table(&mut out, r);
    events_table(&mut out, r);
    let t = |i: &crate::result::IntervalRow| f64::from(i.t) + i.duration_s;
    // The last, partial interval (replies in flight at the deadline) is a
    // sliver of a second: drawn, it would look like a collapse.
    let whole = || r.intervals.iter().filter(|i| i.duration_s >= 0.5);
    let throughput = [
        ("requests/s", BLUE, whole().map(|i| (t(i), i.rps)).collect()),
        (
            "failures/s",
            RED,
            whole()
                .map(|i| (t(i), i.failures as f64 / i.duration_s.max(1e-9)))
                .collect(),
        ),
    ];
    let ms = |us: u64| us as f64 / 1000.0;
    let ok_intervals = || whole().filter(|i| i.latency_us.count > 0);
    let latency_series = [
        (
            "p50",
            GREEN,
            ok_intervals()
                .map(|i| (t(i), ms(i.latency_us.p50)))
                .collect(),
        ),
        (
            "p90",
            RGBColor(240, 170, 0),
            ok_intervals()
                .map(|i| (t(i), ms(i.latency_us.p90)))
                .collect(),
        ),
        (
            "p99",
            RED,
            ok_intervals()
                .map(|i| (t(i), ms(i.latency_us.p99)))
                .collect(),
        ),
    ];
    let l = &s.latency_us;
    let distribution: Vec<(f64, f64)> = [
        (0.0, l.min),
        (50.0, l.p50),
        (66.0, l.p66),
        (75.0, l.p75),
        (80.0, l.p80),
        (90.0, l.p90),
        (95.0, l.p95),
        (98.0, l.p98),
        (99.0, l.p99),
        (99.9, l.p999),
        (99.99, l.p9999),
        (100.0, l.max),
    ]
    .into_iter()
    .map(|(p, v)| (p, ms(v)))
    .collect();
    out.push_str("<h2>Throughput</h2>\n");
    let marks = event_marks(r);
    out.push_str(&line_chart_marked(
        "Requests and failures per second",
        "seconds",
        "per second",
        &throughput,
        &marks,
    ));
    let (what, unit) = if r.open_model.is_some() {
        ("Requests in flight (most at once per second)", "in flight")
    } else {
        ("Users running", "users")
    };
    let active = [(
        unit,
        BLUE,
        whole().map(|i| (t(i), f64::from(i.active))).collect(),
    )];
    let _ = writeln!(out, "<h2>{what}</h2>");
    out.push_str(&line_chart(what, "seconds", unit, &active));
    out.push_str("<h2>Latency over time (successful requests)</h2>\n");
    out.push_str(&line_chart(
        "Latency percentiles per second",
        "seconds",
        "ms",
        &latency_series,
    ));
    out.push_str("<h2>Latency distribution (successful requests)</h2>\n");
    out.push_str(&line_chart(
        "Latency by percentile",
        "percentile",
        "ms",
        &[("latency", BLUE, distribution)],
    ));
    out.push_str("<h2>Outcomes</h2>\n");
    out.push_str(&outcome_bars(r));
    if let Some(c) = &r.comparison {
        comparison(&mut out, c);
    }
    if let Some(m) = &r.monitor {
        processes(&mut out, m);
    }
    out.push_str("<h2>Tasks</h2>\n<table><tr><th>task</th><th>subject</th><th>requests</th><th>ok</th><th>rejected</th><th>failed</th><th>req/s</th><th>p50</th><th>p90</th><th>p99</th><th>max</th><th>outcomes</th></tr>\n");
    for task in &r.tasks {
        let lat = &task.latency_us;
        let cell = |v: u64| {
            if task.successes > 0 {
                latency(v)
            } else {
                "-".into()
            }
        };
        let outcomes: Vec<String> = task
            .outcomes
            .iter()
            .map(|(o, e)| format!("{} {}", o.name(), e.count))
            .collect();
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&task.name),
            escape(&task.subject),
            task.requests,
            task.successes,
            task.rejected,
            task.failures,
            task.rps,
            cell(lat.p50),
            cell(lat.p90),
            cell(lat.p99),
            cell(lat.max),
            escape(&outcomes.join(" · "))
        );
    }
    out.push_str("</table>\n<p class=\"note\">Latency percentiles are of successful requests; failures keep their own latency per outcome in result.json.</p>\n</body></html>\n");
    out
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
    out.push_str(&comparison_bars(c));
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

/// Memory and CPU of the watched processes: two charts and a line each.
fn processes(out: &mut String, m: &crate::monitor::Monitor) {
    const COLOURS: [RGBColor; 6] = [BLUE, RED, GREEN, RGBColor(240, 170, 0), MAGENTA, CYAN];
    let labels: Vec<String> = m
        .processes
        .iter()
        .map(|p| format!("{} ({})", p.series.label, p.series.pid))
        .collect();
    let series = |f: &dyn Fn(&cliffload_monitor::Sample) -> Option<f64>| -> Vec<Series<'_>> {
        m.processes
            .iter()
            .zip(&labels)
            .zip(COLOURS.iter().cycle())
            .map(|((p, label), colour)| {
                (
                    label.as_str(),
                    *colour,
                    p.series
                        .samples
                        .iter()
                        .filter(|s| s.t >= 0.0)
                        .filter_map(|s| f(s).map(|v| (s.t, v)))
                        .collect(),
                )
            })
            .collect()
    };
    out.push_str("<h2>Processes: memory and CPU</h2>\n");
    out.push_str(&line_chart(
        "Resident memory (RSS)",
        "seconds",
        "MiB",
        &series(&|s| Some(s.rss_bytes as f64 / 1_048_576.0)),
    ));
    out.push_str(&line_chart(
        "CPU (100% = one core)",
        "seconds",
        "%",
        &series(&|s| s.cpu_percent),
    ));
    out.push_str("<ul>\n");
    for l in crate::monitor::lines(m) {
        let _ = writeln!(out, "<li>{}</li>", escape(&l));
    }
    out.push_str("</ul>\n");
}

/// The pages' style sheet (shared by the suite index).
pub(crate) const STYLE: &str = "body{font-family:sans-serif;margin:2em;color:#222;max-width:960px}table{border-collapse:collapse;margin:1em 0;font-size:0.85em}code{word-break:break-all}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}.verdict{font-size:1.6em;font-weight:bold}.pass{color:#157a15}.fail{color:#b00020}.inconclusive{color:#a66d00}.warning{color:#a66d00}.note{color:#666}svg{display:block;margin:0.5em 0}";

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
    out.push_str("<h2>Failures and refusals</h2>\n<table><tr><th>task</th><th>outcome</th><th>occurrences</th><th>message (ids and numbers as #)</th><th>one occurrence</th></tr>\n");
    for (t, e) in rows {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&t.name),
            if e.outcome.is_failure() {
                "fail"
            } else {
                "inconclusive"
            },
            e.outcome.name(),
            e.count,
            escape(&e.message),
            escape(&e.sample)
        );
    }
    out.push_str("</table>\n");
}

/// The load's connection events (also drawn as dashed lines on the charts).
fn events_table(out: &mut String, r: &RunResult) {
    if r.connection_events.is_empty() {
        return;
    }
    out.push_str("<h2>Connection events</h2>\n<p>Dashed lines on the throughput chart: red, connection lost; green, back; orange, other.</p>\n<table><tr><th>at (s)</th><th>worker</th><th>event</th><th>detail</th></tr>\n");
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

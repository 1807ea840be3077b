//! The report's trend section: this run among the runs of its scenario
//! before it (every run the history remembers). p50 and p99 over the runs, req/s and
//! the failure rate beside each other, the steps found in them as dashed
//! lines, and the runs as a table, newest first.

use std::fmt::Write;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::axis::{LabelledAxis, latency_axis};
use super::chart::{BLUE, GREEN, Line, PURPLE, RED, Swatch, W, figure, svg_fallback};
use super::escape;
use crate::text::latency;
use crate::trend::{Figure, PastRun, Trend, TrendStep, describe_step};

#[cfg(test)]
mod tests;

/// A step that is neither a regression nor an improvement.
const GREY: RGBColor = RGBColor(127, 127, 127);

/// The shade behind this run's point.
const THIS_RUN: RGBColor = RGBColor(200, 200, 200);

/// Pixels the axes and margins take from a panel's width (the y labels'
/// 70, margins of 10 and 30).
const AXES_PX: f64 = 110.0;

/// The section: a heading, what is drawn, two charts and the table.
pub(super) fn section(out: &mut String, t: &Trend) {
    let _ = writeln!(
        out,
        "<h2>Over the last {} runs</h2>\n<p>The runs of this scenario (the same scenario hash) in {}, oldest to newest; this run is the last, shaded, with the larger dot. Latency is of successful requests (from the intended send time in the open model). A dashed line marks a step: from that run on, the figure's median differs from before by more than chance would make of the same values in another order (p &lt; 0.01); red when worse by more than the allowed degradation, green when better. The method: <code>docs/history.md</code>.</p>",
        t.runs.len(),
        escape(&t.store)
    );
    if t.steps.is_empty() {
        out.push_str("<p>No step in these runs.</p>\n");
    }
    out.push_str(&latency_chart(t));
    out.push_str(&rates_chart(t));
    runs_table(out, t);
}

/// One panel: a title, its y axis, the figures drawn as lines.
struct Panel<'a> {
    title: &'a str,
    /// The y axis's words (latency: `latency_axis`'s).
    y_desc: &'a str,
    latency: bool,
    figures: &'a [(Figure, RGBColor)],
}

const LATENCY: Panel<'static> = Panel {
    title: "p50 and p99 of each run",
    y_desc: "ms",
    latency: true,
    figures: &[(Figure::P50, BLUE), (Figure::P99, PURPLE)],
};

const RPS: Panel<'static> = Panel {
    title: "Requests per second",
    y_desc: "req/s",
    latency: false,
    figures: &[(Figure::Rps, BLUE)],
};

const FAILURES: Panel<'static> = Panel {
    title: "Failure rate",
    y_desc: "% of requests",
    latency: false,
    figures: &[(Figure::FailureRate, RED)],
};

/// p50 and p99 over the runs, with their steps.
fn latency_chart(t: &Trend) -> String {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, 320)).into_drawing_area();
        let _ = root.fill(&WHITE);
        if draw_panel(&root, t, &LATENCY, f64::from(W) - AXES_PX).is_none() {
            return svg_fallback(LATENCY.title);
        }
        let _ = root.present();
    }
    figure(&svg, &legend(t, &[&LATENCY]))
}

/// Requests per second and the failure rate, side by side.
fn rates_chart(t: &Trend) -> String {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, 260)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let halves = root.split_evenly((1, 2));
        let plot_px = f64::from(W) / 2.0 - AXES_PX;
        for (area, panel) in halves.iter().zip([&RPS, &FAILURES]) {
            if draw_panel(area, t, panel, plot_px).is_none() {
                return svg_fallback(panel.title);
            }
        }
        let _ = root.present();
    }
    figure(&svg, &legend(t, &[&RPS, &FAILURES]))
}

/// A figure of a run as drawn: latency in ms.
fn drawn(f: Figure, r: &PastRun) -> f64 {
    match f {
        Figure::P50 | Figure::P99 => f.of(r) / 1000.0,
        Figure::Rps | Figure::FailureRate => f.of(r),
    }
}

fn figure_of(s: &TrendStep) -> Option<Figure> {
    Figure::ALL.into_iter().find(|f| f.key() == s.figure)
}

/// The colour of a step: red when it regressed, green when better.
fn step_colour(s: &TrendStep) -> RGBColor {
    if s.regressed {
        RED
    } else if s.worse < 0.0 {
        GREEN
    } else {
        GREY
    }
}

/// A step in a few words, for the top of its line: `p50 +30.4%`.
fn step_tag(s: &TrendStep, f: Figure) -> String {
    match f {
        Figure::FailureRate => format!("failures {:+.2} pt", s.after - s.before),
        _ if s.before > 0.0 => format!(
            "{} {:+.1}%",
            f.label(),
            (s.after - s.before) / s.before * 100.0
        ),
        _ => f.label().to_owned(),
    }
}

/// The steps of the figures of `panel`.
fn steps_of<'a>(t: &'a Trend, panel: &Panel<'_>) -> Vec<(&'a TrendStep, Figure)> {
    t.steps
        .iter()
        .filter_map(|s| Some((s, figure_of(s)?)))
        .filter(|(_, f)| panel.figures.iter().any(|(g, _)| g == f))
        .collect()
}

/// The legend of `panels`: their lines, this run, and each step in words.
fn legend(t: &Trend, panels: &[&Panel<'_>]) -> Vec<(RGBColor, Swatch, String)> {
    let mut entries: Vec<(RGBColor, Swatch, String)> = panels
        .iter()
        .flat_map(|p| p.figures.iter())
        .map(|(f, c)| (*c, Swatch::Line, f.label().to_owned()))
        .collect();
    entries.push((THIS_RUN, Swatch::Box, "this run".to_owned()));
    for p in panels {
        for (s, _) in steps_of(t, p) {
            entries.push((step_colour(s), Swatch::Dashed, describe_step(t, s)));
        }
    }
    entries
}

/// The x axis: a slot per run, labelled as often as the labels fit in
/// `plot_px`, always at this run (the last). A run's `--label` stands for
/// its id when every labelled run has one that fits (then `true`).
fn run_ticks(t: &Trend, plot_px: f64) -> (Vec<(f64, String)>, bool) {
    let n = t.runs.len().max(1);
    let slot = plot_px / n as f64;
    let name = |r: &PastRun| {
        if r.id == 0 {
            "this run".to_owned()
        } else {
            format!("#{}", r.id)
        }
    };
    // 13 px sans-serif: about 7 px a character, and a gap.
    let px = |s: &str| s.chars().count() as f64 * 7.0 + 12.0;
    let widest = t.runs.iter().map(|r| px(&name(r))).fold(0.0, f64::max);
    let every = (widest / slot).ceil().max(1.0) as usize;
    let ticked: Vec<usize> = (0..t.runs.len()).rev().step_by(every).collect();
    let room = slot * every as f64;
    let labels = ticked.iter().all(|&i| {
        let r = &t.runs[i];
        r.id == 0 || r.label.as_deref().is_some_and(|l| px(l) <= room)
    });
    let ticks = ticked
        .into_iter()
        .rev()
        .map(|i| {
            let r = &t.runs[i];
            let text = match &r.label {
                Some(l) if labels && r.id != 0 => l.clone(),
                _ => name(r),
            };
            (i as f64, text)
        })
        .collect();
    (ticks, labels && t.runs.len() > 1)
}

/// The y axis of `lines` and its words: of latency, around their values
/// (see `latency_axis`); else from zero. Room is left above for the tags
/// of steps.
fn y_axis<'a>(lines: &[Line], panel: &Panel<'a>) -> (LabelledAxis, &'a str) {
    let ys = || lines.iter().flat_map(|l| l.points.iter().map(|p| p.1));
    let hi = ys().fold(0.0f64, f64::max);
    if panel.latency {
        let lo = ys().filter(|y| *y > 0.0).fold(f64::MAX, f64::min);
        latency_axis(lo.min(hi), hi, 0.35)
    } else {
        // A failure rate of zero throughout still gets an axis to 1.
        (LabelledAxis::linear((hi * 1.3).max(1.0), 6), panel.y_desc)
    }
}

/// Draws `panel` over the runs of `t` on `area`; `None` when plotters
/// cannot lay it out.
fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    t: &Trend,
    panel: &Panel<'_>,
    plot_px: f64,
) -> Option<()> {
    let lines: Vec<Line> = panel
        .figures
        .iter()
        .map(|(f, c)| {
            let points = t.runs.iter().enumerate();
            let points = points.map(|(i, r)| (i as f64, drawn(*f, r)));
            Line::new(f.label(), *c, points.collect())
        })
        .collect();
    let (y, y_desc) = y_axis(&lines, panel);
    let (y0, y1) = (y.start, y.end);
    let last = t.runs.len().max(1) as f64 - 1.0;
    let (ticks, labelled) = run_ticks(t, plot_px);
    let x = LabelledAxis {
        start: -0.5,
        end: last + 0.5,
        log: false,
        ticks,
    };
    let mut chart = ChartBuilder::on(area)
        .caption(panel.title, ("sans-serif", 16))
        .margin(10)
        .margin_right(30)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(x, y)
        .ok()?;
    let _ = chart
        .configure_mesh()
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 14))
        .x_desc(if labelled {
            "run (its --label)"
        } else {
            "run (#id in the history)"
        })
        .y_desc(y_desc)
        .draw();
    let _ = chart.draw_series(std::iter::once(Rectangle::new(
        [(last - 0.5, y0), (last + 0.5, y1)],
        THIS_RUN.mix(0.4).filled(),
    )));
    draw_steps(&mut chart, t, panel, (y0, y1));
    for l in &lines {
        let style = l.colour.stroke_width(2);
        let _ = chart.draw_series(LineSeries::new(l.points.iter().copied(), style));
        let dots = l
            .points
            .iter()
            .map(|p| Circle::new(*p, 3, l.colour.filled()));
        let _ = chart.draw_series(dots);
        if let Some(p) = l.points.last() {
            let _ = chart.draw_series([
                Circle::new(*p, 7, l.colour.filled()),
                Circle::new(*p, 7, WHITE.stroke_width(2)),
            ]);
        }
    }
    Some(())
}

type Panelled<'a, DB> = ChartContext<'a, DB, Cartesian2d<LabelledAxis, LabelledAxis>>;

/// The steps of `panel`'s figures as dashed lines from `y0` to `y1`, each
/// tagged at its top. Steps that start at the same run stack their tags.
fn draw_steps<DB: DrawingBackend>(
    chart: &mut Panelled<'_, DB>,
    t: &Trend,
    panel: &Panel<'_>,
    (y0, y1): (f64, f64),
) {
    let last = t.runs.len().max(1) as f64 - 1.0;
    let mut at: Vec<usize> = Vec::new();
    for (s, f) in steps_of(t, panel) {
        let x = s.index as f64 - 0.5;
        let c = step_colour(s);
        let _ = chart.draw_series(DashedLineSeries::new(
            [(x, y0), (x, y1)],
            5,
            4,
            c.stroke_width(2),
        ));
        let k = at.iter().filter(|i| **i == s.index).count() as i32;
        at.push(s.index);
        // Right of its line, or left of it in the last third, where the
        // tag would run off the plot.
        let font = ("sans-serif", 13).into_font().color(&c);
        let (dx, font) = if x > last * 2.0 / 3.0 {
            (-4, font.pos(Pos::new(HPos::Right, VPos::Top)))
        } else {
            (4, font)
        };
        let tag = Text::new(step_tag(s, f), (dx, 4 + 16 * k), font);
        let _ = chart.draw_series(std::iter::once(EmptyElement::at((x, y1)) + tag));
    }
}

/// The CSS class of a remembered verdict.
fn verdict_class(verdict: &str) -> &'static str {
    match verdict {
        "passed" => "pass",
        "failed" => "fail",
        _ => "inconclusive",
    }
}

/// The runs, newest first: this run first, in bold.
fn runs_table(out: &mut String, t: &Trend) {
    out.push_str("<table><tr><th>run</th><th>started (UTC)</th><th>label</th><th>load</th><th>req/s</th><th>p50</th><th>p99</th><th>failures</th><th>verdict</th></tr>\n");
    for r in t.runs.iter().rev() {
        let (class, id) = if r.id == 0 {
            (" class=\"total\"", "this run".to_owned())
        } else {
            ("", format!("#{}", r.id))
        };
        let started = r.started_at.get(..16).unwrap_or(&r.started_at);
        let interrupted = if r.interrupted { " (interrupted)" } else { "" };
        let _ = writeln!(
            out,
            "<tr{class}><td>{id}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{:.1}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{:.2}%</td><td class=\"{}\">{}{interrupted}</td></tr>",
            escape(&started.replacen('T', " ", 1)),
            escape(r.label.as_deref().unwrap_or("")),
            escape(&r.load),
            r.rps,
            latency(r.p50_us),
            latency(r.p99_us),
            r.failure_percent,
            verdict_class(&r.verdict),
            escape(&r.verdict)
        );
    }
    out.push_str("</table>\n");
}

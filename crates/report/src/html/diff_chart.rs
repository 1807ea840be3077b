//! The diff page's chart: each task's p50 and p99, before and after, as
//! dots with their 95 % intervals as whiskers, on one log axis.

use plotters::prelude::*;

use super::axis::{LabelledAxis, latency_axis};
use super::chart::{BLUE, GREEN, ORANGE, RED, Swatch, W, figure, svg_fallback};
use crate::diff::{Change, Diff, DiffRow};
use crate::text::latency;

const TITLE: &str = "p50 and p99 per task, before and after (95% intervals)";

/// A row's label colour: the verdict's.
fn colour(c: Change) -> RGBColor {
    match c {
        Change::Worse => RED,
        Change::Better => GREEN,
        Change::Same | Change::Unknown => BLACK,
    }
}

/// The rows drawn: p50 and p99 of each task with a latency on a side.
fn drawn(d: &Diff) -> Vec<&DiffRow> {
    d.rows
        .iter()
        .filter(|r| matches!(r.figure.as_str(), "p50_us" | "p99_us"))
        .filter(|r| r.before > 0.0 || r.after > 0.0)
        .collect()
}

/// Every value and interval end of `rows`, in ms.
fn extent(rows: &[&DiffRow]) -> (f64, f64) {
    let ms = |v: f64| v / 1000.0;
    let values = rows.iter().flat_map(|r| {
        [r.before, r.after]
            .into_iter()
            .chain(r.before_ci.into_iter().flat_map(|(a, b)| [a, b]))
            .chain(r.after_ci.into_iter().flat_map(|(a, b)| [a, b]))
            .filter(|v| *v > 0.0)
            .map(ms)
    });
    values.fold((f64::MAX, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)))
}

/// The chart as a `<figure>` with its legend, or `None` without latency.
pub(crate) fn diff_chart(d: &Diff) -> Option<String> {
    let rows = drawn(d);
    if rows.is_empty() {
        return None;
    }
    let (lo, hi) = extent(&rows);
    let (x, x_desc) = latency_axis(lo, hi, 0.15);
    let label_at = x.start;
    let mut svg = String::new();
    {
        let n = rows.len();
        let height = 95 + 56 * n as u32;
        let root = SVGBackend::with_string(&mut svg, (W, height)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let Ok(mut chart) = ChartBuilder::on(&root)
            .caption(TITLE, ("sans-serif", 18))
            .margin(10)
            .margin_right(30)
            .x_label_area_size(45)
            .y_label_area_size(10)
            .build_cartesian_2d(x, 0.0..n as f64)
        else {
            return Some(svg_fallback(TITLE));
        };
        let _ = chart
            .configure_mesh()
            .disable_y_mesh()
            .disable_y_axis()
            .label_style(("sans-serif", 13))
            .axis_desc_style(("sans-serif", 14))
            .x_desc(x_desc)
            .draw();
        for (i, r) in rows.iter().enumerate() {
            // Row i spans [top − 1, top]: its label, then before, then after.
            let top = (n - i) as f64;
            let change = if r.before > 0.0 && r.after > 0.0 {
                format!(" ({:+.1}%)", r.change)
            } else {
                String::new()
            };
            let label = format!(
                "{} {} — {} → {}{change}",
                r.task,
                if r.figure == "p50_us" { "p50" } else { "p99" },
                shown(r.before),
                shown(r.after)
            );
            let _ = chart.draw_series(std::iter::once(Text::new(
                label,
                (label_at, top - 0.06),
                ("sans-serif", 13).into_font().color(&colour(r.verdict)),
            )));
            dot(&mut chart, r.before, r.before_ci, top - 0.5, BLUE);
            dot(&mut chart, r.after, r.after_ci, top - 0.78, ORANGE);
        }
        let _ = root.present();
    }
    let entries = [
        (BLUE, Swatch::Box, format!("before: {}", d.before.source)),
        (ORANGE, Swatch::Box, format!("after: {}", d.after.source)),
        (BLACK, Swatch::Line, "95% interval of the percentile".into()),
        (
            RED,
            Swatch::Box,
            "label in red: worse beyond the noise".into(),
        ),
        (GREEN, Swatch::Box, "label in green: better".into()),
    ];
    Some(figure(&svg, &entries))
}

fn shown(us: f64) -> String {
    if us > 0.0 {
        latency(us.round() as u64)
    } else {
        "-".into()
    }
}

type Frame<'a> = ChartContext<
    'a,
    SVGBackend<'a>,
    Cartesian2d<LabelledAxis, plotters::coord::types::RangedCoordf64>,
>;

/// A value at height `y` as a dot, and its interval as a whisker with caps.
fn dot(chart: &mut Frame<'_>, us: f64, ci: Option<(f64, f64)>, y: f64, c: RGBColor) {
    if us <= 0.0 {
        return;
    }
    if let Some((a, b)) = ci {
        let (a, b) = (a.max(1.0) / 1000.0, b.max(1.0) / 1000.0);
        let style = c.stroke_width(2);
        let _ = chart.draw_series([
            PathElement::new(vec![(a, y), (b, y)], style),
            PathElement::new(vec![(a, y - 0.08), (a, y + 0.08)], style),
            PathElement::new(vec![(b, y - 0.08), (b, y + 0.08)], style),
        ]);
    }
    let _ = chart.draw_series(std::iter::once(Circle::new(
        (us / 1000.0, y),
        5,
        c.filled(),
    )));
}

//! Bar charts: outcomes per task, and NATS beside HTTP.

use plotters::prelude::*;

use super::axis::LabelledAxis;
use super::chart::{AMBER, BLUE, GREEN, RED, Swatch, W, figure, svg_fallback};
use super::charts::ms;
use crate::result::RunResult;
use crate::text::latency;

/// The frame of a horizontal bar chart: `title`, an x axis from 0 to
/// `x_max` described as `x_desc`, and `rows` rows with no y axis (each bar
/// carries its own label). `None` when plotters cannot lay it out.
fn bar_frame<'a, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    x_max: f64,
    rows: usize,
    x_desc: &str,
) -> Option<ChartContext<'a, DB, Cartesian2d<LabelledAxis, plotters::coord::types::RangedCoordf64>>>
{
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 18))
        .margin(10)
        .margin_right(30)
        .x_label_area_size(45)
        .y_label_area_size(10)
        .build_cartesian_2d(LabelledAxis::linear(x_max, 10), 0.0..rows as f64)
        .ok()?;
    let _ = chart
        .configure_mesh()
        .disable_y_mesh()
        .disable_y_axis()
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 14))
        .x_desc(x_desc)
        .draw();
    Some(chart)
}

/// Horizontal bars of ok / rejected / failed requests per task, each task's
/// name and counts just above its bar, and the colours in a legend beside it.
pub(super) fn outcome_bars(r: &RunResult) -> String {
    const TITLE: &str = "Outcomes per task";
    const PARTS: [(&str, RGBColor); 3] = [
        ("ok", GREEN),
        ("rejected (a correct refusal)", AMBER),
        ("failed", RED),
    ];
    let mut svg = String::new();
    {
        let n = r.tasks.len().max(1);
        let height = 95 + 44 * n as u32;
        let root = SVGBackend::with_string(&mut svg, (W, height)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let most = r.tasks.iter().map(|t| t.requests).max().unwrap_or(1).max(1);
        let Some(mut chart) = bar_frame(&root, TITLE, most as f64 * 1.05, n, "requests") else {
            return svg_fallback(TITLE);
        };
        for (i, t) in r.tasks.iter().enumerate() {
            // Row i spans [top − 1, top]: the label hangs from its top, the
            // bar right under it, and the gap to the next row below the bar.
            let top = (n - i) as f64;
            let (y0, y1) = (top - 0.78, top - 0.42);
            let mut x = 0.0;
            for (count, (_, colour)) in [t.successes, t.rejected, t.failures].into_iter().zip(PARTS)
            {
                let w = count as f64;
                if w > 0.0 {
                    let _ = chart.draw_series(std::iter::once(Rectangle::new(
                        [(x, y0), (x + w, y1)],
                        colour.filled(),
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
                (0.0, top - 0.06),
                ("sans-serif", 13),
            )));
        }
        let _ = root.present();
    }
    let entries: Vec<(RGBColor, Swatch, String)> = PARTS
        .iter()
        .map(|(name, c)| (*c, Swatch::Box, (*name).to_owned()))
        .collect();
    figure(&svg, &entries)
}

/// Median of successful requests per task, NATS beside HTTP, as bars.
pub(super) fn comparison_bars(c: &crate::comparison::Comparison) -> String {
    const TITLE: &str = "Median latency per task: NATS vs HTTP";
    let mut svg = String::new();
    {
        let rows = c.tasks.len().max(1);
        let height = (80 + 56 * rows as u32).max(160);
        let root = SVGBackend::with_string(&mut svg, (W, height)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let x_max = c
            .tasks
            .iter()
            .flat_map(|t| [t.nats_latency_us.p50, t.http_latency_us.p50])
            .map(ms)
            .fold(1e-3, f64::max)
            * 1.3;
        let Some(mut chart) = bar_frame(&root, TITLE, x_max, rows, "ms (successful requests)")
        else {
            return svg_fallback(TITLE);
        };
        for (i, t) in c.tasks.iter().enumerate() {
            let base = (rows - 1 - i) as f64;
            for (j, (l, colour)) in [(&t.nats_latency_us, BLUE), (&t.http_latency_us, RED)]
                .into_iter()
                .enumerate()
            {
                if l.count == 0 {
                    continue;
                }
                // NATS above HTTP, as in the legend.
                let y0 = base + 0.4 - 0.3 * j as f64;
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
    figure(
        &svg,
        &[
            (BLUE, Swatch::Box, "NATS".into()),
            (RED, Swatch::Box, "HTTP".into()),
        ],
    )
}

/// One bar per framework that ran: `value` of its row in `unit`, labelled
/// with the framework's name and the figure.
pub(super) fn framework_bars(
    rows: &[crate::frameworks::FrameworkRow],
    title: &str,
    unit: &str,
    value: impl Fn(&crate::frameworks::FrameworkRow) -> f64,
    words: impl Fn(&crate::frameworks::FrameworkRow) -> String,
) -> String {
    let ran: Vec<&crate::frameworks::FrameworkRow> =
        rows.iter().filter(|r| r.skipped.is_none()).collect();
    let mut svg = String::new();
    {
        let n = ran.len().max(1);
        let height = 95 + 44 * n as u32;
        let root = SVGBackend::with_string(&mut svg, (W, height)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let most = ran.iter().map(|r| value(r)).fold(1e-3, f64::max) * 1.3;
        let Some(mut chart) = bar_frame(&root, title, most, n, unit) else {
            return svg_fallback(title);
        };
        for (i, r) in ran.iter().enumerate() {
            let top = (n - i) as f64;
            let colour = if r.kind == "nats" { BLUE } else { RED };
            let _ = chart.draw_series(std::iter::once(Rectangle::new(
                [(0.0, top - 0.78), (value(r), top - 0.42)],
                colour.filled(),
            )));
            let _ = chart.draw_series(std::iter::once(Text::new(
                format!("{} — {}", r.name, words(r)),
                (0.0, top - 0.06),
                ("sans-serif", 13),
            )));
        }
        let _ = root.present();
    }
    figure(
        &svg,
        &[
            (BLUE, Swatch::Box, "NATS (this run)".into()),
            (RED, Swatch::Box, "framework".into()),
        ],
    )
}

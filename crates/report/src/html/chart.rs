//! A [`Chart`] is plain data (title, x axis, lines, marks), so tests can
//! check what is drawn; [`Chart::html`] draws it as inline SVG (plotters)
//! with its legend in HTML beside the SVG, where it can never cover a line.

use std::fmt::Write;

use plotters::prelude::*;

use super::axis::{LabelledAxis, nice_ticks};
use super::escape;

/// Width of every chart, px.
pub(super) const W: u32 = 860;
const H: u32 = 300;

// Tableau 10: distinct from each other, and from each other's neighbours
// for the common colour blindnesses, better than plotters' pure primaries.
pub(super) const BLUE: RGBColor = RGBColor(31, 119, 180);
pub(super) const ORANGE: RGBColor = RGBColor(255, 127, 14);
pub(super) const GREEN: RGBColor = RGBColor(44, 160, 44);
pub(super) const RED: RGBColor = RGBColor(214, 39, 40);
pub(super) const PURPLE: RGBColor = RGBColor(148, 103, 189);
pub(super) const BROWN: RGBColor = RGBColor(140, 86, 75);
pub(super) const AMBER: RGBColor = RGBColor(230, 170, 0);

/// One line of a chart.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Line {
    /// Its name in the legend.
    pub name: String,
    pub colour: RGBColor,
    /// (x, y), x increasing.
    pub points: Vec<(f64, f64)>,
    /// A dot on each point: for a few points that each mean something.
    pub dots: bool,
}

impl Line {
    pub(super) fn new(name: impl Into<String>, colour: RGBColor, points: Vec<(f64, f64)>) -> Self {
        Self {
            name: name.into(),
            colour,
            points,
            dots: false,
        }
    }
}

/// The x axis of a chart.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum XAxis {
    /// Seconds from the start of the load to `end`, the run's duration.
    Time { end: f64 },
    /// HdrHistogram's percentile distribution, x = log10(1 / (1 − p)); the
    /// largest value is at `max_at`.
    Percentile { max_at: f64 },
}

impl XAxis {
    pub(super) fn end(self) -> f64 {
        match self {
            XAxis::Time { end } => end.max(1e-3),
            XAxis::Percentile { max_at } => max_at * MAX_X_SLACK,
        }
    }

    /// Tick positions and their labels.
    fn ticks(self) -> Vec<(f64, String)> {
        match self {
            XAxis::Time { end } => nice_ticks(end, 12),
            XAxis::Percentile { max_at } => PERCENTILE_TICKS
                .iter()
                .map(|&(p, label)| (percentile_x(p), label.to_owned()))
                // Labelled only where it does not crowd p99.99's label.
                .chain((max_at >= percentile_x(99.99) + 0.3).then(|| (max_at, "max".into())))
                .collect(),
        }
    }

    fn description(self) -> &'static str {
        match self {
            XAxis::Time { .. } => "seconds",
            XAxis::Percentile { .. } => {
                "percentile (log scale of 1/(1 − p), as HdrHistogram plots)"
            }
        }
    }
}

/// The shade of outage seconds.
const OUTAGE: RGBColor = RGBColor(240, 128, 128);

/// A vertical dashed line on a time chart: a connection event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Mark {
    pub at: f64,
    pub kind: MarkKind,
}

/// What happened to a connection, by colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum MarkKind {
    Lost,
    Back,
    Other,
}

impl MarkKind {
    fn colour(self) -> RGBColor {
        match self {
            MarkKind::Lost => RED,
            MarkKind::Back => GREEN,
            MarkKind::Other => ORANGE,
        }
    }

    fn words(self) -> &'static str {
        match self {
            MarkKind::Lost => "connection lost",
            MarkKind::Back => "connection back",
            MarkKind::Other => "other connection event",
        }
    }
}

/// A line chart, as data.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Chart {
    pub title: String,
    pub y_label: &'static str,
    pub x: XAxis,
    /// A log y axis: for latencies, where a tail of spikes would otherwise
    /// flatten the median against the floor.
    pub y_log: bool,
    pub lines: Vec<Line>,
    pub marks: Vec<Mark>,
    /// Shaded spans of the x axis, `(from, to)`: the run's outage.
    pub outage: Vec<(f64, f64)>,
}

impl Chart {
    pub(super) fn new(title: &str, y_label: &'static str, x: XAxis, lines: Vec<Line>) -> Self {
        Self {
            title: title.to_owned(),
            y_label,
            x,
            y_log: false,
            lines,
            marks: Vec::new(),
            outage: Vec::new(),
        }
    }

    /// The chart as a `<figure>`: the SVG, then its legend.
    pub(super) fn html(&self) -> String {
        let mut entries: Vec<(RGBColor, Swatch, String)> = self
            .lines
            .iter()
            .map(|l| (l.colour, Swatch::Line, l.name.clone()))
            .collect();
        let mut kinds: Vec<MarkKind> = self.marks.iter().map(|m| m.kind).collect();
        kinds.sort();
        kinds.dedup();
        entries.extend(
            kinds
                .into_iter()
                .map(|k| (k.colour(), Swatch::Dashed, k.words().into())),
        );
        if !self.outage.is_empty() {
            entries.push((OUTAGE, Swatch::Box, "outage (no success)".into()));
        }
        figure(&self.svg(), &entries)
    }

    /// The chart alone, as SVG: no legend inside the plot.
    pub(super) fn svg(&self) -> String {
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
            let _ = root.fill(&WHITE);
            let x_end = self.x.end();
            let ys = || self.lines.iter().flat_map(|l| l.points.iter().map(|p| p.1));
            let y_max = ys().fold(0.0f64, f64::max);
            let y = if self.y_log {
                let y_min = ys().filter(|y| *y > 0.0).fold(f64::MAX, f64::min);
                LabelledAxis::log(y_min.min(y_max), y_max)
            } else {
                LabelledAxis::linear(y_max * 1.1, 8)
            };
            let y_top = y.end;
            let Ok(mut chart) = ChartBuilder::on(&root)
                .caption(&self.title, ("sans-serif", 18))
                .margin(10)
                .margin_right(30)
                .x_label_area_size(45)
                .y_label_area_size(70)
                .build_cartesian_2d(
                    LabelledAxis {
                        start: 0.0,
                        end: x_end,
                        log: false,
                        ticks: self.x.ticks(),
                    },
                    y,
                )
            else {
                return svg_fallback(&self.title);
            };
            let _ = chart
                .configure_mesh()
                .label_style(("sans-serif", 13))
                .axis_desc_style(("sans-serif", 14))
                .x_desc(self.x.description())
                .y_desc(self.y_label)
                .draw();
            for (from, to) in &self.outage {
                let _ = chart.draw_series(std::iter::once(Rectangle::new(
                    [(*from, 0.0), (to.min(x_end), y_top)],
                    OUTAGE.mix(0.35).filled(),
                )));
            }
            for m in self.marks.iter().filter(|m| (0.0..=x_end).contains(&m.at)) {
                let _ = chart.draw_series(DashedLineSeries::new(
                    [(m.at, 0.0), (m.at, y_top)],
                    4,
                    3,
                    m.kind.colour().stroke_width(1),
                ));
            }
            for l in &self.lines {
                let _ = chart.draw_series(LineSeries::new(
                    l.points.iter().copied(),
                    l.colour.stroke_width(2),
                ));
                if l.dots {
                    let _ = chart.draw_series(
                        l.points
                            .iter()
                            .map(|p| Circle::new(*p, 3, l.colour.filled())),
                    );
                }
            }
            let _ = root.present();
        }
        svg
    }
}

/// How a legend entry shows its colour.
#[derive(Debug, Clone, Copy)]
pub(super) enum Swatch {
    Line,
    Dashed,
    Box,
}

/// An SVG and its legend beside it: `(colour, swatch, name)` per entry.
pub(super) fn figure(svg: &str, entries: &[(RGBColor, Swatch, String)]) -> String {
    let mut out = format!("<figure class=\"chart\">{svg}<ul class=\"legend\">");
    for (c, swatch, name) in entries {
        let (class, property) = match swatch {
            Swatch::Line => ("line", "border-color"),
            Swatch::Dashed => ("line dashed", "border-color"),
            Swatch::Box => ("box", "background"),
        };
        let _ = write!(
            out,
            "<li><span class=\"swatch {class}\" style=\"{property}:#{:02x}{:02x}{:02x}\"></span>{}</li>",
            c.0,
            c.1,
            c.2,
            escape(name)
        );
    }
    out.push_str("</ul></figure>\n");
    out
}

pub(super) fn svg_fallback(title: &str) -> String {
    format!("<p>(no chart: {})</p>", escape(title))
}

/// The percentiles labelled on the distribution's axis.
const PERCENTILE_TICKS: [(f64, &str); 5] = [
    (50.0, "p50"),
    (90.0, "p90"),
    (99.0, "p99"),
    (99.9, "p99.9"),
    (99.99, "p99.99"),
];

/// The axis ends this far past the largest point, so its dot shows whole.
const MAX_X_SLACK: f64 = 1.04;

/// Where percentile `p` (in percent, below 100) sits on the distribution's
/// axis: log10(1 / (1 − p)), so p90 is 1, p99 is 2, p99.9 is 3, and each
/// further nine gets as much room as the one before.
pub(super) fn percentile_x(p: f64) -> f64 {
    (1.0 / (1.0 - p / 100.0)).log10()
}

//! The charts' axes, linear or logarithmic, with ticks and labels of the
//! report's choosing.

use std::ops::Range;

use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, ValueFormatter};
use plotters::prelude::*;

/// An axis with the ticks and labels given: plotters' own f64 axis picks
/// its ticks, cannot label them `p99.9`, and fills the plot with faint grid
/// lines between them.
pub(super) struct LabelledAxis {
    pub start: f64,
    pub end: f64,
    /// Logarithmic (`start` > 0).
    pub log: bool,
    pub ticks: Vec<(f64, String)>,
}

impl LabelledAxis {
    /// From 0 to `end` (at least a little), ticked at most `steps` times.
    pub(super) fn linear(end: f64, steps: u32) -> Self {
        let end = end.max(1e-3);
        Self {
            start: 0.0,
            end,
            log: false,
            ticks: nice_ticks(end, steps),
        }
    }

    /// Logarithmic, from below `lo` to above `hi`, ticked at 1, 2 and 5
    /// of each decade (also 1.5, 3 and 7 over less than one and a half
    /// decades; only at powers of ten over more than three).
    pub(super) fn log(lo: f64, hi: f64) -> Self {
        let (lo, hi) = (lo.max(1e-3), hi.max(1e-3));
        let (start, end) = (lo / 1.3, (hi * 1.3).max(lo * 2.0));
        let decades = (end / start).log10();
        let steps: &[f64] = if decades > 3.0 {
            &[1.0]
        } else if decades > 1.5 {
            &[1.0, 2.0, 5.0]
        } else {
            &[1.0, 1.5, 2.0, 3.0, 5.0, 7.0]
        };
        let ticks = (start.log10().floor() as i32..=end.log10().ceil() as i32)
            .flat_map(|e| steps.iter().map(move |m| m * 10f64.powi(e)))
            .filter(|t| (start..=end).contains(t))
            .map(|t| (t, shortest(t)))
            .collect();
        Self {
            start,
            end,
            log: true,
            ticks,
        }
    }
}

impl Ranged for LabelledAxis {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let share = if self.log {
            (value.max(self.start) / self.start).ln() / (self.end / self.start).ln()
        } else {
            (value - self.start) / (self.end - self.start)
        };
        limit.0 + (f64::from(limit.1 - limit.0) * share).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        // Grid lines at the labelled ticks only, none lighter between them.
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.iter().map(|t| t.0).collect()
        }
    }

    fn range(&self) -> Range<f64> {
        self.start..self.end
    }
}

impl ValueFormatter<f64> for LabelledAxis {
    fn format_ext(&self, value: &f64) -> String {
        self.ticks
            .iter()
            .find(|t| (t.0 - value).abs() <= 1e-9 * t.0.abs().max(1.0))
            .map_or(String::new(), |t| t.1.clone())
    }
}

/// Ticks every 1, 2 or 5 × 10^k, at most `steps` of them, from 0 to `end`.
pub(super) fn nice_ticks(end: f64, steps: u32) -> Vec<(f64, String)> {
    let end = end.max(1e-3);
    let step = nice_step(end, steps);
    (0..)
        .map(|i| f64::from(i) * step)
        .take_while(|t| *t <= end + step * 1e-9)
        .map(|t| (t, number(t, step)))
        .collect()
}

/// The step of 1, 2 or 5 × 10^k that cuts `range` into at most `steps`.
fn nice_step(range: f64, steps: u32) -> f64 {
    let magnitude = 10f64.powf((range / f64::from(steps)).log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| range / s <= f64::from(steps))
        .unwrap_or(10.0 * magnitude)
}

/// An axis for latencies between `lo` and `hi` (ms): logarithmic when they
/// span more than 5×, where a linear axis would press the low ones flat;
/// else linear around them, not from zero, so that a change of a few
/// percent is seen; `headroom` (a share of the span) left above `hi`.
/// With the words for its description.
pub(super) fn latency_axis(lo: f64, hi: f64, headroom: f64) -> (LabelledAxis, &'static str) {
    let (lo, hi) = (lo.max(1e-3), hi.max(1e-3));
    if hi / lo > 5.0 {
        return (LabelledAxis::log(lo, hi), "ms (log scale)");
    }
    // At least a tenth of the value, so equal values still get an axis.
    let span = (hi - lo).max(hi * 0.1);
    let (start, end) = ((lo - span * 0.15).max(0.0), hi + span * headroom);
    let step = nice_step(end - start, 6);
    let first = (start / step).ceil() as i64;
    let ticks = (first..)
        .map(|i| i as f64 * step)
        .take_while(|t| *t <= end)
        .map(|t| (t, number(t, step)))
        .collect();
    let axis = LabelledAxis {
        start,
        end,
        log: false,
        ticks,
    };
    (axis, "ms")
}

/// `v` with as many decimals as a tick `step` needs (`0.5`, `20`, `1500`).
fn number(v: f64, step: f64) -> String {
    let decimals = (-step.log10().floor()).max(0.0) as usize;
    format!("{v:.decimals$}")
}

/// `v` to the µs of a millisecond figure, without trailing zeros (`0.3`, `1.5`, `20`).
fn shortest(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

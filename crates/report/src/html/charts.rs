//! The run's line charts: what each one draws, from the result.

use plotters::style::RGBColor;

use super::chart::{
    AMBER, BLUE, BROWN, Chart, GREEN, Line, Mark, MarkKind, ORANGE, PURPLE, RED, XAxis,
    percentile_x,
};
use crate::processes::Monitor;
use crate::result::{IntervalRow, LatencyUs, RunResult};
use crate::text::latency;

/// The end of the run: every time chart spans 0 to it.
fn run_end(r: &RunResult) -> f64 {
    r.duration_s.max(1e-3)
}

/// The run's whole seconds. The last, partial interval (replies in flight
/// at the deadline) is a sliver of a second: drawn, it would look like a collapse.
fn whole(r: &RunResult) -> impl Iterator<Item = &IntervalRow> {
    r.intervals.iter().filter(|i| i.duration_s >= 0.5)
}

/// `f` of each whole second, at the second's end (where it was measured).
fn per_second(r: &RunResult, f: impl Fn(&IntervalRow) -> Option<f64>) -> Vec<(f64, f64)> {
    let end = run_end(r);
    whole(r)
        .filter_map(|i| f(i).map(|y| ((f64::from(i.t) + i.duration_s).min(end), y)))
        .collect()
}

fn rate(n: u64, i: &IntervalRow) -> f64 {
    crate::verdict::per_second(n, i.duration_s)
}

/// The connection events of `r` as marks.
fn event_marks(r: &RunResult) -> Vec<Mark> {
    r.connection_events
        .iter()
        .filter(|e| e.t_s >= 0.0)
        .map(|e| Mark {
            at: e.t_s,
            kind: match e.event.as_str() {
                "disconnected" | "closed" => MarkKind::Lost,
                "reconnected" => MarkKind::Back,
                _ => MarkKind::Other,
            },
        })
        .collect()
}

fn time(r: &RunResult) -> XAxis {
    XAxis::Time { end: run_end(r) }
}

/// Successes (and correct refusals, when any) per second. Failures have
/// their own chart: a burst of fast failures would flatten this one.
pub(super) fn throughput(r: &RunResult) -> Chart {
    let mut lines = vec![Line::new(
        "successes/s",
        BLUE,
        per_second(r, |i| Some(rate(i.successes, i))),
    )];
    if r.summary.rejected > 0 {
        lines.push(Line::new(
            "rejected/s (correct refusals)",
            AMBER,
            per_second(r, |i| Some(rate(i.rejected, i))),
        ));
    }
    let mut c = Chart::new(
        "Successful requests per second",
        "per second",
        time(r),
        lines,
    );
    c.marks = event_marks(r);
    c.outage = outage_spans(r);
    c
}

/// The outage's seconds as spans of the time axis.
fn outage_spans(r: &RunResult) -> Vec<(f64, f64)> {
    let mut spans: Vec<(f64, f64)> = Vec::new();
    for i in r
        .intervals
        .iter()
        .filter(|i| r.outage.seconds.contains(&i.t))
    {
        let (from, to) = (f64::from(i.t), f64::from(i.t) + i.duration_s);
        match spans.last_mut() {
            Some((_, end)) if (*end - from).abs() < 1e-9 => *end = to,
            _ => spans.push((from, to)),
        }
    }
    spans
}

/// Failures per second, on their own scale; `None` when nothing failed.
pub(super) fn failures(r: &RunResult) -> Option<Chart> {
    (r.summary.failures > 0).then(|| {
        let mut c = Chart::new(
            "Failures per second",
            "per second",
            time(r),
            vec![Line::new(
                "failures/s",
                RED,
                per_second(r, |i| Some(rate(i.failures, i))),
            )],
        );
        c.marks = event_marks(r);
        c
    })
}

/// Users running (closed model) or requests in flight (open model); with
/// user stages, the users the plan asked for beside them.
pub(super) fn active(r: &RunResult) -> Chart {
    let (title, unit, name) = if r.open_model.is_some() {
        (
            "Requests in flight (most at once per second)",
            "in flight",
            "most in flight",
        )
    } else {
        ("Users running", "users", "users running")
    };
    let mut lines = vec![Line::new(
        name,
        BLUE,
        per_second(r, |i| Some(f64::from(i.active))),
    )];
    if r.open_model.is_none()
        && let Some(planned) = planned(r, "users")
    {
        lines.push(Line::new("planned users", ORANGE, planned));
    }
    Chart::new(title, unit, time(r), lines)
}

/// The open model's arrival rate against its plan, when the rate changes
/// (`stages:`, `ramp_to`); `None` for a constant rate.
pub(super) fn arrivals(r: &RunResult) -> Option<Chart> {
    let planned = planned(r, "arrivals_per_s")?;
    // Each second's requests are its average rate: drawn at its middle,
    // where a linear plan has that average.
    let done = whole(r)
        .map(|i| (f64::from(i.t) + i.duration_s / 2.0, rate(i.requests, i)))
        .collect();
    Some(Chart::new(
        "Arrival rate against the plan",
        "per second",
        time(r),
        vec![
            Line::new("requests/s (completed)", BLUE, done),
            Line::new("planned arrivals/s", ORANGE, planned),
        ],
    ))
}

/// The plan's line of `of` (`users`, `arrivals_per_s`) over the load, if
/// the load follows a shape.
fn planned(r: &RunResult, of: &str) -> Option<Vec<(f64, f64)>> {
    let shape = r.load.shape.as_ref().filter(|s| s.of == of)?;
    let end = r.planned_duration_s.min(run_end(r)).max(0.0);
    Some(
        shape
            .shape()
            .points(std::time::Duration::from_secs_f64(end)),
    )
}

pub(super) fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// p50, p90, p95 and p99 of each second's successful requests; a second
/// without a success has no point, but the axis still spans the whole run.
pub(super) fn latency_over_time(r: &RunResult) -> Chart {
    let series = |name: &str, colour, f: fn(&LatencyUs) -> u64| {
        Line::new(
            name,
            colour,
            per_second(r, |i| {
                (i.latency_us.count > 0).then(|| ms(f(&i.latency_us)))
            }),
        )
    };
    let mut lines = vec![
        series("p50", BLUE, |l| l.p50),
        series("p90", GREEN, |l| l.p90),
        series("p95", ORANGE, |l| l.p95),
        series("p99", RED, |l| l.p99),
    ];
    // Open model: from the intended send time too (what the checks judge);
    // above the others when the generator or the service fell behind.
    if r.open_model.is_some() {
        let intended = |name: &str, colour, f: fn(&LatencyUs) -> u64| {
            Line::new(
                name,
                colour,
                per_second(r, |i| {
                    let l = i.intended_latency_us.as_ref()?;
                    (l.count > 0).then(|| ms(f(l)))
                }),
            )
        };
        lines.push(intended("p50 from intended send", PURPLE, |l| l.p50));
        lines.push(intended("p99 from intended send", BROWN, |l| l.p99));
    }
    let mut c = Chart::new(
        "Latency percentiles per second",
        "ms (log scale)",
        time(r),
        lines,
    );
    c.y_log = true;
    c
}

/// The latency of the successful requests by percentile, on HdrHistogram's
/// axis; `None` when nothing succeeded. The largest value is drawn where the
/// largest of `count` values stands, at p = 1 − 1/count (at least p99.99).
pub(super) fn distribution(l: &LatencyUs) -> Option<Chart> {
    if l.count == 0 {
        return None;
    }
    let max_at = (l.count as f64).log10().max(percentile_x(99.99));
    let points = [
        (0.0, l.min),
        (percentile_x(50.0), l.p50),
        (percentile_x(66.0), l.p66),
        (percentile_x(75.0), l.p75),
        (percentile_x(80.0), l.p80),
        (percentile_x(90.0), l.p90),
        (percentile_x(95.0), l.p95),
        (percentile_x(98.0), l.p98),
        (percentile_x(99.0), l.p99),
        (percentile_x(99.9), l.p999),
        (percentile_x(99.99), l.p9999),
        (max_at, l.max),
    ]
    .into_iter()
    .map(|(x, v)| (x, ms(v)))
    .collect();
    let mut line = Line::new(
        format!(
            "latency (min {} · p50 {} · p99 {} · max {})",
            latency(l.min),
            latency(l.p50),
            latency(l.p99),
            latency(l.max)
        ),
        BLUE,
        points,
    );
    line.dots = true;
    // Log y as well, as HdrHistogram's plots: under a 100 ms maximum a
    // linear axis draws p50–p99 flat on zero (issue 27).
    let mut c = Chart::new(
        "Latency by percentile",
        "ms (log scale)",
        XAxis::Percentile { max_at },
        vec![line],
    );
    c.y_log = true;
    Some(c)
}

const PROCESS_COLOURS: [RGBColor; 6] = [BLUE, RED, GREEN, ORANGE, PURPLE, BROWN];

/// Memory and CPU of the watched processes. A process that exited stops at
/// its last sample: it has no memory after that, not zero.
pub(super) fn processes(m: &Monitor, r: &RunResult) -> [Chart; 2] {
    let end = run_end(r);
    let series = |f: &dyn Fn(&cliffload_monitor::Sample) -> Option<f64>| -> Vec<Line> {
        m.processes
            .iter()
            .zip(PROCESS_COLOURS.iter().cycle())
            .map(|(p, colour)| {
                let s = &p.series;
                // A process that is gone is not read at all, or, while its
                // parent has not reaped it, reads as 0 bytes.
                let alive = s.samples.iter().rposition(|x| x.rss_bytes > 0);
                let samples = alive.map_or(&[][..], |last| &s.samples[..=last]);
                let gone = s.exited || samples.len() < s.samples.len();
                let exited = match samples.last() {
                    Some(last) if gone => format!(", exited after {:.1} s", last.t),
                    _ if gone => ", exited".to_owned(),
                    _ => String::new(),
                };
                Line::new(
                    format!("{} (pid {}{exited})", s.label, s.pid),
                    *colour,
                    samples
                        .iter()
                        // The samples at the start and the end of the load
                        // fall a few ms either side of it.
                        .filter(|x| (-0.5..=end + 0.5).contains(&x.t))
                        .filter_map(|x| f(x).map(|v| (x.t.clamp(0.0, end), v)))
                        .collect(),
                )
            })
            .collect()
    };
    let x = time(r);
    [
        Chart::new(
            "Resident memory (RSS)",
            "MiB",
            x,
            series(&|s| Some(s.rss_bytes as f64 / 1_048_576.0)),
        ),
        Chart::new("CPU (100% = one core)", "%", x, series(&|s| s.cpu_percent)),
    ]
}

/// Each watched consumer's messages pending plus unacknowledged over the
/// load: a consumer that keeps up stays flat, one that does not climbs.
pub(super) fn consumers(r: &RunResult) -> Option<Chart> {
    if r.consumers.is_empty() {
        return None;
    }
    let end = run_end(r);
    let lines = r
        .consumers
        .iter()
        .zip(PROCESS_COLOURS.iter().cycle())
        .map(|(c, colour)| {
            Line::new(
                format!("{} (pending + unacknowledged)", c.label()),
                *colour,
                c.samples
                    .iter()
                    .map(|x| (x.t_s.clamp(0.0, end), x.lag() as f64))
                    .collect(),
            )
        })
        .collect();
    Some(Chart::new("Consumer lag", "messages", time(r), lines))
}

//! Outage: seconds of the load in which requests were due and failed and
//! none succeeded, judged on time rather than on requests.
//!
//! In the closed model a dead server costs each user one timeout per
//! timeout period, so a request-weighted failure rate hides an outage of
//! most of the run (512 users, 1 s timeout, 7 dead seconds of 10: 0.77 %
//! failed). Time does not: a second in which users were running, requests
//! failed and none succeeded is lost to the users of the service.
//!
//! A second with no success and no failure either (a slow service whose
//! replies take longer than a second) is an outage only when it joins
//! seconds that had failures: a run of seconds without a success counts
//! when a failure, or a disconnection of the load's connections, falls in it.

use serde::{Deserialize, Serialize};

use crate::result::{ConnectionEventRow, IntervalRow};

/// The outage of a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Outage {
    /// The seconds (interval indexes) of outage, in order.
    pub seconds: Vec<u32>,
    /// Their length in seconds (the last interval may be short).
    pub total_s: f64,
    /// The load's length in seconds.
    pub of_s: f64,
    /// When the load's connections first disconnected, seconds from the start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disconnected_at_s: Option<f64>,
}

impl Outage {
    /// The outage in `intervals`, given the load's connection events.
    pub fn of(intervals: &[IntervalRow], events: &[ConnectionEventRow], of_s: f64) -> Self {
        let disconnected: Vec<f64> = events
            .iter()
            .filter(|e| e.event == "disconnected" || e.event == "closed")
            .map(|e| e.t_s)
            .collect();
        let mut seconds = Vec::new();
        let mut run: Vec<&IntervalRow> = Vec::new();
        let mut close = |run: &mut Vec<&IntervalRow>| {
            let (Some(first), Some(last)) = (run.first(), run.last()) else {
                return;
            };
            let (from, to) = (f64::from(first.t), f64::from(last.t) + last.duration_s);
            let failed = run.iter().any(|i| i.failures > 0)
                || disconnected.iter().any(|t| (from..to).contains(t));
            if failed {
                seconds.extend(run.iter().map(|i| i.t));
            }
            run.clear();
        };
        for i in intervals {
            if i.successes == 0 && i.active > 0 {
                run.push(i);
            } else {
                close(&mut run);
            }
        }
        close(&mut run);
        let total_s = intervals
            .iter()
            .filter(|i| seconds.contains(&i.t))
            .map(|i| i.duration_s)
            .sum::<f64>();
        Self {
            seconds,
            total_s: (total_s * 1000.0).round() / 1000.0,
            of_s,
            disconnected_at_s: disconnected.first().copied().filter(|t| *t >= 0.0),
        }
    }

    /// True when some second was lost.
    pub fn any(&self) -> bool {
        !self.seconds.is_empty()
    }

    /// In words: `no successful request in seconds 4–10 (7 of 11 s); disconnected at 3.2 s`.
    pub fn words(&self) -> String {
        if !self.any() {
            return "none".into();
        }
        let spans: Vec<String> = spans(&self.seconds)
            .into_iter()
            .map(|(a, b)| {
                if a == b {
                    a.to_string()
                } else {
                    format!("{a}–{b}")
                }
            })
            .collect();
        let plural = if self.seconds.len() == 1 { "" } else { "s" };
        let mut out = format!(
            "no successful request in second{plural} {} ({} of {} s)",
            spans.join(", "),
            trim(self.total_s),
            trim(self.of_s)
        );
        if let Some(t) = self.disconnected_at_s {
            out.push_str(&format!("; disconnected at {t:.1} s"));
        }
        out
    }
}

/// Consecutive seconds as (first, last) pairs.
fn spans(seconds: &[u32]) -> Vec<(u32, u32)> {
    let mut out: Vec<(u32, u32)> = Vec::new();
    for &s in seconds {
        match out.last_mut() {
            Some((_, last)) if *last + 1 == s => *last = s,
            _ => out.push((s, s)),
        }
    }
    out
}

fn trim(x: f64) -> String {
    let t = format!("{x:.1}");
    t.strip_suffix(".0").map(str::to_owned).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(t: u32, successes: u64, failures: u64, active: u32) -> IntervalRow {
        IntervalRow {
            t,
            duration_s: 1.0,
            requests: successes + failures,
            successes,
            failures,
            active,
            ..IntervalRow::default()
        }
    }

    #[test]
    fn seconds_without_a_success_count_when_failures_fall_in_them() {
        // Issue 27's run: up for 3 s, then timeouts only.
        let mut rows: Vec<IntervalRow> = (0..4).map(|t| row(t, 40_000, 0, 512)).collect();
        rows.extend((4..11).map(|t| row(t, 0, if t == 4 { 0 } else { 512 }, 512)));
        let o = Outage::of(&rows, &[], 11.0);
        assert_eq!(o.seconds, (4..11).collect::<Vec<_>>());
        assert_eq!(
            o.words(),
            "no successful request in seconds 4–10 (7 of 11 s)"
        );
    }

    #[test]
    fn a_slow_service_is_no_outage_and_a_disconnection_is() {
        // One user, replies every 1.5 s: seconds with nothing completed.
        let rows = [
            row(0, 1, 0, 1),
            row(1, 0, 0, 1),
            row(2, 1, 0, 1),
            row(3, 0, 0, 1),
        ];
        assert!(!Outage::of(&rows, &[], 4.0).any());
        let gone = ConnectionEventRow {
            t_s: 1.2,
            worker: 0,
            event: "disconnected".into(),
            detail: String::new(),
        };
        let o = Outage::of(&rows, &[gone], 4.0);
        assert_eq!(o.seconds, [1]);
        assert_eq!(
            o.words(),
            "no successful request in second 1 (1 of 4 s); disconnected at 1.2 s"
        );
        // No users running: nothing was due.
        assert!(!Outage::of(&[row(0, 0, 3, 0)], &[], 1.0).any());
    }

    #[test]
    fn spans_join_consecutive_seconds() {
        assert_eq!(spans(&[1, 2, 3, 7, 9, 10]), [(1, 3), (7, 7), (9, 10)]);
    }
}

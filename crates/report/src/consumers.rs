//! The durable consumers a run watched (`jetstream.consumers`): their
//! pending and unacknowledged messages each second, and the
//! `max_consumer_lag` check.

use serde::{Deserialize, Serialize};

use crate::RunResult;
use crate::verdict::{Check, Status};

/// One consumer over the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsumerSeries {
    /// Its stream.
    pub stream: String,
    /// Its durable name.
    pub name: String,
    /// One reading per second, from the start of the load.
    pub samples: Vec<ConsumerSample>,
    /// The most messages pending or unacknowledged at any reading.
    pub max_lag: u64,
    /// Why it could not be read, when a reading failed (the last reason).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
}

/// One reading of a consumer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ConsumerSample {
    /// Seconds from the start of the load.
    pub t_s: f64,
    /// Messages not yet delivered to it.
    pub pending: u64,
    /// Delivered, not yet acknowledged.
    pub ack_pending: u64,
    /// Delivered more than once (so far).
    pub redelivered: u64,
}

impl ConsumerSample {
    /// Messages not yet processed: pending plus unacknowledged.
    pub fn lag(&self) -> u64 {
        self.pending.saturating_add(self.ack_pending)
    }
}

impl ConsumerSeries {
    /// A consumer's readings, its peak lag worked out.
    pub fn new(
        stream: &str,
        name: &str,
        samples: Vec<ConsumerSample>,
        unreadable: Option<String>,
    ) -> Self {
        Self {
            stream: stream.to_owned(),
            name: name.to_owned(),
            max_lag: samples.iter().map(ConsumerSample::lag).max().unwrap_or(0),
            samples,
            unreadable,
        }
    }

    /// `STREAM/NAME`.
    pub fn label(&self) -> String {
        format!("{}/{}", self.stream, self.name)
    }
}

/// Puts the consumers' series in the result and, with a `bound`, judges
/// `max_consumer_lag`: failed when any reading of any consumer was above
/// it; inconclusive when a consumer could not be read at all.
pub fn apply(r: &mut RunResult, series: Vec<ConsumerSeries>, bound: Option<u64>) {
    if let Some(max) = bound {
        r.verdict.checks.push(lag_check(&series, max));
    }
    r.consumers = series;
}

fn lag_check(series: &[ConsumerSeries], max: u64) -> Check {
    let expected = format!("≤ {max} messages pending or unacknowledged");
    if let Some(s) = series.iter().find(|s| s.samples.is_empty()) {
        return Check::with_status(
            "max_consumer_lag",
            Status::Inconclusive,
            expected,
            format!(
                "consumer {} could not be read: {}",
                s.label(),
                s.unreadable.as_deref().unwrap_or("no reading")
            ),
        );
    }
    let worst = series.iter().max_by_key(|s| s.max_lag);
    let actual = worst.map_or_else(
        || "no consumer watched".to_owned(),
        |s| {
            let at = s
                .samples
                .iter()
                .find(|x| x.lag() == s.max_lag)
                .map_or(0.0, |x| x.t_s);
            format!("{}: peak {} at {at:.0} s", s.label(), s.max_lag)
        },
    );
    let passed = worst.is_some_and(|s| s.max_lag <= max);
    Check::new("max_consumer_lag", passed, expected, actual)
}

/// One line per consumer: `ORDERS/order_processor: lag peak 1,204 at 9 s,
/// last 0 (pending 0, unacknowledged 0), 3 redelivered`.
pub fn lines(r: &RunResult) -> Vec<String> {
    r.consumers
        .iter()
        .map(|s| match s.samples.last() {
            None => format!(
                "{}: not read ({})",
                s.label(),
                s.unreadable.as_deref().unwrap_or("no reading")
            ),
            Some(last) => {
                let at = s
                    .samples
                    .iter()
                    .find(|x| x.lag() == s.max_lag)
                    .map_or(0.0, |x| x.t_s);
                format!(
                    "{}: lag peak {} at {at:.0} s, last {} (pending {}, unacknowledged {}), {} redelivered",
                    s.label(),
                    s.max_lag,
                    last.lag(),
                    last.pending,
                    last.ack_pending,
                    last.redelivered
                )
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(lags: &[u64]) -> ConsumerSeries {
        let samples = lags
            .iter()
            .enumerate()
            .map(|(i, l)| ConsumerSample {
                t_s: i as f64,
                pending: *l,
                ack_pending: 0,
                redelivered: 0,
            })
            .collect();
        ConsumerSeries::new("ORDERS", "order_processor", samples, None)
    }

    #[test]
    fn the_lag_check_fails_on_any_reading_above_the_bound() {
        assert_eq!(lag_check(&[series(&[0, 5, 2])], 5).status, Status::Passed);
        let c = lag_check(&[series(&[0, 5, 2]), series(&[1, 9, 3])], 5);
        assert_eq!(c.status, Status::Failed);
        assert_eq!(c.actual, "ORDERS/order_processor: peak 9 at 1 s");
    }

    #[test]
    fn a_consumer_never_read_makes_the_check_inconclusive() {
        let none =
            ConsumerSeries::new("ORDERS", "x", Vec::new(), Some("consumer not found".into()));
        let c = lag_check(&[series(&[0]), none], 5);
        assert_eq!(c.status, Status::Inconclusive);
        assert!(c.actual.contains("consumer not found"), "{}", c.actual);
    }
}

//! Microsecond HDR latency histograms.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Lowest trackable latency, in µs.
pub const LOWEST_US: u64 = 1;
/// Highest trackable latency, in µs (60 s). Longer latencies are clamped to it.
pub const HIGHEST_US: u64 = 60_000_000;
/// Significant decimal digits kept: 0.1% relative error.
pub const SIGFIG: u8 = 3;

/// A latency histogram in microseconds, 1 µs to 60 s, 3 significant digits.
#[derive(Debug, Clone)]
pub struct LatencyHistogram(Histogram<u64>);

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyHistogram {
    /// An empty histogram.
    pub fn new() -> Self {
        // The bounds are constants known to be valid, so this cannot fail.
        #[allow(clippy::unwrap_used)]
        let h = Histogram::new_with_bounds(LOWEST_US, HIGHEST_US, SIGFIG).unwrap();
        Self(h)
    }

    /// Records one latency. Sub-microsecond values count as 1 µs and values
    /// over 60 s as 60 s, so recording never fails.
    #[inline]
    pub fn record(&mut self, latency: Duration) {
        let us = (latency.as_micros() as u64).clamp(LOWEST_US, HIGHEST_US);
        self.0.saturating_record(us);
    }

    /// Records a value already in microseconds.
    #[inline]
    pub fn record_us(&mut self, us: u64) {
        self.0.saturating_record(us.clamp(LOWEST_US, HIGHEST_US));
    }

    /// Adds every value of `other`. Both have the same bounds, so this cannot fail.
    pub fn merge(&mut self, other: &LatencyHistogram) {
        // Same bounds on both sides: `add` only fails on incompatible bounds.
        let _ = self.0.add(&other.0);
    }

    /// Number of recorded values.
    pub fn count(&self) -> u64 {
        self.0.len()
    }

    /// Value at a quantile (0..=1), in µs; 0 when empty.
    pub fn quantile_us(&self, q: f64) -> u64 {
        if self.0.is_empty() {
            0
        } else {
            self.0.value_at_quantile(q)
        }
    }

    /// The percentiles reported everywhere.
    pub fn summary(&self) -> LatencySummary {
        if self.0.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            count: self.0.len(),
            p50: self.0.value_at_quantile(0.50),
            p66: self.0.value_at_quantile(0.66),
            p75: self.0.value_at_quantile(0.75),
            p80: self.0.value_at_quantile(0.80),
            p90: self.0.value_at_quantile(0.90),
            p95: self.0.value_at_quantile(0.95),
            p98: self.0.value_at_quantile(0.98),
            p99: self.0.value_at_quantile(0.99),
            p999: self.0.value_at_quantile(0.999),
            p9999: self.0.value_at_quantile(0.9999),
            max: self.0.max(),
            min: self.0.min(),
            mean: (self.0.mean() * 10.0).round() / 10.0,
        }
    }

    /// The underlying histogram, for serialisation.
    pub fn inner(&self) -> &Histogram<u64> {
        &self.0
    }
}

/// Latency percentiles in microseconds (integers: µs resolution; never whole
/// milliseconds). All zero when nothing was recorded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Number of values the summary is over.
    pub count: u64,
    /// Median.
    pub p50: u64,
    /// 66th percentile (Locust's CSV has it).
    pub p66: u64,
    /// 75th percentile.
    pub p75: u64,
    /// 80th percentile.
    pub p80: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 95th percentile.
    pub p95: u64,
    /// 98th percentile.
    pub p98: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// 99.99th percentile.
    pub p9999: u64,
    /// Largest value.
    pub max: u64,
    /// Smallest value.
    pub min: u64,
    /// Arithmetic mean, rounded to 0.1 µs.
    pub mean: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_sub_millisecond_resolution() {
        let mut h = LatencyHistogram::new();
        for us in [120, 130, 140, 150, 160] {
            h.record(Duration::from_micros(us));
        }
        let s = h.summary();
        assert_eq!(s.count, 5);
        assert_eq!(s.p50, 140);
        assert_eq!(s.max, 160);
        assert_eq!(s.min, 120);
        assert!((s.mean - 140.0).abs() < 0.5, "{}", s.mean);
    }

    #[test]
    fn clamps_out_of_range_values() {
        let mut h = LatencyHistogram::new();
        h.record(Duration::from_nanos(10));
        h.record(Duration::from_secs(3600));
        assert_eq!(h.count(), 2);
        assert_eq!(h.summary().min, 1);
        assert!(h.summary().max >= HIGHEST_US - HIGHEST_US / 1000);
    }

    #[test]
    fn merge_adds_counts() {
        let mut a = LatencyHistogram::new();
        let mut b = LatencyHistogram::new();
        a.record_us(100);
        b.record_us(300);
        b.record_us(300);
        a.merge(&b);
        assert_eq!(a.count(), 3);
        assert_eq!(a.summary().p50, 300);
    }

    #[test]
    fn empty_summary_is_zero() {
        assert_eq!(LatencyHistogram::new().summary(), LatencySummary::default());
    }
}

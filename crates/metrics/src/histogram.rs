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

    /// HdrHistogram's V2 encoding (what every HdrHistogram library reads):
    /// a few bytes per distinct value, exact.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // Writing into a Vec cannot fail, and V2 encodes any histogram.
        use hdrhistogram::serialization::Serializer as _;
        let _ = hdrhistogram::serialization::V2Serializer::new().serialize(&self.0, &mut out);
        out
    }

    /// Reads [`Self::to_bytes`]; `None` when it is not a V2 histogram within
    /// this one's bounds.
    ///
    /// The header is checked before anything is allocated: the V2 decoder
    /// would otherwise size a buffer by the header's payload length (up to
    /// 4 GiB) and a histogram by its bounds, both chosen by whoever sent the
    /// bytes (a distributed worker's message, a result file).
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if !header_within_bounds(bytes) {
            return None;
        }
        let h: Histogram<u64> = hdrhistogram::serialization::Deserializer::new()
            .deserialize(&mut std::io::Cursor::new(bytes))
            .ok()?;
        let mut out = Self::new();
        out.0.add(&h).ok()?;
        Some(out)
    }
}

/// HdrHistogram's uncompressed V2 cookie, the only encoding [`LatencyHistogram::to_bytes`] writes.
const V2_COOKIE: u32 = 0x1c84_9313;
/// Cookie, payload length, normalising offset, digits, lowest, highest, conversion ratio.
const V2_HEADER: usize = 40;

/// Whether `bytes` start with a V2 header whose payload fits in `bytes` and
/// whose bounds are within this histogram's (so decoding allocates no more
/// than [`LatencyHistogram::new`] does).
fn header_within_bounds(bytes: &[u8]) -> bool {
    let u32_at = |at: usize| {
        bytes
            .get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_be_bytes)
    };
    let u64_at = |at: usize| {
        bytes
            .get(at..at + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_be_bytes)
    };
    let (Some(cookie), Some(payload), Some(digits), Some(low), Some(high)) =
        (u32_at(0), u32_at(4), u32_at(12), u64_at(16), u64_at(24))
    else {
        return false;
    };
    cookie == V2_COOKIE
        && payload as usize <= bytes.len() - V2_HEADER
        && digits <= u32::from(SIGFIG)
        && (LOWEST_US..=HIGHEST_US).contains(&low)
        && (low..=HIGHEST_US).contains(&high)
}

/// A limit on how many histograms one decode may create, for bytes from
/// another process: each costs about 140 KB however few bytes encode it, so
/// a 1 MB message of tiny histograms would otherwise ask for gigabytes.
pub mod decode_budget {
    use std::cell::Cell;

    thread_local! {
        static LEFT: Cell<Option<usize>> = const { Cell::new(None) };
    }

    /// Runs `decode` allowing at most `histograms` histograms to be decoded
    /// on this thread; past that, decoding a histogram fails (and with it
    /// the message). Nested calls keep the outer limit.
    pub fn limit<T>(histograms: usize, decode: impl FnOnce() -> T) -> T {
        let outer = LEFT.with(|l| l.replace(Some(histograms)));
        let out = decode();
        LEFT.with(|l| l.set(outer));
        out
    }

    /// Counts one histogram against the limit; false when it is spent.
    pub(crate) fn take() -> bool {
        LEFT.with(|l| match l.get() {
            None => true,
            Some(0) => false,
            Some(n) => {
                l.set(Some(n - 1));
                true
            }
        })
    }
}

/// As its V2 bytes: a byte string in MessagePack, a list of numbers in JSON.
impl Serialize for LatencyHistogram {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.to_bytes())
    }
}

impl<'de> Deserialize<'de> for LatencyHistogram {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V2;
        impl<'de> serde::de::Visitor<'de> for V2 {
            type Value = LatencyHistogram;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an HdrHistogram in its V2 encoding")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
                if !decode_budget::take() {
                    return Err(E::custom("more histograms than the message may hold"));
                }
                LatencyHistogram::from_bytes(v)
                    .ok_or_else(|| E::custom("not an HdrHistogram V2 encoding within 1 µs–60 s"))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                // The hint is the sender's word: never allocate by it past a page.
                let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
                while let Some(b) = seq.next_element::<u8>()? {
                    bytes.push(b);
                }
                self.visit_bytes(&bytes)
            }
        }
        d.deserialize_bytes(V2)
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

    /// A V2 header with these fields and `payload` bytes after it.
    fn v2(payload_len: u32, digits: u32, low: u64, high: u64, payload: usize) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&V2_COOKIE.to_be_bytes());
        b.extend_from_slice(&payload_len.to_be_bytes());
        b.extend_from_slice(&0u32.to_be_bytes());
        b.extend_from_slice(&digits.to_be_bytes());
        b.extend_from_slice(&low.to_be_bytes());
        b.extend_from_slice(&high.to_be_bytes());
        b.extend_from_slice(&1f64.to_bits().to_be_bytes());
        b.resize(b.len() + payload, 0);
        b
    }

    /// Issue 26: a header may not make the decoder allocate by its word (a
    /// 4 GiB payload buffer, a histogram up to u64::MAX at 5 digits).
    #[test]
    fn headers_that_would_allocate_past_this_histogram_are_refused() {
        let mut h = LatencyHistogram::new();
        h.record_us(250);
        let good = h.to_bytes();
        assert_eq!(
            LatencyHistogram::from_bytes(&good).map(|h| h.count()),
            Some(1)
        );
        for bad in [
            v2(u32::MAX, 3, 1, HIGHEST_US, 8),
            v2(0, 5, 1, HIGHEST_US, 0),
            v2(0, 3, 1, u64::MAX / 2, 0),
            v2(0, 3, 0, HIGHEST_US, 0),
            v2(0, 3, 9, 8, 0),
            good[..20].to_vec(),
            Vec::new(),
        ] {
            assert!(LatencyHistogram::from_bytes(&bad).is_none(), "{bad:?}");
        }
        let mut other_cookie = good.clone();
        other_cookie[3] ^= 0x04;
        assert!(LatencyHistogram::from_bytes(&other_cookie).is_none());
    }

    #[test]
    fn a_decode_budget_caps_how_many_histograms_one_message_makes() {
        let mut h = LatencyHistogram::new();
        h.record_us(7);
        let three = rmp_serde::to_vec(&vec![h.clone(), h.clone(), h]).expect("packs");
        let decode = || rmp_serde::from_slice::<Vec<LatencyHistogram>>(&three);
        assert!(decode_budget::limit(3, decode).is_ok());
        let err = decode_budget::limit(2, decode).expect_err("over the budget");
        assert!(err.to_string().contains("more histograms"), "{err}");
        assert!(decode().is_ok(), "no limit outside `limit`");
    }

    #[test]
    fn empty_summary_is_zero() {
        assert_eq!(LatencyHistogram::new().summary(), LatencySummary::default());
    }
}

#[cfg(test)]
mod merge_props {
    use proptest::prelude::*;

    use super::*;
    use crate::{Outcome, TaskTable};

    proptest! {
        /// Distributed generation (issue 15): histograms recorded apart,
        /// sent in their serialised form and added up are the histogram of
        /// all the samples, bit for bit (no rounding anywhere on the way).
        #[test]
        fn histograms_split_serialised_and_merged_equal_the_whole(
            samples in prop::collection::vec((1u64..120_000_000, 0usize..4), 0..400),
            parts in 1usize..6,
        ) {
            let mut whole = LatencyHistogram::new();
            let mut apart = vec![LatencyHistogram::new(); parts];
            for (us, part) in &samples {
                whole.record_us(*us);
                apart[part % parts].record_us(*us);
            }
            let mut merged = LatencyHistogram::new();
            for h in &apart {
                let bytes = rmp_serde::to_vec(h).expect("serialises");
                let back: LatencyHistogram = rmp_serde::from_slice(&bytes).expect("reads back");
                merged.merge(&back);
            }
            prop_assert_eq!(merged.to_bytes(), whole.to_bytes());
            prop_assert_eq!(merged.summary(), whole.summary());
        }
    }

    #[test]
    fn a_task_table_survives_json_and_messagepack() {
        let mut t = TaskTable::new(3);
        t.record(0, Outcome::Ok, std::time::Duration::from_micros(250));
        t.record(2, Outcome::Timeout, std::time::Duration::from_secs(1));
        let json: TaskTable =
            serde_json::from_str(&serde_json::to_string(&t).expect("json")).expect("reads json");
        let mp: TaskTable =
            rmp_serde::from_slice(&rmp_serde::to_vec(&t).expect("mp")).expect("reads mp");
        for back in [json, mp] {
            assert_eq!(back.counts(), t.counts());
            assert_eq!(back.tasks().len(), 3);
            assert_eq!(
                back.tasks()[2]
                    .get(Outcome::Timeout)
                    .map(LatencyHistogram::count),
                Some(1)
            );
        }
        assert!(LatencyHistogram::from_bytes(b"not a histogram").is_none());
    }
}

//! Per-task × per-outcome histograms: what a worker records into and what
//! the run accumulates.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::histogram::{LatencyHistogram, LatencySummary};
use crate::outcome::{Outcome, OutcomeClass, OutcomeCounts};

/// Latency histograms per outcome for one task.
///
/// A histogram is allocated on the first request with that outcome (about
/// 140 KB each at 1 µs–60 s, 3 digits), so the outcomes that never happen cost
/// nothing.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OutcomeHistograms([Option<Box<LatencyHistogram>>; Outcome::COUNT]);

impl OutcomeHistograms {
    /// Records one request.
    #[inline]
    pub fn record(&mut self, outcome: Outcome, latency: Duration) {
        self.0[outcome.index()]
            .get_or_insert_with(Box::default)
            .record(latency);
    }

    /// The histogram for one outcome, if any request had it.
    pub fn get(&self, outcome: Outcome) -> Option<&LatencyHistogram> {
        self.0[outcome.index()].as_deref()
    }

    /// Adds every value of `other`.
    pub fn merge(&mut self, other: &OutcomeHistograms) {
        for (mine, theirs) in self.0.iter_mut().zip(other.0.iter()) {
            if let Some(theirs) = theirs {
                match mine {
                    Some(m) => m.merge(theirs),
                    None => *mine = Some(theirs.clone()),
                }
            }
        }
    }

    /// Requests per outcome.
    pub fn counts(&self) -> OutcomeCounts {
        let mut c = OutcomeCounts::default();
        for o in Outcome::ALL {
            c.0[o.index()] = self.get(o).map_or(0, LatencyHistogram::count);
        }
        c
    }

    /// One histogram over the outcomes `keep` selects.
    pub fn merged(&self, keep: impl Fn(Outcome) -> bool) -> LatencyHistogram {
        let mut all = LatencyHistogram::new();
        for o in Outcome::ALL.into_iter().filter(|o| keep(*o)) {
            if let Some(h) = self.get(o) {
                all.merge(h);
            }
        }
        all
    }
}

/// A row of [`OutcomeHistograms`] per task, indexed by task position in the plan.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TaskTable {
    tasks: Vec<OutcomeHistograms>,
    /// Bytes of reply bodies received, per task (Locust's content size).
    #[serde(default)]
    reply_bytes: Vec<u64>,
}

impl TaskTable {
    /// An empty table for `n_tasks` tasks.
    pub fn new(n_tasks: usize) -> Self {
        Self {
            tasks: vec![OutcomeHistograms::default(); n_tasks],
            reply_bytes: vec![0; n_tasks],
        }
    }

    /// Counts `bytes` of reply body received by task `task`.
    #[inline]
    pub fn record_bytes(&mut self, task: usize, bytes: usize) {
        if let Some(total) = self.reply_bytes.get_mut(task) {
            *total = total.saturating_add(bytes as u64);
        }
    }

    /// Bytes of reply bodies received, per task (shorter than
    /// [`TaskTable::tasks`] when none were counted for the last tasks).
    pub fn reply_bytes(&self) -> &[u64] {
        &self.reply_bytes
    }

    /// Records one request of task `task`. Out-of-range tasks are a programming
    /// error in the engine and panic in debug builds only.
    #[inline]
    pub fn record(&mut self, task: usize, outcome: Outcome, latency: Duration) {
        debug_assert!(task < self.tasks.len());
        if let Some(row) = self.tasks.get_mut(task) {
            row.record(outcome, latency);
        }
    }

    /// Takes the recorded values out, leaving an empty table of the same shape.
    pub fn take(&mut self) -> TaskTable {
        let n = self.tasks.len();
        std::mem::replace(self, TaskTable::new(n))
    }

    /// Adds every value of `other` (tables of different lengths merge row by row).
    pub fn merge(&mut self, other: &TaskTable) {
        if self.tasks.len() < other.tasks.len() {
            self.tasks
                .resize_with(other.tasks.len(), OutcomeHistograms::default);
        }
        for (mine, theirs) in self.tasks.iter_mut().zip(other.tasks.iter()) {
            mine.merge(theirs);
        }
        if self.reply_bytes.len() < other.reply_bytes.len() {
            self.reply_bytes.resize(other.reply_bytes.len(), 0);
        }
        for (mine, theirs) in self.reply_bytes.iter_mut().zip(&other.reply_bytes) {
            *mine = mine.saturating_add(*theirs);
        }
    }

    /// The rows, one per task.
    pub fn tasks(&self) -> &[OutcomeHistograms] {
        &self.tasks
    }

    /// Requests per outcome over all tasks.
    pub fn counts(&self) -> OutcomeCounts {
        let mut c = OutcomeCounts::default();
        for t in &self.tasks {
            c.add(&t.counts());
        }
        c
    }

    /// One histogram over all tasks, for the outcomes `keep` selects.
    pub fn merged(&self, keep: impl Fn(Outcome) -> bool + Copy) -> LatencyHistogram {
        let mut all = LatencyHistogram::new();
        for t in &self.tasks {
            all.merge(&t.merged(keep));
        }
        all
    }
}

/// What one interval (normally one second) of a run looked like, over all tasks.
/// Computed when the interval closes; the histograms are then dropped, so a
/// long run keeps a few hundred bytes per second.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IntervalStats {
    /// Interval number: seconds since the start of the load.
    pub index: u32,
    /// How long the interval really was: one second, except the last, which
    /// is the remainder of the run, or, when that remainder is under half a
    /// second, one second plus it (the engine merges it into the one before,
    /// so no rate is ever computed over a few milliseconds). Rates are
    /// counts divided by this.
    pub length: Duration,
    /// Closed model: virtual users running at the end of the interval (for
    /// the last one, when the load stopped). Open model: the most requests
    /// in flight at once during the interval (with several workers, the sum
    /// of each worker's most).
    pub active: u32,
    /// Requests per outcome completed in the interval.
    pub counts: OutcomeCounts,
    /// Latency over every request that completed in the interval.
    pub latency: LatencySummary,
    /// Latency over the successful requests only.
    pub success_latency: LatencySummary,
    /// Latency over the successful requests from the start of the run
    /// through this interval (filled in by whoever keeps the run's totals).
    pub total_success_latency: LatencySummary,
    /// Open model: the successful requests' latency from their intended
    /// send time (filled in by whoever has the intended times; `None` in
    /// the closed model).
    pub intended_success_latency: Option<LatencySummary>,
    /// Bytes of reply bodies received in the interval.
    pub reply_bytes: u64,
}

impl IntervalStats {
    /// Summarises one interval's table; `length` and `active` are left for
    /// the caller, who knows them.
    pub fn from_table(index: u32, table: &TaskTable) -> Self {
        Self {
            index,
            length: Duration::ZERO,
            active: 0,
            counts: table.counts(),
            latency: table.merged(|_| true).summary(),
            success_latency: table
                .merged(|o| o.class() == OutcomeClass::Success)
                .summary(),
            total_success_latency: LatencySummary::default(),
            intended_success_latency: None,
            reply_bytes: table
                .reply_bytes()
                .iter()
                .fold(0u64, |sum, b| sum.saturating_add(*b)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_per_task_and_outcome() {
        let mut t = TaskTable::new(2);
        t.record(0, Outcome::Ok, Duration::from_micros(100));
        t.record(0, Outcome::Timeout, Duration::from_secs(5));
        t.record(1, Outcome::Ok, Duration::from_micros(300));
        assert_eq!(t.tasks()[0].counts().get(Outcome::Ok), 1);
        assert_eq!(t.tasks()[0].counts().get(Outcome::Timeout), 1);
        assert_eq!(t.counts().get(Outcome::Ok), 2);
        assert_eq!(t.counts().in_class(OutcomeClass::Failure), 1);
        let ok = t.merged(|o| o == Outcome::Ok).summary();
        assert_eq!((ok.count, ok.min, ok.max), (2, 100, 300));
    }

    #[test]
    fn take_leaves_an_empty_table_of_the_same_shape() {
        let mut t = TaskTable::new(3);
        t.record(2, Outcome::Decode, Duration::from_micros(7));
        let taken = t.take();
        assert_eq!(taken.counts().total(), 1);
        assert_eq!(t.counts().total(), 0);
        assert_eq!(t.tasks().len(), 3);
    }

    #[test]
    fn merge_is_exact() {
        let mut a = TaskTable::new(1);
        let mut b = TaskTable::new(1);
        for i in 0..1000 {
            a.record(0, Outcome::Ok, Duration::from_micros(100 + i));
            b.record(0, Outcome::Ok, Duration::from_micros(2000 + i));
        }
        b.record(0, Outcome::NoResponders, Duration::from_micros(50));
        a.merge(&b);
        let c = a.counts();
        assert_eq!(c.get(Outcome::Ok), 2000);
        assert_eq!(c.get(Outcome::NoResponders), 1);
        let s = IntervalStats::from_table(4, &a);
        assert_eq!(s.index, 4);
        assert_eq!(s.counts.total(), 2001);
        assert_eq!(s.success_latency.count, 2000);
        assert!(s.success_latency.p50 >= 1099 && s.success_latency.p50 <= 2001);
    }
}

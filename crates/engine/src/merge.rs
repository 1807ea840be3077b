//! [`Merger`]: interval records from several sources (the worker threads of
//! a process, or the processes of a distributed run) merged into one series
//! and one set of totals, exactly (histograms are added, never summaries).

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::time::{Duration, SystemTime};

use cliffload_metrics::{
    ErrorLog, IntervalStats, LatencyHistogram, OutcomeClass, OutcomeCounts, TaskTable,
};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::run::RunOutput;
use crate::worker::{INTERVAL, Recorded};

/// Merges interval records of several sources (numbered from 0): an
/// interval closes once every source has reported it or finished.
#[derive(Debug, Clone)]
pub struct Merger {
    start: Instant,
    /// When the last worker to finish finished.
    end: Instant,
    /// Open model (decides how `active` merges over time).
    open: bool,
    last: Vec<Option<u32>>,
    finished: Vec<bool>,
    lost: usize,
    pending: BTreeMap<u32, Recorded>,
    totals: TaskTable,
    /// Whole passes through flows, per flow × outcome.
    flows: TaskTable,
    /// Users (or arrivals) that found no data row left.
    out_of_rows: u64,
    intended: TaskTable,
    late: u64,
    never_sent: u64,
    never_sent_wait: LatencyHistogram,
    counts: OutcomeCounts,
    /// Successful requests' latency since the start (Locust's "Total" columns).
    cumulative: LatencyHistogram,
    intervals: Vec<IntervalStats>,
    /// The failure and refusal messages so far (bounded).
    errors: ErrorLog,
    /// The table of the last interval closed: a short last remainder merges
    /// into it exactly (histograms, not summaries).
    previous: TaskTable,
    /// Open model: the intended-time table of the last interval closed.
    previous_intended: TaskTable,
    /// Where each closed interval's merged record goes, as it closes.
    sink: Option<mpsc::UnboundedSender<(u32, Recorded)>>,
}

impl Merger {
    /// A merger of `workers` sources' records of a plan of `tasks` tasks,
    /// whose load started at `start`; `open` for the open model (which
    /// decides how `active` adds up over time).
    pub fn new(workers: usize, tasks: usize, start: Instant, open: bool) -> Self {
        Self {
            start,
            end: start,
            open,
            last: vec![None; workers],
            finished: vec![false; workers],
            lost: 0,
            pending: BTreeMap::new(),
            totals: TaskTable::new(tasks),
            flows: TaskTable::default(),
            out_of_rows: 0,
            intended: TaskTable::new(tasks),
            late: 0,
            never_sent: 0,
            never_sent_wait: LatencyHistogram::new(),
            counts: OutcomeCounts::default(),
            cumulative: LatencyHistogram::new(),
            intervals: Vec::new(),
            errors: ErrorLog::default(),
            previous: TaskTable::new(tasks),
            previous_intended: TaskTable::new(tasks),
            sink: None,
        }
    }

    /// Sends each interval's merged record to `sink` as it closes (a
    /// distributed worker forwards them to its coordinator).
    pub fn with_sink(mut self, sink: Option<mpsc::UnboundedSender<(u32, Recorded)>>) -> Self {
        self.sink = sink;
        self
    }

    /// Sources not finished yet.
    pub fn running(&self) -> usize {
        self.finished.iter().filter(|f| !**f).count()
    }

    /// Source `worker`'s record of interval `index`.
    pub fn add(&mut self, worker: usize, index: u32, rec: Recorded) {
        // Workers file records by when things happened and send an interval
        // only once it is over, so this never moves anything in practice;
        // it is the safety for a report of an interval already closed,
        // which joins the first open one rather than reopening history.
        let index = index.max(self.intervals.len() as u32);
        self.last[worker] = Some(self.last[worker].map_or(index, |l| l.max(index)));
        match self.pending.entry(index) {
            Entry::Vacant(e) => {
                e.insert(rec);
            }
            Entry::Occupied(mut e) => e.get_mut().merge(&rec),
        }
    }

    /// Source `worker` ended at `at` (`lost`: without its last records).
    pub fn finish(&mut self, worker: usize, at: Instant, lost: bool) {
        self.finished[worker] = true;
        self.lost += usize::from(lost);
        self.end = self.end.max(at);
    }

    fn complete(&self, index: u32) -> bool {
        self.last
            .iter()
            .zip(&self.finished)
            .all(|(last, fin)| *fin || last.is_some_and(|l| l >= index))
    }

    /// Closes every interval all sources have reported, oldest first,
    /// calling `on_close` with each and the counts so far.
    pub fn close_complete(&mut self, mut on_close: impl FnMut(&IntervalStats, &OutcomeCounts)) {
        while let Some((&index, _)) = self.pending.first_key_value() {
            if !self.complete(index) {
                return;
            }
            let Some((_, rec)) = self.pending.pop_first() else {
                return;
            };
            if let Some(sink) = &self.sink {
                let _ = sink.send((index, rec.clone()));
            }
            if let Some(stats) = self.close(index, rec) {
                on_close(&stats, &self.counts);
            }
        }
    }

    /// Adds one interval to the series; returns it, or `None` when it was a
    /// short last remainder, merged into the interval before it.
    fn close(&mut self, index: u32, rec: Recorded) -> Option<IntervalStats> {
        self.totals.merge(&rec.table);
        self.flows.merge(&rec.flows);
        self.out_of_rows = self.out_of_rows.saturating_add(rec.out_of_rows);
        self.intended.merge(&rec.intended);
        self.late = self.late.saturating_add(rec.late);
        self.never_sent = self.never_sent.saturating_add(rec.never_sent);
        if let Some(w) = &rec.never_sent_wait {
            self.never_sent_wait.merge(w);
        }
        self.cumulative
            .merge(&rec.table.merged(|o| o.class() == OutcomeClass::Success));
        self.counts.add(&rec.table.counts());
        self.errors.merge(&rec.errors);
        // Workers send the interval they end in with their last message, so
        // it closes only once every worker has finished.
        let last = self.running() == 0 && self.pending.is_empty();
        let length = if last {
            (self.end - self.start)
                .saturating_sub(INTERVAL * index)
                .min(INTERVAL)
        } else {
            INTERVAL
        };
        self.fill_gaps(index);
        // A rate over a few milliseconds is noise (one reply in 1 ms reads
        // as 1000/s): a remainder under half a second joins the second before.
        if last
            && length < INTERVAL / 2
            && let Some(prev) = self.intervals.last_mut()
        {
            let mut table = std::mem::take(&mut self.previous);
            table.merge(&rec.table);
            let mut intended = std::mem::take(&mut self.previous_intended);
            intended.merge(&rec.intended);
            let mut stats = IntervalStats::from_table(prev.index, &table);
            stats.intended_success_latency = self.open.then(|| success_summary(&intended));
            stats.length = prev.length + length;
            // Open: the most in flight over both; closed: users at the end.
            stats.active = if self.open {
                prev.active.max(rec.active)
            } else {
                rec.active
            };
            stats.total_success_latency = self.cumulative.summary();
            *prev = stats;
            return None;
        }
        let mut stats = IntervalStats::from_table(index, &rec.table);
        stats.length = length;
        stats.active = rec.active;
        stats.total_success_latency = self.cumulative.summary();
        stats.intended_success_latency = self.open.then(|| success_summary(&rec.intended));
        self.previous = rec.table;
        self.previous_intended = rec.intended;
        self.intervals.push(stats.clone());
        Some(stats)
    }

    /// Seconds no worker reported (only if every worker was lost) are zeros.
    fn fill_gaps(&mut self, index: u32) {
        while (self.intervals.len() as u32) < index {
            let empty = IntervalStats {
                index: self.intervals.len() as u32,
                length: INTERVAL,
                total_success_latency: self.cumulative.summary(),
                ..Default::default()
            };
            self.intervals.push(empty);
            self.previous = TaskTable::default();
            self.previous_intended = TaskTable::default();
        }
    }

    /// The output so far, as if the run had ended `elapsed` after its start
    /// with the intervals closed until now (a live view; `self` goes on).
    pub fn snapshot(&self, started_at: SystemTime, elapsed: Duration, workers: usize) -> RunOutput {
        let mut now = self.clone();
        now.sink = None;
        now.pending.clear();
        now.end = self.start + elapsed;
        now.into_output(started_at, workers, None)
    }

    /// The run's output (`interrupted` left false for the caller): every
    /// interval still open closed, as if every source had finished.
    pub fn into_output(
        mut self,
        started_at: SystemTime,
        workers: usize,
        generator_cpu: Option<Duration>,
    ) -> RunOutput {
        self.finished.iter_mut().for_each(|f| *f = true);
        self.close_complete(|_, _| {});
        let sent = self.totals.counts().total();
        RunOutput {
            started_at,
            elapsed: self.end - self.start,
            totals: self.totals,
            flows: self.flows,
            out_of_rows: self.out_of_rows,
            intervals: self.intervals,
            interrupted: false,
            workers,
            lost_workers: self.lost,
            intended: self.intended,
            late: self.late,
            planned: sent + self.never_sent,
            sent,
            never_sent: self.never_sent,
            never_sent_wait: self.never_sent_wait,
            errors: self.errors,
            generator_cpu,
        }
    }
}

/// The latency of the successful requests of `table`.
fn success_summary(table: &TaskTable) -> cliffload_metrics::LatencySummary {
    table
        .merged(|o| o.class() == OutcomeClass::Success)
        .summary()
}

#[cfg(test)]
mod tests {
    use cliffload_metrics::Outcome;

    use super::*;

    fn rec(replies: u64, active: u32) -> Recorded {
        let mut table = TaskTable::new(1);
        for _ in 0..replies {
            table.record(0, Outcome::Ok, Duration::from_millis(1));
        }
        Recorded {
            table,
            active,
            ..Recorded::default()
        }
    }

    #[test]
    fn the_last_interval_waits_for_every_worker_and_a_short_one_joins_the_one_before() {
        let start = Instant::now();
        let mut m = Merger::new(2, 1, start, false);
        let mut closed = vec![];
        m.add(0, 0, rec(10, 3));
        m.close_complete(|i, _| closed.push(i.index));
        assert!(closed.is_empty(), "worker 1 has not reported second 0");
        m.add(1, 0, rec(20, 4));
        // Worker 0 ends at 1.2 s; worker 1 still runs, so second 1 stays open.
        m.add(0, 1, rec(1, 3));
        m.finish(0, start + Duration::from_millis(1200), false);
        m.close_complete(|i, _| closed.push(i.index));
        assert_eq!(closed, [0]);
        assert_eq!(
            (m.intervals[0].active, m.intervals[0].length),
            (7, INTERVAL)
        );
        m.add(1, 1, rec(2, 4));
        m.finish(1, start + Duration::from_millis(1300), false);
        m.close_complete(|i, _| closed.push(i.index));
        assert_eq!(
            closed,
            [0],
            "the 0.3 s remainder is not reported on its own"
        );
        let out = m.into_output(SystemTime::now(), 2, None);
        assert_eq!(out.intervals.len(), 1);
        let only = &out.intervals[0];
        assert_eq!(only.counts.total(), 33);
        assert_eq!(only.success_latency.count, 33, "merged as histograms");
        assert_eq!(only.length, Duration::from_millis(1300));
        assert_eq!(only.active, 7, "closed model: users at the end");
        assert_eq!((out.planned, out.sent, out.never_sent), (33, 33, 0));
        assert_eq!(out.elapsed, Duration::from_millis(1300));
    }

    /// Open model: each second has the successes' latency from their
    /// intended send time (the dashboard's and the report's chart), a short
    /// last remainder merged in exactly; the closed model has none.
    #[test]
    fn the_open_model_keeps_each_seconds_latency_from_the_intended_send_time() {
        let open_rec = |n: u64, late_ms: u64| {
            let mut r = rec(n, 1);
            r.intended = TaskTable::new(1);
            for _ in 0..n {
                r.intended
                    .record(0, Outcome::Ok, Duration::from_millis(late_ms));
            }
            r
        };
        let start = Instant::now();
        let mut m = Merger::new(1, 1, start, true);
        m.add(0, 0, open_rec(4, 50));
        m.add(0, 1, open_rec(2, 200));
        m.finish(0, start + Duration::from_millis(1100), false);
        let out = m.clone().into_output(SystemTime::now(), 1, None);
        assert_eq!(out.intervals.len(), 1, "the 0.1 s remainder joins second 0");
        let intended = out.intervals[0]
            .intended_success_latency
            .expect("open model");
        assert_eq!(intended.count, 6);
        assert!(intended.max >= 199_000, "{intended:?}");
        assert_eq!(
            out.intervals[0].success_latency.max / 1000,
            1,
            "from the send: 1 ms"
        );

        let mut closed = Merger::new(1, 1, start, false);
        closed.add(0, 0, rec(3, 1));
        let out = closed.into_output(SystemTime::now(), 1, None);
        assert_eq!(out.intervals[0].intended_success_latency, None);
    }
}

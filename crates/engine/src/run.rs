//! Starts workers (threads or inline), synchronises their start, merges their
//! intervals, and returns the run's measurements.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use cliffload_metrics::{
    ErrorLog, IntervalStats, LatencyHistogram, OutcomeClass, OutcomeCounts, TaskTable,
};
use tokio::sync::{mpsc, watch};
use tokio::task::LocalSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::plan::Plan;
use crate::transport::Connector;
use crate::worker::{INTERVAL, Msg, Recorded, WorkerArgs, worker_main};

/// How to run.
///
/// Why current-thread runtimes, one connection each, and 1 by default:
/// measured with `cliffload-bench compare --concurrency 128` on the 2-core
/// machine (nats-server and the responder on the same cores), a bare
/// async-nats loop costs 2.0–2.2 µs of CPU per request on a current-thread
/// runtime and 6.3–6.5 µs on a two-worker multi-thread runtime, which also
/// reaches only 0.5–0.8× the throughput (work stealing and cross-thread
/// wake-ups). One worker (this design) is at 0.97–1.07× the bare loop's CPU
/// per request; two workers (two connections) gain 0–9% throughput for
/// 14–19% more CPU per request. So 1 is the default, and `--workers N` is
/// there for when one generator thread is what saturates.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Worker threads, each with a current-thread runtime and its own
    /// connection. 0 runs one worker inline on the caller's runtime (for
    /// tests under `tokio::time::pause()`; the caller must be current-thread).
    pub workers: usize,
    /// Fired after the run's cancel (a second Ctrl-C): stop waiting for the
    /// requests in flight and hand over what was recorded at once.
    pub abort: Option<CancellationToken>,
}

impl RunOptions {
    /// `workers` threads, no abort.
    pub fn workers(workers: usize) -> Self {
        Self {
            workers,
            abort: None,
        }
    }
}

/// A snapshot for live progress, once per completed interval. A last
/// interval shorter than half a second is merged into the one before it in
/// [`RunOutput::intervals`] and not reported here.
#[derive(Debug)]
pub struct Progress<'a> {
    /// The interval that just closed.
    pub interval: &'a IntervalStats,
    /// Counts since the start.
    pub totals: &'a OutcomeCounts,
    /// The planned load duration.
    pub planned: Duration,
}

/// What the engine measured.
#[derive(Debug, Clone)]
pub struct RunOutput {
    /// Wall-clock time of the start of the load.
    pub started_at: SystemTime,
    /// From the start to the last recorded reply.
    pub elapsed: Duration,
    /// Whole-run histograms per task × outcome.
    pub totals: TaskTable,
    /// One entry per second, in order, gaps filled with zeros. A request
    /// counts in the second it completed in. The last entry covers the
    /// remainder of the run (see [`IntervalStats::length`]).
    pub intervals: Vec<IntervalStats>,
    /// True when the run was cancelled before its planned end.
    pub interrupted: bool,
    /// Worker threads used.
    pub workers: usize,
    /// Workers that stopped without finishing (their last interval is missing).
    pub lost_workers: usize,
    /// Open model: latency from the intended send time, per task × outcome.
    pub intended: TaskTable,
    /// Open model: requests sent more than 1 ms after their intended time.
    pub late: u64,
    /// Requests the plan called for, this process's share (all workers).
    /// Open model: the arrivals due before the run ended, within
    /// `max_requests`; after a cancellation, those due by then. Closed
    /// model: the requests the users started. Always `sent + never_sent`.
    pub planned: u64,
    /// Requests sent. Each is answered or timed out before the run returns,
    /// so this is also the number of requests in `totals` (a lost worker's
    /// last interval, missing there, is missing here too).
    pub sent: u64,
    /// Open model: planned arrivals never sent, because the run ended
    /// (deadline or cancellation) while they waited for a free slot.
    /// Always 0 under the closed model.
    pub never_sent: u64,
    /// Open model: for each never-sent arrival, how long it had waited since
    /// its intended send time when the run gave up on it: a report can count
    /// it in the latency from the intended time as at least that.
    pub never_sent_wait: LatencyHistogram,
    /// The text of failures and refusals, per task and outcome (bounded).
    pub errors: ErrorLog,
    /// CPU time the worker threads spent during the load (users and their
    /// connections; not the aggregator or anything else in the process).
    /// `None` where the platform cannot tell.
    pub generator_cpu: Option<Duration>,
}

/// Why a run could not happen, or its payloads could not be made.
///
/// Errors from below (the connector's, I/O, the payload generator's) are
/// quoted in the message, not returned by `source()`, so the CLI's `{:#}`
/// prints them once; [`EngineError::connector_error`] gives the connector's
/// by type.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A worker could not connect; nothing was sent.
    #[error("worker {worker} could not connect: {error}")]
    Connect {
        /// Worker number.
        worker: usize,
        /// The connector's own error ([`crate::Connector::Error`]).
        error: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A worker's runtime could not be built, so it never connected.
    #[error("worker {worker} could not connect: cannot build runtime: {error}")]
    Runtime {
        /// Worker number.
        worker: usize,
        /// Why tokio could not build it.
        error: std::io::Error,
    },
    /// A worker stopped (panicked) while connecting.
    #[error("worker {worker} could not connect: the worker stopped while connecting")]
    WorkerLost {
        /// Worker number.
        worker: usize,
    },
    /// Every worker went away without a word while connecting.
    #[error("worker 0 could not connect: every worker stopped while connecting")]
    WorkersGone,
    /// Cancelled before the load started.
    #[error("cancelled before the load started")]
    CancelledBeforeStart,
    /// A worker thread could not be started.
    #[error("cannot start worker thread: {0}")]
    Thread(std::io::Error),
    /// A task's generated payloads cannot be made.
    #[error("task {task}: {error}")]
    Payload {
        /// Task name.
        task: String,
        /// What the generator found wrong.
        error: cliffload_payloads::PayloadError,
    },
    /// A task's static payload cannot be encoded in its codec.
    #[error("task {task}: {error}")]
    Encode {
        /// Task name.
        task: String,
        /// What the codec found wrong.
        error: cliffload_protocol::CodecError,
    },
}

impl EngineError {
    /// The connector's error, when a worker could not connect and that error
    /// is an `E` (`NatsError`, say): the cause by type, not by its words.
    pub fn connector_error<E: std::error::Error + 'static>(&self) -> Option<&E> {
        match self {
            Self::Connect { error, .. } => error.downcast_ref(),
            _ => None,
        }
    }
}

/// Runs `plan` to its end or until `cancel` fires, calling `progress` once
/// per completed interval.
pub async fn run<C: Connector>(
    plan: Arc<Plan>,
    connector: Arc<C>,
    options: RunOptions,
    cancel: CancellationToken,
    progress: impl FnMut(Progress<'_>),
) -> Result<RunOutput, EngineError> {
    let (tx, rx) = mpsc::unbounded_channel();
    let (start_tx, start_rx) = watch::channel(None);
    // Workers stop on the caller's cancel and on a failed start; the
    // caller's token is only read, never fired, by the engine.
    let stop = cancel.child_token();
    let args = |worker, workers| WorkerArgs {
        worker,
        workers,
        plan: plan.clone(),
        connector: connector.clone(),
        tx: tx.clone(),
        start: start_rx.clone(),
        cancel: stop.clone(),
        abort: options.abort.clone().unwrap_or_default(),
    };
    if options.workers == 0 {
        let worker_args = args(0, 1);
        drop(tx);
        let local = LocalSet::new();
        return local
            .run_until(async {
                let worker = tokio::task::spawn_local(worker_main(worker_args));
                let out = aggregate(rx, 1, &plan, start_tx, &cancel, &stop, progress).await;
                stop.cancel();
                let _ = worker.await;
                out
            })
            .await;
    }
    let mut threads = Vec::with_capacity(options.workers);
    for w in 0..options.workers {
        match spawn_worker(args(w, options.workers)) {
            Ok(h) => threads.push(h),
            Err(e) => {
                stop.cancel();
                return Err(EngineError::Thread(e));
            }
        }
    }
    drop(tx);
    let out = aggregate(
        rx,
        options.workers,
        &plan,
        start_tx,
        &cancel,
        &stop,
        progress,
    )
    .await;
    stop.cancel();
    let _ = tokio::task::spawn_blocking(move || {
        for t in threads {
            let _ = t.join();
        }
    })
    .await;
    out.map(|mut o| {
        o.workers = options.workers;
        o
    })
}

/// Starts a worker on its own OS thread, with its own current-thread runtime.
fn spawn_worker<C: Connector>(a: WorkerArgs<C>) -> std::io::Result<std::thread::JoinHandle<()>> {
    let worker = a.worker;
    std::thread::Builder::new()
        .name(format!("cliffload-worker-{worker}"))
        .spawn(move || {
            let tx = a.tx.clone();
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => LocalSet::new().block_on(&rt, worker_main(a)),
                Err(error) => {
                    let failed = EngineError::Runtime { worker, error };
                    let _ = tx.send((worker, Msg::Failed(failed)));
                }
            }
        })
}

async fn aggregate(
    mut rx: mpsc::UnboundedReceiver<(usize, Msg)>,
    workers: usize,
    plan: &Plan,
    start_tx: watch::Sender<Option<Instant>>,
    cancel: &CancellationToken,
    stop: &CancellationToken,
    mut progress: impl FnMut(Progress<'_>),
) -> Result<RunOutput, EngineError> {
    wait_ready(&mut rx, workers, cancel, stop).await?;
    let start = Instant::now();
    let started_at = SystemTime::now();
    let _ = start_tx.send(Some(start));

    let mut merger = Merger::new(workers, plan.tasks.len(), start, plan.arrival.is_some());
    let mut cpu = Some(Duration::ZERO);
    let mut errors = ErrorLog::default();
    while merger.running() > 0 {
        let Some((w, msg)) = rx.recv().await else {
            break;
        };
        match msg {
            Msg::Interval { index, table } => merger.add(w, index, table),
            Msg::Done {
                at,
                cpu: worker_cpu,
                tail,
                errors: worker_errors,
            } => {
                errors.merge(&worker_errors);
                for (index, table) in tail {
                    merger.add(w, index, table);
                }
                cpu = cpu.zip(worker_cpu).map(|(a, b)| a + b);
                merger.finish(w, at, false);
            }
            Msg::Lost => {
                cpu = None;
                merger.finish(w, Instant::now(), true);
            }
            Msg::Ready | Msg::Failed(_) => {}
        }
        merger.close_complete(|interval, totals| {
            progress(Progress {
                interval,
                totals,
                planned: plan.duration,
            });
        });
    }
    let mut out = merger.into_output(started_at, workers, cpu);
    out.errors = errors;
    out.interrupted = cancel.is_cancelled() && out.elapsed < plan.duration;
    Ok(out)
}

/// Waits until every worker has connected.
async fn wait_ready(
    rx: &mut mpsc::UnboundedReceiver<(usize, Msg)>,
    workers: usize,
    cancel: &CancellationToken,
    stop: &CancellationToken,
) -> Result<(), EngineError> {
    let mut ready = 0;
    while ready < workers {
        let msg = tokio::select! {
            biased;
            () = cancel.cancelled() => return Err(EngineError::CancelledBeforeStart),
            m = rx.recv() => m,
        };
        match msg {
            Some((_, Msg::Ready)) => ready += 1,
            Some((_, Msg::Failed(e))) => {
                stop.cancel();
                return Err(e);
            }
            Some((worker, Msg::Lost)) => {
                stop.cancel();
                return Err(EngineError::WorkerLost { worker });
            }
            None => return Err(EngineError::WorkersGone),
            Some(_) => {}
        }
    }
    Ok(())
}

/// Merges per-worker interval records: an interval closes once every worker
/// has reported it or finished.
struct Merger {
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
    intended: TaskTable,
    late: u64,
    never_sent: u64,
    never_sent_wait: LatencyHistogram,
    counts: OutcomeCounts,
    /// Successful requests' latency since the start (Locust's "Total" columns).
    cumulative: LatencyHistogram,
    intervals: Vec<IntervalStats>,
    /// The table of the last interval closed: a short last remainder merges
    /// into it exactly (histograms, not summaries).
    previous: TaskTable,
}

impl Merger {
    fn new(workers: usize, tasks: usize, start: Instant, open: bool) -> Self {
        Self {
            start,
            end: start,
            open,
            last: vec![None; workers],
            finished: vec![false; workers],
            lost: 0,
            pending: BTreeMap::new(),
            totals: TaskTable::new(tasks),
            intended: TaskTable::new(tasks),
            late: 0,
            never_sent: 0,
            never_sent_wait: LatencyHistogram::new(),
            counts: OutcomeCounts::default(),
            cumulative: LatencyHistogram::new(),
            intervals: Vec::new(),
            previous: TaskTable::new(tasks),
        }
    }

    fn running(&self) -> usize {
        self.finished.iter().filter(|f| !**f).count()
    }

    fn add(&mut self, worker: usize, index: u32, rec: Recorded) {
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

    fn finish(&mut self, worker: usize, at: Instant, lost: bool) {
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

    fn close_complete(&mut self, mut on_close: impl FnMut(&IntervalStats, &OutcomeCounts)) {
        while let Some((&index, _)) = self.pending.first_key_value() {
            if !self.complete(index) {
                return;
            }
            let Some((_, rec)) = self.pending.pop_first() else {
                return;
            };
            if let Some(stats) = self.close(index, rec) {
                on_close(&stats, &self.counts);
            }
        }
    }

    /// Adds one interval to the series; returns it, or `None` when it was a
    /// short last remainder, merged into the interval before it.
    fn close(&mut self, index: u32, rec: Recorded) -> Option<IntervalStats> {
        self.totals.merge(&rec.table);
        self.intended.merge(&rec.intended);
        self.late += rec.late;
        self.never_sent += rec.never_sent;
        if let Some(w) = &rec.never_sent_wait {
            self.never_sent_wait.merge(w);
        }
        self.cumulative
            .merge(&rec.table.merged(|o| o.class() == OutcomeClass::Success));
        self.counts.add(&rec.table.counts());
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
            let mut stats = IntervalStats::from_table(prev.index, &table);
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
        self.previous = rec.table;
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
        }
    }

    /// The run's output (`interrupted` left false for the caller).
    fn into_output(
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
            errors: ErrorLog::default(),
            generator_cpu,
        }
    }
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
}

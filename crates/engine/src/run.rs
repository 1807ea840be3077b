//! Starts workers (threads or inline), synchronises their start, merges their
//! intervals, and returns the run's measurements.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use cliffload_metrics::{IntervalStats, LatencyHistogram, OutcomeClass, OutcomeCounts, TaskTable};
use tokio::sync::{mpsc, watch};
use tokio::task::LocalSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::plan::Plan;
use crate::transport::Connector;
use crate::worker::{Msg, Recorded, WorkerArgs, worker_main};

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
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    /// Worker threads, each with a current-thread runtime and its own
    /// connection. 0 runs one worker inline on the caller's runtime (for
    /// tests under `tokio::time::pause()`; the caller must be current-thread).
    pub workers: usize,
}

/// A snapshot for live progress, once per completed interval.
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
    /// One entry per second, in order, gaps filled with zeros.
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
    /// Open model: requests never sent (the run ended while they waited for room).
    pub dropped: u64,
    /// CPU time the worker threads spent during the load (users and their
    /// connections; not the aggregator or anything else in the process).
    /// `None` where the platform cannot tell.
    pub generator_cpu: Option<Duration>,
}

/// Why a run could not happen.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A worker could not connect; nothing was sent.
    #[error("worker {worker} could not connect: {message}")]
    Connect {
        /// Worker number.
        worker: usize,
        /// The connector's message.
        message: String,
    },
    /// Cancelled before the load started.
    #[error("cancelled before the load started")]
    CancelledBeforeStart,
    /// A worker thread could not be started.
    #[error("cannot start worker thread: {0}")]
    Thread(String),
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
        let a = args(w, options.workers);
        let spawned = std::thread::Builder::new()
            .name(format!("cliffload-worker-{w}"))
            .spawn(move || {
                let tx = a.tx.clone();
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => LocalSet::new().block_on(&rt, worker_main(a)),
                    Err(e) => {
                        let _ = tx.send((w, Msg::Failed(format!("cannot build runtime: {e}"))));
                    }
                }
            });
        match spawned {
            Ok(h) => threads.push(h),
            Err(e) => {
                stop.cancel();
                return Err(EngineError::Thread(e.to_string()));
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

async fn aggregate(
    mut rx: mpsc::UnboundedReceiver<(usize, Msg)>,
    workers: usize,
    plan: &Plan,
    start_tx: watch::Sender<Option<Instant>>,
    cancel: &CancellationToken,
    stop: &CancellationToken,
    mut progress: impl FnMut(Progress<'_>),
) -> Result<RunOutput, EngineError> {
    let mut ready = 0;
    while ready < workers {
        let msg = tokio::select! {
            m = rx.recv() => m,
            () = cancel.cancelled() => return Err(EngineError::CancelledBeforeStart),
        };
        match msg {
            Some((_, Msg::Ready)) => ready += 1,
            Some((worker, Msg::Failed(message))) => {
                stop.cancel();
                return Err(EngineError::Connect { worker, message });
            }
            Some((worker, Msg::Lost)) => {
                stop.cancel();
                return Err(EngineError::Connect {
                    worker,
                    message: "the worker stopped while connecting".into(),
                });
            }
            None => {
                return Err(EngineError::Connect {
                    worker: 0,
                    message: "every worker stopped while connecting".into(),
                });
            }
            Some(_) => {}
        }
    }
    let start = Instant::now();
    let started_at = SystemTime::now();
    let _ = start_tx.send(Some(start));

    let mut merger = Merger::new(workers, plan.tasks.len());
    let mut end = start;
    let mut cpu = Some(Duration::ZERO);
    while merger.running() > 0 {
        let Some((w, msg)) = rx.recv().await else {
            break;
        };
        match msg {
            Msg::Interval { index, table } => merger.add(w, index, table),
            Msg::Done {
                at,
                cpu: worker_cpu,
            } => {
                end = end.max(at);
                cpu = cpu.zip(worker_cpu).map(|(a, b)| a + b);
                merger.finish(w, false);
            }
            Msg::Lost => {
                end = end.max(Instant::now());
                cpu = None;
                merger.finish(w, true);
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
    let elapsed = end - start;
    let (totals, intended, late, dropped, intervals, lost_workers) = merger.into_parts();
    Ok(RunOutput {
        started_at,
        elapsed,
        totals,
        intervals,
        interrupted: cancel.is_cancelled() && elapsed < plan.duration,
        workers,
        lost_workers,
        intended,
        late,
        dropped,
        generator_cpu: cpu,
    })
}

/// Merges per-worker interval tables: an interval closes once every worker
/// has reported it or finished.
struct Merger {
    last: Vec<Option<u32>>,
    finished: Vec<bool>,
    lost: usize,
    pending: BTreeMap<u32, Recorded>,
    totals: TaskTable,
    intended: TaskTable,
    late: u64,
    dropped: u64,
    counts: OutcomeCounts,
    /// Successful requests' latency since the start (Locust's "Total" columns).
    cumulative: LatencyHistogram,
    intervals: Vec<IntervalStats>,
}

impl Merger {
    fn new(workers: usize, tasks: usize) -> Self {
        Self {
            last: vec![None; workers],
            finished: vec![false; workers],
            lost: 0,
            pending: BTreeMap::new(),
            totals: TaskTable::new(tasks),
            intended: TaskTable::new(tasks),
            late: 0,
            dropped: 0,
            counts: OutcomeCounts::default(),
            cumulative: LatencyHistogram::new(),
            intervals: Vec::new(),
        }
    }

    fn running(&self) -> usize {
        self.finished.iter().filter(|f| !**f).count()
    }

    fn add(&mut self, worker: usize, index: u32, rec: Recorded) {
        // A report for an interval already closed (a worker running late)
        // joins the first open one rather than reopening history.
        let index = index.max(self.intervals.len() as u32);
        self.last[worker] = Some(self.last[worker].map_or(index, |l| l.max(index)));
        let p = self.pending.entry(index).or_default();
        p.table.merge(&rec.table);
        p.intended.merge(&rec.intended);
        p.late += rec.late;
        p.dropped += rec.dropped;
    }

    fn finish(&mut self, worker: usize, lost: bool) {
        self.finished[worker] = true;
        self.lost += usize::from(lost);
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
            self.totals.merge(&rec.table);
            self.intended.merge(&rec.intended);
            self.late += rec.late;
            self.dropped += rec.dropped;
            let table = rec.table;
            // Fill seconds in which no worker completed anything.
            while (self.intervals.len() as u32) < index {
                let empty = IntervalStats {
                    index: self.intervals.len() as u32,
                    total_success_latency: self.cumulative.summary(),
                    ..Default::default()
                };
                self.intervals.push(empty);
            }
            let mut stats = IntervalStats::from_table(index, &table);
            self.cumulative
                .merge(&table.merged(|o| o.class() == OutcomeClass::Success));
            stats.total_success_latency = self.cumulative.summary();
            self.counts.add(&stats.counts);
            on_close(&stats, &self.counts);
            self.intervals.push(stats);
        }
    }

    #[allow(clippy::type_complexity)]
    fn into_parts(mut self) -> (TaskTable, TaskTable, u64, u64, Vec<IntervalStats>, usize) {
        self.finished.iter_mut().for_each(|f| *f = true);
        self.close_complete(|_, _| {});
        (
            self.totals,
            self.intended,
            self.late,
            self.dropped,
            self.intervals,
            self.lost,
        )
    }
}

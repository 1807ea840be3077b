//! Starts workers (threads or inline), synchronises their start, merges their
//! intervals, and returns the run's measurements.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use cliffload_metrics::{ErrorLog, IntervalStats, LatencyHistogram, OutcomeCounts, TaskTable};
use tokio::sync::{mpsc, watch};
use tokio::task::LocalSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::merge::Merger;
use crate::plan::Plan;
use crate::slice::Slice;
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
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Worker threads, each with a current-thread runtime and its own
    /// connection. 0 runs one worker inline on the caller's runtime (for
    /// tests under `tokio::time::pause()`; the caller must be current-thread).
    pub workers: usize,
    /// Fired after the run's cancel (a second Ctrl-C): stop waiting for the
    /// requests in flight and hand over what was recorded at once.
    pub abort: Option<CancellationToken>,
    /// This process's part of a run shared by several (distributed
    /// generation); [`Slice::WHOLE`] by default.
    pub slice: Slice,
    /// Receives each second's merged record as it closes, in order (a
    /// distributed worker forwards them to its coordinator).
    pub intervals: Option<mpsc::UnboundedSender<(u32, Recorded)>>,
    /// Hold the start until told: once every worker thread is connected,
    /// the engine says so and waits for the go (a distributed run starts
    /// all processes at one instant).
    pub gate: Option<StartGate>,
}

/// The two signals of a held start (see [`RunOptions::gate`]).
#[derive(Debug, Clone)]
pub struct StartGate {
    /// Sent once every worker thread is connected.
    pub connected: mpsc::UnboundedSender<()>,
    /// The load starts when this turns true.
    pub go: watch::Receiver<bool>,
}

impl StartGate {
    /// Says the workers are connected, then waits for the go; false when
    /// `cancel` came first, or the go can never come.
    async fn pass(mut self, cancel: &CancellationToken) -> bool {
        let _ = self.connected.send(());
        tokio::select! {
            biased;
            () = cancel.cancelled() => false,
            go = self.go.wait_for(|go| *go) => go.is_ok(),
        }
    }
}

impl RunOptions {
    /// `workers` threads, no abort.
    pub fn workers(workers: usize) -> Self {
        Self {
            workers,
            ..Self::default()
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
    /// Whole passes through each flow (`Plan::flows`), per outcome: the
    /// first failing step's, or `ok`; latency from the first send to the
    /// last reply.
    pub flows: TaskTable,
    /// Users (or open-model arrivals) stopped because `order: unique`
    /// data rows ran out.
    pub out_of_rows: u64,
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
    /// A task's templates do not compile (a scenario not checked on load).
    #[error("task {task}: {message}")]
    Template {
        /// Task name.
        task: String,
        /// What is wrong.
        message: String,
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
        slice: options.slice,
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
                let on = Aggregation {
                    workers: 1,
                    plan: &plan,
                    options: &options,
                    cancel: &cancel,
                    stop: &stop,
                };
                let out = on.run(rx, start_tx, progress).await;
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
    let on = Aggregation {
        workers: options.workers,
        plan: &plan,
        options: &options,
        cancel: &cancel,
        stop: &stop,
    };
    let out = on.run(rx, start_tx, progress).await;
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

/// What the aggregator works with.
struct Aggregation<'a> {
    workers: usize,
    plan: &'a Plan,
    options: &'a RunOptions,
    /// The caller's cancellation.
    cancel: &'a CancellationToken,
    /// The workers' (a child of `cancel`, also fired on a failed start).
    stop: &'a CancellationToken,
}

impl Aggregation<'_> {
    /// Waits for the workers (and the gate), starts them, merges what they
    /// record until every one has finished.
    async fn run(
        self,
        mut rx: mpsc::UnboundedReceiver<(usize, Msg)>,
        start_tx: watch::Sender<Option<Instant>>,
        mut progress: impl FnMut(Progress<'_>),
    ) -> Result<RunOutput, EngineError> {
        let Self {
            workers,
            plan,
            options,
            cancel,
            stop,
        } = self;
        wait_ready(&mut rx, workers, cancel, stop).await?;
        if let Some(gate) = options.gate.clone()
            && !gate.pass(cancel).await
        {
            stop.cancel();
            return Err(EngineError::CancelledBeforeStart);
        }
        let start = Instant::now();
        let started_at = SystemTime::now();
        let _ = start_tx.send(Some(start));
        let mut merger = Merger::new(workers, plan.tasks.len(), start, plan.arrival.is_some())
            .with_sink(options.intervals.clone());
        let mut cpu = Some(Duration::ZERO);
        while merger.running() > 0 {
            let Some((w, msg)) = rx.recv().await else {
                break;
            };
            match msg {
                Msg::Interval { index, table } => merger.add(w, index, *table),
                Msg::Done {
                    at,
                    cpu: worker_cpu,
                    tail,
                } => {
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
        out.interrupted = cancel.is_cancelled() && out.elapsed < plan.duration;
        Ok(out)
    }
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

//! One worker: its users, its recorder, its interval flushes. Runs on a
//! `LocalSet`, so users share the transport and recorder without locks.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use cliffload_metrics::TaskTable;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use crate::cpu::thread_cpu_time;
use crate::plan::Plan;
use crate::transport::{Connector, Transport};

/// Interval length of the series (DESIGN §4).
pub(crate) const INTERVAL: Duration = Duration::from_secs(1);

/// What a worker tells the aggregator.
#[derive(Debug)]
pub(crate) enum Msg {
    /// Connected; waiting for the start instant.
    Ready,
    /// Could not connect: the run cannot start.
    Failed(String),
    /// Everything recorded in interval `index` (seconds since start).
    Interval { index: u32, table: Recorded },
    /// Every user has stopped and every in-flight request is recorded.
    /// `cpu`: what this worker thread spent on the load (users and connection).
    Done { at: Instant, cpu: Option<Duration> },
    /// The worker stopped without finishing (a panic): its last interval is lost.
    Lost,
}

/// Sends [`Msg::Lost`] if the worker unwinds before saying [`Msg::Done`], so
/// the aggregator never waits for a worker that is gone.
struct LostGuard {
    tx: mpsc::UnboundedSender<(usize, Msg)>,
    worker: usize,
    armed: bool,
}

impl Drop for LostGuard {
    fn drop(&mut self) {
        if self.armed {
            let _ = self.tx.send((self.worker, Msg::Lost));
        }
    }
}

/// What a worker recorded in one interval.
#[derive(Debug, Default)]
pub(crate) struct Recorded {
    /// Latency from the actual send.
    pub table: TaskTable,
    /// Open model: latency from the intended send time (coordinated omission corrected).
    pub intended: TaskTable,
    /// Open model: requests sent more than [`LATE`] after their intended time.
    pub late: u64,
    /// Open model: requests never sent (the run ended while they waited for room).
    pub dropped: u64,
}

/// How late an open-model send may be before it counts as late.
pub(crate) const LATE: Duration = Duration::from_millis(1);

/// The resolution of tokio's timer.
const TIMER_TICK: Duration = Duration::from_millis(1);

struct Ctx<T> {
    plan: Arc<Plan>,
    transport: T,
    recorder: RefCell<Recorded>,
    cancel: CancellationToken,
    deadline: Instant,
    /// Requests this worker may still send (its share of `max_requests`).
    budget: Cell<u64>,
}

impl<T> Ctx<T> {
    /// Takes one request from the budget; false when it is spent.
    fn take_one(&self) -> bool {
        let left = self.budget.get();
        if left == 0 {
            return false;
        }
        self.budget.set(left - 1);
        true
    }

    fn take(&self) -> Recorded {
        let mut r = self.recorder.borrow_mut();
        Recorded {
            table: r.table.take(),
            intended: r.intended.take(),
            late: std::mem::take(&mut r.late),
            dropped: std::mem::take(&mut r.dropped),
        }
    }
}

pub(crate) struct WorkerArgs<C> {
    pub worker: usize,
    pub workers: usize,
    pub plan: Arc<Plan>,
    pub connector: Arc<C>,
    pub tx: mpsc::UnboundedSender<(usize, Msg)>,
    pub start: watch::Receiver<Option<Instant>>,
    pub cancel: CancellationToken,
}

/// Connects, waits for the common start, runs this worker's users to the end.
pub(crate) async fn worker_main<C: Connector>(args: WorkerArgs<C>) {
    let WorkerArgs {
        worker,
        workers,
        plan,
        connector,
        tx,
        mut start,
        cancel,
    } = args;
    let mut guard = LostGuard {
        tx: tx.clone(),
        worker,
        armed: true,
    };
    let send = |m: Msg| {
        let _ = tx.send((worker, m));
    };
    let transport = match connector.connect(worker).await {
        Ok(t) => t,
        Err(e) => {
            guard.armed = false;
            send(Msg::Failed(e));
            return;
        }
    };
    send(Msg::Ready);
    let start = loop {
        if let Some(s) = *start.borrow_and_update() {
            break s;
        }
        tokio::select! {
            changed = start.changed() => if changed.is_err() { guard.armed = false; return },
            () = cancel.cancelled() => { guard.armed = false; return },
        }
    };
    let cpu_at_start = thread_cpu_time();
    let ctx = Rc::new(Ctx {
        transport,
        recorder: RefCell::new(Recorded {
            table: TaskTable::new(plan.tasks.len()),
            intended: TaskTable::new(plan.tasks.len()),
            ..Recorded::default()
        }),
        cancel,
        deadline: start + plan.duration,
        budget: Cell::new(plan.request_budget(worker, workers)),
        plan,
    });
    let users: Vec<_> = if ctx.plan.arrival.is_some() {
        vec![tokio::task::spawn_local(open_loop(
            ctx.clone(),
            worker,
            workers,
            start,
        ))]
    } else {
        (worker as u32..ctx.plan.users.get())
            .step_by(workers)
            .map(|user| tokio::task::spawn_local(user_loop(ctx.clone(), user, start)))
            .collect()
    };
    let ticker =
        tokio::task::spawn_local(flush_every_interval(ctx.clone(), start, tx.clone(), worker));
    for u in users {
        let _ = u.await;
    }
    ticker.abort();
    let at = Instant::now();
    let index = (at - start).as_secs() as u32;
    send(Msg::Interval {
        index,
        table: ctx.take(),
    });
    let cpu = thread_cpu_time()
        .zip(cpu_at_start)
        .map(|(end, start)| end.saturating_sub(start));
    guard.armed = false;
    send(Msg::Done { at, cpu });
}

/// Hands the recorder's contents to the aggregator once per interval.
async fn flush_every_interval<T>(
    ctx: Rc<Ctx<T>>,
    start: Instant,
    tx: mpsc::UnboundedSender<(usize, Msg)>,
    worker: usize,
) {
    let mut ticks = tokio::time::interval_at(start + INTERVAL, INTERVAL);
    // Burst: a late worker still emits every interval, so indices stay dense.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
    loop {
        let at = ticks.tick().await;
        let index = ((at - start).as_secs_f64().round() as u32).saturating_sub(1);
        if tx
            .send((
                worker,
                Msg::Interval {
                    index,
                    table: ctx.take(),
                },
            ))
            .is_err()
        {
            return;
        }
    }
}

/// One virtual user: pick a task, send, record, think, until the deadline or
/// cancellation. A request in flight at the deadline completes and counts.
async fn user_loop<T: Transport>(ctx: Rc<Ctx<T>>, user: u32, start: Instant) {
    let (from, until) = ctx.plan.user_window(user);
    let begin = start + from;
    let deadline = until.map_or(ctx.deadline, |u| (start + u).min(ctx.deadline));
    if begin >= deadline {
        return;
    }
    tokio::select! {
        () = tokio::time::sleep_until(begin) => {}
        () = ctx.cancel.cancelled() => return,
    }
    let plan = &*ctx.plan;
    let class = plan.class_of(user);
    let mut rng =
        SmallRng::seed_from_u64(plan.seed ^ u64::from(user).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut cursor = user as usize;
    loop {
        if ctx.cancel.is_cancelled() || Instant::now() >= deadline || !ctx.take_one() {
            return;
        }
        let task = plan.pick_task(class, &mut rng);
        let payload = plan.tasks[task].payload(cursor);
        cursor = cursor.wrapping_add(1);
        let sent = Instant::now();
        let outcome = ctx.transport.call(task, payload).await;
        let done = Instant::now();
        ctx.recorder
            .borrow_mut()
            .table
            .record(task, outcome, done - sent);
        let resume = Plan::resume_at(class, &mut rng, sent, done);
        if resume <= done {
            // A transport that completes without waiting must not starve
            // the ticker and the other users.
            tokio::task::consume_budget().await;
        } else {
            tokio::select! {
                () = tokio::time::sleep_until(resume.min(deadline)) => {}
                () = ctx.cancel.cancelled() => return,
            }
        }
    }
}

/// The open model: this worker's share of the arrivals (every `workers`th
/// request), each started at its intended time, or as soon as a slot is free.
/// Latency is recorded from the actual send and from the intended one.
async fn open_loop<T: Transport + 'static>(
    ctx: Rc<Ctx<T>>,
    worker: usize,
    workers: usize,
    start: Instant,
) {
    let plan = &*ctx.plan;
    let Some(arrival) = plan.arrival else { return };
    let cap = (arrival.max_in_flight.get() as usize / workers).max(1);
    let slots = Arc::new(tokio::sync::Semaphore::new(cap));
    let mut rng =
        SmallRng::seed_from_u64(plan.seed ^ (worker as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut n = worker as u64;
    while let Some(offset) = plan.arrival_offset(n) {
        if !ctx.take_one() {
            break;
        }
        let intended = start + offset;
        // tokio's timer fires on whole milliseconds, rounding a deadline up:
        // sleeping until `intended` itself would send up to a tick late and
        // charge that to the service's latency from the intended time. Wake
        // a tick early instead; a request sent before its time is measured
        // from when it was sent (below).
        if let Some(wake) = intended.checked_sub(TIMER_TICK)
            && wake > Instant::now()
        {
            tokio::select! {
                () = tokio::time::sleep_until(wake) => {}
                () = ctx.cancel.cancelled() => break,
            }
        } else if ctx.cancel.is_cancelled() {
            break;
        }
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            () = ctx.cancel.cancelled() => break,
            () = tokio::time::sleep_until(ctx.deadline) => {
                ctx.recorder.borrow_mut().dropped += 1;
                break;
            }
        };
        let sent = Instant::now();
        if sent.saturating_duration_since(intended) > LATE {
            ctx.recorder.borrow_mut().late += 1;
        }
        let task = plan.pick_task(plan.open_class_of(n), &mut rng);
        let c = ctx.clone();
        tokio::task::spawn_local(async move {
            let outcome = c
                .transport
                .call(task, c.plan.tasks[task].payload(n as usize))
                .await;
            let done = Instant::now();
            let mut r = c.recorder.borrow_mut();
            r.table.record(task, outcome, done - sent);
            // From the intended time, or from sending if that was earlier
            // (woken a tick ahead, it has not waited).
            r.intended.record(task, outcome, done - intended.min(sent));
            drop(permit);
        });
        n += workers as u64;
    }
    // Every request in flight finishes and is recorded.
    let _ = slots.acquire_many(cap as u32).await;
}

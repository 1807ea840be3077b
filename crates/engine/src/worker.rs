//! One worker: its users, its recorder, its interval flushes. Runs on a
//! `LocalSet`, so users share the transport and recorder without locks.

use std::cell::RefCell;
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
    Interval { index: u32, table: TaskTable },
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

struct Ctx<T> {
    plan: Arc<Plan>,
    transport: T,
    recorder: RefCell<TaskTable>,
    cancel: CancellationToken,
    deadline: Instant,
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
        recorder: RefCell::new(TaskTable::new(plan.tasks.len())),
        cancel,
        deadline: start + plan.duration,
        plan,
    });
    let users: Vec<_> = (worker as u32..ctx.plan.users.get())
        .step_by(workers)
        .map(|user| tokio::task::spawn_local(user_loop(ctx.clone(), user, start)))
        .collect();
    let ticker =
        tokio::task::spawn_local(flush_every_interval(ctx.clone(), start, tx.clone(), worker));
    for u in users {
        let _ = u.await;
    }
    ticker.abort();
    let at = Instant::now();
    let index = (at - start).as_secs() as u32;
    let table = ctx.recorder.borrow_mut().take();
    send(Msg::Interval { index, table });
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
        let table = ctx.recorder.borrow_mut().take();
        if tx.send((worker, Msg::Interval { index, table })).is_err() {
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
        if ctx.cancel.is_cancelled() || Instant::now() >= deadline {
            return;
        }
        let task = plan.pick_task(class, &mut rng);
        let pool = &plan.tasks[task].payloads;
        let payload = &pool[cursor % pool.len()];
        cursor = cursor.wrapping_add(1);
        let sent = Instant::now();
        let outcome = ctx.transport.call(task, payload).await;
        let done = Instant::now();
        ctx.recorder.borrow_mut().record(task, outcome, done - sent);
        let think = Plan::think_time(class, &mut rng);
        if think.is_zero() {
            // A transport that completes without waiting must not starve
            // the ticker and the other users.
            tokio::task::consume_budget().await;
        } else {
            tokio::select! {
                () = tokio::time::sleep_until((done + think).min(deadline)) => {}
                () = ctx.cancel.cancelled() => return,
            }
        }
    }
}

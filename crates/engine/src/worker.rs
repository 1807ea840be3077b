//! One worker: its users, its recorder, its interval flushes. Runs on a
//! `LocalSet`, so users share the transport and recorder without locks.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use cliffload_metrics::{ErrorLog, LatencyHistogram, TaskTable};
use cliffload_scenario::RowPer;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use tokio::sync::{OwnedSemaphorePermit, mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::cpu::thread_cpu_time;
use crate::plan::{Payload, Plan};
use crate::run::EngineError;
use crate::shape::Window;
use crate::slice::{Slice, Slot};
use crate::transport::{Boxed, Connector, Holding, Inline, Reply, Transport};

mod steps;

use steps::{OutOfRows, UserState, run_flow, send};

/// Interval length of the series.
pub const INTERVAL: Duration = Duration::from_secs(1);

/// What a worker tells the aggregator.
#[derive(Debug)]
pub(crate) enum Msg {
    /// Connected; waiting for the start instant.
    Ready,
    /// Could not connect: the run cannot start.
    Failed(EngineError),
    /// Everything that happened in interval `index` (seconds since start).
    /// Sent once per index, in order, empty intervals included.
    Interval { index: u32, table: Box<Recorded> },
    /// Every user has stopped and every in-flight request is recorded.
    /// `tail`: the intervals not yet sent, the last one being the one the
    /// worker ended in (sent here, not as [`Msg::Interval`], so the
    /// aggregator knows it is this worker's last).
    /// `cpu`: what this worker thread spent on the load (users and connection).
    Done {
        at: Instant,
        cpu: Option<Duration>,
        tail: Vec<(u32, Recorded)>,
    },
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

/// What was recorded in one interval (by a worker thread, or merged over
/// several): what the aggregator merges and a distributed worker sends.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Recorded {
    /// Latency from the actual send, of the requests completed in the interval.
    pub table: TaskTable,
    /// Open model: latency from the intended send time (coordinated omission corrected).
    pub intended: TaskTable,
    /// Open model: requests sent in the interval more than `LATE` after
    /// their intended time.
    pub late: u64,
    /// Open model: arrivals the run gave up on in the interval (deadline or
    /// cancellation while they waited to be sent).
    pub never_sent: u64,
    /// Open model: each never-sent arrival's wait, from its intended time to
    /// when the run gave up on it. Allocated on the first (140 KB).
    pub never_sent_wait: Option<LatencyHistogram>,
    /// See [`cliffload_metrics::IntervalStats::active`].
    pub active: u32,
    /// The text of the failures and refusals recorded since the last
    /// interval was sent (bounded; empty on a clean run, so it costs nothing).
    #[serde(default, skip_serializing_if = "ErrorLog::is_empty")]
    pub errors: ErrorLog,
    /// Whole passes through flows completed in the interval, per flow ×
    /// outcome (empty without flows).
    #[serde(default)]
    pub flows: TaskTable,
    /// Users (or arrivals) that found no unique data row left.
    #[serde(default)]
    pub out_of_rows: u64,
}

impl Recorded {
    /// Nothing yet, for `tasks` tasks.
    pub fn new(tasks: usize) -> Self {
        Self {
            table: TaskTable::new(tasks),
            intended: TaskTable::new(tasks),
            ..Self::default()
        }
    }

    /// Adds another worker's record of the same interval (`active` adds up).
    pub fn merge(&mut self, other: &Recorded) {
        self.table.merge(&other.table);
        self.intended.merge(&other.intended);
        self.late += other.late;
        self.never_sent += other.never_sent;
        if let Some(w) = &other.never_sent_wait {
            self.never_sent_wait
                .get_or_insert_with(LatencyHistogram::new)
                .merge(w);
        }
        self.active += other.active;
        self.errors.merge(&other.errors);
        self.flows.merge(&other.flows);
        self.out_of_rows += other.out_of_rows;
    }
}

/// How late an open-model send may be before it counts as late.
pub(crate) const LATE: Duration = Duration::from_millis(1);

/// The resolution of tokio's timer.
const TIMER_TICK: Duration = Duration::from_millis(1);

/// One interval being recorded.
#[derive(Debug)]
struct Bucket {
    rec: Recorded,
    /// The active gauge after its last change in this interval, if it changed.
    active_end: Option<u32>,
    /// The highest the active gauge reached in this interval.
    active_peak: u32,
}

/// A worker's recorder. Everything is filed under the interval of the
/// moment it happened (a reply under its completion time), not of the
/// moment it is flushed: a flush that runs late (the thread was starved)
/// then still hands each second exactly what happened in it. Normally one
/// or two intervals are live: the one being recorded and, around a boundary,
/// the one waiting for its flush.
#[derive(Debug)]
struct Recorder {
    start: Instant,
    tasks: usize,
    /// Flows of the plan (rows of [`Recorded::flows`]).
    flows: usize,
    open: bool,
    /// Index of `buckets[0]`; every interval before it has been sent.
    first: u32,
    buckets: VecDeque<Bucket>,
    /// Closed model: users running; open model: requests in flight.
    active: u32,
    /// The gauge at the end of the last interval sent.
    carry: u32,
    /// Failure and refusal messages since the last interval sent (bounded;
    /// only non-successes with a detail reach it, so the hot path skips it).
    errors: ErrorLog,
}

impl Recorder {
    fn new(start: Instant, tasks: usize, flows: usize, open: bool) -> Self {
        Self {
            start,
            tasks,
            flows,
            open,
            first: 0,
            buckets: VecDeque::with_capacity(4),
            active: 0,
            carry: 0,
            errors: ErrorLog::default(),
        }
    }

    /// The interval `at` falls in.
    #[inline]
    fn index(&self, at: Instant) -> u32 {
        let secs = at.saturating_duration_since(self.start).as_secs();
        u32::try_from(secs).unwrap_or(u32::MAX)
    }

    /// The record of the interval `at` falls in. A moment in an interval
    /// already sent cannot happen (time only moves on, and an interval is
    /// sent once it is over); were it to, it would join the first open one.
    #[inline]
    fn at(&mut self, at: Instant) -> &mut Bucket {
        let i = self.index(at).saturating_sub(self.first) as usize;
        while self.buckets.len() <= i {
            let mut rec = Recorded::new(self.tasks);
            rec.flows = TaskTable::new(self.flows);
            self.buckets.push_back(Bucket {
                rec,
                active_end: None,
                active_peak: 0,
            });
        }
        &mut self.buckets[i]
    }

    /// One more user running or request in flight, from `at`.
    fn active_up(&mut self, at: Instant) {
        self.active += 1;
        let now = self.active;
        let b = self.at(at);
        b.active_end = Some(now);
        b.active_peak = b.active_peak.max(now);
    }

    /// One fewer, from `at`.
    fn active_down(&mut self, at: Instant) {
        self.active = self.active.saturating_sub(1);
        let now = self.active;
        self.at(at).active_end = Some(now);
    }

    /// Hands over every interval before `before`, in order, empty ones included.
    fn close_before(&mut self, before: u32, mut send: impl FnMut(u32, Recorded)) {
        while self.first < before {
            let (mut rec, end, peak) = match self.buckets.pop_front() {
                Some(b) => (b.rec, b.active_end.unwrap_or(self.carry), b.active_peak),
                None => (Recorded::new(self.tasks), self.carry, 0),
            };
            // The open model's peak includes what was still in flight from before.
            rec.active = if self.open { peak.max(self.carry) } else { end };
            self.carry = end;
            // The messages go out with the next interval sent, whichever
            // second they were recorded in: a live error table, not a series.
            rec.errors = self.errors.take();
            send(self.first, rec);
            self.first += 1;
        }
    }

    /// Every interval left, through the one `at` (the end) falls in.
    fn close_all(&mut self, at: Instant) -> Vec<(u32, Recorded)> {
        let last_bucket = (self.first + self.buckets.len() as u32).saturating_sub(1);
        let last = self.index(at).max(last_bucket);
        let mut tail = Vec::with_capacity(self.buckets.len() + 1);
        self.close_before(last.saturating_add(1), |i, r| tail.push((i, r)));
        tail
    }
}

struct Ctx<T> {
    plan: Arc<Plan>,
    transport: T,
    recorder: RefCell<Recorder>,
    cancel: CancellationToken,
    start: Instant,
    deadline: Instant,
    /// Requests this worker may still send (its share of `max_requests`).
    budget: Cell<u64>,
    /// `cancel` has fired, as this thread last saw it. Read before every
    /// request instead of `cancel.is_cancelled()`, which locks the token's
    /// mutex, shared by every worker thread; set by [`watch_cancel`].
    stopped: Cell<bool>,
    /// This worker's numbers in the run: `{{seq}}` values and data rows
    /// taken here are `offset + k · stride`, so no other worker (thread or
    /// process) takes the same.
    slot: Slot,
    /// `{{seq}}` values taken so far.
    seq: Cell<u64>,
    /// Data rows taken so far (per iteration).
    rows: Cell<u64>,
}

/// Sets `ctx.stopped` once `ctx.cancel` fires (a task on the worker's own
/// runtime, so the users read a plain `Cell`).
async fn watch_cancel<T>(ctx: Rc<Ctx<T>>) {
    ctx.cancel.cancelled().await;
    ctx.stopped.set(true);
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

    /// Records one reply under its completion time.
    #[inline]
    fn record(&self, task: usize, reply: &Reply, sent: Instant, done: Instant) {
        let mut r = self.recorder.borrow_mut();
        let table = &mut r.at(done).rec.table;
        table.record(task, reply.outcome, done - sent);
        table.record_bytes(task, reply.bytes);
        if let Some(detail) = &reply.detail {
            r.errors
                .record_reply(task, reply.outcome, detail, reply.sample.as_deref());
        }
    }

    /// Records the outcomes the transport saw without a call (duplicate
    /// effects) under `at`.
    fn take_unsolicited(&self, at: Instant)
    where
        T: Transport,
    {
        let mut r = self.recorder.borrow_mut();
        self.transport.unsolicited(&mut |task, reply, latency| {
            let table = &mut r.at(at).rec.table;
            table.record(task, reply.outcome, latency);
            if let Some(detail) = &reply.detail {
                r.errors.record_reply(task, reply.outcome, detail, None);
            }
        });
    }

    /// The open model gave up at `at`: arrival `n` (its budget taken) and
    /// this worker's later ones that were due by then, within the budget, are
    /// never sent; arrivals not yet due were never planned.
    fn give_up(&self, mut n: u64, stride: u64, at: Instant) {
        let mut r = self.recorder.borrow_mut();
        let rec = &mut r.at(at).rec;
        while let Some(offset) = self.plan.arrival_offset(n) {
            let intended = self.start + offset;
            if intended > at {
                break;
            }
            rec.never_sent += 1;
            rec.never_sent_wait
                .get_or_insert_with(LatencyHistogram::new)
                .record(at - intended);
            n += stride;
            if !self.take_one() {
                break;
            }
        }
    }
}

pub(crate) struct WorkerArgs<C> {
    pub worker: usize,
    pub workers: usize,
    /// This process's part of the run.
    pub slice: Slice,
    pub plan: Arc<Plan>,
    pub connector: Arc<C>,
    pub tx: mpsc::UnboundedSender<(usize, Msg)>,
    pub start: watch::Receiver<Option<Instant>>,
    pub cancel: CancellationToken,
    /// Stop waiting for requests in flight (a second Ctrl-C).
    pub abort: CancellationToken,
}

/// Connects, waits for the common start, runs this worker's users to the end.
pub(crate) async fn worker_main<C: Connector>(args: WorkerArgs<C>) {
    let WorkerArgs {
        worker,
        workers,
        slice,
        plan,
        connector,
        tx,
        mut start,
        cancel,
        abort,
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
            send(Msg::Failed(EngineError::Connect {
                worker,
                error: Box::new(e),
            }));
            return;
        }
    };
    send(Msg::Ready);
    let Some(start) = wait_for_start(&mut start, &cancel).await else {
        guard.armed = false;
        return;
    };
    let slot = slice.slot(worker, workers);
    let cpu_at_start = thread_cpu_time();
    let recorder = Recorder::new(
        start,
        plan.tasks.len(),
        plan.flow_count(),
        plan.arrival.is_some(),
    );
    let ctx = Rc::new(Ctx {
        transport,
        recorder: RefCell::new(recorder),
        cancel,
        start,
        deadline: start + plan.duration,
        budget: Cell::new(plan.request_budget(slot)),
        stopped: Cell::new(false),
        slot,
        seq: Cell::new(0),
        rows: Cell::new(0),
        plan,
    });
    let users = spawn_users(&ctx, slot);
    let watcher = tokio::task::spawn_local(watch_cancel(ctx.clone()));
    let ticker = tokio::task::spawn_local(flush_every_interval(ctx.clone(), tx.clone(), worker));
    wait_for_users(users, &abort).await;
    ticker.abort();
    watcher.abort();
    let at = Instant::now();
    ctx.take_unsolicited(at);
    let tail = ctx.recorder.borrow_mut().close_all(at);
    let cpu = thread_cpu_time()
        .zip(cpu_at_start)
        .map(|(end, start)| end.saturating_sub(start));
    guard.armed = false;
    send(Msg::Done { at, cpu, tail });
}

/// Waits until every user has finished, or until `abort`: then the users
/// (and the requests they wait for) are dropped, and what was recorded so
/// far is all there is. Costs nothing per request.
async fn wait_for_users(mut users: Vec<tokio::task::JoinHandle<()>>, abort: &CancellationToken) {
    for u in &mut users {
        tokio::select! {
            biased;
            () = abort.cancelled() => break,
            _ = u => {}
        }
    }
    if abort.is_cancelled() {
        users.iter().for_each(tokio::task::JoinHandle::abort);
    }
}

/// The common start instant, or `None` if the run stopped before it.
async fn wait_for_start(
    start: &mut watch::Receiver<Option<Instant>>,
    cancel: &CancellationToken,
) -> Option<Instant> {
    loop {
        if let Some(s) = *start.borrow_and_update() {
            return Some(s);
        }
        tokio::select! {
            biased;
            () = cancel.cancelled() => return None,
            changed = start.changed() => changed.ok()?,
        }
    }
}

/// The open model's arrival loop, or this worker's share of the users.
fn spawn_users<T: Transport + 'static>(ctx: &Rc<Ctx<T>>, slot: Slot) -> Vec<JoinHandle<()>> {
    if ctx.plan.arrival.is_some() {
        return vec![tokio::task::spawn_local(open_loop(ctx.clone(), slot))];
    }
    vec![tokio::task::spawn_local(spawn_closed_users(
        ctx.clone(),
        slot,
    ))]
}

/// Starts this worker's users (its slot's numbers) each when it is due, and
/// waits for them. A user costs memory only once started, so a million
/// users at 100/s hold only the ones started so far; and Ctrl-C stops the
/// spawning. The users are in a `JoinSet`: aborting this task aborts them.
async fn spawn_closed_users<T: Transport + 'static>(ctx: Rc<Ctx<T>>, slot: Slot) {
    let plan = &*ctx.plan;
    // Users first start in number order (see `Plan::user_windows`), so no
    // list of them is made or sorted.
    let mine = (slot.offset..u64::from(plan.users.get()))
        .step_by(usize::try_from(slot.stride).unwrap_or(usize::MAX))
        .map(|u| u as u32);
    let mut users = tokio::task::JoinSet::new();
    for (i, user) in mine.enumerate() {
        let windows = plan.user_windows(user);
        let Some(&(first, _)) = windows.first() else {
            continue;
        };
        let begin = ctx.start + first;
        // Due after the end, or the end came while spawning fell behind.
        if begin >= ctx.deadline || Instant::now() >= ctx.deadline {
            break;
        }
        if begin > Instant::now() {
            tokio::select! {
                biased;
                () = ctx.cancel.cancelled() => break,
                () = tokio::time::sleep_until(begin) => {}
            }
        } else if ctx.cancel.is_cancelled() {
            break;
        } else if i % 1024 == 1023 {
            // Many users due at once: let the started ones (and the flush) run.
            tokio::task::yield_now().await;
        }
        if plan.class_of(user).thinks() {
            users.spawn_local(user_loop::<T, Boxed>(ctx.clone(), user, windows));
        } else {
            users.spawn_local(user_loop::<T, Inline>(ctx.clone(), user, windows));
        }
    }
    // Stages that end with no user still last the load's duration. (A
    // worker that had no user to run ends at once, as it always did.)
    let started = !users.is_empty();
    while users.join_next().await.is_some() {}
    if started {
        wait_for_deadline(&ctx).await;
    }
}

/// Hands every finished interval to the aggregator once a second. It reads
/// the clock rather than counting ticks: woken late (the thread was
/// starved), it sends every interval that is over, each with its own
/// records, and keeps the one still running.
async fn flush_every_interval<T: Transport>(
    ctx: Rc<Ctx<T>>,
    tx: mpsc::UnboundedSender<(usize, Msg)>,
    worker: usize,
) {
    let mut next = INTERVAL;
    loop {
        tokio::time::sleep_until(ctx.start + next).await;
        let now = Instant::now();
        ctx.take_unsolicited(now);
        let mut r = ctx.recorder.borrow_mut();
        let over = r.index(now);
        let mut gone = false;
        r.close_before(over, |index, table| {
            gone |= tx
                .send((
                    worker,
                    Msg::Interval {
                        index,
                        table: Box::new(table),
                    },
                ))
                .is_err();
        });
        if gone {
            return;
        }
        next = INTERVAL * over.saturating_add(1);
    }
}

/// One virtual user: pick a task, send, record, think, in each of its
/// `windows` (see `Plan::user_windows`), until the deadline or
/// cancellation. A request in flight when a window or the load ends
/// completes and counts. `H` is where it keeps its request in flight: see
/// [`Holding`].
async fn user_loop<T: Transport, H: Holding>(ctx: Rc<Ctx<T>>, user: u32, windows: Vec<Window>) {
    let plan = &*ctx.plan;
    let class = plan.class_of(user);
    let rng =
        SmallRng::seed_from_u64(plan.seed ^ u64::from(user).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut st = UserState::new(plan, user, rng);
    let row_per_user = plan.data.as_ref().map(|d| d.per == RowPer::User);
    let mut has_row = false;
    for (from, until) in windows {
        let begin = ctx.start + from;
        let deadline = until.map_or(ctx.deadline, |u| (ctx.start + u).min(ctx.deadline));
        if begin >= deadline {
            return;
        }
        // Cancellation first (`biased`), here and below: a tie between it and
        // a timer must not be settled at random, or two runs of one plan differ.
        tokio::select! {
            biased;
            () = ctx.cancel.cancelled() => return,
            () = tokio::time::sleep_until(begin) => {}
        }
        ctx.recorder.borrow_mut().active_up(Instant::now());
        // A user that finds no row left stops, and leaves the active count.
        if row_per_user == Some(true) && !has_row {
            has_row = ctx.take_row(&mut st, Instant::now());
            if !has_row {
                ctx.recorder.borrow_mut().active_down(Instant::now());
                return;
            }
        }
        // A user whose window ends before the run leaves the active count; one
        // stopped by the end of the run (deadline, cancel, budget) still counts
        // in the last interval, which then shows the users the load ended with.
        let own_end = deadline < ctx.deadline;
        loop {
            if ctx.stopped.get() {
                return;
            }
            let now = Instant::now();
            if now >= deadline {
                if !own_end {
                    return;
                }
                ctx.recorder.borrow_mut().active_down(now);
                break;
            }
            if row_per_user == Some(false) && !ctx.take_row(&mut st, now) {
                ctx.recorder.borrow_mut().active_down(now);
                return;
            }
            let (sent, done) = match class.flow {
                Some(flow) => run_flow::<T, H>(&ctx, class, flow, &mut st, deadline).await,
                None => {
                    if !ctx.take_one() {
                        return;
                    }
                    let task = plan.pick_task(class, &mut st.rng);
                    let (sent, done, _, _) = send::<T, H>(&ctx, task, &mut st).await;
                    (sent, done)
                }
            };
            let resume = Plan::resume_at(class, &mut st.rng, sent, done);
            if resume <= done {
                // A transport that completes without waiting must not starve
                // the ticker and the other users.
                tokio::task::consume_budget().await;
            } else {
                tokio::select! {
                    biased;
                    () = ctx.cancel.cancelled() => return,
                    () = tokio::time::sleep_until(resume.min(deadline)) => {}
                }
            }
        }
    }
}

/// The open model: this worker's share of the arrivals (its slot's numbers),
/// each started at its intended time, or as soon as a slot is free.
/// Latency is recorded from the actual send and from the intended one. Every
/// arrival due before the end is either sent or counted as never sent.
async fn open_loop<T: Transport + 'static>(ctx: Rc<Ctx<T>>, slot: Slot) {
    let plan = &*ctx.plan;
    let Some(arrival) = &plan.arrival else { return };
    let cap = slot.share(u64::from(arrival.max_in_flight.get())).max(1) as usize;
    let slots = Arc::new(tokio::sync::Semaphore::new(cap));
    let mut rng =
        SmallRng::seed_from_u64(plan.seed ^ slot.offset.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut n = slot.offset;
    let gave_up = loop {
        // Arrivals past the schedule's end or beyond the budget are not planned.
        let Some(offset) = plan.arrival_offset(n) else {
            break None;
        };
        if !ctx.take_one() {
            break None;
        }
        let intended = ctx.start + offset;
        // tokio's timer fires on whole milliseconds, rounding a deadline up:
        // sleeping until `intended` itself would send up to a tick late and
        // charge that to the service's latency from the intended time. Wake
        // a tick early instead; a request sent before its time is measured
        // from when it was sent (see `send_open`).
        if let Some(wake) = intended.checked_sub(TIMER_TICK)
            && wake > Instant::now()
        {
            tokio::select! {
                biased;
                () = ctx.cancel.cancelled() => break Some(Instant::now()),
                () = tokio::time::sleep_until(wake) => {}
            }
        }
        // Nothing starts at or after the deadline, even with a slot free
        // then: deciding that by a random `select!` pick made runs differ.
        if Instant::now() >= ctx.deadline {
            break Some(Instant::now());
        }
        let permit = tokio::select! {
            biased;
            () = ctx.cancel.cancelled() => break Some(Instant::now()),
            () = tokio::time::sleep_until(ctx.deadline) => break Some(Instant::now()),
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                // The semaphore is never closed; stop as at the deadline if it were.
                Err(_) => break Some(Instant::now()),
            },
        };
        let task = plan.pick_task(plan.open_class_of(n), &mut rng);
        // Templated tasks render here, on the arrival loop's random numbers
        // (the open model has no users: `{{user}}` and saved values are refused).
        let payload = match ctx.render_arrival(task, &mut rng) {
            Ok(p) => p,
            Err(OutOfRows) => break None,
        };
        send_open(&ctx, n, task, intended, permit, payload);
        n += slot.stride;
    };
    if let Some(at) = gave_up {
        ctx.give_up(n, slot.stride, at);
    }
    // Every request in flight finishes and is recorded.
    let _ = slots.acquire_many(cap as u32).await;
    // A schedule whose rate ends at 0 still lasts the load's duration (its
    // last second is a whole second, not a sliver read as a rate).
    if gave_up.is_none() {
        wait_for_deadline(&ctx).await;
    }
}

/// Sleeps until the load's deadline, unless the run was stopped or this
/// worker's request budget is spent (then it is over now).
async fn wait_for_deadline<T>(ctx: &Ctx<T>) {
    if ctx.budget.get() > 0 {
        tokio::select! {
            biased;
            () = ctx.cancel.cancelled() => {}
            () = tokio::time::sleep_until(ctx.deadline) => {}
        }
    }
}

/// Sends arrival `n` now, in its own task, holding `permit` until the reply.
fn send_open<T: Transport + 'static>(
    ctx: &Rc<Ctx<T>>,
    n: u64,
    task: usize,
    intended: Instant,
    permit: OwnedSemaphorePermit,
    rendered: Option<Payload>,
) {
    let sent = Instant::now();
    {
        let mut r = ctx.recorder.borrow_mut();
        r.active_up(sent);
        if sent.saturating_duration_since(intended) > LATE {
            r.at(sent).rec.late += 1;
        }
    }
    let c = ctx.clone();
    tokio::task::spawn_local(async move {
        let payload = match &rendered {
            Some(p) => p,
            None => c.plan.tasks[task].payload(n as usize),
        };
        let reply = c.transport.call(task, payload).await;
        let done = Instant::now();
        let outcome = reply.outcome;
        let mut r = c.recorder.borrow_mut();
        if let Some(detail) = &reply.detail {
            r.errors
                .record_reply(task, outcome, detail, reply.sample.as_deref());
        }
        let rec = &mut r.at(done).rec;
        rec.table.record(task, outcome, done - sent);
        rec.table.record_bytes(task, reply.bytes);
        // From the intended time, or from sending if that was earlier
        // (woken a tick ahead, it has not waited).
        rec.intended
            .record(task, outcome, done - intended.min(sent));
        r.active_down(done);
        drop(permit);
    });
}

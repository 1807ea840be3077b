//! What a virtual user does beyond picking a body from a pool: its own
//! state (data row, saved values, render buffer), a request rendered from
//! its task's templates, the values saved from a reply, and flows (a
//! class's tasks in order, each pass recorded as one).

use cliffload_metrics::Outcome;
use cliffload_payloads::template::Scope;
use cliffload_scenario::MissingCapture;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use tokio::time::Instant;

use super::Ctx;
use crate::plan::{Payload, Plan};
use crate::transport::{Holding, Transport};

/// A virtual user's own state: its random numbers, its place in its
/// tasks' pools, its data row, the values it saved, its render buffer.
pub(super) struct UserState {
    user: u32,
    pub(super) rng: SmallRng,
    cursor: usize,
    row: Option<usize>,
    vars: Vec<serde_json::Value>,
    buf: Vec<u8>,
}

impl UserState {
    pub(super) fn new(plan: &Plan, user: u32, rng: SmallRng) -> Self {
        Self {
            user,
            rng,
            cursor: user as usize,
            row: None,
            vars: vec![serde_json::Value::Null; plan.vars.len()],
            buf: Vec::new(),
        }
    }
}

/// No unique data row was left for an arrival.
pub(super) struct OutOfRows;

impl<T> Ctx<T> {
    /// The next `{{seq}}`: unique in the run.
    fn next_seq(&self) -> u64 {
        let k = self.seq.get();
        self.seq.set(k + 1);
        self.slot
            .offset
            .saturating_add(k.saturating_mul(self.slot.stride))
    }

    /// Gives the user its next data row; false when `unique` rows ran out
    /// (counted at `at`), and the user stops.
    pub(super) fn take_row(&self, st: &mut UserState, at: Instant) -> bool {
        let Some(data) = &self.plan.data else {
            return true;
        };
        let k = self.rows.get();
        self.rows.set(k + 1);
        match crate::render::next_row(data, st.user, k, self.slot, &mut st.rng) {
            Some(r) => {
                st.row = Some(r);
                true
            }
            None => {
                self.recorder.borrow_mut().at(at).rec.out_of_rows += 1;
                false
            }
        }
    }

    /// The body of the next request of `task` for a user: from the pool,
    /// or rendered from the task's templates.
    fn payload_for<'p>(
        &'p self,
        task: usize,
        st: &mut UserState,
        rendered: &'p mut Option<Payload>,
    ) -> &'p Payload {
        let t = &self.plan.tasks[task];
        match &t.render {
            None => {
                let p = t.payload(st.cursor);
                st.cursor = st.cursor.wrapping_add(1);
                p
            }
            Some(r) => {
                let row = self.row(st.row);
                let mut scope = Scope::new(&mut st.rng, self.next_seq(), st.user, row, &st.vars);
                rendered.insert(r.render(&mut scope, &mut st.buf))
            }
        }
    }

    /// Data row number `i`'s values, when there is a data file and a row.
    fn row(&self, i: Option<usize>) -> Option<&[serde_json::Value]> {
        let data = self.plan.data.as_ref()?;
        data.table.rows.get(i?).map(Vec::as_slice)
    }

    /// The body of open-model arrival for `task`, rendered on the arrival
    /// loop's random numbers when the task has templates (`None` when it
    /// has none: the pool's is sent). The open model has no users:
    /// `{{user}}` and saved values are refused when the file is loaded.
    pub(super) fn render_arrival(
        &self,
        task: usize,
        rng: &mut SmallRng,
    ) -> Result<Option<Payload>, OutOfRows> {
        let Some(r) = &self.plan.tasks[task].render else {
            return Ok(None);
        };
        let seedless = SmallRng::seed_from_u64(0);
        let mut st = UserState::new(&self.plan, 0, std::mem::replace(rng, seedless));
        let has_row = self.take_row(&mut st, Instant::now());
        *rng = st.rng;
        if !has_row {
            return Err(OutOfRows);
        }
        let mut scope = Scope::new(rng, self.next_seq(), 0, self.row(st.row), &[]);
        Ok(Some(r.render(&mut scope, &mut st.buf)))
    }
}

/// Sends one request of `task` for a user and records it. Returns when it
/// was sent and answered, its outcome, and whether the values it saves
/// were found (true when it saves none).
pub(super) async fn send<T: Transport, H: Holding>(
    ctx: &Ctx<T>,
    task: usize,
    st: &mut UserState,
) -> (Instant, Instant, Outcome, bool) {
    let mut rendered = None;
    let payload = ctx.payload_for(task, st, &mut rendered);
    let sent = Instant::now();
    let mut reply = H::call(&ctx.transport, task, payload).await;
    let done = Instant::now();
    let save = &ctx.plan.tasks[task].save;
    let saved =
        save.is_empty() || crate::render::capture(save, &ctx.plan.vars, &mut reply, &mut st.vars);
    ctx.record(task, &reply, sent, done);
    (sent, done, reply.outcome, saved)
}

/// One pass through a flow's steps, in order; returns when its first
/// request was sent and its last answered. A completed pass is recorded as
/// the flow's (its outcome: the first failing step's, or `ok`); a pass cut
/// short by the end of the run (deadline, budget, cancellation) is not.
/// A step whose saved value is missing ends the pass unless the scenario
/// says `on_missing_capture: continue`.
pub(super) async fn run_flow<T: Transport, H: Holding>(
    ctx: &Ctx<T>,
    class: &crate::PlanClass,
    flow: usize,
    st: &mut UserState,
    deadline: Instant,
) -> (Instant, Instant) {
    let begin = Instant::now();
    let mut span: Option<(Instant, Instant)> = None;
    let mut outcome = Outcome::Ok;
    for &task in &class.tasks {
        if ctx.stopped.get() || Instant::now() >= deadline || !ctx.take_one() {
            return span.unwrap_or((begin, Instant::now()));
        }
        let (sent, done, o, saved) = send::<T, H>(ctx, task, st).await;
        span = Some((span.map_or(sent, |s| s.0), done));
        if outcome == Outcome::Ok && o.is_failure() {
            outcome = o;
        }
        if !saved && ctx.plan.on_missing_capture == MissingCapture::EndIteration {
            break;
        }
    }
    let (first, last) = span.unwrap_or((begin, begin));
    ctx.recorder
        .borrow_mut()
        .at(last)
        .rec
        .flows
        .record(flow, outcome, last - first);
    (first, last)
}

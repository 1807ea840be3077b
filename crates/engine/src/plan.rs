use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cliffload_payloads::{GenConfig, Generator, OrderComplexity, PayloadError, PoolSpec, pool};
use cliffload_scenario::{ArrivalRate, Payload as PayloadSource, Protocol, Scenario, WaitTime};
use rand::RngExt;

use crate::run::EngineError;
use crate::shape::{Curve, Window};

/// One request body, encoded ahead of time so the load loop only picks bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Payload {
    /// The encoded body.
    pub body: Bytes,
    /// The kind of error deliberately injected into this body, if any: a
    /// refusal of it is the correct behaviour, an acceptance a failure.
    pub injected: Option<&'static str>,
    /// The subject, when a template makes it per request (else the task's).
    pub subject: Option<String>,
    /// Headers of the task's own, rendered for this request.
    pub headers: Option<Box<[(String, String)]>>,
}

impl Payload {
    /// A valid (not injected) body.
    pub fn valid(body: impl Into<Bytes>) -> Self {
        Self {
            body: body.into(),
            injected: None,
            subject: None,
            headers: None,
        }
    }
}

/// A task as the engine needs it.
#[derive(Debug, Clone)]
pub struct PlanTask {
    /// Name in reports.
    pub name: String,
    /// Relative frequency within its class.
    pub weight: NonZeroU32,
    /// Bodies to cycle through; never empty. A templated task has one,
    /// rendered when the plan was made, for its smoke call.
    pub payloads: Arc<[Payload]>,
    /// Templates rendered per request, when the task has any.
    pub render: Option<Arc<crate::render::Render>>,
    /// Values saved from its successful replies.
    pub save: Arc<[cliffload_scenario::Capture]>,
    /// Why its smoke call before the load is skipped, if it is: it reads
    /// values saved by earlier requests, or takes unique data rows.
    pub no_smoke: Option<&'static str>,
}

impl PlanTask {
    /// The body of the `cursor`th request: users cycle through the pool
    /// rather than sample it, so every body is sent and a run is reproducible.
    /// (The pool is never empty: [`Plan::new`] checks.)
    #[inline]
    pub fn payload(&self, cursor: usize) -> &Payload {
        &self.payloads[cursor % self.payloads.len()]
    }
}

/// A user class as the engine needs it.
#[derive(Debug, Clone)]
pub struct PlanClass {
    /// Name.
    pub name: String,
    /// Think time.
    pub wait_time: WaitTime,
    /// Positions of its tasks in [`Plan::tasks`].
    pub tasks: Vec<usize>,
    /// Its row in the flows table, when it runs its tasks in order.
    pub flow: Option<usize>,
    cumulative: Vec<u64>,
}

impl PlanClass {
    /// Whether its users ever wait between requests (think time or
    /// pacing), rather than send the next as soon as a reply arrives.
    pub fn thinks(&self) -> bool {
        !self.wait_time.is_none()
    }
}

/// Everything a run needs, shared read-only by all workers.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Tasks; their positions index recorders and transports.
    pub tasks: Vec<PlanTask>,
    /// User classes.
    pub classes: Vec<PlanClass>,
    /// Virtual users (at most, with stages).
    pub users: NonZeroU32,
    /// Load duration, counted from the start.
    pub duration: Duration,
    /// Seed of every user's random choices.
    pub seed: u64,
    /// Open model: the arrival rate. `None`: closed model.
    pub arrival: Option<ArrivalRate>,
    /// The users (closed model) or the arrival rate (open model) over the
    /// run: every load shape, run the same way.
    curve: Curve,
    /// Stop after this many requests in all (each worker sends its share).
    pub max_requests: Option<u64>,
    /// The data file users take rows from.
    pub data: Option<cliffload_scenario::DataSource>,
    /// Names of the values tasks save (a user holds one slot each).
    pub vars: Arc<[String]>,
    /// What a step whose saved value is missing does.
    pub on_missing_capture: cliffload_scenario::MissingCapture,
    /// The class of each user.
    user_class: Vec<u16>,
    /// Under the open model, the class of request `n` is `open_class[n % len]`.
    open_class: Vec<u16>,
}

/// Byte budget of one task's pool: large payloads get fewer pool entries.
const POOL_BYTES: usize = 32 << 20;

/// Generates and encodes every task's pool of bodies (before the load).
///
/// # Errors
/// [`EngineError::Payload`] or [`EngineError::Encode`], naming the task.
pub fn build_payloads(scenario: &Scenario) -> Result<Vec<Vec<Payload>>, EngineError> {
    let d = &scenario.data;
    let mut config = GenConfig::new(scenario.seed, jiff::Timestamp::now());
    config.customer_pool_size = d.customer_pool_size;
    config.product_pool_size = d.product_pool_size;
    config.order = OrderComplexity {
        min_items: d.order_items.0,
        max_items: d.order_items.1,
        average_items: d.order_items.2,
    };
    let mut generator: Option<Generator> = None;
    scenario
        .tasks
        .iter()
        .map(|t| {
            let encoding = t.request.codec;
            let payload_error = |error: PayloadError| EngineError::Payload {
                task: t.name.clone(),
                error,
            };
            match &t.payload {
                // A raw protocol sends a text payload as its bytes: `payload: "PING"`
                // is the 4 bytes PING, not the JSON string "\"PING\"".
                PayloadSource::Static(serde_json::Value::String(text))
                    if t.request.protocol == Protocol::Raw =>
                {
                    Ok(vec![Payload::valid(text.clone().into_bytes())])
                }
                // A template's pool is one sample, for the smoke call;
                // the load renders each request (see `Render`).
                PayloadSource::Template(_) => Ok(vec![crate::render::sample(t, scenario)?]),
                PayloadSource::Static(v) => {
                    let body = encoding.encode(v).map_err(|error| EngineError::Encode {
                        task: t.name.clone(),
                        error,
                    })?;
                    Ok(vec![Payload::valid(body)])
                }
                PayloadSource::Generated { models, arg } => {
                    let g = generator.get_or_insert_with(|| Generator::new(&config));
                    let mut subs: Vec<std::vec::IntoIter<Payload>> = Vec::new();
                    let per_model = (d.payload_pool_size / models.len()).max(1);
                    for model in models {
                        let probe = model.sample(g, None).map_err(payload_error)?;
                        let bytes = serde_json::to_vec(&probe.value)
                            .map_or(1, |b| b.len())
                            .max(1);
                        let size = per_model.min(POOL_BYTES / models.len() / bytes).max(4);
                        let spec = PoolSpec {
                            model: model.clone(),
                            size,
                            error_rate: t.error_rate,
                            arg: arg.clone(),
                            encoding,
                        };
                        let entries = pool::build(g, &spec).map_err(payload_error)?;
                        let sub: Vec<Payload> = entries
                            .into_iter()
                            .map(|e| Payload {
                                body: e.body.into(),
                                injected: e.injected.map(|k| k.name()),
                                subject: None,
                                headers: None,
                            })
                            .collect();
                        subs.push(sub.into_iter());
                    }
                    // Interleave the sub-pools (payload_sizes) so users cycle through all of them.
                    let mut out = Vec::new();
                    while subs.iter().any(|s| s.len() > 0) {
                        out.extend(subs.iter_mut().filter_map(Iterator::next));
                    }
                    Ok(out)
                }
            }
        })
        .collect()
}

/// Smooth weighted round-robin: spreads `n` users over classes by weight,
/// interleaved (A B A C A B …) so any prefix of users is also in proportion.
fn assign_classes(weights: &[u32], n: u32) -> Vec<u16> {
    let total: i64 = weights.iter().map(|w| i64::from(*w)).sum();
    let mut current = vec![0i64; weights.len()];
    (0..n)
        .map(|_| {
            for (c, w) in current.iter_mut().zip(weights) {
                *c += i64::from(*w);
            }
            let (best, _) = current
                .iter()
                .enumerate()
                .max_by_key(|(i, c)| (**c, -(*i as i64)))
                .unwrap_or((0, &0));
            current[best] -= total;
            best as u16
        })
        .collect()
}

impl Plan {
    /// A plan for `scenario`, with one pool of bodies per task (same order).
    ///
    /// # Panics
    /// If `payloads` does not have one non-empty pool per task: the caller
    /// builds them from the same scenario, so that is a programming error.
    /// Also if a task's templates do not compile: [`Plan::try_new`] says why.
    pub fn new(scenario: &Scenario, payloads: Vec<Vec<Payload>>) -> Self {
        Self::try_new(scenario, payloads).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Plan::new`], with the templates' errors returned.
    ///
    /// # Errors
    /// [`EngineError::Template`]: a task's templates do not compile (only a
    /// scenario that was not loaded through the checks can have that).
    pub fn try_new(scenario: &Scenario, payloads: Vec<Vec<Payload>>) -> Result<Self, EngineError> {
        assert_eq!(
            payloads.len(),
            scenario.tasks.len(),
            "one payload pool per task"
        );
        let tasks: Vec<PlanTask> = scenario
            .tasks
            .iter()
            .zip(payloads)
            .map(|(t, p)| {
                assert!(!p.is_empty(), "task {} has no payloads", t.name);
                let render = crate::render::Render::of(t, scenario, p.first())?;
                Ok(PlanTask {
                    name: t.name.clone(),
                    weight: t.weight,
                    no_smoke: render.as_ref().and_then(|r| r.no_smoke(scenario)),
                    render: render.map(Arc::new),
                    save: t.save.clone().into(),
                    payloads: p.into(),
                })
            })
            .collect::<Result<_, EngineError>>()?;
        let mut flows = 0;
        let classes: Vec<PlanClass> = scenario
            .classes
            .iter()
            .map(|c| PlanClass {
                name: c.name.clone(),
                wait_time: c.wait_time,
                flow: c.flow.then(|| {
                    flows += 1;
                    flows - 1
                }),
                cumulative: c
                    .tasks
                    .iter()
                    .scan(0u64, |acc, t| {
                        *acc += u64::from(tasks[*t].weight.get());
                        Some(*acc)
                    })
                    .collect(),
                tasks: c.tasks.clone(),
            })
            .collect();
        let weights: Vec<u32> = scenario.classes.iter().map(|c| c.weight.get()).collect();
        let shape = match &scenario.arrival {
            Some(a) => a.shape(scenario.duration),
            None => scenario.user_shape(),
        };
        Ok(Self {
            user_class: assign_classes(&weights, scenario.users.get()),
            open_class: assign_classes(&weights, 997),
            arrival: scenario.arrival.clone(),
            max_requests: scenario.max_requests,
            tasks,
            classes,
            users: scenario.users,
            duration: scenario.duration,
            seed: scenario.seed,
            data: scenario.data_file.clone(),
            vars: scenario.vars.clone().into(),
            on_missing_capture: scenario.on_missing_capture,
            curve: Curve::new(&shape, scenario.duration),
        })
    }

    /// How many flows the plan has (classes with `flow: true`): the rows
    /// of the flows table.
    pub fn flow_count(&self) -> usize {
        self.classes.iter().filter(|c| c.flow.is_some()).count()
    }

    /// The class of the `n`th request of the open model.
    #[doc(hidden)] // Public for `benches/engine.rs`.
    pub fn open_class_of(&self, n: u64) -> &PlanClass {
        let i = self
            .open_class
            .get((n % self.open_class.len().max(1) as u64) as usize)
            .copied()
            .unwrap_or(0);
        &self.classes[usize::from(i)]
    }

    /// When the `n`th request of the whole run is due, after the start, or
    /// `None` past the end: when the integral of the rate reaches `n`
    /// (`n / rate` for a constant one; see the `shape` module).
    #[doc(hidden)] // Public for `benches/engine.rs`.
    pub fn arrival_offset(&self, n: u64) -> Option<Duration> {
        self.arrival.as_ref()?;
        self.curve.arrival(n)
    }

    /// The class of user number `user`.
    pub(crate) fn class_of(&self, user: u32) -> &PlanClass {
        &self.classes[usize::from(self.user_class.get(user as usize).copied().unwrap_or(0))]
    }

    /// When user number `user` runs, after the run's start: its windows in
    /// order, none if it never runs. A later user's first window never
    /// starts before an earlier one's.
    pub(crate) fn user_windows(&self, user: u32) -> Vec<Window> {
        self.curve.windows(user)
    }

    /// Picks a task of `class` by weight.
    #[doc(hidden)] // Public for `benches/engine.rs`.
    #[inline]
    pub fn pick_task(&self, class: &PlanClass, rng: &mut impl RngExt) -> usize {
        let total = class.cumulative.last().copied().unwrap_or(1);
        let x = rng.random_range(0..total);
        class.tasks[class
            .cumulative
            .partition_point(|&c| c <= x)
            .min(class.tasks.len() - 1)]
    }

    /// When a `class` user starts its next task, after a request sent at
    /// `sent` and answered at `done`: after its think time, or, with
    /// pacing, one period after the send (at once if the request took longer).
    #[inline]
    pub fn resume_at(
        class: &PlanClass,
        rng: &mut impl RngExt,
        sent: tokio::time::Instant,
        done: tokio::time::Instant,
    ) -> tokio::time::Instant {
        match class.wait_time {
            WaitTime::Pacing(period) => (sent + period).max(done),
            _ => done + Self::think_time(class, rng),
        }
    }

    /// A worker slot's share of `max_requests` (`u64::MAX` without a limit).
    pub fn request_budget(&self, slot: crate::Slot) -> u64 {
        self.max_requests.map_or(u64::MAX, |n| slot.share(n))
    }

    /// The think time after one request of a `class` user.
    #[doc(hidden)] // Public for `benches/engine.rs`.
    #[inline]
    pub fn think_time(class: &PlanClass, rng: &mut impl RngExt) -> Duration {
        match class.wait_time {
            WaitTime::Constant(d) => d,
            WaitTime::Between(lo, hi) if hi > lo => lo + (hi - lo).mul_f64(rng.random::<f64>()),
            WaitTime::Between(lo, _) => lo,
            // Pacing waits from the send, not the reply: see `Plan::resume_at`.
            WaitTime::Pacing(_) => Duration::ZERO,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    fn scenario(yaml: &str) -> Scenario {
        let f = cliffload_scenario::ScenarioFile::parse(yaml, "t.yaml").expect("valid");
        f.scenarios[0].clone()
    }

    fn plan(yaml: &str) -> Plan {
        let s = scenario(yaml);
        let pools = s
            .tasks
            .iter()
            .map(|_| vec![Payload::valid(&b"{}"[..])])
            .collect();
        Plan::new(&s, pools)
    }

    #[test]
    fn picks_tasks_in_proportion_to_weight() {
        let p = plan(
            "scenarios:\n  s:\n    users: 1\n    duration: 1s\n    tasks:\n      - {name: a, subject: x.a, weight: 1}\n      - {name: b, subject: x.b, weight: 3}\n      - {name: c, subject: x.c, weight: 6}\n",
        );
        let mut rng = SmallRng::seed_from_u64(7);
        let mut n = [0u32; 3];
        for _ in 0..100_000 {
            n[p.pick_task(&p.classes[0], &mut rng)] += 1;
        }
        for (i, want) in [0.1, 0.3, 0.6].iter().enumerate() {
            let got = f64::from(n[i]) / 100_000.0;
            assert!((got - want).abs() < 0.01, "task {i}: {got} vs {want}");
        }
    }

    #[test]
    fn users_are_spread_over_classes_by_weight_and_interleaved() {
        assert_eq!(assign_classes(&[3, 1], 8), [0, 0, 1, 0, 0, 0, 1, 0]);
        let a = assign_classes(&[3, 2, 1, 1, 2], 90);
        let count = |c| a.iter().filter(|x| **x == c).count();
        assert_eq!(
            [count(0), count(1), count(2), count(3), count(4)],
            [30, 20, 10, 10, 20]
        );
    }

    #[test]
    fn stages_give_each_user_a_window() {
        let steps = plan(
            "advanced:\n  gradual_load_increase: {enabled: true, steps: [2, 5, 3], step_duration_seconds: 10}\nscenarios:\n  s:\n    users: 5\n    spawn_rate: 10\n    duration: 30s\n    tasks:\n      - {name: a, subject: x.a}\n",
        );
        assert_eq!(steps.user_windows(0), [(Duration::ZERO, None)]);
        assert_eq!(steps.user_windows(1), [(Duration::from_millis(100), None)]);
        assert_eq!(steps.user_windows(2), [(Duration::from_secs(10), None)]);
        assert_eq!(
            steps.user_windows(4),
            [(Duration::from_millis(10_200), Some(Duration::from_secs(20)))]
        );
        let plain = plan(
            "scenarios:\n  s:\n    users: 5\n    spawn_rate: 2\n    duration: 30s\n    tasks:\n      - {name: a, subject: x.a}\n",
        );
        assert_eq!(plain.user_windows(3), [(Duration::from_millis(1500), None)]);
        // Up to 2, down to 0, up to 1: user 0 runs twice, user 1 once.
        let shaped = plan(
            "scenarios:\n  s:\n    stages: [{duration: 2s, users: 2}, {duration: 1s, users: 0}, {duration: 0s, users: 1}, {duration: 1s, users: 1}]\n    tasks:\n      - {name: a, subject: x.a}\n",
        );
        let s = Duration::from_secs_f64;
        assert_eq!(
            shaped.user_windows(0),
            [(s(0.0), Some(s(2.5))), (s(3.0), None)]
        );
        assert_eq!(shaped.user_windows(1), [(s(1.0), Some(s(2.0)))]);
    }

    #[test]
    fn think_time_stays_in_range() {
        let p = plan(
            "scenarios:\n  s:\n    users: 1\n    duration: 1s\n    wait_time: {between: [1, 3]}\n    tasks:\n      - {name: a, subject: x.a}\n",
        );
        let mut rng = SmallRng::seed_from_u64(7);
        for _ in 0..1000 {
            let d = Plan::think_time(&p.classes[0], &mut rng);
            assert!(d >= Duration::from_secs(1) && d <= Duration::from_secs(3));
        }
    }

    #[test]
    fn only_users_with_a_zero_constant_wait_never_think() {
        let thinks = |wait: &str| {
            plan(&format!(
                "scenarios:\n  s:\n    users: 1\n    duration: 1s\n    wait_time: {wait}\n    tasks:\n      - {{name: a, subject: x.a}}\n"
            ))
            .classes[0]
                .thinks()
        };
        assert!(!thinks("{constant: 0}"));
        assert!(thinks("{constant: 0.001}"));
        assert!(thinks("{between: [1, 2]}"));
        assert!(thinks("{pacing: 1}"));
    }

    #[test]
    fn generated_pools_hold_the_configured_injected_share() {
        let s = scenario("scenarios:\n  s:\n    users: 1\n    duration: 1s\n    error_rate: 0.1\ndata_generation: {payload_pool_size: 50, customer_pool_size: 5, product_pool_size: 5}\n".replace("error_rate: 0.1\n", "error_rate: 0.1\n    tasks:\n      - {name: o, subject: x.o, arg: order, generate: {model: order}}\n      - {name: e, subject: x.e, arg: test_data, generate: {model: validation_error_test}, error_rate: 1.0}\n").as_str());
        let pools = build_payloads(&s).expect("builds");
        assert_eq!(pools[0].len(), 50);
        assert_eq!(pools[0].iter().filter(|p| p.injected.is_some()).count(), 5);
        assert!(pools[1].iter().all(|p| p.injected.is_some()));
        let v: serde_json::Value = serde_json::from_slice(&pools[0][0].body).expect("JSON");
        assert!(
            v["order"]["order_id"].is_string(),
            "wrapped under the argument name"
        );
    }

    #[test]
    fn a_raw_text_payload_is_sent_as_its_bytes() {
        let s = scenario(
            "scenarios:\n  s:\n    users: 1\n    duration: 1s\n    tasks:\n      - {name: r, subject: x.r, protocol: raw, payload: PING}\n      - {name: j, subject: x.j, payload: PING}\n      - {name: o, subject: x.o, protocol: raw, payload: {a: 1}}\n",
        );
        let pools = build_payloads(&s).expect("builds");
        assert_eq!(&pools[0][0].body[..], b"PING");
        assert_eq!(
            &pools[1][0].body[..],
            b"\"PING\"",
            "JSON protocols send JSON"
        );
        assert_eq!(&pools[2][0].body[..], br#"{"a":1}"#, "a raw object is JSON");
    }
}

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cliffload_scenario::{Scenario, WaitTime};
use rand::RngExt;

/// One request body, encoded ahead of time so the load loop only picks bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Payload {
    /// The encoded body.
    pub body: Bytes,
    /// The kind of error deliberately injected into this body, if any: a
    /// refusal of it is the correct behaviour, an acceptance a failure.
    pub injected: Option<&'static str>,
}

impl Payload {
    /// A valid (not injected) body.
    pub fn valid(body: impl Into<Bytes>) -> Self {
        Self {
            body: body.into(),
            injected: None,
        }
    }
}

/// A task as the engine needs it.
#[derive(Debug, Clone)]
pub struct PlanTask {
    /// Name in reports.
    pub name: String,
    /// Relative frequency.
    pub weight: NonZeroU32,
    /// Bodies to cycle through; never empty.
    pub payloads: Arc<[Payload]>,
}

/// Everything a run needs, shared read-only by all workers.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Tasks; their positions index recorders and transports.
    pub tasks: Vec<PlanTask>,
    /// Virtual users.
    pub users: NonZeroU32,
    /// Users started per second.
    pub spawn_rate: f64,
    /// Load duration, counted from the start.
    pub duration: Duration,
    /// Think time.
    pub wait_time: WaitTime,
    /// Seed of every user's random choices.
    pub seed: u64,
    cumulative: Vec<u64>,
}

impl Plan {
    /// A plan for `scenario`, with one pool of bodies per task (same order).
    ///
    /// # Panics
    /// If `payloads` does not have one non-empty pool per task: the caller
    /// builds them from the same scenario, so that is a programming error.
    pub fn new(scenario: &Scenario, payloads: Vec<Vec<Payload>>) -> Self {
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
                PlanTask {
                    name: t.name.clone(),
                    weight: t.weight,
                    payloads: p.into(),
                }
            })
            .collect();
        let cumulative = tasks
            .iter()
            .scan(0u64, |acc, t| {
                *acc += u64::from(t.weight.get());
                Some(*acc)
            })
            .collect();
        Self {
            tasks,
            users: scenario.users,
            spawn_rate: scenario.spawn_rate,
            duration: scenario.duration,
            wait_time: scenario.wait_time,
            seed: scenario.seed,
            cumulative,
        }
    }

    /// Picks a task by weight.
    #[inline]
    pub(crate) fn pick_task(&self, rng: &mut impl RngExt) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(1);
        let x = rng.random_range(0..total);
        self.cumulative.partition_point(|&c| c <= x)
    }

    /// When user number `user` starts, after the run's start.
    pub(crate) fn spawn_offset(&self, user: u32) -> Duration {
        Duration::from_secs_f64(f64::from(user) / self.spawn_rate)
    }

    /// The think time after one request.
    #[inline]
    pub(crate) fn think_time(&self, rng: &mut impl RngExt) -> Duration {
        match self.wait_time {
            WaitTime::Constant(d) => d,
            WaitTime::Between(lo, hi) if hi > lo => lo + (hi - lo).mul_f64(rng.random::<f64>()),
            WaitTime::Between(lo, _) => lo,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    fn plan(weights: &[u32]) -> Plan {
        let mut p = Plan {
            tasks: vec![],
            users: NonZeroU32::MIN,
            spawn_rate: 2.0,
            duration: Duration::from_secs(1),
            wait_time: WaitTime::Between(Duration::from_secs(1), Duration::from_secs(3)),
            seed: 1,
            cumulative: vec![],
        };
        let mut acc = 0;
        for w in weights {
            acc += u64::from(*w);
            p.cumulative.push(acc);
        }
        p
    }

    #[test]
    fn picks_tasks_in_proportion_to_weight() {
        let p = plan(&[1, 3, 6]);
        let mut rng = SmallRng::seed_from_u64(7);
        let mut n = [0u32; 3];
        for _ in 0..100_000 {
            n[p.pick_task(&mut rng)] += 1;
        }
        for (i, want) in [0.1, 0.3, 0.6].iter().enumerate() {
            let got = f64::from(n[i]) / 100_000.0;
            assert!((got - want).abs() < 0.01, "task {i}: {got} vs {want}");
        }
    }

    #[test]
    fn think_time_stays_in_range_and_spawn_follows_rate() {
        let p = plan(&[1]);
        let mut rng = SmallRng::seed_from_u64(7);
        for _ in 0..1000 {
            let d = p.think_time(&mut rng);
            assert!(d >= Duration::from_secs(1) && d <= Duration::from_secs(3));
        }
        assert_eq!(p.spawn_offset(3), Duration::from_millis(1500));
    }
}

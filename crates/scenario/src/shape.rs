//! Load shapes: how many users run, or how many requests arrive per second,
//! over the run. Every way a scenario can say it (`users` with a spawn rate,
//! `advanced.gradual_load_increase`, `stages:`, `arrival_rate` with or
//! without `ramp_to`) becomes one [`Shape`]: piecewise linear, which the
//! engine runs and the report draws.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{ArrivalRate, Scenario, human_duration};

/// One stage of a load shape (k6's `stages`): the target at its end,
/// reached linearly from where the previous stage ended. A stage of zero
/// duration jumps.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Stage {
    /// How long it lasts.
    pub duration: Duration,
    /// Users, or requests per second, at its end.
    pub target: f64,
}

/// A target over time: from `start`, linear within each stage, held after
/// the last.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shape {
    /// The target at the start.
    pub start: f64,
    /// The stages, in order.
    pub stages: Vec<Stage>,
}

impl Shape {
    /// The corner points (seconds from the start, target) from 0 to `end`:
    /// the line the shape is. A stage cut by `end` ends there; a shape
    /// shorter than `end` holds its last target until it.
    pub fn points(&self, end: Duration) -> Vec<(f64, f64)> {
        let end = end.as_secs_f64();
        let mut out = vec![(0.0, self.start)];
        let (mut t, mut v) = (0.0, self.start);
        for s in &self.stages {
            let d = s.duration.as_secs_f64();
            if t + d > end {
                // The part of the stage before the end.
                let f = if d > 0.0 { (end - t) / d } else { 0.0 };
                out.push((end, v + (s.target - v) * f));
                return out;
            }
            t += d;
            v = s.target;
            out.push((t, v));
        }
        if t < end {
            out.push((end, v));
        }
        out
    }

    /// The highest target of the shape, at any time.
    pub fn peak(&self) -> f64 {
        self.stages
            .iter()
            .map(|s| s.target)
            .fold(self.start, f64::max)
    }

    /// How long its stages last in all (at most [`Duration::MAX`]).
    pub fn length(&self) -> Duration {
        self.stages
            .iter()
            .fold(Duration::ZERO, |sum, s| sum.saturating_add(s.duration))
    }

    /// The stages in words: `→ 50 users over 30 s, 200 users for 2 min, → 0 users over 30 s`
    /// (`unit` after each target: ` users`, `/s`).
    pub fn describe(&self, unit: &str) -> String {
        let mut v = self.start;
        self.stages
            .iter()
            .map(|s| {
                let d = human_duration(s.duration);
                let words = if s.duration.is_zero() {
                    format!("→ {}{unit} at once", s.target)
                } else if s.target == v {
                    format!("{}{unit} for {d}", s.target)
                } else {
                    format!("→ {}{unit} over {d}", s.target)
                };
                v = s.target;
                words
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The closed model's stages, when its users follow a shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Stages {
    /// `advanced.gradual_load_increase`: `steps[k]` users during step `k`,
    /// each `step_duration` long; users added at the spawn rate (all within
    /// the step), users removed at once.
    Steps {
        /// Users per step.
        steps: Vec<u32>,
        /// Length of each step.
        step_duration: Duration,
    },
    /// `stages:` with `users:`: the users at the end of each stage, linear
    /// within it, from 0 at the start.
    Users(Vec<Stage>),
}

/// The open model's arrival rate over the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Rate {
    /// The same rate throughout (`arrival_rate: {rate}`, `--rate`).
    Constant(f64),
    /// `ramp_to`: linear from `from` to `to` over the whole run.
    Ramp {
        /// Requests per second at the start.
        from: f64,
        /// Requests per second at the end.
        to: f64,
    },
    /// `stages:` with `rate:` (k6's ramping-arrival-rate), from
    /// `arrival_rate.rate` (0 without it).
    Stages(Shape),
}

impl ArrivalRate {
    /// The arrival rate over a run of `duration`.
    pub fn shape(&self, duration: Duration) -> Shape {
        match &self.rate {
            Rate::Constant(r) => Shape {
                start: *r,
                stages: Vec::new(),
            },
            Rate::Ramp { from, to } => Shape {
                start: *from,
                stages: vec![Stage {
                    duration,
                    target: *to,
                }],
            },
            Rate::Stages(s) => s.clone(),
        }
    }

    /// Requests per second at the start.
    pub fn start_rate(&self) -> f64 {
        match &self.rate {
            Rate::Constant(r) | Rate::Ramp { from: r, .. } => *r,
            Rate::Stages(s) => s.start,
        }
    }

    /// The rate at the end of a linear ramp (`ramp_to`), if it is one.
    pub fn ramp_to(&self) -> Option<f64> {
        match self.rate {
            Rate::Ramp { to, .. } => Some(to),
            _ => None,
        }
    }
}

impl Scenario {
    /// The closed model's users over the run: the stages, or `users`
    /// started at `spawn_rate` and held. User `u` runs while the shape is
    /// above `u` (see the engine's plan for how ramps start and stop them).
    pub fn user_shape(&self) -> Shape {
        let users = f64::from(self.users.get());
        match &self.stages {
            None => Shape {
                start: 0.0,
                stages: vec![Stage {
                    duration: secs(users / self.spawn_rate),
                    target: users,
                }],
            },
            Some(Stages::Users(stages)) => Shape {
                start: 0.0,
                stages: stages.clone(),
            },
            Some(Stages::Steps {
                steps,
                step_duration,
            }) => {
                let mut stages = Vec::with_capacity(steps.len() * 2);
                let mut prev = 0.0;
                for &n in steps {
                    let n = f64::from(n);
                    // More users start at the spawn rate, within the step;
                    // fewer stop at once.
                    let ramp = if n > prev {
                        secs((n - prev) / self.spawn_rate).min(*step_duration)
                    } else {
                        Duration::ZERO
                    };
                    stages.push(Stage {
                        duration: ramp,
                        target: n,
                    });
                    stages.push(Stage {
                        duration: *step_duration - ramp,
                        target: n,
                    });
                    prev = n;
                }
                Shape { start: 0.0, stages }
            }
        }
    }

    /// The shape the load follows when it is not a constant one: the
    /// closed model's stages, or the open model's ramp or stages; `None`
    /// for a constant rate or users started at the spawn rate and held.
    pub fn planned_shape(&self) -> Option<Shape> {
        match &self.arrival {
            Some(a) if matches!(a.rate, Rate::Constant(_)) => None,
            Some(a) => Some(a.shape(self.duration)),
            None => self.stages.as_ref().map(|_| self.user_shape()),
        }
    }
}

/// `s` seconds; a spawn rate of 1e-300 users/s gives the longest duration
/// there is rather than a panic.
fn secs(s: f64) -> Duration {
    Duration::try_from_secs_f64(s).unwrap_or(Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    fn shape() -> Shape {
        Shape {
            start: 0.0,
            stages: vec![
                Stage {
                    duration: secs(1.0),
                    target: 4.0,
                },
                Stage {
                    duration: secs(1.0),
                    target: 4.0,
                },
                Stage {
                    duration: secs(1.0),
                    target: 0.0,
                },
            ],
        }
    }

    #[test]
    fn users_at_a_spawn_rate_and_steps_are_shapes_too() {
        let file = crate::ScenarioFile::parse(
            "advanced:\n  gradual_load_increase: {enabled: false, steps: [2, 6, 3], step_duration_seconds: 10}\nscenarios:\n  plain: {users: 10, spawn_rate: 2, duration: 60s, tasks: [{name: a, subject: x.a}]}\n  steps: {users: 1, spawn_rate: 1, duration: 1s, gradual_load_increase: true, tasks: [{name: a, subject: x.a}]}\n  crawl: {users: 10, spawn_rate: 1e-300, duration: 1s, tasks: [{name: a, subject: x.a}]}\n",
            "t.yaml",
        )
        .expect("valid");
        let points = |name: &str| {
            let s = file.get(name).expect("scenario");
            s.user_shape().points(s.duration)
        };
        assert_eq!(points("plain"), [(0.0, 0.0), (5.0, 10.0), (60.0, 10.0)]);
        // Two users in 2 s, held; four more in 4 s, held; three fewer at once.
        assert_eq!(
            points("steps"),
            [
                (0.0, 0.0),
                (2.0, 2.0),
                (10.0, 2.0),
                (14.0, 6.0),
                (20.0, 6.0),
                (20.0, 3.0),
                (30.0, 3.0)
            ]
        );
        // A spawn rate too slow to express as a duration starts nobody.
        let crawl = points("crawl");
        assert!(crawl[1].1 < 1e-9, "{crawl:?}");
    }

    #[test]
    fn a_shape_is_its_corner_points_cut_or_held_to_the_run() {
        let s = shape();
        assert_eq!(
            s.points(secs(3.0)),
            [(0.0, 0.0), (1.0, 4.0), (2.0, 4.0), (3.0, 0.0)]
        );
        assert_eq!(s.points(secs(2.5)).last(), Some(&(2.5, 2.0)), "cut");
        assert_eq!(s.points(secs(5.0)).last(), Some(&(5.0, 0.0)), "held");
        assert_eq!((s.peak(), s.length()), (4.0, secs(3.0)));
        assert_eq!(
            s.describe(" users"),
            "→ 4 users over 1 s, 4 users for 1 s, → 0 users over 1 s"
        );
    }
}

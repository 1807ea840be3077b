//! [`LoadShape`]: the planned load of a run over time, as `result.json`
//! holds it (`load.shape`) and the charts draw it.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A load shape: from `start`, linear within each stage to its target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadShape {
    /// What it plans: `users` (closed model) or `arrivals_per_s` (open model).
    pub of: String,
    /// The target at the start.
    pub start: f64,
    /// The stages, in order.
    pub stages: Vec<LoadStage>,
}

/// One stage of a [`LoadShape`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadStage {
    /// How long it lasts, in seconds (0: a jump).
    pub duration_s: f64,
    /// Users, or arrivals per second, at its end.
    pub target: f64,
}

impl LoadShape {
    /// `shape` of users (`open` false) or of arrivals per second.
    pub fn of(shape: &cliffload_scenario::Shape, open: bool) -> Self {
        Self {
            of: if open { "arrivals_per_s" } else { "users" }.into(),
            start: shape.start,
            stages: shape
                .stages
                .iter()
                .map(|s| LoadStage {
                    duration_s: s.duration.as_secs_f64(),
                    target: s.target,
                })
                .collect(),
        }
    }

    /// The shape itself, to draw or describe.
    pub fn shape(&self) -> cliffload_scenario::Shape {
        cliffload_scenario::Shape {
            start: self.start,
            stages: self
                .stages
                .iter()
                .map(|s| cliffload_scenario::Stage {
                    duration: Duration::try_from_secs_f64(s.duration_s).unwrap_or_default(),
                    target: s.target,
                })
                .collect(),
        }
    }
}

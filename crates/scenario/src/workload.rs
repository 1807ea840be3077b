//! The workload's own keys: where a scenario's data rows come from and how
//! users take them (`data:`), the values tasks save from replies (`save:`),
//! and what a step does when one is missing.

use serde::{Deserialize, Serialize};

/// A data file's rows and how users take them (`data:`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataSource {
    /// The rows (shared: a plan is cloned per worker).
    pub table: std::sync::Arc<cliffload_payloads::DataTable>,
    /// Which row comes next.
    pub order: RowOrder,
    /// When a user takes a new row.
    pub per: RowPer,
    /// What `unique` does when every row has been used.
    pub when_exhausted: Exhausted,
}

/// Which row a user takes next (`data.order`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RowOrder {
    /// Rows in file order, over and over (each thread and worker takes its
    /// share of the numbers, so no two take the same row at once).
    #[default]
    Sequential,
    /// A random row each time.
    Random,
    /// Each row at most once in the whole run, across threads and
    /// distributed workers; then `when_exhausted`.
    Unique,
}

/// When a user takes a new row (`data.per`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RowPer {
    /// Every iteration (one task, or one pass through a flow).
    #[default]
    Iteration,
    /// Once, when the user starts (a login, an account).
    User,
}

/// What happens when `order: unique` runs out of rows (`data.when_exhausted`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Exhausted {
    /// The users that need a row stop, and the run says so.
    #[default]
    Stop,
    /// Start again from the first row (rows are then reused).
    Cycle,
}

/// What a step does when a value it saves is missing from its reply
/// (`on_missing_capture`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum MissingCapture {
    /// The step fails (`check_failed`, naming the value and the path) and
    /// the rest of the iteration is skipped.
    #[default]
    EndIteration,
    /// The step fails, and the next steps run with the value unset (null).
    Continue,
}

/// The settings' names as the file writes them (`unique`, `end_iteration`).
macro_rules! file_names {
    ($($t:ty { $($v:ident => $n:literal),+ })+) => {$(
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(match self { $(Self::$v => $n),+ })
            }
        }
    )+};
}

file_names! {
    RowOrder { Sequential => "sequential", Random => "random", Unique => "unique" }
    RowPer { Iteration => "iteration", User => "user" }
    Exhausted { Stop => "stop", Cycle => "cycle" }
    MissingCapture { EndIteration => "end_iteration", Continue => "continue" }
}

/// A value a task saves from its reply (`save: {order_id: result.order_id}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Capture {
    /// Its slot in [`crate::Scenario::vars`].
    pub var: usize,
    /// The dot path into the reply's JSON (`result.order_id`, `items.0.id`).
    pub path: String,
}

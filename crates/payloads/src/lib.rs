//! The workload's payloads (`docs/workload.md` §1–§2): validated domain
//! models, seeded realistic generators, error injection, and pre-built pools.
//! Pure: no I/O, no async.
//!
//! Key items: the models in [`model`] ([`ComplexOrder`] and what it nests,
//! [`AnalyticsEvent`], [`BatchProcessingRequest`], [`ValidationErrorTest`]);
//! [`Validate`] and [`Violation`] (every broken rule with its full path and a
//! pydantic-style code); [`Generator`] (seeded; same seed and `now` → same
//! bytes); [`InjectKind`] (labelled, deliberate errors); [`ModelSpec`] and
//! [`pool::build`] (N encoded payloads, an exact injected share).

pub mod data;
mod generate;
mod inject;
pub mod model;
pub mod pool;
pub mod template;
mod validate;

pub use cliffload_protocol::Codec;
pub use data::{DataFormat, DataTable};
pub use generate::{GenConfig, Generator, OrderComplexity};
pub use inject::InjectKind;
pub use model::*;
pub use pool::{Entry, ModelSpec, PayloadError, PoolSpec, Sample};
pub use validate::{Seg, Validate, Violation, Violations, parse_value, parse_with, validate_value};

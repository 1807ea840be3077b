//! Built-in scenarios, usable with no file. They target the reference
//! services that `cliffload run` starts itself.

use crate::ScenarioFile;

/// The built-in scenarios as YAML: the same format a user writes.
pub const BUILTIN_YAML: &str = include_str!("builtin.yaml");

/// The built-in scenarios, parsed.
pub fn builtin() -> ScenarioFile {
    // Checked by the `builtin_catalog_is_valid` test: a failure here is a
    // build defect, not user input.
    #[allow(clippy::expect_used)]
    ScenarioFile::parse(BUILTIN_YAML, "<built-in>").expect("the built-in catalog is valid")
}

//! The regression baseline of a run: `--baseline FILE`, or the
//! configuration's `advanced.regression_detection.baseline_results_path`.

use std::path::Path;

use anyhow::Result;
use cliffload_report::{RunResult, Warning};
use cliffload_scenario::Settings;

/// The result to compare with: `--baseline FILE` (must be readable), else,
/// with `advanced.regression_detection` enabled, its `baseline_results_path`:
/// a result.json, or a directory holding `<scenario>/result.json` (what
/// `cliffload suite --out` writes) or `result.json`. A configured baseline
/// that is not there yet is a warning (the first run makes it), not an error.
pub fn find_baseline(
    scenario: &str,
    explicit: Option<&Path>,
    settings: &Settings,
) -> Result<Baseline> {
    if let Some(path) = explicit {
        return Ok(Baseline::Found(Box::new(
            cliffload_report::read_result(path).map_err(anyhow::Error::msg)?,
        )));
    }
    let Some(configured) = &settings.baseline_results_path else {
        return Ok(Baseline::None);
    };
    let root = Path::new(configured);
    let candidates = [
        root.to_path_buf(),
        root.join(scenario).join("result.json"),
        root.join("result.json"),
    ];
    match candidates.iter().find(|p| p.is_file()) {
        Some(p) => Ok(Baseline::Found(Box::new(
            cliffload_report::read_result(p).map_err(anyhow::Error::msg)?,
        ))),
        None => Ok(Baseline::Missing(Warning::BaselineMissing {
            path: root.display().to_string(),
            scenario: scenario.to_owned(),
        })),
    }
}

/// What [`find_baseline`] found.
#[derive(Debug)]
pub enum Baseline {
    /// No comparison asked for.
    None,
    /// Compare with this result.
    Found(Box<RunResult>),
    /// Asked for in the configuration but not there: this warning.
    Missing(Warning),
}

/// Applies the regression check of `baseline`, or its warning.
pub fn compare_with_baseline(result: &mut RunResult, baseline: Baseline, settings: &Settings) {
    match baseline {
        Baseline::None => {}
        Baseline::Found(base) => cliffload_report::regression::apply(
            result,
            &base,
            settings.max_degradation_percent.unwrap_or(20.0),
        ),
        Baseline::Missing(warning) => result.warnings.push(warning),
    }
}

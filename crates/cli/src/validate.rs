//! `cliffload validate`: a scenario file's resolved plan, or every mistake in it.

use anyhow::Result;
use cliffload_scenario::{ScenarioFile, plan};

use crate::args::ValidateArgs;
use cliffload_run::exit;

/// `cliffload validate FILE [SCENARIO]`: the resolved plan of the file's
/// scenarios (or of SCENARIO), or every error found.
pub fn validate(args: ValidateArgs) -> Result<u8> {
    let file = ScenarioFile::load(&args.file)?;
    let path = args.file.display().to_string();
    out!(
        "{}",
        plan::describe(&file, &path, args.scenario.as_deref())?
    );
    Ok(exit::OK)
}

//! `cliffload scenarios`: the scenarios there are, one line each.

use anyhow::Result;
use cliffload_scenario::human_duration;

use crate::args::ScenariosArgs;
use cliffload_run::exit;

pub fn scenarios(args: ScenariosArgs) -> Result<u8> {
    let file = cliffload_run::run::scenario_file(args.config.as_deref())?;
    for s in &file.scenarios {
        outln!(
            "{:<20} {:>6}  {}  {}",
            s.name,
            human_duration(s.duration),
            s.describe_load(),
            s.description.as_deref().unwrap_or("")
        );
    }
    Ok(exit::OK)
}

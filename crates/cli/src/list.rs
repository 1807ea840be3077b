//! `cliffload scenarios`.

use anyhow::Result;
use cliffload_scenario::{ScenarioFile, catalog};

use crate::args::ScenariosArgs;
use crate::exit;

pub fn scenarios(args: ScenariosArgs) -> Result<u8> {
    let file = match &args.config {
        Some(path) => ScenarioFile::load(path)?,
        None => catalog::builtin(),
    };
    for s in &file.scenarios {
        println!(
            "{:<20} {:>4} users  {:>6}  {}",
            s.name,
            s.users,
            format!("{:?}", s.duration),
            s.description.as_deref().unwrap_or("")
        );
    }
    Ok(exit::OK)
}

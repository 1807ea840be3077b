//! `cliffload suite quick|full|stress`: the flags become a [`SuiteSpec`],
//! the library runs every scenario and writes the summary, and this prints
//! it and maps it to an exit code.

use std::sync::Arc;

use anyhow::Result;
use cliffload_engine::CancellationToken;
use cliffload_run::progress::Printer;
use cliffload_run::run::{Session, scenario_file};
use cliffload_run::suite::SuiteSpec;
use cliffload_run::{Observer, exit};
use cliffload_scenario::parse_duration;

use crate::args::{ColorChoice, SuiteArgs};

/// `cliffload suite MODE`: every scenario checked, then run in turn against
/// one deployment, then one summary; exit 0 only when every scenario passed.
pub async fn suite(args: SuiteArgs, color: ColorChoice, cancel: CancellationToken) -> Result<u8> {
    let file = scenario_file(args.target.config.as_deref())?;
    let cooldown =
        parse_duration(&args.cooldown).map_err(|e| anyhow::anyhow!("--cooldown: {e}"))?;
    args.target.check()?;
    let target = args.target.connect.access(&file.settings)?;
    let mut printer = Printer::new(args.quiet);
    let title = format!("suite {}", args.mode.name());
    let observers: Arc<dyn Observer> = Arc::new(
        cliffload_observe::Observers::start(&args.observe.config(), &title, &cancel, &mut printer)
            .await?,
    );
    let abort = cliffload_run::signals::abort();
    let spec = SuiteSpec {
        mode: args.mode,
        file,
        deployment: args.target.deployment(target),
        cooldown,
        duration: args.duration.clone(),
        seed: args.seed,
        out: args.out.clone(),
        show: (!args.quiet).then(|| color.stderr_style()),
        history: args.history.spec(false)?,
    };
    let mut session = Session {
        printer: &mut printer,
        cancel: cancel.clone(),
        abort: abort.clone(),
        observer: observers.clone(),
    };
    let done = cliffload_run::suite::suite(spec, &mut session).await?;
    crate::out(&cliffload_report::suite::markdown(&done.summary));
    if !args.quiet {
        eprintln!(
            "suite summary: {} (open {} in a browser)",
            done.dir.join("suite.md").display(),
            done.dir.join("index.html").display()
        );
    }
    observers.close(&cancel, &abort, &mut printer).await;
    Ok(exit::of_suite(&done.summary, cancel.is_cancelled()))
}

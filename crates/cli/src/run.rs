//! `cliffload run` and `cliffload compare`: the flags become a
//! [`RunSpec`], the library runs it, and this writes, prints and maps the
//! result to an exit code.

use std::sync::Arc;

use anyhow::{Context, Result};
use cliffload_engine::CancellationToken;
use cliffload_report::RunResult;
use cliffload_run::baseline::find_baseline;
use cliffload_run::distributed::DistributedSpec;
use cliffload_run::progress::Printer;
use cliffload_run::run::{Route, RunSpec, Session, check_writable, frameworks_for, scenario_file};
use cliffload_run::{Observer, exit};
use cliffload_scenario::{Overrides, parse_duration};

use crate::args::{ColorChoice, DistributedArgs, Format, RunArgs};

/// `cliffload run` (`compare: None`) and `cliffload compare` (`Some`: the
/// frameworks named, or all of them when the list is empty).
pub async fn run(
    args: RunArgs,
    color: ColorChoice,
    cancel: CancellationToken,
    compare: Option<Vec<String>>,
) -> Result<u8> {
    let spec = spec(&args, compare.as_deref())?;
    if let Some(h) = spec.history.as_ref().filter(|h| h.judge) {
        cliffload_run::history::check(h).await?;
    }
    let mut printer = Printer::new(args.quiet);
    let observers: Arc<dyn Observer> = Arc::new(
        cliffload_observe::Observers::start(
            &args.observe.config(),
            &spec.scenario.name,
            &cancel,
            &mut printer,
        )
        .await?,
    );
    let abort = cliffload_run::signals::abort();
    let mut session = Session {
        printer: &mut printer,
        cancel: cancel.clone(),
        abort: abort.clone(),
        observer: observers.clone(),
    };
    let result = cliffload_run::run::run(spec, &mut session).await?;
    report(&args, &result, color.stdout_style())?;
    observers.close(&cancel, &abort, &mut printer).await;
    Ok(exit::of_result(&result))
}

/// The run the flags ask for: the scenario with their overrides, checked
/// before anything starts (a bad baseline, an unwritable --out, a bad
/// login are usage errors, not lost results).
fn spec(args: &RunArgs, compare: Option<&[String]>) -> Result<RunSpec> {
    let file = scenario_file(args.target.config.as_deref())?;
    let mut scenario = file.get(&args.scenario)?.clone();
    scenario
        .apply(&Overrides {
            duration: args.duration.as_deref(),
            users: args.users,
            spawn_rate: args.spawn_rate,
            seed: args.seed,
            requests: args.requests,
            rate: args.rate,
            preflight: args.preflight.map(Into::into),
        })
        .map_err(anyhow::Error::msg)?;
    let settings = file.settings;
    // `--baseline history` is the history's business, not a file's.
    let judge = args.baseline.as_deref() == Some(std::path::Path::new("history"));
    let explicit = args.baseline.as_deref().filter(|_| !judge);
    let baseline = find_baseline(&scenario.name, explicit, &settings)?;
    let history = args.history.spec(judge)?;
    // --nats-url, else the file's environment.nats_url, else our own server.
    let target = args.target.connect.access(&settings)?;
    args.target.check()?;
    if let Some(dir) = &args.out {
        check_writable(dir)?;
    }
    let route = match (&args.celery_url, &args.dist.distributed) {
        (Some(url), _) => Route::Celery {
            url: url.clone(),
            queue: args.celery_queue.clone(),
        },
        (None, Some(workers)) => Route::Distributed(distributed(&args.dist, *workers)?),
        (None, None) => Route::Nats,
    };
    let frameworks = frameworks_for(&settings, &scenario.name, compare)?;
    Ok(RunSpec {
        scenario,
        settings,
        baseline,
        deployment: args.target.deployment(target),
        route,
        frameworks,
        history,
    })
}

/// `--distributed N` and its companions.
fn distributed(dist: &DistributedArgs, workers: u32) -> Result<DistributedSpec> {
    Ok(DistributedSpec {
        workers,
        control_url: dist.control_url.clone(),
        allow_worker_loss: dist.allow_worker_loss,
        wait: parse_duration(&dist.wait_workers)
            .map_err(|e| anyhow::anyhow!("--wait-workers: {e}"))?,
        token: dist.token.token()?,
        insecure_no_token: dist.token.insecure_no_token,
    })
}

/// Writes the files, then prints: results are on disk before anything else can fail.
fn report(args: &RunArgs, result: &RunResult, style: cliffload_report::text::Style) -> Result<()> {
    if let Some(dir) = &args.out {
        cliffload_report::write_all(dir, result)
            .with_context(|| format!("cannot write the results into {}", dir.display()))?;
    }
    match args.format {
        Format::Json => crate::out(&format!("{}\n", result.to_json())),
        Format::Text => crate::out(&cliffload_report::text::render_styled(result, style)),
    }
    if let Some(dir) = args.out.as_ref().filter(|_| !args.quiet) {
        eprintln!("results written to {}", dir.display());
    }
    Ok(())
}

//! `cliffload run`: scenario → (embedded services) → preflight → load →
//! result → verdict → exit code.

use std::num::NonZeroU32;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use cliffload_engine::CancellationToken;
use cliffload_nats::NatsAccess;
use cliffload_report::RunResult;
use cliffload_scenario::{ArrivalRate, Scenario, ScenarioFile, Settings, catalog, parse_duration};

use crate::args::{ColorChoice, Format, Latency, RunArgs};
use crate::baseline::{compare_with_baseline, find_baseline};
use crate::embedded::{Embedded, ServeConfig};
use crate::exit;
use crate::load::{Monitoring, run_scenario};
use crate::progress::Printer;

/// `cliffload run` (`compare: None`) and `cliffload compare` (`Some`: the
/// frameworks named, or all of them when the list is empty).
pub async fn run(
    args: RunArgs,
    color: ColorChoice,
    cancel: CancellationToken,
    compare: Option<Vec<String>>,
) -> Result<u8> {
    let (scenario, settings) = resolve(&args)?;
    check_memory(&scenario, available_memory())?;
    // Read before the load: a bad baseline is a usage error, not lost results.
    let baseline = find_baseline(&scenario.name, args.baseline.as_deref(), &settings)?;
    // --nats-url, else the file's environment.nats_url, else our own server.
    let target = args.target.connect.access(&settings)?;
    args.target.check()?;
    if let Some(dir) = &args.out {
        check_writable(dir)?;
    }
    let mut printer = Printer::new(args.quiet);
    // Starting the server and the services can take seconds: Ctrl-C ends it.
    let (embedded, access) = if args.celery_url.is_some() {
        // Over Celery nothing runs on NATS: no server or services to start.
        (None, NatsAccess::default())
    } else {
        tokio::select! {
            biased;
            () = cancel.cancelled() => return Err(crate::Interrupted.into()),
            started = connect_or_embed(target, args.target.latency, &settings) => started?,
        }
    };
    if embedded.is_some() {
        printer.note(&format!(
            "started nats-server on {} with the reference services (test, order_processing_service)",
            access.display()
        ));
    }
    let mut monitoring = Monitoring::new(embedded.as_ref(), &args.target.monitor_pid, &settings);
    let observers = Arc::new(
        crate::observe::Observers::start(&args.observe, &scenario.name, &cancel, &mut printer)
            .await?,
    );
    monitoring.observers = Some(observers.clone());
    let outcome = if let Some(url) = &args.celery_url {
        printer.note(&format!(
            "over Celery: broker {url}, queue {}",
            args.celery_queue
        ));
        let plan = crate::load::plan_of(&scenario)?;
        crate::load::load(
            args.target.workers,
            &scenario,
            &plan,
            crate::load::Via::Celery(url, &args.celery_queue),
            false,
            &monitoring,
            &mut printer,
            cancel.clone(),
        )
        .await
    } else if args.dist.distributed.is_some() {
        crate::distributed::run_distributed(
            &scenario,
            &access,
            &args.dist,
            embedded.is_some(),
            &monitoring,
            &mut printer,
            cancel.clone(),
        )
        .await
    } else {
        run_scenario(
            args.target.workers,
            &scenario,
            &access,
            embedded.as_ref(),
            args.target.http_url.as_deref(),
            &monitoring,
            &mut printer,
            cancel.clone(),
        )
        .await
    };
    if let Some(e) = embedded {
        e.stop().await;
    }
    let mut result = outcome?;
    let chosen = frameworks_for(&settings, &scenario.name, compare.as_deref())?;
    let single = args.celery_url.is_none() && args.dist.distributed.is_none();
    if single && !chosen.is_empty() && !result.interrupted {
        crate::frameworks::compare(
            &mut result,
            &scenario,
            &chosen,
            args.target.workers,
            &mut printer,
            &cancel,
        )
        .await?;
        result.interrupted |= cancel.is_cancelled();
    }
    compare_with_baseline(&mut result, baseline, &settings);
    observers.finish(&mut result).await;
    report(&args, &result, color.stdout_style())?;
    observers.close(&cancel, &mut printer).await;
    Ok(if result.interrupted {
        exit::INTERRUPTED
    } else {
        exit::of(result.verdict.status())
    })
}

/// The frameworks to compare `scenario` with: for `run`, those whose
/// `scenarios` list it; for `compare`, those named (all when none is).
fn frameworks_for<'a>(
    settings: &'a Settings,
    scenario: &str,
    compare: Option<&[String]>,
) -> Result<Vec<&'a cliffload_scenario::Framework>> {
    let all = &settings.frameworks;
    Ok(match compare {
        None => all
            .iter()
            .filter(|f| f.scenarios.iter().any(|s| s == scenario))
            .collect(),
        Some([]) => all.iter().collect(),
        Some(names) => names
            .iter()
            .map(|n| {
                all.iter().find(|f| &f.name == n).ok_or_else(|| {
                    let known: Vec<&str> = all.iter().map(|f| f.name.as_str()).collect();
                    anyhow::anyhow!(
                        "--framework {n}: not in comparison_frameworks (there: {})",
                        known.join(", ")
                    )
                })
            })
            .collect::<Result<_>>()?,
    })
}

/// The deployment to load: `target`, or our own nats-server with the
/// reference services (then returned too, to be stopped after the load).
pub async fn connect_or_embed(
    target: Option<NatsAccess>,
    latency: Option<Latency>,
    settings: &Settings,
) -> Result<(Option<Embedded>, NatsAccess)> {
    Ok(match target {
        Some(access) => (None, access),
        None => {
            let e = start_embedded(latency, settings).await?;
            let access = e.access().clone();
            (Some(e), access)
        }
    })
}

/// The embedded nats-server and reference services, with the latency of
/// `--latency`, else the file's `environment.reference_service_latency`.
async fn start_embedded(latency: Option<Latency>, settings: &Settings) -> Result<Embedded> {
    let latency = if latency == Some(Latency::None)
        || (latency.is_none() && settings.reference_latency_none)
    {
        Latency::None
    } else {
        Latency::Realistic
    };
    Embedded::spawn(&ServeConfig {
        latency,
        ..ServeConfig::default()
    })
    .await
}

/// The scenario file of `--config`, else the built-in catalog.
pub fn scenario_file(config: Option<&Path>) -> Result<ScenarioFile> {
    Ok(match config {
        Some(path) => ScenarioFile::load(path)?,
        None => catalog::builtin(),
    })
}

/// The scenario named on the command line, with the flags' overrides.
fn resolve(args: &RunArgs) -> Result<(Scenario, Settings)> {
    let file = scenario_file(args.target.config.as_deref())?;
    let mut s = file.get(&args.scenario)?.clone();
    apply_overrides(
        &mut s,
        &Overrides {
            duration: args.duration.as_deref(),
            users: args.users,
            spawn_rate: args.spawn_rate,
            seed: args.seed,
        },
    )?;
    match args.requests {
        Some(0) => bail!("--requests: must be ≥ 1, got 0"),
        Some(n) => s.max_requests = Some(n),
        None => {}
    }
    if let Some(p) = args.preflight {
        s.preflight = p.into();
    }
    if let Some(rate) = args.rate {
        cliffload_scenario::check_rate(rate).map_err(|m| anyhow::anyhow!("--rate: {m}"))?;
        let max_in_flight = s
            .arrival
            .map_or(cliffload_scenario::DEFAULT_MAX_IN_FLIGHT, |a| {
                a.max_in_flight
            });
        s.arrival = Some(ArrivalRate {
            rate,
            ramp_to: None,
            max_in_flight,
        });
    }
    Ok((s, file.settings))
}

/// Command-line overrides of a scenario's load.
#[derive(Debug, Default, Clone, Copy)]
pub struct Overrides<'a> {
    pub duration: Option<&'a str>,
    pub users: Option<u32>,
    pub spawn_rate: Option<f64>,
    pub seed: Option<u64>,
}

/// Lays `o` over `s`, checking each value.
pub fn apply_overrides(s: &mut Scenario, o: &Overrides<'_>) -> Result<()> {
    if let Some(d) = o.duration {
        s.duration = parse_duration(d).map_err(|e| anyhow::anyhow!("--duration: {e}"))?;
        if s.duration.is_zero() {
            bail!("--duration: must be > 0");
        }
    }
    if let Some(u) = o.users {
        s.users = NonZeroU32::new(u).context("--users: must be ≥ 1, got 0")?;
    }
    if let Some(r) = o.spawn_rate {
        if !(r.is_finite() && r > 0.0) {
            bail!("--spawn-rate: must be > 0 users/s, got {r}");
        }
        s.spawn_rate = r;
    }
    if let Some(seed) = o.seed {
        s.seed = seed;
    }
    Ok(())
}

pub fn check_writable(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("--out: cannot create {}", dir.display()))?;
    let probe = dir.join(".cliffload-write-test");
    std::fs::write(&probe, b"")
        .with_context(|| format!("--out: cannot write into {}", dir.display()))?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

/// Writes the files, then prints: results are on disk before anything else can fail.
fn report(args: &RunArgs, result: &RunResult, style: cliffload_report::text::Style) -> Result<()> {
    let json = result.to_json();
    let text = cliffload_report::text::render_styled(result, style);
    if let Some(dir) = &args.out {
        cliffload_report::write_all(dir, result)
            .with_context(|| format!("cannot write the results into {}", dir.display()))?;
    }
    match args.format {
        Format::Json => println!("{json}"),
        Format::Text => print!("{text}"),
    }
    if let Some(dir) = args.out.as_ref().filter(|_| !args.quiet) {
        eprintln!("results written to {}", dir.display());
    }
    Ok(())
}

/// Memory one running virtual user takes that never waits, so always has
/// a request in flight (measured: 2.8 KiB, release, `scripts/bench` part 3).
const BUSY_USER_BYTES: u64 = 3 * 1024;
/// The same for a user with think time or pacing, whose request lives in a
/// box only while in flight (measured: 0.87 KiB).
const THINKING_USER_BYTES: u64 = 1024;

/// Memory one task takes (measured, issue 26: 5,000 tasks with 8 users
/// took 2.57 GB; release build, 8 users, peak RSS: 1 task 19 MB, 1,000
/// tasks 543 MB, 2,000 tasks 1,079 MB, and 500 tasks the same over 3, 8
/// and 16 s). A task keeps an HDR
/// histogram (1 µs–60 s at 3 digits, 136 KiB) per outcome it sees, in each
/// worker's table of the second, in the table in flight to the merger, and
/// in the run's totals and last second: about four, whatever the users.
const TASK_BYTES: u64 = 512 * 1024;

/// What each user of `s` takes: the heavier figure if any class never waits.
fn bytes_per_user(s: &Scenario) -> u64 {
    if s.classes.iter().any(|c| c.wait_time.is_none()) {
        BUSY_USER_BYTES
    } else {
        THINKING_USER_BYTES
    }
}

/// The most users that run at once: the spawn rate over the duration caps
/// them, as do the stages.
fn peak_users(s: &Scenario) -> u64 {
    if s.arrival.is_some() {
        return 0;
    }
    let planned = s.planned_peak_users();
    let spawnable = (s.spawn_rate * s.duration.as_secs_f64()).ceil();
    u64::from(planned).min(
        if spawnable.is_finite() {
            spawnable as u64
        } else {
            u64::MAX
        }
        .max(1),
    )
}

/// `MemAvailable` of /proc/meminfo, in bytes (`None` where it cannot be read).
fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Refuses, before anything starts, a plan whose users and tasks cannot
/// fit in memory.
fn check_memory(s: &Scenario, available: Option<u64>) -> Result<()> {
    let Some(available) = available else {
        return Ok(());
    };
    let gib = |bytes: u64| bytes as f64 / f64::from(1u32 << 30);
    let users = peak_users(s);
    let each = bytes_per_user(s);
    let for_users = users.saturating_mul(each);
    let tasks = s.tasks.len() as u64;
    let for_tasks = tasks.saturating_mul(TASK_BYTES);
    let needed = for_users.saturating_add(for_tasks);
    if needed <= available / 10 * 8 {
        return Ok(());
    }
    if for_tasks >= for_users {
        bail!(
            "{tasks} tasks need about {:.1} GiB ({} KiB each, for their latency histograms) and {users} users {:.1} GiB more, but {:.1} GiB of memory is available: split the tasks over several scenarios (a suite runs them in turn), or run where there is more memory",
            gib(for_tasks),
            TASK_BYTES / 1024,
            gib(for_users),
            gib(available)
        );
    }
    bail!(
        "{users} users running at once need about {:.1} GiB ({} KiB each), but {:.1} GiB of memory is available: lower --users or --spawn-rate, or use the open model (--rate) which holds only the requests in flight",
        gib(needed),
        each / 1024,
        gib(available)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(users: u32, spawn_rate: f64, secs: u64) -> Scenario {
        let mut s = catalog::builtin().get("ping").expect("ping").clone();
        s.users = NonZeroU32::new(users).expect("users");
        s.spawn_rate = spawn_rate;
        s.duration = std::time::Duration::from_secs(secs);
        s
    }

    #[test]
    fn users_that_cannot_fit_in_memory_are_refused_with_the_figures() {
        let gib = 1u64 << 30;
        // 10 million users started at once: ~19 GiB, with 16 GiB available.
        let e = check_memory(&scenario(10_000_000, 1e9, 60), Some(16 * gib))
            .expect_err("refused")
            .to_string();
        assert!(e.contains("10000000 users") && e.contains("GiB"), "{e}");
        // The same users at 100/s for a minute: only 6000 ever run.
        assert_eq!(peak_users(&scenario(10_000_000, 100.0, 60)), 6000);
        assert!(check_memory(&scenario(10_000_000, 100.0, 60), Some(16 * gib)).is_ok());
        assert!(check_memory(&scenario(4, 4.0, 10), Some(gib)).is_ok());
        assert!(check_memory(&scenario(10_000_000, 1e9, 60), None).is_ok());
        // Users that think take a third as much: 10 million fit in 16 GiB.
        let mut thinking = scenario(10_000_000, 1e9, 60);
        for c in &mut thinking.classes {
            c.wait_time = cliffload_scenario::WaitTime::Between(
                std::time::Duration::from_secs(1),
                std::time::Duration::from_secs(2),
            );
        }
        assert_eq!(bytes_per_user(&thinking), THINKING_USER_BYTES);
        assert!(check_memory(&thinking, Some(16 * gib)).is_ok());
    }

    #[test]
    fn tasks_that_cannot_fit_in_memory_are_refused_with_the_figures() {
        // Issue 26: 16,000 tasks (what a scenario file can hold) with 8 users
        // take about 8 GiB, whatever the users.
        let gib = 1u64 << 30;
        let mut many = scenario(8, 8.0, 10);
        let task = many.tasks[0].clone();
        many.tasks = vec![task; 16_000];
        let e = check_memory(&many, Some(4 * gib))
            .expect_err("refused")
            .to_string();
        assert!(
            e.contains("16000 tasks need about 7.8 GiB (512 KiB each")
                && e.contains("4.0 GiB of memory is available")
                && e.contains("split the tasks"),
            "{e}"
        );
        assert!(check_memory(&many, Some(16 * gib)).is_ok());
        many.tasks.truncate(1_000);
        assert!(check_memory(&many, Some(4 * gib)).is_ok());
    }
}

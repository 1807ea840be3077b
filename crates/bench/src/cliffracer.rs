//! The reference service against the real Cliffracer 1.0.0 on the same work:
//! `process_order` with the same pool of orders, no simulated I/O on either
//! side (`cliffload serve --latency none`, `CLIFFLOAD_LATENCY=none`), each
//! on its own nats-server (both serve the same subject), the same bare
//! async-nats loop driving them in turn, round after round.
//!
//! The Python peer is `examples/frameworks/cliffracer_peer.py` run by a
//! Python that imports `cliffracer` (`--python`, or the venv that
//! `scripts/frameworks up` makes in `.frameworks/`); without one the
//! comparison says `skipped:` and measures ours alone.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use cliffload_nats::NatsServer;

use crate::order::{Reaped, blast, order_pool, start_service, wait_for_service};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Requests in flight (comma-separated).
    #[arg(long, default_value = "1,8,32", value_delimiter = ',')]
    concurrency: Vec<usize>,
    /// Rounds per concurrency (each measures both services, order alternating).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Seconds of load per service per round.
    #[arg(long, default_value_t = 4.0)]
    seconds: f64,
    /// Items per order.
    #[arg(long, default_value_t = 3)]
    items: usize,
    /// Orders in the pool (sent round-robin to both).
    #[arg(long, default_value_t = 500)]
    pool: usize,
    /// Python with cliffracer 1.0.0 installed (default: .frameworks/venv/bin/python
    /// of the current directory or of the repository, as `scripts/frameworks up` makes it).
    #[arg(long)]
    python: Option<PathBuf>,
    /// The Cliffracer peer (default: examples/frameworks/cliffracer_peer.py).
    #[arg(long)]
    peer: Option<PathBuf>,
}

/// One service under load: the client that drives it and its process (for CPU).
struct Contender {
    client: async_nats::Client,
    pid: u32,
}

/// One measurement: throughput, the service's CPU per request, accepted share, p50.
struct Figures {
    rps: f64,
    cpu_us: f64,
    accepted: f64,
    p50_us: u64,
}

pub fn run(args: Args) -> Result<()> {
    let cliffload = crate::order::cliffload_binary()?;
    let ours_server = NatsServer::start_via(cliffload_nats::setpriv_launcher())?;
    let ours = start_service(&cliffload, ours_server.url())?;
    let logs = tempfile::tempdir()?;
    let peer = match python_and_peer(&args) {
        Ok((python, script, version)) => {
            let server = NatsServer::start_via(cliffload_nats::setpriv_launcher())?;
            let child = start_peer(&python, &script, server.url(), logs.path())?;
            eprintln!(
                "Cliffracer {version}: {} {}",
                python.display(),
                script.display()
            );
            Some((server, child))
        }
        Err(why) => {
            println!("skipped: Cliffracer 1.0.0 peer: {why:#}");
            None
        }
    };
    let bodies = order_pool(args.items, args.pool)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let client = async_nats::connect(ours_server.url()).await?;
        wait_for_service(&client).await?;
        let ours = Contender {
            client,
            pid: ours.0.id(),
        };
        let theirs = match &peer {
            Some((server, child)) => {
                let client = async_nats::connect(server.url()).await?;
                wait_for_peer(&client, logs.path()).await?;
                Some(Contender {
                    client,
                    pid: child.0.id(),
                })
            }
            None => None,
        };
        eprintln!(
            "process_order, {} items ({} bytes on average), {} round(s) × {} s per service; no simulated I/O",
            args.items,
            bodies.iter().map(Bytes::len).sum::<usize>() / bodies.len().max(1),
            args.rounds,
            args.seconds
        );
        // Warm-up (caches, pydantic's validators, nats-py's buffers), not counted.
        measure(&ours, &bodies, 8, 1.0).await;
        measure_opt(theirs.as_ref(), &bodies, 8, 1.0).await;
        for &c in &args.concurrency {
            at_concurrency(&args, &bodies, c, &ours, theirs.as_ref()).await;
        }
        anyhow::Ok(())
    })?;
    drop(peer);
    Ok(())
}

/// The rounds at `c` in flight: one line each, then the medians.
async fn at_concurrency(
    args: &Args,
    bodies: &[Bytes],
    c: usize,
    ours: &Contender,
    theirs: Option<&Contender>,
) {
    println!("\nin flight {c}");
    println!(
        "{:>5}  {:>10} {:>10} {:>7}  {:>10} {:>10}  {:>9} {:>9}  {:>8} {:>8}",
        "round",
        "ours r/s",
        "Cl r/s",
        "ratio",
        "ours µs/r",
        "Cl µs/r",
        "ours ok",
        "Cl ok",
        "ours p50",
        "Cl p50"
    );
    let (mut ours_rps, mut their_rps, mut ratio) = (vec![], vec![], vec![]);
    let (mut ours_cpu, mut their_cpu) = (vec![], vec![]);
    for round in 0..args.rounds {
        // Alternate who goes first, so that neither always runs on a cold
        // or a warm machine.
        let (o, t) = if round % 2 == 0 {
            let o = measure(ours, bodies, c, args.seconds).await;
            (o, measure_opt(theirs, bodies, c, args.seconds).await)
        } else {
            let t = measure_opt(theirs, bodies, c, args.seconds).await;
            (measure(ours, bodies, c, args.seconds).await, t)
        };
        ours_rps.push(o.rps);
        ours_cpu.push(o.cpu_us);
        if let Some(t) = &t {
            their_rps.push(t.rps);
            their_cpu.push(t.cpu_us);
            ratio.push(o.rps / t.rps.max(1e-9));
        }
        let cell = |f: &dyn Fn(&Figures) -> String| t.as_ref().map_or("—".to_owned(), f);
        println!(
            "{:>5}  {:>10.0} {:>10} {:>7}  {:>10.1} {:>10}  {:>8.1}% {:>9}  {:>6}µs {:>8}",
            round + 1,
            o.rps,
            cell(&|t| format!("{:.0}", t.rps)),
            cell(&|t| format!("{:.2}", o.rps / t.rps.max(1e-9))),
            o.cpu_us,
            cell(&|t| format!("{:.1}", t.cpu_us)),
            o.accepted * 100.0,
            cell(&|t| format!("{:.1}%", t.accepted * 100.0)),
            o.p50_us,
            cell(&|t| format!("{}µs", t.p50_us)),
        );
    }
    let summary = |v: &mut Vec<f64>, digits: usize| {
        if v.is_empty() {
            "—".to_owned()
        } else {
            spread(v, digits)
        }
    };
    println!(
        "median [min–max]: ours {} req/s, Cliffracer {} req/s, ours/Cliffracer {}; service CPU per request: ours {} µs, Cliffracer {} µs",
        summary(&mut ours_rps, 0),
        summary(&mut their_rps, 0),
        summary(&mut ratio, 2),
        summary(&mut ours_cpu, 1),
        summary(&mut their_cpu, 1),
    );
}

fn spread(v: &mut [f64], digits: usize) -> String {
    v.sort_by(f64::total_cmp);
    let median = if v.len() % 2 == 1 {
        v[v.len() / 2]
    } else {
        (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
    };
    format!(
        "{median:.digits$} [{:.digits$}–{:.digits$}]",
        v[0],
        v[v.len() - 1]
    )
}

async fn measure_opt(
    c: Option<&Contender>,
    bodies: &[Bytes],
    concurrency: usize,
    seconds: f64,
) -> Option<Figures> {
    match c {
        Some(c) => Some(measure(c, bodies, concurrency, seconds).await),
        None => None,
    }
}

/// `process_order` at `concurrency` in flight for `seconds`, with the CPU
/// the service's process spent meanwhile.
async fn measure(c: &Contender, bodies: &[Bytes], concurrency: usize, seconds: f64) -> Figures {
    let cpu0 = process_cpu(c.pid);
    let t0 = Instant::now();
    let (n, ok, _refused, p50_us) =
        blast(&c.client, "process_order", bodies, concurrency, seconds).await;
    let wall = t0.elapsed().as_secs_f64();
    let cpu = process_cpu(c.pid).saturating_sub(cpu0);
    Figures {
        rps: n as f64 / wall,
        cpu_us: cpu.as_secs_f64() * 1e6 / n.max(1) as f64,
        accepted: ok as f64 / n.max(1) as f64,
        p50_us,
    }
}

/// On-CPU time of every thread of process `pid` (`/proc/PID/task/*/schedstat`);
/// zero where /proc is not there.
fn process_cpu(pid: u32) -> Duration {
    crate::bare::threads_cpu(&format!("/proc/{pid}/task"))
}

/// `rel` under the working directory, else under this checkout, if it exists.
fn in_checkout(rel: &str) -> Option<PathBuf> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    [Path::new("."), repo.as_path()]
        .iter()
        .map(|d| d.join(rel))
        .find(|p| p.exists())
}

/// The Python to run the peer with, the peer script, and cliffracer's
/// version; an error saying what is missing otherwise.
fn python_and_peer(args: &Args) -> Result<(PathBuf, PathBuf, String)> {
    let python = match &args.python {
        Some(p) => p.clone(),
        None => in_checkout(".frameworks/venv/bin/python").context(
            "no --python given and no .frameworks/venv (make one with scripts/frameworks up)",
        )?,
    };
    let script = match &args.peer {
        Some(p) => p.clone(),
        None => in_checkout("examples/frameworks/cliffracer_peer.py")
            .context("examples/frameworks/cliffracer_peer.py not found: pass --peer")?,
    };
    let out = Command::new(&python)
        .args([
            "-c",
            "import cliffracer, importlib.metadata as m; print(m.version('cliffracer'))",
        ])
        .output()
        .with_context(|| format!("cannot run {}", python.display()))?;
    if !out.status.success() {
        bail!(
            "{} cannot import cliffracer: {}",
            python.display(),
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        );
    }
    let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    Ok((python, script, version))
}

/// The Cliffracer peer on `url`, no simulated I/O, its output in `logs`.
fn start_peer(python: &Path, script: &Path, url: &str, logs: &Path) -> Result<Reaped> {
    let log = std::fs::File::create(logs.join("cliffracer.log"))?;
    let child = Command::new(python)
        .arg(script)
        .arg(url)
        .env("CLIFFLOAD_LATENCY", "none")
        .env("PEER_LOG_LEVEL", "WARNING")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("cannot start {}", script.display()))?;
    Ok(Reaped(child))
}

/// Waits until the peer answers `get_service_metrics` (Cliffracer has no
/// `$SRV`), at most 30 s; its log in the error otherwise.
async fn wait_for_peer(client: &async_nats::Client, logs: &Path) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let subject = "order_processing_service.rpc.get_service_metrics";
    loop {
        let call = client.request(subject, Bytes::from_static(b"{}"));
        if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(1), call).await {
            return Ok(());
        }
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(logs.join("cliffracer.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(15).collect();
            bail!(
                "the Cliffracer peer did not answer within 30 s; its log:\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

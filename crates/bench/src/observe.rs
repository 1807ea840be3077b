//! `cliffload-bench observe`: what watching a run costs, the CPU per request
//! without and with `--dashboard --prometheus --otlp`.
//!
//! Starts nats-server and the reference services (`cliffload serve
//! --latency none`), an OTLP/HTTP sink (answers 200 to every push) and, for
//! the watched runs, a reader of the dashboard's event stream (as an open
//! page). Then runs `ping` at --rate for --seconds, plain and watched in
//! turn, --rounds times, and prints the CPU per request of the whole
//! cliffload process (its children's times from /proc/self/stat: worker
//! threads, the observers, everything) and of its generator threads
//! (result.json), with the ratio of the medians. All on 127.0.0.1.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use cliffload_nats::NatsServer;
use serde_json::Value;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Requests per second (the open model).
    #[arg(long, default_value_t = 10_000.0)]
    rate: f64,
    /// Seconds of load per run.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Rounds, each a plain and a watched run.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// The cliffload binary (default: next to this one).
    #[arg(long)]
    cliffload: Option<PathBuf>,
}

/// One run's CPU per request: the whole process's, and its generator threads'.
struct Cost {
    process_us: f64,
    threads_us: f64,
}

pub fn run(args: Args) -> Result<()> {
    let exe = crate::compare::cliffload_at(args.cliffload.as_deref())?;
    let server = NatsServer::start_via(cliffload_nats::setpriv_launcher())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let pushes = Arc::new(AtomicU64::new(0));
    let sink = runtime.block_on(otlp_sink(pushes.clone()))?;
    let mut services = Command::new(&exe)
        .args(["serve", "--nats-url", server.url(), "--latency", "none"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start `cliffload serve`")?;
    std::thread::sleep(Duration::from_secs(1));
    let common = crate::compare::ping_at_rate(server.url(), args.rate, args.seconds);
    let rounds = (0..args.rounds).map(|_| {
        let plain = measure(&exe, &common, None, &runtime)?;
        let dashboard = free_port()?;
        let mut watched = common.clone();
        watched.extend([
            format!("--dashboard=127.0.0.1:{dashboard}"),
            "--prometheus".to_owned(),
            "127.0.0.1:0".to_owned(),
            // Nobody scrapes here: no wait for a final scrape.
            "--prometheus-linger".to_owned(),
            "0s".to_owned(),
            "--otlp".to_owned(),
            format!("http://{sink}"),
        ]);
        Ok((plain, measure(&exe, &watched, Some(dashboard), &runtime)?))
    });
    let rounds: Result<Vec<(Cost, Cost)>> = rounds.collect();
    let _ = services.kill();
    let _ = services.wait();
    print(&rounds?, &args, pushes.load(Ordering::Relaxed));
    Ok(())
}

/// An OTLP/HTTP receiver that keeps nothing, counting the pushes; its address.
async fn otlp_sink(pushes: Arc<AtomicU64>) -> Result<std::net::SocketAddr> {
    let app = axum::Router::new().fallback(move || {
        let pushes = pushes.clone();
        async move {
            pushes.fetch_add(1, Ordering::Relaxed);
            axum::http::StatusCode::OK
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}

/// A free loopback port (bound, then let go).
fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// CPU seconds of this process's waited-for children (`cutime + cstime`
/// of /proc/self/stat, in the kernel's 100 ticks a second).
fn children_cpu() -> Result<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // After the command name, which may hold spaces, in parentheses.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 16 and 17 of the line; 14 and 15 after the name and state.
    let ticks = |i: usize| -> Result<f64> {
        Ok(fields
            .get(i)
            .context("/proc/self/stat is too short")?
            .parse::<f64>()?)
    };
    Ok((ticks(13)? + ticks(14)?) / 100.0)
}

/// Runs `cliffload ARGS` (reading the dashboard's events meanwhile when
/// there is one) and its CPU per request.
fn measure(
    exe: &Path,
    cmd: &[String],
    dashboard: Option<u16>,
    runtime: &tokio::runtime::Runtime,
) -> Result<Cost> {
    let before = children_cpu()?;
    let child = Command::new(exe)
        .args(cmd)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot run cliffload")?;
    if let Some(port) = dashboard {
        runtime.spawn(read_events(format!("http://127.0.0.1:{port}/events")));
    }
    let out = child.wait_with_output()?;
    let cpu = children_cpu()? - before;
    // 0, 1 or 3: a verdict (the ping's speed claims may not hold here).
    if !matches!(out.status.code(), Some(0 | 1 | 3)) {
        bail!("cliffload {}: {}", cmd.join(" "), out.status);
    }
    let r: Value = serde_json::from_slice(&out.stdout).context("cliffload's result")?;
    let requests = r["summary"]["requests"].as_f64().unwrap_or(0.0).max(1.0);
    Ok(Cost {
        process_us: cpu * 1e6 / requests,
        threads_us: r["generator"]["cpu_us_per_request"].as_f64().unwrap_or(0.0),
    })
}

/// Reads the dashboard's event stream to its end, as an open page does
/// (tries for a while: the page is up a moment after the process starts).
async fn read_events(url: String) {
    for _ in 0..100 {
        if let Ok(mut response) = reqwest::get(&url).await {
            while let Ok(Some(_)) = response.chunk().await {}
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn print(rounds: &[(Cost, Cost)], args: &Args, pushes: u64) {
    println!(
        "ping at {:.0} req/s for {} s (open model), {} interleaved rounds, {} cores; OTLP pushes received: {pushes}",
        args.rate,
        args.seconds,
        args.rounds,
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    println!(
        "{:38} {:>19} {:>25}",
        "", "process CPU µs/req", "generator threads µs/req"
    );
    let each = |pick: &dyn Fn(&(Cost, Cost)) -> f64| {
        rounds
            .iter()
            .map(|r| format!("{:.2}", pick(r)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    println!(
        "{:38} {:>19} {:>25}",
        "plain",
        each(&|r| r.0.process_us),
        each(&|r| r.0.threads_us)
    );
    println!(
        "{:38} {:>19} {:>25}",
        "--dashboard --prometheus --otlp",
        each(&|r| r.1.process_us),
        each(&|r| r.1.threads_us)
    );
    let med = |pick: &dyn Fn(&(Cost, Cost)) -> f64| median(rounds.iter().map(pick).collect());
    println!(
        "{:38} {:19.3} {:25.3}",
        "ratio of the medians (watched / plain)",
        med(&|r| r.1.process_us) / med(&|r| r.0.process_us),
        med(&|r| r.1.threads_us) / med(&|r| r.0.threads_us)
    );
}

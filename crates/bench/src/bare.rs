//! The reference: `concurrency` tasks, each `request().await` (or, with
//! `--publish`, `publish().await`) in a loop, on one current-thread runtime
//! with one connection (or, `--flavor multi`, a two-worker multi-thread
//! runtime: what the runtime choice costs). Nothing else.

use std::time::{Duration, Instant};

use anyhow::Result;
use async_nats::{Client, Subject};
use bytes::Bytes;
use cliffload_metrics::LatencyHistogram;
use serde::Serialize;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// NATS server.
    #[arg(long)]
    url: String,
    /// Subject of the echo responder.
    #[arg(long, default_value = "bench.echo")]
    subject: String,
    /// Requests in flight.
    #[arg(long, default_value_t = 128)]
    concurrency: usize,
    /// Seconds of load.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Request body size in bytes.
    #[arg(long, default_value_t = 128)]
    payload: usize,
    /// Runtime: `current` (one thread) or `multi` (two worker threads).
    #[arg(long, value_enum, default_value_t = Flavor::Current)]
    flavor: Flavor,
    /// Publish (core NATS, no reply) instead of requesting; no latency is recorded.
    #[arg(long)]
    publish: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Flavor {
    Current,
    Multi,
}

/// On-CPU time of every thread of this process (`/proc/self/task/*/schedstat`).
fn process_cpu_time() -> Duration {
    threads_cpu("/proc/self/task")
}

/// On-CPU time of every thread listed in `task_dir` (`/proc/PID/task`);
/// zero where /proc is not there.
pub(crate) fn threads_cpu(task_dir: &str) -> Duration {
    let Ok(tasks) = std::fs::read_dir(task_dir) else {
        return Duration::ZERO;
    };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map(Duration::from_nanos)
        .sum()
}

/// One run's figures (also what `compare` reads back).
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct Figures {
    pub requests: u64,
    pub errors: u64,
    pub wall_s: f64,
    pub cpu_s: f64,
    pub p50_us: u64,
}

pub fn run(args: Args) -> Result<()> {
    let rt = match args.flavor {
        Flavor::Current => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?,
        Flavor::Multi => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?,
    };
    // The current-thread runtime runs everything on this thread; the
    // multi-thread one on its workers (and async-nats's connection task).
    let cpu_now = move || match args.flavor {
        Flavor::Current => cliffload_engine::thread_cpu_time().unwrap_or_default(),
        Flavor::Multi => process_cpu_time(),
    };
    let figures = rt.block_on(async {
        let client = async_nats::connect(&args.url).await?;
        let payload = bytes::Bytes::from(vec![b'x'; args.payload]);
        let subject = async_nats::Subject::from(args.subject.as_str());
        let cpu0 = cpu_now();
        let start = Instant::now();
        let deadline = start + Duration::from_secs_f64(args.seconds);
        let tasks: Vec<_> = (0..args.concurrency)
            .map(|_| {
                let (client, subject, payload) = (client.clone(), subject.clone(), payload.clone());
                if args.publish {
                    tokio::spawn(publish_loop(client, subject, payload, deadline))
                } else {
                    tokio::spawn(request_loop(client, subject, payload, deadline))
                }
            })
            .collect();
        let (mut requests, mut errors, mut hist) = (0, 0, LatencyHistogram::new());
        for t in tasks {
            let (ok, err, h) = t.await?;
            requests += ok;
            errors += err;
            hist.merge(&h);
        }
        // Published messages are counted once the connection took them, as
        // cliffload counts them; flushed here so that they all reach the server.
        if args.publish {
            client.flush().await?;
        }
        let wall_s = start.elapsed().as_secs_f64();
        let cpu_s = (cpu_now() - cpu0).as_secs_f64();
        anyhow::Ok(Figures {
            requests,
            errors,
            wall_s,
            cpu_s,
            p50_us: hist.quantile_us(0.5),
        })
    })?;
    println!("{}", serde_json::to_string(&figures)?);
    Ok(())
}

type Counts = (u64, u64, LatencyHistogram);

/// One task's requests until `deadline`: successes, errors, latencies.
async fn request_loop(
    client: Client,
    subject: Subject,
    payload: Bytes,
    deadline: Instant,
) -> Counts {
    let (mut ok, mut err, mut hist) = (0u64, 0u64, LatencyHistogram::new());
    while Instant::now() < deadline {
        let sent = Instant::now();
        match client.request(subject.clone(), payload.clone()).await {
            Ok(_) => {
                ok += 1;
                hist.record(sent.elapsed());
            }
            Err(_) => err += 1,
        }
    }
    (ok, err, hist)
}

/// One task's publishes until `deadline`: taken, refused, no latencies.
async fn publish_loop(
    client: Client,
    subject: Subject,
    payload: Bytes,
    deadline: Instant,
) -> Counts {
    let (mut ok, mut err) = (0u64, 0u64);
    while Instant::now() < deadline {
        match client.publish(subject.clone(), payload.clone()).await {
            Ok(()) => ok += 1,
            Err(_) => err += 1,
        }
    }
    (ok, err, LatencyHistogram::new())
}

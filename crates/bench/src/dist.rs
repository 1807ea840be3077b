//! `cliffload-bench dist`: the same total rate from one process and from N
//! worker processes, side by side: successful req/s, the generator's CPU per
//! request, latency, and the control traffic as a share of the data traffic
//! (bytes through the data server, from its `/varz`). Two nats-servers (data
//! and control), the reference services (`cliffload serve --latency none`),
//! all on 127.0.0.1, stopped at the end however it ends.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use cliffload_nats::NatsServer;
use serde_json::Value;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Requests per second in total (the open model).
    #[arg(long, default_value_t = 5000.0)]
    rate: f64,
    /// Seconds of load per run.
    #[arg(long, default_value_t = 15)]
    seconds: u64,
    /// Worker processes for the distributed run.
    #[arg(long, default_value_t = 3)]
    workers: usize,
    /// The cliffload binary (default: next to this one).
    #[arg(long)]
    cliffload: Option<PathBuf>,
}

/// A child process killed when the bench ends, however it ends.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One run's figures.
struct Row {
    label: String,
    rps: f64,
    cpu_us: f64,
    p50: u64,
    failed: f64,
    data_bytes: u64,
    control_bytes: u64,
    skew_ms: Option<f64>,
}

pub fn run(args: Args) -> Result<()> {
    let exe = crate::compare::cliffload_at(args.cliffload.as_deref())?;
    let data = NatsServer::start_via(cliffload_nats::setpriv_launcher())?;
    let control = NatsServer::start_via(cliffload_nats::setpriv_launcher())?;
    let logs = tempfile::tempdir()?;
    let _services = Reaped(
        Command::new(&exe)
            .args(["serve", "--nats-url", data.url(), "--latency", "none"])
            .stdout(Stdio::null())
            .stderr(log(logs.path(), "serve")?)
            .spawn()
            .context("cannot start `cliffload serve`")?,
    );
    // The services subscribe within a second; preflight would say if not.
    std::thread::sleep(Duration::from_secs(1));
    let common = crate::compare::ping_at_rate(data.url(), args.rate, args.seconds);
    let mut rows = vec![measure("1 process", &exe, &common, data.monitor_url())?];
    let mut workers = Vec::new();
    for k in 0..args.workers {
        workers.push(Reaped(
            Command::new(&exe)
                .args([
                    "worker",
                    "--nats-url",
                    control.url(),
                    "--target",
                    data.url(),
                ])
                .arg("--name")
                .arg(format!("w{k}"))
                .arg("--exit-after-run")
                .stdout(Stdio::null())
                .stderr(log(logs.path(), &format!("w{k}"))?)
                .spawn()
                .context("cannot start a `cliffload worker`")?,
        ));
    }
    let mut distributed = common.to_vec();
    distributed.extend([
        "--distributed".to_owned(),
        args.workers.to_string(),
        "--control-url".to_owned(),
        control.url().to_owned(),
    ]);
    let label = format!("{} workers", args.workers);
    rows.push(measure(&label, &exe, &distributed, data.monitor_url())?);
    print(&rows, &args);
    Ok(())
}

fn log(dir: &Path, name: &str) -> Result<std::fs::File> {
    Ok(std::fs::File::create(dir.join(format!("{name}.log")))?)
}

/// Runs `cliffload ARGS` and reads its result and the data server's bytes.
fn measure(label: &str, exe: &Path, cmd: &[String], monitor: &str) -> Result<Row> {
    let before = bytes_through(monitor)?;
    let out = Command::new(exe)
        .args(cmd)
        .stderr(Stdio::piped())
        .output()
        .context("cannot run cliffload")?;
    // 0, 1 or 3: a verdict (the ping's speed claims may not hold here).
    if !matches!(out.status.code(), Some(0 | 1 | 3)) {
        bail!(
            "cliffload {}: {}\n{}",
            cmd.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let r: Value = serde_json::from_slice(&out.stdout).context("cliffload's result")?;
    let data_bytes = bytes_through(monitor)?.saturating_sub(before);
    let d = &r["distributed"];
    Ok(Row {
        label: label.to_owned(),
        rps: r["summary"]["success_rps"].as_f64().unwrap_or(0.0),
        cpu_us: r["generator"]["cpu_us_per_request"].as_f64().unwrap_or(0.0),
        p50: r["summary"]["latency_us"]["p50"].as_u64().unwrap_or(0),
        failed: r["summary"]["failure_percent"].as_f64().unwrap_or(0.0),
        data_bytes,
        control_bytes: d["control_bytes"].as_u64().unwrap_or(0),
        skew_ms: d["start_skew_ms"].as_f64(),
    })
}

/// Bytes in and out of a nats-server, from its `/varz`.
fn bytes_through(monitor: &str) -> Result<u64> {
    let v = varz(monitor)?;
    Ok(v["in_bytes"].as_u64().unwrap_or(0) + v["out_bytes"].as_u64().unwrap_or(0))
}

/// A nats-server's `/varz` (`monitor`: its monitoring URL).
pub(crate) fn varz(monitor: &str) -> Result<Value> {
    let url = format!("{monitor}/varz");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(runtime.block_on(async {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?
            .get(&url)
            .send()
            .await?
            .json()
            .await
    })?)
}

fn print(rows: &[Row], args: &Args) {
    println!(
        "ping at {:.0} req/s for {} s (open model), on {} cores",
        args.rate,
        args.seconds,
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    println!(
        "{:12} {:>12} {:>11} {:>7} {:>9} {:>8} {:>11} {:>13} {:>8}",
        "",
        "succ. req/s",
        "CPU µs/req",
        "p50 µs",
        "failed %",
        "data MB",
        "control KB",
        "control/data",
        "skew ms"
    );
    for r in rows {
        let share = if r.data_bytes > 0 {
            r.control_bytes as f64 / r.data_bytes as f64 * 100.0
        } else {
            0.0
        };
        let skew = r.skew_ms.map_or(String::new(), |s| format!("{s:.2}"));
        println!(
            "{:12} {:12.1} {:11.2} {:7} {:9.3} {:8.2} {:11.1} {:12.3}% {:>8}",
            r.label,
            r.rps,
            r.cpu_us,
            r.p50,
            r.failed,
            r.data_bytes as f64 / 1e6,
            r.control_bytes as f64 / 1e3,
            share,
            skew
        );
    }
}

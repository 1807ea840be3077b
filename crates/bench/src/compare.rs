//! Rounds of bare loop vs cliffload against one responder; ratios with spread.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result, bail};
use cliffload_nats::NatsServer;

use crate::bare::Figures;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Rounds per concurrency (each runs both contenders, order alternating).
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Seconds of load per contender per round.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Requests in flight (bare) = users without think time (cliffload); comma-separated.
    #[arg(long, default_value = "1,128", value_delimiter = ',')]
    concurrency: Vec<usize>,
    /// Request body size in bytes.
    #[arg(long, default_value_t = 128)]
    payload: usize,
    /// cliffload generator threads.
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// Runtime of the bare loop: current (the reference) or multi (two workers).
    #[arg(long, value_enum, default_value_t = crate::bare::Flavor::Current)]
    bare_flavor: crate::bare::Flavor,
    /// The cliffload binary (default: next to this one).
    #[arg(long)]
    cliffload: Option<PathBuf>,
}

/// Kills the responder when the comparison ends, however it ends.
pub(crate) struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sibling(name: &str) -> Result<PathBuf> {
    let me = std::env::current_exe()?;
    Ok(me.with_file_name(name))
}

pub fn run(args: Args) -> Result<()> {
    let cliffload = cliffload_binary(&args)?;
    if args.payload < 2 {
        bail!("--payload: at least 2 bytes (a JSON string)");
    }
    let server = NatsServer::start_via(cliffload_nats::setpriv_launcher())?;
    let me = std::env::current_exe()?;
    let _responder = start_responder(&me, server.url())?;
    let dir = tempfile::tempdir()?;
    let bench = Bench {
        args: &args,
        me,
        cliffload,
        url: server.url(),
        config: dir.path().join("bench.yaml"),
    };
    eprintln!(
        "nats-server {} · echo responder · {}-byte requests · {} round(s) × {} s · cliffload {} worker(s)",
        server.url(),
        args.payload,
        args.rounds,
        args.seconds,
        args.workers
    );
    for &c in &args.concurrency {
        bench.at_concurrency(c)?;
    }
    Ok(())
}

fn cliffload_binary(args: &Args) -> Result<PathBuf> {
    cliffload_at(args.cliffload.as_deref())
}

/// `cliffload run ping` against `url` at `rate` requests a second (the
/// open model) for `seconds`, the result as JSON on stdout.
pub fn ping_at_rate(url: &str, rate: f64, seconds: u64) -> Vec<String> {
    [
        "run",
        "ping",
        "--nats-url",
        url,
        "--rate",
        &rate.to_string(),
        "-d",
        &format!("{seconds}s"),
        "--format",
        "json",
        "--quiet",
    ]
    .map(str::to_owned)
    .to_vec()
}

/// The cliffload binary: `given`, else the one next to this binary.
pub fn cliffload_at(given: Option<&std::path::Path>) -> Result<PathBuf> {
    let cliffload = match given {
        Some(p) => p.to_path_buf(),
        None => sibling("cliffload")?,
    };
    if !cliffload.exists() {
        bail!(
            "{} not found: build it (cargo build --release -p cliffload) or pass --cliffload",
            cliffload.display()
        );
    }
    Ok(cliffload)
}

/// The echo responder, once it has said it is subscribed.
pub(crate) fn start_responder(me: &PathBuf, url: &str) -> Result<Reaped> {
    let mut responder = Command::new(me)
        .args(["responder", "--url", url])
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot start the responder")?;
    let mut ready = String::new();
    BufReader::new(responder.stdout.take().context("responder stdout")?).read_line(&mut ready)?;
    let responder = Reaped(responder);
    if ready.trim() != "ready" {
        bail!("the responder did not start: {ready:?}");
    }
    Ok(responder)
}

/// What every round runs: the two binaries, the server, cliffload's scenario file.
struct Bench<'a> {
    args: &'a Args,
    me: PathBuf,
    cliffload: PathBuf,
    url: &'a str,
    config: PathBuf,
}

impl Bench<'_> {
    /// The rounds at `c` requests in flight: one line each, then the ratios.
    fn at_concurrency(&self, c: usize) -> Result<()> {
        self.write_scenario(c)?;
        println!("\nconcurrency {c}");
        println!(
            "{:>5}  {:>10} {:>10} {:>7}  {:>9} {:>9} {:>7}  {:>7} {:>7}",
            "round",
            "bare r/s",
            "cl r/s",
            "ratio",
            "bare µs/r",
            "cl µs/r",
            "ratio",
            "bare p50",
            "cl p50"
        );
        let (mut tput, mut cpu, mut p50) = (vec![], vec![], vec![]);
        for round in 0..self.args.rounds {
            let (bare, cl) = self.round(round, c)?;
            tput.push(rps(&cl) / rps(&bare));
            cpu.push(cpu_us_per_request(&cl) / cpu_us_per_request(&bare));
            p50.push(cl.p50_us as f64 / bare.p50_us.max(1) as f64);
            println!(
                "{:>5}  {:>10.0} {:>10.0} {:>7.3}  {:>9.2} {:>9.2} {:>7.3}  {:>6}µs {:>6}µs",
                round + 1,
                rps(&bare),
                rps(&cl),
                tput[round],
                cpu_us_per_request(&bare),
                cpu_us_per_request(&cl),
                cpu[round],
                bare.p50_us,
                cl.p50_us
            );
            if bare.errors > 0 {
                eprintln!("warning: the bare loop had {} errors", bare.errors);
            }
        }
        println!(
            "ratios cliffload/bare (median [min–max]): throughput {} · CPU per request {} · p50 {}",
            spread(&mut tput),
            spread(&mut cpu),
            spread(&mut p50)
        );
        Ok(())
    }

    /// cliffload's scenario at `c` users: no think time, a raw echo task whose
    /// body is a JSON string of exactly `payload` bytes, quotes included.
    fn write_scenario(&self, c: usize) -> Result<()> {
        let task = "{name: echo, subject: bench.echo, protocol: raw, timeout: 5s}";
        let yaml = scenario(c, self.args.seconds, self.args.payload, task);
        std::fs::write(&self.config, yaml)?;
        Ok(())
    }

    /// Both contenders' figures (bare, cliffload); the bare loop goes first
    /// in even rounds, so that neither always runs first.
    fn round(&self, round: usize, c: usize) -> Result<(Figures, Figures)> {
        let cliffload =
            || run_cliffload(&self.cliffload, &self.config, self.url, self.args.workers);
        Ok(if round.is_multiple_of(2) {
            let bare = run_bare(&self.me, self.url, c, self.args)?;
            (bare, cliffload()?)
        } else {
            let cl = cliffload()?;
            (run_bare(&self.me, self.url, c, self.args)?, cl)
        })
    }
}

/// Scenario `bench`: `users` users without think time for `seconds`, one
/// task (`task`, a YAML flow map without its payload) whose body is a JSON
/// string of exactly `payload` bytes, quotes included.
pub(crate) fn scenario(users: usize, seconds: f64, payload: usize, task: &str) -> String {
    let body = "x".repeat(payload.saturating_sub(2));
    let task = task.strip_suffix('}').unwrap_or(task);
    format!(
        "scenarios:\n  bench:\n    users: {users}\n    spawn_rate: 1000000\n    duration: {seconds}s\n    wait_time: {{constant: 0}}\n    tasks:\n      - {task}, payload: \"{body}\"}}\n"
    )
}

pub(crate) fn rps(f: &Figures) -> f64 {
    f.requests as f64 / f.wall_s
}

pub(crate) fn cpu_us_per_request(f: &Figures) -> f64 {
    f.cpu_s * 1e6 / f.requests.max(1) as f64
}

pub(crate) fn spread(v: &mut [f64]) -> String {
    v.sort_by(f64::total_cmp);
    let median = if v.len() % 2 == 1 {
        v[v.len() / 2]
    } else {
        (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
    };
    format!("{median:.3} [{:.3}–{:.3}]", v[0], v[v.len() - 1])
}

fn run_bare(me: &PathBuf, url: &str, c: usize, args: &Args) -> Result<Figures> {
    let out = Command::new(me)
        .args(["bare", "--url", url, "--concurrency", &c.to_string()])
        .args([
            "--seconds",
            &args.seconds.to_string(),
            "--payload",
            &args.payload.to_string(),
            "--flavor",
            match args.bare_flavor {
                crate::bare::Flavor::Current => "current",
                crate::bare::Flavor::Multi => "multi",
            },
        ])
        .output()?;
    if !out.status.success() {
        bail!("bare loop failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

pub(crate) fn run_cliffload(
    bin: &PathBuf,
    config: &std::path::Path,
    url: &str,
    workers: usize,
) -> Result<Figures> {
    let out = Command::new(bin)
        .args(["run", "bench", "--config"])
        .arg(config)
        .args([
            "--nats-url",
            url,
            "--format",
            "json",
            "--quiet",
            "--workers",
            &workers.to_string(),
        ])
        .output()?;
    if !out.status.success() {
        bail!(
            "cliffload failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let r: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let num = |v: &serde_json::Value| v.as_f64().context("missing figure in result.json");
    Ok(Figures {
        requests: r["summary"]["successes"].as_u64().context("successes")?,
        errors: r["summary"]["failures"].as_u64().unwrap_or(0),
        wall_s: num(&r["duration_s"])?,
        cpu_s: num(&r["generator"]["cpu_s"])?,
        p50_us: r["summary"]["latency_us"]["p50"].as_u64().unwrap_or(0),
    })
}

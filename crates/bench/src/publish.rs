//! `cliffload-bench publish`: core NATS publishes, cliffload (a `send:
//! publish` task, users without think time) against a bare async-nats
//! publish loop (N tasks, each `publish().await` in a loop, one
//! current-thread runtime), same body, same server, rounds alternating;
//! msgs/s and CPU per message with their ratios. `--observe`: what an event
//! timed to its effect costs against a request ([`crate::events`]).
//!
//! Nobody subscribes: the server drops each message once it has read it, so
//! what is measured is the publisher's own path, not a subscriber keeping up
//! (on two cores a subscriber would take CPU from both contenders, and
//! async-nats' would be cut off as a slow consumer long before a publisher's
//! rate). That every counted message reached the server is checked instead:
//! the server's `in_msgs` (`/varz`) before and after each run.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Result, bail};
use cliffload_nats::NatsServer;

use crate::bare::Figures;
use crate::compare::{cpu_us_per_request as cpu_us, rps, spread};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Rounds per concurrency (each runs both contenders, order alternating).
    #[arg(long, default_value_t = 5)]
    pub(crate) rounds: usize,
    /// Seconds of load per contender per round.
    #[arg(long, default_value_t = 5.0)]
    pub(crate) seconds: f64,
    /// Publishing tasks (bare) = users without think time (cliffload); comma-separated.
    #[arg(long, default_value = "1,128", value_delimiter = ',')]
    pub(crate) concurrency: Vec<usize>,
    /// Message body size in bytes.
    #[arg(long, default_value_t = 128)]
    pub(crate) payload: usize,
    /// Events timed to their effect against requests, both cliffload's, instead.
    #[arg(long)]
    observe: bool,
    /// The cliffload binary (default: next to this one).
    #[arg(long)]
    pub(crate) cliffload: Option<PathBuf>,
}

const SUBJECT: &str = "bench.publish";

pub fn run(args: Args) -> Result<()> {
    if args.payload < 2 {
        bail!("--payload: at least 2 bytes (a JSON string)");
    }
    if args.rounds == 0 {
        bail!("--rounds: at least 1");
    }
    let cliffload = crate::compare::cliffload_at(args.cliffload.as_deref())?;
    let server = NatsServer::start_via(cliffload_nats::setpriv_launcher())?;
    let dir = tempfile::tempdir()?;
    if args.observe {
        return crate::events::run(&args, &cliffload, &server, dir.path());
    }
    eprintln!(
        "nats-server {} · no subscriber · {}-byte messages · {} round(s) × {} s",
        server.url(),
        args.payload,
        args.rounds,
        args.seconds
    );
    let config = dir.path().join("publish.yaml");
    for &c in &args.concurrency {
        let task = format!(
            "{{name: publish, subject: {SUBJECT}, protocol: raw, send: publish, timeout: 5s}}"
        );
        std::fs::write(
            &config,
            crate::compare::scenario(c, args.seconds, args.payload, &task),
        )?;
        at_concurrency(
            &args,
            c,
            &|| crate::compare::run_cliffload(&cliffload, &config, server.url(), 1),
            &server,
        )?;
    }
    Ok(())
}

/// The rounds at `c` publishers: one line each, then the ratios.
fn at_concurrency(
    args: &Args,
    c: usize,
    cliffload: &dyn Fn() -> Result<Figures>,
    server: &NatsServer,
) -> Result<()> {
    println!("\nconcurrency {c}");
    println!(
        "{:>5}  {:>10} {:>10} {:>7}  {:>9} {:>9} {:>7}",
        "round", "bare m/s", "cl m/s", "ratio", "bare µs/m", "cl µs/m", "ratio"
    );
    let me = std::env::current_exe()?;
    let bare = || run_bare(&me, server.url(), c, args);
    let (mut tput, mut cpu) = (vec![], vec![]);
    for round in 0..args.rounds {
        // The bare loop first in even rounds, so that neither always runs first.
        let (b, cl) = if round % 2 == 0 {
            let b = counted("the bare loop", server, &bare)?;
            (b, counted("cliffload", server, cliffload)?)
        } else {
            let cl = counted("cliffload", server, cliffload)?;
            (counted("the bare loop", server, &bare)?, cl)
        };
        tput.push(rps(&cl) / rps(&b));
        cpu.push(cpu_us(&cl) / cpu_us(&b));
        println!(
            "{:>5}  {:>10.0} {:>10.0} {:>7.3}  {:>9.3} {:>9.3} {:>7.3}",
            round + 1,
            rps(&b),
            rps(&cl),
            tput[round],
            cpu_us(&b),
            cpu_us(&cl),
            cpu[round]
        );
    }
    println!(
        "ratios cliffload/bare (median [min–max]): msgs/s {} · CPU per message {}",
        spread(&mut tput),
        spread(&mut cpu)
    );
    Ok(())
}

/// One contender's run, with a warning when the server received fewer
/// messages than it counted as published (or it counted failures).
fn counted(who: &str, server: &NatsServer, run: &dyn Fn() -> Result<Figures>) -> Result<Figures> {
    let in_msgs = || -> Result<u64> {
        let v = crate::dist::varz(server.monitor_url())?;
        Ok(v["in_msgs"].as_u64().unwrap_or(0))
    };
    let before = in_msgs()?;
    let f = run()?;
    let received = in_msgs()?.saturating_sub(before);
    if received < f.requests {
        eprintln!(
            "warning: {who} counted {} messages published, the server received {received}",
            f.requests
        );
    }
    if f.errors > 0 {
        eprintln!("warning: {who} had {} failed publishes", f.errors);
    }
    Ok(f)
}

fn run_bare(me: &Path, url: &str, c: usize, args: &Args) -> Result<Figures> {
    let out = Command::new(me)
        .args(["bare", "--publish", "--url", url, "--subject", SUBJECT])
        .args(["--concurrency", &c.to_string()])
        .args(["--seconds", &args.seconds.to_string()])
        .args(["--payload", &args.payload.to_string()])
        .output()?;
    if !out.status.success() {
        bail!("bare loop failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

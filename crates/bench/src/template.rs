//! `cliffload-bench template`: what templates cost the generator. The same
//! echo request at 128 in flight, its body fixed or rendered per request
//! from three template fields (`{{uuid}}`, `{{seq}}` and a data-file
//! column), rounds alternating, one responder, one nats-server. Prints the
//! generator CPU per request (result.json's, the worker threads') of each
//! and their ratio (issue 29 asks for at most 1.15).

use std::path::Path;

use anyhow::Result;
use cliffload_nats::NatsServer;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Rounds (each runs both bodies, order alternating).
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Seconds of load per run.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Users without think time (= requests in flight).
    #[arg(long, default_value_t = 128)]
    concurrency: usize,
    /// The cliffload binary (default: next to this one).
    #[arg(long)]
    cliffload: Option<std::path::PathBuf>,
}

/// The scenario file: `body` as the echo task's payload, 1000 data rows.
fn write(dir: &Path, name: &str, body: &str, args: &Args) -> Result<std::path::PathBuf> {
    let rows: String = (0..1000)
        .map(|i| format!("customer{i}@example.com\n"))
        .collect();
    std::fs::write(dir.join("rows.csv"), format!("email\n{rows}"))?;
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(
        &path,
        format!(
            "scenarios:\n  bench:\n    users: {c}\n    spawn_rate: 1000000\n    duration: {s}s\n    wait_time: {{constant: 0}}\n    data: {{file: rows.csv}}\n    tasks:\n      - {{name: echo, subject: bench.echo, protocol: raw, timeout: 5s, payload: {body}}}\n",
            c = args.concurrency,
            s = args.seconds
        ),
    )?;
    Ok(path)
}

pub fn run(args: Args) -> Result<()> {
    let cliffload = crate::compare::cliffload_at(args.cliffload.as_deref())?;
    let server = NatsServer::start_via(cliffload_nats::setpriv_launcher())?;
    let me = std::env::current_exe()?;
    let _responder = crate::compare::start_responder(&me, server.url())?;
    let dir = tempfile::tempdir()?;
    // The same shape and about the same size (a UUID, a number, an address).
    let fixed = write(
        dir.path(),
        "fixed",
        r#"{"id": "0b8f3a52-6c1e-4c55-9d7e-2f0e4f9d1a77", "n": 123456, "email": "customer123@example.com"}"#,
        &args,
    )?;
    let templated = write(
        dir.path(),
        "templated",
        r#"{"id": "{{uuid}}", "n": "{{seq}}", "email": "{{row.email}}"}"#,
        &args,
    )?;
    println!(
        "echo at {} in flight, {} s a run: generator CPU per request",
        args.concurrency, args.seconds
    );
    println!(
        "{:>5}  {:>10} {:>10}  {:>9} {:>9} {:>7}",
        "round", "fixed r/s", "tmpl r/s", "fixed µs", "tmpl µs", "ratio"
    );
    let run = |cfg: &Path| crate::compare::run_cliffload(&cliffload, cfg, server.url(), 1);
    let mut ratios = Vec::new();
    for round in 0..args.rounds {
        let (f, t) = if round % 2 == 0 {
            let f = run(&fixed)?;
            (f, run(&templated)?)
        } else {
            let t = run(&templated)?;
            (run(&fixed)?, t)
        };
        let (fc, tc) = (
            crate::compare::cpu_us_per_request(&f),
            crate::compare::cpu_us_per_request(&t),
        );
        ratios.push(tc / fc);
        println!(
            "{:>5}  {:>10.0} {:>10.0}  {:>9.2} {:>9.2} {:>7.3}",
            round + 1,
            crate::compare::rps(&f),
            crate::compare::rps(&t),
            fc,
            tc,
            tc / fc
        );
    }
    println!(
        "ratio templated/fixed CPU per request (median [min–max]): {}",
        crate::compare::spread(&mut ratios)
    );
    Ok(())
}

//! `cliffload-bench`: measures what cliffload costs per request against the
//! cheapest thing that does the same job, a bare async-nats request loop,
//! with the same responder, server and concurrency, alternating in one run.
//!
//! `compare` starts a nats-server and an echo responder (a separate
//! process), then runs, round after round, the bare loop and `cliffload run`
//! (each a separate process), and prints throughput, CPU per request and
//! median latency with their ratios. CPU is the on-CPU time of the threads
//! that generate load (from `/proc/thread-self/schedstat`), measured the same
//! way in both.
//!
//! `order` measures the reference service's `process_order`; `cliffracer`
//! puts it side by side with the real Cliffracer 1.0.0 serving the same
//! contract; `dist` the same rate from one process and from N workers;
//! `observe` what the dashboard and exporters cost per request; `template`
//! what per-request templates cost against a fixed body; `publish` core
//! NATS publishes against a bare publish loop and, with `--observe`, what
//! an event timed to its effect costs against a request.

mod bare;
mod cliffracer;
mod compare;
mod dist;
mod events;
mod observe;
mod order;
mod publish;
mod responder;
mod template;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "cliffload-bench",
    about = "cliffload vs a bare async-nats loop"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Rounds of bare loop vs cliffload; prints ratios.
    Compare(compare::Args),
    /// A bare async-nats request loop (prints one JSON line).
    Bare(bare::Args),
    /// Echo responder: replies to every request with its payload.
    Responder(responder::Args),
    /// process_order throughput of the reference service (latency profile none).
    Order(order::Args),
    /// process_order: the reference service vs the real Cliffracer 1.0.0, rounds interleaved.
    Cliffracer(cliffracer::Args),
    /// The same rate from one process and from N workers: CPU, control traffic.
    Dist(dist::Args),
    /// What watching costs: CPU per request plain and with --dashboard --prometheus --otlp.
    Observe(observe::Args),
    /// What templates cost: CPU per request of a fixed body and of one with three template fields.
    Template(template::Args),
    /// Publishes: cliffload vs a bare async-nats publish loop; --observe: an event vs a request.
    Publish(publish::Args),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Cmd::Compare(a) => compare::run(a),
        Cmd::Bare(a) => bare::run(a),
        Cmd::Responder(a) => responder::run(a),
        Cmd::Order(a) => order::run(a),
        Cmd::Cliffracer(a) => cliffracer::run(a),
        Cmd::Dist(a) => dist::run(a),
        Cmd::Observe(a) => observe::run(a),
        Cmd::Template(a) => template::run(a),
        Cmd::Publish(a) => publish::run(a),
    }
}

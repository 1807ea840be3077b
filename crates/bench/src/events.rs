//! `cliffload-bench publish --observe`: what timing an event to its effect
//! costs cliffload, against timing a request. An effect relay (a thread of
//! this process) subscribes to `bench.events` and republishes each
//! message's `X-Correlation-ID` header, with an empty body, on
//! `bench.effects`; cliffload publishes events there and observes their
//! effects (`send: publish`, `observe`). In the same rounds, order
//! alternating, cliffload requests the echo responder (the `compare`
//! setup). Both at the same users and body; printed: events/s and
//! requests/s, generator CPU per event and per request, and the ratio.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use async_nats::HeaderMap;
use cliffload_nats::NatsServer;
use futures_util::StreamExt;
use tokio::sync::oneshot;

use crate::bare::Figures;
use crate::compare::{cpu_us_per_request as cpu_us, rps, run_cliffload, scenario, spread};
use crate::publish::Args;

const EVENTS: &str = "bench.events";
const EFFECTS: &str = "bench.effects";
const CORRELATION_ID: &str = "X-Correlation-ID";

pub(crate) fn run(args: &Args, cliffload: &Path, server: &NatsServer, dir: &Path) -> Result<()> {
    let me = std::env::current_exe()?;
    let _echo = crate::compare::start_responder(&me, server.url())?;
    let _relay = Relay::start(server.url())?;
    eprintln!(
        "nats-server {} · effect relay and echo responder · {}-byte bodies · {} round(s) × {} s",
        server.url(),
        args.payload,
        args.rounds,
        args.seconds
    );
    let (events, requests) = (dir.join("events.yaml"), dir.join("requests.yaml"));
    let cl = |config: &Path| run_cliffload(&cliffload.to_path_buf(), config, server.url(), 1);
    for &c in &args.concurrency {
        let event = format!(
            "{{name: event, subject: {EVENTS}, protocol: raw, send: publish, timeout: 5s, observe: {{subject: {EFFECTS}}}}}"
        );
        let echo = "{name: echo, subject: bench.echo, protocol: raw, timeout: 5s}";
        std::fs::write(&events, scenario(c, args.seconds, args.payload, &event))?;
        std::fs::write(&requests, scenario(c, args.seconds, args.payload, echo))?;
        println!("\nconcurrency {c}");
        println!(
            "{:>5}  {:>10} {:>10}  {:>9} {:>9} {:>7}  {:>9} {:>9}",
            "round", "events/s", "reqs/s", "µs/event", "µs/req", "ratio", "event p50", "req p50"
        );
        let mut ratios = Vec::new();
        for round in 0..args.rounds {
            // Events first in even rounds, so that neither always runs first.
            let (e, r) = if round % 2 == 0 {
                let e = cl(&events)?;
                (e, cl(&requests)?)
            } else {
                let r = cl(&requests)?;
                (cl(&events)?, r)
            };
            warn_failures(&e, &r);
            ratios.push(cpu_us(&e) / cpu_us(&r));
            println!(
                "{:>5}  {:>10.0} {:>10.0}  {:>9.2} {:>9.2} {:>7.3}  {:>7}µs {:>7}µs",
                round + 1,
                rps(&e),
                rps(&r),
                cpu_us(&e),
                cpu_us(&r),
                ratios[round],
                e.p50_us,
                r.p50_us
            );
        }
        println!(
            "ratio event/request, generator CPU (median [min–max]): {}",
            spread(&mut ratios)
        );
    }
    Ok(())
}

fn warn_failures(events: &Figures, requests: &Figures) {
    if events.errors > 0 {
        eprintln!(
            "warning: {} events failed (lost or not sent)",
            events.errors
        );
    }
    if requests.errors > 0 {
        eprintln!("warning: {} requests failed", requests.errors);
    }
}

/// The effect relay's thread; stopped and joined on drop.
struct Relay {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Relay {
    /// The relay, once it has subscribed (flushed, so in place before any event).
    fn start(url: &str) -> Result<Self> {
        let (ready_tx, ready) = mpsc::channel::<Result<(), String>>();
        let (stop, stopped) = oneshot::channel();
        let url = url.to_owned();
        let thread = std::thread::spawn(move || {
            let run = || -> Result<()> {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                rt.block_on(relay(&url, &ready_tx, stopped))
            };
            if let Err(e) = run() {
                let _ = ready_tx.send(Err(format!("{e:#}")));
            }
        });
        let relay = Self {
            stop: Some(stop),
            thread: Some(thread),
        };
        match ready.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(())) => Ok(relay),
            Ok(Err(e)) => bail!("the effect relay did not start: {e}"),
            Err(_) => Err(anyhow!("the effect relay did not subscribe within 10 s")),
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Republishes each event's correlation id on the effect subject until `stop`.
async fn relay(
    url: &str,
    ready: &mpsc::Sender<Result<(), String>>,
    mut stop: oneshot::Receiver<()>,
) -> Result<()> {
    let client = async_nats::connect(url).await?;
    let mut events = client.subscribe(EVENTS).await?;
    client.flush().await?;
    let _ = ready.send(Ok(()));
    loop {
        let msg = tokio::select! {
            _ = &mut stop => return Ok(()),
            msg = events.next() => msg.ok_or_else(|| anyhow!("the relay's subscription ended"))?,
        };
        let Some(id) = msg.headers.as_ref().and_then(|h| h.get(CORRELATION_ID)) else {
            continue;
        };
        let mut headers = HeaderMap::new();
        headers.insert(CORRELATION_ID, id.as_str());
        client
            .publish_with_headers(EFFECTS, headers, bytes::Bytes::new())
            .await?;
    }
}

//! process_order throughput of the reference service: one `cliffload serve
//! --services order --latency none` process, a pool of generated orders, and
//! a bare async-nats request loop at each concurrency.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use cliffload_nats::NatsServer;
use cliffload_payloads::{Codec, GenConfig, Generator, ModelSpec, PoolSpec, pool};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Items per order (comma-separated).
    #[arg(long, default_value = "3,12", value_delimiter = ',')]
    items: Vec<usize>,
    /// Requests in flight (comma-separated).
    #[arg(long, default_value = "1,32", value_delimiter = ',')]
    concurrency: Vec<usize>,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Orders in the pool (sent round-robin).
    #[arg(long, default_value_t = 500)]
    pool: usize,
    /// Also measure `echo` with the protocol doc's captured body (the
    /// method the Python figures were taken with).
    #[arg(long)]
    echo: bool,
}

/// A child process, killed and reaped when dropped.
pub(crate) struct Reaped(pub(crate) Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The `cliffload` binary beside this one.
pub(crate) fn cliffload_binary() -> Result<std::path::PathBuf> {
    let cliffload = std::env::current_exe()?.with_file_name("cliffload");
    if !cliffload.exists() {
        bail!(
            "{} not found: build it (cargo build --release -p cliffload)",
            cliffload.display()
        );
    }
    Ok(cliffload)
}

pub fn run(args: Args) -> Result<()> {
    let cliffload = cliffload_binary()?;
    let server = NatsServer::start_via(cliffload_nats::setpriv_launcher())?;
    let _service = start_service(&cliffload, server.url())?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let client = async_nats::connect(server.url()).await?;
        wait_for_service(&client).await?;
        println!(
            "{:>5} {:>11} {:>10} {:>9} {:>8} {:>8}",
            "items", "concurrency", "req/s", "accepted", "refused", "p50"
        );
        if args.echo {
            let body = vec![Bytes::from_static(br#"{"message":"hello"}"#)];
            measure(&client, "echo", "echo", &body, &args).await;
        }
        for &items in &args.items {
            let bodies = order_pool(items, args.pool)?;
            measure(&client, "process_order", &items.to_string(), &bodies, &args).await;
        }
        Ok(())
    })
}

/// `cliffload serve` with the order service only and no simulated I/O.
pub(crate) fn start_service(cliffload: &Path, url: &str) -> Result<Reaped> {
    let service = Command::new(cliffload)
        .args([
            "serve",
            "--nats-url",
            url,
            "--services",
            "order",
            "--latency",
            "none",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start the service")?;
    Ok(Reaped(service))
}

/// Waits until the service answers a `$SRV.PING`, at most 10 s.
pub(crate) async fn wait_for_service(client: &async_nats::Client) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while client
        .request("$SRV.PING.order_processing_service", "".into())
        .await
        .is_err()
    {
        if Instant::now() > deadline {
            bail!("the order service did not start");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// `size` valid orders of exactly `items` items, seeded by `items`.
pub(crate) fn order_pool(items: usize, size: usize) -> Result<Vec<Bytes>> {
    let mut g = Generator::new(&GenConfig::new(items as u64, jiff::Timestamp::now()));
    let spec = PoolSpec {
        model: ModelSpec::Order {
            items: Some((items, items)),
        },
        size,
        error_rate: 0.0,
        arg: Some("order".into()),
        encoding: Codec::Json,
    };
    Ok(pool::build(&mut g, &spec)?
        .into_iter()
        .map(|e| Bytes::from(e.body))
        .collect())
}

/// One table row per concurrency: `method` called with `bodies` in turn.
async fn measure(
    client: &async_nats::Client,
    method: &str,
    label: &str,
    bodies: &[Bytes],
    args: &Args,
) {
    for &c in &args.concurrency {
        let (n, ok, refused, p50) = blast(client, method, bodies, c, args.seconds).await;
        println!(
            "{label:>5} {c:>11} {:>10.0} {ok:>9} {refused:>8} {p50:>6}µs",
            n as f64 / args.seconds
        );
    }
}

/// `method` called with `bodies` in turn by `concurrency` tasks for `seconds`:
/// replies, accepted (`success: true`), refused, p50 in µs.
pub(crate) async fn blast(
    client: &async_nats::Client,
    method: &str,
    bodies: &[Bytes],
    concurrency: usize,
    seconds: f64,
) -> (u64, u64, u64, u64) {
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let subject = async_nats::Subject::from(format!("order_processing_service.rpc.{method}"));
    let tasks: Vec<_> = (0..concurrency)
        .map(|t| {
            let (client, subject, bodies) = (client.clone(), subject.clone(), bodies.to_vec());
            tokio::spawn(async move {
                let (mut n, mut ok, mut refused) = (0u64, 0u64, 0u64);
                let mut hist = cliffload_metrics::LatencyHistogram::new();
                let mut i = t;
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    if let Ok(m) = client
                        .request(subject.clone(), bodies[i % bodies.len()].clone())
                        .await
                    {
                        hist.record(sent.elapsed());
                        n += 1;
                        // Ours writes compact JSON, Python's json.dumps a space.
                        if m.payload.starts_with(br#"{"success":true"#)
                            || m.payload.starts_with(br#"{"success": true"#)
                        {
                            ok += 1;
                        } else {
                            refused += 1;
                        }
                    }
                    i += concurrency;
                }
                (n, ok, refused, hist)
            })
        })
        .collect();
    let (mut n, mut ok, mut refused, mut hist) =
        (0, 0, 0, cliffload_metrics::LatencyHistogram::new());
    for t in tasks {
        if let Ok((a, b, c, h)) = t.await {
            n += a;
            ok += b;
            refused += c;
            hist.merge(&h);
        }
    }
    (n, ok, refused, hist.quantile_us(0.5))
}

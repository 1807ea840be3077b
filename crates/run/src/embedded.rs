//! The reference services on a NATS server (our own nats-server unless a URL
//! is given), and optionally over HTTP; stopped by [`Embedded::stop`] or on drop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use cliffload_engine::CancellationToken;
use cliffload_nats::NatsAccess;
use cliffload_nats::NatsServer;
use cliffload_services::events::Durable;
use cliffload_services::order_service::{self, LatencyProfile, OrderConfig, OrderService};
use cliffload_services::{cliffracer, http, test_service};
use tokio::task::JoinHandle;

/// A reference service to serve (`serve --services`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Service {
    /// `test`: ping, echo, compute.
    Test,
    /// `order_processing_service`: the six operations of the workload.
    Order,
}

/// The simulated I/O latency of `order_processing_service`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Latency {
    /// The delays of the original service (fraud lookup, inventory, save, …).
    Realistic,
    /// No simulated delays: raw service cost.
    None,
}

/// What to serve.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub services: Vec<Service>,
    pub latency: Latency,
    /// The realistic delays multiplied by this (1.0: as they are).
    pub latency_factor: f64,
    pub replicas: usize,
    pub http: Option<SocketAddr>,
    /// Our own nats-server (when we start one) with JetStream on, its
    /// store in the server's temporary folder.
    pub jetstream: bool,
    /// Whether the order service looks for JetStream (its durable listener).
    /// Off on our own server started without JetStream, whatever this says:
    /// the line saying the listener is off would only be noise there.
    pub durable: Durable,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            services: vec![Service::Test, Service::Order],
            latency: Latency::Realistic,
            latency_factor: 1.0,
            replicas: 1,
            http: None,
            jetstream: false,
            durable: Durable::IfAvailable,
        }
    }
}

/// A server (if we started it) with the reference services on it, in this
/// process ([`Embedded::start`]) or in a child process ([`Embedded::spawn`]).
#[derive(Debug)]
pub struct Embedded {
    server: Option<NatsServer>,
    url: String,
    access: NatsAccess,
    http: Option<SocketAddr>,
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    child: Option<ServicesProcess>,
}

/// Reads `cliffload serve`'s banner for the line `http: http://ADDR/…`,
/// then drains the rest so the child never blocks on a full pipe.
async fn http_address(out: tokio::process::ChildStdout) -> Option<SocketAddr> {
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(out).lines();
    let mut found = None;
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(rest) = line.strip_prefix("http: http://") {
            found = rest.split('/').next().and_then(|a| a.parse().ok());
        }
        if line.starts_with("replicas:") {
            break;
        }
    }
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    found
}

/// The services in a child process (`cliffload serve --stop-on-stdin-eof`):
/// closing its stdin stops it, so it also stops if we die.
#[derive(Debug)]
struct ServicesProcess {
    child: tokio::process::Child,
    stdin: Option<tokio::process::ChildStdin>,
}

/// The order service with the simulated delays and listeners `config` asks for.
fn order_service_for(config: &ServeConfig) -> OrderService {
    OrderService::new(OrderConfig {
        latency_factor: config.latency_factor,
        latency: match config.latency {
            Latency::Realistic => LatencyProfile::Realistic,
            Latency::None => LatencyProfile::None,
        },
        durable: config.durable,
        ..OrderConfig::default()
    })
}

/// The service's NATS name.
fn service_name(s: Service) -> &'static str {
    match s {
        Service::Test => test_service::NAME,
        Service::Order => order_service::NAME,
    }
}

/// Each replica of each service on its own connection, as separate
/// processes would be; replica 0 of the order service is `order` (the HTTP
/// side shares it), the others have their own state.
async fn spawn_replicas(
    access: &NatsAccess,
    config: &ServeConfig,
    order: &Arc<OrderService>,
    stop: &CancellationToken,
) -> Result<Vec<JoinHandle<()>>> {
    let mut tasks = Vec::new();
    for replica in 0..config.replicas {
        let c = cliffload_nats::connect(access, &format!("cliffload-services-{replica}")).await?;
        for s in &config.services {
            let (c, shutdown) = (c.clone(), stop.clone().cancelled_owned());
            tasks.push(match s {
                Service::Test => tokio::spawn(async move {
                    report(test_service::run(c, Default::default(), shutdown).await)
                }),
                Service::Order => {
                    let svc = if replica == 0 {
                        order.clone()
                    } else {
                        Arc::new(order_service_for(config))
                    };
                    tokio::spawn(async move { report(order_service::run(c, svc, shutdown).await) })
                }
            });
        }
    }
    Ok(tasks)
}

/// The services over HTTP on `addr`: the address bound and the server's task.
async fn serve_http(
    addr: SocketAddr,
    services: &[Service],
    order: &Arc<OrderService>,
    stop: &CancellationToken,
) -> Result<(SocketAddr, JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("--http: cannot bind {addr}"))?;
    let bound = listener.local_addr()?;
    let mut app = axum::Router::new();
    for s in services {
        app = app.merge(match s {
            Service::Test => http::router(
                Arc::new(test_service::TestService::default()),
                cliffload_services::MAX_REQUEST_BYTES,
            ),
            Service::Order => http::router(order.clone(), cliffload_services::MAX_REQUEST_BYTES),
        });
    }
    let shutdown = stop.clone().cancelled_owned();
    let task = tokio::spawn(async move { report(http::serve(listener, app, shutdown).await) });
    Ok((bound, task))
}

fn report(result: Result<(), impl std::fmt::Display>) {
    if let Err(e) = result {
        eprintln!("error: {e}");
    }
}

impl Embedded {
    /// Starts nats-server (unless `target` is given) and the services on it,
    /// and waits until each answers.
    pub async fn start(target: Option<&NatsAccess>, config: &ServeConfig) -> Result<Self> {
        if config.replicas == 0 || config.replicas > 64 {
            bail!("--replicas: must be from 1 to 64, got {}", config.replicas);
        }
        let mut config = config.clone();
        let (server, access) = match target {
            Some(a) => (None, a.clone()),
            None => {
                if !config.jetstream {
                    config.durable = Durable::Off;
                }
                let s = start_nats_server(config.jetstream)
                    .await
                    .context("cannot start the embedded nats-server")?;
                let a = NatsAccess::plain(s.url());
                (Some(s), a)
            }
        };
        let client = cliffload_nats::connect(&access, "cliffload-services").await?;
        let stop = CancellationToken::new();
        let order = Arc::new(order_service_for(&config));
        let mut tasks = spawn_replicas(&access, &config, &order, &stop).await?;
        for s in &config.services {
            cliffracer::wait_ready(&client, service_name(*s), Duration::from_secs(5)).await?;
        }
        let http = match config.http {
            None => None,
            Some(addr) => {
                let (bound, task) = serve_http(addr, &config.services, &order, &stop).await?;
                tasks.push(task);
                Some(bound)
            }
        };
        Ok(Self {
            server,
            url: access.display(),
            access,
            http,
            stop,
            tasks,
            child: None,
        })
    }

    /// Starts nats-server and the reference services in a child process
    /// (this executable's `serve`), and waits until each answers. A load run
    /// uses this, so the generator and the services under test are separate
    /// processes: each one's memory and CPU can be measured on its own.
    pub async fn spawn(config: &ServeConfig) -> Result<Self> {
        let server = start_nats_server(config.jetstream)
            .await
            .context("cannot start the embedded nats-server")?;
        let url = server.url().to_owned();
        let exe = crate::child::binary().context(
            "the embedded start runs the services in a child `cliffload serve`, and this program is not cliffload: give a --nats-url with the services on it",
        )?;
        let mut child = tokio::process::Command::new(exe)
            .args(serve_args(config, &url))
            // Our own open server: credentials exported for a deployment
            // are not for it (and a password without --user is refused).
            .env_remove("CLIFFLOAD_NATS_URL")
            .env_remove("CLIFFLOAD_NATS_PASSWORD")
            .env_remove("CLIFFLOAD_NATS_TOKEN")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            // A terminal's Ctrl-C goes to cliffload, which drains the load first.
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .context("cannot start the reference services (cliffload serve)")?;
        let stdin = child.stdin.take();
        let http = match child.stdout.take() {
            Some(out) => tokio::time::timeout(Duration::from_secs(10), http_address(out))
                .await
                .ok()
                .flatten(),
            None => None,
        };
        let access = NatsAccess::plain(&url);
        let client = cliffload_nats::connect(&access, "cliffload-services-check").await?;
        for s in &config.services {
            let name = match s {
                Service::Test => test_service::NAME,
                Service::Order => order_service::NAME,
            };
            if let Err(e) = cliffracer::wait_ready(&client, name, Duration::from_secs(10)).await {
                let status = child.try_wait().ok().flatten();
                bail!(
                    "the reference services did not start{}: {e}",
                    status.map_or(String::new(), |s| format!(" (exited: {s})"))
                );
            }
        }
        Ok(Self {
            server: Some(server),
            url,
            access,
            http,
            stop: CancellationToken::new(),
            tasks: Vec::new(),
            child: Some(ServicesProcess { child, stdin }),
        })
    }

    /// nats-server's monitoring endpoint, when we started the server.
    pub fn monitor_url(&self) -> Option<&str> {
        self.server
            .as_ref()
            .map(NatsServer::monitor_url)
            .filter(|u| !u.is_empty())
    }

    /// Process ids of the services' child process and of nats-server, when we started them.
    pub fn pids(&self) -> (Option<u32>, Option<u32>) {
        (
            self.child.as_ref().and_then(|c| c.child.id()),
            self.server.as_ref().and_then(NatsServer::pid),
        )
    }

    /// The NATS server's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// How to reach it.
    pub fn access(&self) -> &NatsAccess {
        &self.access
    }

    /// The HTTP address, when serving HTTP.
    pub fn http(&self) -> Option<SocketAddr> {
        self.http
    }

    /// Stops the services, then the server if we started it.
    pub async fn stop(self) {
        self.stop.cancel();
        for t in self.tasks {
            let _ = t.await;
        }
        if let Some(mut p) = self.child {
            drop(p.stdin.take());
            if tokio::time::timeout(Duration::from_secs(5), p.child.wait())
                .await
                .is_err()
            {
                let _ = p.child.kill().await;
            }
        }
        drop(self.server);
    }
}

/// `cliffload serve`'s arguments for the services of `config` on our own
/// server at `url`, stopped when its stdin closes.
fn serve_args(config: &ServeConfig, url: &str) -> Vec<String> {
    let services: Vec<&str> = config
        .services
        .iter()
        .map(|s| match s {
            Service::Test => "test",
            Service::Order => "order",
        })
        .collect();
    let latency = match config.latency {
        Latency::Realistic => "realistic",
        Latency::None => "none",
    };
    let mut args: Vec<String> = [
        "serve",
        "--nats-url",
        url,
        "--services",
        &services.join(","),
        "--latency",
        latency,
        "--latency-factor",
        &config.latency_factor.to_string(),
        "--stop-on-stdin-eof",
        // Also over HTTP, on a free port, for NATS-vs-HTTP comparisons.
        "--http",
        "127.0.0.1:0",
    ]
    .map(String::from)
    .into();
    // Our own server: JetStream is there exactly when we asked.
    if !config.jetstream {
        args.push("--no-durable".to_owned());
    }
    args
}

/// Our own nats-server, tied to this process: it dies with cliffload even
/// when cliffload is SIGKILLed (see [`crate::child`]). Its readiness is
/// awaited, not waited for, so Ctrl-C goes on meanwhile; the process is
/// spawned from this thread, which the tie follows.
async fn start_nats_server(jetstream: bool) -> Result<NatsServer> {
    let launcher = crate::child::launcher().unwrap_or_default();
    Ok(NatsServer::start_via_async(launcher, jetstream).await?)
}

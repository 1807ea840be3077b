//! The reference services on a NATS server (our own nats-server unless a URL
//! is given), stopped when [`Embedded::stop`] is called or the guard drops.

use std::time::Duration;

use anyhow::{Context, Result};
use cliffload_engine::CancellationToken;
use cliffload_nats::NatsServer;
use cliffload_services::{cliffracer, test_service};

/// A server (if we started it) with the reference services on it.
#[derive(Debug)]
pub struct Embedded {
    server: Option<NatsServer>,
    url: String,
    stop: CancellationToken,
    service: tokio::task::JoinHandle<()>,
}

impl Embedded {
    /// Starts nats-server (unless `url` is given) and the `test` service on it,
    /// and waits until the service answers.
    pub async fn start(url: Option<&str>) -> Result<Self> {
        let (server, url) = match url {
            Some(u) => (None, u.to_owned()),
            None => {
                let s = NatsServer::start().context("cannot start the embedded nats-server")?;
                let u = s.url().to_owned();
                (Some(s), u)
            }
        };
        let client = cliffload_nats::connect(&url, "cliffload-services")
            .await
            .map_err(anyhow::Error::msg)?;
        let stop = CancellationToken::new();
        let shutdown = stop.clone();
        let svc_client = client.clone();
        let service = tokio::spawn(async move {
            let cfg = test_service::TestConfig::default();
            if let Err(e) = test_service::run(svc_client, cfg, shutdown.cancelled_owned()).await {
                eprintln!("error: {e}");
            }
        });
        cliffracer::wait_ready(&client, test_service::NAME, Duration::from_secs(5))
            .await
            .map_err(anyhow::Error::msg)?;
        Ok(Self {
            server,
            url,
            stop,
            service,
        })
    }

    /// The server's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Stops the services, then the server if we started it.
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.service.await;
        drop(self.server);
    }
}

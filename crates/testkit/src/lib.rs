//! Test support for cliffload's integration tests.
//!
//! Key items: [`NatsServer`] (the same managed server the CLI starts: a real
//! `nats-server` on a free loopback port, killed on drop), [`server`] (starts
//! one or fails the test with the install hint), [`client`], and
//! [`srv_stats`] (reads a service's request counts through `$SRV.STATS`),
//! and [`PgServer`] (a real PostgreSQL server, for the history's tests).

use std::time::Duration;

pub use cliffload_nats::NatsServer;

mod postgres;
pub use postgres::PgServer;

/// A free TCP port on 127.0.0.1 (free when asked).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Starts a nats-server for one test. Fails the test, with the install hint,
/// when nats-server is missing: these tests need the real thing. The server
/// dies with the test's thread, even when the test binary is killed
/// (`cargo test` interrupted by Ctrl-C): see [`cliffload_nats::setpriv_launcher`].
pub fn server() -> NatsServer {
    match NatsServer::start_via(cliffload_nats::setpriv_launcher()) {
        Ok(s) => s,
        Err(e) => panic!("integration tests need nats-server: {e}"),
    }
}

/// [`server`] with JetStream on (its store in the server's temporary folder).
pub fn jetstream_server() -> NatsServer {
    match NatsServer::start_jetstream_via(cliffload_nats::setpriv_launcher()) {
        Ok(s) => s,
        Err(e) => panic!("integration tests need nats-server with JetStream: {e}"),
    }
}

/// [`server`] with `config` (an `authorization` or `tls` block, say).
pub fn server_with_config(config: &str) -> NatsServer {
    match NatsServer::start_with_config_via(cliffload_nats::setpriv_launcher(), config) {
        Ok(s) => s,
        Err(e) => panic!("nats-server does not start with the config: {e}\n{config}"),
    }
}

/// A client connected to `server`.
pub async fn client(server: &NatsServer) -> async_nats::Client {
    match async_nats::connect(server.url()).await {
        Ok(c) => c,
        Err(e) => panic!("cannot connect to the test server {}: {e}", server.url()),
    }
}

/// The `num_requests` of every endpoint of service `name`, summed, from
/// `$SRV.STATS.{name}` (one replica answers).
pub async fn srv_stats(client: &async_nats::Client, name: &str) -> serde_json::Value {
    let reply = tokio::time::timeout(
        Duration::from_secs(5),
        client.request(format!("$SRV.STATS.{name}"), "".into()),
    )
    .await;
    match reply {
        Ok(Ok(msg)) => serde_json::from_slice(&msg.payload).unwrap_or(serde_json::Value::Null),
        Ok(Err(e)) => panic!("$SRV.STATS.{name} failed: {e}"),
        Err(_) => panic!("$SRV.STATS.{name}: no reply within 5 s"),
    }
}

/// Requests counted by endpoint `endpoint` in a `$SRV.STATS` reply.
pub fn endpoint_requests(stats: &serde_json::Value, endpoint: &str) -> u64 {
    stats["endpoints"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["name"] == endpoint)
        .filter_map(|e| e["num_requests"].as_u64())
        .sum()
}

//! NATS for cliffload.
//!
//! Key types: [`NatsServer`] (a `nats-server` child process on a free
//! loopback port, stopped on drop; the CLI's embedded default and every
//! integration test use it), [`NatsConnector`] and [`NatsTransport`] (the
//! engine's [`cliffload_engine::Transport`] over async-nats), [`preflight`]
//! (one smoke call per task before any load) and [`outcome_of`] (reply class
//! plus injected-error label → [`cliffload_metrics::Outcome`]),
//! [`ConnectionEvents`] (disconnects, reconnects, slow consumers of the load's connections)
//! and [`NatsError`] (every way reaching, logging in to, checking or starting a server fails).

mod access;
mod effects;
mod error;
mod events;
mod jetstream;
mod preflight;
mod publish;
mod server;
mod transport;

pub use access::{Credentials, Logins, NatsAccess, Secret, Tls};
pub use cliffload_engine::outcome_of;
pub use error::NatsError;
pub use events::{ConnectionEvent, ConnectionEvents};
pub use jetstream::{ConsumerState, Streams, consumer_state, create_streams};
pub use preflight::{Preflight, PreflightReport, Tolerated, preflight};
pub use server::{NatsServer, setpriv_launcher};
pub use transport::{NatsConnector, NatsTransport, Target, connect};

//! A scripted [`Transport`] for engine tests under virtual time.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use cliffload_metrics::Outcome;

use crate::plan::Payload;
use crate::transport::{Connector, Reply, Transport};

/// What a mock task does on each call.
#[derive(Debug, Clone)]
pub struct Script {
    /// Latency of every call (slept with tokio time, so virtual under pause).
    pub latency: Duration,
    /// Outcomes, cycled through call by call.
    pub outcomes: Vec<Outcome>,
}

impl Script {
    /// Every call takes `latency` and succeeds.
    pub fn ok(latency: Duration) -> Self {
        Self {
            latency,
            outcomes: vec![Outcome::Ok],
        }
    }
}

/// Makes [`MockTransport`]s; counts calls per task across all of them.
#[derive(Debug, Clone)]
pub struct MockConnector {
    scripts: Arc<[Script]>,
    calls: Arc<[AtomicU64]>,
    fail_connect: Option<MockConnectError>,
}

/// A scripted connection failure, with the message given to [`MockConnector::failing`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct MockConnectError(pub String);

impl MockConnector {
    /// One script per task.
    pub fn new(scripts: Vec<Script>) -> Self {
        let calls = scripts.iter().map(|_| AtomicU64::new(0)).collect();
        Self {
            scripts: scripts.into(),
            calls,
            fail_connect: None,
        }
    }

    /// Every connect fails with `message`.
    pub fn failing(message: &str) -> Self {
        Self {
            fail_connect: Some(MockConnectError(message.to_owned())),
            ..Self::new(vec![])
        }
    }

    /// Calls made to task `task` so far.
    pub fn calls(&self, task: usize) -> u64 {
        self.calls[task].load(Ordering::Relaxed)
    }
}

impl Connector for MockConnector {
    type Transport = MockTransport;
    type Error = MockConnectError;

    async fn connect(&self, _worker: usize) -> Result<MockTransport, MockConnectError> {
        match &self.fail_connect {
            Some(m) => Err(m.clone()),
            None => Ok(MockTransport {
                connector: self.clone(),
                n: Cell::new(0),
            }),
        }
    }
}

/// A transport that sleeps its script's latency and returns its outcomes.
#[derive(Debug)]
pub struct MockTransport {
    connector: MockConnector,
    n: Cell<usize>,
}

impl Transport for MockTransport {
    async fn call(&self, task: usize, _payload: &Payload) -> Reply {
        let script = &self.connector.scripts[task];
        let n = self.connector.calls[task].fetch_add(1, Ordering::Relaxed);
        self.n.set(self.n.get() + 1);
        if !script.latency.is_zero() {
            tokio::time::sleep(script.latency).await;
        }
        let outcome = script.outcomes[n as usize % script.outcomes.len()];
        if outcome == Outcome::Ok {
            outcome.into()
        } else {
            // Distinct per call, equal once ids are masked: one entry.
            Reply::with_detail(outcome, format!("scripted {} #{n}", outcome.name()))
        }
    }
}

//! What happened to the load's NATS connections: disconnects, reconnects,
//! slow-consumer cut-offs, server errors, lame duck mode. Without them these
//! show only as timeouts. Recorded from async-nats's event callback (rare
//! events: a mutex is fine here, never on a request's path).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use async_nats::Event;

/// One event of one worker's connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionEvent {
    /// When it happened.
    pub at: SystemTime,
    /// Which worker's connection.
    pub worker: usize,
    /// `disconnected`, `reconnected`, `slow_consumer`, `server_error`,
    /// `client_error`, `lame_duck`, `draining` or `closed`.
    pub kind: &'static str,
    /// async-nats's words for it.
    pub detail: String,
}

/// A shared, append-only list of events (cheap to clone).
#[derive(Debug, Clone, Default)]
pub struct ConnectionEvents(Arc<Mutex<Events>>);

#[derive(Debug, Default)]
struct Events {
    list: Vec<ConnectionEvent>,
    /// Workers whose first `connected` was seen (later ones are reconnects).
    connected: Vec<usize>,
}

/// Events kept at most: a flapping connection must not grow memory.
const MAX_EVENTS: usize = 1000;

impl ConnectionEvents {
    /// Records `event` of `worker`'s connection.
    pub fn record(&self, worker: usize, event: &Event) {
        let mut e = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let kind = match event {
            Event::Connected if !e.connected.contains(&worker) => {
                e.connected.push(worker);
                return;
            }
            Event::Connected => "reconnected",
            Event::Disconnected => "disconnected",
            Event::LameDuckMode => "lame_duck",
            Event::Draining => "draining",
            Event::Closed => "closed",
            Event::SlowConsumer(_) => "slow_consumer",
            Event::ServerError(_) => "server_error",
            Event::ClientError(_) => "client_error",
        };
        if e.list.len() < MAX_EVENTS {
            e.list.push(ConnectionEvent {
                at: SystemTime::now(),
                worker,
                kind,
                detail: event.to_string(),
            });
        }
    }

    /// Every event so far, in order.
    pub fn all(&self) -> Vec<ConnectionEvent> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .list
            .clone()
    }

    /// The events after the first `seen` (for live progress).
    pub fn since(&self, seen: usize) -> Vec<ConnectionEvent> {
        let e = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        e.list.get(seen..).map(<[_]>::to_vec).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_connect_is_not_an_event_and_later_ones_are_reconnects() {
        let ev = ConnectionEvents::default();
        ev.record(0, &Event::Connected);
        ev.record(1, &Event::Connected);
        ev.record(0, &Event::Disconnected);
        ev.record(0, &Event::Connected);
        ev.record(1, &Event::SlowConsumer(3));
        let kinds: Vec<_> = ev.all().iter().map(|e| (e.worker, e.kind)).collect();
        assert_eq!(
            kinds,
            [
                (0, "disconnected"),
                (0, "reconnected"),
                (1, "slow_consumer")
            ]
        );
        assert_eq!(ev.since(2).len(), 1);
        assert!(ev.since(9).is_empty());
    }
}

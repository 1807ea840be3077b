//! A load's JetStream side: the streams created for it (deleted after
//! it), and the durable consumers read once a second while it runs.

use std::time::Duration;

use anyhow::Result;
use cliffload_engine::CancellationToken;
use cliffload_nats::{ConsumerState, NatsAccess, Streams};
use cliffload_report::Warning;
use cliffload_report::consumers::{ConsumerSample, ConsumerSeries};
use cliffload_scenario::{ConsumerRef, Scenario};
use tokio::time::Instant;

/// How often a watched consumer is read.
const READ_EVERY: Duration = Duration::from_secs(1);

/// Whether a scenario needs JetStream on its server: a task publishes to a
/// stream, or the scenario creates streams or watches consumers.
pub fn needs_jetstream(scenario: &Scenario) -> bool {
    !scenario.jetstream.is_empty()
        || scenario
            .tasks
            .iter()
            .any(|t| t.request.send == cliffload_scenario::SendMode::Jetstream)
}

/// The instant a load started at wall-clock `started` (`None`: unknown,
/// then `origin`'s), from a pair of readings of both clocks taken together.
pub(crate) fn instant_of(
    started: Option<std::time::SystemTime>,
    (at, wall): (Instant, std::time::SystemTime),
) -> Instant {
    match started.map(|s| s.duration_since(wall)) {
        Some(Ok(after)) => at + after,
        Some(Err(e)) => at.checked_sub(e.duration()).unwrap_or(at),
        None => at,
    }
}

/// The JetStream side of one load, from before its preflight to after it.
pub(crate) struct Side {
    client: async_nats::Client,
    streams: Streams,
    consumers: Vec<ConsumerRef>,
    reader: Option<(CancellationToken, tokio::task::JoinHandle<Vec<Readings>>)>,
}

/// One consumer's readings, at the instants they were taken.
struct Readings {
    consumer: ConsumerRef,
    samples: Vec<(Instant, ConsumerState)>,
    unreadable: Option<String>,
}

impl Side {
    /// Creates the scenario's streams (before the smoke calls, which
    /// publish into them); `None` when it has no `jetstream:` section.
    pub(crate) async fn prepare(access: &NatsAccess, scenario: &Scenario) -> Result<Option<Self>> {
        if scenario.jetstream.is_empty() {
            return Ok(None);
        }
        let name = format!("cliffload/{}/jetstream", scenario.name);
        let client = cliffload_nats::connect(access, &name).await?;
        let streams = cliffload_nats::create_streams(&client, &scenario.jetstream.streams).await?;
        Ok(Some(Self {
            client,
            streams,
            consumers: scenario.jetstream.consumers.clone(),
            reader: None,
        }))
    }

    /// Starts reading the watched consumers once a second.
    pub(crate) fn watch(&mut self) {
        if self.consumers.is_empty() {
            return;
        }
        let stop = CancellationToken::new();
        let task = tokio::spawn(read_consumers(
            self.client.clone(),
            self.consumers.clone(),
            stop.clone(),
        ));
        self.reader = Some((stop, task));
    }

    /// Stops reading; each consumer's series, its times from `load_start`.
    pub(crate) async fn series(&mut self, load_start: Instant) -> Vec<ConsumerSeries> {
        let Some((stop, task)) = self.reader.take() else {
            return Vec::new();
        };
        stop.cancel();
        let readings = task.await.unwrap_or_default();
        readings
            .into_iter()
            .map(|r| {
                let samples = r
                    .samples
                    .iter()
                    .map(|(at, s)| ConsumerSample {
                        t_s: at.saturating_duration_since(load_start).as_secs_f64(),
                        pending: s.pending,
                        ack_pending: s.ack_pending,
                        redelivered: s.redelivered,
                    })
                    .collect();
                ConsumerSeries::new(&r.consumer.stream, &r.consumer.name, samples, r.unreadable)
            })
            .collect()
    }

    /// Deletes the streams created for the load; a warning naming those
    /// that could not be.
    pub(crate) async fn finish(mut self) -> Option<Warning> {
        let left = self.streams.delete().await;
        (!left.is_empty()).then_some(Warning::StreamsLeft { streams: left })
    }
}

/// Reads every consumer once a second (and once more at the end) until `stop`.
async fn read_consumers(
    client: async_nats::Client,
    consumers: Vec<ConsumerRef>,
    stop: CancellationToken,
) -> Vec<Readings> {
    let mut out: Vec<Readings> = consumers
        .into_iter()
        .map(|consumer| Readings {
            consumer,
            samples: Vec::new(),
            unreadable: None,
        })
        .collect();
    let mut every = tokio::time::interval(READ_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        let last = tokio::select! {
            () = stop.cancelled() => true,
            _ = every.tick() => false,
        };
        for r in &mut out {
            let at = Instant::now();
            // Each read bounded by the client's API timeout.
            match cliffload_nats::consumer_state(&client, &r.consumer).await {
                Ok(s) => r.samples.push((at, s)),
                Err(e) => r.unreadable = Some(e.to_string()),
            }
        }
        if last {
            return out;
        }
    }
}

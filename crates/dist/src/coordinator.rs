//! `cliffload run … --distributed N`: finds N workers, gives each its share,
//! starts them at one instant, and merges what they record.
//!
//! Intervals are merged by index as they arrive (the engine's [`Merger`],
//! so a distributed series is built exactly as a multi-threaded one), and
//! the totals are taken from each worker's `done` message, so an interval
//! lost on the way costs a point of the series, never a request of the
//! totals. A worker that falls silent is named and counted as lost, with
//! what it sent before.

use std::time::{Duration, SystemTime};

use async_nats::Client;
use cliffload_engine::{CancellationToken, Merger, Progress, RunOutput};
use cliffload_metrics::{LatencyHistogram, OutcomeClass, TaskTable};
use cliffload_nats::NatsAccess;
use cliffload_scenario::Scenario;
use futures_util::StreamExt;
use tokio::time::Instant;

use crate::DistError;
use crate::control::{
    self, Assign, AssignReply, Done, HEARTBEAT, Interval, PROTOCOL, PreflightRow, RunSubjects,
    SERVICE, SILENCE, Start, VERSION,
};
use crate::trust;

/// How long a worker may take to connect and make its smoke calls.
const PREPARE_WAIT: Duration = Duration::from_secs(120);

/// How the coordinator runs.
#[derive(Debug, Clone)]
pub struct CoordinateOptions {
    /// The control server the workers listen on.
    pub control: NatsAccess,
    /// The servers of the system under test, as the workers should dial them.
    pub target: Vec<String>,
    /// Workers to run on.
    pub workers: usize,
    /// How long to look for them.
    pub wait: Duration,
    /// The control token, if the workers need one.
    pub token: Option<String>,
    /// Between the start message and the start, so every worker has it in time.
    pub lead: Duration,
    /// Receives each second's record merged over the workers, as it closes
    /// (the metrics exporters).
    pub intervals: Option<tokio::sync::mpsc::UnboundedSender<(u32, cliffload_engine::Recorded)>>,
}

/// What a distributed run measured: the merged output and each worker's part.
#[derive(Debug)]
pub struct Distributed {
    /// Merged over the workers.
    pub output: RunOutput,
    /// Each worker, in order.
    pub workers: Vec<WorkerReport>,
    /// The spread of the workers' actual starts.
    pub start_skew: Duration,
    /// The first worker's smoke calls.
    pub preflight: Vec<PreflightRow>,
    /// Problems `--preflight warn` let through, on any worker.
    pub tolerated: Vec<control::Tolerated>,
    /// Bytes of control messages received (intervals, results) and sent.
    pub control_bytes: u64,
}

/// One worker's part of a distributed run.
#[derive(Debug, Clone)]
pub struct WorkerReport {
    /// Its name.
    pub name: String,
    /// Its service id.
    pub id: String,
    /// Its generator threads.
    pub threads: usize,
    /// Requests it recorded.
    pub requests: u64,
    /// Of which failed.
    pub failures: u64,
    /// Median and 99th percentile of its successful requests, µs.
    pub p50_us: u64,
    /// 99th percentile, µs.
    pub p99_us: u64,
    /// CPU its generator threads spent.
    pub cpu: Option<Duration>,
    /// When it started after the first worker to start.
    pub start_offset: Duration,
    /// Fell silent before saying done.
    pub lost: bool,
    /// Why it could not run, if it could not.
    pub error: Option<String>,
}

/// A worker found by `$SRV.PING`.
#[derive(Debug, Clone)]
struct Found {
    id: String,
    name: String,
}

/// Runs `scenario` over `options.workers` workers; `progress` sees the
/// merged figures once a second.
pub async fn coordinate(
    scenario: &Scenario,
    options: &CoordinateOptions,
    mut progress: impl FnMut(Progress<'_>),
    cancel: &CancellationToken,
) -> Result<Distributed, DistError> {
    let client = cliffload_nats::connect(&options.control, "cliffload-coordinator").await?;
    let found = discover(&client, options.workers, options.wait, cancel).await?;
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let subjects = RunSubjects::new(&run_id);
    let mut inbox = client
        .subscribe(subjects.from_workers())
        .await
        .map_err(|e| DistError::Control(e.to_string()))?;
    let ready = match assign_all(&client, scenario, options, &found, &run_id, cancel).await {
        Ok(r) => r,
        Err(e) => {
            let _ = client.publish(subjects.stop(), "".into()).await;
            return Err(e);
        }
    };
    let started_at = SystemTime::now() + options.lead;
    let at_unix_ns = started_at
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let start = Instant::now() + options.lead;
    let start_msg = control::json(&Start { at_unix_ns });
    // The plans (one per worker, the same size but for the index) and the start.
    let plan_bytes = serde_json::to_vec(scenario).map_or(0, |p| p.len() as u64);
    let mut sent_bytes = plan_bytes * found.len() as u64 + start_msg.len() as u64;
    client
        .publish(subjects.start(), start_msg)
        .await
        .map_err(|e| DistError::Control(e.to_string()))?;
    let mut run = Collect::new(scenario, found.len(), start, options.intervals.clone());
    run.collect(
        &client,
        &subjects,
        &mut inbox,
        &mut progress,
        cancel,
        &mut sent_bytes,
    )
    .await;
    Ok(run.into_distributed(found, ready, started_at, sent_bytes))
}

/// Finds `wanted` workers, asking every 250 ms until `wait` is over.
async fn discover(
    client: &Client,
    wanted: usize,
    wait: Duration,
    cancel: &CancellationToken,
) -> Result<Vec<Found>, DistError> {
    let began = Instant::now();
    loop {
        let mut found = ping(client).await?;
        if found.len() >= wanted {
            found.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
            found.truncate(wanted);
            return Ok(found);
        }
        if began.elapsed() >= wait {
            return Err(DistError::NotEnoughWorkers {
                found: found.len(),
                wanted,
                waited_s: wait.as_secs_f64(),
                names: found.into_iter().map(|f| f.name).collect(),
            });
        }
        tokio::select! {
            () = cancel.cancelled() => return Err(DistError::Cancelled),
            () = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
    }
}

/// The workers answering `$SRV.PING.cliffload-worker` within 300 ms.
async fn ping(client: &Client) -> Result<Vec<Found>, DistError> {
    let inbox = client.new_inbox();
    let mut replies = client
        .subscribe(inbox.clone())
        .await
        .map_err(|e| DistError::Control(e.to_string()))?;
    client
        .publish_with_reply(format!("$SRV.PING.{SERVICE}"), inbox, "".into())
        .await
        .map_err(|e| DistError::Control(e.to_string()))?;
    let mut found = Vec::new();
    let deadline = Instant::now() + Duration::from_millis(300);
    while let Ok(Some(msg)) = tokio::time::timeout_at(deadline, replies.next()).await {
        if let Ok(p) = serde_json::from_slice::<async_nats::service::PingResponse>(&msg.payload) {
            let name = p
                .metadata
                .get("name")
                .cloned()
                .unwrap_or_else(|| p.id.clone());
            found.push(Found { id: p.id, name });
        }
    }
    Ok(found)
}

/// What a worker said when it was ready.
#[derive(Debug, Clone)]
struct Ready {
    threads: usize,
    preflight: Vec<PreflightRow>,
    tolerated: Vec<control::Tolerated>,
}

/// Sends every worker its assignment at once and waits until all are ready.
async fn assign_all(
    client: &Client,
    scenario: &Scenario,
    options: &CoordinateOptions,
    found: &[Found],
    run_id: &str,
    cancel: &CancellationToken,
) -> Result<Vec<Ready>, DistError> {
    let plan_hash = trust::plan_hash(scenario);
    let proof = options
        .token
        .as_deref()
        .map(|t| trust::proof(t, &plan_hash));
    let coordinator = format!(
        "coordinator pid {} on {}",
        std::process::id(),
        std::env::var("HOSTNAME").unwrap_or_else(|_| "this host".into())
    );
    let of = found.len() as u32;
    let requests = found.iter().enumerate().map(|(k, w)| {
        let assign = Assign {
            protocol: PROTOCOL,
            version: VERSION.to_owned(),
            run_id: run_id.to_owned(),
            coordinator: coordinator.clone(),
            scenario: scenario.clone(),
            plan_hash: plan_hash.clone(),
            proof: proof.clone(),
            index: k as u32,
            of,
            target: options.target.clone(),
        };
        async move {
            let request = async_nats::Request::new()
                .payload(control::json(&assign))
                .timeout(Some(PREPARE_WAIT));
            let reply = client
                .send_request(control::assign_subject(&w.id), request)
                .await;
            (w, reply)
        }
    });
    let replies = tokio::select! {
        () = cancel.cancelled() => return Err(DistError::Cancelled),
        r = futures_util::future::join_all(requests) => r,
    };
    replies
        .into_iter()
        .map(|(w, reply)| ready_of(w, reply))
        .collect()
}

/// A worker's reply to its assignment, or why it is not ready.
fn ready_of(
    w: &Found,
    reply: Result<async_nats::Message, async_nats::RequestError>,
) -> Result<Ready, DistError> {
    let failed = |verb, reason: String| DistError::Assign {
        worker: w.name.clone(),
        verb,
        reason,
    };
    let msg = reply.map_err(|e| failed("could not run", format!("no answer: {e}")))?;
    match serde_json::from_slice::<AssignReply>(&msg.payload) {
        Ok(AssignReply::Ready {
            threads,
            preflight,
            tolerated,
            ..
        }) => Ok(Ready {
            threads,
            preflight,
            tolerated,
        }),
        Ok(AssignReply::Refused { reason }) => Err(failed("refused", reason)),
        Ok(AssignReply::Failed { reason }) => Err(failed("could not run", reason)),
        Err(e) => Err(failed(
            "refused",
            format!("its answer is not this version's ({VERSION}): {e}"),
        )),
    }
}

/// Collects the workers' messages of a run and merges them.
struct Collect {
    merger: Merger,
    planned: Duration,
    start: Instant,
    heard: Vec<Instant>,
    done: Vec<Option<Done>>,
    lost: Vec<bool>,
    /// What each worker's intervals held, for the lost and for checking.
    received: Vec<TaskTable>,
    received_bytes: u64,
}

impl Collect {
    fn new(
        scenario: &Scenario,
        workers: usize,
        start: Instant,
        sink: Option<tokio::sync::mpsc::UnboundedSender<(u32, cliffload_engine::Recorded)>>,
    ) -> Self {
        Self {
            merger: Merger::new(
                workers,
                scenario.tasks.len(),
                start,
                scenario.arrival.is_some(),
            )
            .with_sink(sink),
            planned: scenario.duration,
            start,
            heard: vec![start; workers],
            done: vec![None; workers],
            lost: vec![false; workers],
            received: vec![TaskTable::new(scenario.tasks.len()); workers],
            received_bytes: 0,
        }
    }

    /// Until every worker is done or lost; says alive every second, and
    /// stop (once) on `cancel`. True if it sent stop.
    async fn collect(
        &mut self,
        client: &Client,
        subjects: &RunSubjects,
        inbox: &mut async_nats::Subscriber,
        progress: &mut impl FnMut(Progress<'_>),
        cancel: &CancellationToken,
        sent_bytes: &mut u64,
    ) -> bool {
        let mut tick = tokio::time::interval(HEARTBEAT);
        let mut stopped = false;
        while self.merger.running() > 0 {
            tokio::select! {
                Some(msg) = inbox.next() => {
                    self.received_bytes += msg.payload.len() as u64;
                    self.take(&msg);
                }
                _ = tick.tick() => {
                    *sent_bytes += 2;
                    let _ = client.publish(subjects.alive(), "{}".into()).await;
                    self.mark_silent();
                }
                () = cancel.cancelled(), if !stopped => {
                    stopped = true;
                    let _ = client.publish(subjects.stop(), "".into()).await;
                }
            }
            let planned = self.planned;
            self.merger.close_complete(|interval, totals| {
                progress(Progress {
                    interval,
                    totals,
                    planned,
                });
            });
        }
        stopped
    }

    /// One message from a worker.
    fn take(&mut self, msg: &async_nats::Message) {
        if msg.subject.ends_with(".interval") {
            let Ok(i) = rmp_serde::from_slice::<Interval>(&msg.payload) else {
                return;
            };
            let k = i.worker as usize;
            if k >= self.done.len() || self.done[k].is_some() || self.lost[k] {
                return;
            }
            self.heard[k] = Instant::now();
            self.received[k].merge(&i.record.table);
            self.merger.add(k, i.index, i.record);
        } else if msg.subject.ends_with(".done") {
            let Ok(d) = rmp_serde::from_slice::<Done>(&msg.payload) else {
                return;
            };
            let k = d.worker as usize;
            if k >= self.done.len() || self.done[k].is_some() || self.lost[k] {
                return;
            }
            self.merger.finish(k, self.start + d.elapsed, false);
            self.done[k] = Some(d);
        }
    }

    /// Workers not heard from for [`SILENCE`] are lost.
    fn mark_silent(&mut self) {
        let now = Instant::now();
        for k in 0..self.done.len() {
            let silent = now.saturating_duration_since(self.heard[k]) > SILENCE;
            if silent && self.done[k].is_none() && !self.lost[k] {
                self.lost[k] = true;
                self.merger.finish(k, now, true);
            }
        }
    }

    /// The merged output: totals from the `done` messages (exact), what the
    /// intervals held for the workers that were lost.
    fn into_distributed(
        self,
        found: Vec<Found>,
        ready: Vec<Ready>,
        started_at: SystemTime,
        sent_bytes: u64,
    ) -> Distributed {
        let starts: Vec<u128> = self
            .done
            .iter()
            .flatten()
            .map(|d| d.started_unix_ns)
            .collect();
        let first = starts.iter().min().copied().unwrap_or(0);
        let skew = starts.iter().max().copied().unwrap_or(0) - first;
        let workers = found
            .iter()
            .zip(&ready)
            .enumerate()
            .map(|(k, (f, r))| self.report(k, f, r, first))
            .collect();
        let threads: usize = ready.iter().map(|r| r.threads).sum();
        let cpu = self
            .done
            .iter()
            .try_fold(Duration::ZERO, |sum, d| Some(sum + d.as_ref()?.cpu?));
        let mut out = self.merger.into_output(started_at, threads, cpu);
        let tasks = self.received[0].tasks().len();
        let (mut totals, mut intended) = (TaskTable::new(tasks), TaskTable::new(tasks));
        let (mut late, mut never_sent, mut sent, mut lost_threads) = (0, 0, 0, 0);
        let mut never_sent_wait = LatencyHistogram::new();
        let mut errors = cliffload_metrics::ErrorLog::default();
        for (k, d) in self.done.iter().enumerate() {
            match d {
                Some(d) => {
                    totals.merge(&d.totals);
                    intended.merge(&d.intended);
                    late += d.late;
                    never_sent += d.never_sent;
                    sent += d.sent;
                    lost_threads += d.lost_threads;
                    never_sent_wait.merge(&d.never_sent_wait);
                    errors.merge(&d.errors);
                }
                None => {
                    totals.merge(&self.received[k]);
                    sent += self.received[k].counts().total();
                }
            }
        }
        out.totals = totals;
        out.intended = intended;
        out.late = late;
        out.never_sent = never_sent;
        out.sent = sent;
        out.planned = sent + never_sent;
        out.never_sent_wait = never_sent_wait;
        out.errors = errors;
        out.lost_workers = lost_threads;
        out.interrupted = self.done.iter().flatten().any(|d| d.interrupted);
        Distributed {
            output: out,
            workers,
            start_skew: Duration::from_nanos(u64::try_from(skew).unwrap_or(u64::MAX)),
            preflight: ready
                .first()
                .map(|r| r.preflight.clone())
                .unwrap_or_default(),
            tolerated: ready.iter().flat_map(|r| r.tolerated.clone()).collect(),
            control_bytes: self.received_bytes + sent_bytes,
        }
    }

    fn report(&self, k: usize, found: &Found, ready: &Ready, first_start: u128) -> WorkerReport {
        let table = self.done[k]
            .as_ref()
            .map_or(&self.received[k], |d| &d.totals);
        let counts = table.counts();
        let ok = table.merged(|o| o.class() == OutcomeClass::Success);
        let offset = self.done[k]
            .as_ref()
            .map_or(0, |d| d.started_unix_ns.saturating_sub(first_start));
        WorkerReport {
            name: found.name.clone(),
            id: found.id.clone(),
            threads: ready.threads,
            requests: counts.total(),
            failures: counts.in_class(OutcomeClass::Failure),
            p50_us: ok.quantile_us(0.50),
            p99_us: ok.quantile_us(0.99),
            cpu: self.done[k].as_ref().and_then(|d| d.cpu),
            start_offset: Duration::from_nanos(u64::try_from(offset).unwrap_or(u64::MAX)),
            lost: self.lost[k],
            error: self.done[k].as_ref().and_then(|d| d.error.clone()),
        }
    }
}

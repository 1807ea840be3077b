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
    self, Assign, AssignReply, Bounds, Done, HEARTBEAT, Interval, PROTOCOL, PreflightRow,
    RunSubjects, SERVICE, SILENCE, Start, VERSION,
};
use crate::seal::{self, Opener, Party, Sealer};
use crate::trust;

/// Refused messages a run keeps the words of (the rest are counted).
const REFUSALS_KEPT: usize = 10;

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
    /// Messages on the run's subjects that were refused (forged, replayed,
    /// out of bounds): how many, and the words of the first few.
    pub refused: Refusals,
}

/// Control messages a side refused: the count and the first few, each
/// naming the subject, the claimed sender and why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Refusals {
    /// How many.
    pub count: u64,
    /// The first `REFUSALS_KEPT`, in words.
    pub first: Vec<String>,
}

impl Refusals {
    fn add(&mut self, words: impl FnOnce() -> String) {
        self.count += 1;
        if self.first.len() < REFUSALS_KEPT {
            self.first.push(words());
        }
    }
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
    /// It says it has a control token.
    signed: bool,
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
    let found = discover(
        &client,
        options.workers,
        options.wait,
        options.token.is_some(),
        cancel,
    )
    .await?;
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let subjects = RunSubjects::new(&run_id);
    let token = options.token.as_deref();
    let sealer = Sealer::new(&run_id, Party::Coordinator, token);
    let mut opener = Opener::for_coordinator(&run_id, token, found.len() as u32);
    let mut inbox = client
        .subscribe(subjects.from_workers())
        .await
        .map_err(|e| DistError::Control(e.to_string()))?;
    let assigned = assign_all(
        &client,
        scenario,
        options,
        &found,
        (&run_id, &sealer, &mut opener),
        cancel,
    )
    .await;
    let ready = match assigned {
        Ok(r) => r,
        Err(e) => {
            let stop = subjects.stop();
            let _ = client
                .publish_with_headers(stop.clone(), sealer.seal(&stop, b""), "".into())
                .await;
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
    let start_subject = subjects.start();
    client
        .publish_with_headers(
            start_subject.clone(),
            sealer.seal(&start_subject, &start_msg),
            start_msg,
        )
        .await
        .map_err(|e| DistError::Control(e.to_string()))?;
    let mut run = Collect::new(
        scenario,
        found.clone(),
        start,
        opener,
        options.intervals.clone(),
    );
    let link = Link {
        client: &client,
        subjects: &subjects,
        sealer: &sealer,
    };
    run.collect(&link, &mut inbox, &mut progress, cancel, &mut sent_bytes)
        .await;
    Ok(run.into_distributed(found, ready, started_at, sent_bytes))
}

/// Finds `wanted` workers, asking every 250 ms until `wait` is over.
///
/// Only workers whose control token matches ours in kind are picked: with a
/// token, workers that say they have one; without, workers without. (What a
/// worker says is only its word: with a token, its replies must also be
/// signed, or the run stops.)
async fn discover(
    client: &Client,
    wanted: usize,
    wait: Duration,
    signed: bool,
    cancel: &CancellationToken,
) -> Result<Vec<Found>, DistError> {
    let began = Instant::now();
    loop {
        let (mut found, unlike): (Vec<Found>, Vec<Found>) = ping(client)
            .await?
            .into_iter()
            .partition(|f| f.signed == signed);
        if found.len() >= wanted {
            found.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
            found.truncate(wanted);
            return Ok(found);
        }
        if began.elapsed() >= wait {
            let mut names: Vec<String> = found.into_iter().map(|f| f.name).collect();
            let wanted_found = names.len();
            names.extend(unlike.into_iter().map(|f| {
                if signed {
                    format!("not {}: it has no control token", f.name)
                } else {
                    format!("not {}: it needs a control token", f.name)
                }
            }));
            return Err(DistError::NotEnoughWorkers {
                found: wanted_found,
                wanted,
                waited_s: wait.as_secs_f64(),
                names,
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
            let signed = p.metadata.get(control::TOKEN_METADATA).map(String::as_str) == Some("yes");
            found.push(Found {
                id: p.id,
                name: control::printable(&name),
                signed,
            });
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
    (run_id, sealer, opener): (&str, &Sealer, &mut Opener),
    cancel: &CancellationToken,
) -> Result<Vec<Ready>, DistError> {
    let plan_hash = trust::plan_hash(scenario);
    let coordinator = format!(
        "coordinator pid {} on {}",
        std::process::id(),
        std::env::var("HOSTNAME").unwrap_or_else(|_| "this host".into())
    );
    let of = found.len() as u32;
    // A data file's rows travel with the plan: a plan over the server's
    // max_payload would be refused message by message, so say it once.
    let bytes = control::json(scenario).len();
    let max = client.server_info().max_payload;
    if max > 0 && bytes > max {
        return Err(DistError::PlanTooLarge { bytes, max });
    }
    let requests = found.iter().enumerate().map(|(k, w)| {
        let assign = Assign {
            protocol: PROTOCOL,
            version: VERSION.to_owned(),
            run_id: run_id.to_owned(),
            coordinator: coordinator.clone(),
            scenario: scenario.clone(),
            plan_hash: plan_hash.clone(),
            index: k as u32,
            of,
            target: options.target.clone(),
        };
        let subject = control::assign_subject(&w.id);
        let payload = control::json(&assign);
        let headers = sealer.seal(&subject, &payload);
        async move {
            let request = async_nats::Request::new()
                .headers(headers)
                .payload(payload)
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
        .enumerate()
        .map(|(k, (w, reply))| ready_of(w, k as u32, reply, opener))
        .collect()
}

/// A worker's reply to its assignment, or why it is not ready.
///
/// A refusal or a failure is believed as it comes (it can only stop the
/// run, which anyone who may publish can do); a `ready` must be sealed by
/// worker `k` of this run, so a worker without the run's token, or anyone
/// answering in its place, cannot join.
fn ready_of(
    w: &Found,
    k: u32,
    reply: Result<async_nats::Message, async_nats::RequestError>,
    opener: &mut Opener,
) -> Result<Ready, DistError> {
    let failed = |verb, reason: String| DistError::Assign {
        worker: w.name.clone(),
        verb,
        reason,
    };
    let msg = reply.map_err(|e| failed("could not run", format!("no answer: {e}")))?;
    if msg.payload.len() > seal::MAX_MESSAGE {
        return Err(failed("refused", "its answer is too large".into()));
    }
    match serde_json::from_slice::<AssignReply>(&msg.payload) {
        Ok(AssignReply::Ready {
            threads,
            preflight,
            tolerated,
            ..
        }) => {
            match opener.open(msg.subject.as_str(), msg.headers.as_ref(), &msg.payload) {
                Ok(sealed) if sealed.from == Party::Worker(k) => {}
                Ok(sealed) => {
                    return Err(failed(
                        "refused",
                        format!(
                            "its answer came sealed as {}, not as worker {}",
                            sealed.from,
                            k + 1
                        ),
                    ));
                }
                Err(seal::Refusal::Unsigned) => {
                    return Err(failed(
                        "refused",
                        "its answer is not signed: it has no control token; start it with the same --control-token as the coordinator".into(),
                    ));
                }
                Err(why) => {
                    return Err(failed("refused", format!("its answer was refused: {why}")));
                }
            }
            Ok(Ready {
                threads: threads.clamp(1, 4096),
                preflight,
                tolerated,
            })
        }
        Ok(AssignReply::Refused { reason }) => Err(failed("refused", control::printable(&reason))),
        Ok(AssignReply::Failed { reason }) => {
            Err(failed("could not run", control::printable(&reason)))
        }
        Err(e) => Err(failed(
            "refused",
            format!("its answer is not this version's ({VERSION}): {e}"),
        )),
    }
}

/// How the coordinator speaks to its workers during a run.
struct Link<'a> {
    client: &'a Client,
    subjects: &'a RunSubjects,
    sealer: &'a Sealer,
}

impl Link<'_> {
    /// Publishes a sealed message on `subject`.
    async fn say(&self, subject: String, payload: &'static [u8]) {
        let headers = self.sealer.seal(&subject, payload);
        let _ = self
            .client
            .publish_with_headers(subject, headers, bytes::Bytes::from_static(payload))
            .await;
    }
}

/// Collects the workers' messages of a run and merges them.
struct Collect {
    merger: Merger,
    planned: Duration,
    start: Instant,
    /// Who may send what, and what they have sent so far.
    opener: Opener,
    bounds: Bounds,
    tasks: usize,
    found: Vec<Found>,
    heard: Vec<Instant>,
    done: Vec<Option<Done>>,
    lost: Vec<bool>,
    /// What each worker's intervals held, for the lost and for checking.
    received: Vec<TaskTable>,
    received_bytes: u64,
    refused: Refusals,
}

/// A message from a worker, as the coordinator takes it.
enum Said {
    Interval(Box<Interval>),
    Done(Box<Done>),
}

impl Collect {
    fn new(
        scenario: &Scenario,
        found: Vec<Found>,
        start: Instant,
        opener: Opener,
        sink: Option<tokio::sync::mpsc::UnboundedSender<(u32, cliffload_engine::Recorded)>>,
    ) -> Self {
        let workers = found.len();
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
            opener,
            bounds: Bounds::of(scenario),
            tasks: scenario.tasks.len(),
            found,
            heard: vec![start; workers],
            done: vec![None; workers],
            lost: vec![false; workers],
            received: vec![TaskTable::new(scenario.tasks.len()); workers],
            received_bytes: 0,
            refused: Refusals::default(),
        }
    }

    /// Until every worker is done or lost; says alive every second, and
    /// stop (once) on `cancel`. True if it sent stop.
    async fn collect(
        &mut self,
        link: &Link<'_>,
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
                    self.take(msg.subject.as_str(), msg.headers.as_ref(), &msg.payload);
                }
                _ = tick.tick() => {
                    *sent_bytes += 2;
                    link.say(link.subjects.alive(), b"{}").await;
                    self.mark_silent();
                }
                () = cancel.cancelled(), if !stopped => {
                    stopped = true;
                    link.say(link.subjects.stop(), b"").await;
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

    /// One message on the run's subjects. Only a sealed message from a
    /// worker of the run, in sequence, within its bounds and about itself
    /// is taken; anything else is counted as refused and changes nothing.
    fn take(&mut self, subject: &str, headers: Option<&async_nats::HeaderMap>, payload: &[u8]) {
        let kind = subject.rsplit('.').next().unwrap_or_default();
        if kind != "interval" && kind != "done" {
            // The coordinator's own start, alive and stop come back to it.
            return;
        }
        let claimed = headers
            .and_then(|h| h.get(seal::FROM))
            .map_or_else(|| "nobody".to_owned(), |v| control::printable(v.as_str()));
        if let Err(why) = self.accept(kind, headers, subject, payload) {
            self.refused.add(|| {
                format!("a {kind} message on {subject} claiming to be from {claimed}: {why}")
            });
        }
    }

    fn accept(
        &mut self,
        kind: &str,
        headers: Option<&async_nats::HeaderMap>,
        subject: &str,
        payload: &[u8],
    ) -> Result<(), String> {
        let sealed = self
            .opener
            .check(subject, headers, payload)
            .map_err(|e| e.to_string())?;
        let Party::Worker(k) = sealed.from else {
            return Err("not from a worker".into());
        };
        let said = self.decode(kind, payload)?;
        let k = k as usize;
        if self.done[k].is_some() || self.lost[k] {
            return Err(format!(
                "{} ({}) has already ended",
                self.found[k].name, sealed.from
            ));
        }
        let claims = match &said {
            Said::Interval(i) => i.worker,
            Said::Done(d) => d.worker,
        };
        if claims as usize != k {
            return Err(format!(
                "it is sealed by worker {} and says it is worker {}",
                k + 1,
                claims.saturating_add(1)
            ));
        }
        let end = match &said {
            Said::Done(d) => Some(
                self.start
                    .checked_add(d.elapsed)
                    .ok_or("its elapsed time overflows")?,
            ),
            Said::Interval(_) => None,
        };
        self.opener.commit(subject, &sealed);
        match said {
            Said::Interval(i) => {
                let i = *i;
                self.heard[k] = Instant::now();
                self.received[k].merge(&i.record.table);
                self.merger.add(k, i.index, i.record);
            }
            Said::Done(d) => {
                self.merger.finish(k, end.unwrap_or(self.start), false);
                self.done[k] = Some(*d);
            }
        }
        Ok(())
    }

    /// The message's body, within this run's bounds: histograms no more
    /// than its tasks hold, no second past the run, no task it does not have.
    fn decode(&self, kind: &str, payload: &[u8]) -> Result<Said, String> {
        // Two tables of a histogram per task and outcome, and one for the waits.
        let histograms = 2 * self.tasks * cliffload_metrics::Outcome::COUNT + 1;
        let decode = |p: &[u8]| -> Result<Said, String> {
            if kind == "interval" {
                rmp_serde::from_slice::<Interval>(p).map(|i| Said::Interval(Box::new(i)))
            } else {
                rmp_serde::from_slice::<Done>(p).map(|d| Said::Done(Box::new(d)))
            }
            .map_err(|e| format!("not a {kind} message of cliffload {VERSION}: {e}"))
        };
        let said = cliffload_metrics::decode_budget::limit(histograms, || decode(payload))?;
        let b = self.bounds;
        let within = |tables: &[&TaskTable], errors: &cliffload_metrics::ErrorLog| {
            tables
                .iter()
                .all(|t| t.tasks().len() <= self.tasks && t.reply_bytes().len() <= self.tasks)
                && errors.tasks().all(|task| task < self.tasks)
        };
        match &said {
            Said::Interval(i) => {
                if i.index > b.last_index {
                    return Err(format!(
                        "second {} is past the run's last possible second, {}",
                        i.index, b.last_index
                    ));
                }
                if !within(&[&i.record.table, &i.record.intended], &i.record.errors) {
                    return Err("it records tasks the plan does not have".into());
                }
            }
            Said::Done(d) => {
                if d.elapsed > b.longest {
                    return Err(format!(
                        "it says it ran {:.0} s, longer than the run can ({:.0} s)",
                        d.elapsed.as_secs_f64(),
                        b.longest.as_secs_f64()
                    ));
                }
                if !within(&[&d.totals, &d.intended], &d.errors) {
                    return Err("it records tasks the plan does not have".into());
                }
            }
        }
        Ok(said)
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
            .try_fold(Duration::ZERO, |sum, d| sum.checked_add(d.as_ref()?.cpu?));
        let mut out = self.merger.into_output(started_at, threads, cpu);
        let tasks = self.received[0].tasks().len();
        let (mut totals, mut intended) = (TaskTable::new(tasks), TaskTable::new(tasks));
        let (mut late, mut never_sent, mut sent, mut lost_threads) = (0, 0, 0, 0);
        let mut never_sent_wait = LatencyHistogram::new();
        let mut errors = cliffload_metrics::ErrorLog::default();
        for (k, d) in self.done.iter().enumerate() {
            match d {
                Some(d) => {
                    // Saturating: the figures are a worker's word.
                    totals.merge(&d.totals);
                    intended.merge(&d.intended);
                    late = d.late.saturating_add(late);
                    never_sent = d.never_sent.saturating_add(never_sent);
                    sent = d.sent.saturating_add(sent);
                    lost_threads = d.lost_threads.saturating_add(lost_threads);
                    never_sent_wait.merge(&d.never_sent_wait);
                    errors.merge(&d.errors);
                }
                None => {
                    totals.merge(&self.received[k]);
                    sent = self.received[k].counts().total().saturating_add(sent);
                }
            }
        }
        out.totals = totals;
        out.intended = intended;
        out.late = late;
        out.never_sent = never_sent;
        out.sent = sent;
        out.planned = sent.saturating_add(never_sent);
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
            refused: self.refused,
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

#[cfg(test)]
mod tests {
    //! Issue 26: the coordinator's handler, played as an attacker on the
    //! run's subjects would: nothing it sends panics, allocates past the
    //! run's bounds, or changes the result.

    use cliffload_engine::Recorded;
    use cliffload_metrics::{ErrorLog, Outcome};
    use proptest::prelude::*;

    use super::*;

    const TOKEN: &str = "the-token";

    fn scenario() -> Scenario {
        cliffload_scenario::catalog::builtin()
            .get("ping")
            .expect("ping")
            .clone()
    }

    fn collect(token: Option<&str>) -> (Collect, RunSubjects) {
        let found = vec![Found {
            id: "id0".into(),
            name: "w0".into(),
            signed: token.is_some(),
        }];
        let opener = Opener::for_coordinator("run1", token, 1);
        let c = Collect::new(&scenario(), found, Instant::now(), opener, None);
        (c, RunSubjects::new("run1"))
    }

    fn record(latencies_us: &[u64]) -> Recorded {
        let mut r = Recorded::new(1);
        for us in latencies_us {
            r.table.record(0, Outcome::Ok, Duration::from_micros(*us));
        }
        r.active = 1;
        r
    }

    fn done(elapsed: Duration, sent: u64, table: TaskTable) -> Done {
        Done {
            worker: 0,
            started_unix_ns: 1,
            elapsed,
            totals: table,
            intended: TaskTable::new(1),
            late: 0,
            planned: sent,
            sent,
            never_sent: 0,
            never_sent_wait: LatencyHistogram::new(),
            errors: ErrorLog::default(),
            cpu: None,
            threads: 1,
            lost_threads: 0,
            interrupted: false,
            error: None,
        }
    }

    /// The honest worker's run: two seconds and its done.
    fn honest(sealer: &Sealer, s: &RunSubjects) -> Vec<(String, async_nats::HeaderMap, Vec<u8>)> {
        let mut total = TaskTable::new(1);
        let mut out = Vec::new();
        for (index, lat) in [(0u32, vec![100, 200, 300]), (1, vec![150, 250])] {
            let rec = record(&lat);
            total.merge(&rec.table);
            let body = control::pack(&Interval {
                worker: 0,
                index,
                record: rec,
            });
            out.push((
                s.interval(),
                sealer.seal(&s.interval(), &body),
                body.to_vec(),
            ));
        }
        let body = control::pack(&done(Duration::from_millis(1900), 5, total));
        out.push((s.done(), sealer.seal(&s.done(), &body), body.to_vec()));
        out
    }

    /// What a result is judged on.
    fn figures(c: Collect) -> (u64, u64, Vec<u8>, usize, u64) {
        let found = c.found.clone();
        let ready = vec![Ready {
            threads: 1,
            preflight: Vec::new(),
            tolerated: Vec::new(),
        }];
        let d = c.into_distributed(found, ready, SystemTime::UNIX_EPOCH, 0);
        let o = &d.output;
        (
            o.totals.counts().total(),
            o.sent,
            o.totals.merged(|_| true).to_bytes(),
            o.intervals.len(),
            d.refused.count,
        )
    }

    fn play(
        token: Option<&str>,
        attacks: &[(String, Option<async_nats::HeaderMap>, Vec<u8>)],
    ) -> (u64, u64, Vec<u8>, usize, u64) {
        let (mut c, s) = collect(token);
        let sealer = Sealer::new("run1", Party::Worker(0), token);
        let honest = honest(&sealer, &s);
        // The attacks land between the worker's messages.
        for (k, (subject, h, body)) in honest.iter().enumerate() {
            for (a_subject, a_h, a_body) in attacks.iter().skip(k).step_by(honest.len()) {
                c.take(a_subject, a_h.as_ref(), a_body);
            }
            c.take(subject, Some(h), body);
        }
        figures(c)
    }

    /// A message an attacker can make: any subject of the run's, any seal
    /// (none, wrong token, a right-looking unsigned one), any body (bytes,
    /// or a well-formed record with fields at their extremes).
    fn attack() -> impl Strategy<Value = (String, Option<async_nats::HeaderMap>, Vec<u8>)> {
        let s = RunSubjects::new("run1");
        let subject = prop_oneof![Just(s.interval()), Just(s.done()), Just(s.start())];
        let body = prop_oneof![
            prop::collection::vec(any::<u8>(), 0..200),
            (any::<u32>(), any::<u32>()).prop_map(|(worker, index)| control::pack(&Interval {
                worker,
                index,
                record: record(&[1, 60_000_000]),
            })
            .to_vec()),
            (any::<u64>(), any::<u32>(), any::<u64>()).prop_map(|(secs, nanos, sent)| {
                let mut d = done(
                    Duration::new(secs, nanos % 1_000_000_000),
                    sent,
                    TaskTable::new(1),
                );
                d.late = sent;
                d.lost_threads = usize::MAX;
                control::pack(&d).to_vec()
            }),
        ];
        let seal = prop_oneof![Just(None::<&'static str>), Just(Some("wrong-token")),];
        (subject, seal, any::<bool>(), body).prop_map(|(subject, token, headers, body)| {
            let h =
                headers.then(|| Sealer::new("run1", Party::Worker(0), token).seal(&subject, &body));
            (subject, h, body)
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// With a token, nothing an outsider sends changes the result, and
        /// every one of its messages on interval and done is counted refused.
        #[test]
        fn with_a_token_no_outsider_message_changes_the_result(
            attacks in prop::collection::vec(attack(), 0..12)
        ) {
            let clean = play(Some(TOKEN), &[]);
            let attacked = play(Some(TOKEN), &attacks);
            let on_run = attacks.iter().filter(|(s, ..)| !s.ends_with(".start")).count() as u64;
            prop_assert_eq!(&attacked.0, &clean.0);
            prop_assert_eq!(&attacked.1, &clean.1);
            prop_assert_eq!(&attacked.2, &clean.2);
            prop_assert_eq!(&attacked.3, &clean.3);
            prop_assert_eq!(attacked.4, on_run);
        }

        /// Without a token anyone may speak for a worker, but still only
        /// within the run's bounds: no panic, no second past the run.
        #[test]
        fn without_a_token_arbitrary_messages_never_panic_or_pass_the_bounds(
            attacks in prop::collection::vec(attack(), 0..12)
        ) {
            let (_, _, _, intervals, _) = play(None, &attacks);
            prop_assert!(intervals as u32 <= Bounds::of(&scenario()).last_index + 1);
        }
    }

    #[test]
    fn a_replayed_or_out_of_bounds_message_is_refused_and_named() {
        let (mut c, s) = collect(Some(TOKEN));
        let sealer = Sealer::new("run1", Party::Worker(0), Some(TOKEN));
        let msgs = honest(&sealer, &s);
        let (subject, h, body) = &msgs[0];
        c.take(subject, Some(h), body);
        c.take(subject, Some(h), body);
        let huge = control::pack(&Interval {
            worker: 0,
            index: 4_000_000_000,
            record: record(&[5]),
        });
        c.take(
            &s.interval(),
            Some(&sealer.seal(&s.interval(), &huge)),
            &huge,
        );
        let forever = control::pack(&done(Duration::MAX, 1, TaskTable::new(1)));
        c.take(&s.done(), Some(&sealer.seal(&s.done(), &forever)), &forever);
        let mut five = TaskTable::new(5);
        five.record(4, Outcome::Ok, Duration::from_micros(9));
        let wide = control::pack(&done(Duration::from_secs(1), 1, five));
        c.take(&s.done(), Some(&sealer.seal(&s.done(), &wide)), &wide);
        let words = c.refused.first.join("\n");
        assert_eq!(c.refused.count, 4, "{words}");
        assert!(words.contains("replay"), "{words}");
        assert!(words.contains("second 4000000000 is past"), "{words}");
        assert!(words.contains("longer than the run can"), "{words}");
        assert!(words.contains("tasks the plan does not have"), "{words}");
        assert!(words.contains("claiming to be from worker.0"), "{words}");
        assert!(c.done[0].is_none(), "no done was taken");
    }

    #[test]
    fn a_message_of_many_tiny_histograms_is_refused_before_it_allocates_them() {
        let (mut c, s) = collect(None);
        let mut r = Recorded::new(1);
        // A table of 4,000 rows, each with a histogram: 560 MB once decoded.
        r.table = TaskTable::new(4000);
        for task in 0..4000 {
            r.table.record(task, Outcome::Ok, Duration::from_micros(1));
        }
        let body = control::pack(&Interval {
            worker: 0,
            index: 0,
            record: r,
        });
        let sealer = Sealer::new("run1", Party::Worker(0), None);
        c.take(
            &s.interval(),
            Some(&sealer.seal(&s.interval(), &body)),
            &body,
        );
        assert_eq!(c.refused.count, 1);
        assert!(
            c.refused.first[0].contains("more histograms"),
            "{:?}",
            c.refused.first
        );
    }
}

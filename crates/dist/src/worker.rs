//! `cliffload worker`: waits for plans on the control server, runs its share
//! of each, and reports every second and at the end.
//!
//! One run at a time: an assignment that arrives during a run is refused as
//! busy. A worker runs a plan only from a coordinator of its own version and
//! protocol, only if the plan matches its hash, and, when it has a control
//! token, only with a proof made with the same token. It stops a run when
//! told to, and by itself when its coordinator falls silent.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_nats::Client;
use async_nats::service::{Request, ServiceExt};
use cliffload_engine::{
    CancellationToken, Plan, Recorded, RunOptions, RunOutput, StartGate, build_payloads, run,
};
use cliffload_nats::{NatsAccess, NatsConnector, Target};
use futures_util::StreamExt;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::DistError;
use crate::control::{
    self, Assign, AssignReply, Done, HEARTBEAT, Interval, PROTOCOL, RunSubjects, SERVICE, SILENCE,
    Start, VERSION,
};
use crate::share::share;
use crate::trust;

/// How long a worker waits for the start after saying it is ready.
const START_WAIT: Duration = Duration::from_secs(60);

/// Where a worker's log lines go.
pub type Log = Arc<dyn Fn(&str) + Send + Sync>;

/// How a worker runs.
#[derive(Clone)]
pub struct WorkerOptions {
    /// Its name (in the coordinator's report and `$SRV.INFO`).
    pub name: String,
    /// The control server; its credentials and TLS also log in to the
    /// system under test, whose servers each plan names.
    pub access: NatsAccess,
    /// The control token plans must be signed with, if any.
    pub token: Option<String>,
    /// Generator threads.
    pub threads: usize,
    /// Stop after one run.
    pub exit_after_run: bool,
    /// Its log.
    pub log: Log,
}

impl std::fmt::Debug for WorkerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerOptions")
            .field("name", &self.name)
            .field("control", &self.access.display())
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("threads", &self.threads)
            .field("exit_after_run", &self.exit_after_run)
            .finish_non_exhaustive()
    }
}

/// Registers as `cliffload-worker` and runs the plans it is given until
/// `shutdown` (or, with `exit_after_run`, until one run has ended).
pub async fn serve(options: WorkerOptions, shutdown: CancellationToken) -> Result<(), DistError> {
    let client = cliffload_nats::connect(
        &options.access,
        &format!("cliffload-worker/{}", options.name),
    )
    .await?;
    let service = client
        .service_builder()
        .description("cliffload load generator (distributed worker)")
        .metadata(
            [
                ("name".to_owned(), options.name.clone()),
                ("protocol".to_owned(), PROTOCOL.to_string()),
            ]
            .into(),
        )
        .start(SERVICE, VERSION)
        .await
        .map_err(|e| DistError::Register(e.to_string()))?;
    let id = service.info().await.id;
    let subject = control::assign_subject(&id);
    let mut assignments = service
        .endpoint_builder()
        .name("assign")
        .add(subject.clone())
        .await
        .map_err(|e| DistError::Register(e.to_string()))?;
    (options.log)(&format!(
        "worker {} ({SERVICE} {VERSION}, id {id}) waiting for work on {subject} at {}",
        options.name,
        options.access.display()
    ));
    // One run at a time, in this task (the engine's future is not `Send`):
    // an assignment during a run is refused as busy.
    let mut current: Option<std::pin::Pin<Box<dyn std::future::Future<Output = bool> + '_>>> = None;
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            ran = async { current.as_mut().expect("guarded").await }, if current.is_some() => {
                current = None;
                if ran && options.exit_after_run {
                    break;
                }
            }
            r = assignments.next() => {
                let Some(request) = r else {
                    return Err(DistError::Control("the connection closed".into()));
                };
                if current.is_some() {
                    respond(&request, &AssignReply::Refused {
                        reason: format!("worker {} is busy with another run", options.name),
                    })
                    .await;
                    continue;
                }
                current = Some(Box::pin(assignment(&client, request, &options, shutdown.child_token())));
            }
        }
    }
    let _ = service.stop().await;
    Ok(())
}

async fn respond(request: &Request, reply: &AssignReply) {
    let _ = request.respond(Ok(control::json(reply))).await;
}

/// One assignment, from checks to the `done` message; true if a load ran.
async fn assignment(
    client: &Client,
    request: Request,
    options: &WorkerOptions,
    stop: CancellationToken,
) -> bool {
    let log = &options.log;
    let assign: Assign = match serde_json::from_slice(&request.message.payload) {
        Ok(a) => a,
        Err(e) => {
            let reason = format!("not a cliffload {VERSION} plan (protocol {PROTOCOL}): {e}");
            log(&format!("refused a plan: {reason}"));
            respond(&request, &AssignReply::Refused { reason }).await;
            return false;
        }
    };
    if let Err(reason) = admit(&assign, options.token.as_deref()) {
        log(&format!(
            "refused the plan of {}: {reason}",
            assign.coordinator
        ));
        respond(&request, &AssignReply::Refused { reason }).await;
        return false;
    }
    log(&format!(
        "plan from {}: scenario {} (hash {}), worker {} of {}, to {} on {}",
        assign.coordinator,
        assign.scenario.name,
        &assign.plan_hash[..12],
        assign.index + 1,
        assign.of,
        assign
            .scenario
            .tasks
            .iter()
            .map(|t| t.request.subject.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        assign.target.join(",")
    ));
    let prepared = match prepare(&assign, options).await {
        Ok(p) => p,
        Err(reason) => {
            log(&format!("cannot run it: {reason}"));
            respond(&request, &AssignReply::Failed { reason }).await;
            return false;
        }
    };
    execute(client, request, assign, prepared, options, stop).await;
    true
}

/// Why a worker will not run `assign`, if it will not.
fn admit(assign: &Assign, token: Option<&str>) -> Result<(), String> {
    if assign.protocol != PROTOCOL || assign.version != VERSION {
        return Err(format!(
            "version mismatch: this worker is cliffload {VERSION} (protocol {PROTOCOL}), the coordinator {} (protocol {}); run the same version on both",
            assign.version, assign.protocol
        ));
    }
    if trust::plan_hash(&assign.scenario) != assign.plan_hash {
        return Err(
            "the plan does not match its hash: it was altered or damaged on the way".into(),
        );
    }
    match (token, &assign.proof) {
        (None, _) => Ok(()),
        (Some(t), Some(p)) if trust::verify(t, &assign.plan_hash, p) => Ok(()),
        (Some(_), Some(_)) => Err("the control token does not match this worker's (--control-token)".into()),
        (Some(_), None) => Err("this worker needs a control token and the plan has none (give the coordinator --control-token)".into()),
    }
}

/// A plan ready to run: payloads built, preflight passed.
struct Prepared {
    plan: Arc<Plan>,
    slice: cliffload_engine::Slice,
    target: NatsAccess,
    targets: Vec<Target>,
    preflight: cliffload_nats::Preflight,
}

/// Builds this worker's share and makes its smoke calls.
async fn prepare(assign: &Assign, options: &WorkerOptions) -> Result<Prepared, String> {
    let share = share(&assign.scenario, assign.index, assign.of)
        .ok_or_else(|| format!("worker {} of {} does not exist", assign.index, assign.of))?;
    let scenario = share.scenario;
    let payloads = build_payloads(&scenario).map_err(|e| e.to_string())?;
    let plan = Arc::new(Plan::new(&scenario, payloads));
    let target = NatsAccess {
        servers: assign.target.clone(),
        ..options.access.clone()
    };
    let targets: Vec<Target> = scenario
        .tasks
        .iter()
        .map(|t| Target::of(&t.name, &t.request))
        .collect();
    let client = cliffload_nats::connect(
        &target,
        &format!("cliffload-worker/{}/preflight", options.name),
    )
    .await
    .map_err(|e| e.to_string())?;
    let preflight = cliffload_nats::preflight(&client, &plan, &targets, scenario.preflight)
        .await
        .map_err(|e| e.to_string())?;
    Ok(Prepared {
        plan,
        slice: share.slice,
        target,
        targets,
        preflight,
    })
}

/// Connects the generator threads, says ready, waits for the start, runs,
/// forwards each second, and says done.
async fn execute(
    client: &Client,
    request: Request,
    assign: Assign,
    prepared: Prepared,
    options: &WorkerOptions,
    stop: CancellationToken,
) {
    let log = &options.log;
    let subjects = RunSubjects::new(&assign.run_id);
    let control = match subscribe(client, &subjects).await {
        Ok(c) => c,
        Err(reason) => {
            respond(&request, &AssignReply::Failed { reason }).await;
            return;
        }
    };
    let (connected_tx, mut connected) = mpsc::unbounded_channel();
    let (go_tx, go) = watch::channel(false);
    let (sink, records) = mpsc::unbounded_channel();
    let cancel = stop.child_token();
    let connector = Arc::new(NatsConnector::new(
        prepared.target.clone(),
        &format!("cliffload-worker/{}", options.name),
        prepared.targets.clone(),
    ));
    let engine_options = RunOptions {
        workers: options.threads.max(1),
        slice: prepared.slice,
        intervals: Some(sink),
        gate: Some(StartGate {
            connected: connected_tx,
            go,
        }),
        ..RunOptions::default()
    };
    let engine = run(
        prepared.plan.clone(),
        connector,
        engine_options,
        cancel.clone(),
        |_| {},
    );
    tokio::pin!(engine);
    let ready = tokio::select! {
        c = connected.recv() => c.is_some(),
        _ = engine.as_mut() => false,
    };
    if !ready {
        let reason = "its generator threads could not connect to the system under test".to_owned();
        log(&format!("cannot run it: {reason}"));
        respond(&request, &AssignReply::Failed { reason }).await;
        return;
    }
    respond(&request, &ready_reply(options, &prepared)).await;
    let mut run = Running {
        client,
        subjects: &subjects,
        worker: assign.index,
        log,
        cancel,
    };
    let output = run.drive(control, go_tx, records, engine).await;
    run.finish(output).await;
}

/// The answer of a worker whose threads are connected.
fn ready_reply(options: &WorkerOptions, prepared: &Prepared) -> AssignReply {
    AssignReply::Ready {
        name: options.name.clone(),
        threads: options.threads.max(1),
        preflight: prepared.preflight.reports.iter().map(Into::into).collect(),
        tolerated: prepared.preflight.tolerated.clone(),
    }
}

/// The subscriptions a worker needs during a run.
struct Control {
    start: async_nats::Subscriber,
    stop: async_nats::Subscriber,
    alive: async_nats::Subscriber,
}

async fn subscribe(client: &Client, s: &RunSubjects) -> Result<Control, String> {
    let sub = |subject: String| async move {
        client
            .subscribe(subject.clone())
            .await
            .map_err(|e| format!("cannot subscribe to {subject}: {e}"))
    };
    Ok(Control {
        start: sub(s.start()).await?,
        stop: sub(s.stop()).await?,
        alive: sub(s.alive()).await?,
    })
}

/// A run under way on a worker.
struct Running<'a> {
    client: &'a Client,
    subjects: &'a RunSubjects,
    worker: u32,
    log: &'a Log,
    cancel: CancellationToken,
}

/// The engine's run, in this task.
type EngineRun<'a> = std::pin::Pin<
    &'a mut (
                dyn std::future::Future<Output = Result<RunOutput, cliffload_engine::EngineError>>
                    + 'a
            ),
>;

impl Running<'_> {
    /// Waits for the start, gives the go at its instant, forwards each
    /// second's record, and stops on `stop` or a silent coordinator.
    async fn drive(
        &mut self,
        mut control: Control,
        go: watch::Sender<bool>,
        mut records: mpsc::UnboundedReceiver<(u32, Recorded)>,
        mut engine: EngineRun<'_>,
    ) -> Result<RunOutput, String> {
        let waited = tokio::time::timeout(START_WAIT, control.start.next()).await;
        let start: Option<Start> = waited
            .ok()
            .flatten()
            .and_then(|m| serde_json::from_slice(&m.payload).ok());
        let Some(start) = start else {
            (self.log)("no start came within 60 s: the run is off");
            self.cancel.cancel();
            let _ = engine.as_mut().await;
            return Err("no start message came within 60 s".into());
        };
        tokio::time::sleep(until(start.at_unix_ns)).await;
        let _ = go.send(true);
        let mut heard = Instant::now();
        let mut tick = tokio::time::interval(HEARTBEAT);
        loop {
            tokio::select! {
                out = engine.as_mut() => {
                    while let Ok((index, record)) = records.try_recv() {
                        self.publish_interval(index, record).await;
                    }
                    return out.map_err(|e| e.to_string());
                }
                Some((index, record)) = records.recv() => self.publish_interval(index, record).await,
                Some(_) = control.stop.next() => {
                    (self.log)("stopped by the coordinator");
                    self.cancel.cancel();
                }
                Some(_) = control.alive.next() => heard = Instant::now(),
                _ = tick.tick() => {
                    if heard.elapsed() > SILENCE && !self.cancel.is_cancelled() {
                        (self.log)("the coordinator fell silent: stopping the run");
                        self.cancel.cancel();
                    }
                }
            }
        }
    }

    async fn publish_interval(&self, index: u32, record: Recorded) {
        let msg = Interval {
            worker: self.worker,
            index,
            record,
        };
        let _ = self
            .client
            .publish(self.subjects.interval(), control::pack(&msg))
            .await;
    }

    /// Says done, with the whole run's totals (or why it could not run).
    async fn finish(&self, output: Result<RunOutput, String>) {
        let done = match output {
            Ok(o) => done_of(self.worker, o, self.cancel.is_cancelled()),
            Err(e) => Done {
                error: Some(e),
                ..done_of(self.worker, empty_output(), true)
            },
        };
        (self.log)(&format!(
            "run done: {} requests sent{}",
            done.sent,
            done.error
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        ));
        let _ = self
            .client
            .publish(self.subjects.done(), control::pack(&done))
            .await;
        let _ = self.client.flush().await;
    }
}

/// From now until `at_unix_ns` (zero if it has passed).
fn until(at_unix_ns: u128) -> Duration {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    Duration::from_nanos(u64::try_from(at_unix_ns.saturating_sub(now)).unwrap_or(u64::MAX))
}

fn done_of(worker: u32, o: RunOutput, interrupted: bool) -> Done {
    Done {
        worker,
        started_unix_ns: o
            .started_at
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
        elapsed: o.elapsed,
        totals: o.totals,
        intended: o.intended,
        late: o.late,
        planned: o.planned,
        sent: o.sent,
        never_sent: o.never_sent,
        never_sent_wait: o.never_sent_wait,
        errors: o.errors,
        cpu: o.generator_cpu,
        threads: o.workers,
        lost_threads: o.lost_workers,
        interrupted: interrupted || o.interrupted,
        error: None,
    }
}

fn empty_output() -> RunOutput {
    RunOutput {
        started_at: SystemTime::now(),
        elapsed: Duration::ZERO,
        totals: Default::default(),
        intervals: Vec::new(),
        interrupted: true,
        workers: 0,
        lost_workers: 0,
        intended: Default::default(),
        late: 0,
        planned: 0,
        sent: 0,
        never_sent: 0,
        never_sent_wait: Default::default(),
        errors: Default::default(),
        generator_cpu: None,
    }
}

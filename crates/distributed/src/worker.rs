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
    self, Assign, AssignReply, Done, HEARTBEAT, Interval, MAX_WORKERS, PROTOCOL, RunSubjects,
    SERVICE, SILENCE, Start, VERSION,
};
use crate::seal::{self, Opener, Party, Refusal, Sealer};
use crate::share::share;
use crate::trust::{self, Targets};

/// Run ids a worker remembers, to refuse a plan replayed after its run.
const REMEMBERED_RUNS: usize = 1024;

/// How long Ctrl-C waits for a busy worker to stop its load and send its
/// last report before it leaves anyway.
const FINISH_WAIT: Duration = Duration::from_secs(15);

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
    /// The servers it logs in to with its credentials: its control server
    /// and those given with `--target`.
    pub targets: Targets,
    /// `--any-target`: a plan may name other servers, which it dials
    /// without its login (no credentials, no client certificate).
    pub any_target: bool,
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
            .field("targets", &self.targets)
            .field("any_target", &self.any_target)
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
                (
                    control::TOKEN_METADATA.to_owned(),
                    if options.token.is_some() { "yes" } else { "no" }.to_owned(),
                ),
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
    // Declared before `current`, whose futures borrow it.
    let ran = std::cell::RefCell::new(Ran::default());
    let mut current: Option<std::pin::Pin<Box<dyn std::future::Future<Output = bool> + '_>>> = None;
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => {
                // The run's stop token is a child of `shutdown`: the load is
                // stopping. Let it send its last report, so the coordinator
                // counts it whole rather than lost.
                if let Some(run) = current.take() {
                    (options.log)("stopping: sending the run's last report to the coordinator");
                    let _ = tokio::time::timeout(FINISH_WAIT, run).await;
                }
                break;
            }
            done = async { current.as_mut().expect("guarded").await }, if current.is_some() => {
                current = None;
                if done && options.exit_after_run {
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
                    }, None)
                    .await;
                    continue;
                }
                current = Some(Box::pin(assignment(&client, request, &options, &ran, shutdown.child_token())));
            }
        }
    }
    let _ = service.stop().await;
    Ok(())
}

/// The runs a worker has taken (their ids, the oldest first, bounded).
#[derive(Debug, Default)]
struct Ran {
    ids: std::collections::VecDeque<String>,
}

impl Ran {
    fn contains(&self, id: &str) -> bool {
        self.ids.iter().any(|r| r == id)
    }

    fn add(&mut self, id: &str) {
        if self.ids.len() == REMEMBERED_RUNS {
            self.ids.pop_front();
        }
        self.ids.push_back(id.to_owned());
    }
}

/// Answers an assignment, sealed as `sealer`'s (unsealed before the worker
/// knows which run and position it is answering for).
async fn respond(request: &Request, reply: &AssignReply, sealer: Option<&Sealer>) {
    let payload = control::json(reply);
    let headers = match (sealer, &request.message.reply) {
        (Some(s), Some(inbox)) => s.seal(inbox.as_str(), &payload),
        _ => async_nats::HeaderMap::new(),
    };
    let _ = request.respond_with_headers(Ok(payload), headers).await;
}

/// Refuses an assignment, in the log and to the sender.
async fn refuse(request: &Request, log: &Log, from: &str, reason: String) {
    log(&format!("refused a plan{from}: {reason}"));
    respond(request, &AssignReply::Refused { reason }, None).await;
}

/// One assignment, from checks to the `done` message; true if a load ran.
async fn assignment(
    client: &Client,
    request: Request,
    options: &WorkerOptions,
    ran: &std::cell::RefCell<Ran>,
    stop: CancellationToken,
) -> bool {
    let log = &options.log;
    let admitted = admit(&request, options, &ran.borrow());
    let (assign, opener) = match admitted {
        Ok(a) => a,
        Err((from, reason)) => {
            refuse(&request, log, &from, reason).await;
            return false;
        }
    };
    // Taken, even if it cannot run: a replay of it is refused from now on.
    ran.borrow_mut().add(&assign.run_id);
    let sealer = Sealer::new(
        &assign.run_id,
        Party::Worker(assign.index),
        options.token.as_deref(),
    );
    log(&format!(
        "plan from {}: scenario {} (hash {}), worker {} of {}, to {} on {}",
        control::printable(&assign.coordinator),
        control::printable(&assign.scenario.name),
        assign.plan_hash.get(..12).unwrap_or_default(),
        assign.index + 1,
        assign.of,
        control::printable(
            &assign
                .scenario
                .tasks
                .iter()
                .map(|t| t.request.subject.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        control::printable(&assign.target.join(","))
    ));
    let prepared = match prepare(&assign, options).await {
        Ok(p) => p,
        Err(reason) => {
            log(&format!("cannot run it: {reason}"));
            respond(&request, &AssignReply::Failed { reason }, Some(&sealer)).await;
            return false;
        }
    };
    let session = Session {
        request,
        assign,
        sealer,
        opener,
    };
    execute(client, session, prepared, options, stop).await;
    true
}

/// The plan of `request`, if this worker may run it, with the opener for
/// the rest of its run; else where it came from and why not.
///
/// In order: the seal (run, sender, expiry, and with a token its MAC over
/// the whole message, target included), the plan itself (version, hash,
/// position), a run this worker has not taken before, and a target it may
/// send its login to.
fn admit(
    request: &Request,
    options: &WorkerOptions,
    ran: &Ran,
) -> Result<(Assign, Opener), (String, String)> {
    let msg = &request.message;
    let token = options.token.as_deref();
    let Some(run_id) = seal::run_of(msg.headers.as_ref()) else {
        return Err((
            String::new(),
            format!(
                "it is not sealed: not from a cliffload {VERSION} coordinator (protocol {PROTOCOL}); run the same version on both sides"
            ),
        ));
    };
    let mut opener = Opener::for_worker(run_id, token);
    if let Err(why) = opener.open(msg.subject.as_str(), msg.headers.as_ref(), &msg.payload) {
        let reason = match why {
            Refusal::Unsigned => "this worker needs a control token and the plan has none (give the coordinator --control-token)".to_owned(),
            Refusal::BadMac => "the control token does not match this worker's (--control-token), or the plan was altered on the way".to_owned(),
            Refusal::SignedWithoutKey => "the plan is signed with a control token and this worker has none (start it with the same --control-token)".to_owned(),
            other => other.to_string(),
        };
        return Err((String::new(), reason));
    }
    let assign: Assign = serde_json::from_slice(&msg.payload).map_err(|e| {
        (
            String::new(),
            format!("not a cliffload {VERSION} plan (protocol {PROTOCOL}): {e}"),
        )
    })?;
    let from = format!(" of {}", control::printable(&assign.coordinator));
    let refuse = |reason: String| Err((from.clone(), reason));
    if assign.protocol != PROTOCOL || assign.version != VERSION {
        return refuse(format!(
            "version mismatch: this worker is cliffload {VERSION} (protocol {PROTOCOL}), the coordinator {} (protocol {}); run the same version on both",
            control::printable(&assign.version),
            assign.protocol
        ));
    }
    if assign.run_id != run_id {
        return refuse("the plan names another run than its seal".into());
    }
    if trust::plan_hash(&assign.scenario) != assign.plan_hash {
        return refuse(
            "the plan does not match its hash: it was altered or damaged on the way".into(),
        );
    }
    if assign.of == 0 || assign.of > MAX_WORKERS || assign.index >= assign.of {
        return refuse(format!(
            "worker {} of {} does not exist (a run has 1 to {MAX_WORKERS} workers)",
            u64::from(assign.index) + 1,
            assign.of
        ));
    }
    if ran.contains(&assign.run_id) {
        return refuse(format!(
            "this worker has already taken run {}: a plan is run once (a replay?)",
            control::printable(&assign.run_id)
        ));
    }
    let untrusted = options.targets.untrusted(&assign.target);
    if !untrusted.is_empty() && !options.any_target {
        return refuse(format!(
            "the plan sends the load to {}, which this worker was not given: it sends its login only to its control server and the servers of --target; start it with --target {} to trust it (or --any-target to dial any server without its login)",
            control::printable(&untrusted.join(",")),
            control::printable(untrusted[0])
        ));
    }
    Ok((assign, opener))
}

/// An assignment taken: the request to answer, the plan, and the seals of
/// the run in both directions.
struct Session {
    request: Request,
    assign: Assign,
    sealer: Sealer,
    opener: Opener,
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
    let plan = Arc::new(Plan::try_new(&scenario, payloads).map_err(|e| e.to_string())?);
    let target = if options.targets.untrusted(&assign.target).is_empty() {
        NatsAccess {
            servers: assign.target.clone(),
            ..options.access.clone()
        }
    } else {
        // --any-target: a server it was not given gets no login and no
        // client certificate (the CA it trusts stays: it still checks the
        // server's).
        NatsAccess {
            servers: assign.target.clone(),
            credentials: cliffload_nats::Credentials::None,
            tls: cliffload_nats::Tls {
                client: None,
                ..options.access.tls.clone()
            },
        }
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
    session: Session,
    prepared: Prepared,
    options: &WorkerOptions,
    stop: CancellationToken,
) {
    let log = &options.log;
    let Session {
        request,
        assign,
        sealer,
        opener,
    } = session;
    let subjects = RunSubjects::new(&assign.run_id);
    let control = match subscribe(client, &subjects).await {
        Ok(c) => c,
        Err(reason) => {
            respond(&request, &AssignReply::Failed { reason }, Some(&sealer)).await;
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
        respond(&request, &AssignReply::Failed { reason }, Some(&sealer)).await;
        return;
    }
    respond(&request, &ready_reply(options, &prepared), Some(&sealer)).await;
    let mut run = Running {
        client,
        subjects: &subjects,
        worker: assign.index,
        log,
        cancel,
        sealer,
        opener,
        refused: 0,
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

/// What the coordinator said, once its seal and body were checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Start at this instant, nanoseconds since the Unix epoch.
    Start(u128),
    /// Stop now.
    Stop,
    /// Still here.
    Alive,
}

/// Reads one message from the coordinator of the run `subjects` name: only
/// a sealed one from the coordinator, in sequence, is heard (a message
/// refused for its body spends no sequence number); a start must
/// name an instant within `START_WAIT` of `now_unix_ns` (a little in the
/// past is allowed: the clocks may differ by [`seal::SKEW`]).
pub fn hear(
    opener: &mut Opener,
    subjects: &RunSubjects,
    subject: &str,
    headers: Option<&async_nats::HeaderMap>,
    payload: &[u8],
    now_unix_ns: u128,
) -> Result<Command, String> {
    let sealed = opener
        .check(subject, headers, payload)
        .map_err(|e| e.to_string())?;
    let command = if subject == subjects.start() {
        let start: Start =
            serde_json::from_slice(payload).map_err(|e| format!("a start that is not one: {e}"))?;
        let earliest = now_unix_ns.saturating_sub(seal::SKEW.as_nanos());
        let latest = now_unix_ns.saturating_add(START_WAIT.as_nanos());
        if !(earliest..=latest).contains(&start.at_unix_ns) {
            return Err("a start instant more than a minute away (or long past)".into());
        }
        Command::Start(start.at_unix_ns)
    } else if subject == subjects.stop() {
        Command::Stop
    } else if subject == subjects.alive() {
        Command::Alive
    } else {
        return Err(format!("a message on {subject}, which is no command"));
    };
    // Its sequence number is spent only on a message heard.
    opener.commit(subject, &sealed);
    Ok(command)
}

/// A run under way on a worker.
struct Running<'a> {
    client: &'a Client,
    subjects: &'a RunSubjects,
    worker: u32,
    log: &'a Log,
    cancel: CancellationToken,
    sealer: Sealer,
    opener: Opener,
    /// Messages refused so far (the first few are logged).
    refused: u64,
}

/// The engine's run, in this task.
type EngineRun<'a> = std::pin::Pin<
    &'a mut (
                dyn std::future::Future<Output = Result<RunOutput, cliffload_engine::EngineError>>
                    + 'a
            ),
>;

impl Running<'_> {
    /// The coordinator's command in `msg`, or `None` (logged) if refused.
    fn hear(&mut self, msg: &async_nats::Message) -> Option<Command> {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        match hear(
            &mut self.opener,
            self.subjects,
            msg.subject.as_str(),
            msg.headers.as_ref(),
            &msg.payload,
            now,
        ) {
            Ok(c) => Some(c),
            Err(why) => {
                self.refused += 1;
                if self.refused <= 10 {
                    let claimed = msg
                        .headers
                        .as_ref()
                        .and_then(|h| h.get(seal::FROM))
                        .map_or_else(|| "nobody".to_owned(), |v| control::printable(v.as_str()));
                    (self.log)(&format!(
                        "refused a message on {} claiming to be from {claimed}: {why}",
                        msg.subject
                    ));
                }
                None
            }
        }
    }

    /// Waits for the start, gives the go at its instant, forwards each
    /// second's record, and stops on `stop` or a silent coordinator.
    async fn drive(
        &mut self,
        mut control: Control,
        go: watch::Sender<bool>,
        mut records: mpsc::UnboundedReceiver<(u32, Recorded)>,
        mut engine: EngineRun<'_>,
    ) -> Result<RunOutput, String> {
        let Some(at_unix_ns) = self.wait_for_start(&mut control).await else {
            self.cancel.cancel();
            let _ = engine.as_mut().await;
            return Err("no start message came within 60 s".into());
        };
        tokio::time::sleep(until(at_unix_ns)).await;
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
                Some(m) = control.stop.next() => {
                    if self.hear(&m) == Some(Command::Stop) && !self.cancel.is_cancelled() {
                        (self.log)("stopped by the coordinator");
                        self.cancel.cancel();
                    }
                }
                Some(m) = control.alive.next() => {
                    if self.hear(&m) == Some(Command::Alive) {
                        heard = Instant::now();
                    }
                }
                _ = tick.tick() => {
                    if heard.elapsed() > SILENCE && !self.cancel.is_cancelled() {
                        (self.log)("the coordinator fell silent: stopping the run");
                        self.cancel.cancel();
                    }
                }
            }
        }
    }

    /// The start instant the coordinator sends, or `None` (logged) when it
    /// stops the run first, none comes within [`START_WAIT`], or the worker
    /// is stopped.
    async fn wait_for_start(&mut self, control: &mut Control) -> Option<u128> {
        let deadline = Instant::now() + START_WAIT;
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => {
                    (self.log)("no start came within 60 s: the run is off");
                    return None;
                }
                () = self.cancel.cancelled() => return None,
                Some(m) = control.start.next() => {
                    if let Some(Command::Start(at)) = self.hear(&m) {
                        return Some(at);
                    }
                }
                Some(m) = control.stop.next() => {
                    if self.hear(&m) == Some(Command::Stop) {
                        (self.log)("the coordinator called the run off before its start");
                        return None;
                    }
                }
                Some(m) = control.alive.next() => {
                    let _ = self.hear(&m);
                }
            }
        }
    }

    /// Publishes a sealed message on `subject`.
    async fn say(&self, subject: String, payload: bytes::Bytes) {
        let headers = self.sealer.seal(&subject, &payload);
        let _ = self
            .client
            .publish_with_headers(subject, headers, payload)
            .await;
    }

    async fn publish_interval(&self, index: u32, record: Recorded) {
        let msg = Interval {
            worker: self.worker,
            index,
            record,
        };
        self.say(self.subjects.interval(), control::pack(&msg))
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
        self.say(self.subjects.done(), control::pack(&done)).await;
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
        flows: Default::default(),
        out_of_rows: 0,
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

#[cfg(test)]
mod tests {
    //! Issue 26: a worker hears only its coordinator, once per message, and
    //! only a start within a minute.

    use proptest::prelude::*;

    use super::*;

    fn start_body(at: u128) -> Vec<u8> {
        control::json(&Start { at_unix_ns: at }).to_vec()
    }

    #[test]
    fn a_sealed_command_is_heard_once_and_a_forged_or_far_start_never() {
        let s = RunSubjects::new("r");
        let coordinator = Sealer::new("r", Party::Coordinator, Some("t"));
        let mut o = Opener::for_worker("r", Some("t"));
        let now = u128::from(seal::now_ms()) * 1_000_000;
        let body = start_body(now + 500_000_000);
        let h = coordinator.seal(&s.start(), &body);
        assert_eq!(
            hear(&mut o, &s, &s.start(), Some(&h), &body, now),
            Ok(Command::Start(now + 500_000_000))
        );
        assert!(
            hear(&mut o, &s, &s.start(), Some(&h), &body, now).is_err(),
            "a replay"
        );
        let forged = Sealer::new("r", Party::Coordinator, Some("guess")).seal(&s.stop(), b"");
        assert!(hear(&mut o, &s, &s.stop(), Some(&forged), b"", now).is_err());
        let unsigned = Sealer::new("r", Party::Coordinator, None).seal(&s.stop(), b"");
        assert!(hear(&mut o, &s, &s.stop(), Some(&unsigned), b"", now).is_err());
        let a_worker = Sealer::new("r", Party::Worker(0), Some("t")).seal(&s.stop(), b"");
        assert!(hear(&mut o, &s, &s.stop(), Some(&a_worker), b"", now).is_err());
        let far = start_body(now + 3_600_000_000_000);
        let h = coordinator.seal(&s.start(), &far);
        let err = hear(&mut o, &s, &s.start(), Some(&h), &far, now).expect_err("too far");
        assert!(err.contains("more than a minute"), "{err}");
        let stop = coordinator.seal(&s.stop(), b"");
        assert_eq!(
            hear(&mut o, &s, &s.stop(), Some(&stop), b"", now),
            Ok(Command::Stop)
        );
    }

    #[test]
    fn a_replayed_run_and_an_untrusted_target_are_named() {
        let mut ran = Ran::default();
        ran.add("r1");
        assert!(ran.contains("r1") && !ran.contains("r2"));
        for k in 0..REMEMBERED_RUNS {
            ran.add(&k.to_string());
        }
        assert!(!ran.contains("r1"), "bounded: the oldest goes");
        let t = Targets::new(&["nats://127.0.0.1:4222"]);
        assert_eq!(
            t.untrusted(&["nats://127.0.0.1:9999".to_owned()]),
            ["nats://127.0.0.1:9999"]
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

        /// Arbitrary subjects, seals and bytes: never a panic, never heard.
        #[test]
        fn arbitrary_messages_are_never_heard(
            which in 0usize..4,
            token in prop_oneof![Just(None), Just(Some("guess")), Just(Some("t"))],
            sealed in any::<bool>(),
            body in prop_oneof![
                prop::collection::vec(any::<u8>(), 0..64),
                any::<u128>().prop_map(start_body),
            ],
            now in any::<u128>(),
        ) {
            let s = RunSubjects::new("r");
            let subject = [s.start(), s.stop(), s.alive(), "cliffload.v1.run.r.x".into()][which].clone();
            let mut o = Opener::for_worker("r", Some("t"));
            let from = if token == Some("t") { Party::Worker(0) } else { Party::Coordinator };
            let h = sealed.then(|| Sealer::new("r", from, token).seal(&subject, &body));
            prop_assert!(hear(&mut o, &s, &subject, h.as_ref(), &body, now).is_err());
        }
    }
}

// Issue 26: a distributed run played against as a hostile client on the
// same NATS account would: forged, replayed and out-of-bounds control
// messages, an outsider's stop, a captured plan replayed to a fake target,
// a worker without the token. Real nats-server, real workers, the real
// coordinator; each attack is refused and the result is the service's count.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_nats::{HeaderMap, Message, Subscriber};
use cliffload_distributed::control::{self, Assign, AssignReply, Done, Interval};
use cliffload_distributed::seal::{Party, Sealer};
use cliffload_engine::Recorded;
use cliffload_metrics::{ErrorLog, LatencyHistogram, Outcome, TaskTable};
use futures_util::StreamExt;
use serde_json::Value;
use tokio::process::Child;

use crate::distributed::{log_of as distributed_log, read_log, worker};
use crate::harness::{Env, assert_passed_but_for_speed, cliffload, read_result, run, stderr};

const TOKEN: &str = "the-run-token";

/// The ping coordinator over one worker, 2 users, results in `out`, plus `extra`.
fn coordinator(env: &Env, out: &std::path::Path, extra: &[&str]) -> Child {
    cliffload()
        .args(["run", "ping", "--nats-url", env.url(), "--quiet", "--out"])
        .arg(out)
        .args(["--distributed", "1", "-u", "2"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn coordinator")
}

/// The coordinator's output, once it has ended (`limit_s` at most).
async fn ends(coordinator: Child, limit_s: u64) -> std::process::Output {
    tokio::time::timeout(Duration::from_secs(limit_s), coordinator.wait_with_output())
        .await
        .expect("the coordinator ends")
        .expect("ran")
}

fn log_of(env: &Env, name: &str) -> String {
    read_log(&distributed_log(env, name))
}

/// Waits (15 s at most) until `n` workers answer `$SRV.PING`.
async fn wait_for_workers(env: &Env, n: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let inbox = env.client.new_inbox();
        let mut replies = env.client.subscribe(inbox.clone()).await.expect("sub");
        env.client
            .publish_with_reply(format!("$SRV.PING.{}", control::SERVICE), inbox, "".into())
            .await
            .expect("ping");
        let mut seen = 0;
        while let Ok(Some(_)) =
            tokio::time::timeout(Duration::from_millis(300), replies.next()).await
        {
            seen += 1;
        }
        if seen >= n {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{seen} of {n} workers registered"
        );
    }
}

async fn next(sub: &mut Subscriber, what: &str) -> Message {
    tokio::time::timeout(Duration::from_secs(30), sub.next())
        .await
        .unwrap_or_else(|_| panic!("no {what} within 30 s"))
        .expect("subscription open")
}

/// A worker's final report that would replace the real one: 2 s, a few
/// thousand requests.
fn forged_done(elapsed: Duration) -> Vec<u8> {
    let mut totals = TaskTable::new(3);
    for _ in 0..3000 {
        totals.record(0, Outcome::Ok, Duration::from_micros(90));
    }
    control::pack(&Done {
        worker: 0,
        started_unix_ns: 1,
        elapsed,
        totals,
        intended: TaskTable::new(3),
        late: 0,
        planned: 3000,
        sent: 3000,
        never_sent: 0,
        never_sent_wait: LatencyHistogram::new(),
        errors: ErrorLog::default(),
        cpu: None,
        threads: 1,
        lost_threads: 0,
        interrupted: false,
        error: None,
    })
    .to_vec()
}

fn forged_interval(index: u32) -> Vec<u8> {
    let mut record = Recorded::new(3);
    record
        .table
        .record(0, Outcome::Ok, Duration::from_micros(50));
    control::pack(&Interval {
        worker: 0,
        index,
        record,
    })
    .to_vec()
}

/// A seal claiming worker 0 of `run`, its sequence number far ahead, under `token`.
fn seal_as_worker(run: &str, token: Option<&str>, subject: &str, body: &[u8]) -> HeaderMap {
    let sealer = Sealer::new(run, Party::Worker(0), token);
    // Burn sequence numbers (on empty bodies: cheap): an attacker claims
    // to be far ahead.
    for _ in 0..999 {
        sealer.seal(subject, b"");
    }
    sealer.seal(subject, body)
}

/// A TCP listener standing in for a server the attacker controls: counts
/// the connections it gets.
async fn fake_server() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("nats://{}", listener.local_addr().expect("addr"));
    let seen = Arc::new(AtomicUsize::new(0));
    let count = seen.clone();
    tokio::spawn(async move {
        while let Ok((_conn, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
        }
    });
    (url, seen)
}

async fn refusal(env: &Env, subject: &str, headers: HeaderMap, body: Vec<u8>) -> String {
    let reply = env
        .client
        .request_with_headers(subject.to_owned(), headers, body.into())
        .await
        .expect("the worker answers");
    match serde_json::from_slice::<AssignReply>(&reply.payload).expect("a reply") {
        AssignReply::Refused { reason } => reason,
        other => panic!("not refused: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_replayed_and_outsider_messages_change_nothing_in_a_token_run() {
    let env = Env::with_test_service().await;
    let _honest = worker(&env, "honest", &["--control-token", TOKEN]);
    // A worker without the token on the same account: it must not be picked.
    let _outsider = worker(&env, "outsider", &[]);
    wait_for_workers(&env, 2).await;
    let spy = cliffload_testkit::client(&env.server).await;
    let mut plans = spy.subscribe("cliffload.v1.assign.*").await.expect("sub");
    let mut intervals = spy
        .subscribe("cliffload.v1.run.*.interval")
        .await
        .expect("sub");
    let out = env.out();
    let coordinator = coordinator(&env, &out, &["-d", "6s", "--control-token", TOKEN]);
    let plan = next(&mut plans, "plan").await;
    let first = next(&mut intervals, "interval").await;
    let prefix = first
        .subject
        .as_str()
        .trim_end_matches(".interval")
        .to_owned();
    let run_id = prefix.rsplit('.').next().expect("run id").to_owned();
    let (done, interval, stop) = (
        format!("{prefix}.done"),
        format!("{prefix}.interval"),
        format!("{prefix}.stop"),
    );
    let guess = Some("a-guessed-token");
    let two_s = forged_done(Duration::from_secs(2));
    let forever = forged_done(Duration::MAX);
    let far = forged_interval(4_000_000_000);
    let attacks: Vec<(&str, HeaderMap, &[u8])> = vec![
        // A forged final report, bare and under a guessed token.
        (&done, HeaderMap::new(), &two_s),
        (&done, seal_as_worker(&run_id, guess, &done, &two_s), &two_s),
        // An elapsed time that would overflow, a second past any run.
        (
            &done,
            seal_as_worker(&run_id, guess, &done, &forever),
            &forever,
        ),
        (
            &interval,
            seal_as_worker(&run_id, None, &interval, &far),
            &far,
        ),
        // The real worker's first interval, again.
        (
            &interval,
            first.headers.clone().expect("sealed"),
            &first.payload,
        ),
        // An outsider's stop, bare and under a guessed token.
        (&stop, HeaderMap::new(), b""),
        (
            &stop,
            Sealer::new(&run_id, Party::Coordinator, guess).seal(&stop, b""),
            b"",
        ),
    ];
    for (subject, headers, body) in attacks {
        spy.publish_with_headers(subject.to_owned(), headers, body.to_vec().into())
            .await
            .expect("publish");
    }
    spy.flush().await.expect("flush");
    let o = ends(coordinator, 40).await;
    let r = read_result(&out);
    // Not stopped by the outsider (130), not crashed (101, 134): the verdict's code.
    assert_passed_but_for_speed(o.status.code(), &r, &stderr(&o));
    assert_eq!(
        r["interrupted"], false,
        "an outsider's stop stopped the run"
    );
    let d = &r["distributed"];
    assert_eq!(d["workers"][0]["name"], "honest", "{d}");
    assert_eq!(d["workers"].as_array().map(Vec::len), Some(1));
    // Every request the service answered, but the worker's 3 smoke calls.
    let served = cliffload_testkit::endpoint_requests(
        &cliffload_testkit::srv_stats(&env.client, "test").await,
        "rpc",
    );
    assert_eq!(
        r["summary"]["requests"].as_u64(),
        Some(served - 3),
        "{}",
        r["summary"]
    );
    assert_eq!(d["refused_messages"], 5, "{d}");
    let words = d["refused"].to_string();
    for reason in ["not sealed", "signature does not verify", "a replay"] {
        assert!(words.contains(reason), "{reason}: {words}");
    }
    assert!(
        crate::harness::warning(&r, "control_refused").is_some_and(|w| w.contains("5 message")),
        "{}",
        r["warnings"]
    );
    let log = log_of(&env, "honest");
    assert_eq!(log.matches("refused a message on").count(), 2, "{log}");
    assert!(log.contains("claiming to be from nobody"), "{log}");

    // The captured plan, replayed after its run: refused as taken.
    let subject = plan.subject.as_str();
    let headers = plan.headers.clone().expect("sealed");
    let why = refusal(&env, subject, headers.clone(), plan.payload.to_vec()).await;
    assert!(why.contains("already taken run"), "{why}");
    // ... with its target changed to a server of the attacker's: the seal
    // no longer verifies, and the fake server hears nothing.
    let (fake, connections) = fake_server().await;
    let mut altered: Assign = serde_json::from_slice(&plan.payload).expect("a plan");
    altered.target = vec![fake.clone()];
    altered.run_id = run_id.clone();
    let why = refusal(&env, subject, headers, control::json(&altered).to_vec()).await;
    assert!(
        why.contains("does not match") || why.contains("altered"),
        "{why}"
    );
    // The worker without a token, given a fresh plan to the fake server:
    // it was not given that server, so it refuses rather than dial it.
    let outsider_plan = plans_to(&env, "outsider").await;
    altered.run_id = "fresh-run".into();
    let body = control::json(&altered).to_vec();
    let seal = Sealer::new("fresh-run", Party::Coordinator, None).seal(&outsider_plan, &body);
    let why = refusal(&env, &outsider_plan, seal, body).await;
    assert!(
        why.contains("was not given") && why.contains("--target"),
        "{why}"
    );
    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "a worker dialled the fake server"
    );
}

/// The assignment subject of the worker named `name`.
async fn plans_to(env: &Env, name: &str) -> String {
    let inbox = env.client.new_inbox();
    let mut replies = env.client.subscribe(inbox.clone()).await.expect("sub");
    env.client
        .publish_with_reply(format!("$SRV.INFO.{}", control::SERVICE), inbox, "".into())
        .await
        .expect("info");
    while let Ok(Some(m)) = tokio::time::timeout(Duration::from_secs(2), replies.next()).await {
        let v: Value = serde_json::from_slice(&m.payload).expect("JSON");
        if v["metadata"]["name"] == name {
            return control::assign_subject(v["id"].as_str().expect("id"));
        }
    }
    panic!("no worker {name}");
}

/// Without a token anyone may speak for a worker (the README says so), but
/// not past the run's bounds: an overflowing elapsed time, a second four
/// billion seconds in, and a flood of histograms are refused, and the
/// coordinator neither panics nor aborts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_bounds_messages_are_refused_even_without_a_token() {
    let env = Env::with_test_service().await;
    let _w = worker(&env, "plain", &[]);
    wait_for_workers(&env, 1).await;
    let spy = cliffload_testkit::client(&env.server).await;
    let mut intervals = spy
        .subscribe("cliffload.v1.run.*.interval")
        .await
        .expect("sub");
    let out = env.out();
    // The bodies first: building 3,000 histograms is slow on a loaded
    // machine, and the attack must land while the run is on.
    let forever = forged_done(Duration::MAX);
    let far = forged_interval(4_000_000_000);
    let mut flood = Recorded::new(3);
    flood.table = TaskTable::new(3000);
    for task in 0..3000 {
        flood
            .table
            .record(task, Outcome::Ok, Duration::from_micros(1));
    }
    let flood = control::pack(&Interval {
        worker: 0,
        index: 0,
        record: flood,
    })
    .to_vec();
    let coordinator = coordinator(&env, &out, &["-d", "6s"]);
    let first = next(&mut intervals, "interval").await;
    let prefix = first
        .subject
        .as_str()
        .trim_end_matches(".interval")
        .to_owned();
    let run_id = prefix.rsplit('.').next().expect("run id").to_owned();
    let (done, interval) = (format!("{prefix}.done"), format!("{prefix}.interval"));
    for (subject, body) in [(&done, &forever), (&interval, &far), (&interval, &flood)] {
        let h = seal_as_worker(&run_id, None, subject, body);
        spy.publish_with_headers(subject.clone(), h, body.clone().into())
            .await
            .expect("publish");
    }
    spy.flush().await.expect("flush");
    let o = ends(coordinator, 40).await;
    let r = read_result(&out);
    assert_passed_but_for_speed(o.status.code(), &r, &stderr(&o));
    let served = cliffload_testkit::endpoint_requests(
        &cliffload_testkit::srv_stats(&env.client, "test").await,
        "rpc",
    );
    assert_eq!(r["summary"]["requests"].as_u64(), Some(served - 3));
    let d = &r["distributed"];
    assert_eq!(d["refused_messages"], 3, "{d}");
    let words = d["refused"].to_string();
    for reason in [
        "longer than the run can",
        "past the run's last possible second",
        "more histograms",
    ] {
        assert!(words.contains(reason), "{reason}: {words}");
    }
}

/// Ctrl-C on a worker in the middle of its load: it stops, sends its last
/// report, and the coordinator counts it whole, not lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_on_a_busy_worker_still_sends_its_final_report() {
    let env = Env::with_test_service().await;
    let w = worker(&env, "busy", &[]);
    wait_for_workers(&env, 1).await;
    let out = env.out();
    let coordinator = coordinator(&env, &out, &["-d", "60s"]);
    env.wait_until_served(200).await;
    crate::harness::send_signal(&w, "INT").await;
    let o = ends(coordinator, 30).await;
    let r = read_result(&out);
    let row = &r["distributed"]["workers"][0];
    assert_eq!(row["lost"], false, "{row} {}", stderr(&o));
    assert!(
        r["warnings"].to_string().find("worker_lost").is_none(),
        "{}",
        r["warnings"]
    );
    let served = cliffload_testkit::endpoint_requests(
        &cliffload_testkit::srv_stats(&env.client, "test").await,
        "rpc",
    );
    assert_eq!(r["summary"]["requests"].as_u64(), Some(served - 3));
    assert!(log_of(&env, "busy").contains("sending the run's last report"));
}

/// Without a token, a control server off loopback is refused on both sides
/// (0.0.0.0 is no loopback address, and dialling it stays on this machine).
#[tokio::test]
async fn no_token_off_loopback_is_refused_unless_insecure_is_said() {
    let url = format!("nats://0.0.0.0:{}", crate::harness::free_port());
    for args in [
        vec!["worker", "--nats-url", &url],
        vec!["run", "ping", "--nats-url", &url, "--distributed", "1"],
    ] {
        let o = run(&args, Duration::from_secs(30)).await;
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("not on loopback and there is no control token")
                && err.contains("--insecure-no-token")
                && err.contains("CLIFFLOAD_CONTROL_TOKEN="),
            "{err}"
        );
        let mut insecure = args.clone();
        insecure.push("--insecure-no-token");
        let o = run(&insecure, Duration::from_secs(30)).await;
        assert_eq!(o.status.code(), Some(2));
        assert!(stderr(&o).contains("cannot connect"), "{}", stderr(&o));
    }
}

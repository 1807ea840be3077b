// Issue 31: messaging beyond request/reply, against real nats-servers with
// JetStream on and the reference order service's listeners: events timed
// to their effect (core NATS, JetStream, async RPC), lost and duplicate
// effects, JetStream PubAcks (deduplication, a full stream, no stream),
// streams created for a run and deleted after it, and a durable consumer's
// lag judged by max_consumer_lag.

use std::sync::Arc;
use std::time::Duration;

use cliffload_services::order_service::{self, LatencyProfile, OrderConfig, OrderService};
use cliffload_testkit::NatsServer;
use futures_util::StreamExt;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::harness::{SMALL_POOLS, assert_schema_valid, cliffload, read_result, run, stderr};

/// The reference order service on `server`, in this process, until the
/// token is cancelled; waits until it answers.
async fn order_service(server: &NatsServer, latency_factor: f64) -> CancellationToken {
    order_service_kept(server, latency_factor).await.0
}

/// [`order_service`], and the service itself (its counters).
async fn order_service_kept(
    server: &NatsServer,
    latency_factor: f64,
) -> (CancellationToken, Arc<OrderService>) {
    let stop = CancellationToken::new();
    let client = cliffload_testkit::client(server).await;
    let svc = Arc::new(OrderService::new(OrderConfig {
        latency: LatencyProfile::Realistic,
        latency_factor,
        ..OrderConfig::default()
    }));
    let (kept, shutdown) = (svc.clone(), stop.clone().cancelled_owned());
    tokio::spawn(async move { order_service::run(client, svc, shutdown).await });
    let probe = cliffload_testkit::client(server).await;
    cliffload_services::cliffracer::wait_ready(
        &probe,
        order_service::NAME,
        Duration::from_secs(10),
    )
    .await
    .expect("order service ready");
    (stop, kept)
}

/// A task's row in result.json.
fn task<'a>(r: &'a Value, name: &str) -> &'a Value {
    r["tasks"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["name"] == name))
        .unwrap_or_else(|| panic!("no task {name}: {}", r["tasks"]))
}

/// How many of a task's requests ended in `outcome`.
fn count(row: &Value, outcome: &str) -> u64 {
    row["outcomes"][outcome]["count"].as_u64().unwrap_or(0)
}

/// A check of the verdict by name.
fn check<'a>(r: &'a Value, name: &str) -> &'a Value {
    r["verdict"]["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no check {name}: {}", r["verdict"]))
}

/// `cliffload run SCENARIO --quiet` against `server`, from a file holding
/// `yaml`, with `extra` arguments: its output and its result.json.
async fn run_file(
    server: &NatsServer,
    yaml: &str,
    scenario: &str,
    extra: &[&str],
) -> (std::process::Output, Value) {
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = dir.path().join("scenario.yaml");
    std::fs::write(&cfg, yaml).expect("write");
    let out = dir.path().join("out");
    let mut args = vec!["run", scenario, "--config", cfg.to_str().expect("utf-8")];
    args.extend(["--nats-url", server.url(), "--quiet"]);
    args.extend(["--out", out.to_str().expect("utf-8")]);
    args.extend(extra);
    let o = run(&args, Duration::from_secs(90)).await;
    (o, read_result(&out))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_built_in_event_scenario_runs_with_no_setup_and_every_event_has_its_effect() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = dir.path().join("small.yaml");
    std::fs::write(&cfg, SMALL_POOLS).expect("write");
    let out = dir.path().join("out");
    let o = run(
        &[
            "run",
            "order_events",
            "--config",
            cfg.to_str().expect("utf-8"),
            "--duration",
            "6s",
            "--quiet",
            "--out",
            out.to_str().expect("utf-8"),
        ],
        Duration::from_secs(120),
    )
    .await;
    let r = read_result(&out);
    crate::harness::assert_passed_but_for_speed(o.status.code(), &r, &stderr(&o));
    assert_schema_valid(&r);
    for name in ["place_order", "queue_order", "process_order_async"] {
        let row = task(&r, &format!("order_events.{name}"));
        let (ok, refused) = (count(row, "ok"), count(row, "rejected_expected"));
        assert!(ok > 0, "{name}: no event had its effect: {row}");
        // Every valid event sent had its effect, once; every injected one
        // (one in ten of the listeners' events; the async calls have none)
        // its dead letter.
        assert_eq!(
            row["requests"].as_u64(),
            Some(ok + refused),
            "{name}: {row}"
        );
        assert_eq!(refused > 0, name != "process_order_async", "{name}: {row}");
        assert!(row["latency_us"]["p50"].as_u64() > Some(0), "{row}");
    }
    let consumer = &r["consumers"][0];
    assert_eq!(consumer["stream"], "ORDERS", "{}", r["consumers"]);
    assert_eq!(consumer["name"], "order_processor");
    assert!(
        consumer["samples"].as_array().is_some_and(|s| s.len() >= 3),
        "{consumer}"
    );
    assert_eq!(check(&r, "max_consumer_lag")["status"], "passed");
    let html = std::fs::read_to_string(out.join("report.html")).expect("report.html");
    assert!(html.contains("Consumer lag") && html.contains("ORDERS/order_processor"));
    let summary = std::fs::read_to_string(out.join("summary.txt")).expect("summary.txt");
    assert!(summary.contains("JetStream consumers:"), "{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_stopped_mid_run_shows_as_lost_events() {
    let server = cliffload_testkit::jetstream_server();
    let stop = order_service(&server, 0.1).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = dir.path().join("events.yaml");
    std::fs::write(
        &cfg,
        format!("{SMALL_POOLS}scenarios:\n  events:\n    arrival_rate: {{rate: 40}}\n    duration: 8s\n    tasks:\n      - {{name: place, subject: orders.placed, send: publish, generate: {{model: order}}, arg: order, timeout: 1s, observe: {{subject: order.processed}}}}\n"),
    )
    .expect("write");
    let out = dir.path().join("out");
    // Effects seen by the test: the run is under way once some came.
    let watcher = cliffload_testkit::client(&server).await;
    let mut effects = watcher
        .subscribe("order.processed")
        .await
        .expect("subscribe");
    let child = cliffload()
        .args(["run", "events", "--config", cfg.to_str().expect("utf-8")])
        .args(["--nats-url", server.url(), "--quiet", "--out"])
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let seen = tokio::time::timeout(Duration::from_secs(30), async {
        let mut n = 0;
        while n < 20 && effects.next().await.is_some() {
            n += 1;
        }
        n
    })
    .await
    .expect("the run's events had effects");
    assert_eq!(seen, 20);
    stop.cancel();
    let o = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("the run ends")
        .expect("ran");
    let r = read_result(&out);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let row = task(&r, "events.place");
    let (ok, lost) = (count(row, "ok"), count(row, "lost"));
    assert!(
        ok >= 19,
        "the effects seen before the stop are counted: {row}"
    );
    assert!(lost > 0, "the events after the stop are lost: {row}");
    assert_eq!(row["requests"].as_u64(), Some(ok + lost), "{row}");
    let errors = row["errors"].to_string();
    assert!(
        errors.contains("no effect on order.processed within 1s"),
        "{errors}"
    );
    assert_eq!(count(row, "duplicate"), 0, "{row}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_of_a_fan_out_listener_give_each_event_two_effects() {
    let server = cliffload_testkit::jetstream_server();
    let first = order_service(&server, 0.1).await;
    let second = order_service(&server, 0.1).await;
    let yaml = format!(
        "{SMALL_POOLS}scenarios:\n  events:\n    users: 1\n    wait_time: {{constant: 0}}\n    max_requests: 30\n    duration: 20s\n    tasks:\n      - {{name: place, subject: orders.placed, send: publish, generate: {{model: order}}, arg: order, observe: {{subject: order.processed}}}}\n"
    );
    let (o, r) = run_file(&server, &yaml, "events", &[]).await;
    first.cancel();
    second.cancel();
    let row = task(&r, "events.place");
    assert_eq!(count(row, "ok"), 30, "{row}\n{}", stderr(&o));
    // Each event's second effect, seen while the load ran (the last one's
    // may come after the load's end and is then not counted).
    let dup = count(row, "duplicate");
    assert!((29..=30).contains(&dup), "{row}");
    assert_eq!(o.status.code(), Some(1), "duplicates are failures");
}

/// Whether `server` has a stream named `name`.
async fn stream_exists(server: &NatsServer, name: &str) -> bool {
    let client = cliffload_testkit::client(server).await;
    let reply = client
        .request(format!("$JS.API.STREAM.INFO.{name}"), "".into())
        .await
        .expect("JetStream answers");
    let info: Value = serde_json::from_slice(&reply.payload).expect("JSON");
    info.get("error").is_none()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_publishes_are_acknowledged_deduplicated_or_refused_when_the_stream_is_full() {
    let server = cliffload_testkit::jetstream_server();
    let yaml = "scenarios:\n  js:\n    users: 2\n    wait_time: {constant: 0}\n    max_requests: 200\n    duration: 30s\n    jetstream:\n      streams:\n        - {name: CLT_DEDUP, subjects: [t.dedup], storage: memory}\n        - {name: CLT_FULL, subjects: [t.full], storage: memory, max_msgs: 10}\n    tasks:\n      - {name: dedup, subject: t.dedup, send: jetstream, payload: {n: 1}, headers: {Nats-Msg-Id: \"m-{{random_int 1 20}}\"}}\n      - {name: full, subject: t.full, send: jetstream, payload: {n: 2}, headers: {Nats-Msg-Id: \"{{uuid}}\"}}\n";
    let (o, r) = run_file(&server, yaml, "js", &[]).await;
    assert_schema_valid(&r);
    let dedup = task(&r, "js.dedup");
    let (ok, dup) = (count(dedup, "ok"), count(dedup, "deduplicated"));
    assert!(
        ok <= 20 && dup > 0,
        "20 ids at most are stored, the rest deduplicated: {dedup}"
    );
    assert_eq!(dedup["requests"].as_u64(), Some(ok + dup), "{dedup}");
    assert_eq!(
        dedup["failures"].as_u64(),
        Some(0),
        "a deduplicated message is no failure"
    );
    let full = task(&r, "js.full");
    // The smoke call stored one of the ten.
    assert_eq!(count(full, "ok"), 9, "{full}");
    let refused = count(full, "service_error");
    assert_eq!(full["requests"].as_u64(), Some(9 + refused), "{full}");
    assert!(full["errors"].to_string().contains("stream full"), "{full}");
    assert!(
        dedup["latency_us"]["p50"].as_u64() > Some(0),
        "PubAck latency: {dedup}"
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    // The run's streams are gone after it.
    assert!(!stream_exists(&server, "CLT_DEDUP").await);
    assert!(!stream_exists(&server, "CLT_FULL").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_with_no_stream_or_an_existing_stream_stops_before_the_load() {
    let server = cliffload_testkit::jetstream_server();
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = dir.path().join("js.yaml");
    std::fs::write(
        &cfg,
        "scenarios:\n  nostream:\n    users: 1\n    duration: 2s\n    tasks:\n      - {name: pub, subject: nowhere.at.all, send: jetstream, payload: {n: 1}}\n  taken:\n    users: 1\n    duration: 2s\n    jetstream: {streams: [{name: MINE, subjects: [t.mine]}]}\n    tasks:\n      - {name: pub, subject: t.mine, send: jetstream, payload: {n: 1}}\n",
    )
    .expect("write");
    let args = |scenario: &'static str| {
        vec![
            "run",
            scenario,
            "--config",
            cfg.to_str().expect("utf-8"),
            "--nats-url",
            server.url(),
            "--quiet",
        ]
    };
    let o = run(&args("nostream"), Duration::from_secs(30)).await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no stream stores nowhere.at.all"),
        "{}",
        stderr(&o)
    );
    // A stream the run did not create is never taken over (nor deleted).
    let client = cliffload_testkit::client(&server).await;
    let js = async_nats::jetstream::new(client);
    js.create_stream(async_nats::jetstream::stream::Config {
        name: "MINE".into(),
        subjects: vec!["t.mine".into()],
        ..Default::default()
    })
    .await
    .expect("stream made");
    let o = run(&args("taken"), Duration::from_secs(30)).await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("exists already"), "{}", stderr(&o));
    assert!(stream_exists(&server, "MINE").await);
}

/// A run of `queue` (JetStream publishes to the order service's stream,
/// its consumer watched, `max_consumer_lag: 20`) against a service whose
/// delays are multiplied by `factor`.
async fn queue_run(factor: f64) -> Value {
    let server = cliffload_testkit::jetstream_server();
    let stop = order_service(&server, factor).await;
    let yaml = format!(
        "{SMALL_POOLS}scenarios:\n  queue:\n    arrival_rate: {{rate: 50}}\n    duration: 5s\n    expectations: {{max_consumer_lag: 20}}\n    jetstream: {{consumers: [{{stream: ORDERS, name: order_processor}}]}}\n    tasks:\n      - {{name: queue, subject: orders.queued, send: jetstream, generate: {{model: order}}, arg: order}}\n"
    );
    let (o, r) = run_file(&server, &yaml, "queue", &[]).await;
    stop.cancel();
    assert_schema_valid(&r);
    assert!(count(task(&r, "queue.queue"), "ok") > 0, "{}", stderr(&o));
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slowed_listener_lets_its_consumer_lag_and_fails_max_consumer_lag() {
    let usual = queue_run(0.2).await;
    assert_eq!(
        check(&usual, "max_consumer_lag")["status"],
        "passed",
        "{}",
        usual["consumers"]
    );
    let slowed = queue_run(100.0).await;
    let c = check(&slowed, "max_consumer_lag");
    assert_eq!(c["status"], "failed", "{c}");
    let series = &slowed["consumers"][0];
    let lags: Vec<u64> = series["samples"]
        .as_array()
        .expect("samples")
        .iter()
        .map(|s| s["pending"].as_u64().unwrap_or(0) + s["ack_pending"].as_u64().unwrap_or(0))
        .collect();
    assert!(series["max_lag"].as_u64() > Some(20), "{series}");
    // It rises over the load: its last reading is above its first.
    assert!(lags.last() > lags.first(), "{lags:?}");
    assert!(
        c["actual"]
            .as_str()
            .is_some_and(|a| a.starts_with("ORDERS/order_processor: peak")),
        "{c}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distributed_workers_each_match_their_own_effects_and_the_coordinator_watches_the_consumer()
{
    let server = cliffload_testkit::jetstream_server();
    let stop = order_service(&server, 0.1).await;
    let mut workers: Vec<tokio::process::Child> = ["w1", "w2"]
        .iter()
        .map(|n| {
            cliffload()
                .args([
                    "worker",
                    "--nats-url",
                    server.url(),
                    "--name",
                    n,
                    "--exit-after-run",
                ])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("spawn worker")
        })
        .collect();
    let yaml = format!(
        "{SMALL_POOLS}scenarios:\n  events:\n    arrival_rate: {{rate: 40}}\n    duration: 4s\n    expectations: {{max_consumer_lag: 1000}}\n    jetstream: {{consumers: [{{stream: ORDERS, name: order_processor}}]}}\n    tasks:\n      - {{name: place, subject: orders.placed, send: publish, generate: {{model: order}}, arg: order, observe: {{subject: order.processed}}}}\n      - {{name: queue, subject: orders.queued, send: jetstream, generate: {{model: order}}, arg: order, observe: {{subject: order.processed}}}}\n"
    );
    let extra = ["--distributed", "2", "--wait-workers", "20s"];
    let (o, r) = run_file(&server, &yaml, "events", &extra).await;
    stop.cancel();
    for w in &mut workers {
        let _ = tokio::time::timeout(Duration::from_secs(10), w.wait()).await;
    }
    crate::harness::assert_passed_but_for_speed(o.status.code(), &r, &stderr(&o));
    assert_schema_valid(&r);
    for name in ["events.place", "events.queue"] {
        let row = task(&r, name);
        // Both workers receive every effect; each counts only its own.
        assert!(count(row, "ok") > 0, "{row}");
        assert_eq!(row["requests"].as_u64(), Some(count(row, "ok")), "{row}");
    }
    let rows = r["distributed"]["workers"].as_array().expect("workers");
    assert_eq!(rows.len(), 2, "{}", r["distributed"]);
    assert!(
        r["consumers"][0]["samples"]
            .as_array()
            .is_some_and(|s| !s.is_empty()),
        "{}",
        r["consumers"]
    );
    assert_eq!(check(&r, "max_consumer_lag")["status"], "passed");
}

/// An observed task that injects errors and watches the service's dead
/// letters: each injected order is dead-lettered by the real service and
/// counted as a correct refusal, each valid one has its effect; a task
/// watching a subject the service does not dead-letter to loses its
/// injected orders, saying where it looked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_errors_dead_lettered_by_the_service_are_correct_refusals() {
    let server = cliffload_testkit::jetstream_server();
    let (stop, svc) = order_service_kept(&server, 0.1).await;
    let place =
        "send: publish, generate: {model: order}, arg: order, timeout: 1s, error_rate: 0.25";
    let yaml = format!(
        "{SMALL_POOLS}scenarios:\n  events:\n    users: 1\n    wait_time: {{constant: 0}}\n    max_requests: 80\n    duration: 30s\n    tasks:\n      - {{name: watched, subject: orders.placed, {place}, observe: {{subject: order.processed, dead_letter: dlq.order_processing_service}}}}\n      - {{name: elsewhere, subject: orders.placed, {place}, observe: {{subject: order.processed, dead_letter: dlq.nobody}}}}\n"
    );
    let (o, r) = run_file(&server, &yaml, "events", &[]).await;
    stop.cancel();
    let watched = task(&r, "events.watched");
    let (ok, refused) = (count(watched, "ok"), count(watched, "rejected_expected"));
    assert!(ok > 0 && refused > 0, "{watched}\n{}", stderr(&o));
    assert_eq!(
        watched["requests"].as_u64(),
        Some(ok + refused),
        "nothing lost, accepted or refused wrongly: {watched}"
    );
    let elsewhere = task(&r, "events.elsewhere");
    let lost = count(elsewhere, "lost");
    assert!(lost > 0, "{elsewhere}");
    assert_eq!(
        elsewhere["requests"].as_u64(),
        Some(count(elsewhere, "ok") + lost),
        "{elsewhere}"
    );
    let errors = elsewhere["errors"].to_string();
    assert!(
        errors.contains("no effect on order.processed nor a dead letter on dlq.nobody within 1s"),
        "{errors}"
    );
    // The service dead-lettered exactly the injected orders of both tasks.
    assert_eq!(svc.event_counts().dead_lettered(), refused + lost);
    assert_eq!(o.status.code(), Some(1), "lost events fail the run");
}

// Distributed generation (issue 15): a coordinator and worker processes
// (the real binary) over a real nats-server; merged counts, lost workers,
// a silent coordinator, trust and version checks.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use cliffload_distributed::control::{self, Assign, AssignReply};
use cliffload_distributed::seal::{Party, Sealer};
use serde_json::Value;
use tokio::process::Child;

use crate::harness::{
    Env, assert_passed_but_for_speed, assert_schema_valid, cliffload, read_result, run, stderr,
    warning,
};

/// `cliffload worker --name NAME` on `env`'s server, its log in the test's
/// directory; killed when dropped.
pub(crate) fn worker(env: &Env, name: &str, extra: &[&str]) -> Child {
    let log = std::fs::File::create(log_of(env, name)).expect("log file");
    cliffload()
        .args(["worker", "--nats-url", env.url(), "--name", name])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("spawn worker")
}

pub(crate) fn log_of(env: &Env, name: &str) -> PathBuf {
    env.dir.path().join(format!("{name}.log"))
}

pub(crate) fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The coordinator's arguments: `ping` on `env`, results in OUT.
fn coordinate<'a>(env: &'a Env, out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "run",
        "ping",
        "--nats-url",
        env.url(),
        "--quiet",
        "--out",
        out,
        "--wait-workers",
        "20s",
    ];
    args.extend_from_slice(extra);
    args
}

/// Waits, 10 s at most, for `child` to exit; its code.
async fn exits(child: &mut Child) -> Option<i32> {
    tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("exited in time")
        .expect("ran")
        .code()
}

fn check<'a>(r: &'a Value, name: &str) -> &'a Value {
    r["verdict"]["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no check {name}: {}", r["verdict"]))
}

/// With --control-url, the workers wait on a server of their own, and the
/// server under test carries only the load.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_merge_to_the_services_count_and_start_together() {
    let env = Env::with_test_service().await;
    let control = cliffload_testkit::server();
    let mut workers: Vec<Child> = ["w1", "w2", "w3"]
        .iter()
        .map(|n| {
            let log = std::fs::File::create(log_of(&env, n)).expect("log file");
            cliffload()
                .args(["worker", "--nats-url", control.url(), "--name", n])
                // The load goes to another server than the control one.
                .args(["--target", env.url()])
                .arg("--exit-after-run")
                .stdout(Stdio::null())
                .stderr(Stdio::from(log))
                .spawn()
                .expect("spawn worker")
        })
        .collect();
    let out = env.out();
    let out_s = out.to_str().expect("utf-8");
    // The coordinator remembers the run (the workers have no history), in
    // the history CLIFFLOAD_HISTORY names, as a Kubernetes coordinator
    // reads it from a Secret (k8s render --history-secret).
    let history = env.dir.path().join("history.sqlite");
    let history = history.to_str().expect("utf-8");
    let args = coordinate(
        &env,
        out_s,
        &[
            "--distributed",
            "3",
            "-d",
            "3s",
            "-u",
            "5",
            "--control-url",
            control.url(),
        ],
    );
    let o = tokio::time::timeout(
        Duration::from_secs(60),
        cliffload()
            .env_remove("CLIFFLOAD_NO_HISTORY")
            .env("CLIFFLOAD_HISTORY", history)
            .args(&args)
            .output(),
    )
    .await
    .expect("in time")
    .expect("runs");
    let r = read_result(&out);
    assert_passed_but_for_speed(o.status.code(), &r, &stderr(&o));
    assert_schema_valid(&r);
    let d = &r["distributed"];
    let rows = d["workers"].as_array().expect("workers");
    assert_eq!(rows.len(), 3);
    let per_worker: u64 = rows
        .iter()
        .map(|w| w["requests"].as_u64().expect("n"))
        .sum();
    let total = r["summary"]["requests"].as_u64().expect("requests");
    assert!(total > 0);
    assert_eq!(per_worker, total, "merged = sum of the workers");
    // Every request the service answered is counted, besides one smoke
    // call per task and worker (3 tasks × 3 workers).
    let stats = cliffload_testkit::srv_stats(&env.client, "test").await;
    assert_eq!(
        cliffload_testkit::endpoint_requests(&stats, "rpc"),
        total + 9
    );
    // Five users over three workers: 2, 2, 1 (users 0 and 3, 1 and 4, 2).
    assert!(rows.iter().all(|w| w["requests"].as_u64() > Some(0)));
    assert!(
        d["start_skew_ms"].as_f64().expect("skew") < 50.0,
        "{}",
        d["start_skew_ms"]
    );
    assert_eq!(check(&r, "all_workers")["status"], "passed");
    for w in &mut workers {
        assert_eq!(exits(w).await, Some(0), "--exit-after-run");
    }
    // Stored once, merged: one row with the run's own count.
    let o = run(
        &["history", "--history", history, "--format", "json"],
        Duration::from_secs(30),
    )
    .await;
    let runs: Value = serde_json::from_slice(&o.stdout).expect("json");
    let runs = runs.as_array().expect("runs");
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["requests"].as_u64(), Some(total));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_is_named_and_fails_the_run_or_degrades_it_when_allowed() {
    let env = Env::with_test_service().await;
    for allowed in [false, true] {
        let names = if allowed { ["a1", "a2"] } else { ["k1", "k2"] };
        let mut workers: Vec<Child> = names.iter().map(|n| worker(&env, n, &[])).collect();
        let out = env.dir.path().join(format!("out-{allowed}"));
        let out_s = out.to_str().expect("utf-8").to_owned();
        let mut extra = vec!["--distributed", "2", "-d", "10s", "-u", "2"];
        if allowed {
            extra.push("--allow-worker-loss");
        }
        let before = cliffload_testkit::endpoint_requests(
            &cliffload_testkit::srv_stats(&env.client, "test").await,
            "rpc",
        );
        let coordinator = cliffload()
            .args(coordinate(&env, &out_s, &extra))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn coordinator");
        env.wait_until_served(before + 200).await;
        crate::harness::send_signal(&workers[1], "KILL").await;
        let o = tokio::time::timeout(Duration::from_secs(40), coordinator.wait_with_output())
            .await
            .expect("coordinator ends")
            .expect("ran");
        let r = read_result(&out);
        let lost: Vec<&Value> = r["distributed"]["workers"]
            .as_array()
            .expect("workers")
            .iter()
            .filter(|w| w["lost"] == true)
            .collect();
        assert_eq!(lost.len(), 1, "{}", r["distributed"]);
        assert_eq!(lost[0]["name"], names[1]);
        let w = warning(&r, "worker_lost").expect("a worker_lost warning");
        assert!(w.contains(names[1]), "{w}");
        if allowed {
            assert_passed_but_for_speed(o.status.code(), &r, &stderr(&o));
            assert!(w.contains("degraded"), "{w}");
        } else {
            assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
            assert_eq!(check(&r, "all_workers")["status"], "failed");
        }
        for w in &mut workers {
            let _ = w.start_kill();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_stop_by_themselves_when_their_coordinator_is_killed() {
    let env = Env::with_test_service().await;
    let mut w = worker(&env, "orphan", &["--exit-after-run"]);
    let out = env.out();
    let out_s = out.to_str().expect("utf-8");
    let coordinator = cliffload()
        .args(coordinate(
            &env,
            out_s,
            &["--distributed", "1", "-d", "60s"],
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn coordinator");
    env.wait_until_served(100).await;
    crate::harness::send_signal(&coordinator, "KILL").await;
    // Silence of 5 s, then the run stops and the worker says done.
    let code = tokio::time::timeout(Duration::from_secs(20), w.wait())
        .await
        .expect("the worker stopped by itself")
        .expect("ran")
        .code();
    assert_eq!(code, Some(0));
    let log = read_log(&log_of(&env, "orphan"));
    assert!(log.contains("coordinator fell silent"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_on_the_coordinator_stops_every_worker_and_keeps_the_results() {
    let env = Env::with_test_service().await;
    let mut workers: Vec<Child> = ["c1", "c2"]
        .iter()
        .map(|n| worker(&env, n, &["--exit-after-run"]))
        .collect();
    let out = env.out();
    let out_s = out.to_str().expect("utf-8");
    let mut coordinator = cliffload()
        .args(coordinate(
            &env,
            out_s,
            &["--distributed", "2", "-d", "60s"],
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn coordinator");
    let served_before = env.wait_until_served(200).await;
    let code = crate::harness::interrupt(&mut coordinator, Duration::from_secs(20)).await;
    assert_eq!(code, Some(130));
    let r = read_result(&out);
    assert_eq!(r["interrupted"], true);
    // Each of the 2 workers' preflight made 3 of the requests served.
    crate::harness::assert_served_are_recorded(&r, served_before, 6);
    for (w, name) in workers.iter_mut().zip(["c1", "c2"]) {
        assert_eq!(exits(w).await, Some(0));
        let log = read_log(&log_of(&env, name));
        assert!(log.contains("stopped by the coordinator"), "{log}");
    }
}

#[tokio::test]
async fn a_worker_that_cannot_reach_its_control_server_says_why_once_and_exits_2() {
    let url = format!("nats://127.0.0.1:{}", crate::harness::free_port());
    let o = run(&["worker", "--nats-url", &url], Duration::from_secs(30)).await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.starts_with(&format!("error: control server: cannot connect to {url}")),
        "{err}"
    );
    assert_eq!(err.matches("cannot connect").count(), 1, "{err}");
    // A worker must be given the URL: no advice to leave it out.
    assert!(!err.contains("without --nats-url"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_few_workers_or_a_wrong_token_stop_before_the_load_with_exit_2() {
    let env = Env::with_test_service().await;
    let _w = worker(&env, "lonely", &["--control-token", "right"]);
    let out = env.out();
    let out_s = out.to_str().expect("utf-8");
    let o = run(
        &[
            "run",
            "ping",
            "--nats-url",
            env.url(),
            "--quiet",
            "--distributed",
            "2",
            "--wait-workers",
            "1s",
        ],
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // Issue 26: a coordinator without a token does not pick a worker that
    // needs one, and says so.
    assert!(
        stderr(&o).contains("found 0 of the 2 workers needed")
            && stderr(&o).contains("not lonely: it needs a control token"),
        "{}",
        stderr(&o)
    );
    let o = run(
        &coordinate(
            &env,
            out_s,
            &["--distributed", "1", "--control-token", "wrong"],
        ),
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("control token does not match"),
        "{}",
        stderr(&o)
    );
    assert!(!out.join("result.json").exists(), "no load, no result");
    let log = read_log(&log_of(&env, "lonely"));
    assert!(log.contains("refused a plan"), "{log}");
    assert_eq!(
        cliffload_testkit::endpoint_requests(
            &cliffload_testkit::srv_stats(&env.client, "test").await,
            "rpc"
        ),
        0,
        "a refused plan sends nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_from_another_version_is_refused_naming_both_versions() {
    let env = Env::with_test_service().await;
    let _w = worker(&env, "strict", &[]);
    let id = worker_id(&env).await;
    let scenario = cliffload_scenario::catalog::builtin()
        .get("ping")
        .expect("ping")
        .clone();
    let assign = Assign {
        protocol: control::PROTOCOL,
        version: "0.0.9".into(),
        run_id: "r1".into(),
        coordinator: "a test".into(),
        plan_hash: cliffload_distributed::trust::plan_hash(&scenario),
        scenario,
        index: 0,
        of: 1,
        target: vec![env.url().to_owned()],
    };
    let subject = control::assign_subject(&id);
    let body = control::json(&assign);
    let seal = Sealer::new("r1", Party::Coordinator, None).seal(&subject, &body);
    let reply = env
        .client
        .request_with_headers(subject, seal, body)
        .await
        .expect("the worker answers");
    let reply: AssignReply = serde_json::from_slice(&reply.payload).expect("a reply");
    let AssignReply::Refused { reason } = reply else {
        panic!("not refused: {reply:?}");
    };
    assert!(
        reason.contains("0.0.9") && reason.contains(control::VERSION),
        "{reason}"
    );
}

/// The id of the one worker on `env`'s server (waits 15 s at most).
async fn worker_id(env: &Env) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let ping = env
            .client
            .request(format!("$SRV.PING.{}", control::SERVICE), "".into())
            .await;
        if let Ok(m) = ping {
            let v: Value = serde_json::from_slice(&m.payload).expect("JSON");
            return v["id"].as_str().expect("id").to_owned();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the worker never registered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn k8s_render_prints_the_objects_and_refuses_a_bad_name_or_scenario() {
    let o = run(
        &[
            "k8s",
            "render",
            "ping",
            "--distributed",
            "4",
            "--nats-url",
            "nats://nats.default.svc:4222",
            "--control-token-secret",
            "run-token",
        ],
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    for needle in [
        "completionMode: Indexed",
        "completions: 4",
        "backoffLimit: 0",
        "name: cliffload-ping-workers",
        "- --exit-after-run",
    ] {
        assert!(text.contains(needle), "{needle} missing:\n{text}");
    }
    for bad in [
        [
            "k8s",
            "render",
            "ping",
            "--distributed",
            "2",
            "--nats-url",
            "nats://x:4222",
            "--name",
            "Bad_Name",
        ],
        [
            "k8s",
            "render",
            "no_such",
            "--distributed",
            "2",
            "--nats-url",
            "nats://x:4222",
            "--name",
            "ok",
        ],
    ] {
        let o = run(&bad, Duration::from_secs(30)).await;
        assert_eq!(o.status.code(), Some(2), "{bad:?}: {}", stderr(&o));
    }
    // Issue 26: pods on a cluster's NATS without a control token would take
    // work from anyone there.
    let o = run(
        &[
            "k8s",
            "render",
            "ping",
            "--distributed",
            "2",
            "--nats-url",
            "nats://x:4222",
        ],
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--control-token-secret"),
        "{}",
        stderr(&o)
    );
}

/// The README's permissions (examples/distributed/nats-server.conf): the
/// coordinator and a worker, each logged in as its own user, run the load;
/// the worker's user cannot give work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_permissions_let_each_side_do_its_part_and_no_more() {
    let conf = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/distributed/nats-server.conf"
    ))
    .expect("the example")
    .replace("$COORD_PASS", "\"c-pass\"")
    .replace("$WORKER_PASS", "\"w-pass\"")
    .replace("$SERVICE_PASS", "\"s-pass\"");
    let server = cliffload_testkit::server_with_config(&conf);
    let login = |user: &str, pass: &str| {
        async_nats::ConnectOptions::with_user_and_password(user.into(), pass.into())
    };
    let service = login("service", "s-pass")
        .connect(server.url())
        .await
        .expect("the service logs in");
    let stop = tokio_util::sync::CancellationToken::new();
    let shutdown = stop.clone().cancelled_owned();
    tokio::spawn(cliffload_services::test_service::run(
        service.clone(),
        Default::default(),
        shutdown,
    ));
    cliffload_services::cliffracer::wait_ready(&service, "test", Duration::from_secs(5))
        .await
        .expect("service ready");
    let dir = tempfile::tempdir().expect("dir");
    let log = std::fs::File::create(dir.path().join("w.log")).expect("log");
    let mut w = cliffload()
        .args(["worker", "--nats-url", server.url(), "--name", "perm"])
        .args([
            "--user",
            "worker",
            "--password",
            "w-pass",
            "--exit-after-run",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("spawn worker");
    // As the worker's user, giving work is not allowed: no answer comes.
    let as_worker = login("worker", "w-pass")
        .connect(server.url())
        .await
        .expect("logs in");
    let id = {
        let reply = service.request(format!("$SRV.PING.{}", control::SERVICE), "".into());
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        let mut reply = reply.await;
        while reply.is_err() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
            reply = service
                .request(format!("$SRV.PING.{}", control::SERVICE), "".into())
                .await;
        }
        let v: Value =
            serde_json::from_slice(&reply.expect("worker registered").payload).expect("JSON");
        v["id"].as_str().expect("id").to_owned()
    };
    let forbidden = tokio::time::timeout(
        Duration::from_secs(2),
        as_worker.request(control::assign_subject(&id), "{}".into()),
    )
    .await;
    assert!(
        !matches!(forbidden, Ok(Ok(_))),
        "the worker's user gave work"
    );
    let out = dir.path().join("out");
    let o = run(
        &[
            "run",
            "ping",
            "--nats-url",
            server.url(),
            "--user",
            "coordinator",
            "--password",
            "c-pass",
            "--distributed",
            "1",
            "-d",
            "2s",
            "--quiet",
            "--out",
            out.to_str().expect("utf-8"),
        ],
        Duration::from_secs(60),
    )
    .await;
    let r = read_result(&out);
    assert_passed_but_for_speed(o.status.code(), &r, &stderr(&o));
    assert!(r["summary"]["requests"].as_u64() > Some(0));
    assert_eq!(r["summary"]["failure_percent"], 0.0);
    assert_eq!(exits(&mut w).await, Some(0));
    stop.cancel();
}

/// The coordinator's --prometheus and --dashboard show the figures merged
/// over the workers while the run goes (issue 17: they must not break when
/// distributed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_coordinators_metrics_and_dashboard_are_merged_over_the_workers() {
    let env = Env::with_test_service().await;
    let _workers: Vec<Child> = ["m1", "m2"]
        .iter()
        .map(|n| worker(&env, n, &["--exit-after-run"]))
        .collect();
    let (port, dashboard) = (crate::harness::free_port(), crate::harness::free_port());
    let out = env.out();
    let out_s = out.to_str().expect("utf-8");
    let addr = format!("127.0.0.1:{port}");
    let coordinator = cliffload()
        .args(coordinate(&env, out_s, &["--distributed", "2", "-d", "6s"]))
        // The test scrapes during the run only: no wait for a final scrape.
        .args(["--prometheus", &addr, "--prometheus-linger", "0s"])
        .arg(format!("--dashboard=127.0.0.1:{dashboard}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn coordinator");
    // The dashboard is up before the workers are found.
    let page = format!("http://127.0.0.1:{dashboard}/");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while reqwest::get(&page).await.is_err() {
        assert!(tokio::time::Instant::now() < deadline, "no dashboard");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut updates = crate::dashboard::Updates::open(&page).await;
    let url = format!("http://{addr}/metrics");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let scraped = loop {
        let text = match reqwest::get(&url).await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        let ok: u64 = text
            .lines()
            .filter(|l| l.starts_with("cliffload_requests_total") && l.contains("outcome=\"ok\""))
            .filter_map(|l| l.rsplit(" ").next()?.parse::<u64>().ok())
            .sum();
        if ok > 0 || tokio::time::Instant::now() > deadline {
            break ok;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut running = Vec::new();
    let mut last = None;
    while let Some(u) = updates.next().await {
        if u["state"] == "running" {
            running.push(u["requests"].as_u64().expect("requests"));
        }
        last = Some(u);
    }
    let o = tokio::time::timeout(Duration::from_secs(40), coordinator.wait_with_output())
        .await
        .expect("ends")
        .expect("ran");
    let r = read_result(&out);
    assert_passed_but_for_speed(o.status.code(), &r, &stderr(&o));
    let total = r["summary"]["successes"].as_u64().expect("successes");
    assert!(scraped > 0 && scraped <= total, "{scraped} of {total}");
    assert!(running.len() >= 3, "live seconds: {running:?}");
    assert!(running.is_sorted() && running[0] > 0, "{running:?}");
    let last = last.expect("a final update");
    // The page's verdict is the result's (a loaded machine may miss a speed claim).
    let verdict = if r["verdict"]["passed"] == true {
        "passed"
    } else {
        "failed"
    };
    assert_eq!(last["state"], verdict);
    assert_eq!(last["requests"], r["summary"]["requests"]);
    assert!(
        last["html"]
            .as_str()
            .is_some_and(|h| h.contains("m1") && h.contains("m2")),
        "the workers table names both workers"
    );
}

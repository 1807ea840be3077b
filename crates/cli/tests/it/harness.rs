// Shared set-up: a server, the test service or hand-written responders, the binary.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use async_nats::Client;
use cliffload_services::{cliffracer, test_service};
use cliffload_testkit::NatsServer;
use futures_util::StreamExt;
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

/// A nats-server with the `test` service on it, stopped on drop.
pub struct Env {
    pub server: NatsServer,
    pub client: Client,
    pub stop_service: CancellationToken,
    pub dir: tempfile::TempDir,
}

impl Env {
    pub async fn with_test_service() -> Self {
        let env = Self::bare().await;
        let svc = cliffload_testkit::client(&env.server).await;
        let shutdown = env.stop_service.clone();
        tokio::spawn(async move {
            test_service::run(svc, Default::default(), shutdown.cancelled_owned())
                .await
                .expect("service runs");
        });
        cliffracer::wait_ready(&env.client, "test", Duration::from_secs(5))
            .await
            .expect("service ready");
        env
    }

    pub async fn bare() -> Self {
        let server = cliffload_testkit::server();
        let client = cliffload_testkit::client(&server).await;
        Self {
            server,
            client,
            stop_service: CancellationToken::new(),
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// Waits (polling `$SRV.STATS`, 15 s at most) until the `test` service
    /// has answered more than `n` RPCs: a run is under way.
    /// Waits (15 s at most) until the `test` service has served more than
    /// `n` requests, preflight included; returns how many it had.
    pub async fn wait_until_served(&self, n: u64) -> u64 {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let stats = cliffload_testkit::srv_stats(&self.client, "test").await;
            let served = cliffload_testkit::endpoint_requests(&stats, "rpc");
            if served > n {
                return served;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the run never reached the service"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn url(&self) -> &str {
        self.server.url()
    }

    /// Writes a scenario file and returns its path.
    pub fn scenario(&self, yaml: &str) -> PathBuf {
        let p = self.dir.path().join("scenario.yaml");
        std::fs::write(&p, yaml).expect("write scenario");
        p
    }

    pub fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    /// `cliffload run SCENARIO --config CFG --nats-url URL --quiet --out OUT`
    /// plus `extra`, to completion (30 s at most).
    pub async fn run_file(&self, scenario: &str, cfg: &Path, extra: &[&str]) -> Output {
        let out = self.out();
        let mut args = vec![
            "run",
            scenario,
            "--config",
            cfg.to_str().expect("utf-8"),
            "--nats-url",
            self.url(),
            "--quiet",
            "--out",
            out.to_str().expect("utf-8"),
        ];
        args.extend_from_slice(extra);
        run(&args, Duration::from_secs(30)).await
    }

    /// Starts `cliffload run SCENARIO --nats-url URL --duration 60s --quiet
    /// --out OUT` plus `extra`, to be interrupted.
    pub fn spawn_long(&self, scenario: &str, extra: &[&str]) -> tokio::process::Child {
        let out = self.out();
        cliffload()
            .args([
                "run",
                scenario,
                "--nats-url",
                self.url(),
                "--duration",
                "60s",
                "--quiet",
            ])
            .args(["--out", out.to_str().expect("utf-8")])
            .args(extra)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("spawn")
    }
}

/// Smaller payload pools so a debug build starts quickly; laid over the catalog.
pub const SMALL_POOLS: &str = "data_generation:\n  payload_pool_size: 12\n  customer_pool_size: 40\n  product_pool_size: 40\n";

/// Sends SIGINT (a terminal's Ctrl-C) to `child` and waits, `limit` at most,
/// for it to exit; its exit code.
pub async fn interrupt(child: &mut tokio::process::Child, limit: Duration) -> Option<i32> {
    signal_and_wait(child, "INT", limit).await
}

/// Sends `signal` (`INT`, `HUP`, `KILL`…) to `child`.
pub async fn send_signal(child: &tokio::process::Child, signal: &str) {
    let pid = child.id().expect("running").to_string();
    let kill = Command::new("kill")
        .args([&format!("-{signal}"), &pid])
        .status()
        .await
        .expect("kill runs");
    assert!(kill.success());
}

/// Sends `signal` and waits, `limit` at most, for `child` to exit; its exit code.
pub async fn signal_and_wait(
    child: &mut tokio::process::Child,
    signal: &str,
    limit: Duration,
) -> Option<i32> {
    send_signal(child, signal).await;
    tokio::time::timeout(limit, child.wait())
        .await
        .expect("stopped in time")
        .expect("ran")
        .code()
}

/// A loopback port free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The cliffload binary under test.
pub fn cliffload() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cliffload"));
    // Runs are remembered only where a test asks (tests/it/history.rs),
    // never in a results/ folder beside the tests.
    c.env_remove("CLIFFLOAD_NATS_URL")
        .env_remove("CLIFFLOAD_HISTORY")
        .env("CLIFFLOAD_NO_HISTORY", "true")
        .kill_on_drop(true);
    c
}

/// Runs cliffload to completion, bounded by `limit`.
pub async fn run(args: &[&str], limit: Duration) -> Output {
    let child = cliffload().args(args).output();
    tokio::time::timeout(limit, child)
        .await
        .expect("cliffload finished in time")
        .expect("cliffload ran")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts that every request the service had served before a signal
/// (`served_before`, from [`Env::wait_until_served`]) is in the result `r`,
/// but for `preflight` calls, which it does not count. Not "more than N": a
/// generator starved between the check and the signal sends nothing more.
pub fn assert_served_are_recorded(r: &serde_json::Value, served_before: u64, preflight: u64) {
    let requests = r["summary"]["requests"].as_u64().expect("requests");
    assert!(
        requests + preflight >= served_before,
        "{requests} recorded, {served_before} served before Ctrl-C"
    );
}

/// Checks and claims that judge speed. Whether they hold depends on how
/// loaded this machine is (CI runs the test binaries side by side on two
/// cores), so a test that is not about speed must not require them.
const SPEED_JUDGEMENTS: &[&str] = &[
    "max_median_ms",
    "max_p95_ms",
    "max_p99_ms",
    "min_rps",
    "sub_millisecond",
    "high_throughput",
];

/// Asserts that the run (its exit `code`, its result `r`) held everything
/// but the judgements of speed, and that the code is its verdict's: 0 when
/// the verdict passed, 1 when only speed failed or could not be judged.
/// Names every check or claim that did not hold, and shows what the run
/// `said`, when it fails.
pub fn assert_passed_but_for_speed(code: Option<i32>, r: &serde_json::Value, said: &str) {
    let v = &r["verdict"];
    let unheld: Vec<&serde_json::Value> = v["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["status"] != "passed")
        .chain(
            v["claims"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|c| c["status"] == "not_validated"),
        )
        .collect();
    // A task's threshold (`Class.task.max_p95_ms`) judges speed too.
    let is_speed = |name: &str| {
        SPEED_JUDGEMENTS
            .iter()
            .any(|s| name == *s || name.strip_suffix(s).is_some_and(|t| t.ends_with('.')))
    };
    let beyond_speed: Vec<_> = unheld
        .iter()
        .filter(|c| !c["name"].as_str().is_some_and(is_speed))
        .collect();
    assert!(
        beyond_speed.is_empty(),
        "did not hold: {beyond_speed:?}\n{said}"
    );
    let verdicts = match v["status"].as_str() {
        Some("passed") => 0,
        Some("inconclusive") => 3,
        _ => 1,
    };
    assert_eq!(
        code,
        Some(verdicts),
        "the exit code is the verdict's: {v}\n{said}"
    );
}

pub fn read_result(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("result.json")).expect("result.json written");
    serde_json::from_str(&text).expect("result.json is JSON")
}

/// The message of the result's warning of `kind`, if it has one.
pub fn warning(result: &serde_json::Value, kind: &str) -> Option<String> {
    result["warnings"]
        .as_array()?
        .iter()
        .find(|w| w["kind"] == kind)
        .and_then(|w| w["message"].as_str())
        .map(str::to_owned)
}

/// Checks a result against docs/run-result.schema.json.
pub fn assert_schema_valid(result: &serde_json::Value) {
    let schema: serde_json::Value =
        serde_json::from_str(cliffload_report::SCHEMA).expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(result)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "result.json violates the schema:\n{}",
        errors.join("\n")
    );
}

/// A hand-written responder on `subject`: the `n`th request (from 0) gets
/// `answer(n)` as its reply, or none (the request times out).
pub async fn respond_with(
    client: &Client,
    subject: &str,
    answer: impl Fn(u64) -> Option<&'static [u8]> + Send + 'static,
) {
    let mut sub = client
        .subscribe(subject.to_owned())
        .await
        .expect("subscribe");
    let c = client.clone();
    tokio::spawn(async move {
        let mut n = 0u64;
        while let Some(m) = sub.next().await {
            if let (Some(r), Some(body)) = (m.reply, answer(n)) {
                let _ = c.publish(r, body.into()).await;
            }
            n += 1;
        }
    });
    client.flush().await.expect("flush");
}

/// Answers every request with `body`.
pub async fn respond_always(client: &Client, subject: &str, body: &'static [u8]) {
    respond_with(client, subject, move |_| Some(body)).await;
}

/// Answers the first request and then every second one; the rest time out.
pub async fn respond_every_other(client: &Client, subject: &str, body: &'static [u8]) {
    respond_with(client, subject, move |n| {
        n.is_multiple_of(2).then_some(body)
    })
    .await;
}

/// Answers the first request (preflight) and then none.
pub async fn respond_first_then_never(client: &Client, subject: &str, body: &'static [u8]) {
    respond_with(client, subject, move |n| (n == 0).then_some(body)).await;
}

/// Answers `first`, then alternates `second` and `first`.
pub async fn respond_alternating(
    client: &Client,
    subject: &str,
    first: &'static [u8],
    second: &'static [u8],
) {
    respond_with(client, subject, move |n| {
        Some(if n.is_multiple_of(2) { first } else { second })
    })
    .await;
}

/// Processes whose parent is `pid`, with their command names (from /proc).
pub fn children_of(pid: u32) -> Vec<(u32, String)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let child: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            // pid (comm) state ppid …: comm may hold spaces, so split after ')'.
            let (head, rest) = stat.rsplit_once(')')?;
            let comm = head.split_once('(')?.1.to_owned();
            let ppid: u32 = rest.split_whitespace().nth(1)?.parse().ok()?;
            (ppid == pid).then_some((child, comm))
        })
        .collect()
}

/// True while process `pid` exists (and is not a zombie).
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, r)| !r.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

/// A verdict of `checks` and `claims` (name, status) pairs.
fn verdict(passed: bool, checks: &[(&str, &str)], claims: &[(&str, &str)]) -> serde_json::Value {
    let pairs = |v: &[(&str, &str)]| -> Vec<serde_json::Value> {
        v.iter()
            .map(|(n, s)| serde_json::json!({"name": n, "status": s}))
            .collect()
    };
    let status = if passed {
        "passed"
    } else if checks.iter().any(|(_, s)| *s == "failed") || !claims.is_empty() {
        "failed"
    } else {
        "inconclusive"
    };
    serde_json::json!({"verdict": {"status": status, "passed": passed, "checks": pairs(checks), "claims": pairs(claims)}})
}

#[test]
fn a_slow_machine_may_fail_speed_but_nothing_else() {
    let slow = verdict(
        false,
        &[
            ("max_failure_percent", "passed"),
            ("max_median_ms", "failed"),
        ],
        &[("sub_millisecond", "not_validated")],
    );
    assert_passed_but_for_speed(Some(1), &slow, "");
    let clean = verdict(true, &[("max_failure_percent", "passed")], &[]);
    assert_passed_but_for_speed(Some(0), &clean, "");
    // Too few samples to judge the median: inconclusive, exit 3.
    let short = verdict(
        false,
        &[
            ("max_failure_percent", "passed"),
            ("max_median_ms", "inconclusive"),
        ],
        &[],
    );
    assert_passed_but_for_speed(Some(3), &short, "");
    for (code, r) in [
        // Failures are not speed.
        (
            Some(1),
            verdict(false, &[("max_failure_percent", "failed")], &[]),
        ),
        // The exit code must be the verdict's.
        (Some(0), slow.clone()),
        (Some(1), clean.clone()),
        (Some(2), slow),
        (Some(1), short),
    ] {
        let held = std::panic::catch_unwind(|| assert_passed_but_for_speed(code, &r, ""));
        assert!(held.is_err(), "{code:?} {r}");
    }
}

// The history as a user meets it: runs remembered in an SQLite file and in a
// real PostgreSQL, `cliffload history`, `cliffload diff`, `--baseline
// history` catching a 30 % slower service (its realistic I/O delays × 1.3)
// and the step in the series, and a history that is broken or away.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::time::Duration;

use cliffload_services::order_service::{self, OrderConfig, OrderService};
use cliffload_testkit::PgServer;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::harness::{Env, cliffload, stderr};

/// Batches of 20 analytics events from 4 users for 1 s: the order service's
/// realistic I/O is 1 ms an event, most of a call's time, so its 30 %
/// slower I/O is clear of this machine's noise (a debug build's CPU, other
/// tests beside it). A 10 % allowance, as a nightly job might set.
const NIGHTLY: &str = "scenarios:
  nightly:
    users: 4
    spawn_rate: 100
    duration: 1s
    error_rate: 0
    tasks:
      - {name: events, service: order_processing_service, method: analytics_ingestion, arg: events, generate: {model: analytics_batch, count: {one_of: [20]}}, timeout: 5s}
advanced:
  regression_detection:
    enabled: true
    max_performance_degradation_percent: 10
data_generation:
  payload_pool_size: 12
  customer_pool_size: 40
  product_pool_size: 40
";

/// The order service on `env`'s server, its delays × `factor`, until the token is cancelled.
async fn order_service(env: &Env, factor: f64) -> CancellationToken {
    let stop = CancellationToken::new();
    let client = cliffload_testkit::client(&env.server).await;
    let svc = Arc::new(OrderService::new(OrderConfig {
        latency_factor: factor,
        ..OrderConfig::default()
    }));
    let shutdown = stop.clone().cancelled_owned();
    tokio::spawn(async move { order_service::run(client, svc, shutdown).await });
    cliffload_services::cliffracer::wait_ready(
        &env.client,
        order_service::NAME,
        Duration::from_secs(5),
    )
    .await
    .expect("order service ready");
    stop
}

/// `cliffload run nightly` remembered in `history`, its files in `out`.
async fn nightly(
    env: &Env,
    cfg: &Path,
    history: &str,
    out: &Path,
    extra: &[&str],
) -> (Output, Value) {
    let o = tokio::time::timeout(
        Duration::from_secs(60),
        cliffload()
            .env_remove("CLIFFLOAD_NO_HISTORY")
            .args(["run", "nightly", "--config", cfg.to_str().expect("utf-8")])
            .args(["--nats-url", env.url(), "--quiet", "--history", history])
            .args(["--out", out.to_str().expect("utf-8")])
            .args(extra)
            .output(),
    )
    .await
    .expect("in time")
    .expect("runs");
    let text = std::fs::read_to_string(out.join("result.json"))
        .unwrap_or_else(|e| panic!("no result.json ({e}): {}", stderr(&o)));
    (o, serde_json::from_str(&text).expect("json"))
}

fn check<'a>(r: &'a Value, name: &str) -> &'a Value {
    r["verdict"]["checks"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no check {name}: {}", r["verdict"]))
}

async fn history_cmd(history: &str, args: &[&str]) -> Output {
    tokio::time::timeout(
        Duration::from_secs(30),
        cliffload()
            .args(["history", "--history", history])
            .args(args)
            .output(),
    )
    .await
    .expect("in time")
    .expect("runs")
}

async fn diff_cmd(history: &str, a: &str, b: &str, format: &str) -> Output {
    tokio::time::timeout(
        Duration::from_secs(30),
        cliffload()
            .args(["diff", a, b, "--history", history, "--format", format])
            .output(),
    )
    .await
    .expect("in time")
    .expect("runs")
}

/// Twenty runs: fourteen as usual, one more judged against them (passes),
/// then five with the service 30 % slower, judged (each fails
/// `no_regression`; the last also `no_step_change`). Then the history's
/// table and `diff` agree with the result files.
async fn twenty_runs(history: &str) {
    let env = Env::bare().await;
    let cfg = env.scenario(NIGHTLY);
    let stop = order_service(&env, 1.0).await;
    let mut results: Vec<(PathBuf, Value)> = Vec::new();
    for i in 0..15 {
        let out = env.dir.path().join(format!("run{i}"));
        let extra: &[&str] = if i == 14 {
            &["--baseline", "history", "--label", "usual"]
        } else {
            &[]
        };
        let (o, r) = nightly(&env, &cfg, history, &out, extra).await;
        if i == 14 {
            assert_eq!(
                o.status.code(),
                Some(0),
                "a usual run passes: {}",
                r["verdict"]
            );
            assert_eq!(check(&r, "no_regression")["status"], "passed");
            assert_eq!(check(&r, "no_step_change")["status"], "passed");
            assert!(
                r["baseline"]["source"]
                    .as_str()
                    .unwrap_or("")
                    .contains("median of 14 passing runs"),
                "{}",
                r["baseline"]
            );
        }
        results.push((out, r));
    }
    stop.cancel();
    let _slow = order_service(&env, 1.3).await;
    for i in 15..20 {
        let out = env.dir.path().join(format!("run{i}"));
        let (o, r) = nightly(
            &env,
            &cfg,
            history,
            &out,
            &["--baseline", "history", "--label", "slow"],
        )
        .await;
        assert_eq!(
            o.status.code(),
            Some(1),
            "a 30 % slower service fails: {}",
            r["verdict"]
        );
        let c = check(&r, "no_regression");
        assert_eq!(c["status"], "failed", "{c}");
        assert!(
            c["actual"]
                .as_str()
                .unwrap_or("")
                .contains("nightly.events median"),
            "{c}"
        );
        if i == 19 {
            let step = check(&r, "no_step_change");
            assert_eq!(step["status"], "failed", "{step}\n{}", r["trend"]);
            // The step of p50 or req/s (or both); where exactly the ranks
            // put it depends on the usual runs' own wiggle.
            let words = step["actual"].as_str().unwrap_or("");
            assert!(words.contains("stepped from"), "{step}");
            let html = std::fs::read_to_string(out.join("report.html")).expect("html");
            assert!(
                html.contains("stepped from"),
                "the trend's step is on the page"
            );
        }
        results.push((out, r));
    }
    tables_and_diffs_agree(history, &results).await;
}

/// `history --format json` holds each run as its result.json says; the
/// text table shows them; `diff` of a usual and a slow run says worse.
async fn tables_and_diffs_agree(history: &str, results: &[(PathBuf, Value)]) {
    let o = history_cmd(history, &["nightly", "-n", "50", "--format", "json"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let runs: Vec<Value> = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(runs.len(), 20, "every run remembered once");
    for (row, (_, r)) in runs.iter().zip(results) {
        assert_eq!(row["started_at"], r["started_at"]);
        assert_eq!(row["requests"], r["summary"]["requests"]);
        assert_eq!(row["p50_us"], r["summary"]["latency_us"]["p50"]);
        assert_eq!(row["p99_us"], r["summary"]["latency_us"]["p99"]);
        assert_eq!(row["rps"], r["summary"]["rps"]);
        assert_eq!(row["verdict"], r["verdict"]["status"]);
    }
    // What the last run's trend chart draws is the same twenty runs.
    let drawn = results[19].1["trend"]["runs"].as_array().expect("a trend");
    assert_eq!(drawn.len(), 20);
    for (point, (_, r)) in drawn.iter().zip(results) {
        assert_eq!(point["p50_us"], r["summary"]["latency_us"]["p50"]);
        assert_eq!(point["p99_us"], r["summary"]["latency_us"]["p99"]);
        assert_eq!(point["rps"], r["summary"]["rps"]);
    }
    let ids: Vec<i64> = runs.iter().map(|r| r["id"].as_i64().expect("id")).collect();
    let o = history_cmd(history, &["nightly", "--max-degradation-percent", "10"]).await;
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table
            .lines()
            .nth(1)
            .is_some_and(|l| l.contains(&ids[19].to_string()) && l.contains("slow")),
        "newest first:\n{table}"
    );
    assert!(
        table.contains("nightly: ✗ worse: ") && table.contains("stepped from"),
        "{table}"
    );

    let (usual, slow) = (ids[14].to_string(), ids[15].to_string());
    let o = diff_cmd(history, &usual, &slow, "json").await;
    assert_eq!(
        o.status.code(),
        Some(1),
        "worse beyond the noise: {}",
        stderr(&o)
    );
    let d: Value = serde_json::from_slice(&o.stdout).expect("json");
    let p50 = d["rows"]
        .as_array()
        .and_then(|rs| {
            rs.iter()
                .find(|r| r["task"] == "nightly.events" && r["figure"] == "p50_us")
        })
        .expect("a p50 row");
    assert_eq!(p50["verdict"], "worse", "{p50}");
    let p50_of = |r: &Value| r["tasks"][0]["latency_us"]["p50"].as_f64();
    assert_eq!(p50["before"].as_f64(), p50_of(&results[14].1));
    assert_eq!(p50["after"].as_f64(), p50_of(&results[15].1));
    // A result file and an id compare the same way.
    let file = results[15].0.join("result.json");
    let o = diff_cmd(history, &usual, file.to_str().expect("utf-8"), "json").await;
    let by_file: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(by_file["rows"], d["rows"]);
    // Two usual runs: their medians are the same within the noise (req/s
    // of 1 s runs has no per-second spread to judge by, so only latency here).
    let o = diff_cmd(history, &ids[12].to_string(), &usual, "json").await;
    let d: Value = serde_json::from_slice(&o.stdout).expect("json");
    let p50 = d["rows"]
        .as_array()
        .and_then(|rs| {
            rs.iter()
                .find(|r| r["task"] == "all tasks" && r["figure"] == "p50_us")
        })
        .expect("a p50 row");
    assert_eq!(p50["verdict"], "same", "{p50}");
    let o = diff_cmd(history, &usual, &slow, "text").await;
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains(&format!("run {usual}")) && text.contains("worse"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_twenty_runs_catch_a_slower_service_and_agree_with_their_results() {
    let dir = tempfile::tempdir().expect("temp");
    let h = dir.path().join("h/history.sqlite");
    twenty_runs(h.to_str().expect("utf-8")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_twenty_runs_catch_a_slower_service_and_agree_with_their_results() {
    let pg = PgServer::start();
    twenty_runs(pg.url()).await;
}

/// Two runs writing to one history at once (two CI jobs) both land.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_at_once_are_both_remembered() {
    let env = Env::bare().await;
    let cfg = env.scenario(NIGHTLY);
    let _svc = order_service(&env, 1.0).await;
    let h = env.dir.path().join("history.sqlite");
    let h = h.to_str().expect("utf-8");
    let (a, b) = (env.dir.path().join("a"), env.dir.path().join("b"));
    let (ra, rb) = tokio::join!(
        nightly(&env, &cfg, h, &a, &[]),
        nightly(&env, &cfg, h, &b, &[])
    );
    assert!(ra.0.status.code().is_some() && rb.0.status.code().is_some());
    let o = history_cmd(h, &["--format", "json"]).await;
    let runs: Vec<Value> = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(
        runs.len(),
        2,
        "{}\nwarnings: {} / {}",
        String::from_utf8_lossy(&o.stdout),
        ra.1["warnings"],
        rb.1["warnings"]
    );
}

/// A history file that is no database, or a PostgreSQL that is not there:
/// the run goes on, its files are written with a warning, its exit code is
/// its own; `--baseline history` on it is refused before any load (exit 2).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_or_absent_history_warns_and_changes_nothing_else() {
    let env = Env::bare().await;
    let cfg = env.scenario(NIGHTLY);
    let _svc = order_service(&env, 1.0).await;
    let junk = env.dir.path().join("junk.sqlite");
    std::fs::write(&junk, vec![b'x'; 4096]).expect("writes");
    let junk = junk.to_str().expect("utf-8");
    for (i, history) in [junk, "postgres://cliffload@127.0.0.1:1/none"]
        .into_iter()
        .enumerate()
    {
        let out = env.dir.path().join(format!("out{i}"));
        let (o, r) = nightly(&env, &cfg, history, &out, &[]).await;
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let warning = r["warnings"]
            .as_array()
            .and_then(|ws| ws.iter().find(|w| w["kind"] == "history_unavailable"))
            .unwrap_or_else(|| panic!("no history warning: {}", r["warnings"]));
        let words = warning["message"].as_str().unwrap_or("");
        assert!(words.contains("not affected"), "{words}");
        assert!(out.join("report.html").is_file() && out.join("junit.xml").is_file());

        let o = tokio::time::timeout(
            Duration::from_secs(30),
            cliffload()
                .env_remove("CLIFFLOAD_NO_HISTORY")
                .args(["run", "nightly", "--config", cfg.to_str().expect("utf-8")])
                .args(["--nats-url", env.url(), "--quiet", "--history", history])
                .args(["--baseline", "history"])
                .output(),
        )
        .await
        .expect("in time")
        .expect("runs");
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        let e = stderr(&o);
        assert!(e.contains("--baseline history:"), "{e}");
        assert!(
            e.contains("move it aside") || e.contains("check that the server runs"),
            "{e}"
        );
    }
    assert_eq!(
        std::fs::read(junk).expect("reads"),
        vec![b'x'; 4096],
        "left as it was"
    );
}

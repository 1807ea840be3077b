// --prometheus (issue 17, part; issue 27): a real Prometheus server scrapes
// a run, and the last figures it scraped are result.json's.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use crate::harness::{Env, free_port, read_result, run, stderr};

/// Prometheus's binary: on PATH or where Debian's package puts it.
fn prometheus_binary() -> String {
    for p in ["/usr/bin/prometheus", "/usr/local/bin/prometheus"] {
        if std::path::Path::new(p).exists() {
            return p.to_owned();
        }
    }
    panic!("prometheus is not installed: apt-get install prometheus (.ci/run does)");
}

/// The series of an instant `query` of Prometheus's API at `web`.
async fn query(web: u16, query: &str) -> Vec<Value> {
    let url = format!("http://127.0.0.1:{web}/api/v1/query");
    let answer: Option<Value> = match reqwest::Client::new()
        .get(&url)
        .query(&[("query", query)])
        .send()
        .await
    {
        Ok(resp) => resp.json().await.ok(),
        Err(_) => None,
    };
    answer
        .and_then(|a| a["data"]["result"].as_array().cloned())
        .unwrap_or_default()
}

/// A series' value.
fn value(series: &Value) -> f64 {
    series["value"][1]
        .as_str()
        .and_then(|v| v.parse().ok())
        .expect("a value")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheuss_last_scrape_equals_the_results() {
    // Issue 27: /metrics closed with the run, so the last scrape missed up
    // to a scrape interval of requests (6.6 % below result.json).
    let env = Env::with_test_service().await;
    let (metrics, web) = (free_port(), free_port());
    let dir = env.dir.path();
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global: {{scrape_interval: 500ms, scrape_timeout: 500ms, evaluation_interval: 1s}}\nscrape_configs:\n  - job_name: cliffload\n    static_configs: [{{targets: [\"127.0.0.1:{metrics}\"]}}]\n"
        ),
    )
    .expect("config");
    let log = std::fs::File::create(dir.join("prometheus.log")).expect("log");
    let _prometheus = tokio::process::Command::new(prometheus_binary())
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{web}"))
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .kill_on_drop(true)
        .spawn()
        .expect("prometheus starts");
    // Prometheus ready (it takes a few seconds on a loaded machine) before
    // the run, so it scrapes the run from its start.
    let ready = format!("http://127.0.0.1:{web}/-/ready");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !reqwest::get(&ready)
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "prometheus not ready in 30 s: {}",
            std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let out = env.out();
    let scrape = format!("127.0.0.1:{metrics}");
    let o = run(
        &[
            "run",
            "ping",
            "--nats-url",
            env.url(),
            "-d",
            "4s",
            "--quiet",
            "--prometheus",
            &scrape,
            "--out",
            out.to_str().expect("utf-8"),
        ],
        Duration::from_secs(60),
    )
    .await;
    let r = read_result(&out);
    crate::harness::assert_passed_but_for_speed(o.status.code(), &r, &stderr(&o));
    // cliffload waited for a scrape of its final figures (with
    // cliffload_run_finished 1) before it exited. Prometheus marks the
    // series stale at the next scrape, which fails, so an instant query
    // returns nothing: ask for the last value scraped. A scrape is stored at
    // once, so when its run_finished is there its counters are too.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !query(web, "last_over_time(cliffload_run_finished[5m])")
        .await
        .first()
        .is_some_and(|s| value(s) == 1.0)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "Prometheus never scraped cliffload_run_finished 1: {}",
            stderr(&o)
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let series = query(web, "last_over_time(cliffload_requests_total[5m])").await;
    let mut scraped: BTreeMap<(String, String), u64> = BTreeMap::new();
    for s in &series {
        assert_eq!(s["metric"]["scenario"], "ping");
        let key = (
            s["metric"]["task"].as_str().expect("task").to_owned(),
            s["metric"]["outcome"].as_str().expect("outcome").to_owned(),
        );
        let n = value(s);
        if n > 0.0 {
            scraped.insert(key, n as u64);
        }
    }
    let mut results: BTreeMap<(String, String), u64> = BTreeMap::new();
    for t in r["tasks"].as_array().expect("tasks") {
        let task = t["name"].as_str().expect("name");
        for (outcome, o) in t["outcomes"].as_object().expect("outcomes") {
            let n = o["count"].as_u64().expect("count");
            if n > 0 {
                results.insert((task.to_owned(), outcome.clone()), n);
            }
        }
    }
    let tasks: Vec<&str> = results.keys().map(|(t, _)| t.as_str()).collect();
    assert!(
        ["ping.compute", "ping.echo", "ping.ping"]
            .iter()
            .all(|t| tasks.contains(t)),
        "{results:?}"
    );
    // Equal, not "some, never more": the final figures were scraped.
    assert_eq!(scraped, results);
    assert_eq!(
        Some(scraped.values().sum::<u64>()),
        r["summary"]["requests"].as_u64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_scraper_the_wait_for_a_final_scrape_is_said_and_bounded() {
    let env = Env::with_test_service().await;
    let out = env.out();
    let o = run(
        &[
            "run",
            "ping",
            "--nats-url",
            env.url(),
            "-d",
            "1s",
            "--quiet",
            "--prometheus",
            "127.0.0.1:0",
            "--prometheus-linger",
            "1s",
            "--out",
            out.to_str().expect("utf-8"),
        ],
        Duration::from_secs(60),
    )
    .await;
    let err = stderr(&o);
    crate::harness::assert_passed_but_for_speed(o.status.code(), &read_result(&out), &err);
    // Said even under --quiet (a silent wait looks like a hang), with how
    // to skip it, and what happened when no scrape came.
    assert!(
        err.contains("waiting up to 1 s for a scrape of the final figures at http://127.0.0.1:")
            && err.contains("(Ctrl-C, or --prometheus-linger 0s, to skip)"),
        "{err}"
    );
    assert!(
        err.contains("no scrape of the final figures in 1 s"),
        "{err}"
    );
}

// --prometheus (issue 17, part): a real Prometheus server scrapes a run and
// its HTTP API returns cliffload_requests_total for each task.

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_scrapes_the_requests_of_each_task() {
    let env = Env::with_test_service().await;
    let (metrics, web) = (free_port(), free_port());
    let dir = env.dir.path();
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\nscrape_configs:\n  - job_name: cliffload\n    scrape_interval: 1s\n    static_configs: [{{targets: [\"127.0.0.1:{metrics}\"]}}]\n"
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
            "8s",
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
    // Prometheus kept what it scraped during the run. Once cliffload has
    // exited, the next scrape fails and marks the series stale, and an
    // instant query of `cliffload_requests_total` returns nothing: ask for
    // the last value scraped instead.
    let url = format!(
        "http://127.0.0.1:{web}/api/v1/query?query=last_over_time(cliffload_requests_total%5B5m%5D)"
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let series = loop {
        let answer: Option<Value> = match reqwest::get(&url).await {
            Ok(resp) => resp.json().await.ok(),
            Err(_) => None,
        };
        let series = answer
            .and_then(|a| a["data"]["result"].as_array().cloned())
            .unwrap_or_default();
        if series.len() >= 3 || tokio::time::Instant::now() > deadline {
            break series;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let mut tasks: Vec<&str> = series
        .iter()
        .filter_map(|s| s["metric"]["task"].as_str())
        .collect();
    tasks.sort_unstable();
    assert_eq!(
        tasks,
        ["ping.compute", "ping.echo", "ping.ping"],
        "{series:?}"
    );
    for s in &series {
        assert_eq!(s["metric"]["outcome"], "ok");
        assert_eq!(s["metric"]["scenario"], "ping");
        let scraped: f64 = s["value"][1]
            .as_str()
            .and_then(|v| v.parse().ok())
            .expect("a value");
        let task = s["metric"]["task"].as_str().expect("task");
        let total = r["tasks"]
            .as_array()
            .and_then(|t| t.iter().find(|t| t["name"] == task))
            .and_then(|t| t["requests"].as_f64())
            .expect("the task in result.json");
        // Scraped during the run: some, never more than the run's total.
        assert!(
            scraped > 0.0 && scraped <= total,
            "{task}: {scraped} of {total}"
        );
    }
}

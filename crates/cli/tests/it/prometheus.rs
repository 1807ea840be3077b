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

/// A real Prometheus scraping `127.0.0.1:metrics` every 500 ms, its data in
/// `dir`, ready (it takes a few seconds on a loaded machine); its web port.
/// Killed when the child is dropped.
async fn prometheus(dir: &std::path::Path, metrics: u16) -> (tokio::process::Child, u16) {
    let web = free_port();
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global: {{scrape_interval: 500ms, scrape_timeout: 500ms, evaluation_interval: 1s}}\nscrape_configs:\n  - job_name: cliffload\n    static_configs: [{{targets: [\"127.0.0.1:{metrics}\"]}}]\n"
        ),
    )
    .expect("config");
    let log = std::fs::File::create(dir.join("prometheus.log")).expect("log");
    let child = tokio::process::Command::new(prometheus_binary())
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
    // Ready is not yet scraping: Prometheus hands discovered targets to its
    // scrapers at most every 5 s, so its first scrape of a run started now
    // would come 5 s into it. Wait until the target is known.
    let targets = format!("http://127.0.0.1:{web}/api/v1/targets");
    loop {
        let known = match reqwest::get(&targets).await {
            Ok(r) => r.json::<Value>().await.ok(),
            Err(_) => None,
        }
        .is_some_and(|t| {
            t["data"]["activeTargets"]
                .as_array()
                .is_some_and(|a| !a.is_empty())
        });
        if known {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline + Duration::from_secs(10),
            "prometheus never listed its target"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (child, web)
}

/// The series of an instant `query` of Prometheus's API at `web`.
async fn query(web: u16, query: &str) -> Vec<Value> {
    query_at(web, query, None).await
}

/// The series of `query` evaluated at `time` (Unix seconds; now if `None`).
async fn query_at(web: u16, query: &str, time: Option<f64>) -> Vec<Value> {
    let url = format!("http://127.0.0.1:{web}/api/v1/query");
    let mut params = vec![("query", query.to_owned())];
    params.extend(time.map(|t| ("time", format!("{t:.3}"))));
    let answer: Option<Value> = match reqwest::Client::new().get(&url).query(&params).send().await {
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
    let metrics = free_port();
    let (_prometheus, web) = prometheus(env.dir.path(), metrics).await;
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

/// Issue 32: every query of the Grafana dashboard
/// (examples/grafana/cliffload.json) returns series from a real Prometheus
/// that scraped a real run with failures in it, evaluated at a moment of
/// the load, with Grafana's variables given values; and the run variable's
/// query lists the run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_query_of_the_grafana_dashboard_returns_series_from_a_real_run() {
    let env = Env::with_test_service().await;
    let metrics = free_port();
    let (_prometheus, web) = prometheus(env.dir.path(), metrics).await;
    let cfg = env.dir.path().join("graf.yaml");
    std::fs::write(
        &cfg,
        "scenarios:\n  graf:\n    users: 4\n    duration: 6s\n    wait_time: {constant: 0.05}\n    tasks:\n      - {name: ping, service: test, method: ping, weight: 5}\n      - {name: nobody, subject: nobody.home, weight: 1, timeout: 200ms}\n",
    )
    .expect("write");
    let (out, scrape) = (env.out(), format!("127.0.0.1:{metrics}"));
    let unix = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs_f64()
    };
    let began = unix();
    let o = run(
        &[
            "run",
            "graf",
            "--config",
            cfg.to_str().expect("utf-8"),
            "--nats-url",
            env.url(),
            "--preflight",
            "warn",
            "--quiet",
            "--prometheus",
            &scrape,
            "--out",
            out.to_str().expect("utf-8"),
        ],
        Duration::from_secs(60),
    )
    .await;
    let ended = unix();
    let r = read_result(&out);
    assert_eq!(
        o.status.code(),
        Some(1),
        "no_responders fail it: {}",
        stderr(&o)
    );
    assert!(r["summary"]["requests"].as_u64() > Some(0));
    // The middle of the run is in the load (6 s of it); Prometheus has
    // scraped it every 500 ms, so a 3 s range holds several scrapes. (A
    // load with no think time starved the scrapes on 2 cores: each timed
    // out until the load ended.)
    let at = Some((began + ended) / 2.0);
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/grafana/cliffload.json"
        ))
        .expect("the dashboard"),
    )
    .expect("JSON");
    let mut asked = 0;
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            let expr = target["expr"].as_str().expect("expr");
            let promql = expr
                .replace("$__rate_interval", "3s")
                // The Run variable's "All" (allValue): this Prometheus saw one run.
                .replace("$run_id", ".*");
            let series = query_at(web, &promql, at).await;
            assert!(
                !series.is_empty(),
                "{}: `{promql}` returned no series",
                panel["title"]
            );
            for s in &series {
                let v = value(s);
                assert!(
                    v.is_finite() && v >= 0.0,
                    "{}: {promql} = {v}",
                    panel["title"]
                );
            }
            asked += 1;
        }
    }
    assert!(asked >= 10, "{asked} queries");
    // The failures panel sees the run's no_responders.
    let outcomes = query_at(
        web,
        "sum by (outcome) (rate(cliffload_requests_total{outcome!=\"ok\"}[3s]))",
        at,
    )
    .await;
    assert!(
        outcomes
            .iter()
            .any(|s| s["metric"]["outcome"] == "no_responders"),
        "{outcomes:?}"
    );
    // The Run variable (label_values(cliffload_run_finished, run_id)) lists it.
    let url = format!("http://127.0.0.1:{web}/api/v1/label/run_id/values");
    let values: Value = reqwest::Client::new()
        .get(&url)
        .query(&[("match[]", "cliffload_run_finished")])
        .send()
        .await
        .expect("label values")
        .json()
        .await
        .expect("JSON");
    let runs = values["data"].as_array().expect("values");
    assert_eq!(runs.len(), 1, "{values}");
    assert!(
        runs[0]
            .as_str()
            .is_some_and(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())),
        "{values}"
    );
}

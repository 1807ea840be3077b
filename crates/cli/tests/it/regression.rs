// Regression against a baseline: --baseline FILE, or the configuration's
// advanced.regression_detection.baseline_results_path (a suite-style directory).

use std::time::Duration;

use serde_json::Value;

use crate::harness::{Env, run, stderr};

async fn ping(env: &Env, extra: &[&str]) -> (Option<i32>, Value, String) {
    let mut args = vec![
        "run",
        "ping",
        "--nats-url",
        env.url(),
        "--duration",
        "2s",
        "--quiet",
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let o = run(&args, Duration::from_secs(60)).await;
    let r = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    (o.status.code(), r, stderr(&o))
}

fn check_names(r: &Value) -> Vec<String> {
    r["verdict"]["checks"]
        .as_array()
        .map(|c| {
            c.iter()
                .filter_map(|c| c["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_configured_baseline_directory_is_used_once_it_exists() {
    let env = Env::with_test_service().await;
    let base_dir = env.dir.path().join("baseline");
    let cfg = env.scenario(&format!(
        "advanced:\n  regression_detection:\n    enabled: true\n    baseline_results_path: {}\n    max_performance_degradation_percent: 20\n",
        base_dir.display()
    ));
    let cfg = cfg.to_str().expect("utf-8");

    // No baseline yet: the run says so and is not failed for it.
    let (code, first, err) = ping(&env, &["--config", cfg]).await;
    // Whether ping passes depends on this machine's speed; the missing
    // baseline must not be what decides (and is no usage error).
    assert!(matches!(code, Some(0 | 1 | 3)), "{err}");
    assert_eq!(
        code == Some(0),
        first["verdict"]["passed"] == true,
        "{}",
        first["verdict"]
    );
    let w = crate::harness::warning(&first, "baseline_missing");
    assert!(
        w.as_deref()
            .is_some_and(|w| w.contains("no regression check")),
        "{}",
        first["warnings"]
    );
    assert!(!check_names(&first).contains(&"no_regression".to_owned()));

    // Keep it where a suite would: <dir>/ping/result.json.
    std::fs::create_dir_all(base_dir.join("ping")).expect("mkdir");
    std::fs::write(base_dir.join("ping/result.json"), first.to_string()).expect("write");
    let (_, second, err) = ping(&env, &["--config", cfg]).await;
    assert!(
        check_names(&second).contains(&"no_regression".to_owned()),
        "{err}: {:?}",
        check_names(&second)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_baseline_stops_before_the_load() {
    let env = Env::with_test_service().await;
    let missing = env.dir.path().join("nope.json");
    let (code, _, err) = ping(&env, &["--baseline", missing.to_str().expect("utf-8")]).await;
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("nope.json"), "{err}");
    // Nothing was sent: the service counted no RPC.
    let stats = cliffload_testkit::srv_stats(&env.client, "test").await;
    assert_eq!(cliffload_testkit::endpoint_requests(&stats, "rpc"), 0);
}

// Issue 26: `--baseline /dev/zero` and `report /dev/zero` read without limit
// (1 GB a second). Neither needs a server: both are read before anything starts.
#[tokio::test]
async fn a_device_or_a_directory_is_refused_as_a_baseline_or_a_result_naming_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let folder = dir.path().to_str().expect("utf-8");
    for path in ["/dev/zero", folder] {
        for args in [
            vec!["run", "ping", "--duration", "1s", "--baseline", path],
            vec!["report", path],
        ] {
            // A bounded wait: the old code was still reading when it ended.
            let o = run(&args, Duration::from_secs(20)).await;
            let err = stderr(&o);
            assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
            assert!(
                err.contains(&format!("cannot read {path}: not a regular file"))
                    && err.contains("give the path of a result.json"),
                "{args:?}: {err}"
            );
        }
    }
}

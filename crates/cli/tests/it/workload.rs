// Issue 29, your own workload: a flow whose steps carry values from one
// reply into the next request, templates, and a data file whose rows are
// used once, run against the stateful `test` service on a real nats-server.

use crate::harness::{Env, read_result, stderr};

fn example(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/your-service")
        .join(name)
}

fn task<'r>(r: &'r serde_json::Value, name: &str) -> &'r serde_json::Value {
    r["tasks"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["name"] == name))
        .unwrap_or_else(|| panic!("no task {name}: {}", r["tasks"]))
}

/// The example file copied beside its data, with `edit` applied.
fn example_copy(env: &Env, edit: impl Fn(String) -> String) -> std::path::PathBuf {
    let dir = env.dir.path();
    std::fs::copy(example("customers.csv"), dir.join("customers.csv")).expect("copy data");
    let text = std::fs::read_to_string(example("flow.yaml")).expect("example");
    let path = dir.join("flow.yaml");
    std::fs::write(&path, edit(text)).expect("write");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_carries_each_created_id_into_its_get_and_uses_each_row_once() {
    let env = Env::with_test_service().await;
    let o = env
        .run_file("shop", &example("flow.yaml"), &["--duration", "3s"])
        .await;
    let r = read_result(&env.out());
    let (create, get, register) = (
        task(&r, "shop.create"),
        task(&r, "shop.get"),
        task(&r, "shop.register"),
    );
    let created = create["successes"].as_u64().expect("count");
    assert!(created > 10, "{created} creates\n{}", stderr(&o));
    // Every get read an id that create answered: the service refuses any other.
    assert_eq!(get["requests"], get["successes"], "{get}");
    assert_eq!(get["rejected"], 0, "{get}");
    assert!(get["successes"].as_u64() >= Some(created - 4), "{get}");
    // Each address was new to the service: no row was handed out twice.
    assert_eq!(register["rejected"], 0, "{register}");
    assert_eq!(r["summary"]["failures"], 0, "{}", r["summary"]);
    // The flow as a whole: one row, its passes, none failed, timed.
    let flow = &r["flows"][0];
    assert_eq!(flow["name"], "shop", "{flow}");
    assert_eq!(flow["subject"], "create → get → register", "{flow}");
    assert_eq!(flow["failures"], 0, "{flow}");
    assert_eq!(
        flow["requests"], register["requests"],
        "a pass per register"
    );
    assert!(
        flow["latency_us"]["p50"].as_f64() >= get["latency_us"]["p50"].as_f64(),
        "a pass takes at least its step: {flow}"
    );
    // The flow's own threshold is judged on its row.
    let check = r["verdict"]["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == "shop.max_failure_percent"))
        .unwrap_or_else(|| panic!("no flow threshold: {}", r["verdict"]));
    assert_eq!(check["status"], "passed", "{check}");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // Every report shows the flow's row beside the tasks, with its passes.
    let file = |name: &str| std::fs::read_to_string(env.out().join(name)).expect(name);
    let passes = &flow["requests"];
    let text = file("summary.txt");
    let row = text
        .lines()
        .skip_while(|l| !l.starts_with("flows ("))
        .find(|l| l.trim_start().starts_with("shop "))
        .unwrap_or_else(|| panic!("no flow row:\n{text}"));
    assert!(row.contains(&format!(" {passes} ")), "{row}");
    assert!(row.ends_with("create → get → register"), "{row}");
    let md = file("summary.md");
    assert!(
        md.contains(&format!(
            "| shop | create → get → register | {passes} | {passes} | 0 |"
        )),
        "{md}"
    );
    let html = file("report.html");
    assert!(
        html.contains("<h2>Flows</h2>")
            && html.contains("<td>shop</td><td>create → get → register</td>"),
        "{html}"
    );
    let csv = file("cliffload_stats.csv");
    assert!(csv.contains(&format!("\nFLOW,shop,{passes},0,")), "{csv}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_capture_path_fails_the_step_with_its_reason_and_ends_the_pass() {
    let env = Env::with_test_service().await;
    let cfg = example_copy(&env, |t| t.replace("result.id", "result.order_id"));
    let o = env
        .run_file("shop", &cfg, &["--duration", "2s", "--preflight", "warn"])
        .await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let r = read_result(&env.out());
    let create = task(&r, "shop.create");
    assert!(create["requests"].as_u64() > Some(3), "{create}");
    assert_eq!(create["failures"], create["requests"], "{create}");
    let error = &create["errors"][0];
    assert_eq!(error["outcome"], "check_failed", "{error}");
    let message = error["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("save item_id: nothing at result.order_id"),
        "{message}"
    );
    assert!(
        error["reply"]
            .as_str()
            .is_some_and(|b| b.contains("\"id\"")),
        "what came back is shown: {error}"
    );
    // The pass ended there: nothing was sent with a value never saved.
    assert_eq!(task(&r, "shop.get")["requests"], 0);
    assert_eq!(r["flows"][0]["failures"], create["requests"]);
    let check = r["verdict"]["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == "shop.max_failure_percent"))
        .unwrap_or_else(|| panic!("no flow threshold: {}", r["verdict"]));
    assert_eq!(check["status"], "failed", "{check}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_reused_by_a_sequential_file_are_refused_and_unique_rows_that_run_out_are_said() {
    let env = Env::with_test_service().await;
    // Control: three rows taken in order, over and over. The service sees
    // the same addresses again and refuses them, which is what `unique`
    // (above) never lets happen.
    std::fs::write(
        env.dir.path().join("few.csv"),
        "email\na@example.com\nb@example.com\nc@example.com\n",
    )
    .expect("write");
    let cfg = example_copy(&env, |t| {
        t.replace("customers.csv, order: unique", "few.csv, order: sequential")
    });
    let _ = env.run_file("shop", &cfg, &["--duration", "2s"]).await;
    let r = read_result(&env.out());
    let register = task(&r, "shop.register");
    assert!(register["successes"].as_u64() <= Some(3), "{register}");
    assert!(register["rejected"].as_u64() > Some(3), "{register}");

    // Unique rows that run out: users stop, and the result says so
    // (addresses the service has not seen).
    std::fs::write(
        env.dir.path().join("three.csv"),
        "email\nd@example.com\ne@example.com\nf@example.com\n",
    )
    .expect("write");
    let cfg = example_copy(&env, |t| t.replace("customers.csv", "three.csv"));
    let o = env.run_file("shop", &cfg, &["--duration", "2s"]).await;
    let r = read_result(&env.out());
    let register = task(&r, "shop.register");
    assert_eq!(
        register["requests"], 3,
        "each of the 3 rows once: {register}"
    );
    assert_eq!(register["rejected"], 0, "{register}");
    let said = crate::harness::warning(&r, "data_exhausted").unwrap_or_default();
    assert!(
        said.contains("three.csv ran out of unique rows"),
        "{said}\n{}",
        stderr(&o)
    );
}

/// `cliffload run shop --config CFG` on `env`, coordinating `workers`
/// workers, quiet, plus `extra`; 60 s at most.
async fn run_distributed(
    env: &Env,
    cfg: &std::path::Path,
    workers: u32,
    extra: &[&str],
) -> std::process::Output {
    let (cfg, workers) = (cfg.to_str().expect("utf-8"), workers.to_string());
    let mut args = vec![
        "run",
        "shop",
        "--config",
        cfg,
        "--nats-url",
        env.url(),
        "--distributed",
        &workers,
        "--wait-workers",
        "20s",
        "--quiet",
    ];
    args.extend_from_slice(extra);
    crate::harness::run(&args, std::time::Duration::from_secs(60)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unique_rows_stay_unique_across_distributed_workers() {
    let env = Env::with_test_service().await;
    let rows: String = (0..40).map(|i| format!("w{i}@example.com\n")).collect();
    std::fs::write(env.dir.path().join("forty.csv"), format!("email\n{rows}")).expect("write");
    let cfg = example_copy(&env, |t| t.replace("customers.csv", "forty.csv"));
    let mut workers: Vec<_> = ["w1", "w2"]
        .iter()
        .map(|n| crate::distributed::worker(&env, n, &["--exit-after-run"]))
        .collect();
    let out = env.out();
    let o = run_distributed(
        &env,
        &cfg,
        2,
        &["-d", "4s", "--out", out.to_str().expect("utf-8")],
    )
    .await;
    let r = read_result(&out);
    let register = task(&r, "shop.register");
    // Both workers registered, none an address the other had: each of the
    // 40 rows once, and then the users stopped.
    assert_eq!(register["requests"], 40, "{register}\n{}", stderr(&o));
    assert_eq!(register["rejected"], 0, "{register}");
    let per_worker: Vec<u64> = r["distributed"]["workers"]
        .as_array()
        .expect("workers")
        .iter()
        .map(|w| w["requests"].as_u64().unwrap_or(0))
        .collect();
    assert!(per_worker.iter().all(|n| *n > 0), "{per_worker:?}");
    assert!(crate::harness::warning(&r, "data_exhausted").is_some());
    for w in &mut workers {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(10), w.wait()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_too_large_for_the_control_server_is_refused_with_its_size() {
    let env = Env::with_test_service().await;
    // 1.5 MB of rows: over nats-server's default max_payload (1 MiB).
    let rows: String = (0..30_000)
        .map(|i| format!("someone.with.a.long.address.{i:06}@example.com\n"))
        .collect();
    std::fs::write(env.dir.path().join("big.csv"), format!("email\n{rows}")).expect("write");
    let cfg = example_copy(&env, |t| t.replace("customers.csv", "big.csv"));
    let _worker = crate::distributed::worker(&env, "w1", &["--exit-after-run"]);
    let o = run_distributed(&env, &cfg, 1, &[]).await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let said = stderr(&o);
    assert!(
        said.contains("over the control server's max_payload of 1048576 bytes"),
        "{said}"
    );
}

// The "your own service" examples (examples/your-service/), each run against
// a stand-in that speaks its protocol on a real nats-server: the files stay
// valid, and what they promise in their comments holds.

use std::sync::{Arc, Mutex};

use async_nats::service::ServiceExt;
use futures_util::StreamExt;

use crate::harness::{Env, assert_schema_valid, read_result, stderr};

fn example(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/your-service")
        .join(name)
}

/// Answers every request on `subject` with `reply(body)`, keeping the first body.
async fn stand_in(
    env: &Env,
    subject: &str,
    reply: impl Fn(&[u8]) -> Vec<u8> + Send + 'static,
) -> Arc<Mutex<Option<Vec<u8>>>> {
    let first = Arc::new(Mutex::new(None));
    let seen = first.clone();
    let mut sub = env
        .client
        .subscribe(subject.to_owned())
        .await
        .expect("subscribe");
    let c = env.client.clone();
    tokio::spawn(async move {
        while let Some(m) = sub.next().await {
            seen.lock()
                .expect("lock")
                .get_or_insert_with(|| m.payload.to_vec());
            if let Some(r) = m.reply {
                let _ = c.publish(r, reply(&m.payload).into()).await;
            }
        }
    });
    env.client.flush().await.expect("flush");
    first
}

/// Every request of the run succeeded, and there were some. (Not the
/// verdict: the examples' latency bounds are for the user's service, and
/// this machine's speed is not what the test is about.)
fn assert_all_succeeded(o: &std::process::Output, r: &serde_json::Value) {
    let requests = r["summary"]["requests"].as_u64().expect("requests");
    assert!(requests > 10, "{requests} requests\n{}", stderr(o));
    assert_eq!(
        r["summary"]["successes"].as_u64(),
        Some(requests),
        "{}",
        r["summary"]
    );
    let failures = r["verdict"]["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["name"] == "max_failure_percent")
        .expect("a failure check");
    assert_eq!(failures["status"], "passed", "{failures}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_raw_example_sends_its_text_as_bytes_and_checks_the_reply() {
    let env = Env::bare().await;
    let first = stand_in(&env, "greeter.hello", |body| {
        if body == b"PING" {
            b"PONG".to_vec()
        } else {
            b"ERROR: say PING".to_vec()
        }
    })
    .await;
    let o = env
        .run_file("greeter", &example("raw.yaml"), &["--duration", "2s"])
        .await;
    let r = read_result(&env.out());
    assert_all_succeeded(&o, &r);
    let body = first
        .lock()
        .expect("lock")
        .clone()
        .expect("a request arrived");
    assert_eq!(&body[..], b"PING", "the text's bytes, not JSON");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_raw_example_fails_a_reply_its_check_refuses() {
    let env = Env::bare().await;
    stand_in(&env, "greeter.hello", |_| {
        b"ERROR: something broke".to_vec()
    })
    .await;
    let o = env
        .run_file(
            "greeter",
            &example("raw.yaml"),
            &["--duration", "1s", "--preflight", "warn"],
        )
        .await;
    let r = read_result(&env.out());
    assert_eq!(r["summary"]["successes"], 0, "{}", r["summary"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_micro_example_reaches_a_micro_endpoint_at_its_rate() {
    let env = Env::bare().await;
    let service = env
        .client
        .service_builder()
        .start("inventory", "1.0.0")
        .await
        .expect("micro service");
    let mut lookup = service
        .endpoint("inventory.lookup")
        .await
        .expect("endpoint");
    tokio::spawn(async move {
        let mut n = 0u64;
        while let Some(req) = lookup.next().await {
            n += 1;
            // Every fifth item is missing: a 404, which the example's
            // comment (and the README) call a refusal, not a failure.
            let reply = if n.is_multiple_of(5) {
                Err(async_nats::service::error::Error {
                    status: "no such item".into(),
                    code: 404,
                })
            } else {
                Ok(br#"{"sku":"A-1","in_stock":3}"#.to_vec().into())
            };
            let _ = req.respond(reply).await;
        }
    });
    let o = env
        .run_file("inventory", &example("micro.yaml"), &["--duration", "2s"])
        .await;
    let r = read_result(&env.out());
    // 200 requests a second for 2 s, give or take the first and last arrival.
    let n = r["summary"]["requests"].as_u64().expect("requests");
    assert!((380..=420).contains(&n), "{n}");
    // Issue 27: the 404s are refusals (rejected_business), the run passes.
    let s = &r["summary"];
    assert_eq!(s["failures"], 0, "{s}");
    assert!(
        s["outcomes"]["rejected_business"].as_u64() >= Some(n / 5 - 2),
        "{s}"
    );
    let failure_check = r["verdict"]["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == "max_failure_percent"))
        .expect("a failure check");
    assert_eq!(failure_check["status"], "passed", "{}", stderr(&o));
    drop(service);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cliffracer_example_wraps_its_argument_and_reads_the_envelope() {
    let env = Env::bare().await;
    let first = stand_in(&env, "checkout_service.rpc.quote", |body| {
        let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        if v["cart"].is_object() {
            br#"{"success": true, "result": {"currency": "EUR", "total": 12.5}}"#.to_vec()
        } else {
            br#"{"success": false, "error": "cart: field required"}"#.to_vec()
        }
    })
    .await;
    let o = env
        .run_file(
            "checkout",
            &example("cliffracer.yaml"),
            &["--duration", "2s", "--spawn-rate", "100"],
        )
        .await;
    let r = read_result(&env.out());
    assert_all_succeeded(&o, &r);
    let body = first
        .lock()
        .expect("lock")
        .clone()
        .expect("a request arrived");
    let v: serde_json::Value = serde_json::from_slice(&body).expect("JSON body");
    assert!(v["cart"].is_object(), "{v}");
}

/// A number of `r` at `key` of every interval.
fn per_interval(r: &serde_json::Value, key: &str) -> Vec<u64> {
    r["intervals"]
        .as_array()
        .expect("intervals")
        .iter()
        .map(|i| i[key].as_u64().expect("a count"))
        .collect()
}

/// Issue 29: users follow the stages up and down, as result.json's seconds
/// show, and the report draws the plan beside them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stages_example_takes_users_up_and_down() {
    let env = Env::with_test_service().await;
    let o = env
        .run_file("ramp_users", &example("stages.yaml"), &[])
        .await;
    let r = read_result(&env.out());
    assert_schema_valid(&r);
    assert_all_succeeded(&o, &r);
    let active = per_interval(&r, "active");
    // Planned at the end of each second: 4, 4, 0, 0 (a user starts every
    // ¼ s of the first second and stops every ¼ s of the third). What is
    // asserted holds however slowly this machine starts or answers them
    // (a reply takes 1 s at most): all four run through the second second,
    // the first starts in the first, the fall has begun by the end of the
    // third, and none runs in the fourth, which still counts as load.
    assert_eq!(active.len(), 4, "{active:?}\n{}", stderr(&o));
    assert_eq!(active[1], 4, "{active:?}");
    assert!((1..=4).contains(&active[0]), "{active:?}");
    assert!(active[2] < 4, "{active:?}");
    assert_eq!(active[3], 0, "{active:?}");
    assert_eq!(
        per_interval(&r, "requests")[3],
        0,
        "nobody sends at 0 users"
    );
    let shape = &r["load"]["shape"];
    assert_eq!(shape["of"], "users", "{shape}");
    assert_eq!(shape["stages"].as_array().map(Vec::len), Some(4), "{shape}");
    let html = std::fs::read_to_string(env.out().join("report.html")).expect("report.html");
    assert!(html.contains("planned users"), "the plan is drawn");
}

/// Issue 29: rate stages plan the integral of the rate, and every planned
/// arrival is sent or counted as never sent. Per second, what completed
/// never runs ahead of the plan; timing alone decides how far behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stages_example_sends_the_arrivals_its_rate_plans() {
    let env = Env::with_test_service().await;
    let o = env
        .run_file("ramp_rate", &example("stages.yaml"), &[])
        .await;
    let r = read_result(&env.out());
    assert_schema_valid(&r);
    assert_all_succeeded(&o, &r);
    let open = &r["open_model"];
    let count = |k: &str| open[k].as_u64().expect("a count");
    // 0 → 100/s over 1 s, 100/s for 1 s, 100/s → 0 over 1 s: 50 + 100 + 50.
    assert_eq!(count("planned"), 200, "{open}");
    assert_eq!(count("sent") + count("never_sent"), 200, "{open}");
    let requests = per_interval(&r, "requests");
    assert_eq!(requests.len(), 3, "{requests:?}");
    // Arrivals due by the end of each second: 50, 150, 200; a send may be
    // woken a timer tick (1 ms) before its time, so one more may be done.
    let mut done = 0;
    for (k, due) in [50u64, 150, 200].iter().enumerate() {
        done += requests[k];
        assert!(done <= due + 1, "second {k}: {requests:?}");
    }
    assert_eq!(done, count("sent"), "every request sent completed");
    assert_eq!(r["load"]["shape"]["of"], "arrivals_per_s");
    let html = std::fs::read_to_string(env.out().join("report.html")).expect("report.html");
    assert!(html.contains("Arrival rate against the plan"));
}

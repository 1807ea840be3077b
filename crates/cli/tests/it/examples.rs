// The "your own service" examples (examples/your-service/), each run against
// a stand-in that speaks its protocol on a real nats-server: the files stay
// valid, and what they promise in their comments holds.

use std::sync::{Arc, Mutex};

use async_nats::service::ServiceExt;
use futures_util::StreamExt;

use crate::harness::{Env, read_result, stderr};

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

// Outcomes from real replies: refusals, timeouts, a service that goes away.

use std::time::Duration;

use crate::harness::{
    Env, assert_schema_valid, read_result, respond_always, respond_every_other, run, stderr,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_rejections_and_silence_is_a_timeout() {
    let env = Env::bare().await;
    respond_always(&env.client, "shop.rpc.buy", br#"{"success": false, "error": "refused: out of stock", "timestamp": "t", "correlation_id": null}"#).await;
    respond_every_other(
        &env.client,
        "shop.rpc.slow",
        br#"{"success": true, "result": 1, "timestamp": "t", "correlation_id": null}"#,
    )
    .await;
    let cfg = env.scenario(concat!(
        "scenarios:\n  s:\n    users: 4\n    duration: 2s\n    tasks:\n",
        "      - {name: buy, subject: shop.rpc.buy}\n",
        "      - {name: slow, subject: shop.rpc.slow, timeout: 200ms}\n",
    ));
    let out = env.out();
    let o = run(
        &[
            "run",
            "s",
            "--config",
            cfg.to_str().expect("utf-8"),
            "--nats-url",
            env.url(),
            "--out",
            out.to_str().expect("utf-8"),
        ],
        Duration::from_secs(30),
    )
    .await;
    // No expectations: any unexpected failure (the timeouts) fails the run
    // (issue 11), naming the failure check and showing the failure's text.
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("✗ max_failure_percent") && stdout.contains("no reply within 200ms"),
        "{stdout}"
    );
    let r = read_result(&out);
    assert_schema_valid(&r);
    let buy = &r["tasks"][0];
    assert_eq!(
        buy["outcomes"]
            .as_object()
            .map(|m| m.keys().cloned().collect::<Vec<_>>()),
        Some(vec!["rejected_business".to_owned()]),
        "{buy}"
    );
    assert_eq!(buy["rejected"], buy["requests"]);
    assert_eq!(buy["failures"], 0);
    assert_eq!(buy["successes"], 0);
    let slow = &r["tasks"][1];
    let timeouts = slow["outcomes"]["timeout"]["count"]
        .as_u64()
        .expect("timeouts counted");
    let ok = slow["outcomes"]["ok"]["count"]
        .as_u64()
        .expect("successes counted");
    assert!(timeouts > 0 && ok > 0, "{slow}");
    // A timeout waits the task's timeout: 200 ms, measured as such.
    let waited = slow["outcomes"]["timeout"]["latency_us"]["p50"]
        .as_u64()
        .expect("µs");
    assert!((200_000..400_000).contains(&waited), "{waited}");
    assert_eq!(r["summary"]["failures"].as_u64(), Some(timeouts));
    assert_eq!(r["verdict"]["status"], "failed");
    assert_eq!(
        slow["errors"][0]["message"], "no reply within #ms",
        "{slow}"
    );
    assert_eq!(slow["errors"][0]["count"].as_u64(), Some(timeouts));
    assert_eq!(buy["errors"][0]["sample"], "refused: out of stock", "{buy}");
    let csv = std::fs::read_to_string(out.join("cliffload_failures.csv")).expect("csv");
    assert!(
        csv.contains("shop.rpc.slow,s.slow,timeout: no reply within #ms,"),
        "{csv}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_stopped_mid_run_gives_classified_failures_and_a_result() {
    let env = Env::with_test_service().await;
    let out = env.out();
    let mut child = crate::harness::cliffload()
        .args([
            "run",
            "ping",
            "--nats-url",
            env.url(),
            "--duration",
            "3s",
            "--quiet",
            "--out",
            out.to_str().expect("utf-8"),
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    // Stop the service once it has served some load (well over the 200
    // successes asserted below: the 3 preflight calls, and requests the
    // service counted but had not answered when it stopped, are not successes).
    env.wait_until_served(400).await;
    env.stop_service.cancel();
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("finished")
        .expect("ran");
    // ping expects 0% failures: the run completes and reports the failed check.
    assert_eq!(status.code(), Some(1));
    let r = read_result(&out);
    assert_schema_valid(&r);
    let outcomes = &r["summary"]["outcomes"];
    assert!(outcomes["ok"].as_u64() > Some(200), "{outcomes}");
    let gone =
        outcomes["no_responders"].as_u64().unwrap_or(0) + outcomes["timeout"].as_u64().unwrap_or(0);
    assert!(gone > 0, "{outcomes}");
    assert_eq!(r["verdict"]["passed"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msgpack_bodies_with_headers_reach_a_cliffracer_service() {
    let env = Env::with_test_service().await;
    let cfg = env.scenario(concat!(
        "scenarios:\n  packed:\n    users: 2\n    duration: 1s\n    tasks:\n",
        "      - {name: echo, service: test, method: echo, payload: {message: packed}, encoding: msgpack, headers: true}\n",
    ));
    let out = env.out();
    let o = env.run_file("packed", &cfg, &[]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = read_result(&out);
    let n = r["summary"]["requests"].as_u64().expect("requests");
    assert!(n > 10, "{n}");
    assert_eq!(
        r["summary"]["successes"].as_u64(),
        Some(n),
        "{}",
        r["summary"]
    );
}

// Issue 11: arrivals the open model could never send are counted, not lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_service_under_the_open_model_counts_every_planned_arrival() {
    let env = Env::bare().await;
    crate::harness::respond_first_then_never(
        &env.client,
        "stall.rpc.ping",
        br#"{"success": true, "result": "pong", "timestamp": "t", "correlation_id": null}"#,
    )
    .await;
    let cfg = env.scenario(concat!(
        "scenarios:\n  s:\n    duration: 2s\n",
        "    arrival_rate: {rate: 200, max_in_flight: 10}\n",
        "    tasks:\n      - {name: ping, subject: stall.rpc.ping, timeout: 5s}\n",
    ));
    let out = env.out();
    let o = env.run_file("s", &cfg, &[]).await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let r = read_result(&out);
    assert_schema_valid(&r);
    let om = &r["open_model"];
    let n = |k: &str| om[k].as_u64().expect("count");
    assert!(n("planned") >= 350, "{om}");
    assert_eq!(n("planned"), n("sent") + n("never_sent"), "{om}");
    assert_eq!(n("sent"), 10, "{om}");
    assert!(n("never_sent") > 0, "{om}");
    // Every sent request timed out, and the judged latency holds every arrival.
    assert_eq!(r["summary"]["outcomes"]["timeout"].as_u64(), Some(10));
    assert_eq!(
        om["intended_latency_us"]["count"].as_u64(),
        Some(n("never_sent"))
    );
}

// Issue 11: `protocol: raw` no longer counts `ERROR: something broke` as ok
// when the task says what a good reply holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raw_reply_that_fails_its_check_is_check_failed_with_the_check_named() {
    let env = Env::bare().await;
    crate::harness::respond_alternating(
        &env.client,
        "legacy.ping",
        b"pong",
        b"ERROR: something broke",
    )
    .await;
    let cfg = env.scenario(concat!(
        "scenarios:\n  s:\n    users: 2\n    duration: 1s\n    max_requests: 200\n    tasks:\n",
        "      - {name: ping, subject: legacy.ping, protocol: raw, expect: {contains: pong}}\n",
    ));
    let out = env.out();
    let o = env.run_file("s", &cfg, &[]).await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let r = read_result(&out);
    assert_schema_valid(&r);
    let t = &r["tasks"][0];
    let failed = t["outcomes"]["check_failed"]["count"]
        .as_u64()
        .expect("check_failed");
    let ok = t["outcomes"]["ok"]["count"].as_u64().expect("ok");
    // Preflight took the first "pong"; the load alternates from "ERROR".
    assert!(failed > 0 && ok > 0 && failed.abs_diff(ok) <= 2, "{t}");
    assert_eq!(
        t["errors"][0]["message"], "expect.contains: the reply does not contain \"pong\"",
        "{t}"
    );
    // Issue 27: what came back is kept with the reason, and shown.
    assert_eq!(t["errors"][0]["reply"], "ERROR: something broke", "{t}");
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("reply: ERROR: something broke"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

// Issue 27: each kind of mismatch says its own reason and keeps one sample
// of the reply that caused it; a validation refusal names the fields.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_mismatch_says_its_reason_and_keeps_what_came_back() {
    let env = Env::bare().await;
    respond_always(&env.client, "m.rpc.text", b"ERROR: something broke").await;
    respond_always(&env.client, "m.rpc.array", br#"[true, "ok"]"#).await;
    // MessagePack [true, "ok"]: not text, so shown as hex.
    respond_always(&env.client, "m.rpc.packed", b"\x92\xc3\xa2ok").await;
    respond_always(&env.client, "m.rpc.invalid", br#"{"success": false, "error": "validation failed", "details": [{"type": "greater_than", "loc": ["order", "items", 0, "quantity"], "msg": "Input should be greater than 0", "input": 0}], "timestamp": "t", "correlation_id": null}"#).await;
    let cfg = env.scenario(concat!(
        "scenarios:\n  s:\n    users: 1\n    duration: 1s\n    max_requests: 40\n    tasks:\n",
        "      - {name: text, subject: m.rpc.text, protocol: raw, expect: {json: {result.status: ok}}}\n",
        "      - {name: array, subject: m.rpc.array}\n",
        "      - {name: packed, subject: m.rpc.packed}\n",
        "      - {name: invalid, subject: m.rpc.invalid}\n",
    ));
    let out = env.out();
    let o = env.run_file("s", &cfg, &["--preflight", "off"]).await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let r = read_result(&out);
    assert_schema_valid(&r);
    let first = |name: &str| {
        let t = r["tasks"]
            .as_array()
            .expect("tasks")
            .iter()
            .find(|t| t["name"] == format!("s.{name}"))
            .unwrap_or_else(|| panic!("task {name}: {}", r["tasks"]));
        t["errors"][0].clone()
    };
    let text = first("text");
    assert_eq!(text["outcome"], "check_failed", "{text}");
    let message = text["message"].as_str().expect("message");
    assert!(
        message.starts_with("expect.json: the reply is plain text, not JSON or MsgPack"),
        "{message}"
    );
    assert_eq!(text["reply"], "ERROR: something broke", "{text}");
    let array = first("array");
    assert_eq!(array["outcome"], "decode", "{array}");
    assert!(
        array["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("not a JSON object")),
        "{array}"
    );
    assert_eq!(array["reply"], r#"[true, "ok"]"#, "{array}");
    let packed = first("packed");
    assert_eq!(packed["outcome"], "decode", "{packed}");
    assert_eq!(packed["reply"], "hex 92c3a26f6b", "{packed}");
    let invalid = first("invalid");
    assert_eq!(invalid["outcome"], "validation_failed", "{invalid}");
    assert_eq!(
        invalid["sample"],
        "validation failed: order.items.0.quantity: Input should be greater than 0",
        "{invalid}"
    );
}

// A fixed payload meant to be refused: preflight accepts the refusal and the
// load counts it as the correct answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_payload_expected_to_be_refused_passes_preflight_and_counts_as_rejected() {
    let env = Env::with_test_service().await;
    let cfg = env.scenario(concat!(
        "scenarios:\n  s:\n    users: 2\n    duration: 1s\n    max_requests: 100\n    tasks:\n",
        "      - {name: bad, service: test, method: echo, payload: {msg: 1}, expect: {status: rejected}}\n",
    ));
    let out = env.out();
    let o = env.run_file("s", &cfg, &[]).await;
    let r = read_result(&out);
    let t = &r["tasks"][0];
    assert_eq!(t["rejected"], t["requests"], "{t}");
    assert_eq!(t["failures"], 0, "{t}");
    assert_eq!(
        r["preflight"][0]["outcome"], "rejected_expected",
        "{}",
        r["preflight"]
    );
    // Nothing succeeded, so requests_completed fails: the exit says so.
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
}

// Issue 26: a service's text (an error message, a reply's bytes) reached the
// terminal raw, so a reply could retitle and clear it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escape_sequences_a_service_sends_reach_no_terminal_or_file_raw() {
    let env = Env::bare().await;
    respond_always(&env.client, "esc.rpc.err", br#"{"success": false, "error": "Internal server error \u001b]0;pwned\u0007\u001b[2J", "timestamp": "t", "correlation_id": null}"#).await;
    respond_always(&env.client, "esc.rpc.raw", b"\x1b]0;pwned\x07\x1b[2J").await;
    let cfg = env.scenario(concat!(
        "scenarios:\n  s:\n    users: 1\n    duration: 1s\n    max_requests: 20\n    tasks:\n",
        "      - {name: err, subject: esc.rpc.err}\n",
        "      - {name: raw, subject: esc.rpc.raw}\n",
    ));
    let out = env.out();
    let o = run(
        &[
            "run",
            "s",
            "--config",
            cfg.to_str().expect("utf-8"),
            "--nats-url",
            env.url(),
            "--preflight",
            "warn",
            "--out",
            out.to_str().expect("utf-8"),
        ],
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let raw = |text: &[u8]| text.iter().any(|b| matches!(b, 0x1b | 0x07));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(!raw(&o.stdout), "{stdout:?}");
    assert!(!raw(&o.stderr), "{:?}", stderr(&o));
    // Shown, as visible escapes: the error message, and the raw reply that
    // preflight let through.
    assert!(
        stdout.contains(r"Internal server error \u{1b}]0;pwned\u{7}\u{1b}[2J"),
        "{stdout}"
    );
    assert!(
        stderr(&o).contains(r"got \u{1b}]0;pwned\u{7}\u{1b}[2J"),
        "{}",
        stderr(&o)
    );
    for file in [
        "summary.txt",
        "summary.md",
        "junit.xml",
        "cliffload_failures.csv",
        "report.html",
        "result.json",
    ] {
        let text = std::fs::read(out.join(file)).expect("written");
        assert!(!raw(&text), "{file}: {:?}", String::from_utf8_lossy(&text));
    }
    let csv = std::fs::read_to_string(out.join("cliffload_failures.csv")).expect("csv");
    assert!(csv.contains(r"\u{1b}]#;pwned"), "{csv}");
    let md = std::fs::read_to_string(out.join("summary.md")).expect("md");
    assert!(md.contains(r"\u{1b}]0;pwned"), "{md}");
}

// Issue 27: too few samples to judge is not "too slow". A run whose only
// unheld check could not be judged exits 3 (INCONCLUSIVE), not 1, and so
// does `report` on its result.json.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_too_short_to_judge_exits_3_not_1() {
    let env = Env::bare().await;
    respond_always(
        &env.client,
        "shop.rpc.quick",
        br#"{"success": true, "result": 1, "timestamp": "t", "correlation_id": null}"#,
    )
    .await;
    // One user thinking 1 s between calls: a handful of successes, far
    // fewer than the 100 a median check needs.
    let cfg = env.scenario(concat!(
        "scenarios:\n  s:\n    users: 1\n    duration: 2s\n    wait_time: {constant: 1}\n",
        "    expectations: {max_median_ms: 1000}\n    tasks:\n",
        "      - {name: quick, subject: shop.rpc.quick}\n",
    ));
    let out = env.out();
    let o = env.run_file("s", &cfg, &[]).await;
    let r = read_result(&out);
    assert_eq!(r["verdict"]["status"], "inconclusive", "{}", r["verdict"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let again = run(
        &["report", out.join("result.json").to_str().expect("utf-8")],
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(again.status.code(), Some(3), "{}", stderr(&again));
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("verdict: INCONCLUSIVE"),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
}

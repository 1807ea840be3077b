//! Reply classification, which runs once per request: small and ~7 KB
//! success envelopes, a validation failure with details, MsgPack, and the
//! raw interpretation, each with the `Content-Type` the service sends.
//! `cargo bench -p cliffload-protocol --bench protocol`.

use std::hint::black_box;
use std::time::Duration;

use cliffload_protocol::{Protocol, ReplyKind, classify, headers};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

// Captured from a real Cliffracer 1.0.0 service (protocol doc §9).
const OK_SMALL: &[u8] = br#"{"success": true, "result": "hello", "timestamp": "2026-11-29T12:38:04.138380+00:00", "correlation_id": "corr-demo-0001"}"#;
const VALIDATION: &[u8] = br#"{"success": false, "error": "validation failed", "details": [{"type": "string_too_short", "loc": ["order", "order_id"], "msg": "String should have at least 1 character", "input": "", "ctx": {"min_length": 1}, "url": "https://errors.pydantic.dev/2.14/v/string_too_short"}, {"type": "missing", "loc": ["order", "customer_id"], "msg": "Field required", "input": {"order_id": "", "items": [{"sku": "A1", "quantity": 0, "unit_price": 3.5}]}, "url": "https://errors.pydantic.dev/2.14/v/missing"}, {"type": "greater_than", "loc": ["order", "items", 0, "quantity"], "msg": "Input should be greater than 0", "input": 0, "ctx": {"gt": 0}, "url": "https://errors.pydantic.dev/2.14/v/greater_than"}, {"type": "extra_forbidden", "loc": ["extra"], "msg": "Extra inputs are not permitted", "input": 1, "url": "https://errors.pydantic.dev/2.14/v/extra_forbidden"}], "timestamp": "2026-11-29T12:38:04.141434+00:00", "correlation_id": "corr-demo-0001"}"#;
const OK_MSGPACK: &[u8] = b"\x84\xa7success\xc3\xa6result\xa6packed\xa9timestamp\xd9 2026-11-29T12:38:05.153520+00:00\xaecorrelation_id\xb5corr_386da0d3a0ae4497";

/// A `batch_process_orders` success for `n` orders, in the shape the
/// reference order service answers and with Python's `json.dumps`
/// separators, as Cliffracer writes it. 36 orders make about 7 KB.
fn batch_reply(n: usize) -> Vec<u8> {
    let results: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"success": true, "result": {{"order_id": "ord-{i:08}", "status": "processed", "tracking_number": "TRK{:012X}", "total": "{}.{:02}", "processing_time_ms": {}.{:03}, "fraud_score": 0.{:03}}}}}"#,
                i * 7_919_993,
                100 + i * 37 % 900,
                i * 13 % 100,
                11 + i % 5,
                i * 71 % 1000,
                i * 29 % 800
            )
        })
        .collect();
    format!(
        r#"{{"success": true, "result": {{"total_orders": {n}, "successful": {n}, "failed": 0, "orders_per_second": 2127.7, "results": [{}]}}, "timestamp": "2026-11-29T12:38:04.140826+00:00", "correlation_id": "corr-demo-0001"}}"#,
        results.join(", ")
    )
    .into_bytes()
}

fn classification(c: &mut Criterion) {
    let ok_7kb = batch_reply(36);
    eprintln!("batch_process_orders reply: {} B", ok_7kb.len());
    let cases: [(&str, Protocol, &str, &[u8], ReplyKind); 5] = [
        (
            "ok_small",
            Protocol::Cliffracer,
            headers::JSON,
            OK_SMALL,
            ReplyKind::Success,
        ),
        (
            "validation_error",
            Protocol::Cliffracer,
            headers::JSON,
            VALIDATION,
            ReplyKind::ValidationRefused,
        ),
        (
            "ok_7kb",
            Protocol::Cliffracer,
            headers::JSON,
            &ok_7kb,
            ReplyKind::Success,
        ),
        (
            "ok_msgpack_small",
            Protocol::Cliffracer,
            headers::MSGPACK,
            OK_MSGPACK,
            ReplyKind::Success,
        ),
        (
            "raw",
            Protocol::Raw,
            headers::JSON,
            OK_SMALL,
            ReplyKind::Success,
        ),
    ];
    let mut g = c.benchmark_group("classify");
    for (name, interpretation, content_type, body, want) in cases {
        // A bench of the error path would measure the wrong thing.
        assert_eq!(
            classify(interpretation, Some(content_type), None, body),
            want,
            "{name}"
        );
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                classify(
                    black_box(interpretation),
                    black_box(Some(content_type)),
                    None,
                    black_box(body),
                )
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = classification
}
criterion_main!(benches);

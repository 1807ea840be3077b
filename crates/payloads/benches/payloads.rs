//! Payload costs: generation per model, validation of a ComplexOrder with 3
//! and 12 items, JSON and MsgPack sizes and encode/decode rates.
//! `cargo bench -p cliffload-payloads`.

use std::hint::black_box;

use cliffload_payloads::{ComplexOrder, GenConfig, Generator, ModelSpec, Validate};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn now() -> jiff::Timestamp {
    "2026-11-29T12:00:00Z".parse().expect("valid timestamp")
}

fn generator() -> Generator {
    Generator::new(&GenConfig::new(7, now()))
}

fn generation(c: &mut Criterion) {
    let mut g = c.benchmark_group("generate");
    g.throughput(Throughput::Elements(1));
    let models = [
        ModelSpec::Order { items: None },
        ModelSpec::Customer,
        ModelSpec::Product,
        ModelSpec::AnalyticsEvent,
        ModelSpec::AnalyticsBatch { events: (20, 20) },
        ModelSpec::BatchRequest {
            items: (100, 100),
            metadata_kb: 1,
        },
        ModelSpec::ValidationErrorTest,
    ];
    let mut gen_ = generator();
    for m in models {
        g.bench_function(m.name(), |b| {
            b.iter(|| black_box(m.sample(&mut gen_, None).expect("generates")))
        });
    }
    g.finish();
}

fn validation(c: &mut Criterion) {
    let mut g = c.benchmark_group("validate_order");
    let mut gen_ = generator();
    for items in [3, 12] {
        let order = gen_.order_with_items(items);
        assert!(order.validate("order", now()).is_empty());
        g.bench_function(format!("{items}_items"), |b| {
            b.iter(|| black_box(order.validate("order", now())))
        });
    }
    g.finish();
}

fn codecs(c: &mut Criterion) {
    let mut gen_ = generator();
    for items in [3, 12] {
        let order = gen_.order_with_items(items);
        let json = serde_json::to_vec(&order).expect("json");
        let packed = rmp_serde::to_vec_named(&order).expect("msgpack");
        eprintln!(
            "ComplexOrder with {items} items: JSON {} B, MsgPack {} B",
            json.len(),
            packed.len()
        );
        let mut g = c.benchmark_group(format!("codec_order_{items}_items"));
        g.throughput(Throughput::Bytes(json.len() as u64));
        g.bench_function("json_encode", |b| {
            b.iter(|| black_box(serde_json::to_vec(&order).expect("json")))
        });
        g.bench_function("json_decode", |b| {
            b.iter(|| black_box(serde_json::from_slice::<ComplexOrder>(&json).expect("json")))
        });
        g.bench_function("msgpack_encode", |b| {
            b.iter(|| black_box(rmp_serde::to_vec_named(&order).expect("msgpack")))
        });
        g.bench_function("msgpack_decode", |b| {
            b.iter(|| black_box(rmp_serde::from_slice::<ComplexOrder>(&packed).expect("msgpack")))
        });
        g.finish();
    }
}

criterion_group!(benches, generation, validation, codecs);
criterion_main!(benches);

// Pinned output: seed 42 gives these exact bytes, so a refactor of a generator
// that reorders its RNG draws fails here (issue 19).

use cliffload_payloads::{Codec, GenConfig, Generator, ModelSpec, PoolSpec, pool};
use jiff::Timestamp;

/// FNV-1a: stable across Rust releases, unlike `DefaultHasher`.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn generator() -> Generator {
    let now: Timestamp = "2026-11-29T12:00:00Z".parse().expect("valid timestamp");
    let mut c = GenConfig::new(42, now);
    c.customer_pool_size = 16;
    c.product_pool_size = 16;
    Generator::new(&c)
}

/// Every model (and every injection it takes) sampled in turn from one
/// generator, so a change in any draw shifts every later hash too: the first
/// model whose hash differs is where the sequence changed.
fn hashes() -> Vec<(String, u64)> {
    let models = [
        ModelSpec::Order { items: None },
        ModelSpec::Order {
            items: Some((2, 9)),
        },
        ModelSpec::OrderBatch { orders: (2, 4) },
        ModelSpec::Customer,
        ModelSpec::Product,
        ModelSpec::AnalyticsEvent,
        ModelSpec::AnalyticsBatch { events: (5, 20) },
        ModelSpec::BatchRequest {
            items: (1, 30),
            metadata_kb: 2,
        },
        ModelSpec::ValidationErrorTest,
    ];
    let mut g = generator();
    let mut out = Vec::new();
    for model in &models {
        let kinds = std::iter::once(None).chain(model.inject_kinds().iter().copied().map(Some));
        for kind in kinds {
            let sample = model.sample(&mut g, kind).expect("samples");
            let mut bytes = serde_json::to_vec(&sample.value).expect("JSON");
            bytes.extend(format!("{:?}", sample.expect_at).bytes());
            let label = kind.map_or(String::new(), |k| format!(" + {k}"));
            out.push((format!("{model}{label}"), fnv1a(&bytes)));
        }
    }
    let spec = PoolSpec {
        model: ModelSpec::Order { items: None },
        size: 20,
        error_rate: 0.3,
        arg: Some("order".into()),
        encoding: Codec::MsgPack,
    };
    let pool = pool::build(&mut g, &spec).expect("builds");
    let bytes: Vec<u8> = pool.iter().flat_map(|e| e.body.iter().copied()).collect();
    out.push(("order pool".into(), fnv1a(&bytes)));
    out
}

#[test]
fn seed_42_gives_the_pinned_payloads() {
    let got = hashes();
    let table: String = got
        .iter()
        .map(|(m, h)| format!("    (\"{m}\", {h:#018x}),\n"))
        .collect();
    let first_change = got
        .iter()
        .zip(PINNED)
        .find(|((m, h), (pm, ph))| m != pm || h != ph)
        .map(|((m, h), (pm, ph))| format!("{m} {h:#018x}, pinned {pm} {ph:#018x}"));
    assert!(
        first_change.is_none() && got.len() == PINNED.len(),
        "seed 42 no longer gives the pinned payloads; first change: {first_change:?}\nnew table:\n{table}"
    );
}

/// Computed on the generators before issue 19's refactor. Change it only when
/// the generated data is meant to change, and say so in the commit.
const PINNED: &[(&str, u64)] = &[
    ("order", 0x9c74c48bc651aa9d),
    ("order + negative_total", 0x60321c068635a2b2),
    ("order + invalid_email", 0xc836991be3a4dbb6),
    ("order + future_birth_date", 0x5fb4cea2b819f8f6),
    ("order + invalid_totals", 0x688eae1c46fb9315),
    ("order + missing_required", 0x5a8c2a44cada29d9),
    ("order (2–9 items)", 0x13d8a986ca4703f9),
    ("order (2–9 items) + negative_total", 0xfbbd5acd41d982ae),
    ("order (2–9 items) + invalid_email", 0xecd78daea14d5ec3),
    ("order (2–9 items) + future_birth_date", 0x51686576550b6813),
    ("order (2–9 items) + invalid_totals", 0x9074e6edd51d94b6),
    ("order (2–9 items) + missing_required", 0x138c260f8bf5970f),
    ("order batch (2–4 orders)", 0x20b240455eeee313),
    (
        "order batch (2–4 orders) + negative_total",
        0x613512d7bd71a2aa,
    ),
    (
        "order batch (2–4 orders) + invalid_email",
        0x5c6e215a14dc13bc,
    ),
    (
        "order batch (2–4 orders) + future_birth_date",
        0x40a8ff7f1e6e6b22,
    ),
    (
        "order batch (2–4 orders) + invalid_totals",
        0x4baae7292344e910,
    ),
    (
        "order batch (2–4 orders) + missing_required",
        0xed8e45da25fb5027,
    ),
    ("customer", 0x87503e9e7d4a7829),
    ("customer + invalid_email", 0x38f8c70cc0288d12),
    ("customer + future_birth_date", 0xad5684d7ea904382),
    ("customer + missing_required", 0xe23ac241c8d575ec),
    ("product", 0x93323a571b8b1fac),
    ("product + missing_required", 0x2586b6c058566ee6),
    ("analytics event", 0x9439ad84416c6f0b),
    ("analytics event + missing_required", 0x04b8aa27abf996d3),
    ("analytics batch (5–20 events)", 0x214abffb33296909),
    (
        "analytics batch (5–20 events) + missing_required",
        0x53ccee594e073732,
    ),
    (
        "batch request (1–30 items, 2 KB metadata)",
        0x9c06cd43279305d3,
    ),
    (
        "batch request (1–30 items, 2 KB metadata) + missing_required",
        0xc1d4e5bb5bbcfbeb,
    ),
    (
        "batch request (1–30 items, 2 KB metadata) + out_of_range",
        0xef517eb282569add,
    ),
    ("validation error test", 0xee35feef5740dcea),
    ("validation error test + short_field", 0xf2de40162fe2e3d0),
    ("validation error test + bad_email", 0x0ff91659e77991b9),
    ("validation error test + out_of_range", 0xf17683b91158bb7f),
    ("validation error test + bad_pattern", 0xc573657a8870f5b0),
    ("validation error test + contains_fail", 0x54b32946aa20ec65),
    ("order pool", 0xfcc86e13324a784a),
];

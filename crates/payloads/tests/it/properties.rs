// Property tests over seeds, kinds and arbitrary JSON.

use cliffload_payloads::{
    Codec, ComplexOrder, GenConfig, Generator, InjectKind, ModelSpec, PoolSpec, Seg, pool,
};
use jiff::Timestamp;
use proptest::prelude::*;
use serde_json::Value;

fn now() -> Timestamp {
    "2026-11-29T12:00:00Z".parse().expect("valid timestamp")
}

fn generator(seed: u64) -> Generator {
    let mut c = GenConfig::new(seed, now());
    c.customer_pool_size = 16;
    c.product_pool_size = 16;
    Generator::new(&c)
}

fn models() -> Vec<ModelSpec> {
    vec![
        ModelSpec::Order { items: None },
        ModelSpec::Order {
            items: Some((12, 12)),
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
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn every_generated_valid_payload_passes_validation(seed in any::<u64>()) {
        let mut g = generator(seed);
        for m in models() {
            let s = m.sample(&mut g, None).expect("generates");
            let v = m.validate(&s.value, "arg", now());
            prop_assert!(v.is_empty(), "{} (seed {seed}) broke its own rules: {:?}", m.name(), v);
        }
    }

    #[test]
    fn every_injected_payload_fails_where_its_kind_says(seed in any::<u64>()) {
        let mut g = generator(seed);
        for m in models() {
            for &kind in m.inject_kinds() {
                let s = m.sample(&mut g, Some(kind)).expect("injects");
                let violations = m.validate(&s.value, "", now());
                prop_assert!(
                    violations.iter().any(|v| v.path == s.expect_at),
                    "{} with {kind} (seed {seed}): expected a violation at {:?}, got {:?}",
                    m.name(), s.expect_at, violations
                );
            }
        }
    }

    #[test]
    fn orders_round_trip_through_json_and_msgpack(seed in any::<u64>()) {
        let mut g = generator(seed);
        let order = g.order();
        let json = serde_json::to_vec(&order).expect("json");
        prop_assert_eq!(&serde_json::from_slice::<ComplexOrder>(&json).expect("from json"), &order);
        let packed = rmp_serde::to_vec_named(&order).expect("msgpack");
        prop_assert_eq!(&rmp_serde::from_slice::<ComplexOrder>(&packed).expect("from msgpack"), &order);
    }

    #[test]
    fn the_same_seed_gives_the_same_bytes(seed in any::<u64>()) {
        let spec = PoolSpec { model: ModelSpec::Order { items: None }, size: 5, error_rate: 0.4, arg: Some("order".into()), encoding: Codec::Json };
        let a = pool::build(&mut generator(seed), &spec).expect("builds");
        let b = pool::build(&mut generator(seed), &spec).expect("builds");
        prop_assert_eq!(a, b);
    }

    #[test]
    fn the_validator_never_panics(value in arb_json()) {
        for m in models() {
            let _ = m.validate(&value, "x", now());
            // and with the value placed where an order's fields are expected
            let _ = m.validate(&serde_json::json!({"order_id": value.clone(), "items": [value.clone()]}), "x", now());
        }
    }
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,12}", inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

#[test]
fn pools_hold_exactly_the_configured_injected_share() {
    for (size, rate, want) in [
        (100, 0.2, 20),
        (1000, 0.01, 10),
        (7, 0.5, 4),
        (50, 0.0, 0),
        (10, 1.0, 10),
    ] {
        let spec = PoolSpec {
            model: ModelSpec::ValidationErrorTest,
            size,
            error_rate: rate,
            arg: Some("test_data".into()),
            encoding: Codec::Json,
        };
        let entries = pool::build(&mut generator(1), &spec).expect("builds");
        assert_eq!(entries.len(), size);
        let injected: Vec<InjectKind> = entries.iter().filter_map(|e| e.injected).collect();
        assert_eq!(injected.len(), want, "size {size} rate {rate}");
        // every label is honest: injected bodies fail validation, the others pass
        for e in &entries {
            let v: Value = serde_json::from_slice(&e.body).expect("JSON");
            let violations =
                ModelSpec::ValidationErrorTest.validate(&v["test_data"], "test_data", now());
            assert_eq!(
                violations.is_empty(),
                e.injected.is_none(),
                "{:?}: {violations:?}",
                e.injected
            );
        }
    }
    let bad = PoolSpec {
        model: ModelSpec::Customer,
        size: 3,
        error_rate: 1.5,
        arg: None,
        encoding: Codec::Json,
    };
    assert!(pool::build(&mut generator(1), &bad).is_err());
}

#[test]
fn msgpack_pools_decode_to_the_json_values() {
    let spec = |encoding| PoolSpec {
        model: ModelSpec::AnalyticsBatch { events: (5, 5) },
        size: 3,
        error_rate: 0.0,
        arg: Some("events".into()),
        encoding,
    };
    let json = pool::build(&mut generator(9), &spec(Codec::Json)).expect("json");
    let packed = pool::build(&mut generator(9), &spec(Codec::MsgPack)).expect("msgpack");
    for (j, p) in json.iter().zip(&packed) {
        let a: Value = serde_json::from_slice(&j.body).expect("json");
        let b: Value = rmp_serde::from_slice(&p.body).expect("msgpack");
        assert_eq!(a, b);
        assert!(p.body.len() < j.body.len());
    }
}

#[test]
fn injection_into_a_model_that_cannot_take_it_is_an_error() {
    let err = ModelSpec::Product
        .sample(&mut generator(1), Some(InjectKind::NegativeTotal))
        .expect_err("not for products");
    assert!(err.to_string().contains("missing_required"), "{err}");
    let _ = Seg::Index(0);
}

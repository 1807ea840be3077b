// Specific rules: full paths five levels deep, every violation at once, details.

use cliffload_payloads::{GenConfig, Generator, Validate};
use jiff::Timestamp;
use rust_decimal::Decimal;

fn now() -> Timestamp {
    "2026-11-29T12:00:00Z".parse().expect("valid timestamp")
}

fn order() -> cliffload_payloads::ComplexOrder {
    let mut c = GenConfig::new(42, now());
    c.customer_pool_size = 4;
    c.product_pool_size = 4;
    Generator::new(&c).order_with_items(5)
}

#[test]
fn reports_every_violation_with_its_full_path() {
    let mut o = order();
    o.items[3].product_snapshot.variants[0].price = Decimal::ZERO;
    o.items[3].product_snapshot.variants[0]
        .dimensions_cm
        .remove("height");
    o.customer.email = "nobody".into();
    o.customer.addresses[0].postal_code = "ABC".into();
    o.priority_level = 9;
    let found: Vec<(String, &str)> = o
        .validate("order", now())
        .iter()
        .map(|v| (v.dotted(), v.code))
        .collect();
    for want in [
        (
            "order.items.3.product_snapshot.variants.0.price",
            "greater_than",
        ),
        (
            "order.items.3.product_snapshot.variants.0.dimensions_cm.height",
            "missing",
        ),
        ("order.customer.email", "value_error"),
        (
            "order.customer.addresses.0.postal_code",
            "string_pattern_mismatch",
        ),
        ("order.priority_level", "less_than_equal"),
    ] {
        assert!(
            found.iter().any(|(p, c)| p == want.0 && *c == want.1),
            "missing {want:?} in {found:?}"
        );
    }
}

#[test]
fn cross_field_rules_hold_and_break() {
    let o = order();
    assert!(
        o.validate("order", now()).is_empty(),
        "{:?}",
        o.validate("order", now())
    );
    let mut big = o.clone();
    big.items[0].total_price += Decimal::ONE;
    let paths: Vec<String> = big
        .validate("order", now())
        .iter()
        .map(|v| v.dotted())
        .collect();
    assert!(
        paths.contains(&"order.items.0.total_price".to_owned()),
        "{paths:?}"
    );
    assert!(paths.contains(&"order.subtotal".to_owned()), "{paths:?}");

    let mut costly = o.clone();
    costly.total_amount = Decimal::from(20_000);
    costly.requires_approval = false;
    let paths: Vec<String> = costly
        .validate("order", now())
        .iter()
        .map(|v| v.dotted())
        .collect();
    assert!(
        paths.contains(&"order.requires_approval".to_owned()),
        "{paths:?}"
    );

    let mut past = o;
    past.expected_ship_date = Some("2020-01-01T00:00:00Z".parse().expect("ts"));
    let paths: Vec<String> = past
        .validate("order", now())
        .iter()
        .map(|v| v.dotted())
        .collect();
    assert!(
        paths.contains(&"order.expected_ship_date".to_owned()),
        "{paths:?}"
    );
}

#[test]
fn violations_become_cliffracer_details() {
    let mut o = order();
    o.items[1].quantity = 0;
    let v = o.validate("order", now());
    let d = v[0].to_detail();
    assert_eq!(d["type"], "greater_than_equal");
    assert_eq!(
        d["loc"],
        serde_json::json!(["order", "items", 1, "quantity"])
    );
    assert!(
        d["msg"]
            .as_str()
            .is_some_and(|m| m.contains("greater than or equal to 1"))
    );
}

#[test]
fn money_is_an_exact_decimal_string() {
    let v = serde_json::to_value(order()).expect("serialises");
    assert!(v["total_amount"].is_string(), "{}", v["total_amount"]);
    assert!(
        v["items"][0]["unit_price"]
            .as_str()
            .is_some_and(|s| s.contains('.'))
    );
    assert!(v["created_at"].as_str().is_some_and(|s| s.ends_with('Z')));
}

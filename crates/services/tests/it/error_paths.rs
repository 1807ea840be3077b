// Every way order_processing_service refuses a request, pinned to the exact
// reply envelope (issue 18: decoding straight into typed arguments must not
// change a byte of them). One snapshot; the timestamp, random correlation ids
// and the processing time are the only parts masked.

use cliffload_payloads::{ComplexOrder, GenConfig, Generator, PaymentMethod};
use cliffload_protocol::Codec;
use cliffload_services::cliffracer::envelope_for;
use cliffload_services::order_service::{LatencyProfile, OrderConfig, OrderService};
use rust_decimal::Decimal;
use serde_json::{Value, json};

/// One request: what it tests, the method, the Content-Type, the body, the
/// correlation id of its headers.
struct Case {
    name: &'static str,
    method: &'static str,
    codec: Option<Codec>,
    body: Vec<u8>,
    header_corr: Option<&'static str>,
}

fn json_case(name: &'static str, method: &'static str, body: impl Into<Vec<u8>>) -> Case {
    Case {
        name,
        method,
        codec: Some(Codec::Json),
        body: body.into(),
        header_corr: Some("corr-pin"),
    }
}

fn value_case(name: &'static str, method: &'static str, body: &Value) -> Case {
    json_case(name, method, serde_json::to_vec(body).expect("json"))
}

fn msgpack_case(name: &'static str, method: &'static str, body: &Value) -> Case {
    Case {
        codec: Some(Codec::MsgPack),
        ..json_case(
            name,
            method,
            rmp_serde::to_vec_named(body).expect("msgpack"),
        )
    }
}

/// A valid order no business rule refuses, the same on every run: a fixed
/// seed and clock, and no ship date (validation judges it against now).
fn valid_order() -> ComplexOrder {
    let now: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().expect("timestamp");
    let mut config = GenConfig::new(18, now);
    config.customer_pool_size = 20;
    config.product_pool_size = 20;
    let mut g = Generator::new(&config);
    loop {
        let mut o = g.order_with_items(2);
        if o.total_amount < Decimal::from(900)
            && o.payment.method != PaymentMethod::Crypto
            && o.fraud_check_passed
            && o.shipping.shipping_address.country == "US"
        {
            o.expected_ship_date = None;
            return o;
        }
    }
}

/// `order` with `f` applied to its JSON form.
fn order_with(order: &Value, f: impl FnOnce(&mut Value)) -> Value {
    let mut o = order.clone();
    f(&mut o);
    o
}

fn cases() -> Vec<Case> {
    let order = serde_json::to_value(valid_order()).expect("order");
    let valid = json!({"order": order});
    let items_quantity = |v: Value| order_with(&order, |o| o["items"][1]["quantity"] = v);
    let mut cases = vec![
        value_case("valid order", "process_order", &valid),
        json_case("empty body", "process_order", ""),
        json_case("whitespace body", "process_order", " \r\n\t"),
        json_case("empty object", "process_order", "{}"),
        json_case("invalid JSON", "process_order", "{bad"),
        json_case(
            "truncated JSON",
            "process_order",
            r#"{"order": {"order_id": "#,
        ),
        json_case("trailing bytes", "process_order", "{} x"),
        json_case("array body", "process_order", r#"[{"order": 1}]"#),
        json_case("string body", "process_order", r#""order""#),
        json_case("number body", "process_order", "42"),
        json_case("null body", "process_order", "null"),
        json_case("order null", "process_order", r#"{"order": null}"#),
        json_case("order a string", "process_order", r#"{"order": "o-1"}"#),
        json_case("order an array", "process_order", r#"{"order": [1, 2]}"#),
        json_case(
            "order a number out of range",
            "process_order",
            r#"{"order": 1e400}"#,
        ),
        json_case(
            "nested too deep",
            "process_order",
            format!(r#"{{"order": {}{}}}"#, "[".repeat(200), "]".repeat(200)),
        ),
        json_case(
            "order fields sent flat, as the Locust suite did",
            "process_order",
            r#"{"order_id": "o-1", "customer_id": "c-9", "items": []}"#,
        ),
        value_case(
            "extra kwarg beside a valid order",
            "process_order",
            &json!({"order": order, "extra": 1}),
        ),
        value_case(
            "two extra kwargs after the order",
            "process_order",
            &json!({"order": order, "a": 1, "b": [2]}),
        ),
        value_case(
            "extra kwarg beside an invalid order: only the kwarg is reported",
            "process_order",
            &json!({"order": {"order_id": 5}, "extra": true}),
        ),
        value_case(
            "correlation_id first, then extras, no order",
            "process_order",
            &json!({"correlation_id": "c", "a": 1, "b": 2}),
        ),
        value_case(
            "wrong type deep: an item's quantity is a string",
            "process_order",
            &json!({"order": items_quantity(json!("2"))}),
        ),
        value_case(
            "wrong type deep: an item's quantity is a float",
            "process_order",
            &json!({"order": items_quantity(json!(2.5))}),
        ),
        value_case(
            "wrong type deep: a variant's price is a number, not a decimal string",
            "process_order",
            &json!({"order": order_with(&order, |o| o["items"][0]["product_snapshot"]["variants"][0]["price"] = json!(12.5))}),
        ),
        value_case(
            "two wrong types: the first in the document is reported",
            "process_order",
            &json!({"order": order_with(&order, |o| {
                o["items"][0]["quantity"] = json!("x");
                o["customer"]["email"] = json!(7);
            })}),
        ),
        value_case(
            "wrong enum value",
            "process_order",
            &json!({"order": order_with(&order, |o| o["payment"]["method"] = json!("barter"))}),
        ),
        value_case(
            "bad timestamp",
            "process_order",
            &json!({"order": order_with(&order, |o| o["created_at"] = json!("yesterday"))}),
        ),
        value_case(
            "missing nested field",
            "process_order",
            &json!({"order": order_with(&order, |o| {
                o["customer"].as_object_mut().expect("customer").shift_remove("email");
            })}),
        ),
        value_case(
            "unknown nested field",
            "process_order",
            &json!({"order": order_with(&order, |o| o["items"][0]["colour"] = json!("red"))}),
        ),
        value_case(
            "rule violations on well-typed fields",
            "process_order",
            &json!({"order": order_with(&order, |o| {
                o["order_id"] = json!("");
                o["total_amount"] = json!("-1.00");
                o["items"][0]["quantity"] = json!(0);
            })}),
        ),
        Case {
            header_corr: None,
            ..value_case(
                "correlation_id from the body",
                "process_order",
                &json!({"order": {}, "correlation_id": "from-body"}),
            )
        },
        Case {
            header_corr: None,
            ..value_case(
                "a correlation_id that is not a string is dropped, not extra",
                "process_order",
                &json!({"correlation_id": 5}),
            )
        },
        value_case(
            "the header's correlation id wins over the body's",
            "process_order",
            &json!({"correlation_id": "from-body"}),
        ),
        json_case(
            "duplicate kwarg: the last wins",
            "process_order",
            format!(
                r#"{{"order": {{"order_id": 5}}, "order": {}}}"#,
                serde_json::to_string(&order_with(&order, |o| {
                    o["order_id"] = json!("ORD-DDDDDDDD")
                }))
                .expect("json")
            ),
        ),
        json_case(
            "escaped kwarg name",
            "process_order",
            format!(
                r#"{{"ord\u0065r": {}}}"#,
                serde_json::to_string(
                    &order_with(&order, |o| o["order_id"] = json!("ORD-EEEEEEEE"))
                )
                .expect("json")
            ),
        ),
        json_case("unknown method", "no_such_method", "{}"),
        json_case("unknown method, undecodable body", "no_such_method", "{bad"),
        msgpack_case(
            "MsgPack: valid order",
            "process_order",
            &json!({"order": order_with(&order, |o| o["order_id"] = json!("ORD-AAAAAAAA"))}),
        ),
        {
            // Well-formed JSON but for one byte that is not UTF-8: the typed
            // way checks the body's UTF-8 once, whole, and must refuse it
            // exactly as the `Value` way does.
            let mut body = serde_json::to_vec(&json!({"order": order})).expect("encodes");
            let at = body.windows(4).position(|w| w == b"ORD-").expect("an id");
            body[at] = 0xff;
            json_case("JSON: a string that is not UTF-8", "process_order", body)
        },
        msgpack_case("MsgPack: empty map", "process_order", &json!({})),
        msgpack_case("MsgPack: not a map", "process_order", &json!([1, 2])),
        msgpack_case(
            "MsgPack: wrong type deep",
            "process_order",
            &json!({"order": items_quantity(json!("2"))}),
        ),
        msgpack_case(
            "MsgPack: a decimal as a float",
            "process_order",
            &json!({"order": order_with(&order, |o| o["total_amount"] = json!(10.5))}),
        ),
        Case {
            codec: Some(Codec::MsgPack),
            ..json_case("MsgPack: undecodable", "process_order", b"\xc1".to_vec())
        },
        Case {
            codec: None,
            ..msgpack_case(
                "MsgPack without a Content-Type (sniffed)",
                "process_order",
                &json!({"order": order_with(&order, |o| o["order_id"] = json!("ORD-BBBBBBBB"))}),
            )
        },
        Case {
            codec: None,
            ..json_case("JSON without a Content-Type", "process_order", "{}")
        },
        value_case(
            "batch: empty list",
            "batch_process_orders",
            &json!({"orders": []}),
        ),
        value_case(
            "batch: not a list",
            "batch_process_orders",
            &json!({"orders": "o"}),
        ),
        value_case(
            "batch: a bad order after a good one",
            "batch_process_orders",
            &json!({"orders": [order, {"order_id": 1}]}),
        ),
        value_case(
            "batch: extra kwarg",
            "batch_process_orders",
            &json!({"orders": [], "extra": null}),
        ),
        value_case(
            "analytics: empty list",
            "analytics_ingestion",
            &json!({"events": []}),
        ),
        value_case(
            "analytics: a bad event",
            "analytics_ingestion",
            &json!({"events": [{"event_type": 1}]}),
        ),
        value_case(
            "error_scenario_test: empty test_data",
            "error_scenario_test",
            &json!({"test_data": {}}),
        ),
        value_case(
            "large_payload_processing: empty batch_request",
            "large_payload_processing",
            &json!({"batch_request": {}}),
        ),
        value_case("echo: missing", "echo", &json!({})),
        value_case("echo: not a string", "echo", &json!({"message": 5})),
        value_case(
            "echo: extra kwarg",
            "echo",
            &json!({"message": "hi", "x": 1}),
        ),
        value_case("echo: valid", "echo", &json!({"message": "hi"})),
        value_case(
            "get_service_metrics: extra kwarg",
            "get_service_metrics",
            &json!({"x": 1}),
        ),
    ];
    // A batch over the limit is refused before its orders are read.
    cases.push(value_case(
        "batch: too many, invalid",
        "batch_process_orders",
        &json!({"orders": vec![json!({"order_id": 1}); 101]}),
    ));
    cases
}

/// The reply as JSON text, with what changes from run to run masked.
async fn reply(svc: &OrderService, case: &Case) -> String {
    let mut env = envelope_for(
        svc,
        case.method,
        case.codec,
        &case.body,
        case.header_corr.map(str::to_owned),
        cliffload_services::MAX_REQUEST_BYTES,
    )
    .await;
    env.timestamp = "<timestamp>".into();
    if let Some(c) = &env.correlation_id
        && c.starts_with("corr_")
        && c.len() == 21
    {
        env.correlation_id = Some("corr_<random>".into());
    }
    if let Some(Value::Object(r)) = &mut env.result
        && r.contains_key("processing_time_ms")
    {
        r.insert("processing_time_ms".into(), json!("<elapsed>"));
    }
    String::from_utf8(Codec::Json.encode(&env).expect("encodes")).expect("utf-8")
}

#[tokio::test]
async fn every_refusal_keeps_its_exact_envelope() {
    let svc = OrderService::new(OrderConfig {
        latency: LatencyProfile::None,
        ..OrderConfig::default()
    });
    let mut out = String::new();
    for case in cases() {
        let body = match case.codec {
            Some(Codec::MsgPack) | None if !case.body.starts_with(b"{") => {
                format!("MsgPack {} bytes", case.body.len())
            }
            _ if case.body.len() > 200 => format!("JSON {} bytes", case.body.len()),
            _ => String::from_utf8_lossy(&case.body).into_owned(),
        };
        out.push_str(&format!(
            "## {}\n{} ({}, header corr {:?}): {}\n{}\n\n",
            case.name,
            case.method,
            case.codec
                .map_or("no Content-Type".into(), |c| c.to_string()),
            case.header_corr,
            body,
            reply(&svc, &case).await
        ));
    }
    insta::assert_snapshot!("order_service_replies", out);
}

/// The snapshot above holds only if the fast way takes nothing but requests
/// it answers as the `Value` way would: here is what it takes.
#[tokio::test]
async fn only_well_formed_json_kwargs_take_the_typed_way() {
    use cliffload_services::cliffracer::Handler;
    use cliffload_services::kwargs::RawKwargs;
    let svc = OrderService::new(OrderConfig {
        latency: LatencyProfile::None,
        ..OrderConfig::default()
    });
    let typed: Vec<&str> = cases()
        .iter()
        .filter(|c| {
            RawKwargs::json_object(c.codec, &c.body)
                .and_then(|raw| svc.call_typed(c.method, raw))
                .is_some()
        })
        .map(|c| c.name)
        .collect();
    assert_eq!(
        typed,
        [
            "valid order",
            "rule violations on well-typed fields",
            "escaped kwarg name",
            "batch: empty list",
            "analytics: empty list",
            "echo: valid",
        ]
    );
}

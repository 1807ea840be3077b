use rand::SeedableRng;
use rand::rngs::SmallRng;
use serde_json::{Value, json};

use super::*;

fn render(body: &Value, names: &Names<'_>, row: Option<&[Value]>, vars: &[Value]) -> Value {
    let t = JsonTemplate::compile(body, names).expect("compiles");
    let mut rng = SmallRng::seed_from_u64(1);
    let mut scope = Scope::new(&mut rng, 41, 3, row, vars);
    let mut out = Vec::new();
    t.render(&mut scope, &mut out);
    serde_json::from_slice(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out:?}"))
}

#[test]
fn a_whole_field_keeps_its_type_and_a_field_in_text_is_text() {
    let v = render(
        &json!({"n": "{{seq}}", "s": "order-{{seq}}", "u": "{{user}}", "q": "{{seq | string}}",
                "r": "{{random_int 5 5}}", "plain": "x", "k": [1, "{{now_ms}}"]}),
        &Names {
            users: true,
            ..Names::default()
        },
        None,
        &[],
    );
    assert_eq!(v["n"], 41);
    assert_eq!(v["s"], "order-41");
    assert_eq!(v["u"], 3);
    assert_eq!(v["q"], "41");
    assert_eq!(v["r"], 5);
    assert_eq!(v["plain"], "x");
    assert!(v["k"][1].as_i64().is_some_and(|ms| ms > 1_700_000_000_000));
}

#[test]
fn uuids_times_picks_and_fakes_render_as_they_should() {
    let v = render(
        &json!({"id": "{{uuid}}", "at": "{{now}}", "p": "{{pick [a, 2, \"c d\"]}}",
                "e": "{{fake.email}}", "name": "Dr {{fake.last_name}}"}),
        &Names::default(),
        None,
        &[],
    );
    let id = v["id"].as_str().expect("text");
    assert!(
        uuid::Uuid::parse_str(id).is_ok_and(|u| u.get_version_num() == 4),
        "{id}"
    );
    let at = v["at"].as_str().expect("text");
    assert!(
        at.parse::<jiff::Timestamp>().is_ok() && at.ends_with('Z'),
        "{at}"
    );
    assert!(
        [json!("a"), json!(2), json!("c d")].contains(&v["p"]),
        "{}",
        v["p"]
    );
    assert!(v["e"].as_str().is_some_and(|e| e.contains('@')));
    assert!(
        v["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("Dr ") && n.len() > 4)
    );
}

#[test]
fn rows_and_saved_values_fill_in_with_their_types_and_text_is_escaped() {
    let cols = ["email".to_owned(), "age".to_owned(), "tags".to_owned()];
    let names = Names {
        data: Some(("c.csv", &cols)),
        vars: &["order_id".to_owned()],
        users: true,
    };
    let row = [json!("a\"b@example.com"), json!("31"), json!(["x"])];
    let vars = [json!({"k": 1})];
    let v = render(
        &json!({"e": "{{row.email}}", "greet": "hi {{row.email}}\n", "age": "{{row.age | number}}",
                "age_text": "{{row.age}}", "tags": "{{row.tags}}", "id": "{{order_id}}"}),
        &names,
        Some(&row),
        &vars,
    );
    assert_eq!(v["e"], "a\"b@example.com");
    assert_eq!(v["greet"], "hi a\"b@example.com\n");
    assert_eq!(v["age"], 31);
    assert_eq!(v["age_text"], "31");
    assert_eq!(v["tags"], json!(["x"]));
    assert_eq!(v["id"], json!({"k": 1}));
}

#[test]
fn the_same_seed_renders_the_same_bodies() {
    let body = json!({"id": "{{uuid}}", "n": "{{random_int 1 1000000}}", "w": "{{fake.name}}"});
    let once = || render(&body, &Names::default(), None, &[]);
    assert_eq!(once(), once());
}

#[test]
fn every_mistake_is_named_with_its_path_and_what_is_allowed() {
    let cols = ["email".to_owned()];
    let names = Names {
        data: Some(("c.csv", &cols)),
        vars: &[],
        users: false,
    };
    let errors = JsonTemplate::compile(
        &json!({"a": "{{uid}}", "b": {"c": ["{{row.mail}}"]}, "d": "{{random_int 9 1}}",
                "e": "{{seq", "f": "{{user}}", "g": "{{fake.nope}}", "h": "{{uuid | number}}",
                "i": "{{pick [a}}", "j": "{{seq | upper}}"}),
        &names,
    )
    .expect_err("all wrong");
    let by_path = |p: &str| {
        errors
            .iter()
            .find(|e| e.path == p)
            .map(|e| e.message.clone())
            .unwrap_or_else(|| panic!("no error at {p}: {errors:?}"))
    };
    assert_eq!(errors.len(), 9, "{errors:?}");
    assert!(
        by_path("a").contains("did you mean {{uuid}}"),
        "{}",
        by_path("a")
    );
    assert!(
        by_path("b.c.0").contains("c.csv has no column \"mail\""),
        "{}",
        by_path("b.c.0")
    );
    assert!(by_path("b.c.0").contains("did you mean") || by_path("b.c.0").contains("email"));
    assert!(by_path("d").contains("above max"));
    assert!(by_path("e").contains("closing"));
    assert!(by_path("f").contains("open model"));
    assert!(by_path("g").contains("one of name"));
    assert!(by_path("h").contains("not a number"));
    assert!(by_path("i").contains("give a list"));
    assert!(by_path("j").contains("unknown filter"));
}

#[test]
fn text_templates_render_without_json_quoting() {
    let t = Template::parse(
        "orders.{{pick [eu, us]}}.rpc.get-{{seq}}",
        &Names::default(),
    )
    .expect("parses");
    let mut rng = SmallRng::seed_from_u64(1);
    let mut scope = Scope::new(&mut rng, 9, 0, None, &[]);
    let mut out = String::new();
    t.render_text(&mut scope, &mut out);
    assert!(
        out == "orders.eu.rpc.get-9" || out == "orders.us.rpc.get-9",
        "{out}"
    );
    assert!(!value_has_template(&json!({"a": ["{ {x} }"]})));
    assert!(value_has_template(&json!({"a": ["{{x}}"]})));
}

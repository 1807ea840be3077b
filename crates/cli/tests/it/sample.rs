// `cliffload sample`: reproducible payloads, labelled injections, usage errors.

use std::time::Duration;

use crate::harness::{run, stderr};

#[tokio::test]
async fn same_seed_same_bytes_and_injections_are_labelled() {
    let args = [
        "sample",
        "order",
        "--seed",
        "7",
        "--count",
        "3",
        "--at",
        "2026-11-29T00:00:00Z",
    ];
    let a = run(&args, Duration::from_secs(30)).await;
    let b = run(&args, Duration::from_secs(30)).await;
    assert_eq!(a.status.code(), Some(0), "{}", stderr(&a));
    assert_eq!(a.stdout, b.stdout);
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&a.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines.len(), 3);
    assert!(lines.iter().all(|o| {
        o["order_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("ORD-"))
    }));

    let c = run(
        &[
            "sample",
            "order",
            "--seed",
            "8",
            "--at",
            "2026-11-29T00:00:00Z",
        ],
        Duration::from_secs(30),
    )
    .await;
    assert_ne!(
        a.stdout[..200],
        c.stdout[..200],
        "another seed, another order"
    );

    let bad = run(
        &[
            "sample",
            "validation_error_test",
            "--inject",
            "contains_fail",
        ],
        Duration::from_secs(30),
    )
    .await;
    assert!(
        stderr(&bad).contains("injected contains_fail: validation must fail at required_field"),
        "{}",
        stderr(&bad)
    );
    let v: serde_json::Value = serde_json::from_slice(&bad.stdout).expect("JSON");
    assert!(
        v["required_field"]
            .as_str()
            .is_some_and(|s| s.contains("FAIL"))
    );
}

#[tokio::test]
async fn unknown_injection_or_model_is_a_usage_error() {
    for (args, want) in [
        (
            &["sample", "order", "--inject", "nope"][..],
            "--inject: unknown kind \"nope\"",
        ),
        (
            &["sample", "product", "--inject", "negative_total"][..],
            "cannot inject negative_total into product",
        ),
        (&["sample", "spaceship"][..], "invalid value 'spaceship'"),
        (&["sample", "order", "--at", "yesterday"][..], "--at"),
    ] {
        let o = run(args, Duration::from_secs(30)).await;
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
    }
}

// Issue 26: `--items 100000000` aborted trying to allocate 45.6 GB.
#[tokio::test]
async fn items_past_the_limit_are_a_usage_error_naming_it() {
    let o = run(
        &["sample", "order", "--items", "100000000"],
        Duration::from_secs(30),
    )
    .await;
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--items") && err.contains("at most 10000") && err.contains("got 100000000"),
        "{err}"
    );
    // The limit itself is taken.
    let o = run(
        &[
            "sample",
            "analytics_batch",
            "--items",
            "10000",
            "--seed",
            "1",
        ],
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(
        v.as_array().map(Vec::len),
        Some(10_000),
        "an array of 10000 events"
    );
}

//! Rendering every report of a one-hour result (3600 intervals, 6 tasks,
//! three monitored processes sampled each second): each renderer alone, and
//! all of them together as `write_all` renders them, without the disk.
//! Target (issue 7): all of them in under 1 s.
//! `cargo bench -p cliffload-report --bench render`.

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use cliffload_metrics::{IntervalStats, Outcome, TaskTable};
use cliffload_monitor::{ProcessSeries, Role, Sample};
use cliffload_report::{PreflightRow, RunMeta, RunResult, csv_locust, html, junit, markdown, text};
use cliffload_scenario::{Scenario, ScenarioFile};
use criterion::{Criterion, criterion_group, criterion_main};

/// Seconds of the synthetic run.
const SECONDS: u32 = 3600;
/// Requests per second once every user has started.
const RATE: u32 = 400;

/// The suite's mixed workload plus a static ping (so the sub-millisecond
/// claim has simple RPCs to judge), for an hour, over the built-in catalog.
const YAML: &str = r#"
scenarios:
  one_hour:
    description: "Mixed workload for an hour"
    users: 80
    spawn_rate: 8
    duration: 3600s
    wait_time: {between: [0.05, 0.2]}
    claims: [sub_millisecond, high_throughput]
    expectations: {max_failure_percent: 5, max_median_ms: 50, max_p99_ms: 500, min_rps: 100}
    tasks:
      - {name: ping, service: test, method: ping, weight: 10, timeout: 1s}
      - {name: simple_orders, service: order_processing_service, method: process_order, arg: order, generate: {model: order, count: [1, 3]}, weight: 40, timeout: 5s}
      - {name: complex_orders, service: order_processing_service, method: process_order, arg: order, generate: {model: order, count: [5, 12]}, weight: 10, timeout: 5s}
      - {name: analytics_events, service: order_processing_service, method: analytics_ingestion, arg: events, generate: {model: analytics_batch, count: [5, 100]}, weight: 30, timeout: 5s}
      - {name: batch_processing, service: order_processing_service, method: large_payload_processing, arg: batch_request, generate: {model: batch_request, count: [100, 500]}, weight: 9, timeout: 20s}
      - {name: large_batch_processing, service: order_processing_service, method: large_payload_processing, arg: batch_request, generate: {model: batch_request, count: [1000, 5000]}, weight: 1, timeout: 20s}
"#;

/// A fixed LCG: every run renders the same result.
struct Lcg(u64);

impl Lcg {
    /// Uniform in [0, 1).
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn scenario() -> Scenario {
    ScenarioFile::parse_over_catalog(YAML, "bench.yaml")
        .expect("valid scenario")
        .get("one_hour")
        .expect("one_hour")
        .clone()
}

/// What the engine would hand to `RunResult::build`: per-second tables
/// summarised into intervals and merged into the total. Users start over the
/// first 10 s; latency follows a slow wave; from 1800 s to 1830 s a tenth of
/// the requests time out.
fn measurements(s: &Scenario) -> (TaskTable, Vec<IntervalStats>) {
    let weights: Vec<u32> = s.tasks.iter().map(|t| t.weight.get()).collect();
    let total_weight: u32 = weights.iter().sum();
    let mut lcg = Lcg(0x2545_F491_4F6C_DD1D);
    let mut totals = TaskTable::new(s.tasks.len());
    let mut intervals = Vec::with_capacity(SECONDS as usize);
    for second in 0..SECONDS {
        let n = RATE * (second + 1).min(10) / 10;
        let wave = 1.0 + 0.3 * (f64::from(second) / 300.0).sin();
        let incident = (1800..1830).contains(&second);
        let mut table = TaskTable::new(s.tasks.len());
        for _ in 0..n {
            let mut pick = (lcg.next() * f64::from(total_weight)) as u32;
            let task = weights
                .iter()
                .position(|w| {
                    let hit = pick < *w;
                    pick = pick.saturating_sub(*w);
                    hit
                })
                .unwrap_or(0);
            let roll = lcg.next();
            let (outcome, latency_us) = if incident && roll < 0.1 {
                (
                    Outcome::Timeout,
                    s.tasks[task].request.timeout.as_micros() as f64,
                )
            } else {
                let outcome = match (roll * 1000.0) as u32 {
                    0..970 => Outcome::Ok,
                    970..995 => Outcome::RejectedExpected,
                    995..999 => Outcome::RejectedBusiness,
                    _ => Outcome::NoResponders,
                };
                // Log-uniform from 300 µs to 30 ms, scaled by the wave.
                (outcome, 300.0 * 100f64.powf(lcg.next()) * wave)
            };
            table.record(task, outcome, Duration::from_micros(latency_us as u64));
        }
        intervals.push(IntervalStats::from_table(second, &table));
        totals.merge(&table);
    }
    (totals, intervals)
}

/// A sample per second of the generator, the services and nats-server,
/// as the monitor takes them: RSS with a slow drift, CPU with some noise.
fn monitored() -> Vec<ProcessSeries> {
    let mut lcg = Lcg(0x9E37_79B9_7F4A_7C15);
    [
        ("cliffload (generator)", Role::Generator, 40.0, 35.0),
        ("order_processing_service + test", Role::Service, 60.0, 80.0),
        ("nats-server", Role::NatsServer, 20.0, 25.0),
    ]
    .into_iter()
    .map(|(label, role, mib, cpu)| ProcessSeries {
        label: label.into(),
        role,
        pid: 4242,
        exited: false,
        samples: (0..=SECONDS)
            .map(|i| {
                let t = f64::from(i);
                Sample {
                    t,
                    rss_bytes: ((mib + t / 600.0 + lcg.next()) * 1_048_576.0) as u64,
                    cpu_percent: (i > 0).then(|| cpu * (0.8 + 0.4 * lcg.next())),
                }
            })
            .collect(),
    })
    .collect()
}

fn meta(s: &Scenario) -> RunMeta<'_> {
    RunMeta {
        scenario: s,
        nats_url: "nats://127.0.0.1:4222".into(),
        embedded: true,
        workers: 2,
        preflight: s
            .tasks
            .iter()
            .map(|t| PreflightRow {
                task: t.name.clone(),
                outcome: Outcome::Ok,
                latency_us: 850,
            })
            .collect(),
        started_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
        elapsed: Duration::from_millis(3_600_412),
        interrupted: false,
        warnings: vec![],
        generator_cpu: Some(Duration::from_secs(410)),
        open: None,
        errors: Default::default(),
        connection_events: Vec::new(),
        flows: Default::default(),
        out_of_rows: 0,
    }
}

/// A renderer: a pure function of the result.
type Render = fn(&RunResult) -> String;

/// Every report `write_all` writes, in its order.
const REPORTS: [(&str, Render); 8] = [
    ("json", RunResult::to_json),
    ("html", html::render),
    ("text", text::render),
    ("markdown", markdown::render),
    ("junit", junit::render),
    ("csv_stats", csv_locust::stats),
    ("csv_stats_history", csv_locust::stats_history),
    ("csv_failures", csv_locust::failures),
];

/// Every report, as `write_all` renders them before writing.
fn all(r: &RunResult) -> [String; 8] {
    REPORTS.map(|(_, render)| render(r))
}

fn render(c: &mut Criterion) {
    let s = scenario();
    let (totals, intervals) = measurements(&s);
    let mut result = RunResult::build(meta(&s), &totals, &intervals);
    cliffload_report::processes::apply(&mut result, 1.0, monitored(), None, Some(100.0));
    let sizes: Vec<(&str, usize)> = REPORTS
        .iter()
        .zip(all(&result))
        .map(|((name, _), report)| (*name, report.len()))
        .collect();
    eprintln!(
        "one-hour result: {} tasks, {} intervals, {} requests; bytes per report: {sizes:?}",
        result.tasks.len(),
        result.intervals.len(),
        result.summary.requests,
    );

    let mut g = c.benchmark_group("render_one_hour");
    for (name, render) in REPORTS {
        g.bench_function(name, |b| b.iter(|| render(black_box(&result))));
    }
    g.bench_function("all", |b| b.iter(|| all(black_box(&result))));
    g.finish();

    // Not rendering, but on the same path once the load ends.
    c.bench_function("build_one_hour", |b| {
        b.iter(|| RunResult::build(meta(&s), black_box(&totals), black_box(&intervals)))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = render
}
criterion_main!(benches);

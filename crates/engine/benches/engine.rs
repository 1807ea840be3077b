//! What a worker does per request besides sending it and recording the
//! reply (that is in the metrics bench): under the closed model, pick a task
//! by weight, its body and the think time; under the open model, the
//! arrival offset, the class, the task and the body.
//! `cargo bench -p cliffload-engine --bench engine`.

use std::hint::black_box;
use std::num::NonZeroU32;
use std::time::Duration;

use cliffload_engine::{Payload, Plan};
use cliffload_scenario::{ArrivalRate, Rate, Scenario};
use criterion::{Criterion, criterion_group, criterion_main};
use rand::SeedableRng;
use rand::rngs::SmallRng;

/// A built-in scenario's plan. The pick does not read the bodies, so each
/// task gets `payload_pool_size` small ones instead of generated models.
fn plan(scenario: &Scenario) -> Plan {
    let pools = scenario
        .tasks
        .iter()
        .map(|_| {
            (0..scenario.data.payload_pool_size)
                .map(|i| Payload::valid(format!("{{\"n\": {i}}}").into_bytes()))
                .collect()
        })
        .collect();
    Plan::new(scenario, pools)
}

fn builtin(name: &str) -> Scenario {
    cliffload_scenario::catalog::builtin()
        .get(name)
        .expect("a built-in scenario")
        .clone()
}

fn closed(c: &mut Criterion) {
    let mut g = c.benchmark_group("per_request_closed");
    // A class with no think time and five tasks, and one with a drawn
    // think time (`between`) and three.
    for (scenario, class) in [
        ("mixed_workload", "MixedWorkloadUser"),
        ("stress_test", "OrderProcessingUser"),
    ] {
        let plan = plan(&builtin(scenario));
        let class = plan
            .classes
            .iter()
            .find(|c| c.name == class)
            .expect("the class is in the scenario");
        let mut rng = SmallRng::seed_from_u64(7);
        let mut cursor = 0usize;
        g.bench_function(format!("{scenario}/{}", class.name), |b| {
            b.iter(|| {
                let task = plan.pick_task(class, &mut rng);
                let payload = plan.tasks[task].payload(cursor);
                cursor = cursor.wrapping_add(1);
                let think = Plan::think_time(class, &mut rng);
                black_box((task, payload, think))
            })
        });
    }
    g.finish();
}

fn open(c: &mut Criterion) {
    let mut s = builtin("stress_test");
    s.arrival = Some(ArrivalRate {
        rate: Rate::Ramp {
            from: 5_000.0,
            to: 20_000.0,
        },
        max_in_flight: NonZeroU32::new(1000).expect("non-zero"),
    });
    let plan = plan(&s);
    // Requests of the whole run, so the ramp's square root is on the path
    // and every offset falls inside the run.
    let requests = (s.duration.as_secs_f64() * 5_000.0) as u64;
    let mut rng = SmallRng::seed_from_u64(7);
    let mut n = 0u64;
    c.bench_function("per_request_open/stress_test_ramp", |b| {
        b.iter(|| {
            let offset = plan.arrival_offset(n).expect("within the run");
            let task = plan.pick_task(plan.open_class_of(n), &mut rng);
            let payload = plan.tasks[task].payload(n as usize);
            n += 1;
            if n == requests {
                n = 0;
            }
            black_box((offset, task, payload))
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = closed, open
}
criterion_main!(benches);

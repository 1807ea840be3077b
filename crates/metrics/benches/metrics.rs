//! Recording costs: one latency into a histogram and into a worker's task
//! table (per request), and the aggregator's once-a-second work: merge a
//! worker's one-second table into the interval and the run total, and
//! summarise the interval. `cargo bench -p cliffload-metrics --bench metrics`.

use std::hint::black_box;
use std::time::Duration;

use cliffload_metrics::{IntervalStats, LatencyHistogram, Outcome, TaskTable};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

/// Requests in one second of one worker, the size of the merged table.
const PER_SECOND: usize = 2000;
/// Tasks of the recorded tables.
const TASKS: usize = 3;

/// A fixed LCG (Knuth's MMIX constants): every run records the same values.
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

    /// Log-uniform from 50 µs to 50 ms: median ≈ 1.6 ms, a long tail, and
    /// values spread over many HDR buckets as real replies are.
    fn latency(&mut self) -> Duration {
        Duration::from_micros((50.0 * 1000f64.powf(self.next())) as u64)
    }
}

/// One second of requests: a task, an outcome (94% ok, 5% refusals, 1%
/// timeouts) and a latency each.
fn requests(n: usize) -> Vec<(usize, Outcome, Duration)> {
    let mut lcg = Lcg(0x2545_F491_4F6C_DD1D);
    (0..n)
        .map(|_| {
            let task = (lcg.next() * TASKS as f64) as usize;
            let outcome = match (lcg.next() * 100.0) as u32 {
                0..94 => Outcome::Ok,
                94..97 => Outcome::RejectedExpected,
                97..99 => Outcome::RejectedBusiness,
                _ => Outcome::Timeout,
            };
            (task, outcome, lcg.latency())
        })
        .collect()
}

fn one_second() -> TaskTable {
    let mut t = TaskTable::new(TASKS);
    for (task, outcome, latency) in requests(PER_SECOND) {
        t.record(task, outcome, latency);
    }
    t
}

fn histogram(c: &mut Criterion) {
    let reqs = requests(PER_SECOND);
    let mut g = c.benchmark_group("histogram");
    g.throughput(Throughput::Elements(reqs.len() as u64));
    let mut h = LatencyHistogram::new();
    g.bench_function("record", |b| {
        b.iter(|| {
            for (_, _, latency) in &reqs {
                h.record(black_box(*latency));
            }
        })
    });
    let us: Vec<u64> = reqs.iter().map(|r| r.2.as_micros() as u64).collect();
    g.bench_function("record_us", |b| {
        b.iter(|| {
            for v in &us {
                h.record_us(black_box(*v));
            }
        })
    });
    black_box(h.count());
    g.finish();
}

fn task_table(c: &mut Criterion) {
    let reqs = requests(PER_SECOND);
    let mut g = c.benchmark_group("task_table");
    g.throughput(Throughput::Elements(reqs.len() as u64));
    // Steady state: every (task, outcome) histogram already exists.
    let mut t = one_second();
    g.bench_function("record", |b| {
        b.iter(|| {
            for (task, outcome, latency) in &reqs {
                t.record(*task, *outcome, black_box(*latency));
            }
        })
    });
    // What a worker does each second: `take` leaves an empty table, and the
    // first request of each (task, outcome) allocates its histogram again.
    g.bench_function("take_then_record_one_second", |b| {
        b.iter_batched_ref(
            one_second,
            |t| {
                let taken = t.take();
                for (task, outcome, latency) in &reqs {
                    t.record(*task, *outcome, black_box(*latency));
                }
                taken
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn interval(c: &mut Criterion) {
    let second = one_second();
    let mut g = c.benchmark_group("interval");
    // The aggregator's pending interval starts empty: the first worker's
    // table is cloned into it.
    g.bench_function("merge_into_empty", |b| {
        b.iter_batched_ref(
            TaskTable::default,
            |pending| pending.merge(black_box(&second)),
            BatchSize::LargeInput,
        )
    });
    // Then the closed interval joins the run total.
    let mut total = TaskTable::new(TASKS);
    for _ in 0..60 {
        total.merge(&second);
    }
    g.bench_function("merge_into_total", |b| {
        b.iter(|| total.merge(black_box(&second)))
    });
    g.bench_function("from_table", |b| {
        b.iter(|| IntervalStats::from_table(7, black_box(&second)))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = histogram, task_table, interval
}
criterion_main!(benches);

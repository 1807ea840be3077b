//! The processes watched during a run in the result: RSS and
//! CPU series per process, memory growth after warm-up, and the
//! `memory_growth` check (`advanced.memory_leak_detection`).

use cliffload_monitor::{Growth, NatsTraffic, ProcessSeries, Role, growth, warmup_for};
use serde::{Deserialize, Serialize};

use crate::result::RunResult;
use crate::verdict::Check;
use crate::warning::Warning;

/// What the monitor saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Monitor {
    /// Seconds between samples.
    pub interval_s: f64,
    /// One entry per watched process.
    pub processes: Vec<MonitoredProcess>,
    /// What nats-server's monitoring endpoint counted during the load
    /// (absent when it could not be read).
    #[serde(default)]
    pub nats: Option<NatsTraffic>,
}

/// One watched process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitoredProcess {
    /// The samples (`t` in seconds from the start of the load).
    #[serde(flatten)]
    pub series: ProcessSeries,
    /// Mean CPU over the load, percent of one core.
    pub mean_cpu_percent: Option<f64>,
    /// Memory growth after warm-up (absent when too few samples).
    pub growth: Option<Growth>,
}

impl MonitoredProcess {
    /// True for the service under test and the NATS server (not the generator).
    pub fn is_sut(&self) -> bool {
        self.series.role != Role::Generator
    }
}

/// Mean CPU of the generator process, per worker thread, above which a run
/// warns that the generator may have been the bottleneck.
const GENERATOR_BUSY_PERCENT: f64 = 85.0;

fn mean_cpu(s: &ProcessSeries) -> Option<f64> {
    let cpu: Vec<f64> = s
        .samples
        .iter()
        .filter(|x| x.t > 0.0)
        .filter_map(|x| x.cpu_percent)
        .collect();
    (!cpu.is_empty()).then(|| (cpu.iter().sum::<f64>() / cpu.len() as f64 * 10.0).round() / 10.0)
}

/// Adds the monitor's series to `r`; with `max_increase_mib` (memory leak
/// detection on), a `memory_growth` check on each process under test that has
/// enough samples after warm-up, or a warning saying why it was not judged.
pub fn apply(
    r: &mut RunResult,
    interval_s: f64,
    series: Vec<ProcessSeries>,
    nats: Option<NatsTraffic>,
    max_increase_mib: Option<f64>,
) {
    let warmup = warmup_for(r.duration_s);
    let processes = watched(series, warmup);
    r.warnings
        .extend(generator_busy(&processes, r.load.workers));
    r.warnings.extend(exited(&processes));
    if let Some(max) = max_increase_mib {
        match memory_growth(&processes, max, warmup) {
            Ok(check) => r.verdict.checks.push(check),
            Err(warning) => r.warnings.push(warning),
        }
    }
    r.warnings.extend(slow_consumers(nats.as_ref()));
    r.monitor = Some(Monitor {
        interval_s,
        processes,
        nats,
    });
}

/// Each series with its mean CPU and its memory growth after `warmup` seconds.
fn watched(series: Vec<ProcessSeries>, warmup: f64) -> Vec<MonitoredProcess> {
    series
        .into_iter()
        .map(|s| MonitoredProcess {
            mean_cpu_percent: mean_cpu(&s),
            growth: growth(&s.samples, warmup),
            series: s,
        })
        .collect()
}

/// A warning when the generator's own CPU was near a full core per worker
/// thread: then it was the bottleneck, not the service.
fn generator_busy(processes: &[MonitoredProcess], workers: usize) -> Option<Warning> {
    let workers = workers.max(1);
    let cpu_percent = processes
        .iter()
        .find(|p| p.series.role == Role::Generator)
        .and_then(|p| p.mean_cpu_percent)
        .filter(|cpu| *cpu >= GENERATOR_BUSY_PERCENT * workers as f64)?;
    Some(Warning::GeneratorBusy {
        cpu_percent,
        workers,
    })
}

/// A warning per process that exited during the run.
fn exited(processes: &[MonitoredProcess]) -> Vec<Warning> {
    processes
        .iter()
        .filter(|p| p.series.exited)
        .map(|p| Warning::ProcessExited {
            label: p.series.label.clone(),
            pid: p.series.pid,
        })
        .collect()
}

/// The `memory_growth` check on the process under test that grew most, or a
/// warning saying why memory growth was not judged.
fn memory_growth(processes: &[MonitoredProcess], max: f64, warmup: f64) -> Result<Check, Warning> {
    let sut: Vec<&MonitoredProcess> = processes.iter().filter(|p| p.is_sut()).collect();
    let judged: Vec<(&MonitoredProcess, Growth)> = sut
        .iter()
        .filter_map(|p| p.growth.map(|g| (*p, g)))
        .collect();
    let worst = judged
        .iter()
        .max_by(|a, b| a.1.growth_mib.total_cmp(&b.1.growth_mib))
        .map(|(p, g)| (p.series.label.clone(), *g));
    let Some((label, g)) = worst else {
        return Err(if sut.is_empty() {
            Warning::MemoryNoService
        } else {
            Warning::MemoryTooFewSamples { warmup_s: warmup }
        });
    };
    let passed = g.growth_mib <= max;
    Ok(Check::new(
        "memory_growth",
        passed,
        format!("≤ {max} MiB after a {warmup:.0} s warm-up"),
        // The judged figure is the trend (a line fitted to the
        // samples), not last minus first: say which is which.
        format!(
            "{label}: trend {:+.1} MiB ({:+.2} MiB/min, fitted to {} samples); RSS first {:.1}, last {:.1}, peak {:.1} MiB",
            g.growth_mib, g.slope_mib_per_min, g.samples, g.start_mib, g.end_mib, g.peak_mib
        ),
    ))
}

/// A warning when nats-server counted slow consumers during the load.
fn slow_consumers(nats: Option<&NatsTraffic>) -> Option<Warning> {
    let t = nats.filter(|t| t.slow_consumers > 0)?;
    Some(Warning::SlowConsumers {
        count: t.slow_consumers,
        url: t.url.clone(),
    })
}

/// One line per process: `label: RSS start → end MiB (peak, slope) · CPU mean`,
/// and one for nats-server's own counters.
pub fn lines(m: &Monitor) -> Vec<String> {
    let nats = m.nats.iter().map(|t| {
        format!(
            "nats-server counters: {} messages in, {} out, {:.1} MB in, {:.1} MB out, {} slow consumer(s)",
            t.in_msgs,
            t.out_msgs,
            t.in_bytes as f64 / 1e6,
            t.out_bytes as f64 / 1e6,
            t.slow_consumers
        )
    });
    m.processes
        .iter()
        .map(|p| {
            // A process that exited has no memory: its last figure is the
            // last sample taken while it ran.
            let last = p
                .series
                .samples
                .iter()
                .rev()
                .find(|s| s.rss_bytes > 0)
                .map(|s| s.rss_bytes as f64 / 1_048_576.0);
            let memory = match (&p.growth, last) {
                (Some(g), _) => format!(
                    "RSS {:.1} → {:.1} MiB (peak {:.1}, {:+.2} MiB/min after {:.0} s)",
                    g.start_mib, g.end_mib, g.peak_mib, g.slope_mib_per_min, g.warmup_s
                ),
                (None, Some(mib)) => format!("RSS {mib:.1} MiB"),
                (None, None) => "no sample".to_owned(),
            };
            let cpu = p
                .mean_cpu_percent
                .map_or(String::new(), |c| format!(" · CPU {c:.0}%"));
            format!("{} (pid {}): {memory}{cpu}", p.series.label, p.series.pid)
        })
        .chain(nats)
        .collect()
}

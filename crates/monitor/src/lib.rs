//! Watching the processes of a run: the generator itself, the
//! services under test and nats-server, sampled for resident memory and CPU
//! on a timer by [`Sampler`], and judged for memory growth by [`growth`].
//!
//! The sampler is synchronous (a few `/proc` reads per process, through
//! sysinfo); the caller drives it from a timer. CPU is computed from the
//! process's accumulated CPU time between two samples, so a sample's
//! `cpu_percent` is exact for its interval (100 = one core busy).
//! [`MonitorError`] says why the processes cannot be watched at all.

use std::time::Instant;

use serde::{Deserialize, Serialize};
use sysinfo::{Pid, ProcessRefreshKind, ProcessStatus, ProcessesToUpdate, System};

/// This process's resident memory (bytes) and the CPU time it has used
/// since it started (`None` where it cannot be read).
pub fn own_usage() -> Option<(u64, std::time::Duration)> {
    let pid = sysinfo::get_current_pid().ok()?;
    let mut system = System::new().ok()?;
    system.refresh_processes_specifics(
        ProcessesToUpdate::Some(&[pid]),
        true,
        ProcessRefreshKind::nothing().with_memory().with_cpu(),
    );
    let p = system.process(pid)?;
    Some((
        p.memory(),
        std::time::Duration::from_millis(p.accumulated_cpu_time()),
    ))
}

/// What a watched process is to the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// cliffload itself: the load generator.
    Generator,
    /// A service under test (the reference services cliffload started, or `--monitor-pid`).
    Service,
    /// The NATS server.
    NatsServer,
}

/// A process to watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watched {
    /// Shown in reports (`order_processing_service + test`, `nats-server`, …).
    pub label: String,
    /// What it is to the run.
    pub role: Role,
    /// Its process id.
    pub pid: u32,
}

/// One sample of one process.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Seconds since the origin (the start of the load; negative before it).
    pub t: f64,
    /// Resident set size, bytes.
    pub rss_bytes: u64,
    /// CPU since the previous sample, percent of one core (absent on the first sample).
    pub cpu_percent: Option<f64>,
}

/// The samples of one process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessSeries {
    /// Shown in reports.
    pub label: String,
    /// What it is to the run.
    pub role: Role,
    /// Its process id.
    pub pid: u32,
    /// True when the process went away during the run.
    pub exited: bool,
    /// In time order.
    pub samples: Vec<Sample>,
}

/// Why the processes of a run cannot be watched.
///
/// sysinfo's error is quoted in the message, not returned by `source()`,
/// so the CLI's `{:#}` prints it once.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    /// The platform's process information cannot be read (no `/proc`, say).
    #[error("cannot read process information: {0}")]
    ProcessInfo(sysinfo::Error),
}

/// Samples the watched processes whenever [`Sampler::sample`] is called.
#[derive(Debug)]
pub struct Sampler {
    system: System,
    origin: Instant,
    pids: Vec<Pid>,
    last_cpu: Vec<Option<(Instant, u64)>>,
    series: Vec<ProcessSeries>,
}

impl Sampler {
    /// Watches `watched`; times are measured from `origin`.
    ///
    /// # Errors
    /// When the platform's process information cannot be read.
    pub fn new(watched: Vec<Watched>, origin: Instant) -> Result<Self, MonitorError> {
        let system = System::new().map_err(MonitorError::ProcessInfo)?;
        Ok(Self {
            system,
            origin,
            pids: watched.iter().map(|w| Pid::from_u32(w.pid)).collect(),
            last_cpu: vec![None; watched.len()],
            series: watched
                .into_iter()
                .map(|w| ProcessSeries {
                    label: w.label,
                    role: w.role,
                    pid: w.pid,
                    exited: false,
                    samples: Vec::new(),
                })
                .collect(),
        })
    }

    /// Moves the origin (e.g. to the moment the load actually started).
    pub fn set_origin(&mut self, origin: Instant) {
        let shift = if origin >= self.origin {
            -(origin - self.origin).as_secs_f64()
        } else {
            (self.origin - origin).as_secs_f64()
        };
        for s in &mut self.series {
            for sample in &mut s.samples {
                sample.t += shift;
            }
        }
        self.origin = origin;
    }

    /// Takes one sample of every process still alive.
    pub fn sample(&mut self) {
        let now = Instant::now();
        self.system.refresh_processes_specifics(
            ProcessesToUpdate::Some(&self.pids),
            true,
            ProcessRefreshKind::nothing().with_memory().with_cpu(),
        );
        let t = if now >= self.origin {
            (now - self.origin).as_secs_f64()
        } else {
            -(self.origin - now).as_secs_f64()
        };
        for (i, pid) in self.pids.iter().enumerate() {
            let series = &mut self.series[i];
            // A child that was killed but not yet reaped is still listed,
            // as a zombie with no memory: it has exited too (drawing it at
            // 0 MiB would read as a huge drop and skew memory_growth).
            let Some(p) = self
                .system
                .process(*pid)
                .filter(|p| !matches!(p.status(), ProcessStatus::Zombie | ProcessStatus::Dead))
                .filter(|p| p.memory() > 0 || series.samples.is_empty())
            else {
                series.exited = true;
                continue;
            };
            let cpu_ms = p.accumulated_cpu_time();
            // CPU time advances in 10 ms ticks: over a short interval (the
            // sample right after the load ends) one tick would read as a
            // spike. Such a sample has no CPU figure; the next one covers
            // the whole span since the last figure.
            let cpu_percent = match self.last_cpu[i] {
                Some((then, before)) if (now - then) >= MIN_CPU_SPAN => {
                    let wall = (now - then).as_secs_f64();
                    self.last_cpu[i] = Some((now, cpu_ms));
                    Some(cpu_ms.saturating_sub(before) as f64 / 10.0 / wall)
                }
                Some(_) => None,
                None => {
                    self.last_cpu[i] = Some((now, cpu_ms));
                    None
                }
            };
            series.samples.push(Sample {
                t,
                rss_bytes: p.memory(),
                cpu_percent,
            });
        }
    }

    /// The samples so far.
    pub fn series(&self) -> &[ProcessSeries] {
        &self.series
    }

    /// The samples, ending the watch.
    pub fn finish(self) -> Vec<ProcessSeries> {
        self.series
    }
}

/// The counters of nats-server's monitoring endpoint (`/varz`) a run reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub struct Varz {
    /// Messages received from clients.
    pub in_msgs: u64,
    /// Messages sent to clients.
    pub out_msgs: u64,
    /// Bytes received.
    pub in_bytes: u64,
    /// Bytes sent.
    pub out_bytes: u64,
    /// Clients the server cut off (or dropped messages for) because they
    /// did not read fast enough.
    pub slow_consumers: u64,
}

impl Varz {
    /// Reads `/varz` of the monitoring endpoint at `base` (`http://HOST:PORT`):
    /// one request, 2 s at most. The error says how to point cliffload at it.
    pub async fn read(base: &str) -> Result<Varz, String> {
        let url = format!("{}/varz", base.trim_end_matches('/'));
        let fail = |e: String| {
            format!(
                "no nats-server counters: cannot read {url} ({e}); set environment.nats_monitoring_url to the server's monitoring address (nats-server -m PORT)"
            )
        };
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(2))
            .build()
            .map_err(|e| fail(e.to_string()))?;
        let response = client
            .get(&url)
            .send()
            .await
            .map_err(|e| fail(e.to_string()))?;
        response
            .json::<Varz>()
            .await
            .map_err(|e| fail(e.to_string()))
    }
}

/// What nats-server did during the load: two `/varz` readings apart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NatsTraffic {
    /// The monitoring URL read.
    pub url: String,
    /// Messages received from clients (requests and replies).
    pub in_msgs: u64,
    /// Messages delivered to clients.
    pub out_msgs: u64,
    /// Bytes received.
    pub in_bytes: u64,
    /// Bytes delivered.
    pub out_bytes: u64,
    /// New slow consumers: a server dropping messages for clients that lag.
    pub slow_consumers: u64,
}

impl NatsTraffic {
    /// The counters' growth from `before` to `after` (a restarted server,
    /// whose counters went back, counts from zero).
    pub fn between(url: &str, before: &Varz, after: &Varz) -> Self {
        let d = |a: u64, b: u64| if a >= b { a - b } else { a };
        Self {
            url: url.to_owned(),
            in_msgs: d(after.in_msgs, before.in_msgs),
            out_msgs: d(after.out_msgs, before.out_msgs),
            in_bytes: d(after.in_bytes, before.in_bytes),
            out_bytes: d(after.out_bytes, before.out_bytes),
            slow_consumers: d(after.slow_consumers, before.slow_consumers),
        }
    }
}

/// Memory growth of one process after warm-up.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Growth {
    /// Seconds skipped at the start (allocator pools, caches, connection buffers fill).
    pub warmup_s: f64,
    /// RSS at the first sample after warm-up, MiB.
    pub start_mib: f64,
    /// RSS at the last sample, MiB.
    pub end_mib: f64,
    /// Highest RSS of the run, MiB.
    pub peak_mib: f64,
    /// Least-squares slope of RSS after warm-up, MiB per minute.
    pub slope_mib_per_min: f64,
    /// Rise of that line over the post-warm-up span, MiB: the growth judged
    /// (one spike or one collection does not move it much, a steady leak does).
    pub growth_mib: f64,
    /// Samples the line was fitted to.
    pub samples: usize,
}

const MIB: f64 = 1024.0 * 1024.0;

/// The shortest span a CPU figure is computed over.
const MIN_CPU_SPAN: std::time::Duration = std::time::Duration::from_millis(500);

/// Growth of `samples` after skipping the first `warmup_s` seconds of load
/// (samples before the load, `t < 0`, are skipped too); `None` with fewer
/// than 3 samples left to fit.
pub fn growth(samples: &[Sample], warmup_s: f64) -> Option<Growth> {
    let after: Vec<(f64, f64)> = samples
        .iter()
        .filter(|s| s.t >= warmup_s)
        .map(|s| (s.t, s.rss_bytes as f64 / MIB))
        .collect();
    if after.len() < 3 {
        return None;
    }
    let n = after.len() as f64;
    let mean_t = after.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_m = after.iter().map(|p| p.1).sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (t, m) in &after {
        sxy += (t - mean_t) * (m - mean_m);
        sxx += (t - mean_t) * (t - mean_t);
    }
    let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    let span = after[after.len() - 1].0 - after[0].0;
    Some(Growth {
        warmup_s,
        start_mib: after[0].1,
        end_mib: after[after.len() - 1].1,
        peak_mib: samples
            .iter()
            .map(|s| s.rss_bytes as f64 / MIB)
            .fold(0.0, f64::max),
        slope_mib_per_min: slope * 60.0,
        growth_mib: slope * span,
        samples: after.len(),
    })
}

/// The warm-up the growth check skips for a run of `duration_s`: a tenth of
/// it, at least 5 s and at most 60 s.
pub fn warmup_for(duration_s: f64) -> f64 {
    (duration_s / 10.0).clamp(5.0, 60.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_usage_reads_this_process() {
        let (rss, cpu) = own_usage().expect("readable on Linux");
        assert!(rss > 1 << 20, "{rss}");
        let busy = std::time::Instant::now();
        let mut x = 0u64;
        while busy.elapsed() < std::time::Duration::from_millis(50) {
            x = x.wrapping_add(std::hint::black_box(1));
        }
        let (_, later) = own_usage().expect("readable");
        assert!(later > cpu && x > 0, "{cpu:?} then {later:?}");
    }

    #[test]
    fn unreadable_process_information_reads_as_before() {
        let e = MonitorError::ProcessInfo(sysinfo::Error::Unsupported);
        assert_eq!(
            e.to_string(),
            "cannot read process information: unsupported"
        );
        assert!(std::error::Error::source(&e).is_none());
    }

    fn series(f: impl Fn(f64) -> f64) -> Vec<Sample> {
        (0..120)
            .map(|i| {
                let t = f64::from(i);
                Sample {
                    t,
                    rss_bytes: (f(t) * MIB) as u64,
                    cpu_percent: None,
                }
            })
            .collect()
    }

    #[test]
    fn a_steady_leak_is_its_slope_times_the_span() {
        // 100 MiB + 0.5 MiB/s, after a 10 s warm-up: 109.5 s of samples.
        let g = growth(&series(|t| 100.0 + 0.5 * t), 10.0).expect("enough samples");
        assert!((g.slope_mib_per_min - 30.0).abs() < 0.01, "{g:?}");
        assert!((g.growth_mib - 54.5).abs() < 0.05, "{g:?}");
        assert!((g.start_mib - 105.0).abs() < 0.01);
        assert!((g.end_mib - 159.5).abs() < 0.01);
    }

    #[test]
    fn warm_up_growth_and_a_single_spike_are_not_a_leak() {
        // Fills to 200 MiB in the first 8 s, then flat with one 60 MiB spike.
        let g = growth(
            &series(|t| {
                if t < 8.0 {
                    25.0 * t
                } else if (t - 70.0).abs() < 0.5 {
                    260.0
                } else {
                    200.0
                }
            }),
            10.0,
        )
        .expect("enough samples");
        assert!(g.growth_mib.abs() < 1.5, "{g:?}");
        assert!((g.peak_mib - 260.0).abs() < 0.01);
    }

    #[test]
    fn traffic_is_the_growth_of_the_counters() {
        let before = Varz {
            in_msgs: 100,
            out_msgs: 90,
            in_bytes: 1000,
            out_bytes: 900,
            slow_consumers: 1,
        };
        let after = Varz {
            in_msgs: 350,
            out_msgs: 340,
            in_bytes: 5000,
            out_bytes: 4000,
            slow_consumers: 3,
        };
        let t = NatsTraffic::between("u", &before, &after);
        assert_eq!(
            (
                t.in_msgs,
                t.out_msgs,
                t.in_bytes,
                t.out_bytes,
                t.slow_consumers
            ),
            (250, 250, 4000, 3100, 2)
        );
        // A restarted server's counters start again from zero.
        let restarted = NatsTraffic::between("u", &after, &before);
        assert_eq!(restarted.in_msgs, 100);
    }

    #[test]
    fn too_few_samples_after_warm_up_are_not_judged() {
        assert!(growth(&series(|_| 1.0)[..12], 10.0).is_none());
        assert_eq!(warmup_for(30.0), 5.0);
        assert_eq!(warmup_for(300.0), 30.0);
        assert_eq!(warmup_for(3600.0), 60.0);
    }

    #[test]
    fn samples_this_process_and_notices_an_exit() {
        let origin = Instant::now();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("sleep runs");
        let mut sampler = Sampler::new(
            vec![
                Watched {
                    label: "me".into(),
                    role: Role::Generator,
                    pid: std::process::id(),
                },
                Watched {
                    label: "sleep".into(),
                    role: Role::Service,
                    pid: child.id(),
                },
            ],
            origin,
        )
        .expect("sampler");
        sampler.sample();
        // Burn some CPU so the second sample has something to measure.
        let busy = Instant::now();
        let mut x = 0u64;
        while busy.elapsed().as_millis() < 600 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        sampler.sample();
        // Right after: too short a span for a CPU figure.
        sampler.sample();
        // Killed, not yet reaped: a zombie, which has exited all the same.
        child.kill().expect("kill");
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        while !sampler.series()[1].exited && Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
            sampler.sample();
        }
        assert!(sampler.series()[1].exited, "a zombie is an exited process");
        assert!(
            sampler.series()[1].samples.iter().all(|s| s.rss_bytes > 0),
            "no 0 MiB sample for a dead process: {:?}",
            sampler.series()[1].samples
        );
        let at_exit = sampler.series()[1].samples.len();
        child.wait().expect("reaped");
        sampler.sample();
        let s = sampler.finish();
        assert!(s[0].samples.len() >= 4);
        assert!(s[0].samples[0].rss_bytes > 1 << 20, "{:?}", s[0].samples);
        assert!(s[0].samples[0].cpu_percent.is_none());
        let cpu = s[0].samples[1].cpu_percent.expect("second sample has CPU");
        assert!(cpu > 20.0, "busy loop measured at {cpu}%");
        assert!(s[0].samples[2].cpu_percent.is_none(), "{:?}", s[0].samples);
        assert!(!s[0].exited);
        assert!(at_exit >= 3, "{:?}", s[1].samples);
        assert_eq!(s[1].samples.len(), at_exit, "no sample after the exit");
        assert!(s[1].exited);
    }
}

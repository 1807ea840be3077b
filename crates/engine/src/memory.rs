//! Whether a plan fits in memory, checked before anything starts: the
//! users that run at once and the tasks' latency histograms, from measured
//! sizes, against the memory available.

use cliffload_scenario::Scenario;

/// Memory one running virtual user takes that never waits, so always has
/// a request in flight (measured: 2.8 KiB, release, `scripts/bench` part 3).
const BUSY_USER_BYTES: u64 = 3 * 1024;
/// The same for a user with think time or pacing, whose request lives in a
/// box only while in flight (measured: 0.87 KiB).
const THINKING_USER_BYTES: u64 = 1024;

/// Memory one task takes (measured, issue 26: 5,000 tasks with 8 users
/// took 2.57 GB; release build, 8 users, peak RSS: 1 task 19 MB, 1,000
/// tasks 543 MB, 2,000 tasks 1,079 MB, and 500 tasks the same over 3, 8
/// and 16 s). A task keeps an HDR
/// histogram (1 µs–60 s at 3 digits, 136 KiB) per outcome it sees, in each
/// worker's table of the second, in the table in flight to the merger, and
/// in the run's totals and last second: about four, whatever the users.
const TASK_BYTES: u64 = 512 * 1024;

/// What each user of `s` takes: the heavier figure if any class never waits.
fn bytes_per_user(s: &Scenario) -> u64 {
    if s.classes.iter().any(|c| c.wait_time.is_none()) {
        BUSY_USER_BYTES
    } else {
        THINKING_USER_BYTES
    }
}

/// The most users that run at once: the spawn rate over the duration caps
/// them, as do the stages.
fn peak_users(s: &Scenario) -> u64 {
    if s.arrival.is_some() {
        return 0;
    }
    let planned = s.planned_peak_users();
    let spawnable = (s.spawn_rate * s.duration.as_secs_f64()).ceil();
    u64::from(planned).min(
        if spawnable.is_finite() {
            spawnable as u64
        } else {
            u64::MAX
        }
        .max(1),
    )
}

/// What a generator process takes beside its users and tasks: the binary,
/// the runtime, the connection, the payload pools (measured: 19 MB peak RSS
/// for one task and 8 users, release; rounded up for the pools of larger
/// payloads).
const PROCESS_BYTES: u64 = 48 << 20;

/// The memory one generator process needs for its share of `s` when
/// `processes` share the load (a worker pod's memory request): its users
/// (in the open model, the most requests in flight), its tasks'
/// histograms and the process itself.
pub fn process_bytes(s: &Scenario, processes: u32) -> u64 {
    let load = match &s.arrival {
        Some(a) => u64::from(a.max_in_flight.get()).saturating_mul(BUSY_USER_BYTES),
        None => peak_users(s).saturating_mul(bytes_per_user(s)),
    };
    let share = load.div_ceil(u64::from(processes.max(1)));
    PROCESS_BYTES + share + tasks_bytes(s)
}

/// The memory the process that merges `s`'s results needs (a distributed
/// run's coordinator): the tasks' histograms twice over (the totals and a
/// second's table in flight from each worker, merged as it comes) and the
/// process itself.
pub fn merger_bytes(s: &Scenario) -> u64 {
    PROCESS_BYTES + tasks_bytes(s).saturating_mul(2)
}

fn tasks_bytes(s: &Scenario) -> u64 {
    (s.tasks.len() as u64).saturating_mul(TASK_BYTES)
}

/// `MemAvailable` of /proc/meminfo, in bytes (`None` where it cannot be read).
pub fn available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Refuses, before anything starts, a plan whose users and tasks cannot
/// fit in memory.
pub fn check(s: &Scenario, available: Option<u64>) -> Result<(), String> {
    let Some(available) = available else {
        return Ok(());
    };
    let gib = |bytes: u64| bytes as f64 / f64::from(1u32 << 30);
    let users = peak_users(s);
    let each = bytes_per_user(s);
    let for_users = users.saturating_mul(each);
    let tasks = s.tasks.len() as u64;
    let for_tasks = tasks.saturating_mul(TASK_BYTES);
    let needed = for_users.saturating_add(for_tasks);
    if needed <= available / 10 * 8 {
        return Ok(());
    }
    if for_tasks >= for_users {
        return Err(format!(
            "{tasks} tasks need about {:.1} GiB ({} KiB each, for their latency histograms) and {users} users {:.1} GiB more, but {:.1} GiB of memory is available: split the tasks over several scenarios (a suite runs them in turn), or run where there is more memory",
            gib(for_tasks),
            TASK_BYTES / 1024,
            gib(for_users),
            gib(available)
        ));
    }
    Err(format!(
        "{users} users running at once need about {:.1} GiB ({} KiB each), but {:.1} GiB of memory is available: lower --users or --spawn-rate, or use the open model (--rate) which holds only the requests in flight",
        gib(needed),
        each / 1024,
        gib(available)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::num::NonZeroU32;

    fn scenario(users: u32, spawn_rate: f64, secs: u64) -> Scenario {
        let mut s = cliffload_scenario::catalog::builtin()
            .get("ping")
            .expect("ping")
            .clone();
        s.users = NonZeroU32::new(users).expect("users");
        s.spawn_rate = spawn_rate;
        s.duration = std::time::Duration::from_secs(secs);
        s
    }

    #[test]
    fn a_process_needs_its_share_of_the_users_and_every_task() {
        let (kib, mib) = (1024, 1 << 20);
        let users = scenario(100_000, 1e6, 60);
        // ping never waits: 3 KiB a user, 3 tasks of 0.5 MiB, 48 MiB besides.
        let tasks = 3 * 512 * kib;
        assert_eq!(
            process_bytes(&users, 1),
            48 * mib + 100_000 * 3 * kib + tasks
        );
        assert_eq!(
            process_bytes(&users, 4),
            48 * mib + 25_000 * 3 * kib + tasks
        );
        // Users that never start (10 in 10 s) take nothing.
        let slow = scenario(100_000, 1.0, 10);
        assert_eq!(process_bytes(&slow, 1), 48 * mib + 10 * 3 * kib + tasks);
        assert_eq!(merger_bytes(&users), 48 * mib + 2 * tasks);
    }

    #[test]
    fn users_that_cannot_fit_in_memory_are_refused_with_the_figures() {
        let gib = 1u64 << 30;
        // 10 million users started at once: ~19 GiB, with 16 GiB available.
        let e = check(&scenario(10_000_000, 1e9, 60), Some(16 * gib)).expect_err("refused");
        assert!(e.contains("10000000 users") && e.contains("GiB"), "{e}");
        // The same users at 100/s for a minute: only 6000 ever run.
        assert_eq!(peak_users(&scenario(10_000_000, 100.0, 60)), 6000);
        assert!(check(&scenario(10_000_000, 100.0, 60), Some(16 * gib)).is_ok());
        assert!(check(&scenario(4, 4.0, 10), Some(gib)).is_ok());
        assert!(check(&scenario(10_000_000, 1e9, 60), None).is_ok());
        // Users that think take a third as much: 10 million fit in 16 GiB.
        let mut thinking = scenario(10_000_000, 1e9, 60);
        for c in &mut thinking.classes {
            c.wait_time = cliffload_scenario::WaitTime::Between(
                std::time::Duration::from_secs(1),
                std::time::Duration::from_secs(2),
            );
        }
        assert_eq!(bytes_per_user(&thinking), THINKING_USER_BYTES);
        assert!(check(&thinking, Some(16 * gib)).is_ok());
    }

    #[test]
    fn tasks_that_cannot_fit_in_memory_are_refused_with_the_figures() {
        // Issue 26: 16,000 tasks (what a scenario file can hold) with 8 users
        // take about 8 GiB, whatever the users.
        let gib = 1u64 << 30;
        let mut many = scenario(8, 8.0, 10);
        let task = many.tasks[0].clone();
        many.tasks = vec![task; 16_000];
        let e = check(&many, Some(4 * gib)).expect_err("refused");
        assert!(
            e.contains("16000 tasks need about 7.8 GiB (512 KiB each")
                && e.contains("4.0 GiB of memory is available")
                && e.contains("split the tasks"),
            "{e}"
        );
        assert!(check(&many, Some(16 * gib)).is_ok());
        many.tasks.truncate(1_000);
        assert!(check(&many, Some(4 * gib)).is_ok());
    }
}

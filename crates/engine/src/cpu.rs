//! CPU time of the calling thread, so the generator can report what it cost
//! (the generator watches itself).

use std::time::Duration;

/// On-CPU time of the calling thread, from `/proc/thread-self/schedstat`
/// (nanoseconds). `None` where that file does not exist (non-Linux).
pub fn thread_cpu_time() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_with_work_on_linux() {
        // On Linux the figure must be there: a missing /proc fails the test
        // rather than passing it silently (elsewhere there is nothing to test).
        let before = thread_cpu_time();
        if cfg!(not(target_os = "linux")) {
            return;
        }
        let before = before.expect(
            "no /proc/thread-self/schedstat on Linux: the generator's CPU would be unknown",
        );
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        let after = thread_cpu_time().expect("still readable");
        assert!(after > before);
    }
}

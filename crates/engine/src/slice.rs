//! [`Slice`]: which part of a run this process generates, when several
//! processes (distributed generation) share one plan.
//!
//! The plan numbers its users (closed model) and its arrivals (open model)
//! for the whole run; a process takes every `of`th number from `index`, and
//! its worker threads split that again the same way. So the processes'
//! users are the single-machine users (same classes, same start times, same
//! stages), their arrival schedules add up to the single-machine schedule,
//! and shares of counts (the request budget, the in-flight cap) add up to
//! the whole. A single process is `Slice::WHOLE`.

/// This process's part of the run: numbers `index`, `index + of`, …
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slice {
    /// This process's position, from 0.
    pub index: u32,
    /// How many processes share the run (at least 1).
    pub of: u32,
}

impl Default for Slice {
    fn default() -> Self {
        Self::WHOLE
    }
}

impl Slice {
    /// The whole run, in one process.
    pub const WHOLE: Self = Self { index: 0, of: 1 };

    /// Process `index` of `of`; `None` unless `index < of`.
    pub fn new(index: u32, of: u32) -> Option<Self> {
        (index < of).then_some(Self { index, of })
    }

    /// The slot of worker thread `worker` of `workers` in this process: the
    /// numbers `offset`, `offset + stride`, … of the whole run.
    pub fn slot(self, worker: usize, workers: usize) -> Slot {
        let of = u64::from(self.of.max(1));
        Slot {
            offset: u64::from(self.index) + of * worker as u64,
            stride: of * workers.max(1) as u64,
        }
    }

    /// This process's share of `total` (users, requests, in-flight slots),
    /// split as evenly as whole numbers allow: the shares of all processes
    /// add up to `total`.
    pub fn share(self, total: u64) -> u64 {
        Slot {
            offset: u64::from(self.index),
            stride: u64::from(self.of.max(1)),
        }
        .share(total)
    }
}

/// One worker thread's numbers in the whole run: `offset`, `offset + stride`, …
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// Its first number.
    pub offset: u64,
    /// The distance between its numbers (all threads of all processes).
    pub stride: u64,
}

impl Slot {
    /// This slot's share of `total`: `total / stride`, one more for the
    /// first `total % stride` slots, so all slots' shares add up to `total`.
    pub fn share(self, total: u64) -> u64 {
        let stride = self.stride.max(1);
        total / stride + u64::from(self.offset < total % stride)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slots_of_all_processes_and_threads_cover_every_number_once() {
        for of in 1..=7u32 {
            for workers in 1..=3usize {
                let mut seen = vec![0u32; 200];
                for index in 0..of {
                    let slice = Slice::new(index, of).expect("index < of");
                    for w in 0..workers {
                        let s = slice.slot(w, workers);
                        for n in (s.offset..200).step_by(s.stride as usize) {
                            seen[n as usize] += 1;
                        }
                    }
                }
                assert!(seen.iter().all(|c| *c == 1), "{of} × {workers}: {seen:?}");
            }
        }
    }

    #[test]
    fn shares_add_up_to_the_total() {
        for of in 1..=64u32 {
            for total in [0u64, 1, 5, 63, 64, 65, 1000, 999_999] {
                let sum: u64 = (0..of).map(|i| Slice { index: i, of }.share(total)).sum();
                assert_eq!(sum, total, "{total} over {of}");
            }
        }
        assert_eq!(Slice::new(3, 3), None);
    }
}

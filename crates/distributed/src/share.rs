//! Each worker's share of a plan: a pure function of the plan and the
//! worker's position.
//!
//! The plan numbers its users and arrivals for the whole run; worker `k` of
//! `n` takes the numbers `k, k + n, …` ([`Slice`]), so between them the
//! workers run exactly the single-machine users (each class keeps its
//! weight, each user its start time and stage) and the single-machine
//! arrival schedule, and counts (`max_requests`, `max_in_flight`) split so
//! they add up. Each worker gets its own seed, so the payloads it generates
//! (and their ids) differ from every other worker's; worker 0 keeps the
//! scenario's, so a one-worker run is the single-machine run.

use cliffload_engine::Slice;
use cliffload_scenario::Scenario;

/// What worker `index` of `of` runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Share {
    /// Its numbers of the plan.
    pub slice: Slice,
    /// The scenario with its own seed.
    pub scenario: Scenario,
}

/// Worker `index` of `of`'s share of `scenario`; `None` unless `index < of`.
pub fn share(scenario: &Scenario, index: u32, of: u32) -> Option<Share> {
    let slice = Slice::new(index, of)?;
    let mut scenario = scenario.clone();
    scenario.seed = seed_of(scenario.seed, index);
    Some(Share { slice, scenario })
}

/// Worker `index`'s seed: the scenario's for worker 0, else a SplitMix64
/// step away from it (distinct for every index, and unlike `seed + index`,
/// unrelated to the seeds of neighbouring runs).
pub fn seed_of(seed: u64, index: u32) -> u64 {
    if index == 0 {
        return seed;
    }
    let mut z = seed ^ u64::from(index).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use proptest::prelude::*;

    use super::*;

    fn ping() -> Scenario {
        cliffload_scenario::catalog::builtin()
            .get("ping")
            .expect("ping")
            .clone()
    }

    proptest! {
        /// Users, the request budget and the in-flight cap add up over any
        /// number of workers from 1 to 64, and every user is run once.
        #[test]
        fn shares_are_conserved(
            of in 1u32..=64,
            users in 1u64..5000,
            budget in 0u64..1_000_000,
            in_flight in 1u64..10_000,
            threads in 1usize..4,
        ) {
            let shares: Vec<Share> = (0..of).map(|k| share(&ping(), k, of).expect("k < of")).collect();
            let sum = |total: u64| shares.iter().map(|s| s.slice.share(total)).sum::<u64>();
            prop_assert_eq!(sum(users), users);
            prop_assert_eq!(sum(budget), budget);
            prop_assert_eq!(sum(in_flight), in_flight);
            let mut seen = vec![0u8; users as usize];
            for s in &shares {
                for t in 0..threads {
                    let slot = s.slice.slot(t, threads);
                    for u in (slot.offset..users).step_by(slot.stride as usize) {
                        seen[u as usize] += 1;
                    }
                }
            }
            prop_assert!(seen.iter().all(|c| *c == 1));
        }

        /// Every worker has its own seed; worker 0 keeps the scenario's.
        #[test]
        fn seeds_differ(seed in any::<u64>(), of in 1u32..=64) {
            let seeds: HashSet<u64> = (0..of).map(|k| seed_of(seed, k)).collect();
            prop_assert_eq!(seeds.len(), of as usize);
            prop_assert_eq!(seed_of(seed, 0), seed);
        }
    }

    #[test]
    fn a_position_past_the_end_has_no_share() {
        assert!(share(&ping(), 3, 3).is_none());
        let one = share(&ping(), 0, 1).expect("0 of 1");
        assert_eq!(
            one.scenario,
            ping(),
            "one worker runs the scenario as it is"
        );
    }
}

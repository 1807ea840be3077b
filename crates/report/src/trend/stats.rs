//! The statistics of a series of runs: median and spread, and the change
//! point (Pettitt's rank statistic with a permutation p-value).

use rand::SeedableRng;
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;

/// Shuffles for a change point's p-value: a p-value of 0.01 is told apart
/// from 0.02 (its standard error at 0.01 is about 0.002).
pub const PERMUTATIONS: usize = 2000;

/// The median of `xs` (0 when empty).
pub fn median(xs: &[f64]) -> f64 {
    let mut v: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The spread of `xs` as a standard deviation, robustly: 1.4826 × the
/// median absolute deviation (equal to σ for normal data, and one slow
/// outlier in the history does not widen it).
pub fn robust_sd(xs: &[f64]) -> f64 {
    let m = median(xs);
    let dev: Vec<f64> = xs.iter().map(|x| (x - m).abs()).collect();
    1.4826 * median(&dev)
}

/// Mid-ranks of `xs` (1-based; ties share their mean rank).
fn ranks(xs: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..xs.len()).collect();
    order.sort_by(|&a, &b| xs[a].total_cmp(&xs[b]));
    let mut out = vec![0.0; xs.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && xs[order[j + 1]] == xs[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            out[k] = rank;
        }
        i = j + 1;
    }
    out
}

/// Points a segment needs on each side of a split: one run alone at
/// either end (a busy night) is never a step.
const MIN_SEGMENT: usize = 2;

/// The maximally selected rank statistic of ranks `r`: for each split t
/// (points before it), Pettitt's U_t = 2·Σ_{i≤t} r_i − t(n+1) divided by
/// its standard deviation with no change, √(t(n−t)(n+1)/3); the largest
/// |U_t|/σ_t and its split. Standardised so a step near the end (where a
/// team wants to see it soon) counts as much as one in the middle.
fn max_rank_z(r: &[f64]) -> (f64, usize) {
    let n = r.len();
    let nf = n as f64;
    let mut sum = 0.0;
    let mut best = (0.0, 0);
    for (i, x) in r.iter().enumerate() {
        sum += x;
        let t = i + 1;
        if t < MIN_SEGMENT || n - t < MIN_SEGMENT {
            continue;
        }
        let tf = t as f64;
        let z = (2.0 * sum - tf * (nf + 1.0)).abs() / (tf * (nf - tf) * (nf + 1.0) / 3.0).sqrt();
        if z > best.0 {
            best = (z, t);
        }
    }
    best
}

/// A step in a series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    /// Points before the step (the first point after it is `at`).
    pub at: usize,
    /// The median before and after.
    pub before: f64,
    /// The median from `at` on.
    pub after: f64,
    /// The probability of a split at least this clear in the same values
    /// in a random order.
    pub p_value: f64,
}

/// The most likely single step in `xs` and how likely chance made it: the
/// maximally selected rank statistic (`max_rank_z`: Pettitt's, each split
/// standardised), whose p-value is found by shuffling the series
/// [`PERMUTATIONS`] times (seeded: the same series gives the same answer).
/// Ranks, so one slow run does not make a step; shuffles, because no
/// closed form holds for 10–30 points. `None` under 6 points.
pub fn step(xs: &[f64]) -> Option<Step> {
    if xs.len() < 6 || xs.iter().any(|x| !x.is_finite()) {
        return None;
    }
    let mut r = ranks(xs);
    let (k, at) = max_rank_z(&r);
    if at == 0 {
        return None;
    }
    let mut rng = SmallRng::seed_from_u64(0x5eed_c4a9);
    let mut as_clear = 0usize;
    for _ in 0..PERMUTATIONS {
        r.shuffle(&mut rng);
        if max_rank_z(&r).0 >= k - 1e-9 {
            as_clear += 1;
        }
    }
    Some(Step {
        at,
        before: median(&xs[..at]),
        after: median(&xs[at..]),
        p_value: (as_clear + 1) as f64 / (PERMUTATIONS + 1) as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A noisy flat series (±4 %, a fixed pattern) of `n` points around `level`.
    fn flat(n: usize, level: f64) -> Vec<f64> {
        const WIGGLE: [f64; 7] = [0.0, 0.03, -0.02, 0.04, -0.04, 0.01, -0.03];
        (0..n).map(|i| level * (1.0 + WIGGLE[i % 7])).collect()
    }

    #[test]
    fn median_and_spread_ignore_one_outlier() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
        let calm = robust_sd(&[10.0, 10.2, 9.8, 10.1, 9.9]);
        let spiked = robust_sd(&[10.0, 10.2, 9.8, 10.1, 90.0]);
        assert!(calm > 0.0 && spiked < 3.0 * calm, "{calm} {spiked}");
    }

    #[test]
    fn ranks_share_ties() {
        assert_eq!(ranks(&[5.0, 1.0, 5.0, 2.0]), vec![3.5, 1.0, 3.5, 2.0]);
    }

    #[test]
    fn a_clean_step_of_five_runs_in_twenty_is_clear_where_pettitts_own_statistic_is_not() {
        // The usual runs in a shuffled order, the five slow ones above them all.
        let usual = [
            7.0, 3.0, 12.0, 1.0, 9.0, 14.0, 5.0, 2.0, 11.0, 15.0, 4.0, 8.0, 13.0, 6.0, 10.0,
        ];
        let mut xs: Vec<f64> = usual.to_vec();
        xs.extend([16.0, 17.0, 18.0, 19.0, 20.0]);
        let s = step(&xs).expect("a step");
        assert_eq!(s.at, 15);
        // Unstandardised, K = 75 here, which chance reaches about once in
        // 90 shuffles (p ≈ 0.011): too weak to report at p < 0.01.
        assert!(s.p_value < 0.005, "{s:?}");
    }

    #[test]
    fn a_step_of_five_runs_at_the_end_of_twenty_is_found() {
        let mut xs = flat(15, 10.0);
        xs.extend(flat(5, 13.0));
        let s = step(&xs).expect("a step");
        assert_eq!(s.at, 15);
        assert!(s.p_value < 0.01, "{s:?}");
        assert!((s.after / s.before - 1.3).abs() < 0.05, "{s:?}");
    }

    #[test]
    fn a_flat_series_or_one_slow_run_is_no_step() {
        let s = step(&flat(20, 10.0)).expect("judged");
        assert!(s.p_value > 0.05, "{s:?}");
        let mut spiked = flat(20, 10.0);
        spiked[19] = 30.0;
        let s = step(&spiked).expect("judged");
        assert!(s.p_value > 0.05, "one slow run is not a step: {s:?}");
        assert_eq!(step(&[1.0, 2.0, 3.0]), None);
    }

    #[test]
    fn a_creep_too_small_to_see_run_by_run_is_a_step_over_the_series() {
        // +1.5 % a run: each run is inside the ±4 % noise of the one before.
        let xs: Vec<f64> = flat(20, 10.0)
            .iter()
            .enumerate()
            .map(|(i, x)| x * (1.0 + 0.015 * i as f64))
            .collect();
        let s = step(&xs).expect("a step");
        assert!(s.p_value < 0.01, "{s:?}");
        assert!(s.after > s.before * 1.1, "{s:?}");
    }
}

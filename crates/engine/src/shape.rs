//! [`Curve`]: a load shape as the engine runs it. Every closed-model load
//! (users at a spawn rate, stepped users, user stages) and every open-model
//! load (a constant rate, a ramp, rate stages) is one piecewise-linear
//! curve over the run; this is the one place that turns it into when each
//! user runs and when each arrival is due.
//!
//! Users. User `u` starts when the curve rises through `u` and stops when
//! it falls through `u + 1`: a ramp from 0 to 4 over a second starts users
//! 0–3 at 0, ¼, ½ and ¾ s, a ramp from 4 to 0 stops users 3–0 at 0, ¼, ½
//! and ¾ s, so at a whole number the count is that number, and with the
//! curve at 0 no one runs. Users run in number order (the lowest numbers
//! run longest), so a user may run in several windows (up, down, up again),
//! and the first window of a higher number never starts before a lower
//! one's: the spawner walks the numbers in order. Every window is a pure
//! function of the user's number, so threads and processes that share the
//! numbers (see [`crate::Slice`]) run exactly the single-process users.
//!
//! Arrivals. Arrival `n` (from 0) is due when the integral of the rate
//! reaches `n`; within a segment whose rate goes linearly from `r` with
//! slope `s`, the `m`th arrival after its start is due `t` in, where
//! `r·t + s·t²/2 = m`, solved in closed form.

use std::time::Duration;

use cliffload_scenario::Shape;

/// A window of one user: it starts at the first offset and stops at the
/// second (`None`: runs to the end of the load).
pub(crate) type Window = (Duration, Option<Duration>);

/// A load shape over one run: corner points from 0 to the end.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Curve {
    /// (seconds from the start, target), from 0 to the end of the run; two
    /// points at one time are a jump.
    points: Vec<(f64, f64)>,
    /// Arrivals due by each point (the integral of the rate up to it).
    area: Vec<f64>,
}

impl Curve {
    /// `shape` over a run of `duration`.
    pub(crate) fn new(shape: &Shape, duration: Duration) -> Self {
        let points = shape.points(duration);
        let mut area = Vec::with_capacity(points.len());
        let mut sum = 0.0;
        area.push(sum);
        for w in points.windows(2) {
            let ((t0, a), (t1, b)) = (w[0], w[1]);
            sum += (a + b) / 2.0 * (t1 - t0);
            area.push(sum);
        }
        Self { points, area }
    }

    /// When user number `user` runs, in order.
    pub(crate) fn windows(&self, user: u32) -> Vec<Window> {
        let u = f64::from(user);
        let secs = |t: f64| Duration::try_from_secs_f64(t.max(0.0)).unwrap_or(Duration::MAX);
        let mut out = Vec::new();
        // The start of the window the user is in, if it is running.
        let mut running = (self.points[0].1 > u).then_some(0.0);
        for w in self.points.windows(2) {
            let ((t0, a), (t1, b)) = (w[0], w[1]);
            let dt = t1 - t0;
            match running {
                None if b > u && b > a => {
                    // Rising through u: due when the curve is at u.
                    let f = ((u - a) / (b - a)).max(0.0);
                    running = Some(t0 + dt * f);
                }
                Some(from) if b < u + 1.0 && b < a => {
                    // Falling through u + 1.
                    let f = ((a - (u + 1.0)) / (a - b)).max(0.0);
                    let to = t0 + dt * f;
                    if to > from {
                        out.push((secs(from), Some(secs(to))));
                    }
                    running = None;
                }
                _ => {}
            }
        }
        if let Some(from) = running {
            out.push((secs(from), None));
        }
        out
    }

    /// When arrival `n` is due after the start, or `None` if not before
    /// the end.
    pub(crate) fn arrival(&self, n: u64) -> Option<Duration> {
        let m = n as f64;
        // The segment whose arrivals include the nth: the last point with
        // no more than n arrivals due by it, and a next one with more.
        let next = self.area.partition_point(|a| *a <= m);
        if next == 0 || next >= self.points.len() {
            return None;
        }
        let (t0, r) = self.points[next - 1];
        let (t1, b) = self.points[next];
        let m = m - self.area[next - 1];
        let slope = (b - r) / (t1 - t0);
        // r·t + slope·t²/2 = m, as 2m / (r + √(r² + 2·slope·m)): no
        // cancellation when the rate falls, and m / r when it is constant.
        let t = if m <= 0.0 {
            0.0
        } else {
            2.0 * m / (r + (r * r + 2.0 * slope * m).max(0.0).sqrt())
        };
        let t = t0 + t.min(t1 - t0);
        if !(t >= 0.0 && t < self.end()) {
            return None;
        }
        Duration::try_from_secs_f64(t).ok()
    }

    /// The end of the run, in seconds.
    fn end(&self) -> f64 {
        self.points.last().map_or(0.0, |p| p.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cliffload_scenario::Stage;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    fn shape(start: f64, stages: &[(f64, f64)]) -> Shape {
        Shape {
            start,
            stages: stages
                .iter()
                .map(|&(d, target)| Stage {
                    duration: secs(d),
                    target,
                })
                .collect(),
        }
    }

    #[test]
    fn users_start_on_the_way_up_and_stop_on_the_way_down() {
        // Up to 4 in 1 s, hold 1 s, down to 0 in 1 s, up to 2 in 1 s.
        let c = Curve::new(
            &shape(0.0, &[(1.0, 4.0), (1.0, 4.0), (1.0, 0.0), (1.0, 2.0)]),
            secs(4.0),
        );
        assert_eq!(
            c.windows(0),
            [(secs(0.0), Some(secs(2.75))), (secs(3.0), None)]
        );
        assert_eq!(
            c.windows(1),
            [(secs(0.25), Some(secs(2.5))), (secs(3.5), None)]
        );
        assert_eq!(c.windows(3), [(secs(0.75), Some(secs(2.0)))]);
        assert_eq!(c.windows(4), []);
        // The count at any moment is the number of windows it falls in.
        let running = |t: f64| {
            (0..5)
                .filter(|u| {
                    c.windows(*u)
                        .iter()
                        .any(|(from, to)| *from <= secs(t) && to.is_none_or(|to| secs(t) < to))
                })
                .count()
        };
        let counts: Vec<usize> = [0.1, 0.6, 0.99, 1.5, 2.1, 2.6, 2.9, 3.1, 3.6]
            .iter()
            .map(|t| running(*t))
            .collect();
        assert_eq!(counts, [1, 3, 4, 4, 3, 1, 0, 1, 2]);
    }

    #[test]
    fn a_jump_starts_or_stops_users_at_once_and_a_cut_run_drops_what_is_later() {
        let c = Curve::new(
            &shape(0.0, &[(0.0, 3.0), (10.0, 3.0), (0.0, 1.0)]),
            secs(15.0),
        );
        assert_eq!(c.windows(2), [(secs(0.0), Some(secs(10.0)))]);
        assert_eq!(c.windows(0), [(secs(0.0), None)]);
        let cut = Curve::new(&shape(0.0, &[(10.0, 10.0)]), secs(5.0));
        assert_eq!(cut.windows(4), [(secs(4.0), None)]);
        assert_eq!(cut.windows(5), [], "due at the end: never starts");
    }

    #[test]
    fn arrivals_follow_the_integral_of_the_rate() {
        // 0 → 40/s in 1 s (20 arrivals), 40/s for 1 s (40), 40 → 0 in 1 s (20).
        let c = Curve::new(
            &shape(0.0, &[(1.0, 40.0), (1.0, 40.0), (1.0, 0.0)]),
            secs(3.0),
        );
        let due: Vec<Duration> = (0..).map_while(|n| c.arrival(n)).collect();
        assert_eq!(due.len(), 80);
        let per_second = |k: u64| due.iter().filter(|d| d.as_secs() == k).count();
        assert_eq!([per_second(0), per_second(1), per_second(2)], [20, 40, 20]);
        assert!(due.windows(2).all(|w| w[0] <= w[1]), "in order");
        // Arrival 5 of the ramp: 20·t² = 5, t = ½ s; 5 into the fall: 2 + ⅛ s.
        assert_eq!(due[5], secs(0.5));
        let fall = due[65].as_secs_f64();
        assert!(
            (fall - (2.0 + (1.0 - (0.75f64).sqrt()))).abs() < 1e-9,
            "{fall}"
        );
        // A constant rate is n / rate.
        let flat = Curve::new(&shape(200.0, &[]), secs(30.0));
        assert_eq!(flat.arrival(5999), Some(secs(29.995)));
        assert_eq!(flat.arrival(6000), None);
    }

    #[test]
    fn a_pause_in_the_rate_sends_nothing() {
        let c = Curve::new(
            &shape(10.0, &[(1.0, 10.0), (0.0, 0.0), (1.0, 0.0), (0.0, 10.0)]),
            secs(3.0),
        );
        let due: Vec<f64> = (0..)
            .map_while(|n| c.arrival(n))
            .map(|d| d.as_secs_f64())
            .collect();
        assert_eq!(due.len(), 20);
        assert!(due.iter().all(|t| *t < 1.0 || *t >= 2.0), "{due:?}");
    }
}

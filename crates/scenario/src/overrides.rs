//! A scenario's load changed from the command line (`run --users 50`), or
//! by a suite mode: each value checked, the error naming its flag.

use std::num::NonZeroU32;

use crate::{
    ArrivalRate, DEFAULT_MAX_IN_FLIGHT, PreflightMode, Rate, Scenario, Stages, check_rate,
    parse_duration,
};

/// Changes to a scenario's load; `None` keeps the scenario's own value.
#[derive(Debug, Default, Clone, Copy)]
pub struct Overrides<'a> {
    /// `--duration` (e.g. `30s`).
    pub duration: Option<&'a str>,
    /// `--users`.
    pub users: Option<u32>,
    /// `--spawn-rate`, users per second.
    pub spawn_rate: Option<f64>,
    /// `--seed`.
    pub seed: Option<u64>,
    /// `--requests`: stop after this many.
    pub requests: Option<u64>,
    /// `--rate`: the open model at this many arrivals per second.
    pub rate: Option<f64>,
    /// `--preflight`.
    pub preflight: Option<PreflightMode>,
}

impl Scenario {
    /// Lays `o` over this scenario, checking each value; the error names
    /// the flag and says what it takes.
    pub fn apply(&mut self, o: &Overrides<'_>) -> Result<(), String> {
        if let Some(d) = o.duration {
            self.duration = parse_duration(d).map_err(|e| format!("--duration: {e}"))?;
            if self.duration.is_zero() {
                return Err("--duration: must be > 0".into());
            }
        }
        // Users that follow `stages:` have no one number or spawn rate to change.
        if let Some(Stages::Users(_)) = self.stages {
            for (given, flag) in [
                (o.users.is_some(), "--users"),
                (o.spawn_rate.is_some(), "--spawn-rate"),
            ] {
                if given {
                    return Err(format!(
                        "{flag}: scenario {} sets its users with stages; change the stages in its file",
                        self.name
                    ));
                }
            }
        }
        if let Some(u) = o.users {
            self.users = NonZeroU32::new(u).ok_or("--users: must be ≥ 1, got 0")?;
        }
        if let Some(r) = o.spawn_rate {
            if !(r.is_finite() && r > 0.0) {
                return Err(format!("--spawn-rate: must be > 0 users/s, got {r}"));
            }
            self.spawn_rate = r;
        }
        if let Some(seed) = o.seed {
            self.seed = seed;
        }
        match o.requests {
            Some(0) => return Err("--requests: must be ≥ 1, got 0".into()),
            Some(n) => self.max_requests = Some(n),
            None => {}
        }
        if let Some(p) = o.preflight {
            self.preflight = p;
        }
        if let Some(rate) = o.rate {
            check_rate(rate).map_err(|m| format!("--rate: {m}"))?;
            let max_in_flight = self
                .arrival
                .as_ref()
                .map_or(DEFAULT_MAX_IN_FLIGHT, |a| a.max_in_flight);
            self.arrival = Some(ArrivalRate {
                rate: Rate::Constant(rate),
                max_in_flight,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ping() -> Scenario {
        crate::catalog::builtin().get("ping").expect("ping").clone()
    }

    #[test]
    fn each_override_is_checked_and_named() {
        let mut s = ping();
        let bad = [
            (
                Overrides {
                    duration: Some("0s"),
                    ..Overrides::default()
                },
                "--duration",
            ),
            (
                Overrides {
                    users: Some(0),
                    ..Overrides::default()
                },
                "--users",
            ),
            (
                Overrides {
                    spawn_rate: Some(f64::NAN),
                    ..Overrides::default()
                },
                "--spawn-rate",
            ),
            (
                Overrides {
                    requests: Some(0),
                    ..Overrides::default()
                },
                "--requests",
            ),
            (
                Overrides {
                    rate: Some(-1.0),
                    ..Overrides::default()
                },
                "--rate",
            ),
        ];
        for (o, flag) in bad {
            let e = s.apply(&o).expect_err(flag);
            assert!(e.starts_with(flag), "{e}");
        }
        s.apply(&Overrides {
            duration: Some("7s"),
            users: Some(3),
            rate: Some(50.0),
            seed: Some(9),
            ..Overrides::default()
        })
        .expect("good values");
        assert_eq!(s.duration.as_secs(), 7);
        assert_eq!(s.users.get(), 3);
        assert_eq!(s.seed, 9);
        assert_eq!(s.arrival.map(|a| a.rate), Some(Rate::Constant(50.0)));
    }
}

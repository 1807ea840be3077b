//! The process exit codes of a run, the contract a CI job reads.

use cliffload_report::suite::{SuiteStatus, SuiteSummary};
use cliffload_report::verdict::Status;

/// Ran; every check passed.
pub const OK: u8 = 0;
/// Ran; a check failed or a claim was refuted.
pub const CHECK_FAILED: u8 = 1;
/// Usage, config, connection or preflight error.
pub const USAGE: u8 = 2;
/// Ran; nothing failed, but a check could not be judged (too few samples,
/// nothing to compare with): a CI job can tell "run longer" from "too slow".
pub const INCONCLUSIVE: u8 = 3;
/// Interrupted; partial results written.
pub const INTERRUPTED: u8 = 130;

/// The code of a finished run's verdict.
pub fn of(status: Status) -> u8 {
    match status {
        Status::Passed => OK,
        Status::Failed => CHECK_FAILED,
        Status::Inconclusive => INCONCLUSIVE,
    }
}

/// The code of a run's result: 130 when it was interrupted, else its verdict's.
pub fn of_result(r: &cliffload_report::RunResult) -> u8 {
    if r.interrupted {
        INTERRUPTED
    } else {
        of(r.verdict.status())
    }
}

/// The code of a suite: 130 when interrupted; 0 only when every scenario
/// passed; 3 when the only scenarios that did not pass were inconclusive;
/// else 1.
pub fn of_suite(summary: &SuiteSummary, interrupted: bool) -> u8 {
    if interrupted {
        INTERRUPTED
    } else if summary.passed {
        OK
    } else if summary
        .scenarios
        .iter()
        .all(|r| matches!(r.status, SuiteStatus::Passed | SuiteStatus::Inconclusive))
    {
        INCONCLUSIVE
    } else {
        CHECK_FAILED
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cliffload_report::suite::SuiteRow;

    fn suite(statuses: &[SuiteStatus]) -> SuiteSummary {
        let rows = statuses
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let mut row = SuiteRow::not_run(&format!("s{i}"), None);
                row.status = *s;
                row
            })
            .collect();
        SuiteSummary::new("quick", "t".into(), 0.0, "nats://127.0.0.1:1", rows)
    }

    #[test]
    fn a_suite_is_inconclusive_only_when_nothing_else_went_wrong() {
        use SuiteStatus::{Error, Failed, Inconclusive, Passed};
        assert_eq!(of_suite(&suite(&[Passed, Passed]), false), OK);
        assert_eq!(
            of_suite(&suite(&[Passed, Inconclusive]), false),
            INCONCLUSIVE
        );
        assert_eq!(
            of_suite(&suite(&[Inconclusive, Failed]), false),
            CHECK_FAILED
        );
        assert_eq!(of_suite(&suite(&[Passed, Error]), false), CHECK_FAILED);
        assert_eq!(of_suite(&suite(&[Passed]), true), INTERRUPTED);
    }

    #[test]
    fn each_verdict_has_its_own_code() {
        assert_eq!(of(Status::Passed), 0);
        assert_eq!(of(Status::Failed), 1);
        assert_eq!(of(Status::Inconclusive), 3);
    }
}

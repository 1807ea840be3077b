//! The closed set of request outcomes. Counters and histograms are indexed by
//! [`Outcome::index`], never keyed by strings.

use serde::{Deserialize, Serialize};

/// What became of one request.
///
/// Three classes: success ([`Outcome::Ok`]), a correct refusal by the service
/// ([`Outcome::RejectedExpected`], [`Outcome::RejectedBusiness`]: reported, not
/// failures), and failures (everything else).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The service answered with success.
    Ok,
    /// The service refused a request that was deliberately invalid (injected):
    /// the correct behaviour.
    RejectedExpected,
    /// The service refused a valid request for a business reason
    /// (`success: false` with an error other than validation or an internal error).
    RejectedBusiness,
    /// The service accepted a request that was deliberately invalid.
    UnexpectedAccept,
    /// The service answered `validation failed` to a request we believe valid.
    ValidationFailed,
    /// Internal server error, unknown method, or a `micro` error header.
    ServiceError,
    /// No reply within the task's timeout.
    Timeout,
    /// Nobody subscribes to the subject (NATS status 503).
    NoResponders,
    /// The connection failed: disconnected, closed, payload too large.
    Transport,
    /// A reply came but could not be understood.
    Decode,
    /// The reply succeeded but failed the task's `expect` checks (the text,
    /// a JSON field, its size).
    CheckFailed,
    /// An event whose effect (`observe:`) did not appear within the task's
    /// timeout.
    Lost,
    /// An effect seen again for an event whose effect was already seen
    /// (counted in addition to the event's own outcome).
    Duplicate,
    /// A JetStream publish the stream acknowledged as a duplicate of a
    /// `Nats-Msg-Id` it had already stored, and so dropped: the correct
    /// behaviour for a message sent twice.
    Deduplicated,
}

/// The three classes an outcome falls into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeClass {
    /// Counted as a success.
    Success,
    /// A correct refusal: neither success nor failure.
    Rejected,
    /// Counted in the failure rate.
    Failure,
}

impl Outcome {
    /// Number of variants; the length of every per-outcome array.
    pub const COUNT: usize = 14;

    /// Every variant, in [`Outcome::index`] order.
    pub const ALL: [Outcome; Outcome::COUNT] = [
        Outcome::Ok,
        Outcome::RejectedExpected,
        Outcome::RejectedBusiness,
        Outcome::UnexpectedAccept,
        Outcome::ValidationFailed,
        Outcome::ServiceError,
        Outcome::Timeout,
        Outcome::NoResponders,
        Outcome::Transport,
        Outcome::Decode,
        Outcome::CheckFailed,
        Outcome::Lost,
        Outcome::Duplicate,
        Outcome::Deduplicated,
    ];

    /// Position of this variant in per-outcome arrays.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The snake_case name used in reports and JSON.
    pub const fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::RejectedExpected => "rejected_expected",
            Outcome::RejectedBusiness => "rejected_business",
            Outcome::UnexpectedAccept => "unexpected_accept",
            Outcome::ValidationFailed => "validation_failed",
            Outcome::ServiceError => "service_error",
            Outcome::Timeout => "timeout",
            Outcome::NoResponders => "no_responders",
            Outcome::Transport => "transport",
            Outcome::Decode => "decode",
            Outcome::CheckFailed => "check_failed",
            Outcome::Lost => "lost",
            Outcome::Duplicate => "duplicate",
            Outcome::Deduplicated => "deduplicated",
        }
    }

    /// Which class the outcome counts in.
    pub const fn class(self) -> OutcomeClass {
        match self {
            Outcome::Ok => OutcomeClass::Success,
            Outcome::RejectedExpected | Outcome::RejectedBusiness | Outcome::Deduplicated => {
                OutcomeClass::Rejected
            }
            _ => OutcomeClass::Failure,
        }
    }

    /// True when the outcome counts in the failure rate.
    pub const fn is_failure(self) -> bool {
        matches!(self.class(), OutcomeClass::Failure)
    }
}

/// A count per outcome, indexed by [`Outcome::index`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutcomeCounts(pub [u64; Outcome::COUNT]);

impl OutcomeCounts {
    /// Count for one outcome.
    pub fn get(&self, outcome: Outcome) -> u64 {
        self.0[outcome.index()]
    }

    /// All requests.
    pub fn total(&self) -> u64 {
        // Saturating: counts from another process are its word, and a sum
        // must not panic on them.
        self.0.iter().fold(0, |a, b| a.saturating_add(*b))
    }

    /// Requests in one class.
    pub fn in_class(&self, class: OutcomeClass) -> u64 {
        Outcome::ALL
            .iter()
            .filter(|o| o.class() == class)
            .map(|o| self.get(*o))
            .fold(0, u64::saturating_add)
    }

    /// Adds another set of counts.
    pub fn add(&mut self, other: &OutcomeCounts) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a = a.saturating_add(*b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_matches_position_in_all() {
        for (i, o) in Outcome::ALL.iter().enumerate() {
            assert_eq!(o.index(), i, "{o:?}");
        }
    }

    #[test]
    fn rejections_are_neither_success_nor_failure() {
        assert_eq!(Outcome::RejectedExpected.class(), OutcomeClass::Rejected);
        assert_eq!(Outcome::RejectedBusiness.class(), OutcomeClass::Rejected);
        assert!(!Outcome::RejectedBusiness.is_failure());
        assert!(Outcome::UnexpectedAccept.is_failure());
        assert!(Outcome::NoResponders.is_failure());
        assert!(!Outcome::Ok.is_failure());
        assert!(Outcome::Lost.is_failure());
        assert!(Outcome::Duplicate.is_failure());
        assert_eq!(Outcome::Deduplicated.class(), OutcomeClass::Rejected);
    }

    #[test]
    fn serde_name_matches_name() {
        for o in Outcome::ALL {
            let json = serde_json::to_string(&o).expect("serialises");
            assert_eq!(json, format!("\"{}\"", o.name()));
            let back: Outcome = serde_json::from_str(&json).expect("parses");
            assert_eq!(back, o);
        }
    }
}

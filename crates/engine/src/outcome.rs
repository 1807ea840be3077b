use cliffload_metrics::Outcome;
use cliffload_protocol::{ReplyKind, error_text};

/// The outcome of a reply, given whether its request carried an injected error.
///
/// An injected request that is refused (for any deliberate reason) is the
/// correct behaviour; one that is accepted is a failure. A valid request
/// refused as invalid is a failure; refused by a business rule, a rejection.
pub fn outcome_of(kind: &ReplyKind, injected: bool) -> Outcome {
    match (kind, injected) {
        (ReplyKind::Success, false) => Outcome::Ok,
        (ReplyKind::Success, true) => Outcome::UnexpectedAccept,
        (ReplyKind::ValidationRefused | ReplyKind::BusinessRefused, true) => {
            Outcome::RejectedExpected
        }
        (ReplyKind::ValidationRefused, false) => Outcome::ValidationFailed,
        (ReplyKind::BusinessRefused, false) => Outcome::RejectedBusiness,
        (ReplyKind::ServiceError, _) => Outcome::ServiceError,
        (ReplyKind::Unrecognised(_), _) => Outcome::Decode,
    }
}

/// The text saying why a reply was not a success, for the failures table:
/// the reason it could not be read, a micro service's error header, the
/// envelope's `error`, or what was wrongly accepted. `None` for a success.
/// Runs only for replies that were not a success.
pub fn detail_of(
    outcome: Outcome,
    kind: &ReplyKind,
    injected: Option<&str>,
    content_type: Option<&str>,
    service_error: Option<&str>,
    body: &[u8],
) -> Option<String> {
    if outcome == Outcome::Ok {
        return None;
    }
    if let ReplyKind::Unrecognised(why) = kind {
        return Some(why.clone());
    }
    if outcome == Outcome::UnexpectedAccept {
        return Some(format!(
            "accepted a request with an injected error ({})",
            injected.unwrap_or("unknown")
        ));
    }
    service_error
        .map(str::to_owned)
        .or_else(|| error_text(content_type, body))
        .or_else(|| {
            Some(format!(
                "{} ({} bytes, no error text)",
                outcome.name(),
                body.len()
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn injected_label_decides_between_correct_and_wrong() {
        assert_eq!(outcome_of(&ReplyKind::Success, false), Outcome::Ok);
        assert_eq!(
            outcome_of(&ReplyKind::Success, true),
            Outcome::UnexpectedAccept
        );
        assert_eq!(
            outcome_of(&ReplyKind::ValidationRefused, true),
            Outcome::RejectedExpected
        );
        assert_eq!(
            outcome_of(&ReplyKind::ValidationRefused, false),
            Outcome::ValidationFailed
        );
        assert_eq!(
            outcome_of(&ReplyKind::BusinessRefused, false),
            Outcome::RejectedBusiness
        );
        assert_eq!(
            outcome_of(&ReplyKind::ServiceError, true),
            Outcome::ServiceError
        );
        assert_eq!(
            outcome_of(&ReplyKind::Unrecognised("x".into()), false),
            Outcome::Decode
        );
    }
}

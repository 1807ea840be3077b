use cliffload_metrics::Outcome;
use cliffload_protocol::{
    ExpectStatus, Protocol, ReplyCheck, ReplyKind, RequestSpec, classify, error_text,
};

use crate::transport::Reply;

/// How a task's replies are judged, the same over every transport: the
/// protocol, whether a refusal is what the task expects, and its `expect`
/// checks on successful replies.
#[derive(Debug, Clone)]
pub struct ReplyRules {
    /// Envelope, micro header, or any reply.
    pub protocol: Protocol,
    /// `expect: {status: rejected}`: a refusal is the correct answer.
    pub expect_rejected: bool,
    /// Checks on the body of a successful reply.
    pub check: Option<ReplyCheck>,
}

impl ReplyRules {
    /// The rules of a request. Its `expect.regex` was checked when the
    /// scenario was loaded; were it bad here, the check is left out.
    pub fn of(request: &RequestSpec) -> Self {
        let e = &request.expect;
        Self {
            protocol: request.protocol,
            expect_rejected: e.status == ExpectStatus::Rejected,
            check: ReplyCheck::new(
                e.json.clone(),
                e.contains.clone(),
                e.regex.clone(),
                e.max_bytes,
            )
            .ok()
            .flatten(),
        }
    }

    /// What the task expects of a request whose payload carries `injected`.
    fn refusal_expected<'a>(&self, injected: Option<&'a str>) -> Option<&'a str> {
        injected.or(self.expect_rejected.then_some("a refusal the task expects"))
    }

    /// The class of a reply, before injected errors and checks.
    pub fn kind(
        &self,
        content_type: Option<&str>,
        error_code: Option<&str>,
        body: &[u8],
    ) -> ReplyKind {
        classify(self.protocol, content_type, error_code, body)
    }

    /// Judges a reply: its outcome and, when it is not a success, why.
    /// `error_text` is a micro service's `Nats-Service-Error` header, if any.
    pub fn judge(
        &self,
        kind: &ReplyKind,
        injected: Option<&str>,
        content_type: Option<&str>,
        error_text: Option<&str>,
        body: &[u8],
    ) -> Reply {
        let injected = self.refusal_expected(injected);
        let outcome = outcome_of(kind, injected.is_some());
        if outcome == Outcome::Ok {
            return match self.check.as_ref().map(|c| c.check(content_type, body)) {
                Some(Err(why)) => Reply::with_detail(Outcome::CheckFailed, why),
                _ => Reply::from(outcome),
            }
            .with_body(body);
        }
        Reply {
            outcome,
            detail: detail_of(outcome, kind, injected, content_type, error_text, body),
            bytes: 0,
            sample: None,
            body: None,
        }
        .with_body(body)
    }
}

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

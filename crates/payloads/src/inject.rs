//! Deliberate errors, each labelled with its kind and the path where
//! validation must catch it (`docs/workload.md` §2).

use std::fmt;

use jiff::SignedDuration;
use rand::RngExt;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::model::{ComplexOrder, ValidationErrorTest};

/// The kind of an injected error. The label travels with the payload, so a
/// refusal of it is judged correct and an acceptance a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InjectKind {
    /// Order: `total_amount` negative.
    NegativeTotal,
    /// Order: the customer's email has no `@`.
    InvalidEmail,
    /// Order: the customer's birth date is in the future.
    FutureBirthDate,
    /// Order: `subtotal` is not Σ item totals.
    InvalidTotals,
    /// Any model: a required key is absent.
    MissingRequired,
    /// ValidationErrorTest: `required_field` under 10 characters.
    ShortField,
    /// ValidationErrorTest: `email_field` not an email.
    BadEmail,
    /// ValidationErrorTest (`numeric_field`) or batch request (`priority`) out of range.
    OutOfRange,
    /// ValidationErrorTest: `complex_pattern` does not match.
    BadPattern,
    /// ValidationErrorTest: `required_field` contains FAIL.
    ContainsFail,
}

impl InjectKind {
    /// Every kind.
    pub const ALL: [InjectKind; 10] = [
        InjectKind::NegativeTotal,
        InjectKind::InvalidEmail,
        InjectKind::FutureBirthDate,
        InjectKind::InvalidTotals,
        InjectKind::MissingRequired,
        InjectKind::ShortField,
        InjectKind::BadEmail,
        InjectKind::OutOfRange,
        InjectKind::BadPattern,
        InjectKind::ContainsFail,
    ];

    /// The kinds that apply to orders.
    pub const ORDER: [InjectKind; 5] = [
        InjectKind::NegativeTotal,
        InjectKind::InvalidEmail,
        InjectKind::FutureBirthDate,
        InjectKind::InvalidTotals,
        InjectKind::MissingRequired,
    ];

    /// The kinds that apply to `ValidationErrorTest`.
    pub const VALIDATION_TEST: [InjectKind; 5] = [
        InjectKind::ShortField,
        InjectKind::BadEmail,
        InjectKind::OutOfRange,
        InjectKind::BadPattern,
        InjectKind::ContainsFail,
    ];

    /// The snake_case label.
    pub const fn name(self) -> &'static str {
        match self {
            InjectKind::NegativeTotal => "negative_total",
            InjectKind::InvalidEmail => "invalid_email",
            InjectKind::FutureBirthDate => "future_birth_date",
            InjectKind::InvalidTotals => "invalid_totals",
            InjectKind::MissingRequired => "missing_required",
            InjectKind::ShortField => "short_field",
            InjectKind::BadEmail => "bad_email",
            InjectKind::OutOfRange => "out_of_range",
            InjectKind::BadPattern => "bad_pattern",
            InjectKind::ContainsFail => "contains_fail",
        }
    }

    /// The kind called `name`.
    pub fn parse(name: &str) -> Option<InjectKind> {
        InjectKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl fmt::Display for InjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Breaks a valid order in the way `kind` says; returns the path (under the
/// order) where validation must report it. `MissingRequired` is applied to
/// the JSON form by [`crate::pool`]; here it returns its path only.
pub(crate) fn break_order(
    order: &mut ComplexOrder,
    kind: InjectKind,
    rng: &mut impl RngExt,
) -> Option<&'static [&'static str]> {
    Some(match kind {
        InjectKind::NegativeTotal => {
            order.total_amount = -order.total_amount.abs().max(Decimal::ONE);
            &["total_amount"]
        }
        InjectKind::InvalidEmail => {
            order.customer.email = order.customer.email.replace('@', "-at-");
            &["customer", "email"]
        }
        InjectKind::FutureBirthDate => {
            let days = rng.random_range(1..3650i64);
            order.customer.date_of_birth = Some(
                (order
                    .created_at
                    .checked_add(SignedDuration::from_hours(24 * (days + 4)))
                    .unwrap_or(order.created_at))
                .to_zoned(jiff::tz::TimeZone::UTC)
                .date(),
            );
            &["customer", "date_of_birth"]
        }
        InjectKind::InvalidTotals => {
            order.subtotal += Decimal::from(rng.random_range(1..500i64));
            &["subtotal"]
        }
        InjectKind::MissingRequired => &["order_id"],
        _ => return None,
    })
}

/// Breaks a valid `ValidationErrorTest`; returns the path of the error.
pub(crate) fn break_validation_test(
    t: &mut ValidationErrorTest,
    kind: InjectKind,
) -> Option<&'static [&'static str]> {
    Some(match kind {
        InjectKind::ShortField => {
            t.required_field = "too short".chars().take(9).collect();
            &["required_field"]
        }
        InjectKind::BadEmail => {
            t.email_field = t.email_field.replace('@', " at ");
            &["email_field"]
        }
        InjectKind::OutOfRange => {
            t.numeric_field = 5_000;
            &["numeric_field"]
        }
        InjectKind::BadPattern => {
            t.complex_pattern = t.complex_pattern.to_lowercase();
            &["complex_pattern"]
        }
        InjectKind::ContainsFail => {
            t.required_field = format!("{} - this must FAIL", t.required_field);
            &["required_field"]
        }
        InjectKind::MissingRequired => &["email_field"],
        _ => return None,
    })
}

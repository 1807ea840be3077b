//! Every rule of `docs/workload.md` §1, reporting **all** violations, each
//! with its full path (`order.items.3.product_snapshot.variants.0.price`),
//! a pydantic-style type code and a message.
//!
//! Written out rather than declared with garde: Cliffracer clients read
//! pydantic's `type` codes and `loc` arrays, which garde's reports (a path and
//! a message) do not carry, and the cross-field rules need code either way.

use std::fmt;
use std::sync::LazyLock;

use jiff::Timestamp;
use regex::Regex;
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::model::*;

/// One element of a violation's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    /// An object key.
    Key(String),
    /// A list index.
    Index(usize),
}

impl fmt::Display for Seg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Seg::Key(k) => f.write_str(k),
            Seg::Index(i) => write!(f, "{i}"),
        }
    }
}

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Where, from the root argument name.
    pub path: Vec<Seg>,
    /// Pydantic-style type code (`string_too_short`, `missing`, `value_error`, …).
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
}

impl Violation {
    /// The dotted path: `order.items.3.product_snapshot.variants.0.price`.
    pub fn dotted(&self) -> String {
        self.path
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(".")
    }

    /// As a Cliffracer `details` entry: `{"type", "loc", "msg"}`.
    pub fn to_detail(&self) -> Value {
        let loc: Vec<Value> = self
            .path
            .iter()
            .map(|s| match s {
                Seg::Key(k) => json!(k),
                Seg::Index(i) => json!(i),
            })
            .collect();
        json!({"type": self.code, "loc": loc, "msg": self.message})
    }
}

/// Collects violations under a moving path.
#[derive(Debug)]
pub struct Violations {
    path: Vec<Seg>,
    found: Vec<Violation>,
    now: Timestamp,
}

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$").expect("valid regex")
});
static POSTAL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\d{5}(-\d{4})?$").expect("valid regex"));
static PHONE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\+?1?\d{9,15}$").expect("valid regex"));
static LANG: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[a-z]{2}$").expect("valid regex"));
static CURRENCY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Z]{3}$").expect("valid regex"));
static LAST_FOUR: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\d{4}$").expect("valid regex"));
static ORDER_ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^ORD-[0-9A-F]{8}$").expect("valid regex"));
static TEST_PATTERN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^TEST-\d{4}-[A-Z]{3}$").expect("valid regex"));

/// Tolerance of the money rules.
const CENT: Decimal = Decimal::from_parts(1, 0, 0, false, 2);

impl Violations {
    /// Starts at `root` (the argument name, e.g. `order`), judging dates against `now`.
    pub fn new(root: &str, now: Timestamp) -> Self {
        let path = if root.is_empty() {
            vec![]
        } else {
            vec![Seg::Key(root.to_owned())]
        };
        Self {
            path,
            found: Vec::new(),
            now,
        }
    }

    /// The violations found.
    pub fn into_vec(self) -> Vec<Violation> {
        self.found
    }

    /// Runs `f` one key deeper.
    pub fn key(&mut self, key: &str, f: impl FnOnce(&mut Self)) {
        self.path.push(Seg::Key(key.to_owned()));
        f(self);
        self.path.pop();
    }

    /// Runs `f` for every element, one index deeper under `key`.
    pub fn each<T>(&mut self, key: &str, items: &[T], mut f: impl FnMut(&mut Self, &T)) {
        self.path.push(Seg::Key(key.to_owned()));
        for (i, item) in items.iter().enumerate() {
            self.path.push(Seg::Index(i));
            f(self, item);
            self.path.pop();
        }
        self.path.pop();
    }

    /// Records a violation at `field` (relative to the current path).
    pub fn push(&mut self, field: &str, code: &'static str, message: impl Into<String>) {
        let mut path = self.path.clone();
        if !field.is_empty() {
            path.push(Seg::Key(field.to_owned()));
        }
        self.found.push(Violation {
            path,
            code,
            message: message.into(),
        });
    }

    fn len(&mut self, field: &str, v: &str, min: usize, max: usize) {
        let n = v.chars().count();
        if n < min {
            let unit = if min == 1 { "character" } else { "characters" };
            self.push(
                field,
                "string_too_short",
                format!("String should have at least {min} {unit}"),
            );
        } else if n > max {
            self.push(
                field,
                "string_too_long",
                format!("String should have at most {max} characters"),
            );
        }
    }

    fn opt_len(&mut self, field: &str, v: &Option<String>, max: usize) {
        if let Some(v) = v {
            self.len(field, v, 0, max);
        }
    }

    fn pattern(&mut self, field: &str, v: &str, re: &Regex) {
        if !re.is_match(v) {
            self.push(
                field,
                "string_pattern_mismatch",
                format!("String should match pattern '{}'", re.as_str()),
            );
        }
    }

    fn email(&mut self, field: &str, v: &str) {
        if v.len() > 254 || !EMAIL.is_match(v) {
            self.push(field, "value_error", "value is not a valid email address");
        }
    }

    /// `min <= v <= max`; a NaN fails the lower bound.
    fn range<T: PartialOrd + fmt::Display>(&mut self, field: &str, v: T, min: T, max: T) {
        // `None` (a NaN) fails the lower bound, like a value below it.
        if matches!(v.partial_cmp(&min), None | Some(std::cmp::Ordering::Less)) {
            self.push(
                field,
                "greater_than_equal",
                format!("Input should be greater than or equal to {min}"),
            );
        } else if v > max {
            self.push(
                field,
                "less_than_equal",
                format!("Input should be less than or equal to {max}"),
            );
        }
    }

    fn money_positive(&mut self, field: &str, v: Decimal) {
        if v <= Decimal::ZERO {
            self.push(field, "greater_than", "Input should be greater than 0");
        } else {
            self.money_shape(field, v);
        }
    }

    fn money_non_negative(&mut self, field: &str, v: Decimal) {
        if v < Decimal::ZERO {
            self.push(
                field,
                "greater_than_equal",
                "Input should be greater than or equal to 0",
            );
        } else {
            self.money_shape(field, v);
        }
    }

    /// At most 10 digits, 2 of them decimals.
    fn money_shape(&mut self, field: &str, v: Decimal) {
        if v.normalize().scale() > 2 {
            self.push(
                field,
                "decimal_max_places",
                "Decimal input should have no more than 2 decimal places",
            );
        } else if v.abs() >= Decimal::from(100_000_000) {
            self.push(
                field,
                "decimal_max_digits",
                "Decimal input should have no more than 10 digits in total",
            );
        }
    }

    fn count(&mut self, field: &str, n: usize, min: usize, max: usize) {
        if n < min {
            self.push(
                field,
                "too_short",
                format!("List should have at least {min} item after validation, not {n}"),
            );
        } else if n > max {
            self.push(
                field,
                "too_long",
                format!("List should have at most {max} items after validation, not {n}"),
            );
        }
    }
}

/// A model that can check itself.
pub trait Validate {
    /// Adds this value's violations at the current path of `v`.
    fn check(&self, v: &mut Violations);

    /// Every violation, with paths starting at `root` (the argument name).
    fn validate(&self, root: &str, now: Timestamp) -> Vec<Violation> {
        let mut v = Violations::new(root, now);
        self.check(&mut v);
        v.into_vec()
    }
}

/// Validates a JSON value as a `T`: type and shape errors (missing keys,
/// wrong types, unknown keys) first, with their paths; then every rule.
/// Never panics, whatever the value.
pub fn validate_value<T: DeserializeOwned + Validate>(
    root: &str,
    value: &Value,
    now: Timestamp,
) -> Vec<Violation> {
    match parse_value::<T>(root, value) {
        Ok(t) => t.validate(root, now),
        Err(v) => v,
    }
}

/// Reads a JSON value as a `T`. A shape error (missing key, wrong type,
/// unknown key) becomes one violation at its path; the rules are not checked.
pub fn parse_value<T: DeserializeOwned>(root: &str, value: &Value) -> Result<T, Vec<Violation>> {
    parse_with(root, value)
}

/// [`parse_value`] from any deserializer: an owned `Value` (its strings are
/// moved, not copied) or a JSON or MsgPack deserializer over the raw bytes.
pub fn parse_with<'de, T: serde::Deserialize<'de>, D: serde::Deserializer<'de>>(
    root: &str,
    de: D,
) -> Result<T, Vec<Violation>>
where
    D::Error: fmt::Display,
{
    serde_path_to_error::deserialize::<_, T>(de).map_err(|e| {
        let mut path: Vec<Seg> = if root.is_empty() {
            vec![]
        } else {
            vec![Seg::Key(root.to_owned())]
        };
        for seg in e.path().iter() {
            match seg {
                serde_path_to_error::Segment::Seq { index } => path.push(Seg::Index(*index)),
                serde_path_to_error::Segment::Map { key }
                | serde_path_to_error::Segment::Enum { variant: key } => {
                    path.push(Seg::Key(key.clone()))
                }
                serde_path_to_error::Segment::Unknown => {}
            }
        }
        let msg = e.inner().to_string();
        let code = if let Some(field) = msg
            .strip_prefix("missing field `")
            .and_then(|m| m.split('`').next())
        {
            path.push(Seg::Key(field.to_owned()));
            "missing"
        } else if msg.starts_with("unknown field") {
            "extra_forbidden"
        } else {
            "type_error"
        };
        vec![Violation {
            path,
            code,
            message: msg,
        }]
    })
}

impl Validate for Address {
    fn check(&self, v: &mut Violations) {
        v.len("street_address", &self.street_address, 5, 200);
        v.opt_len("apartment", &self.apartment, 50);
        v.len("city", &self.city, 2, 100);
        v.len("state", &self.state, 2, 50);
        v.pattern("postal_code", &self.postal_code, &POSTAL);
        v.len("country", &self.country, 2, 3);
        if let Some(lat) = self.latitude {
            v.range("latitude", lat, -90.0, 90.0);
        }
        if let Some(lon) = self.longitude {
            v.range("longitude", lon, -180.0, 180.0);
        }
        v.opt_len("delivery_instructions", &self.delivery_instructions, 500);
    }
}

impl Validate for CustomerProfile {
    fn check(&self, v: &mut Violations) {
        v.len("customer_id", &self.customer_id, 3, 50);
        v.email("email", &self.email);
        v.pattern("phone", &self.phone, &PHONE);
        v.len("first_name", &self.first_name, 1, 100);
        v.len("last_name", &self.last_name, 1, 100);
        if let Some(dob) = self.date_of_birth {
            let today = self.today(v.now);
            if dob > today {
                v.push(
                    "date_of_birth",
                    "value_error",
                    format!("date_of_birth {dob} is in the future"),
                );
            }
        }
        v.count("addresses", self.addresses.len(), 1, 10);
        v.each("addresses", &self.addresses, |v, a| a.check(v));
        v.pattern("preferred_language", &self.preferred_language, &LANG);
        v.money_non_negative("account_balance", self.account_balance);
    }
}

impl CustomerProfile {
    fn today(&self, now: Timestamp) -> jiff::civil::Date {
        now.to_zoned(jiff::tz::TimeZone::UTC).date()
    }
}

impl Validate for ProductVariant {
    fn check(&self, v: &mut Violations) {
        v.len("sku", &self.sku, 3, 50);
        v.len("name", &self.name, 1, 200);
        if self.attributes.is_empty() {
            v.push(
                "attributes",
                "too_short",
                "Dictionary should have at least 1 item after validation, not 0",
            );
        }
        v.money_positive("price", self.price);
        v.range("weight_grams", self.weight_grams, 1, 50_000);
        v.key("dimensions_cm", |v| {
            for dim in ["length", "width", "height"] {
                match self.dimensions_cm.get(dim) {
                    None => v.push(dim, "missing", format!("dimensions_cm must hold {dim}")),
                    Some(x) if !(x.is_finite() && *x > 0.0) => {
                        v.push(dim, "greater_than", "Input should be greater than 0");
                    }
                    Some(_) => {}
                }
            }
        });
        v.range("stock_quantity", self.stock_quantity, 0, i64::MAX);
    }
}

impl Validate for Product {
    fn check(&self, v: &mut Violations) {
        v.len("product_id", &self.product_id, 3, 50);
        v.len("name", &self.name, 1, 200);
        v.len("description", &self.description, 10, 2000);
        v.len("brand", &self.brand, 1, 100);
        v.count("variants", self.variants.len(), 1, 50);
        v.each("variants", &self.variants, |v, x| x.check(v));
        v.count("tags", self.tags.len(), 0, 20);
        v.count("images", self.images.len(), 0, 10);
        v.range("reviews_average", self.reviews_average, 0.0, 5.0);
        v.range("reviews_count", self.reviews_count, 0, i64::MAX);
    }
}

impl Validate for OrderItem {
    fn check(&self, v: &mut Violations) {
        v.len("product_id", &self.product_id, 3, 50);
        v.len("variant_sku", &self.variant_sku, 3, 50);
        v.range("quantity", self.quantity, 1, 100);
        v.money_positive("unit_price", self.unit_price);
        v.money_non_negative("discount_amount", self.discount_amount);
        v.money_non_negative("tax_amount", self.tax_amount);
        v.money_positive("total_price", self.total_price);
        let expected =
            self.unit_price * Decimal::from(self.quantity) - self.discount_amount + self.tax_amount;
        if (self.total_price - expected).abs() > CENT {
            v.push(
                "total_price",
                "value_error",
                format!("total_price {} ≠ unit_price × quantity − discount_amount + tax_amount = {expected}", self.total_price),
            );
        }
        v.key("product_snapshot", |v| self.product_snapshot.check(v));
        v.opt_len("special_instructions", &self.special_instructions, 500);
    }
}

impl Validate for PaymentDetails {
    fn check(&self, v: &mut Violations) {
        v.money_positive("amount", self.amount);
        v.pattern("currency", &self.currency, &CURRENCY);
        v.opt_len("transaction_reference", &self.transaction_reference, 100);
        if let Some(c) = &self.card_last_four {
            v.pattern("card_last_four", c, &LAST_FOUR);
        }
        v.opt_len("card_brand", &self.card_brand, 50);
        v.opt_len("cardholder_name", &self.cardholder_name, 100);
        if let Some(r) = self.risk_score {
            v.range("risk_score", r, 0.0, 1.0);
        }
    }
}

impl Validate for ShippingDetails {
    fn check(&self, v: &mut Violations) {
        v.len("carrier", &self.carrier, 1, 100);
        v.len("service_level", &self.service_level, 1, 100);
        v.opt_len("tracking_number", &self.tracking_number, 100);
        v.key("shipping_address", |v| self.shipping_address.check(v));
        v.money_non_negative("cost", self.cost);
        if self.weight_grams <= 0 {
            v.push(
                "weight_grams",
                "greater_than",
                "Input should be greater than 0",
            );
        }
        v.money_non_negative("insurance_amount", self.insurance_amount);
    }
}

impl Validate for ComplexOrder {
    fn check(&self, v: &mut Violations) {
        v.pattern("order_id", &self.order_id, &ORDER_ID);
        v.key("customer", |v| self.customer.check(v));
        v.count("items", self.items.len(), 1, 100);
        v.each("items", &self.items, |v, i| i.check(v));
        v.money_positive("subtotal", self.subtotal);
        v.money_non_negative("tax_amount", self.tax_amount);
        v.money_non_negative("shipping_cost", self.shipping_cost);
        v.money_non_negative("discount_amount", self.discount_amount);
        v.money_positive("total_amount", self.total_amount);
        let items: Decimal = self.items.iter().map(|i| i.total_price).sum();
        if (self.subtotal - items).abs() > CENT {
            v.push(
                "subtotal",
                "value_error",
                format!("subtotal {} ≠ Σ items.total_price = {items}", self.subtotal),
            );
        }
        let total = self.subtotal + self.tax_amount + self.shipping_cost - self.discount_amount;
        if (self.total_amount - total).abs() > CENT {
            v.push(
                "total_amount",
                "value_error",
                format!("total_amount {} ≠ subtotal + tax_amount + shipping_cost − discount_amount = {total}", self.total_amount),
            );
        }
        v.key("payment", |v| self.payment.check(v));
        v.key("shipping", |v| self.shipping.check(v));
        if let Some(ship) = self.expected_ship_date
            && ship <= v.now
        {
            v.push(
                "expected_ship_date",
                "value_error",
                format!("expected_ship_date {ship} is not in the future"),
            );
        }
        v.len("source", &self.source, 0, 50);
        v.len("sales_channel", &self.sales_channel, 0, 50);
        v.count("promotional_codes", self.promotional_codes.len(), 0, 5);
        v.opt_len("notes", &self.notes, 1000);
        v.opt_len("internal_notes", &self.internal_notes, 1000);
        v.range("priority_level", self.priority_level, 1, 5);
        if self.total_amount > Decimal::from(10_000) && !self.requires_approval {
            v.push(
                "requires_approval",
                "value_error",
                "requires_approval must be true when total_amount > 10000",
            );
        }
    }
}

impl Validate for AnalyticsEvent {
    fn check(&self, v: &mut Violations) {
        v.len("event_type", &self.event_type, 1, 100);
        v.opt_len("user_id", &self.user_id, 100);
        v.opt_len("session_id", &self.session_id, 100);
        v.len("source", &self.source, 0, 100);
    }
}

impl Validate for BatchProcessingRequest {
    fn check(&self, v: &mut Violations) {
        v.len("operation_type", &self.operation_type, 1, 100);
        v.count("items", self.items.len(), 1, 10_000);
        v.range("priority", self.priority, 1, 10);
        v.range("timeout_seconds", self.timeout_seconds, 1, 3600);
    }
}

impl Validate for ValidationErrorTest {
    fn check(&self, v: &mut Violations) {
        v.len("required_field", &self.required_field, 10, usize::MAX);
        if self.required_field.to_uppercase().contains("FAIL") {
            v.push(
                "required_field",
                "value_error",
                "required_field must not contain FAIL",
            );
        }
        v.email("email_field", &self.email_field);
        v.range("numeric_field", self.numeric_field, 100, 1000);
        v.pattern("complex_pattern", &self.complex_pattern, &TEST_PATTERN);
    }
}

/// A boxed value (the reference service keeps a decoded order in a box, so
/// its request's future holds a pointer rather than 1.4 KB).
impl<T: Validate + ?Sized> Validate for Box<T> {
    fn check(&self, v: &mut Violations) {
        (**self).check(v);
    }
}

impl<T: Validate> Validate for Vec<T> {
    fn check(&self, v: &mut Violations) {
        for (i, x) in self.iter().enumerate() {
            v.path.push(Seg::Index(i));
            x.check(v);
            v.path.pop();
        }
    }
}

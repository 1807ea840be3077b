//! Payload pools: N payloads per task, generated and serialised before the
//! load, each labelled valid or with its injected error, so the load loop only
//! picks bytes. The injected share is exact: round(N × rate) payloads.

use cliffload_protocol::Codec;
use jiff::Timestamp;
use rand::seq::SliceRandom;
use serde_json::{Map, Value};

use crate::generate::Generator;
use crate::inject::{self, InjectKind};
use crate::model::*;
use crate::validate::{Seg, Violation, validate_value};

/// What to generate.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum ModelSpec {
    /// A `ComplexOrder`; `items` fixes the item range, else the generator's complexity.
    Order {
        /// Items per order, inclusive range.
        items: Option<(usize, usize)>,
    },
    /// A list of orders.
    OrderBatch {
        /// Orders per batch, inclusive range.
        orders: (usize, usize),
    },
    /// A `CustomerProfile`.
    Customer,
    /// A `Product`.
    Product,
    /// One `AnalyticsEvent`.
    AnalyticsEvent,
    /// A list of events.
    AnalyticsBatch {
        /// Events per batch, inclusive range.
        events: (usize, usize),
    },
    /// A `BatchProcessingRequest`.
    BatchRequest {
        /// Items per request, inclusive range.
        items: (usize, usize),
        /// KB of metadata filler.
        metadata_kb: usize,
    },
    /// A `ValidationErrorTest`.
    ValidationErrorTest,
}

impl std::fmt::Display for ModelSpec {
    /// In words, as `validate` shows it: `order (1–3 items)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let range = |(a, b): (usize, usize)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}–{b}")
            }
        };
        match self {
            ModelSpec::Order { items: Some(r) } => write!(f, "order ({} items)", range(*r)),
            ModelSpec::Order { items: None } => f.write_str("order"),
            ModelSpec::OrderBatch { orders } => {
                write!(f, "order batch ({} orders)", range(*orders))
            }
            ModelSpec::Customer => f.write_str("customer"),
            ModelSpec::Product => f.write_str("product"),
            ModelSpec::AnalyticsEvent => f.write_str("analytics event"),
            ModelSpec::AnalyticsBatch { events } => {
                write!(f, "analytics batch ({} events)", range(*events))
            }
            ModelSpec::BatchRequest { items, metadata_kb } => write!(
                f,
                "batch request ({} items, {metadata_kb} KB metadata)",
                range(*items)
            ),
            ModelSpec::ValidationErrorTest => f.write_str("validation error test"),
        }
    }
}

/// One generated payload (before wrapping and encoding).
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The value.
    pub value: Value,
    /// The error injected into it, if any.
    pub injected: Option<InjectKind>,
    /// Where validation must report the injected error (under the model's root).
    pub expect_at: Vec<Seg>,
}

/// A payload that cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    /// The model has no such injection.
    #[error("cannot inject {kind} into {model}; it takes: {}", allowed.iter().map(|k| k.name()).collect::<Vec<_>>().join(", "))]
    NotInjectable {
        /// Model name.
        model: &'static str,
        /// The kind asked for.
        kind: InjectKind,
        /// The kinds it takes.
        allowed: &'static [InjectKind],
    },
    /// `error_rate` outside 0..=1.
    #[error("error_rate must be a share from 0 to 1, got {0}")]
    Rate(f64),
    /// Serialisation failed.
    #[error("cannot encode payload: {0}")]
    Encode(String),
}

fn to_value<T: serde::Serialize>(t: &T) -> Value {
    // Plain data with string keys: cannot fail.
    serde_json::to_value(t).unwrap_or(Value::Null)
}

fn keys(path: &[&str]) -> Vec<Seg> {
    path.iter().map(|k| Seg::Key((*k).to_owned())).collect()
}

fn remove(value: &mut Value, path: &[Seg]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut v = value;
    for seg in parents {
        v = match seg {
            Seg::Key(k) => &mut v[k.as_str()],
            Seg::Index(i) => &mut v[*i],
        };
    }
    if let (Seg::Key(k), Some(obj)) = (last, v.as_object_mut()) {
        obj.remove(k);
    }
}

/// A count drawn from `lo..=hi`, both raised to at least 1.
fn between(g: &mut Generator, (lo, hi): (usize, usize)) -> usize {
    let (lo, hi) = (lo.max(1), hi.max(lo.max(1)));
    rand::RngExt::random_range(g.rng(), lo..=hi)
}

fn order(
    g: &mut Generator,
    items: Option<(usize, usize)>,
    inject: Option<InjectKind>,
) -> (Value, Vec<Seg>) {
    let mut o = match items {
        Some(r) => {
            let n = between(g, r);
            g.order_with_items(n)
        }
        None => g.order(),
    };
    let mut expect_at = Vec::new();
    if let Some(kind) = inject {
        expect_at = keys(inject::break_order(&mut o, kind, g.rng()).unwrap_or(&[]));
    }
    (to_value(&o), expect_at)
}

/// A batch whose first order carries the injection.
fn order_batch(
    g: &mut Generator,
    orders: (usize, usize),
    inject: Option<InjectKind>,
) -> (Value, Vec<Seg>) {
    let n = between(g, orders);
    let mut list: Vec<ComplexOrder> = (0..n).map(|_| g.order()).collect();
    let mut expect_at = Vec::new();
    if let Some(kind) = inject {
        expect_at = vec![Seg::Index(0)];
        expect_at.extend(keys(
            inject::break_order(&mut list[0], kind, g.rng()).unwrap_or(&[]),
        ));
    }
    (to_value(&list), expect_at)
}

/// A customer. Its `missing_required` breaks the email, like `invalid_email`,
/// instead of dropping a field.
fn customer(g: &mut Generator, inject: Option<InjectKind>) -> (Value, Vec<Seg>) {
    let mut c = g.customer();
    let mut expect_at = Vec::new();
    match inject {
        Some(InjectKind::InvalidEmail | InjectKind::MissingRequired) => {
            c.email = c.email.replace('@', "-at-");
            expect_at = keys(&["email"]);
        }
        Some(InjectKind::FutureBirthDate) => {
            let today = g.now().to_zoned(jiff::tz::TimeZone::UTC).date();
            c.date_of_birth = today.checked_add(jiff::Span::new().days(30)).ok();
            expect_at = keys(&["date_of_birth"]);
        }
        _ => {}
    }
    (to_value(&c), expect_at)
}

fn batch_request(
    g: &mut Generator,
    items: (usize, usize),
    metadata_kb: usize,
    inject: Option<InjectKind>,
) -> (Value, Vec<Seg>) {
    let n = between(g, items);
    let mut b = g.batch_request(n, metadata_kb);
    let mut expect_at = keys(&["operation_type"]);
    if inject == Some(InjectKind::OutOfRange) {
        b.priority = 99;
        expect_at = keys(&["priority"]);
    }
    (to_value(&b), expect_at)
}

fn validation_error_test(g: &mut Generator, inject: Option<InjectKind>) -> (Value, Vec<Seg>) {
    let mut t = g.validation_error_test();
    let mut expect_at = Vec::new();
    if let Some(kind) = inject {
        expect_at = keys(inject::break_validation_test(&mut t, kind).unwrap_or(&[]));
    }
    (to_value(&t), expect_at)
}

impl ModelSpec {
    /// Every model's name, as scenario files and `cliffload sample` write them.
    pub const NAMES: [&'static str; 8] = [
        "order",
        "order_batch",
        "customer",
        "product",
        "analytics_event",
        "analytics_batch",
        "batch_request",
        "validation_error_test",
    ];
    /// Orders per order batch when none is given.
    pub const DEFAULT_ORDERS: (usize, usize) = (5, 15);
    /// Events per analytics batch when none is given.
    pub const DEFAULT_EVENTS: (usize, usize) = (10, 50);
    /// Items per batch request when none is given.
    pub const DEFAULT_BATCH_ITEMS: (usize, usize) = (500, 2000);

    /// The model called `name`, with `count` (items per order or batch
    /// request, orders per order batch, events per analytics batch; the
    /// model's default when `None`) and `metadata_kb` (batch requests).
    /// `None` for a name not in [`Self::NAMES`].
    pub fn named(name: &str, count: Option<(usize, usize)>, metadata_kb: usize) -> Option<Self> {
        Some(match name {
            "order" => ModelSpec::Order { items: count },
            "order_batch" => ModelSpec::OrderBatch {
                orders: count.unwrap_or(Self::DEFAULT_ORDERS),
            },
            "customer" => ModelSpec::Customer,
            "product" => ModelSpec::Product,
            "analytics_event" => ModelSpec::AnalyticsEvent,
            "analytics_batch" => ModelSpec::AnalyticsBatch {
                events: count.unwrap_or(Self::DEFAULT_EVENTS),
            },
            "batch_request" => ModelSpec::BatchRequest {
                items: count.unwrap_or(Self::DEFAULT_BATCH_ITEMS),
                metadata_kb,
            },
            "validation_error_test" => ModelSpec::ValidationErrorTest,
            _ => return None,
        })
    }

    /// The model's name (as `cliffload sample` takes it).
    pub fn name(&self) -> &'static str {
        match self {
            ModelSpec::Order { .. } => "order",
            ModelSpec::OrderBatch { .. } => "order_batch",
            ModelSpec::Customer => "customer",
            ModelSpec::Product => "product",
            ModelSpec::AnalyticsEvent => "analytics_event",
            ModelSpec::AnalyticsBatch { .. } => "analytics_batch",
            ModelSpec::BatchRequest { .. } => "batch_request",
            ModelSpec::ValidationErrorTest => "validation_error_test",
        }
    }

    /// The injections this model takes.
    pub fn inject_kinds(&self) -> &'static [InjectKind] {
        use InjectKind::*;
        match self {
            ModelSpec::Order { .. } | ModelSpec::OrderBatch { .. } => &InjectKind::ORDER,
            ModelSpec::Customer => &[InvalidEmail, FutureBirthDate, MissingRequired],
            ModelSpec::Product | ModelSpec::AnalyticsEvent | ModelSpec::AnalyticsBatch { .. } => {
                &[MissingRequired]
            }
            ModelSpec::BatchRequest { .. } => &[MissingRequired, OutOfRange],
            ModelSpec::ValidationErrorTest => &InjectKind::VALIDATION_TEST,
        }
    }

    /// Generates one payload, with `inject` applied if given.
    pub fn sample(
        &self,
        g: &mut Generator,
        inject: Option<InjectKind>,
    ) -> Result<Sample, PayloadError> {
        if let Some(kind) = inject
            && !self.inject_kinds().contains(&kind)
        {
            return Err(PayloadError::NotInjectable {
                model: self.name(),
                kind,
                allowed: self.inject_kinds(),
            });
        }
        let (mut value, mut expect_at) = self.generate(g, inject);
        if inject.is_none() {
            expect_at.clear();
        } else if inject == Some(InjectKind::MissingRequired)
            && !matches!(self, ModelSpec::Customer)
        {
            remove(&mut value, &expect_at);
        }
        Ok(Sample {
            value,
            injected: inject,
            expect_at,
        })
    }

    /// The model's value with `inject` applied in place, and the path the
    /// injection targets. A missing field is only the path here: `sample`
    /// removes it from the JSON, since the typed models cannot lack it.
    fn generate(&self, g: &mut Generator, inject: Option<InjectKind>) -> (Value, Vec<Seg>) {
        match self {
            ModelSpec::Order { items } => order(g, *items, inject),
            ModelSpec::OrderBatch { orders } => order_batch(g, *orders, inject),
            ModelSpec::Customer => customer(g, inject),
            ModelSpec::Product => (to_value(&g.product()), keys(&["name"])),
            ModelSpec::AnalyticsEvent => {
                (to_value(&g.analytics_event(None)), keys(&["event_type"]))
            }
            ModelSpec::AnalyticsBatch { events } => {
                let n = between(g, *events);
                let first_event_type = vec![Seg::Index(0), Seg::Key("event_type".into())];
                (to_value(&g.analytics_batch(n)), first_event_type)
            }
            ModelSpec::BatchRequest { items, metadata_kb } => {
                batch_request(g, *items, *metadata_kb, inject)
            }
            ModelSpec::ValidationErrorTest => validation_error_test(g, inject),
        }
    }

    /// Validates a value as this model, paths starting at `root`.
    pub fn validate(&self, value: &Value, root: &str, now: Timestamp) -> Vec<Violation> {
        match self {
            ModelSpec::Order { .. } => validate_value::<ComplexOrder>(root, value, now),
            ModelSpec::OrderBatch { .. } => validate_value::<Vec<ComplexOrder>>(root, value, now),
            ModelSpec::Customer => validate_value::<CustomerProfile>(root, value, now),
            ModelSpec::Product => validate_value::<Product>(root, value, now),
            ModelSpec::AnalyticsEvent => validate_value::<AnalyticsEvent>(root, value, now),
            ModelSpec::AnalyticsBatch { .. } => {
                validate_value::<Vec<AnalyticsEvent>>(root, value, now)
            }
            ModelSpec::BatchRequest { .. } => {
                validate_value::<BatchProcessingRequest>(root, value, now)
            }
            ModelSpec::ValidationErrorTest => {
                validate_value::<ValidationErrorTest>(root, value, now)
            }
        }
    }
}

/// What a pool holds.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolSpec {
    /// The model.
    pub model: ModelSpec,
    /// Payloads in the pool.
    pub size: usize,
    /// Share of payloads with an injected error, 0..=1.
    pub error_rate: f64,
    /// Wrap each payload as `{arg: payload}` (a Cliffracer handler's keyword argument).
    pub arg: Option<String>,
    /// Body encoding.
    pub encoding: Codec,
}

/// One pre-built request body.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Encoded body.
    pub body: Vec<u8>,
    /// The injected error, if any.
    pub injected: Option<InjectKind>,
}

/// Builds a pool: exactly `round(size × error_rate)` entries are injected,
/// at seeded random positions, cycling through the model's kinds.
pub fn build(g: &mut Generator, spec: &PoolSpec) -> Result<Vec<Entry>, PayloadError> {
    if !(0.0..=1.0).contains(&spec.error_rate) {
        return Err(PayloadError::Rate(spec.error_rate));
    }
    let size = spec.size.max(1);
    let n_injected = (size as f64 * spec.error_rate).round() as usize;
    let kinds = spec.model.inject_kinds();
    let mut positions: Vec<usize> = (0..size).collect();
    positions.shuffle(g.rng());
    let mut injected = vec![None; size];
    for (n, &p) in positions.iter().take(n_injected).enumerate() {
        injected[p] = Some(kinds[n % kinds.len()]);
    }
    injected
        .into_iter()
        .map(|kind| {
            let s = spec.model.sample(g, kind)?;
            let value = match &spec.arg {
                Some(arg) => Value::Object(Map::from_iter([(arg.clone(), s.value)])),
                None => s.value,
            };
            Ok(Entry {
                body: spec
                    .encoding
                    .encode(&value)
                    .map_err(|e| PayloadError::Encode(e.to_string()))?,
                injected: s.injected,
            })
        })
        .collect()
}

#[cfg(test)]
mod names_tests {
    use super::ModelSpec;

    #[test]
    fn every_name_makes_the_model_of_that_name() {
        for name in ModelSpec::NAMES {
            let spec = ModelSpec::named(name, None, 1).expect("a known name");
            assert_eq!(spec.name(), name);
        }
        assert_eq!(ModelSpec::named("orders", None, 1), None);
        assert_eq!(
            ModelSpec::named("order_batch", None, 1),
            Some(ModelSpec::OrderBatch {
                orders: ModelSpec::DEFAULT_ORDERS
            })
        );
    }
}

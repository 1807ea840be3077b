//! The reference `order_processing_service` (`docs/workload.md` §3): the six
//! operations of the original suite (plus `echo`, which the real service the
//! protocol doc captured also had), validated with cliffload-payloads, with
//! business logic whose state is remembered between calls, and a simulated
//! I/O latency profile.

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use async_nats::Client;
use cliffload_payloads::{
    AnalyticsEvent, BatchProcessingRequest, ComplexOrder, PaymentMethod, Validate,
    ValidationErrorTest, parse_with,
};
use cliffload_protocol::ErrorDetail;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::cliffracer::{self, Handler, Method, Reply, ServeOptions, ServiceError};
use crate::events::{Durable, EventCounts, Listeners, Outcome, Publisher};
use crate::kwargs::{self, Kwargs, RawKwargs, details};

/// Service name: subjects are `order_processing_service.rpc.*`.
pub const NAME: &str = "order_processing_service";

/// Simulated I/O latency (the original slept); `none` measures raw service cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LatencyProfile {
    /// The delays of workload.md §3.
    #[default]
    Realistic,
    /// No simulated delays.
    None,
}

impl LatencyProfile {
    fn scaled(self, d: Duration, factor: f64) -> Duration {
        match self {
            LatencyProfile::Realistic => d.mul_f64(factor),
            LatencyProfile::None => Duration::ZERO,
        }
    }
}

/// Options of the order service.
#[derive(Debug, Clone)]
pub struct OrderConfig {
    /// Simulated I/O.
    pub latency: LatencyProfile,
    /// The realistic delays multiplied by this (1.3: a service 30 % slower
    /// in its I/O, to see a regression caught).
    pub latency_factor: f64,
    /// Orders per `batch_process_orders` call, at most.
    pub max_batch_orders: usize,
    /// Events per `analytics_ingestion` call, at most.
    pub max_events: usize,
    /// Protocol options (namespace, concurrency, request size limit).
    pub serve: ServeOptions,
    /// Whether `orders.queued` is consumed through JetStream.
    pub durable: Durable,
}

impl Default for OrderConfig {
    fn default() -> Self {
        Self {
            latency: LatencyProfile::Realistic,
            latency_factor: 1.0,
            max_batch_orders: 100,
            max_events: 10_000,
            serve: ServeOptions::default(),
            durable: Durable::default(),
        }
    }
}

const METHODS: &[Method] = &[
    Method {
        name: "process_order",
        doc: "Validate, score fraud, check inventory and business rules, save an order.",
        params: &[("order", "ComplexOrder")],
    },
    Method {
        name: "batch_process_orders",
        doc: "Process orders concurrently.",
        params: &[("orders", "list[ComplexOrder]")],
    },
    Method {
        name: "analytics_ingestion",
        doc: "Aggregate analytics events.",
        params: &[("events", "list[AnalyticsEvent]")],
    },
    Method {
        name: "large_payload_processing",
        doc: "Check every item of a large batch.",
        params: &[("batch_request", "BatchProcessingRequest")],
    },
    Method {
        name: "error_scenario_test",
        doc: "Validate a ValidationErrorTest (invalid input is the expected path).",
        params: &[("test_data", "ValidationErrorTest")],
    },
    Method {
        name: "get_service_metrics",
        doc: "Counters and timings of this instance.",
        params: &[],
    },
    Method {
        name: "echo",
        doc: "Return the message unchanged.",
        params: &[("message", "str")],
    },
];

#[derive(Debug, Default)]
struct State {
    /// Fraud baseline (0–0.3) and orders seen, per customer.
    customers: HashMap<String, (f64, u64)>,
    /// Stock per SKU, first taken from the order's product snapshot.
    stock: HashMap<String, i64>,
    processed: u64,
    failed: u64,
    revenue: Decimal,
    processing_ms_total: f64,
    recent_ms: VecDeque<f64>,
}

#[derive(Debug, Default)]
struct Timings {
    validation_ns: AtomicU64,
    serialization_ns: AtomicU64,
    business_ns: AtomicU64,
    database_ns: AtomicU64,
}

fn add(counter: &AtomicU64, d: Duration) {
    counter.fetch_add(d.as_nanos() as u64, Ordering::Relaxed);
}

fn ms(counter: &AtomicU64) -> f64 {
    (counter.load(Ordering::Relaxed) as f64 / 1e6 * 1000.0).round() / 1000.0
}

/// The handler of `order_processing_service`.
#[derive(Debug)]
pub struct OrderService {
    config: OrderConfig,
    state: Mutex<State>,
    timings: Timings,
    noise: AtomicU64,
    /// Where `process_order` publishes its effect: the connection of the
    /// first [`run`] (none before, e.g. an HTTP-only service).
    effects: OnceLock<Arc<Publisher>>,
    events: EventCounts,
}

/// A uniform value in [0, 1) from a counter (splitmix64): noise without a lock.
fn unit(counter: &AtomicU64) -> f64 {
    let mut z = counter
        .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) as f64 / u64::MAX as f64
}

/// A method's arguments once read, whichever way: straight from the body's
/// bytes ([`Handler::call_typed`]) or out of the decoded map
/// ([`Handler::call`]). Validation rules run on them after, either way.
#[derive(Debug)]
enum Args {
    /// Boxed: inline, the order's 1.4 KB was stored again in each of the
    /// nested futures a request goes through (15 KB per request, moved at
    /// each spawn and poll: memmove was 17% of `process_order` in perf);
    /// boxed, that future is 1.4 KB.
    Order(Box<ComplexOrder>),
    Orders(Vec<ComplexOrder>),
    Events(Vec<AnalyticsEvent>),
    TestData(ValidationErrorTest),
    Echo(String),
}

/// The keyword arguments of one method as decoded straight from the body,
/// with `correlation_id`, which every request may carry. Any other key, a
/// missing or repeated one, or a `correlation_id` that is not a string
/// fails the decode: such a request goes the `Value` way, which answers it.
macro_rules! kwargs_struct {
    ($name:ident { $arg:ident: $ty:ty }) => {
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct $name {
            $arg: $ty,
            correlation_id: Option<String>,
        }
    };
}

kwargs_struct!(OrderKwargs {
    order: Box<ComplexOrder>
});
kwargs_struct!(OrdersKwargs { orders: Vec<ComplexOrder> });
kwargs_struct!(EventsKwargs { events: Vec<AnalyticsEvent> });
kwargs_struct!(TestDataKwargs {
    test_data: ValidationErrorTest
});
kwargs_struct!(EchoKwargs { message: String });

/// Outcome of one order, for single and batch replies.
enum OrderResult {
    Done(Value),
    Refused(String),
}

impl OrderService {
    /// A service with fresh state.
    pub fn new(config: OrderConfig) -> Self {
        Self {
            config,
            state: Mutex::new(State::default()),
            timings: Timings::default(),
            noise: AtomicU64::new(0x5EED),
            effects: OnceLock::new(),
            events: EventCounts::default(),
        }
    }

    /// Event counters: events processed, dead letters, effects published.
    pub fn event_counts(&self) -> &EventCounts {
        &self.events
    }

    /// An event's order out of its keyword arguments, as `process_order`
    /// reads its own: missing, extra and ill-typed keys refused.
    pub(crate) fn read_order(
        &self,
        kwargs: Map<String, Value>,
    ) -> Result<Box<ComplexOrder>, Vec<ErrorDetail>> {
        take("order", kwargs)
            .and_then(|v| self.read("order", v))
            .map_err(invalid_details)
    }

    /// `order` if it breaks no validation rule.
    pub(crate) fn check_order(
        &self,
        order: Box<ComplexOrder>,
    ) -> Result<Box<ComplexOrder>, Vec<ErrorDetail>> {
        self.checked("order", order).map_err(invalid_details)
    }

    /// An event's work: `process_order`'s, on a validated order.
    pub(crate) async fn process_event(&self, order: &ComplexOrder) -> Outcome {
        match self.process(order).await {
            OrderResult::Done(_) => Outcome::Processed,
            OrderResult::Refused(why) => Outcome::Refused(why),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the counters invalid
        // enough to matter; keep serving.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn io(&self, d: Duration) {
        let d = self.config.latency.scaled(d, self.config.latency_factor);
        if !d.is_zero() {
            let t = Instant::now();
            tokio::time::sleep(d).await;
            add(&self.timings.database_ns, t.elapsed());
        }
    }

    /// Reads and validates one argument as a `T` (moving its strings out of the value).
    fn parse<T: DeserializeOwned + Validate>(&self, root: &str, value: Value) -> Result<T, Reply> {
        self.checked(root, self.read(root, value)?)
    }

    /// Reads one argument as a `T` (moving its strings out of the value).
    fn read<T: DeserializeOwned>(&self, root: &str, value: Value) -> Result<T, Reply> {
        let t0 = Instant::now();
        let parsed = parse_with::<T, _>(root, value);
        add(&self.timings.serialization_ns, t0.elapsed());
        parsed.map_err(|v| Reply::Invalid(details(&v)))
    }

    /// `t` if it breaks no validation rule.
    fn checked<T: Validate>(&self, root: &str, t: T) -> Result<T, Reply> {
        let t1 = Instant::now();
        let violations = t.validate(root, jiff::Timestamp::now());
        add(&self.timings.validation_ns, t1.elapsed());
        if violations.is_empty() {
            Ok(t)
        } else {
            Err(Reply::Invalid(details(&violations)))
        }
    }

    /// The arguments of `method`, straight from the body's bytes, with the
    /// body's correlation id; `None` for a method without typed arguments or
    /// a body they cannot be read from.
    fn args_from_body(&self, method: &str, raw: RawKwargs<'_>) -> Option<(Args, Option<String>)> {
        let t0 = Instant::now();
        let read = match method {
            "process_order" => raw
                .decode::<OrderKwargs>()
                .map(|k| (Args::Order(k.order), k.correlation_id)),
            "batch_process_orders" => raw
                .decode::<OrdersKwargs>()
                .map(|k| (Args::Orders(k.orders), k.correlation_id)),
            "analytics_ingestion" => raw
                .decode::<EventsKwargs>()
                .map(|k| (Args::Events(k.events), k.correlation_id)),
            "error_scenario_test" => raw
                .decode::<TestDataKwargs>()
                .map(|k| (Args::TestData(k.test_data), k.correlation_id)),
            "echo" => raw
                .decode::<EchoKwargs>()
                .map(|k| (Args::Echo(k.message), k.correlation_id)),
            // large_payload_processing reports the size of its argument as
            // re-encoded JSON, which takes the Value; metrics takes nothing.
            _ => None,
        };
        add(&self.timings.serialization_ns, t0.elapsed());
        read
    }

    /// The arguments of `method` out of the decoded map: missing and extra
    /// keys, lists over their limit (refused unread) and wrong types are
    /// refused here, as pydantic would.
    fn args_from_map(&self, method: &str, args: Map<String, Value>) -> Result<Args, Reply> {
        Ok(match method {
            "process_order" => Args::Order(Box::new(self.read("order", take("order", args)?)?)),
            "batch_process_orders" => {
                let orders = take("orders", args)?;
                let n = orders.as_array().map_or(0, Vec::len);
                if n > self.config.max_batch_orders {
                    return Err(too_many("orders", n, self.config.max_batch_orders));
                }
                Args::Orders(self.read("orders", orders)?)
            }
            "analytics_ingestion" => {
                let events = take("events", args)?;
                let n = events.as_array().map_or(0, Vec::len);
                if n > self.config.max_events {
                    return Err(too_many("events", n, self.config.max_events));
                }
                Args::Events(self.read("events", events)?)
            }
            "error_scenario_test" => {
                Args::TestData(self.read("test_data", take("test_data", args)?)?)
            }
            "echo" => match crate::test_service::echo(Kwargs::new(&args)) {
                Reply::Ok(Value::String(m)) => Args::Echo(m),
                other => return Err(other),
            },
            _ => return Err(Reply::Unknown),
        })
    }

    /// Runs a method on its arguments, however they were read: validation
    /// rules first, then the work.
    async fn run(&self, args: Args) -> Reply {
        match args {
            Args::Order(order) => self.process_order(order).await,
            Args::Orders(orders) => self.batch_process_orders(orders).await,
            Args::Events(events) => self.analytics_ingestion(events).await,
            Args::TestData(data) => self.error_scenario_test(data),
            Args::Echo(message) => Reply::Ok(Value::String(message)),
        }
    }

    /// Fraud score, stock, business rules, then save: the first step that
    /// refuses the order ends it.
    async fn process(&self, order: &ComplexOrder) -> OrderResult {
        let started = Instant::now();
        let (score, orders_before) = self.fraud_score(order).await;
        if score > 0.8 {
            return self.refuse(format!("fraud score {score} above 0.8"));
        }
        let shortfalls = self.stock_shortfalls(order).await;
        if !shortfalls.is_empty() {
            return self.refuse(format!("insufficient stock: {}", shortfalls.join("; ")));
        }
        let violations = self.rule_violations(order, orders_before).await;
        if !violations.is_empty() {
            return self.refuse(format!(
                "business rule violation: {}",
                violations.join("; ")
            ));
        }
        let elapsed_ms = self.save(order, started).await;
        OrderResult::Done(self.receipt(order, score, elapsed_ms))
    }

    /// Amount, a remembered per-customer baseline, method and noise, rounded
    /// to 0.001; with the customer's orders before this one. Counts the order
    /// against its customer even if a later step refuses it: a customer is
    /// new until their first order reaches us, accepted or not.
    async fn fraud_score(&self, order: &ComplexOrder) -> (f64, u64) {
        self.io(Duration::from_millis(1)).await;
        let t = Instant::now();
        let (baseline, orders_before) = {
            let mut st = self.state();
            let entry = st
                .customers
                .entry(order.customer.customer_id.clone())
                .or_insert_with(|| (unit(&self.noise) * 0.3, 0));
            let before = *entry;
            entry.1 += 1;
            before
        };
        let mut score = baseline + unit(&self.noise) * 0.2;
        if order.total_amount > Decimal::from(5000) {
            score += 0.2;
        }
        if order.payment.method == PaymentMethod::Crypto {
            score += 0.3;
        }
        add(&self.timings.business_ns, t.elapsed());
        ((score * 1000.0).round() / 1000.0, orders_before)
    }

    /// The items whose SKU lacks the stock asked for, in words. Stock is
    /// remembered per SKU, starting from the order's product snapshot.
    async fn stock_shortfalls(&self, order: &ComplexOrder) -> Vec<String> {
        self.io(Duration::from_micros(500) * order.items.len() as u32)
            .await;
        let t = Instant::now();
        let shortfalls = {
            let mut st = self.state();
            order
                .items
                .iter()
                .filter_map(|item| {
                    let initial = item
                        .product_snapshot
                        .variants
                        .iter()
                        .find(|v| v.sku == item.variant_sku)
                        .map_or(0, |v| v.stock_quantity);
                    let stock = st.stock.entry(item.variant_sku.clone()).or_insert(initial);
                    if *stock >= item.quantity {
                        None
                    } else {
                        let msg = format!(
                            "{} (requested {}, available {})",
                            item.variant_sku, item.quantity, *stock
                        );
                        // Replenished for later orders, as a warehouse would.
                        *stock += 1000;
                        Some(msg)
                    }
                })
                .collect()
        };
        add(&self.timings.business_ns, t.elapsed());
        shortfalls
    }

    /// The business rules the order breaks, each a named violation.
    async fn rule_violations(&self, order: &ComplexOrder, orders_before: u64) -> Vec<&'static str> {
        self.io(Duration::from_millis(2)).await;
        let total = order.total_amount;
        let international = order.shipping.shipping_address.country != "US";
        let mut violations = Vec::new();
        if orders_before == 0 && total > Decimal::from(1000) {
            violations.push("new_customer_limit: first order over 1000");
        }
        if international && total > Decimal::from(10_000) {
            violations.push("international_limit: international order over 10000");
        }
        if !order.fraud_check_passed && total > Decimal::from(500) {
            violations.push("failed_fraud_check_limit: failed fraud check with an order over 500");
        }
        violations
    }

    /// Saves the order, updates the customer and reserves the stock; returns
    /// the order's processing time in ms, from `started` to saved.
    async fn save(&self, order: &ComplexOrder, started: Instant) -> f64 {
        self.io(Duration::from_millis(5)).await;
        self.io(Duration::from_millis(2)).await;
        self.io(Duration::from_millis(1)).await;
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        let mut st = self.state();
        for item in &order.items {
            if let Some(s) = st.stock.get_mut(&item.variant_sku) {
                *s -= item.quantity;
            }
        }
        st.processed += 1;
        st.revenue += order.total_amount;
        st.processing_ms_total += elapsed_ms;
        st.recent_ms.push_back(elapsed_ms);
        if st.recent_ms.len() > 100 {
            st.recent_ms.pop_front();
        }
        elapsed_ms
    }

    fn receipt(&self, order: &ComplexOrder, score: f64, elapsed_ms: f64) -> Value {
        let tracking = format!("TRK{:012X}", (unit(&self.noise) * 2f64.powi(48)) as u64);
        json!({
            "order_id": order.order_id,
            "status": "processed",
            "tracking_number": tracking,
            "total": order.total_amount.to_string(),
            "processing_time_ms": (elapsed_ms * 1000.0).round() / 1000.0,
            "fraud_score": score,
        })
    }

    fn refuse(&self, reason: String) -> OrderResult {
        self.state().failed += 1;
        OrderResult::Refused(reason)
    }

    async fn process_order(&self, order: Box<ComplexOrder>) -> Reply {
        let order = match self.checked("order", order) {
            Ok(o) => o,
            Err(r) => return r,
        };
        let result = self.process(&order).await;
        if let Some(publisher) = self.effects.get() {
            let outcome = match &result {
                OrderResult::Done(_) => Outcome::Processed,
                OrderResult::Refused(why) => Outcome::Refused(why.clone()),
            };
            let corr = cliffracer::correlation_id().unwrap_or_default();
            // As a handler's publish_event: the reply does not wait on the
            // effect's subscribers, and a closed connection has no reply either.
            let _ = publisher
                .effect(&self.events, &corr, &order.order_id, &outcome)
                .await;
        }
        match result {
            OrderResult::Done(v) => Reply::Ok(v),
            OrderResult::Refused(why) => Reply::Refused(why),
        }
    }

    async fn batch_process_orders(&self, orders: Vec<ComplexOrder>) -> Reply {
        // Read straight from the body, a list over the limit gets here.
        if orders.len() > self.config.max_batch_orders {
            return too_many("orders", orders.len(), self.config.max_batch_orders);
        }
        let orders = match self.checked("orders", orders) {
            Ok(o) => o,
            Err(r) => return r,
        };
        if orders.is_empty() {
            return too_few("orders");
        }
        let started = Instant::now();
        let results = futures_util::future::join_all(orders.iter().map(|o| self.process(o))).await;
        let secs = started.elapsed().as_secs_f64().max(1e-9);
        let successful = results
            .iter()
            .filter(|r| matches!(r, OrderResult::Done(_)))
            .count();
        let per_order: Vec<Value> = results
            .into_iter()
            .map(|r| match r {
                OrderResult::Done(v) => json!({"success": true, "result": v}),
                OrderResult::Refused(why) => {
                    json!({"success": false, "error": format!("refused: {why}")})
                }
            })
            .collect();
        let total = per_order.len();
        Reply::Ok(json!({
            "total_orders": total,
            "successful": successful,
            "failed": total - successful,
            "orders_per_second": (total as f64 / secs * 10.0).round() / 10.0,
            "results": per_order,
        }))
    }

    async fn analytics_ingestion(&self, events: Vec<AnalyticsEvent>) -> Reply {
        // Read straight from the body, a list over the limit gets here.
        if events.len() > self.config.max_events {
            return too_many("events", events.len(), self.config.max_events);
        }
        let events = match self.checked("events", events) {
            Ok(e) => e,
            Err(r) => return r,
        };
        if events.is_empty() {
            return too_few("events");
        }
        let started = Instant::now();
        self.io(Duration::from_millis(1) * events.len() as u32)
            .await;
        let t = Instant::now();
        let mut by_type: HashMap<&str, u64> = HashMap::new();
        let mut users: HashSet<&str> = HashSet::new();
        let (mut sum, mut valued) = (0.0, 0u64);
        for e in &events {
            *by_type.entry(e.event_type.as_str()).or_default() += 1;
            if let Some(u) = &e.user_id {
                users.insert(u);
            }
            if let Some(v) = e.properties.get("value").and_then(Value::as_f64) {
                sum += v;
                valued += 1;
            }
        }
        add(&self.timings.business_ns, t.elapsed());
        let secs = started.elapsed().as_secs_f64().max(1e-9);
        Reply::Ok(json!({
            "processed_events": events.len(),
            "event_types": by_type,
            "unique_users": users.len(),
            "value_sum": (sum * 100.0).round() / 100.0,
            "value_mean": if valued > 0 { (sum / valued as f64 * 100.0).round() / 100.0 } else { 0.0 },
            "events_per_second": (events.len() as f64 / secs * 10.0).round() / 10.0,
        }))
    }

    async fn large_payload_processing(&self, args: Map<String, Value>) -> Reply {
        let batch = match take("batch_request", args) {
            Ok(v) => v,
            Err(r) => return r,
        };
        let size = serde_json::to_vec(&batch).map_or(0, |v| v.len());
        let batch = match self.parse::<BatchProcessingRequest>("batch_request", batch) {
            Ok(b) => b,
            Err(r) => return r,
        };
        let started = Instant::now();
        self.io(Duration::from_micros(100) * batch.items.len() as u32)
            .await;
        let failed = batch.items.iter().filter(|i| !i.contains_key("id")).count();
        let processed = batch.items.len() - failed;
        let secs = started.elapsed().as_secs_f64().max(1e-9);
        let mb = size as f64 / (1024.0 * 1024.0);
        Reply::Ok(json!({
            "batch_id": batch.batch_id,
            "processed_items": processed,
            "failed_items": failed,
            "items_per_second": (batch.items.len() as f64 / secs * 10.0).round() / 10.0,
            "payload_size_mb": (mb * 10_000.0).round() / 10_000.0,
            "items_per_mb": if mb > 0.0 { (batch.items.len() as f64 / mb).round() } else { 0.0 },
        }))
    }

    fn error_scenario_test(&self, data: ValidationErrorTest) -> Reply {
        match self.checked("test_data", data) {
            Ok(t) => Reply::Ok(json!({"valid": true, "complex_pattern": t.complex_pattern})),
            Err(r) => r,
        }
    }

    fn metrics(&self) -> Reply {
        let st = self.state();
        let all = st.processed + st.failed;
        Reply::Ok(json!({
            "processed_orders": st.processed,
            "failed_orders": st.failed,
            "success_rate": if all > 0 { st.processed as f64 / all as f64 } else { 0.0 },
            "total_revenue": st.revenue.to_string(),
            "average_processing_time_ms": if st.processed > 0 { st.processing_ms_total / st.processed as f64 } else { 0.0 },
            "customers_cached": st.customers.len(),
            "skus_cached": st.stock.len(),
            "recent_processing_times_ms": st.recent_ms.iter().rev().take(10).collect::<Vec<_>>(),
            "validation_time_ms": ms(&self.timings.validation_ns),
            "serialization_time_ms": ms(&self.timings.serialization_ns),
            "business_logic_time_ms": ms(&self.timings.business_ns),
            "database_simulation_time_ms": ms(&self.timings.database_ns),
            "latency_profile": match self.config.latency { LatencyProfile::Realistic => "realistic", LatencyProfile::None => "none" },
        }))
    }

    /// Revenue so far (for tests).
    pub fn revenue(&self) -> f64 {
        self.state().revenue.to_f64().unwrap_or(0.0)
    }

    /// Orders processed so far (for tests).
    pub fn processed(&self) -> u64 {
        self.state().processed
    }
}

fn take(key: &'static str, args: Map<String, Value>) -> Result<Value, Reply> {
    kwargs::take_one(key, args).map_err(Reply::Invalid)
}

fn invalid_details(reply: Reply) -> Vec<ErrorDetail> {
    match reply {
        Reply::Invalid(details) => details,
        _ => Vec::new(),
    }
}

fn too_many(key: &str, n: usize, max: usize) -> Reply {
    Reply::Invalid(vec![kwargs::too_long(key, n, max)])
}

fn too_few(key: &str) -> Reply {
    Reply::Invalid(vec![kwargs::too_short(key)])
}

impl Handler for OrderService {
    fn name(&self) -> &str {
        NAME
    }

    fn methods(&self) -> &[Method] {
        METHODS
    }

    async fn call(&self, method: &str, args: Map<String, Value>) -> Reply {
        match method {
            "large_payload_processing" => self.large_payload_processing(args).await,
            "get_service_metrics" => match Kwargs::new(&args).finish() {
                Ok(()) => self.metrics(),
                Err(e) => Reply::Invalid(e),
            },
            _ => match self.args_from_map(method, args) {
                Ok(args) => self.run(args).await,
                Err(refused) => refused,
            },
        }
    }

    fn call_typed(
        &self,
        method: &str,
        args: RawKwargs<'_>,
    ) -> Option<(impl Future<Output = Reply> + Send, Option<String>)> {
        let (args, correlation_id) = self.args_from_body(method, args)?;
        Some((self.run(args), correlation_id))
    }
}

/// Runs the order service on `client` until `shutdown` completes: its
/// methods (`cliffracer::serve`) and its event listeners
/// ([`crate::events`]), which are subscribed before the service registers,
/// so a service that answers `$SRV.PING` takes events too.
pub async fn run(
    client: Client,
    service: Arc<OrderService>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServiceError> {
    let options = service.config.serve.clone();
    let namespace = options.namespace.as_deref();
    let listeners = Listeners::start(&client, namespace, service.config.durable).await?;
    let _ = service.effects.set(listeners.publisher());
    let shutdown = futures_util::FutureExt::shared(Box::pin(shutdown));
    let max_in_flight = options.max_in_flight;
    let served = cliffracer::serve(client, service.clone(), options, shutdown.clone());
    let listening = listeners.run(service, max_in_flight, shutdown);
    tokio::pin!(served, listening);
    // Either ends on shutdown; serve also on an error, which ends the
    // listeners (dropped: unsubscribed) with it.
    tokio::select! {
        r = &mut served => r,
        () = &mut listening => served.await,
    }
}

//! Seeded, realistic generators (`docs/workload.md` §2). The same seed and the
//! same `now` give byte-identical payloads: ChaCha8 is portable, and every
//! value (including timestamps) derives from the seed and `now`, never from
//! the clock.

use fake::Fake;
use fake::faker::address::en::{CityName, StateAbbr, StreetName, StreetSuffix};
use fake::faker::company::en::{CatchPhrase, CompanyName};
use fake::faker::internet::en::{IPv4, SafeEmail, UserAgent};
use fake::faker::lorem::en::{Paragraph, Sentence, Word, Words};
use fake::faker::name::en::{FirstName, LastName};
use jiff::{SignedDuration, Timestamp};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::model::*;

/// Items per order (the original's `order_complexity`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OrderComplexity {
    /// Fewest items.
    pub min_items: usize,
    /// Most items.
    pub max_items: usize,
    /// Mean number of items (before clipping at `max_items`).
    pub average_items: f64,
}

impl Default for OrderComplexity {
    fn default() -> Self {
        Self {
            min_items: 1,
            max_items: 8,
            average_items: 3.0,
        }
    }
}

/// Generator settings (the original's `data_generation`).
#[derive(Debug, Clone, PartialEq)]
pub struct GenConfig {
    /// Seed of everything generated.
    pub seed: u64,
    /// The instant generated times are relative to (ship dates after it,
    /// birth dates before it).
    pub now: Timestamp,
    /// Customers generated once and reused by orders.
    pub customer_pool_size: usize,
    /// Products generated once and reused by orders.
    pub product_pool_size: usize,
    /// Items per order.
    pub order: OrderComplexity,
}

impl GenConfig {
    /// The original's defaults (1000 customers, 500 products, 1–8 items, 3 on average).
    pub fn new(seed: u64, now: Timestamp) -> Self {
        Self {
            seed,
            now,
            customer_pool_size: 1000,
            product_pool_size: 500,
            order: OrderComplexity::default(),
        }
    }
}

/// Makes payloads. Owns its RNG and the customer and product pools.
#[derive(Debug)]
pub struct Generator {
    rng: ChaCha8Rng,
    now: Timestamp,
    order: OrderComplexity,
    customers: Vec<CustomerProfile>,
    products: Vec<Product>,
}

const TAX_RATE: Decimal = Decimal::from_parts(85, 0, 0, false, 3);
const EVENT_TYPES: [&str; 10] = [
    "page_view",
    "click",
    "scroll",
    "form_submit",
    "purchase",
    "add_to_cart",
    "remove_from_cart",
    "search",
    "login",
    "logout",
];
const FRAUD_FLAGS: [&str; 4] = [
    "high_velocity",
    "unusual_location",
    "new_device",
    "suspicious_pattern",
];
const SERVICE_LEVELS: [(&str, u32); 4] = [
    ("standard", 10),
    ("express", 15),
    ("two-day", 20),
    ("overnight", 30),
];

fn cents(c: i64) -> Decimal {
    Decimal::new(c, 2)
}

fn round2(d: Decimal) -> Decimal {
    d.round_dp(2)
}

/// Grams the items weigh, each at its variant's weight (500 g when the
/// snapshot lacks the variant).
fn shipping_weight(items: &[OrderItem]) -> i64 {
    items
        .iter()
        .map(|i| {
            let w = i
                .product_snapshot
                .variants
                .iter()
                .find(|v| v.sku == i.variant_sku)
                .map_or(500, |v| v.weight_grams);
            w * i.quantity
        })
        .sum()
}

/// 5.99 plus 0.001 per gram, times the service level's factor in tenths.
fn shipping_cost(weight: i64, factor: u32) -> Decimal {
    round2(
        (cents(599) + Decimal::from(weight) * Decimal::new(1, 3))
            * Decimal::new(i64::from(factor), 1),
    )
}

impl Generator {
    /// A generator with its pools built.
    pub fn new(config: &GenConfig) -> Self {
        let mut g = Self {
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            now: config.now,
            order: config.order,
            customers: Vec::new(),
            products: Vec::new(),
        };
        g.customers = (0..config.customer_pool_size.max(1))
            .map(|_| g.customer())
            .collect();
        g.products = (0..config.product_pool_size.max(1))
            .map(|_| g.product())
            .collect();
        g
    }

    /// The instant times are relative to.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// The generator's RNG (for choices made by callers, such as injection).
    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }

    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.rng.random_range(0..xs.len())]
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    fn hex(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b"0123456789ABCDEF"[self.rng.random_range(0..16)]))
            .collect()
    }

    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.rng.random_range(0..10u8)))
            .collect()
    }

    fn uuid(&mut self) -> Uuid {
        uuid::Builder::from_random_bytes(self.rng.random()).into_uuid()
    }

    fn ago(&mut self, max_secs: i64) -> Timestamp {
        let secs = self.rng.random_range(0..=max_secs);
        self.now
            .checked_sub(SignedDuration::from_secs(secs))
            .unwrap_or(self.now)
    }

    fn ahead(&mut self, min_secs: i64, max_secs: i64) -> Timestamp {
        let secs = self.rng.random_range(min_secs..=max_secs);
        self.now
            .checked_add(SignedDuration::from_secs(secs))
            .unwrap_or(self.now)
    }

    fn sentence(&mut self, words: std::ops::Range<usize>, max_chars: usize) -> String {
        let s: String = Sentence(words).fake_with_rng(&mut self.rng);
        s.chars().take(max_chars).collect()
    }

    /// A postal address.
    pub fn address(&mut self) -> Address {
        let number = self.rng.random_range(1..9999);
        let street: String = StreetName().fake_with_rng(&mut self.rng);
        let suffix: String = StreetSuffix().fake_with_rng(&mut self.rng);
        let zip = if self.chance(0.3) {
            format!("{}-{}", self.digits(5), self.digits(4))
        } else {
            self.digits(5)
        };
        let city: String = CityName().fake_with_rng(&mut self.rng);
        Address {
            street_address: format!("{number} {street} {suffix}"),
            apartment: self
                .chance(0.3)
                .then(|| format!("Apt {}", self.rng.random_range(1..999))),
            city: if city.chars().count() < 2 {
                format!("{city} City")
            } else {
                city
            },
            state: StateAbbr().fake_with_rng(&mut self.rng),
            postal_code: zip,
            country: "US".into(),
            latitude: Some((self.rng.random_range(-90.0..=90.0f64) * 1e6).round() / 1e6),
            longitude: Some((self.rng.random_range(-180.0..=180.0f64) * 1e6).round() / 1e6),
            is_residential: self.chance(0.8),
            delivery_instructions: self.chance(0.2).then(|| self.sentence(4..12, 500)),
        }
    }

    /// A customer.
    pub fn customer(&mut self) -> CustomerProfile {
        let n_addresses = self.rng.random_range(1..=3);
        let tier = *self.pick(&[
            LoyaltyTier::Bronze,
            LoyaltyTier::Bronze,
            LoyaltyTier::Silver,
            LoyaltyTier::Gold,
            LoyaltyTier::Platinum,
        ]);
        let dob = self.chance(0.7).then(|| {
            let days = self.rng.random_range(18 * 365..80 * 365);
            let today = self.now.to_zoned(jiff::tz::TimeZone::UTC).date();
            today
                .checked_sub(jiff::Span::new().days(days))
                .unwrap_or(today)
        });
        CustomerProfile {
            customer_id: format!("CUST-{}", self.hex(8)),
            email: SafeEmail().fake_with_rng(&mut self.rng),
            phone: format!("+1{}", self.digits(10)),
            first_name: FirstName().fake_with_rng(&mut self.rng),
            last_name: LastName().fake_with_rng(&mut self.rng),
            date_of_birth: dob,
            addresses: (0..n_addresses).map(|_| self.address()).collect(),
            preferred_language: self.pick(&["en", "en", "es", "fr", "de"]).to_string(),
            marketing_consent: self.chance(0.6),
            loyalty_tier: tier,
            account_balance: cents(self.rng.random_range(0..50_000)),
            preferences:
                json!({"newsletter": self.chance(0.5), "theme": *self.pick(&["light", "dark"])})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
        }
    }

    fn variant(&mut self, product_id: &str, i: usize, category: ProductCategory) -> ProductVariant {
        let color = *self.pick(&["black", "white", "red", "blue", "green", "silver"]);
        let size = *self.pick(&["S", "M", "L", "XL", "one-size"]);
        let dims = [
            ("length", 5.0, 120.0),
            ("width", 2.0, 80.0),
            ("height", 1.0, 60.0),
        ]
        .into_iter()
        .map(|(k, lo, hi)| {
            (
                k.to_owned(),
                (self.rng.random_range(lo..hi) * 10.0f64).round() / 10.0,
            )
        })
        .collect();
        ProductVariant {
            sku: format!("SKU-{}-{i}", &product_id[4..]),
            name: format!("{color} / {size}"),
            attributes: [
                ("color".to_owned(), color.to_owned()),
                ("size".to_owned(), size.to_owned()),
            ]
            .into(),
            // Log-uniform from 4.99 to 499.99: most items are cheap, a few dear
            // (median ≈ 50), as in a real catalogue.
            price: cents((499.0f64 * (100.2f64).powf(self.rng.random::<f64>())).round() as i64),
            weight_grams: self.rng.random_range(50..=5_000),
            dimensions_cm: dims,
            stock_quantity: self.rng.random_range(0..=1_000),
            is_digital: category == ProductCategory::Books && self.chance(0.1),
        }
    }

    /// A product with 1–5 variants.
    pub fn product(&mut self) -> Product {
        let product_id = format!("PRD-{}", self.hex(8));
        let category = *self.pick(ProductCategory::ALL);
        let n_variants = self.rng.random_range(1..=5);
        let created = self.ago(3 * 365 * 86_400);
        let updated = created
            .checked_add(SignedDuration::from_secs(
                self.rng.random_range(0..86_400 * 30),
            ))
            .unwrap_or(created);
        let name: String = CatchPhrase().fake_with_rng(&mut self.rng);
        let description = self.sentence(8..30, 2000);
        let n_images = self.rng.random_range(1..=3);
        let tags: Vec<String> = Words(1..5).fake_with_rng(&mut self.rng);
        Product {
            variants: (0..n_variants)
                .map(|i| self.variant(&product_id, i, category))
                .collect(),
            images: (0..n_images)
                .map(|i| format!("https://cdn.example.com/p/{product_id}/{i}.jpg"))
                .collect(),
            name: name.chars().take(200).collect(),
            description: if description.chars().count() < 10 {
                format!("{description} — well made.")
            } else {
                description
            },
            category,
            brand: CompanyName()
                .fake_with_rng::<String, _>(&mut self.rng)
                .chars()
                .take(100)
                .collect(),
            tags,
            reviews_average: f64::from(self.rng.random_range(0..=50u32)) / 10.0,
            reviews_count: self.rng.random_range(0..5_000),
            created_at: created,
            updated_at: updated,
            metadata: json!({"warehouse": format!("WH-{}", self.rng.random_range(1..20))})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            product_id,
        }
    }

    /// Items for one order: geometric around `average_items`, clipped to the range.
    fn item_count(&mut self) -> usize {
        let c = self.order;
        let extra_mean = (c.average_items - c.min_items as f64).max(0.0);
        let p = 1.0 / (1.0 + extra_mean);
        let mut n = c.min_items;
        while n < c.max_items && !self.chance(p) {
            n += 1;
        }
        n
    }

    fn item(&mut self) -> OrderItem {
        let product = self.products[self.rng.random_range(0..self.products.len())].clone();
        let variant = self.pick(&product.variants).clone();
        // Mostly one of a thing: 1 (50%), 2 (25%), 3 (12%), 4 (8%), 5 (5%).
        let quantity = match self.rng.random_range(0..100) {
            0..50 => 1,
            50..75 => 2,
            75..87 => 3,
            87..95 => 4,
            _ => 5i64,
        };
        let line = variant.price * Decimal::from(quantity);
        let discount = if self.chance(0.2) {
            round2(line * cents(self.rng.random_range(5..=20)))
        } else {
            Decimal::ZERO
        };
        let tax = round2((line - discount) * TAX_RATE);
        OrderItem {
            item_id: self.uuid(),
            product_id: product.product_id.clone(),
            variant_sku: variant.sku.clone(),
            quantity,
            unit_price: variant.price,
            discount_amount: discount,
            tax_amount: tax,
            total_price: line - discount + tax,
            product_snapshot: product,
            special_instructions: self.chance(0.1).then(|| self.sentence(3..10, 500)),
        }
    }

    /// An order with the configured number of items.
    pub fn order(&mut self) -> ComplexOrder {
        let n = self.item_count();
        self.order_with_items(n)
    }

    /// An order with exactly `n` items (at least 1).
    ///
    /// The steps draw from the RNG in a fixed order (customer, items, service
    /// level, discount, times, payment, shipping, then the order's own
    /// fields): reordering them changes every payload of a seed, which
    /// `tests/it/pinned.rs` catches.
    pub fn order_with_items(&mut self, n: usize) -> ComplexOrder {
        let customer = self.customers[self.rng.random_range(0..self.customers.len())].clone();
        let items: Vec<OrderItem> = (0..n.max(1)).map(|_| self.item()).collect();
        let subtotal: Decimal = items.iter().map(|i| i.total_price).sum();
        let weight = shipping_weight(&items);
        let (level, factor) = *self.pick(&SERVICE_LEVELS);
        let shipping_cost = shipping_cost(weight, factor);
        let tax_amount = round2(shipping_cost * TAX_RATE);
        let discount = self.order_discount(subtotal);
        let total = subtotal + tax_amount + shipping_cost - discount;
        let created = self.ago(72 * 3600);
        let risk: f64 = (self.rng.random::<f64>() * 1e4).round() / 1e4;
        let payment = self.payment(&customer, total, created, risk);
        let address = customer.addresses[0].clone();
        let shipping = self.shipping(level, address, shipping_cost, weight, total);
        ComplexOrder {
            order_id: format!("ORD-{}", self.hex(8)),
            customer,
            items,
            status: OrderStatus::Pending,
            subtotal,
            tax_amount,
            shipping_cost,
            discount_amount: discount,
            total_amount: total,
            payment,
            shipping,
            created_at: created,
            updated_at: created,
            expected_ship_date: self.chance(0.7).then(|| self.ahead(86_400, 14 * 86_400)),
            source: self.pick(&["web", "mobile_app", "api", "pos"]).to_string(),
            sales_channel: self
                .pick(&["online", "marketplace", "retail", "partner"])
                .to_string(),
            promotional_codes: self.promotional_codes(),
            notes: self.chance(0.3).then(|| self.sentence(5..20, 1000)),
            internal_notes: self.chance(0.1).then(|| self.sentence(5..20, 1000)),
            priority_level: self.rng.random_range(1..=5),
            requires_approval: total > Decimal::from(10_000) || self.chance(0.05),
            fraud_check_passed: risk <= 0.8,
            metadata: self.order_metadata(),
        }
    }

    /// 5–15 % off the subtotal for 30 % of orders.
    fn order_discount(&mut self, subtotal: Decimal) -> Decimal {
        if self.chance(0.3) {
            round2(subtotal * cents(self.rng.random_range(5..=15)))
        } else {
            Decimal::ZERO
        }
    }

    /// The order's payment of `total`; a risk above 0.8 comes with fraud flags.
    fn payment(
        &mut self,
        customer: &CustomerProfile,
        total: Decimal,
        created: Timestamp,
        risk: f64,
    ) -> PaymentDetails {
        let method = *self.pick(PaymentMethod::ALL);
        let card = matches!(method, PaymentMethod::CreditCard | PaymentMethod::DebitCard);
        let n_flags = if risk > 0.8 {
            self.rng.random_range(1..=2)
        } else {
            0
        };
        let fraud_flags = (0..n_flags)
            .map(|_| self.pick(&FRAUD_FLAGS).to_string())
            .collect();
        PaymentDetails {
            payment_id: self.uuid(),
            method,
            amount: total,
            currency: "USD".into(),
            transaction_reference: Some(format!("TXN-{}", self.hex(12))),
            processed_at: Some(created),
            gateway_response: json!({"code": "00", "message": "approved"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            card_last_four: card.then(|| self.digits(4)),
            card_brand: card.then(|| {
                self.pick(&["visa", "mastercard", "amex", "discover"])
                    .to_string()
            }),
            cardholder_name: card
                .then(|| format!("{} {}", customer.first_name, customer.last_name)),
            risk_score: Some(risk),
            fraud_flags,
        }
    }

    /// Shipping of `weight` grams to `address`; orders over 500 are insured,
    /// over 1000 signed for.
    fn shipping(
        &mut self,
        level: &str,
        address: Address,
        cost: Decimal,
        weight: i64,
        total: Decimal,
    ) -> ShippingDetails {
        ShippingDetails {
            shipping_id: format!("SHP-{}", self.hex(10)),
            carrier: self.pick(&["UPS", "FedEx", "USPS", "DHL"]).to_string(),
            service_level: level.into(),
            tracking_number: self.chance(0.5).then(|| format!("1Z{}", self.hex(16))),
            estimated_delivery: Some(self.ahead(2 * 86_400, 10 * 86_400)),
            actual_delivery: None,
            shipping_address: address,
            cost,
            weight_grams: weight.max(1),
            package_dimensions: json!({"length": 40, "width": 30, "height": 20})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            insurance_amount: if total > Decimal::from(500) {
                round2(total * cents(1))
            } else {
                Decimal::ZERO
            },
            signature_required: total > Decimal::from(1000),
        }
    }

    fn promotional_codes(&mut self) -> Vec<String> {
        (0..self.rng.random_range(0..=2))
            .map(|_| format!("SAVE{}", self.rng.random_range(5..=30)))
            .collect()
    }

    fn order_metadata(&mut self) -> Object {
        json!({"campaign": Word().fake_with_rng::<String, _>(&mut self.rng), "ab_bucket": self.rng.random_range(0..4)})
            .as_object()
            .cloned()
            .unwrap_or_default()
    }

    /// One analytics event.
    pub fn analytics_event(&mut self, batch_id: Option<&str>) -> AnalyticsEvent {
        let event_type = *self.pick(&EVENT_TYPES);
        let properties = match event_type {
            "page_view" => {
                json!({"url": format!("https://shop.example.com/{}", Word().fake_with_rng::<String, _>(&mut self.rng)), "referrer": "https://www.example.org/", "duration_ms": self.rng.random_range(100..60_000)})
            }
            "click" => {
                json!({"element_id": format!("btn-{}", self.rng.random_range(1..200)), "x": self.rng.random_range(0..1920), "y": self.rng.random_range(0..1080)})
            }
            "purchase" => {
                json!({"value": f64::from(self.rng.random_range(500..50_000u32)) / 100.0, "currency": "USD", "order_id": format!("ORD-{}", self.hex(8))})
            }
            "add_to_cart" | "remove_from_cart" => {
                json!({"product_id": format!("PRD-{}", self.hex(8)), "quantity": self.rng.random_range(1..5)})
            }
            "search" => {
                json!({"query": Words(1..4).fake_with_rng::<Vec<String>, _>(&mut self.rng).join(" "), "results": self.rng.random_range(0..500)})
            }
            _ => json!({}),
        };
        AnalyticsEvent {
            event_id: self.uuid(),
            timestamp: self.ago(3600),
            event_type: event_type.into(),
            user_id: self.chance(0.8).then(|| format!("user_{}", self.rng.random_range(1..5_000))),
            session_id: Some(format!("sess_{}", self.hex(16).to_lowercase())),
            properties: properties.as_object().cloned().unwrap_or_default(),
            context: json!({"ip": IPv4().fake_with_rng::<String, _>(&mut self.rng), "user_agent": UserAgent().fake_with_rng::<String, _>(&mut self.rng), "locale": "en-US"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            source: self.pick(&["web", "ios", "android"]).to_string(),
            version: "1.0.0".into(),
            batch_id: batch_id.map(str::to_owned),
        }
    }

    /// A batch of `n` events sharing a batch id.
    pub fn analytics_batch(&mut self, n: usize) -> Vec<AnalyticsEvent> {
        let batch = format!("EVB-{}", self.hex(8));
        (0..n).map(|_| self.analytics_event(Some(&batch))).collect()
    }

    /// A batch request of `n` items nested three levels deep, with about
    /// `metadata_kb` KB of realistic filler in its metadata.
    pub fn batch_request(&mut self, n: usize, metadata_kb: usize) -> BatchProcessingRequest {
        let items = (0..n.max(1))
            .map(|i| {
                let v = json!({
                    "id": i,
                    "sku": format!("SKU-{}", self.hex(6)),
                    "value": f64::from(self.rng.random_range(1..100_000u32)) / 100.0,
                    "attributes": {
                        "color": self.pick(&["red", "green", "blue"]).to_string(),
                        "dimensions": {"l": self.rng.random_range(1..100), "w": self.rng.random_range(1..100), "h": self.rng.random_range(1..100)},
                    },
                });
                v.as_object().cloned().unwrap_or_default()
            })
            .collect();
        let mut metadata = Map::new();
        metadata.insert("origin".into(), json!("cliffload"));
        if metadata_kb > 0 {
            let mut filler = Vec::new();
            let mut size = 0;
            while size < metadata_kb * 1024 {
                let p: String = Paragraph(3..8).fake_with_rng(&mut self.rng);
                size += p.len() + 3;
                filler.push(Value::String(p));
            }
            metadata.insert("notes".into(), Value::Array(filler));
        }
        BatchProcessingRequest {
            batch_id: format!("BATCH-{}", self.hex(8)),
            operation_type: self
                .pick(&["transform", "validate", "enrich", "aggregate"])
                .to_string(),
            items,
            options: json!({"parallel": true, "chunk_size": 100})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            priority: self.rng.random_range(1..=10),
            timeout_seconds: self.rng.random_range(30..=600),
            callback_url: self.chance(0.5).then(|| {
                format!(
                    "https://hooks.example.com/batch/{}",
                    self.hex(8).to_lowercase()
                )
            }),
            metadata,
        }
    }

    /// A valid `ValidationErrorTest` (injection makes it invalid).
    pub fn validation_error_test(&mut self) -> ValidationErrorTest {
        let letters: String = (0..3)
            .map(|_| char::from(b'A' + self.rng.random_range(0..26u8)))
            .collect();
        let mut text: String = Sentence(3..8).fake_with_rng(&mut self.rng);
        while text.chars().count() < 10 || text.to_uppercase().contains("FAIL") {
            text = Sentence(3..8).fake_with_rng(&mut self.rng);
        }
        ValidationErrorTest {
            required_field: text,
            email_field: SafeEmail().fake_with_rng(&mut self.rng),
            numeric_field: self.rng.random_range(100..=1000),
            complex_pattern: format!("TEST-{}-{letters}", self.digits(4)),
        }
    }
}

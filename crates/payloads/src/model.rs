//! The domain models of the workload (`docs/workload.md` §1). Money is an
//! exact decimal (serialised as a string, `"19.99"`), times are RFC 3339 UTC,
//! enumerations snake_case strings. Numeric fields whose rules forbid
//! negatives are still signed, so a negative value parses and is reported by
//! validation with its path instead of failing as a type error.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

/// A free JSON object (`preferences`, `metadata`, …).
pub type Object = Map<String, Value>;

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every variant.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire name.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }
    };
}

string_enum!(
    /// Where an order is in its life.
    OrderStatus { Pending = "pending", Processing = "processing", Shipped = "shipped", Delivered = "delivered", Cancelled = "cancelled", Refunded = "refunded" }
);
string_enum!(
    /// How an order is paid.
    PaymentMethod { CreditCard = "credit_card", DebitCard = "debit_card", Paypal = "paypal", BankTransfer = "bank_transfer", Crypto = "crypto" }
);
string_enum!(
    /// What kind of product.
    ProductCategory { Electronics = "electronics", Clothing = "clothing", HomeGarden = "home_garden", Books = "books", Sports = "sports", Automotive = "automotive" }
);
string_enum!(
    /// Customer loyalty level.
    LoyaltyTier { Bronze = "bronze", Silver = "silver", Gold = "gold", Platinum = "platinum" }
);

/// A postal address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Address {
    pub street_address: String,
    pub apartment: Option<String>,
    pub city: String,
    pub state: String,
    pub postal_code: String,
    pub country: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    #[serde(default = "yes")]
    pub is_residential: bool,
    pub delivery_instructions: Option<String>,
}

fn yes() -> bool {
    true
}

fn en() -> String {
    "en".to_owned()
}

fn v1() -> String {
    "1.0.0".to_owned()
}

/// A customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerProfile {
    pub customer_id: String,
    pub email: String,
    pub phone: String,
    pub first_name: String,
    pub last_name: String,
    pub date_of_birth: Option<Date>,
    pub addresses: Vec<Address>,
    #[serde(default = "en")]
    pub preferred_language: String,
    pub marketing_consent: bool,
    pub loyalty_tier: LoyaltyTier,
    pub account_balance: Decimal,
    #[serde(default)]
    pub preferences: Object,
}

/// One buyable variant of a product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductVariant {
    pub sku: String,
    pub name: String,
    pub attributes: BTreeMap<String, String>,
    pub price: Decimal,
    pub weight_grams: i64,
    pub dimensions_cm: BTreeMap<String, f64>,
    pub stock_quantity: i64,
    pub is_digital: bool,
}

/// A product with its variants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Product {
    pub product_id: String,
    pub name: String,
    pub description: String,
    pub category: ProductCategory,
    pub brand: String,
    pub variants: Vec<ProductVariant>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub images: Vec<String>,
    pub reviews_average: f64,
    pub reviews_count: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    #[serde(default)]
    pub metadata: Object,
}

/// One line of an order, with a snapshot of the product as sold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderItem {
    pub item_id: Uuid,
    pub product_id: String,
    pub variant_sku: String,
    pub quantity: i64,
    pub unit_price: Decimal,
    pub discount_amount: Decimal,
    pub tax_amount: Decimal,
    /// `unit_price × quantity − discount_amount + tax_amount`.
    pub total_price: Decimal,
    pub product_snapshot: Product,
    pub special_instructions: Option<String>,
}

/// How an order is paid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentDetails {
    pub payment_id: Uuid,
    pub method: PaymentMethod,
    pub amount: Decimal,
    pub currency: String,
    pub transaction_reference: Option<String>,
    pub processed_at: Option<Timestamp>,
    #[serde(default)]
    pub gateway_response: Object,
    pub card_last_four: Option<String>,
    pub card_brand: Option<String>,
    pub cardholder_name: Option<String>,
    pub risk_score: Option<f64>,
    #[serde(default)]
    pub fraud_flags: Vec<String>,
}

/// How an order ships.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShippingDetails {
    pub shipping_id: String,
    pub carrier: String,
    pub service_level: String,
    pub tracking_number: Option<String>,
    pub estimated_delivery: Option<Timestamp>,
    pub actual_delivery: Option<Timestamp>,
    pub shipping_address: Address,
    pub cost: Decimal,
    pub weight_grams: i64,
    #[serde(default)]
    pub package_dimensions: Object,
    pub insurance_amount: Decimal,
    pub signature_required: bool,
}

/// An order: customer → items → product snapshot → variants → dimensions is
/// five levels deep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComplexOrder {
    pub order_id: String,
    pub customer: CustomerProfile,
    pub items: Vec<OrderItem>,
    pub status: OrderStatus,
    /// Σ `items.total_price`.
    pub subtotal: Decimal,
    /// Tax on shipping (item tax is already in the item totals).
    pub tax_amount: Decimal,
    pub shipping_cost: Decimal,
    pub discount_amount: Decimal,
    /// `subtotal + tax_amount + shipping_cost − discount_amount`.
    pub total_amount: Decimal,
    pub payment: PaymentDetails,
    pub shipping: ShippingDetails,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub expected_ship_date: Option<Timestamp>,
    pub source: String,
    pub sales_channel: String,
    #[serde(default)]
    pub promotional_codes: Vec<String>,
    pub notes: Option<String>,
    pub internal_notes: Option<String>,
    pub priority_level: i64,
    /// Must be true when `total_amount` > 10000.
    pub requires_approval: bool,
    pub fraud_check_passed: bool,
    #[serde(default)]
    pub metadata: Object,
}

/// One analytics event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalyticsEvent {
    pub event_id: Uuid,
    pub timestamp: Timestamp,
    pub event_type: String,
    pub user_id: Option<String>,
    pub session_id: Option<String>,
    #[serde(default)]
    pub properties: Object,
    #[serde(default)]
    pub context: Object,
    pub source: String,
    #[serde(default = "v1")]
    pub version: String,
    pub batch_id: Option<String>,
}

/// A batch of work items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchProcessingRequest {
    pub batch_id: String,
    pub operation_type: String,
    pub items: Vec<Object>,
    #[serde(default)]
    pub options: Object,
    pub priority: i64,
    pub timeout_seconds: i64,
    pub callback_url: Option<String>,
    #[serde(default)]
    pub metadata: Object,
}

/// The error-scenario model: invalid on purpose in load tests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidationErrorTest {
    /// At least 10 characters, never containing "FAIL" (any case).
    pub required_field: String,
    pub email_field: String,
    pub numeric_field: i64,
    /// `^TEST-\d{4}-[A-Z]{3}$`.
    pub complex_pattern: String,
}

"""The order-processing contract shared by the four peers (Cliffracer, FastAPI,
Flask, Celery): the pydantic models with the validation rules of
docs/workload.md section 1, the business logic of the reference service
(crates/services/src/order_service.rs), and the reply envelope of Cliffracer
1.0.0 over NATS (cliffracer-protocol.md section 4).

Each method is written once, as a generator that yields the simulated I/O
delays (in seconds) and returns the result dict. A peer drives it with
`run_async` (asyncio.sleep: Cliffracer, FastAPI) or `run_sync` (time.sleep:
Flask, Celery). `batch_process_orders` yields a `Parallel` of per-order
generators, run concurrently by both drivers (gather, or a thread pool), as the
Rust reference does with join_all.

Simulated delays: env `CLIFFLOAD_LATENCY` = `realistic` (default) or `none`,
the same switch as the reference service's `--latency realistic|none`.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Generator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

SERVICE = "order_processing_service"

# ---------------------------------------------------------------- models --

EMAIL_RE = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
CENT = Decimal("0.01")

Money = Annotated[Decimal, Field(gt=0, max_digits=10, decimal_places=2)]
MoneyNonNeg = Annotated[Decimal, Field(ge=0, max_digits=10, decimal_places=2)]
JsonObject = dict[str, Any]


def _email(v: str) -> str:
    # The same address syntax as cliffload's validator (no DNS, no
    # special-use-domain refusals), so both sides agree on every payload.
    if len(v) > 254 or not EMAIL_RE.match(v):
        raise PydanticCustomError("value_error", "value is not a valid email address")
    return v


def _fail_at(field: str, message: str, value: Any) -> dict[str, Any]:
    return {
        "type": PydanticCustomError("value_error", message),
        "loc": (field,),
        "input": value,
    }


def _raise(model: str, errors: list[dict[str, Any]]) -> None:
    # Raised inside an after-validator, pydantic prefixes these locations with
    # the model's own, so a rule reports the full path
    # (order.items.3.total_price), as the reference service does.
    if errors:
        raise ValidationError.from_exception_data(model, errors)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OrderStatus(str, Enum):
    pending = "pending"
    processing = "processing"
    shipped = "shipped"
    delivered = "delivered"
    cancelled = "cancelled"
    refunded = "refunded"


class PaymentMethod(str, Enum):
    credit_card = "credit_card"
    debit_card = "debit_card"
    paypal = "paypal"
    bank_transfer = "bank_transfer"
    crypto = "crypto"


class ProductCategory(str, Enum):
    electronics = "electronics"
    clothing = "clothing"
    home_garden = "home_garden"
    books = "books"
    sports = "sports"
    automotive = "automotive"


class LoyaltyTier(str, Enum):
    bronze = "bronze"
    silver = "silver"
    gold = "gold"
    platinum = "platinum"


class Address(Strict):
    street_address: str = Field(min_length=5, max_length=200)
    apartment: str | None = Field(default=None, max_length=50)
    city: str = Field(min_length=2, max_length=100)
    state: str = Field(min_length=2, max_length=50)
    postal_code: str = Field(pattern=r"^\d{5}(-\d{4})?$")
    country: str = Field(min_length=2, max_length=3)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    is_residential: bool = True
    delivery_instructions: str | None = Field(default=None, max_length=500)


class CustomerProfile(Strict):
    customer_id: str = Field(min_length=3, max_length=50)
    email: str
    phone: str = Field(pattern=r"^\+?1?\d{9,15}$")
    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(min_length=1, max_length=100)
    date_of_birth: date | None = None
    addresses: list[Address] = Field(min_length=1, max_length=10)
    preferred_language: str = Field(default="en", pattern=r"^[a-z]{2}$")
    marketing_consent: bool
    loyalty_tier: LoyaltyTier
    account_balance: MoneyNonNeg
    preferences: JsonObject = Field(default_factory=dict)

    @field_validator("email")
    @classmethod
    def _email_ok(cls, v: str) -> str:
        return _email(v)

    @field_validator("date_of_birth")
    @classmethod
    def _not_future(cls, v: date | None) -> date | None:
        if v is not None and v > datetime.now(UTC).date():
            raise PydanticCustomError("value_error", "date_of_birth {dob} is in the future", {"dob": str(v)})
        return v


class ProductVariant(Strict):
    sku: str = Field(min_length=3, max_length=50)
    name: str = Field(min_length=1, max_length=200)
    attributes: dict[str, str] = Field(min_length=1)
    price: Money
    weight_grams: int = Field(ge=1, le=50_000)
    dimensions_cm: dict[str, float]
    stock_quantity: int = Field(ge=0)
    is_digital: bool

    @model_validator(mode="after")
    def _dimensions(self) -> ProductVariant:
        errors = []
        for dim in ("length", "width", "height"):
            x = self.dimensions_cm.get(dim)
            if x is None:
                errors.append({"type": "missing", "loc": ("dimensions_cm", dim), "input": self.dimensions_cm})
            elif not (x > 0 and x != float("inf")):
                errors.append(
                    {"type": "greater_than", "loc": ("dimensions_cm", dim), "input": x, "ctx": {"gt": 0}}
                )
        _raise("ProductVariant", errors)
        return self


class Product(Strict):
    product_id: str = Field(min_length=3, max_length=50)
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=10, max_length=2000)
    category: ProductCategory
    brand: str = Field(min_length=1, max_length=100)
    variants: list[ProductVariant] = Field(min_length=1, max_length=50)
    tags: list[str] = Field(default_factory=list, max_length=20)
    images: list[str] = Field(default_factory=list, max_length=10)
    reviews_average: float = Field(ge=0, le=5)
    reviews_count: int = Field(ge=0)
    created_at: datetime
    updated_at: datetime
    metadata: JsonObject = Field(default_factory=dict)


class OrderItem(Strict):
    item_id: uuid.UUID
    product_id: str = Field(min_length=3, max_length=50)
    variant_sku: str = Field(min_length=3, max_length=50)
    quantity: int = Field(ge=1, le=100)
    unit_price: Money
    discount_amount: MoneyNonNeg
    tax_amount: MoneyNonNeg
    total_price: Money
    product_snapshot: Product
    special_instructions: str | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def _total(self) -> OrderItem:
        expected = self.unit_price * self.quantity - self.discount_amount + self.tax_amount
        if abs(self.total_price - expected) > CENT:
            _raise("OrderItem", [_fail_at(
                "total_price",
                f"total_price {self.total_price} ≠ unit_price × quantity − discount_amount + tax_amount = {expected}",
                str(self.total_price),
            )])
        return self


class PaymentDetails(Strict):
    payment_id: uuid.UUID
    method: PaymentMethod
    amount: Money
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    transaction_reference: str | None = Field(default=None, max_length=100)
    processed_at: datetime | None = None
    gateway_response: JsonObject = Field(default_factory=dict)
    card_last_four: str | None = Field(default=None, pattern=r"^\d{4}$")
    card_brand: str | None = Field(default=None, max_length=50)
    cardholder_name: str | None = Field(default=None, max_length=100)
    risk_score: float | None = Field(default=None, ge=0, le=1)
    fraud_flags: list[str] = Field(default_factory=list)


class ShippingDetails(Strict):
    shipping_id: str
    carrier: str = Field(min_length=1, max_length=100)
    service_level: str = Field(min_length=1, max_length=100)
    tracking_number: str | None = Field(default=None, max_length=100)
    estimated_delivery: datetime | None = None
    actual_delivery: datetime | None = None
    shipping_address: Address
    cost: MoneyNonNeg
    weight_grams: int = Field(gt=0)
    package_dimensions: JsonObject = Field(default_factory=dict)
    insurance_amount: MoneyNonNeg
    signature_required: bool


class ComplexOrder(Strict):
    order_id: str = Field(pattern=r"^ORD-[0-9A-F]{8}$")
    customer: CustomerProfile
    items: list[OrderItem] = Field(min_length=1, max_length=100)
    status: OrderStatus
    subtotal: Money
    tax_amount: MoneyNonNeg
    shipping_cost: MoneyNonNeg
    discount_amount: MoneyNonNeg
    total_amount: Money
    payment: PaymentDetails
    shipping: ShippingDetails
    created_at: datetime
    updated_at: datetime
    expected_ship_date: datetime | None = None
    source: str = Field(max_length=50)
    sales_channel: str = Field(max_length=50)
    promotional_codes: list[str] = Field(default_factory=list, max_length=5)
    notes: str | None = Field(default=None, max_length=1000)
    internal_notes: str | None = Field(default=None, max_length=1000)
    priority_level: int = Field(ge=1, le=5)
    requires_approval: bool
    fraud_check_passed: bool
    metadata: JsonObject = Field(default_factory=dict)

    @model_validator(mode="after")
    def _rules(self) -> ComplexOrder:
        errors = []
        items = sum((i.total_price for i in self.items), Decimal(0))
        if abs(self.subtotal - items) > CENT:
            errors.append(_fail_at(
                "subtotal", f"subtotal {self.subtotal} ≠ Σ items.total_price = {items}", str(self.subtotal)
            ))
        total = self.subtotal + self.tax_amount + self.shipping_cost - self.discount_amount
        if abs(self.total_amount - total) > CENT:
            errors.append(_fail_at(
                "total_amount",
                f"total_amount {self.total_amount} ≠ subtotal + tax_amount + shipping_cost − discount_amount = {total}",
                str(self.total_amount),
            ))
        if self.expected_ship_date is not None and self.expected_ship_date <= datetime.now(UTC):
            errors.append(_fail_at(
                "expected_ship_date",
                f"expected_ship_date {self.expected_ship_date.isoformat()} is not in the future",
                self.expected_ship_date.isoformat(),
            ))
        if self.total_amount > 10_000 and not self.requires_approval:
            errors.append(_fail_at(
                "requires_approval", "requires_approval must be true when total_amount > 10000", False
            ))
        _raise("ComplexOrder", errors)
        return self


class OrderPlaced(Strict):
    """An orders.placed / orders.queued event: process_order's keyword arguments."""

    order: ComplexOrder


class AnalyticsEvent(Strict):
    event_id: uuid.UUID
    timestamp: datetime
    event_type: str = Field(min_length=1, max_length=100)
    user_id: str | None = Field(default=None, max_length=100)
    session_id: str | None = Field(default=None, max_length=100)
    properties: JsonObject = Field(default_factory=dict)
    context: JsonObject = Field(default_factory=dict)
    source: str = Field(max_length=100)
    version: str = "1.0.0"
    batch_id: str | None = None


class BatchProcessingRequest(Strict):
    batch_id: str
    operation_type: str = Field(min_length=1, max_length=100)
    items: list[JsonObject] = Field(min_length=1, max_length=10_000)
    options: JsonObject = Field(default_factory=dict)
    priority: int = Field(ge=1, le=10)
    timeout_seconds: int = Field(ge=1, le=3600)
    callback_url: str | None = None
    metadata: JsonObject = Field(default_factory=dict)


class ValidationErrorTest(Strict):
    required_field: str = Field(min_length=10)
    email_field: str
    numeric_field: int = Field(ge=100, le=1000)
    complex_pattern: str = Field(pattern=r"^TEST-\d{4}-[A-Z]{3}$")

    @field_validator("email_field")
    @classmethod
    def _email_ok(cls, v: str) -> str:
        return _email(v)

    @field_validator("required_field")
    @classmethod
    def _no_fail(cls, v: str) -> str:
        if "FAIL" in v.upper():
            raise PydanticCustomError("value_error", "required_field must not contain FAIL")
        return v


class Result(RootModel[dict[str, Any]]):
    """Every method's reply is a JSON object (Cliffracer needs a model as the
    return annotation; `dict[str, Any]` is refused by its type_ref)."""


# Maximum list lengths per call, as the reference service's defaults.
MAX_BATCH_ORDERS = 100
MAX_EVENTS = 10_000

# The keyword arguments of each method (name -> (param, annotation)); the
# Cliffracer peer declares exactly these, the others validate with
# `kwargs_model(method)`, built the way Cliffracer builds its payload model
# (typed_rpc.build_handler_spec: extra="forbid", validate_default=True).
METHODS: dict[str, dict[str, Any]] = {
    "process_order": {"order": ComplexOrder},
    "batch_process_orders": {"orders": Annotated[list[ComplexOrder], Field(min_length=1, max_length=MAX_BATCH_ORDERS)]},
    "analytics_ingestion": {"events": Annotated[list[AnalyticsEvent], Field(min_length=1, max_length=MAX_EVENTS)]},
    "large_payload_processing": {"batch_request": BatchProcessingRequest},
    "error_scenario_test": {"test_data": ValidationErrorTest},
    "get_service_metrics": {},
    "echo": {"message": str},
}

_KWARGS_MODELS = {
    name: create_model(
        f"{name}_Payload",
        __config__=ConfigDict(extra="forbid", validate_default=True),
        **{p: (tp, ...) for p, tp in params.items()},
    )
    for name, params in METHODS.items()
}


def validate_kwargs(method: str, kwargs: Any) -> dict[str, Any]:
    """Validates a request's keyword arguments; raises pydantic's ValidationError."""
    model = _KWARGS_MODELS[method]
    if isinstance(kwargs, dict):
        kwargs = {k: v for k, v in kwargs.items() if k != "correlation_id"}
    m = model.model_validate(kwargs)
    return {p: getattr(m, p) for p in METHODS[method]}


# ---------------------------------------------------------------- logic --

LATENCY = os.environ.get("CLIFFLOAD_LATENCY", "realistic")
if LATENCY not in ("realistic", "none"):
    raise SystemExit(f"CLIFFLOAD_LATENCY must be realistic or none, not {LATENCY!r}")


class Refused(Exception):
    """A business refusal: the envelope says `refused: <reason>`."""


class Parallel:
    """Yielded by a method: run these generators concurrently, send back their results."""

    def __init__(self, gens: list[Generator[Any, Any, Any]]) -> None:
        self.gens = gens


Steps = Generator[Any, Any, dict[str, Any]]


def io(seconds: float) -> Generator[float, None, None]:
    if LATENCY == "realistic" and seconds > 0:
        t = time.perf_counter()
        yield seconds
        STATE.add("database", time.perf_counter() - t)


class State:
    """What the service remembers between calls (per process)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.customers: dict[str, list[float]] = {}  # id -> [baseline, orders seen]
        self.stock: dict[str, int] = {}
        self.processed = 0
        self.failed = 0
        self.revenue = Decimal(0)
        self.processing_ms_total = 0.0
        self.recent_ms: deque[float] = deque(maxlen=100)
        self.timings = Counter()

    def add(self, what: str, seconds: float) -> None:
        with self.lock:
            self.timings[what] += seconds


STATE = State()
_rng = random.Random(0x5EED)


def _fraud_score(order: ComplexOrder) -> Steps:
    yield from io(0.001)
    t = time.perf_counter()
    with STATE.lock:
        entry = STATE.customers.setdefault(order.customer.customer_id, [_rng.random() * 0.3, 0])
        baseline, before = entry
        entry[1] += 1
        noise = _rng.random() * 0.2
    score = baseline + noise
    if order.total_amount > 5000:
        score += 0.2
    if order.payment.method == PaymentMethod.crypto:
        score += 0.3
    STATE.add("business", time.perf_counter() - t)
    return round(score, 3), int(before)


def _stock_shortfalls(order: ComplexOrder) -> Steps:
    yield from io(0.0005 * len(order.items))
    t = time.perf_counter()
    shortfalls = []
    with STATE.lock:
        for item in order.items:
            initial = next(
                (v.stock_quantity for v in item.product_snapshot.variants if v.sku == item.variant_sku), 0
            )
            stock = STATE.stock.setdefault(item.variant_sku, initial)
            if stock < item.quantity:
                shortfalls.append(f"{item.variant_sku} (requested {item.quantity}, available {stock})")
                STATE.stock[item.variant_sku] = stock + 1000  # replenished for later orders
    STATE.add("business", time.perf_counter() - t)
    return shortfalls


def _rule_violations(order: ComplexOrder, orders_before: int) -> Steps:
    yield from io(0.002)
    total = order.total_amount
    international = order.shipping.shipping_address.country != "US"
    violations = []
    if orders_before == 0 and total > 1000:
        violations.append("new_customer_limit: first order over 1000")
    if international and total > 10_000:
        violations.append("international_limit: international order over 10000")
    if not order.fraud_check_passed and total > 500:
        violations.append("failed_fraud_check_limit: failed fraud check with an order over 500")
    return violations


def _refuse(reason: str) -> Refused:
    with STATE.lock:
        STATE.failed += 1
    return Refused(reason)


def _process(order: ComplexOrder) -> Steps:
    """Fraud score, stock, business rules, then save; raises Refused."""
    started = time.perf_counter()
    score, before = yield from _fraud_score(order)
    if score > 0.8:
        raise _refuse(f"fraud score {score} above 0.8")
    shortfalls = yield from _stock_shortfalls(order)
    if shortfalls:
        raise _refuse(f"insufficient stock: {'; '.join(shortfalls)}")
    violations = yield from _rule_violations(order, before)
    if violations:
        raise _refuse(f"business rule violation: {'; '.join(violations)}")
    yield from io(0.005)  # save
    yield from io(0.002)  # customer update
    yield from io(0.001)  # stock reservation
    elapsed_ms = (time.perf_counter() - started) * 1000
    with STATE.lock:
        for item in order.items:
            if item.variant_sku in STATE.stock:
                STATE.stock[item.variant_sku] -= item.quantity
        STATE.processed += 1
        STATE.revenue += order.total_amount
        STATE.processing_ms_total += elapsed_ms
        STATE.recent_ms.append(elapsed_ms)
        tracking = f"TRK{_rng.getrandbits(48):012X}"
    return {
        "order_id": order.order_id,
        "status": "processed",
        "tracking_number": tracking,
        "total": str(order.total_amount),
        "processing_time_ms": round(elapsed_ms, 3),
        "fraud_score": score,
    }


def process_order(order: ComplexOrder) -> Steps:
    return (yield from _process(order))


def _one_of_batch(order: ComplexOrder) -> Steps:
    try:
        return {"success": True, "result": (yield from _process(order))}
    except Refused as why:
        return {"success": False, "error": f"refused: {why}"}


def batch_process_orders(orders: list[ComplexOrder]) -> Steps:
    started = time.perf_counter()
    results = yield Parallel([_one_of_batch(o) for o in orders])
    secs = max(time.perf_counter() - started, 1e-9)
    ok = sum(1 for r in results if r["success"])
    return {
        "total_orders": len(results),
        "successful": ok,
        "failed": len(results) - ok,
        "orders_per_second": round(len(results) / secs, 1),
        "results": results,
    }


def analytics_ingestion(events: list[AnalyticsEvent]) -> Steps:
    started = time.perf_counter()
    yield from io(0.001 * len(events))
    t = time.perf_counter()
    by_type = Counter(e.event_type for e in events)
    users = {e.user_id for e in events if e.user_id is not None}
    values = [
        float(v) for e in events
        if isinstance(v := e.properties.get("value"), int | float) and not isinstance(v, bool)
    ]
    STATE.add("business", time.perf_counter() - t)
    secs = max(time.perf_counter() - started, 1e-9)
    total = sum(values)
    return {
        "processed_events": len(events),
        "event_types": dict(by_type),
        "unique_users": len(users),
        "value_sum": round(total, 2),
        "value_mean": round(total / len(values), 2) if values else 0.0,
        "events_per_second": round(len(events) / secs, 1),
    }


def large_payload_processing(batch_request: BatchProcessingRequest, size_bytes: int = 0) -> Steps:
    if not size_bytes:
        size_bytes = len(batch_request.model_dump_json())
    started = time.perf_counter()
    n = len(batch_request.items)
    yield from io(0.0001 * n)
    failed = sum(1 for i in batch_request.items if "id" not in i)
    secs = max(time.perf_counter() - started, 1e-9)
    mb = size_bytes / (1024 * 1024)
    return {
        "batch_id": batch_request.batch_id,
        "processed_items": n - failed,
        "failed_items": failed,
        "items_per_second": round(n / secs, 1),
        "payload_size_mb": round(mb, 4),
        "items_per_mb": round(n / mb) if mb > 0 else 0.0,
    }


def error_scenario_test(test_data: ValidationErrorTest) -> Steps:
    return {"valid": True, "complex_pattern": test_data.complex_pattern}
    yield  # a generator, like the others


def get_service_metrics() -> Steps:
    with STATE.lock:
        all_ = STATE.processed + STATE.failed
        t = STATE.timings
        return {
            "processed_orders": STATE.processed,
            "failed_orders": STATE.failed,
            "success_rate": STATE.processed / all_ if all_ else 0.0,
            "total_revenue": str(STATE.revenue),
            "average_processing_time_ms": STATE.processing_ms_total / STATE.processed if STATE.processed else 0.0,
            "customers_cached": len(STATE.customers),
            "skus_cached": len(STATE.stock),
            "recent_processing_times_ms": list(reversed(STATE.recent_ms))[:10],
            "validation_time_ms": round(t["validation"] * 1000, 3),
            "serialization_time_ms": round(t["serialization"] * 1000, 3),
            "business_logic_time_ms": round(t["business"] * 1000, 3),
            "database_simulation_time_ms": round(t["database"] * 1000, 3),
            "latency_profile": LATENCY,
        }
    yield


def echo(message: str) -> Generator[Any, Any, str]:
    return message
    yield


HANDLERS: dict[str, Callable[..., Generator[Any, Any, Any]]] = {
    "process_order": process_order,
    "batch_process_orders": batch_process_orders,
    "analytics_ingestion": analytics_ingestion,
    "large_payload_processing": large_payload_processing,
    "error_scenario_test": error_scenario_test,
    "get_service_metrics": get_service_metrics,
    "echo": echo,
}

# ---------------------------------------------------------------- drivers --


async def run_async(gen: Generator[Any, Any, Any]) -> Any:
    """Drives a method with asyncio.sleep (Cliffracer, FastAPI)."""
    send: Any = None
    while True:
        try:
            step = gen.send(send)
        except StopIteration as done:
            return done.value
        if isinstance(step, Parallel):
            send = list(await asyncio.gather(*(run_async(g) for g in step.gens)))
        else:
            await asyncio.sleep(step)
            send = None


_pool: ThreadPoolExecutor | None = None


def run_sync(gen: Generator[Any, Any, Any]) -> Any:
    """Drives a method with time.sleep (Flask, Celery); a batch's orders run
    concurrently on a thread pool."""
    global _pool
    send: Any = None
    while True:
        try:
            step = gen.send(send)
        except StopIteration as done:
            return done.value
        if isinstance(step, Parallel):
            if _pool is None:
                _pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="batch")
            send = list(_pool.map(run_sync, step.gens))
        else:
            time.sleep(step)
            send = None


# ---------------------------------------------------------------- envelope --

CORRELATION_HEADERS = (
    "x-correlation-id", "x-request-id", "x-trace-id", "correlation-id",
    "correlation_id", "request-id", "trace-id",
)


def correlation_id(headers: Any, body: Any = None) -> str:
    """Headers in Cliffracer's order (case-insensitive), then the body's
    `correlation_id`, then `corr_` + 16 hex."""
    lower = {str(k).lower(): v for k, v in (headers or {}).items()}
    for h in CORRELATION_HEADERS:
        if lower.get(h):
            return str(lower[h])
    if isinstance(body, dict) and body.get("correlation_id"):
        return str(body["correlation_id"])
    return f"corr_{uuid.uuid4().hex[:16]}"


def _now() -> str:
    return datetime.now(UTC).isoformat()


def ok(result: Any, cid: str | None) -> dict[str, Any]:
    return {"success": True, "result": result, "timestamp": _now(), "correlation_id": cid}


def failure(error: str, cid: str | None, details: list[Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"success": False, "error": error}
    if details is not None:
        out["details"] = details
    out["timestamp"] = _now()
    out["correlation_id"] = cid
    return out


def jsonable(result: Any) -> Any:
    """The result as Cliffracer sends it (its return adapter in mode=json)."""
    return Result.model_validate(result).model_dump(mode="json") if isinstance(result, dict) else result


def prepare(method: str, kwargs: Any, cid: str | None) -> tuple[Generator[Any, Any, Any] | None, dict[str, Any] | None]:
    """The method's generator, or the envelope that answers at once
    (unknown method, validation failed)."""
    if method not in HANDLERS:
        return None, failure(f"Unknown method: {method}", cid)
    t = time.perf_counter()
    try:
        args = validate_kwargs(method, kwargs if kwargs is not None else {})
    except ValidationError as e:
        return None, failure("validation failed", cid, json.loads(e.json()))
    finally:
        STATE.add("validation", time.perf_counter() - t)
    return HANDLERS[method](**args), None


def finish(result: Any, cid: str | None) -> dict[str, Any]:
    return ok(jsonable(result), cid)


def call_sync(method: str, kwargs: Any, cid: str | None) -> dict[str, Any]:
    """One call, start to envelope, with time.sleep delays (Flask, Celery)."""
    gen, answer = prepare(method, kwargs, cid)
    if answer is not None:
        return answer
    try:
        return finish(run_sync(gen), cid)
    except Refused as why:
        return failure(f"refused: {why}", cid)
    except Exception:  # as Cliffracer with expose_internal_errors=False
        import logging

        logging.getLogger(SERVICE).exception("handler %s raised", method)
        return failure(f"Internal server error (correlation_id: {cid})", cid)


async def call_async(method: str, kwargs: Any, cid: str | None) -> dict[str, Any]:
    """One call, start to envelope, with asyncio.sleep delays (FastAPI)."""
    gen, answer = prepare(method, kwargs, cid)
    if answer is not None:
        return answer
    try:
        return finish(await run_async(gen), cid)
    except Refused as why:
        return failure(f"refused: {why}", cid)
    except Exception:
        import logging

        logging.getLogger(SERVICE).exception("handler %s raised", method)
        return failure(f"Internal server error (correlation_id: {cid})", cid)

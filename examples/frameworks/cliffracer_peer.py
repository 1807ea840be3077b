"""order_processing_service as a real Cliffracer 1.0.0 service over NATS.

    python cliffracer_peer.py [NATS_URL]       (or env NATS_URL; default nats://127.0.0.1:4222)

Subjects order_processing_service.rpc.{method} (queue group
order_processing_service.rpc); body = keyword arguments; Cliffracer builds the
envelope. The models and logic are contract.py's; a business refusal raises
RejectMessage, which Cliffracer answers as `refused: <reason>`.

Events, as the Rust reference service's (docs/frameworks.md, "Events"): a
@listener on orders.placed (core NATS, fanout=True: every replica gets every
event) whose body is process_order's keyword arguments, {"order": {...}}.
Processing an event, and process_order itself, publishes the effect
order.processed with publish_event(order_id=..., status="processed"|"refused"
[, reason=...]); Cliffracer carries the event's correlation id into it
(X-Correlation-ID header and body). An invalid event goes to Cliffracer's
dead-letter subject dlq.order_processing_service.

PEER_JETSTREAM=1 (the server must run with -js) adds a durable pull listener
on orders.queued (stream ORDERS, consumer order_processor, shared by the
replicas). Cliffracer then publishes every event through JetStream, so it
declares a stream for each subject it publishes: ORDER_EFFECTS
(order.processed, in memory, 10 minutes) and ORDERS_DLQ
(dlq.order_processing_service).
Env: CLIFFLOAD_LATENCY=realistic|none, PEER_LOG_LEVEL (default WARNING),
PEER_JETSTREAM (default off).
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

from pydantic import Field

from cliffracer import CliffracerService, ServiceConfig, listener, rpc
from cliffracer.core.extension import RejectMessage
from cliffracer.core.jetstream import StreamSpec

import contract as c
from contract import (
    AnalyticsEvent,
    BatchProcessingRequest,
    ComplexOrder,
    OrderPlaced,
    Refused,
    Result,
    ValidationErrorTest,
)


PLACED = "orders.placed"
QUEUED = "orders.queued"
PROCESSED = "order.processed"


async def _run(gen) -> Result:
    try:
        return Result(await c.run_async(gen))
    except Refused as why:
        raise RejectMessage(str(why)) from None


class OrderProcessingService(CliffracerService):
    async def _process(self, order: ComplexOrder) -> dict | Refused:
        """process_order's work, then its effect on order.processed (the
        correlation id is the one Cliffracer set for this request or event)."""
        try:
            result = await c.run_async(c.process_order(order))
        except Refused as why:
            await self.publish_event(PROCESSED, order_id=order.order_id, status="refused",
                                     reason=str(why))
            return why
        await self.publish_event(PROCESSED, order_id=order.order_id, status="processed")
        return result

    @rpc
    async def process_order(self, order: ComplexOrder) -> Result:
        """Validate, score fraud, check inventory and business rules, save an order."""
        result = await self._process(order)
        if isinstance(result, Refused):
            raise RejectMessage(str(result))
        return Result(result)

    @listener(PLACED, fanout=True)
    async def on_order_placed(self, event: OrderPlaced) -> None:
        """An order placed: process it as process_order does (every replica)."""
        await self._process(event.order)

    @rpc
    async def batch_process_orders(
        self, orders: Annotated[list[ComplexOrder], Field(min_length=1, max_length=c.MAX_BATCH_ORDERS)]
    ) -> Result:
        """Process orders concurrently."""
        return await _run(c.batch_process_orders(orders))

    @rpc
    async def analytics_ingestion(
        self, events: Annotated[list[AnalyticsEvent], Field(min_length=1, max_length=c.MAX_EVENTS)]
    ) -> Result:
        """Aggregate analytics events."""
        return await _run(c.analytics_ingestion(events))

    @rpc
    async def large_payload_processing(self, batch_request: BatchProcessingRequest) -> Result:
        """Check every item of a large batch."""
        return await _run(c.large_payload_processing(batch_request))

    @rpc
    async def error_scenario_test(self, test_data: ValidationErrorTest) -> Result:
        """Validate a ValidationErrorTest (invalid input is the expected path)."""
        return await _run(c.error_scenario_test(test_data))

    @rpc
    async def get_service_metrics(self) -> Result:
        """Counters and timings of this instance."""
        return await _run(c.get_service_metrics())

    @rpc
    async def echo(self, message: str) -> str:
        """Return the message unchanged."""
        return message


class DurableOrderProcessingService(OrderProcessingService):
    """With JetStream: the durable listener too. A class of its own because
    Cliffracer refuses a durable listener while jetstream_enabled is off."""

    @listener(QUEUED, durable="order_processor", pull=True)
    async def on_order_queued(self, event: OrderPlaced) -> None:
        """An order queued: processed once by one replica, then acked."""
        await self._process(event.order)


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("NATS_URL", "nats://127.0.0.1:4222")
    jetstream = os.environ.get("PEER_JETSTREAM", "0") not in ("", "0", "off", "false")
    config = ServiceConfig(
        name=c.SERVICE,
        nats_url=url,
        health_listener=False,  # its default port 8000 would clash; health is NATS here
        log_level=os.environ.get("PEER_LOG_LEVEL", "WARNING"),
        jetstream_enabled=jetstream,
        jetstream_streams=[
            StreamSpec(name="ORDERS", subjects=[QUEUED]),
            StreamSpec(name="ORDER_EFFECTS", subjects=[PROCESSED], storage="memory",
                       max_age_seconds=600),
            StreamSpec(name="ORDERS_DLQ", subjects=[f"dlq.{c.SERVICE}"]),
        ] if jetstream else [],
        # The Rust reference's consumer, so either may create it.
        jetstream_max_ack_pending=1000,
    )
    cls = DurableOrderProcessingService if jetstream else OrderProcessingService
    cls(config).run()


if __name__ == "__main__":
    main()

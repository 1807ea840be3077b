"""order_processing_service as a real Cliffracer 1.0.0 service over NATS.

    python cliffracer_peer.py [NATS_URL]       (or env NATS_URL; default nats://127.0.0.1:4222)

Subjects order_processing_service.rpc.{method} (queue group
order_processing_service.rpc); body = keyword arguments; Cliffracer builds the
envelope. The models and logic are contract.py's; a business refusal raises
RejectMessage, which Cliffracer answers as `refused: <reason>`.
Env: CLIFFLOAD_LATENCY=realistic|none, PEER_LOG_LEVEL (default WARNING).
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

from pydantic import Field

from cliffracer import CliffracerService, ServiceConfig, rpc
from cliffracer.core.extension import RejectMessage

import contract as c
from contract import (
    AnalyticsEvent,
    BatchProcessingRequest,
    ComplexOrder,
    Refused,
    Result,
    ValidationErrorTest,
)


async def _run(gen) -> Result:
    try:
        return Result(await c.run_async(gen))
    except Refused as why:
        raise RejectMessage(str(why)) from None


class OrderProcessingService(CliffracerService):
    @rpc
    async def process_order(self, order: ComplexOrder) -> Result:
        """Validate, score fraud, check inventory and business rules, save an order."""
        return await _run(c.process_order(order))

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


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("NATS_URL", "nats://127.0.0.1:4222")
    config = ServiceConfig(
        name=c.SERVICE,
        nats_url=url,
        health_listener=False,  # its default port 8000 would clash; health is NATS here
        log_level=os.environ.get("PEER_LOG_LEVEL", "WARNING"),
    )
    OrderProcessingService(config).run()


if __name__ == "__main__":
    main()

"""order_processing_service as Celery tasks, Redis broker and result backend:

    celery -A celery_peer worker -Q celery -l WARNING      (env REDIS_URL, default redis://127.0.0.1:6379/0)

One task per method, named `order_processing_service.<method>` (e.g.
order_processing_service.process_order), called with the method's keyword
arguments as the task's kwargs (args empty). The task returns the Cliffracer
envelope dict, so the stored result is classified exactly like a NATS reply.
The correlation id is the `correlation_id` kwarg if sent (dropped before
validation, as Cliffracer does with the body key), else the message's
correlation_id property (Celery sets it to the task id).
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery

import contract as c

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

app = Celery(c.SERVICE, broker=REDIS_URL, backend=REDIS_URL)
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_default_queue="celery",
    result_expires=3600,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)


def _task(method: str):
    def run(self: Any, **kwargs: Any) -> dict[str, Any]:
        cid = kwargs.get("correlation_id") or self.request.correlation_id or self.request.id
        return c.call_sync(method, kwargs, cid)

    run.__name__ = method
    return app.task(name=f"{c.SERVICE}.{method}", bind=True)(run)


TASKS = {method: _task(method) for method in c.HANDLERS}

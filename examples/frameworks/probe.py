"""Readiness probe of one peer: one get_service_metrics call, exit 0 when it
answers with a success envelope, 1 otherwise (message on stderr).

    python probe.py nats   nats://127.0.0.1:PORT
    python probe.py http   http://127.0.0.1:PORT
    python probe.py celery redis://127.0.0.1:PORT/0
"""

from __future__ import annotations

import asyncio
import json
import sys
import urllib.request

SERVICE = "order_processing_service"
METHOD = "get_service_metrics"


async def nats_call(url: str) -> dict:
    import nats

    nc = await nats.connect(url, connect_timeout=2, max_reconnect_attempts=0, allow_reconnect=False)
    try:
        msg = await nc.request(f"{SERVICE}.rpc.{METHOD}", b"{}", timeout=2,
                               headers={"Content-Type": "application/json", "X-Correlation-ID": "probe"})
        return json.loads(msg.data)
    finally:
        await nc.close()


def http_call(url: str) -> dict:
    req = urllib.request.Request(f"{url}/{SERVICE}/rpc/{METHOD}", data=b"{}", method="POST",
                                 headers={"Content-Type": "application/json", "X-Correlation-ID": "probe"})
    with urllib.request.urlopen(req, timeout=2) as r:
        return json.loads(r.read())


def celery_call(url: str) -> dict:
    from celery import Celery

    app = Celery("probe", broker=url, backend=url)
    result = app.send_task(f"{SERVICE}.{METHOD}", kwargs={}, queue="celery")
    try:
        return result.get(timeout=3)
    finally:
        result.forget()


def main() -> int:
    kind, url = sys.argv[1], sys.argv[2]
    try:
        if kind == "nats":
            env = asyncio.run(nats_call(url))
        elif kind == "http":
            env = http_call(url)
        elif kind == "celery":
            env = celery_call(url)
        else:
            print(f"unknown kind {kind}", file=sys.stderr)
            return 2
    except Exception as e:  # not ready yet
        print(f"{kind} {url}: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    if env.get("success") is not True:
        print(f"{kind} {url}: {env}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

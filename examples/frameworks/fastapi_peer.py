"""order_processing_service over HTTP with FastAPI, served by uvicorn:

    uvicorn fastapi_peer:app --host 127.0.0.1 --port PORT --no-access-log

Route, envelope and status codes: http_common.py. Delays with asyncio.sleep.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response

import contract as c
import http_common as h

app = FastAPI(title=c.SERVICE, docs_url=None, redoc_url=None, openapi_url=None)


@app.post(f"/{c.SERVICE}/rpc/{{method}}")
async def rpc(method: str, request: Request) -> Response:
    raw = await request.body()
    if method not in c.HANDLERS:  # as Cliffracer: unknown before decoding, headers only
        envelope = c.failure(f"Unknown method: {method}", h.header_cid(request.headers))
    else:
        kwargs, envelope = h.decode(raw, request.headers)
        if envelope is None:
            cid = c.correlation_id(request.headers, kwargs)
            envelope = await c.call_async(method, kwargs, cid)
    headers = {"X-Correlation-ID": envelope["correlation_id"]} if envelope["correlation_id"] else None
    return Response(h.encode(envelope), status_code=h.status_of(envelope),
                    media_type="application/json", headers=headers)


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}

"""order_processing_service over HTTP with Flask, served by gunicorn:

    gunicorn -b 127.0.0.1:PORT -k gthread -w WORKERS --threads THREADS flask_peer:app

Route, envelope and status codes: http_common.py. Delays with time.sleep.
"""

from __future__ import annotations

from flask import Flask, Response, request

import contract as c
import http_common as h

app = Flask(c.SERVICE)


@app.post(f"/{c.SERVICE}/rpc/<method>")
def rpc(method: str) -> Response:
    raw = request.get_data()
    if method not in c.HANDLERS:
        envelope = c.failure(f"Unknown method: {method}", h.header_cid(request.headers))
    else:
        kwargs, envelope = h.decode(raw, request.headers)
        if envelope is None:
            cid = c.correlation_id(request.headers, kwargs)
            envelope = c.call_sync(method, kwargs, cid)
    response = Response(h.encode(envelope), status=h.status_of(envelope), mimetype="application/json")
    if envelope["correlation_id"]:
        response.headers["X-Correlation-ID"] = envelope["correlation_id"]
    return response


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}

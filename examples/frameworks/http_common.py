"""What the FastAPI and Flask peers share: the route and the status codes.

POST /order_processing_service/rpc/{method}, body = a JSON object of keyword
arguments, reply = the Cliffracer envelope (same keys, order and json.dumps
formatting as over NATS), Content-Type application/json, and the resolved
correlation id echoed in X-Correlation-ID.

| outcome | status | envelope |
| --- | --- | --- |
| success | 200 | success true, result |
| business refusal | 200 | success false, error "refused: <reason>" |
| validation failed (also an undecodable body) | 422 | success false, error "validation failed", details |
| unknown method | 404 | success false, error "Unknown method: <m>" |
| handler raised | 500 | success false, error "Internal server error (correlation_id: <id>)" |
| another service name in the path | 404 | none (nobody serves that route) |
"""

from __future__ import annotations

import json
from typing import Any

import contract as c


def status_of(envelope: dict[str, Any]) -> int:
    if envelope["success"]:
        return 200
    error = envelope["error"]
    if error == "validation failed":
        return 422
    if error.startswith("Unknown method: "):
        return 404
    if error.startswith("Internal server error"):
        return 500
    return 200


def decode(raw: bytes, headers: Any) -> tuple[Any, dict[str, Any] | None]:
    """The body as keyword arguments, or the envelope for an undecodable body
    (correlation from headers only, as Cliffracer's decode path)."""
    if not raw.strip():
        return {}, None
    try:
        return json.loads(raw), None
    except ValueError as e:
        cid = header_cid(headers)
        return None, c.failure(
            "validation failed",
            cid,
            [{"loc": ["__root__"], "msg": f"Invalid payload: {e}", "type": "payload_invalid"}],
        )


def header_cid(headers: Any) -> str | None:
    lower = {str(k).lower(): v for k, v in headers.items()}
    return next((str(lower[h]) for h in c.CORRELATION_HEADERS if lower.get(h)), None)


def encode(envelope: dict[str, Any]) -> bytes:
    return json.dumps(envelope).encode()

"""``POST /api/put`` on Starlette: read the body within limits and time.

What is done with the body (gzip, bounds, parsing, each point's check) is
``tspush.ingest``'s, shared with the agent's ``http_listener``.
"""

from __future__ import annotations

import asyncio

from starlette.requests import ClientDisconnect, Request

from tspush.core.point import MAX_SECONDS, Point
from tspush.ingest.body import Limits, body_too_large, declared_length, decoded, parse_items
from tspush.ingest.check import Checker, check_all, check_item, echo
from tspush.ingest.errors import ApiError

__all__ = ["Checker", "Limits", "check_all", "check_item", "echo", "parse_items", "read_body"]

STOCK_OPENTSDB_MAX_BYTES = 8192


def stock_opentsdb_check(request: Request, wire_bytes: int) -> None:
    """What stock OpenTSDB 2.x does with a chunked body or one over 8192 bytes: 400.

    Netty hands OpenTSDB any body over 8192 bytes in chunks, and chunked
    requests are refused unless ``tsd.http.request.enable_chunked`` is set.
    ``--strict`` applies this so clients meet the limit before production does.
    """
    chunked = "chunked" in request.headers.get("transfer-encoding", "").lower()
    if chunked or wire_bytes > STOCK_OPENTSDB_MAX_BYTES:
        raise ApiError(
            400,
            "Chunked request not supported.",
            "stock OpenTSDB (as --strict) refuses chunked bodies and bodies over %d bytes "
            "(this one: %s); send smaller batches with Content-Length"
            % (STOCK_OPENTSDB_MAX_BYTES, "chunked" if chunked else "%d bytes" % wire_bytes),
        )


async def read_body(request: Request, limits: Limits, stock_opentsdb: bool = False) -> bytes:
    """The request body, gunzipped if sent with ``Content-Encoding: gzip``; 413 when too big."""
    cap = limits.max_body_bytes
    declared_length(request.headers.get("content-length"), cap)
    parts: list[bytes] = []
    total = 0
    try:
        async with asyncio.timeout(limits.body_timeout_s):
            async for chunk in request.stream():
                total += len(chunk)
                if total > cap:
                    raise body_too_large(None, cap)
                parts.append(chunk)
    except ClientDisconnect:
        # Nothing can be answered; an ApiError keeps it out of the error log.
        raise ApiError(400, "Client closed the connection before the whole body arrived") from None
    except TimeoutError:
        raise ApiError(
            408,
            "Request body not received in %gs" % limits.body_timeout_s,
            "send the whole body at once",
        ) from None
    body = b"".join(parts)
    if stock_opentsdb:
        stock_opentsdb_check(request, len(body))
    return decoded(body, request.headers.get("content-encoding"), cap)


def rows(points: list[Point]) -> list[tuple[str, dict[str, str], int, int | float]]:
    """``(metric, tags, ts_ms, value)`` per point (``ts_to_ms()`` inlined: once per point)."""
    out = []
    for p in points:
        t = p.ts
        out.append((p.metric, p.tags, int(t) if t > MAX_SECONDS else int(t * 1000), p.value))
    return out

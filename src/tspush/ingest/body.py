"""An ``/api/put`` body within bounds: its declared length, gzip, and what parsing may build."""

from __future__ import annotations

import zlib
from typing import Any

import orjson

from tspush.ingest.errors import ApiError

GZIP_EXPANSION = 16  # a gzip body may expand to this many times max_body_bytes


class Limits:
    """What one request may carry; the defaults suit a LAN gateway."""

    def __init__(
        self,
        max_body_bytes: int = 1_048_576,
        max_points: int = 10_000,
        max_name_chars: int = 256,
        max_tags: int = 32,
        body_timeout_s: float = 30.0,
        max_series: int = 100_000,
        query_timeout_s: float = 10.0,
        max_series_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self.query_timeout_s = query_timeout_s
        self.max_series_bytes = max_series_bytes
        self.body_timeout_s = body_timeout_s
        self.max_series = max_series
        self.max_body_bytes = max_body_bytes
        self.max_points = max_points
        self.max_name_chars = max_name_chars
        self.max_tags = max_tags


def too_large(message: str, details: str) -> ApiError:
    return ApiError(413, message, details)


def declared_length(value: str | None, cap: int) -> int | None:
    """The Content-Length header as a number (None when absent); 400 or 413 when wrong."""
    if value is None:
        return None
    try:
        n = int(value)
    except ValueError:
        raise ApiError(400, "Invalid Content-Length %r" % value) from None
    if n < 0:
        raise ApiError(400, "Invalid Content-Length %r" % value)
    if n > cap:
        raise body_too_large(n, cap)
    return n


def body_too_large(n: int | None, cap: int) -> ApiError:
    size = "over %d bytes" % cap if n is None else "%d bytes, at most %d bytes" % (n, cap)
    return too_large(
        "Request body too large: %s" % size,
        "send fewer points per request (or raise --max-body-bytes)",
    )


def decoded(body: bytes, encoding: str | None, cap: int) -> bytes:
    """The body gunzipped (or inflated) per its Content-Encoding; 413 past ``cap * 16``."""
    encoding = (encoding or "").strip().lower()
    if encoding in ("gzip", "x-gzip", "deflate"):
        return _inflate(body, encoding, cap * GZIP_EXPANSION)
    if encoding not in ("", "identity"):
        raise ApiError(415, "Unsupported Content-Encoding %r" % encoding, "send plain JSON or gzip")
    return body


def _inflate(body: bytes, encoding: str, cap: int) -> bytes:
    wbits = 47 if encoding != "deflate" else 15  # 47: gzip or zlib header, auto-detected
    d = zlib.decompressobj(wbits)
    try:
        out = d.decompress(body, cap + 1)
    except zlib.error as e:
        raise ApiError(
            400, "Unable to decompress the gzip body: %s" % e, "check the gzip encoding"
        ) from None
    if len(out) > cap:
        raise too_large(
            "Decompressed body too large: over %d bytes" % cap,
            "send fewer points per request",
        )
    if not d.eof:
        raise ApiError(
            400, "Unable to decompress the gzip body: it is truncated", "send the whole gzip stream"
        )
    return out


def max_values(limits: Limits) -> int:
    """Most JSON values a request of ``max_points`` full points can hold.

    A point (metric, timestamp, value and a tags object of up to
    ``max_tags`` pairs, and its comma in the array) counts 9 + 2 * max_tags
    of the bytes count_values_at_most() counts; a few more for slack.
    """
    return limits.max_points * (12 + 2 * limits.max_tags)


def count_values_at_most(body: bytes) -> int:
    """An upper bound of the JSON values in ``body``, counted without parsing (C speed).

    Every value but the first follows a ``,`` or opens with ``{``/``[`` (a
    ``:`` is followed by a value counted by its own ``,`` or bracket, or is
    the last of its object): counting these bytes, strings included, can only
    over-count.
    """
    return body.count(b",") + body.count(b"{") + body.count(b"[") + body.count(b":") + 1


def parse_items(body: bytes, limits: Limits) -> list[Any]:
    """The JSON array (or single object) of data points.

    The size of what parsing builds is bounded first: a 16 KB gzip of
    ``[{},{},...]`` inflates to millions of objects, hundreds of MiB before
    the point count could be checked.
    """
    if not body.strip():
        raise ApiError(400, "Missing request content", "send a JSON data point or an array of them")
    most = max_values(limits)
    if count_values_at_most(body) > most:
        raise too_large(
            "Too many data points: the body holds more JSON values than %d points can "
            "(over %d values)" % (limits.max_points, most),
            "send at most %d points per request (or raise --max-points)" % limits.max_points,
        )
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise ApiError(400, "Unable to parse the given JSON", str(e)) from None
    if isinstance(doc, dict):
        return [doc]
    if not isinstance(doc, list):
        raise ApiError(
            400,
            "Unable to parse the given JSON",
            "expected a data point object or an array of them",
        )
    if not doc:
        raise ApiError(400, "No data points in the request", "send at least one data point")
    if len(doc) > limits.max_points:
        raise too_large(
            "Too many data points: %d, at most %d per request" % (len(doc), limits.max_points),
            "split the batch (or raise --max-points)",
        )
    return doc

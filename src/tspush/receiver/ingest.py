"""``POST /api/put``: read the body within limits, parse it, check every point.

Bad points do not spoil good ones: each is checked on its own with the
core's rules (lenient by default, real OpenTSDB's with ``strict``), the good
ones are stored, the bad ones are reported as OpenTSDB does.
"""

from __future__ import annotations

import asyncio
import math
import zlib
from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request

from tspush.core.errors import PointError
from tspush.core.point import LENIENT, MAX_MS, MAX_SECONDS, Point, point_from_dict
from tspush.receiver.errors import ApiError

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
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
    cl = request.headers.get("content-length")
    if cl is not None:
        try:
            n = int(cl)
        except ValueError:
            raise ApiError(400, "Invalid Content-Length %r" % cl) from None
        if n > cap:
            raise too_large(
                "Request body too large: %d bytes, at most %d" % (n, cap),
                "send fewer points per request (or raise --max-body-bytes)",
            )
    parts: list[bytes] = []
    total = 0
    try:
        async with asyncio.timeout(limits.body_timeout_s):
            async for chunk in request.stream():
                total += len(chunk)
                if total > cap:
                    raise too_large(
                        "Request body too large: over %d bytes" % cap,
                        "send fewer points per request (or raise --max-body-bytes)",
                    )
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
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding in ("gzip", "x-gzip", "deflate"):
        body = _inflate(body, encoding, cap * GZIP_EXPANSION)
    elif encoding not in ("", "identity"):
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


def check_item(item: Any, mode: str, now_s: int, limits: Limits) -> Point:
    """One stored-ready point (timestamp filled in); PointError naming the rule otherwise."""
    p = point_from_dict(item, mode, now_s)
    if isinstance(p.value, int) and not INT64_MIN <= p.value <= INT64_MAX:
        raise PointError("%s: value is out of the 64-bit integer range" % p.metric, "value-range")
    if len(p.metric) > limits.max_name_chars:
        raise PointError(
            "metric name is %d characters long, at most %d"
            % (len(p.metric), limits.max_name_chars),
            "metric-length",
        )
    if len(p.tags) > limits.max_tags:
        raise PointError(
            "%s: %d tags, at most %d" % (p.metric, len(p.tags), limits.max_tags), "tags-too-many"
        )
    for k, v in p.tags.items():
        if len(k) > limits.max_name_chars or len(v) > limits.max_name_chars:
            raise PointError(
                "%s: tag %.40s... is longer than %d characters"
                % (p.metric, k, limits.max_name_chars),
                "tag-length",
            )
    return p


class Checker:
    """The core's point rules, plus a memo of metric+tag sets already found good.

    A board sends the same series again and again; once a name set has passed
    ``check_item`` (core rules and limits), later points of that series only
    need their value and timestamp looked at. Anything unusual (strings,
    bools, odd types, an unknown series) goes through the full check.
    """

    MAX_MEMO = 100_000

    def __init__(self, mode: str = LENIENT, limits: Limits | None = None) -> None:
        self.mode = mode
        self.limits = limits or Limits()
        self._good: set[tuple[str, tuple[tuple[str, Any], ...]]] = set()
        # the raw metric and tags of the last point found in the memo (their tag
        # values are strings, so an equal tags object is the same good series)
        self._last: tuple[Any, Any] = (None, None)

    def check(self, item: Any, now_s: int) -> Point:
        if type(item) is dict:
            metric = item.get("metric")
            tags = item.get("tags")
            if tags is None:
                tags = {}
            value = item.get("value")
            ts = item.get("timestamp")
            if type(metric) is str and type(tags) is dict:
                last = self._last
                if metric == last[0] and tags == last[1]:
                    known = True  # the series of the point before: a board's run of readings
                else:
                    try:
                        key = (metric, tuple(sorted(tags.items())))
                        known = key in self._good
                    except TypeError:  # an unhashable tag value: the full check says why
                        known = False
                    if known:
                        self._last = (metric, tags)
                if known and _value_ok(value) and self._ts_ok(ts):
                    return Point(metric, value, now_s if ts is None else ts, tags)
        p = check_item(item, self.mode, now_s, self.limits)
        if len(self._good) < self.MAX_MEMO:
            self._good.add((p.metric, tuple(sorted(p.tags.items()))))
        return p

    def _ts_ok(self, ts: Any) -> bool:
        if ts is None:
            return self.mode == LENIENT
        return type(ts) is int and 0 < ts <= MAX_MS

    def check_all(self, items: list[Any], now_s: int) -> tuple[list[Point], list[dict[str, Any]]]:
        """``(good_points, errors)``; errors in OpenTSDB's ``{"datapoint","error"}`` form."""
        good: list[Point] = []
        errors: list[dict[str, Any]] = []
        lenient = self.mode == LENIENT
        isfinite = math.isfinite
        last_metric, last_tags = self._last
        for item in items:
            # check()'s fast path for a point of the series before, inlined: most points
            if type(item) is dict:
                metric = item.get("metric")
                tags = item.get("tags")
                if tags is None:
                    tags = {}
                if type(metric) is str and metric == last_metric and tags == last_tags:
                    value: Any = item.get("value")
                    ts = item.get("timestamp")
                    t = type(value)
                    if (
                        (t is float and isfinite(value))
                        or (t is int and INT64_MIN <= value <= INT64_MAX)
                    ) and ((type(ts) is int and 0 < ts <= MAX_MS) or (ts is None and lenient)):
                        good.append(Point(metric, value, now_s if ts is None else ts, tags))
                        continue
            try:
                good.append(self.check(item, now_s))
            except PointError as e:
                errors.append({"datapoint": echo(item), "error": str(e)})
            last_metric, last_tags = self._last
        return good, errors


ECHO_DEPTH = 4  # a point is an object holding a tags object: deeper is not a point


def echo(item: Any, depth: int = ECHO_DEPTH) -> Any:
    """A refused item as it is sent back in ``errors``, nested at most ``depth`` deep.

    JSON nested hundreds deep inside a point parses, but could not be encoded
    back (orjson stops at 254 levels); past a few levels it is cut to "...".
    """
    if isinstance(item, dict):
        if depth <= 0:
            return "..."
        return {k: echo(v, depth - 1) for k, v in item.items()}
    if isinstance(item, list):
        if depth <= 0:
            return "..."
        return [echo(v, depth - 1) for v in item]
    return item


def _value_ok(v: Any) -> bool:
    t = type(v)
    if t is int:
        return bool(INT64_MIN <= v <= INT64_MAX)
    return t is float and math.isfinite(v)


def check_all(
    items: list[Any], mode: str = LENIENT, now_s: int = 0, limits: Limits | None = None
) -> tuple[list[Point], list[dict[str, Any]]]:
    """Every item through the full core check (no memo)."""
    good: list[Point] = []
    errors: list[dict[str, Any]] = []
    for item in items:
        try:
            good.append(check_item(item, mode, now_s, limits or Limits()))
        except PointError as e:
            errors.append({"datapoint": echo(item), "error": str(e)})
    return good, errors


def rows(points: list[Point]) -> list[tuple[str, dict[str, str], int, int | float]]:
    """``(metric, tags, ts_ms, value)`` per point (``ts_to_ms()`` inlined: once per point)."""
    out = []
    for p in points:
        t = p.ts
        out.append((p.metric, p.tags, int(t) if t > MAX_SECONDS else int(t * 1000), p.value))
    return out

"""OpenTSDB ``/api/put`` JSON on the computer: orjson beside ``core.opentsdb``.

The core's encoder walks every character (about 3 µs a point on CPython).
Here a chunk of points is one ``orjson.dumps`` of a list of dicts, which
``core.pack`` takes whole when it fits (a point alone: one ``dumps`` of its
dict). The bytes decode to exactly the data the core writes (key order and
float spelling aside: ``1e-7`` for ``1e-07``). A value orjson would write
differently (NaN, Infinity, booleans, ints beyond 64 bits, non-numbers) is
written by the core, which also names any error.

The spool's records are these objects too (``record``): an output with this
format sends them joined as they are (``RECORDS``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from tspush.core import opentsdb as core
from tspush.core.errors import PointError
from tspush.core.pack import pack
from tspush.core.point import Point
from tspush.core.spool import MAX_POINT

NAME = "opentsdb"
CONTENT_TYPE = core.CONTENT_TYPE
RECORDS = True
DEFAULT_MAX_POINTS = core.DEFAULT_MAX_POINTS
DEFAULT_MAX_BYTES = core.DEFAULT_MAX_BYTES
_INT64 = 1 << 63
_NUMBER = {int, float}

_dumps = orjson.dumps


def encode_point(p: Any) -> bytes:
    """One point as a JSON object (UTF-8), the core's data in fewer microseconds."""
    v = p.value
    t = type(v)
    if (t is int and -_INT64 <= v < _INT64) or (t is float and v - v == 0):
        ts = p.ts
        try:
            if ts is None:
                return _dumps({"metric": p.metric, "value": v, "tags": p.tags})
            return _dumps({"metric": p.metric, "timestamp": ts, "value": v, "tags": p.tags})
        except (orjson.JSONEncodeError, TypeError):
            pass
    return core.encode_point(p)


record = encode_point  # a spool record is one point's JSON object


def too_big(p: Any, size: int) -> PointError:
    """The error for a point whose record is over the spool's limit for one point."""
    return PointError(
        "%s: encodes to %d bytes, over the %d-byte limit of one point: "
        "shorten its metric name and tag values" % (str(p.metric)[:60], size, MAX_POINT),
        "size",
        p,
    )


def decode(records: Iterable[bytes]) -> list[Point]:
    """Spool records back to points (orjson: the host's ``spoolmore.decode_point``)."""
    out = []
    for r in records:
        d = orjson.loads(r)
        out.append(Point(d["metric"], d["value"], d.get("timestamp"), d.get("tags") or {}))
    return out


def encode(points: Iterable[Any]) -> bytes:
    """All points as one JSON array (no size limit: see ``batches``)."""
    return b"[" + b",".join(encode_point(p) for p in points) + b"]"


def _whole(chunk: list[Any]) -> bytes | None:
    """The chunk as one JSON array in one orjson call, or None (point by point) unless
    every value is a finite int or float (a finite sum proves it; one that overflows
    only costs the slow path). Metrics are not checked: points come here prepared."""
    vals = [p.value for p in chunk]
    if not set(map(type, vals)) <= _NUMBER:
        return None
    try:
        total = sum(vals)
        if total - total != 0:
            return None
        return _dumps(
            [
                {"metric": p.metric, "timestamp": p.ts, "value": p.value, "tags": p.tags}
                if p.ts is not None
                else {"metric": p.metric, "value": p.value, "tags": p.tags}
                for p in chunk
            ]
        )
    except (OverflowError, orjson.JSONEncodeError, TypeError):
        return None


def batches(
    points: Iterable[Any],
    max_points: int = DEFAULT_MAX_POINTS,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Iterator[tuple[bytes, list[Any]]]:
    """``core.opentsdb.batches`` with the fast encoder: a JSON array of at most
    ``max_bytes``; a point too large alone raises PointError after those before it."""
    return pack(points, encode_point, max(1, max_points), max_bytes, b"[", b",", b"]", _whole)

"""Influx line protocol on the computer: memoised names beside ``core.influx``.

The escaped ``measurement,tags field=`` prefix of a series is built once by
the core's own escaping functions and remembered (a host has far fewer series
than points); each point then costs its value and timestamp. Anything the
fast path cannot vouch for (an int beyond 64 bits, NaN, a boolean or string
value, a name the core escapes or refuses, an odd timestamp) is written by
the core, so errors and edge cases are the core's own. Bodies are cut by
``core.pack`` like the core's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import partial
from typing import Any

from tspush.core import influx as core
from tspush.core.errors import PointError
from tspush.core.pack import pack

NAME = "influx"
CONTENT_TYPE = core.CONTENT_TYPE
RECORDS = False
DEFAULT_MAX_POINTS = core.DEFAULT_MAX_POINTS
DEFAULT_MAX_BYTES = core.DEFAULT_MAX_BYTES
DEFAULT_PRECISION = core.DEFAULT_PRECISION
DEFAULT_FIELD = core.DEFAULT_FIELD
_INT64_MIN = core.INT64_MIN
_INT64_MAX = core.INT64_MAX
# Remembered prefixes (field, metric, tag items) -> escaped prefix; a full memo starts afresh.
MEMO_MAX = 20000
_memo: dict[tuple[Any, ...], str] = {}


def _prefix(metric: Any, tags: dict[Any, Any], field: str) -> str:
    """``measurement,k=v,... field=`` escaped and checked by the core's functions."""
    parts = [core.measurement(metric)]
    for k in sorted(tags):
        parts.append(core.key(k) + "=" + core.key(tags[k], "tag value of " + str(k)))
    return ",".join(parts) + " " + core.key(field, "field key") + "="


def encode_point(p: Any, precision: str = DEFAULT_PRECISION, field: str = DEFAULT_FIELD) -> bytes:
    """One line with its newline; the core's bytes and errors for anything unusual."""
    v = p.value
    t = type(v)
    ts = p.ts
    if ((t is float and v - v == 0) or (t is int and _INT64_MIN <= v <= _INT64_MAX)) and (
        ts is None or (type(ts) is int and ts > 0)
    ):
        try:
            key = (field, p.metric, *p.tags.items())
            prefix = _memo.get(key)
            if prefix is None:
                prefix = _prefix(p.metric, p.tags, field)
                if len(_memo) >= MEMO_MAX:
                    _memo.clear()
                _memo[key] = prefix
            tok = repr(v) if t is float else "%di" % v
            if ts is None:
                return (prefix + tok + "\n").encode()
            return ("%s%s %d\n" % (prefix, tok, core.timestamp(ts, precision))).encode()
        except (PointError, TypeError, AttributeError):
            pass  # the core says what is wrong, naming the point
    return core.encode_point(p, precision, field) + b"\n"


def encode(
    points: Iterable[Any], precision: str = DEFAULT_PRECISION, field: str = DEFAULT_FIELD
) -> bytes:
    """All points as Influx lines, each ending in a newline (no size limit)."""
    return b"".join(encode_point(p, precision, field) for p in points)


def batches(
    points: Iterable[Any],
    max_points: int = DEFAULT_MAX_POINTS,
    max_bytes: int = DEFAULT_MAX_BYTES,
    precision: str = DEFAULT_PRECISION,
    field: str = DEFAULT_FIELD,
) -> Iterator[tuple[bytes, list[Any]]]:
    """``core.influx.batches`` with the fast encoder (same limits, same errors)."""
    line = partial(encode_point, precision=precision, field=field)
    return pack(points, line, max(1, max_points), max_bytes)

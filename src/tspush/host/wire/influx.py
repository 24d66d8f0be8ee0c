"""Influx line protocol on the computer: memoised names beside ``core.influx``.

The escaped ``measurement,tags field=`` prefix of a series is built once (by
the core's own escaping functions when a name needs any) and remembered: a
host has far fewer series than points. The values and timestamps of a chunk
are formatted by one ``orjson`` call each (shortest round-trip floats); a
timestamp changes unit by appending zeros to its digits. Anything the fast
path cannot vouch for (an int beyond 64 bits, NaN, a boolean or string
value, a non-string name, an odd timestamp) is written by the core, so
errors and edge cases are the core's own. Bodies are cut by ``core.pack``,
which takes a whole chunk's body when it fits.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import partial
from typing import Any

import orjson

from tspush.core import influx as core
from tspush.core.errors import PointError
from tspush.core.pack import pack
from tspush.core.point import MAX_SECONDS

NAME = "influx"
CONTENT_TYPE = core.CONTENT_TYPE
RECORDS = False
DEFAULT_MAX_POINTS = core.DEFAULT_MAX_POINTS
DEFAULT_MAX_BYTES = core.DEFAULT_MAX_BYTES
DEFAULT_PRECISION = core.DEFAULT_PRECISION
DEFAULT_FIELD = core.DEFAULT_FIELD

# Characters the core's escaping escapes, refuses or looks at twice.
_UNCLEAN = re.compile("[,= \\\\\n\r]")
_INT64_MIN = core.INT64_MIN
_INT64_MAX = core.INT64_MAX
# Zeros that turn the digits of a seconds / milliseconds timestamp into the
# body's precision (None: computed by the core, e.g. milliseconds to seconds).
_ZEROS: dict[str, tuple[str | None, str | None]] = {
    "ns": ("000000000", "000000"),
    "us": ("000000", "000"),
    "ms": ("000", ""),
    "s": ("", None),
}
# Remembered series prefixes per field key; a full memo starts afresh.
MEMO_MAX = 20000
_memo: dict[str, dict[tuple[str, bytes], str]] = {}
_dumps = orjson.dumps


class _Fallback(Exception):
    """The fast path cannot vouch for this chunk; the core encodes each point."""


def _prefix(metric: Any, tags: dict[Any, Any], field: str) -> str:
    """``measurement,k=v,... field=`` escaped (and checked) as the core does it."""
    keys = sorted(tags)
    values = [tags[k] for k in keys]
    names = [metric, field, *keys, *values]
    if (
        all(type(s) is str and s for s in names)
        and metric[0] != "#"
        and _UNCLEAN.search("\x00".join(names)) is None
    ):
        return metric + "".join([f",{k}={v}" for k, v in zip(keys, values)]) + f" {field}="
    parts = [core.measurement(metric)]
    for k in keys:
        parts.append(core.key(k) + "=" + core.key(tags[k], "tag value of " + str(k)))
    return ",".join(parts) + " " + core.key(field, "field key") + "="


def _lines(chunk: list[Any], precision: str, field: str) -> list[str]:
    """One line (with its newline) per point; raises _Fallback for the core to decide."""
    try:
        vals = _dumps([p.value for p in chunk])
        tss = _dumps([p.ts for p in chunk])
        keys = [(p.metric, _dumps(p.tags)) for p in chunk]
    except (orjson.JSONEncodeError, TypeError):
        raise _Fallback() from None
    if b"null" in vals:
        raise _Fallback()
    toks = vals[1:-1].decode().split(",")
    ts_toks = tss[1:-1].decode().split(",")
    if len(toks) != len(chunk) or len(ts_toks) != len(chunk):
        raise _Fallback()
    s_zeros, ms_zeros = _ZEROS.get(precision, (None, None))
    series = _memo.get(field)
    if series is None or len(series) >= MEMO_MAX:
        series = _memo[field] = {}
    lines = []
    try:
        for p, tok, ts_tok, key in zip(chunk, toks, ts_toks, keys):
            prefix = series.get(key)
            if prefix is None:
                prefix = series[key] = _prefix(p.metric, p.tags, field)
            v = p.value
            t = type(v)
            if t is int:
                if not _INT64_MIN <= v <= _INT64_MAX:
                    raise _Fallback()
                tok += "i"
            elif t is not float:
                raise _Fallback()
            ts = p.ts
            if ts is None:
                line = f"{prefix}{tok}\n"
            elif type(ts) is not int:
                raise _Fallback()
            elif ts > MAX_SECONDS and ms_zeros is not None:
                line = f"{prefix}{tok} {ts_tok}{ms_zeros}\n"
            elif 0 < ts <= MAX_SECONDS and s_zeros is not None:
                line = f"{prefix}{tok} {ts_tok}{s_zeros}\n"
            else:
                line = f"{prefix}{tok} {core.timestamp(ts, precision)}\n"
            lines.append(line)
    except (PointError, TypeError):  # the core names the problem
        raise _Fallback() from None
    return lines


def _whole(chunk: list[Any], precision: str, field: str) -> bytes | None:
    try:
        return "".join(_lines(chunk, precision, field)).encode()
    except _Fallback:
        return None


def encode_point(p: Any, precision: str = DEFAULT_PRECISION, field: str = DEFAULT_FIELD) -> bytes:
    """One line with its newline; the core's bytes and errors for anything unusual."""
    try:
        return _lines([p], precision, field)[0].encode()
    except _Fallback:
        return core.encode_point(p, precision, field) + b"\n"


def encode(
    points: Iterable[Any], precision: str = DEFAULT_PRECISION, field: str = DEFAULT_FIELD
) -> bytes:
    """All points as Influx lines, each ending in a newline (no size limit)."""
    pts = list(points)
    body = _whole(pts, precision, field)
    return body if body is not None else core.encode(pts, precision, field)


def batches(
    points: Iterable[Any],
    max_points: int = DEFAULT_MAX_POINTS,
    max_bytes: int = DEFAULT_MAX_BYTES,
    precision: str = DEFAULT_PRECISION,
    field: str = DEFAULT_FIELD,
) -> Iterator[tuple[bytes, list[Any]]]:
    """``core.influx.batches`` with the fast encoder (same limits, same errors)."""
    return pack(
        points,
        partial(encode_point, precision=precision, field=field),
        max(1, max_points),
        max_bytes,
        whole=partial(_whole, precision=precision, field=field),
    )

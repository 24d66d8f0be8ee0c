"""CPython-only fast encoders for the host: OpenTSDB JSON and Influx line protocol.

The portable encoders in ``tspush.core`` are written for the board and cost
about 4 µs a point on CPython. On the host the same bodies are built here:

* OpenTSDB JSON: a chunk of up to ``max_points`` points becomes one list of
  dicts that ``orjson`` (a C encoder) writes in one call.
* Influx line protocol: the escaped ``measurement,tags field=`` prefix of a
  series is built once by the core's own escaping functions and remembered
  (series repeat: a host has far fewer series than points); values of a chunk
  are formatted in one ``orjson`` call (shortest round-trip floats).

Bodies decode to exactly the data the core encoders produce and respect the
same ``max_points``/``max_bytes`` limits. Anything the fast path cannot vouch
for (an int beyond 64 bits, NaN, a non-number value, a non-string name)
sends the whole chunk through the core encoder, so errors and edge cases are
the core's own. The ``batches`` functions have the shape of
``tspush.core.opentsdb.batches``: they yield ``(body, points_in_body)``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any

import orjson

from tspush.core import influx as core_influx
from tspush.core import opentsdb as core_opentsdb
from tspush.core.errors import PointError
from tspush.core.point import MAX_SECONDS

DEFAULT_MAX_POINTS = core_opentsdb.DEFAULT_MAX_POINTS
DEFAULT_MAX_BYTES = core_opentsdb.DEFAULT_MAX_BYTES

_NUMBER = {int, float}
# Characters the core's Influx escaping escapes, refuses or looks at twice.
_UNCLEAN = re.compile("[,= \\\\\n\r]")
_INT64_MIN = core_influx.INT64_MIN
_INT64_MAX = core_influx.INT64_MAX
# Zeros that turn the digits of a seconds / milliseconds timestamp into the
# body's precision (None: computed by the core, e.g. milliseconds to seconds).
_ZEROS: dict[str, tuple[str | None, str | None]] = {
    "ns": ("000000000", "000000"),
    "us": ("000000", "000"),
    "ms": ("000", ""),
    "s": ("", None),
}
# Remembered Influx series prefixes per field key; a full one starts afresh.
_SERIES_CACHE_MAX = 20000
_series: dict[str, dict[tuple[str, bytes], str]] = {}

_dumps = orjson.dumps

Batch = tuple[bytes, list[Any]]


class _Fallback(Exception):
    """The fast path cannot vouch for this chunk; the core encoder takes it."""


# -- OpenTSDB JSON -------------------------------------------------------------


def _finite_numbers(chunk: list[Any]) -> bool:
    """True when every value is an int or a float and their sum is finite.

    orjson writes NaN and Infinity as ``null`` and booleans as ``true``, where
    the core writes ``nan`` and ``True``: such a chunk goes to the core. (A
    finite sum proves every value finite; a sum that overflows only costs the
    slow path.) Metrics are not checked: points reach the encoder validated.
    """
    vals = [p.value for p in chunk]
    if not set(map(type, vals)) <= _NUMBER:
        return False
    try:
        s = sum(vals)
    except OverflowError:
        return False
    return s - s == 0


def _json_chunk(chunk: list[Any]) -> bytes | None:
    """The chunk as one JSON array, or None when the core must encode it."""
    if not _finite_numbers(chunk):
        return None
    try:
        return _dumps(
            [
                {"metric": p.metric, "timestamp": p.ts, "value": p.value, "tags": p.tags}
                if p.ts is not None
                else {"metric": p.metric, "value": p.value, "tags": p.tags}
                for p in chunk
            ]
        )
    except (orjson.JSONEncodeError, TypeError):
        return None


def _json_parts(chunk: list[Any], fast: bool) -> list[bytes]:
    if fast:
        return [_dumps(p.to_dict()) for p in chunk]
    return [core_opentsdb.encode_point(p) for p in chunk]


def _json_too_large(p: Any, size: int, max_bytes: int) -> PointError:
    return PointError(
        "%s: one point encodes to %d bytes, over the %d-byte body limit: shorten its tags"
        % (p.describe(), size, max_bytes),
        "too-large",
        p,
    )


def encode(points: Iterable[Any]) -> bytes:
    """All points as one OpenTSDB JSON array (no size limit: see ``batches``)."""
    pts = list(points)
    body = _json_chunk(pts)
    return body if body is not None else core_opentsdb.encode(pts)


def batches(
    points: Iterable[Any],
    max_points: int = DEFAULT_MAX_POINTS,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Iterator[Batch]:
    """Yield OpenTSDB ``(body, points_in_body)`` pairs, each body at most ``max_bytes``.

    A point that alone is over ``max_bytes`` raises PointError once the points
    before it have been yielded, as in the core.
    """

    def encode_chunk(chunk: list[Any]) -> bytes | None:
        body = _json_chunk(chunk)
        if body is None or len(body) > max_bytes:
            return None
        return body

    def split(chunk: list[Any]) -> Batch:
        parts = _json_parts(chunk, _json_chunk(chunk) is not None)
        return _pack(parts, chunk, max_bytes, b"[", b",", b"]", 2, _json_too_large)

    return _batches(points, max_points, encode_chunk, split)


# -- Influx line protocol ------------------------------------------------------


def _prefix(metric: Any, tags: dict[Any, Any], field: str) -> str:
    """``measurement,k=v,... field=`` escaped (and checked) as the core does it.

    Names with nothing to escape or refuse (the usual case) are joined as they
    are; anything else goes through the core's own functions.
    """
    keys = sorted(tags)
    values = [tags[k] for k in keys]
    names = [metric, field, *keys, *values]
    if (
        all(type(s) is str and s for s in names)
        and metric[0] != "#"
        and _UNCLEAN.search("\x00".join(names)) is None
    ):
        return metric + "".join([f",{k}={v}" for k, v in zip(keys, values)]) + f" {field}="
    parts = [core_influx.measurement(metric)]
    for k in keys:
        parts.append(core_influx.key(k) + "=" + core_influx.key(tags[k], "tag value of " + str(k)))
    return ",".join(parts) + " " + core_influx.key(field, "field key") + "="


def _influx_lines(chunk: list[Any], precision: str, field: str) -> list[str]:
    """One line (with its newline) per point; raises _Fallback for the core to decide.

    Values and timestamps of the whole chunk are formatted by two orjson calls;
    a timestamp changes unit by appending zeros to its digits.
    """
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
    series = _series.get(field)
    if series is None or len(series) >= _SERIES_CACHE_MAX:
        series = _series[field] = {}
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
                lines.append(f"{prefix}{tok}\n")
            elif type(ts) is not int:
                raise _Fallback()
            elif ts > MAX_SECONDS and ms_zeros is not None:
                lines.append(f"{prefix}{tok} {ts_tok}{ms_zeros}\n")
            elif 0 < ts <= MAX_SECONDS and s_zeros is not None:
                lines.append(f"{prefix}{tok} {ts_tok}{s_zeros}\n")
            else:
                lines.append(f"{prefix}{tok} {core_influx.timestamp(ts, precision)}\n")
    except (PointError, TypeError):  # the core names the problem
        raise _Fallback() from None
    return lines


def _influx_too_large(p: Any, size: int, max_bytes: int) -> PointError:
    return PointError(
        "%s: one point encodes to %d bytes, over the %d-byte body limit: shorten its tags"
        % (p.describe(), size, max_bytes),
        "too-large",
        p,
    )


def influx_encode(
    points: Iterable[Any],
    precision: str = core_influx.DEFAULT_PRECISION,
    field: str = core_influx.DEFAULT_FIELD,
) -> bytes:
    """All points as Influx lines, each ending in a newline (no size limit)."""
    pts = list(points)
    try:
        return "".join(_influx_lines(pts, precision, field)).encode()
    except _Fallback:
        return core_influx.encode(pts, precision, field)


def influx_batches(
    points: Iterable[Any],
    max_points: int = core_influx.DEFAULT_MAX_POINTS,
    max_bytes: int = core_influx.DEFAULT_MAX_BYTES,
    precision: str = core_influx.DEFAULT_PRECISION,
    field: str = core_influx.DEFAULT_FIELD,
) -> Iterator[Batch]:
    """Yield Influx ``(body, points_in_body)`` pairs, like ``tspush.core.influx.batches``."""

    def lines_or_none(chunk: list[Any]) -> list[str] | None:
        try:
            return _influx_lines(chunk, precision, field)
        except _Fallback:
            return None

    def encode_chunk(chunk: list[Any]) -> bytes | None:
        lines = lines_or_none(chunk)
        if lines is None:
            return None
        body = "".join(lines).encode()
        return body if len(body) <= max_bytes else None

    def split(chunk: list[Any]) -> Batch:
        lines = lines_or_none(chunk)
        if lines is None:
            parts = [core_influx.encode_point(p, precision, field) + b"\n" for p in chunk]
        else:
            parts = [line.encode() for line in lines]
        return _pack(parts, chunk, max_bytes, b"", b"", b"", 0, _influx_too_large)

    return _batches(points, max_points, encode_chunk, split)


# -- shared batching -------------------------------------------------------------


def _batches(
    points: Iterable[Any],
    max_points: int,
    encode_chunk: Callable[[list[Any]], bytes | None],
    split: Callable[[list[Any]], Batch],
) -> Iterator[Batch]:
    """Fill chunks of ``max_points``; a chunk that does not fit is split and its rest carried."""
    max_points = max(1, max_points)
    it = iter(points)
    carry: list[Any] = []
    while True:
        if carry:
            chunk = carry + list(islice(it, max_points - len(carry)))
        else:
            chunk = list(islice(it, max_points))
        if not chunk:
            return
        body = encode_chunk(chunk)
        if body is not None:
            carry = []
            yield body, chunk
            continue
        body, sent = split(chunk)
        carry = chunk[len(sent) :]
        yield body, sent


def _pack(
    parts: list[bytes],
    chunk: list[Any],
    max_bytes: int,
    opening: bytes,
    sep: bytes,
    closing: bytes,
    frame: int,
    too_large: Callable[[Any, int, int], PointError],
) -> Batch:
    """As many leading parts as fit in ``max_bytes``; the first alone must fit."""
    size = frame
    n = 0
    for part in parts:
        extra = len(part) + (len(sep) if n else 0)
        if n == 0 and frame + len(part) > max_bytes:
            raise too_large(chunk[0], len(part), max_bytes)
        if size + extra > max_bytes:
            break
        size += extra
        n += 1
    return opening + sep.join(parts[:n]) + closing, chunk[:n]

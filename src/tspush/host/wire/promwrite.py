"""Prometheus remote write (v1): points to snappy-compressed protobuf bodies.

``WriteRequest { repeated TimeSeries timeseries = 1; }``,
``TimeSeries { repeated Label labels = 1; repeated Sample samples = 2; }``,
``Label { string name = 1; string value = 2; }``,
``Sample { double value = 1; int64 timestamp = 2; }`` (milliseconds).

The protobuf is written by hand (four small messages do not need a code
generator); snappy's block format comes from ``cramjam``. CPython only.
Remote write has no "stamp it on arrival": a point without a timestamp gets
the time it is encoded. Values travel as float64.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Iterable, Iterator
from functools import partial
from typing import Any

from tspush.core.errors import PointError
from tspush.core.pack import pack

NAME = "promwrite"
RECORDS = False
CONTENT_TYPE = "application/x-protobuf"
HEADERS = (("Content-Encoding", "snappy"), ("X-Prometheus-Remote-Write-Version", "0.1.0"))
DEFAULT_MAX_POINTS = 5000
DEFAULT_MAX_BYTES = 1 << 20


def varint(n: int) -> bytes:
    """Protobuf base-128 varint; negative int64 as its 64-bit two's complement."""
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field_bytes(field: int, data: bytes) -> bytes:
    return varint(field << 3 | 2) + varint(len(data)) + data


def label(name: str, value: str) -> bytes:
    return _field_bytes(1, name.encode()) + _field_bytes(2, value.encode())


def sample(value: float, ts_ms: int) -> bytes:
    return b"\x09" + struct.pack("<d", value) + b"\x10" + varint(ts_ms)


def timeseries(p: Any, now_ms: int) -> bytes:
    """One point as a TimeSeries: ``__name__`` plus its tags, sorted by name."""
    v = p.value
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise PointError("%s: value %r is not a number" % (p.describe(), v), "value-type", p)
    labels = {"__name__": p.metric, **p.tags}
    for k, val in labels.items():
        if not k or not isinstance(val, str) or not val:
            raise PointError(
                "%s: label %r=%r: names and values must be non-empty strings"
                % (p.describe(), k, val),
                "label-empty",
                p,
            )
    ts_ms = p.ts_ms() if p.ts is not None else now_ms
    body = b"".join(_field_bytes(1, label(k, labels[k])) for k in sorted(labels))
    body += _field_bytes(2, sample(float(v), ts_ms))
    return _field_bytes(1, body)


def encode(points: Iterable[Any], now_ms: int | None = None) -> bytes:
    """The uncompressed WriteRequest for ``points``."""
    now = int(time.time() * 1000) if now_ms is None else now_ms
    return b"".join(timeseries(p, now) for p in points)


def compress(raw: bytes) -> bytes:
    import cramjam

    return bytes(cramjam.snappy.compress_raw(raw))


def batches(
    points: Iterable[Any],
    max_points: int = DEFAULT_MAX_POINTS,
    max_bytes: int = DEFAULT_MAX_BYTES,
    now_ms: int | None = None,
) -> Iterator[tuple[bytes, list[Any]]]:
    """Yield ``(snappy body, points_in_body)``; ``max_bytes`` bounds the uncompressed
    size (``core.pack`` cuts it; a point too large alone raises PointError)."""
    now = int(time.time() * 1000) if now_ms is None else now_ms
    for raw, batch in pack(points, partial(timeseries, now_ms=now), max(1, max_points), max_bytes):
        yield compress(raw), batch

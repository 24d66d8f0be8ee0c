"""Compressed blocks of points and of rollups: bytes in the database, arrays in memory.

Why pcodec: measured on sensor-like data (a slow random walk with 2 decimals,
1,080 points every 10 s), pcodec stored the values in 0.73 B/point and regular
timestamps in 0.05 B/point; delta/XOR + zstandard took 2.65 B/point for the
same values (1.3 with a decimal-integer trick that breaks on real floats).
pcodec is lossless (floats come back bit for bit, int64 exactly) and decodes
a block in about 20 us.

A block keeps Python's value types: all-int values are stored as int64, all
floats as float64; a block mixing both (or holding ints past 64 bits, which
ingest refuses anyway) is stored as compressed JSON, exact too.
"""

from __future__ import annotations

import struct

import cramjam
import numpy as np
import orjson
from pcodec import ChunkConfig, standalone

INT, FLOAT, JSON = b"i", b"f", b"j"
_LEN = struct.Struct("<I")
_CONFIG = ChunkConfig()

Value = int | float


def _pack(*arrays: np.ndarray) -> bytes:
    out = []
    for a in arrays:
        blob = standalone.simple_compress(np.ascontiguousarray(a), _CONFIG)
        out.append(_LEN.pack(len(blob)))
        out.append(blob)
    return b"".join(out)


def _unpack(data: bytes, pos: int) -> list[np.ndarray]:
    out = []
    while pos < len(data):
        (n,) = _LEN.unpack_from(data, pos)
        pos += 4
        out.append(standalone.simple_decompress(data[pos : pos + n]))
        pos += n
    return out


def _kind(values: list[Value]) -> bytes:
    types = set(map(type, values))
    if types == {float}:
        return FLOAT
    if types == {int}:
        if -(2**63) <= min(values) and max(values) < 2**63:  # type: ignore[type-var]
            return INT
    return JSON


def encode_points(ts_ms: list[int], values: list[Value]) -> bytes:
    """One block: timestamps (sorted, unique) and their values."""
    kind = _kind(values)
    if kind == JSON:
        return JSON + bytes(cramjam.zstd.compress(orjson.dumps([ts_ms, values])))
    dtype = np.int64 if kind == INT else np.float64
    return kind + _pack(np.array(ts_ms, dtype=np.int64), np.array(values, dtype=dtype))


def decode_points(data: bytes) -> tuple[list[int], list[Value]]:
    """``(timestamps, values)`` of a block, values as the ints and floats stored."""
    kind = data[:1]
    if kind == JSON:
        ts, vs = orjson.loads(bytes(cramjam.zstd.decompress(data[1:])))
        return ts, vs
    ts_a, v_a = _unpack(data, 1)
    return ts_a.tolist(), v_a.tolist()


def decode_arrays(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """``(timestamps, values)`` of a block as arrays (a mixed block's values as float64)."""
    if data[:1] == JSON:
        ts, vs = decode_points(data)
        return np.array(ts, dtype=np.int64), np.array(vs)
    ts_a, v_a = _unpack(data, 1)
    return ts_a, v_a


def wide(v: np.ndarray) -> bool:
    """Integers whose sum could pass the int64 range (abs() of -2**63 itself wraps)."""
    return v.dtype.kind in "iu" and float(np.abs(v.astype(np.float64)).sum()) >= 2**62


class Rollup:
    """Buckets of one resolution: start time, count, min, max, sum (arrays, sorted by time)."""

    __slots__ = ("ts", "count", "min", "max", "sum")

    def __init__(
        self, ts: np.ndarray, count: np.ndarray, mn: np.ndarray, mx: np.ndarray, sm: np.ndarray
    ) -> None:
        self.ts = ts
        self.count = count
        self.min = mn
        self.max = mx
        self.sum = sm

    def __len__(self) -> int:
        return len(self.ts)

    @classmethod
    def empty(cls) -> Rollup:
        i = np.zeros(0, dtype=np.int64)
        return cls(i, i, i, i, i)

    @classmethod
    def of_points(cls, ts_ms: list[int], values: list[Value], res_ms: int) -> Rollup:
        """Buckets of ``res_ms`` (aligned on multiples of it) over sorted points."""
        if not ts_ms:
            return cls.empty()
        kind = _kind(values)
        v = np.array(values, dtype=np.int64 if kind == INT else np.float64)
        return cls.of_arrays(np.array(ts_ms, dtype=np.int64), v, res_ms)

    @classmethod
    def of_arrays(cls, ts: np.ndarray, v: np.ndarray, res_ms: int) -> Rollup:
        """``of_points`` of a decoded block: sorted int64 timestamps, int64 or float64 values."""
        if not len(ts):
            return cls.empty()
        b = ts - ts % res_ms
        starts = np.flatnonzero(b[1:] != b[:-1]) + 1
        starts = np.concatenate((np.zeros(1, dtype=starts.dtype), starts))
        sm = np.add.reduceat(v, starts)
        if v.dtype.kind in "iu" and wide(v):  # a sum that could wrap int64: add as floats
            sm = np.add.reduceat(v.astype(np.float64), starts)
        return cls(
            b[starts],
            (np.concatenate((starts[1:], np.full(1, len(ts)))) - starts).astype(np.int64),
            np.minimum.reduceat(v, starts),
            np.maximum.reduceat(v, starts),
            sm,
        )

    def slice(self, start_ms: int, end_ms: int) -> Rollup:
        """Buckets with start_ms <= ts < end_ms."""
        i, j = np.searchsorted(self.ts, [start_ms, end_ms])
        return self.slice_at(i, j)

    def slice_at(self, i: int, j: int) -> Rollup:
        """Buckets i to j (exclusive), by position."""
        return Rollup(self.ts[i:j], self.count[i:j], self.min[i:j], self.max[i:j], self.sum[i:j])

    def without(self, start_ms: int, end_ms: int) -> Rollup:
        """Every bucket except those with start_ms <= ts < end_ms."""
        keep = (self.ts < start_ms) | (self.ts >= end_ms)
        return Rollup(
            self.ts[keep], self.count[keep], self.min[keep], self.max[keep], self.sum[keep]
        )

    @staticmethod
    def concat(parts: list[Rollup]) -> Rollup:
        parts = [p for p in parts if len(p)]
        if not parts:
            return Rollup.empty()
        if len(parts) == 1:
            return parts[0]
        r = Rollup(
            *(
                np.concatenate([getattr(p, f) for p in parts])
                for f in ("ts", "count", "min", "max", "sum")
            )
        )
        order = np.argsort(r.ts, kind="stable")
        return Rollup(r.ts[order], r.count[order], r.min[order], r.max[order], r.sum[order])

    def encode(self) -> bytes:
        kinds = "".join(
            "i" if a.dtype.kind in "iu" else "f" for a in (self.min, self.max, self.sum)
        )
        return kinds.encode() + _pack(self.ts, self.count, self.min, self.max, self.sum)

    @classmethod
    def decode(cls, data: bytes) -> Rollup:
        ts, count, mn, mx, sm = _unpack(data, 3)
        return cls(ts, count, mn, mx, sm)

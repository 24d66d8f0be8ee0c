"""Prometheus remote write: hand-written protobuf, exact bytes, snappy round trip."""

from __future__ import annotations

import struct

import cramjam
import pytest

from tspush.core.errors import PointError
from tspush.core.point import Point
from tspush.host.wire import promwrite


@pytest.mark.parametrize(
    ("n", "want"),
    [
        (0, b"\x00"),
        (1, b"\x01"),
        (127, b"\x7f"),
        (128, b"\x80\x01"),
        (300, b"\xac\x02"),
        (-1, b"\xff" * 9 + b"\x01"),
    ],
)
def test_varint(n: int, want: bytes) -> None:
    assert promwrite.varint(n) == want


def test_one_point_exact_bytes() -> None:
    p = Point("up", 1.5, 1700000000, {"job": "x"})
    # Label{name="__name__", value="up"}, Label{job=x}, Sample{1.5, 1700000000000}
    l1 = b"\x0a\x08__name__\x12\x02up"
    l2 = b"\x0a\x03job\x12\x01x"
    ts = promwrite.varint(1700000000000)
    smp = b"\x09" + struct.pack("<d", 1.5) + b"\x10" + ts
    series = b"\x0a" + bytes([len(l1)]) + l1 + b"\x0a" + bytes([len(l2)]) + l2
    series += b"\x12" + bytes([len(smp)]) + smp
    assert promwrite.encode([p]) == b"\x0a" + bytes([len(series)]) + series


def test_labels_sorted_unicode_and_missing_time_stamped() -> None:
    p = Point("m", 2, None, {"z": "\u00e9", "a": "1"})
    raw = promwrite.encode([p], now_ms=1234)
    assert raw.index(b"__name__") < raw.index(b"a\x12\x011")
    assert raw.index(b"a\x12\x011") < raw.index(b"z\x12\x02\xc3\xa9")
    assert raw.endswith(b"\x10" + promwrite.varint(1234))


def test_batches_are_snappy_and_bounded() -> None:
    pts = [Point("m", i, 1700000000 + i, {"host": "h"}) for i in range(120)]
    out = list(promwrite.batches(pts, max_points=50))
    assert [len(b) for _, b in out] == [50, 50, 20]
    raw = b"".join(bytes(cramjam.snappy.decompress_raw(body)) for body, _ in out)
    assert raw == promwrite.encode(pts)
    limit = 400
    small = list(promwrite.batches(pts, max_bytes=limit))
    assert len(small) > 1 and sum(len(b) for _, b in small) == 120
    for body, _ in small:
        assert len(bytes(cramjam.snappy.decompress_raw(body))) <= limit


def test_bad_points_named() -> None:
    with pytest.raises(PointError, match="not a number"):
        promwrite.encode([Point("m", "x")])
    with pytest.raises(PointError, match="non-empty"):
        promwrite.encode([Point("m", 1, None, {"k": ""})])

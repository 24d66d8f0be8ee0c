"""Spool records on the host: the fast encoder writes the core's data, ``Preparer`` refuses
what the core refuses (its series cache changes no verdict)."""

from __future__ import annotations

import json

import pytest

from tspush.core.errors import PointError
from tspush.core.opentsdb import encode_point
from tspush.core.point import STRICT, Point
from tspush.core.prepare import Preparer
from tspush.core.spoolmore import decode_point
from tspush.host.wire.opentsdb import record

CASES = [
    Point("sys.cpu", 1, 1700000000, {"host": "a"}),
    Point("sys.cpu", 0.1 + 0.2, 1700000000123, {"host": "a"}),
    Point("t", -5, None, {}),
    Point("ünïcode.m", 1e-300, 1700000001, {"ort": "Köln", "q": "x/y"}),
    Point("big", 2**70, 1700000002, {}),  # beyond 64 bits: the core encodes it
]


@pytest.mark.parametrize("p", CASES, ids=lambda p: p.metric)
def test_same_data_as_the_core_encoder(p: Point) -> None:
    prep = Preparer()
    for _ in range(2):  # the second time from the series cache
        b = record(prep.prepare(p))
        assert json.loads(b) == json.loads(encode_point(p))
        assert decode_point(b) == p


def test_refusals_are_the_cores() -> None:
    prep = Preparer()
    prep.prepare(Point("m", 1, 1700000000, {"k": "v"}))
    bad = [
        Point("m", float("nan"), 1700000000, {"k": "v"}),  # cached series, bad value
        Point("m", True, 1700000000, {"k": "v"}),
        Point("m", 1, 1.5, {"k": "v"}),  # type: ignore[arg-type]
        Point("m m", 1, 1700000000, {}),
        Point("m", 1, 1700000000, {"k": 5}),  # type: ignore[dict-item]
    ]
    good, errors = prep.split(bad + [Point("ok", 2, 1700000000, {})])
    assert len(good) == 1 and len(errors) == 5
    assert [e.rule for e in errors] == [
        "value-finite",
        "value-type",
        "timestamp-type",
        "metric-chars",
        "tag value-type",
    ]
    with pytest.raises(PointError, match="no tags"):
        Preparer(STRICT).prepare(Point("m", 1, 1700000000, {}))


def test_series_cache_is_bounded() -> None:
    prep = Preparer(max_series=10)
    for i in range(25):
        prep.prepare(Point("m", i, 1700000000, {"i": str(i)}))
    assert len(prep.series) <= 10


def test_same_bytes_as_the_core_encoder_for_ascii_points() -> None:
    """Key order included: a spooled record goes out as the original board's body."""
    prep = Preparer()
    for p in (Point("universe", 42), Point("sys.cpu", 1.5, 1700000000, {"host": "a"})):
        assert record(prep.prepare(p)) == encode_point(p)
        assert record(prep.prepare(p)) == encode_point(p)  # from the series cache

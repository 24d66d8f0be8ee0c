"""The encoders' bodies, posted to a real VictoriaMetrics, read back exactly.

Two listeners: OpenTSDB JSON on ``/api/put`` and Influx line protocol on
``/write`` (stored as ``<measurement>_<field>``, so ``m`` becomes
``m_value``). VictoriaMetrics answers 204 even for rows it drops, so only the
rows read back from ``/api/v1/export`` count.

VictoriaMetrics itself keeps about 12 significant digits of a float (it
stores decimals) and ints beyond 2**53 as float64. Values it can hold are
compared with what was sent, exactly; for values with more digits the test
compares with what VictoriaMetrics stores when the same float reaches it
through its own JSON import, so any digit our encoders lost would show.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

from tspush.core import influx, opentsdb
from tspush.core.point import Point

TS0_MS = 1700000000000

# values VictoriaMetrics stores without loss
EXACT: list[int | float] = [
    42,
    -7,
    0,
    1.5,
    -2.5e-08,
    21.375,
    123456.789012,
    -98765.4321,
    1e300,
    -1e-300,
    2**53,
    -(2**53),
    1234567890123,
]
# values with more digits than VictoriaMetrics keeps: compared with its own import
MANY_DIGITS: list[int | float] = [
    0.1 + 0.2,
    123456789.12345679,
    3.141592653589793,
    -1.0000000000000002,
    1.7976931348623157e308,
    2**53 + 1,
    9223372036854775807,
]

TAGS = [
    {},
    {"host": "h1"},
    {"pi\u00e8ce": "s\u00e9jour", "host": "h1"},
    {"city": "\u6771\u4eac", "unit": "\u00b0C"},
    {"a": "1", "b": "2", "c": "3", "d": "4", "e": "5", "f": "6", "g": "7", "h": "8"},
]


def _post(url: str, body: bytes, content_type: str) -> int:
    req = urllib.request.Request(url, data=body, method="POST")
    req.add_header("Content-Type", content_type)
    with urllib.request.urlopen(req, timeout=60) as r:
        return int(r.status)


def _points(prefix: str, values: list[int | float]) -> list[Point]:
    out = []
    for i, v in enumerate(values):
        out.append(Point(f"{prefix}.v{i}", v, TS0_MS + i, dict(TAGS[i % len(TAGS)])))
    # a seconds timestamp too
    out.append(Point(f"{prefix}.secs", 17, 1700000123, {"host": "h1"}))
    return out


def _expected(points: list[Point], suffix: str = "") -> list[tuple[str, dict[str, str], int, Any]]:
    rows = [(p.metric + suffix, p.tags, p.ts_ms(), p.value) for p in points]
    return sorted(rows, key=lambda r: (r[0], sorted(r[1].items()), r[2]))


def _assert_same(got: list[Any], want: list[Any]) -> None:
    assert [(r[0], r[1], r[2]) for r in got] == [(r[0], r[1], r[2]) for r in want]
    for g, w in zip(got, want):
        # export prints ints beyond 2**53 as decimal ints: compare as float64
        assert float(g[3]) == float(w[3]), (g, w)


def _control(victoria: Any, points: list[Point], suffix: str) -> None:
    """The same values through VictoriaMetrics' own JSON import (full repr digits)."""
    lines = []
    for p in points:
        metric = {"__name__": p.metric + suffix + ".ctl", **p.tags}
        lines.append(json.dumps({"metric": metric, "values": [p.value], "timestamps": [p.ts_ms()]}))
    body = ("\n".join(lines) + "\n").encode()
    assert _post(victoria.url + "/api/v1/import", body, "application/json") == 204


@pytest.mark.parametrize("via", ["opentsdb", "influx-ns", "influx-ms", "influx-s"])
def test_values_tags_and_times_read_back_exactly(victoria: Any, via: str) -> None:
    pts = _points("rb", EXACT)
    if via == "opentsdb":
        suffix = ""
        for body, _ in opentsdb.batches(pts, max_points=5):
            assert _post(victoria.opentsdb_url + "/api/put", body, opentsdb.CONTENT_TYPE) == 204
    else:
        suffix = "_value"
        precision = via.split("-")[1]
        if precision == "s":  # whole seconds only
            pts = [Point(p.metric, p.value, p.ts_ms() // 1000, p.tags) for p in pts]
        query = "" if precision == "ns" else "?precision=" + precision
        for body, _ in influx.batches(pts, max_points=5, precision=precision):
            assert _post(victoria.url + "/write" + query, body, influx.CONTENT_TYPE) == 204
    got = victoria.wait_for('{__name__=~"rb.*"}', len(pts))
    _assert_same(got, _expected(pts, suffix))


@pytest.mark.parametrize("via", ["opentsdb", "influx"])
def test_many_digit_values_lose_nothing_on_our_side(victoria: Any, via: str) -> None:
    pts = _points("md", MANY_DIGITS)[:-1]
    if via == "opentsdb":
        suffix = ""
        body = opentsdb.encode(pts)
        assert _post(victoria.opentsdb_url + "/api/put", body, opentsdb.CONTENT_TYPE) == 204
    else:
        suffix = "_value"
        body = influx.encode(pts)
        assert _post(victoria.url + "/write", body, influx.CONTENT_TYPE) == 204
    _control(victoria, pts, suffix)
    ours = victoria.wait_for('{__name__=~"md.*", __name__!~".*ctl"}', len(pts))
    ctl = victoria.wait_for('{__name__=~"md.*ctl"}', len(pts))
    assert len(ours) == len(ctl) == len(pts)
    want = _expected(pts, suffix)
    assert [(r[0], r[1], r[2]) for r in ours] == [(r[0], r[1], r[2]) for r in want]
    ctl_by_name = {r[0][: -len(".ctl")]: r for r in ctl}
    for row in ours:
        c = ctl_by_name[row[0]]
        assert (row[1], row[2], row[3]) == (c[1], c[2], c[3]), (row, c)


def test_influx_escaped_names_read_back(victoria: Any) -> None:
    """Line protocol escapes: the engine must see the original strings."""
    pts = [
        Point("esc,m x", 1, TS0_MS, {"k ey": "v,a=l ue", "eq=": "sp ace"}),
        Point("esc.back\\slash", 2, TS0_MS, {"path": "c:\\tmp"}),
    ]
    assert _post(victoria.url + "/write", influx.encode(pts), influx.CONTENT_TYPE) == 204
    got = victoria.wait_for('{__name__=~"esc.*"}', 2)
    assert [(r[0], r[1], r[3]) for r in got] == [
        ("esc,m x_value", {"k ey": "v,a=l ue", "eq=": "sp ace"}, 1),
        ("esc.back\\slash_value", {"path": "c:\\tmp"}, 2),
    ]

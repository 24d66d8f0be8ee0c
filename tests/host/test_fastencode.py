"""The host's fast encoders write the same data as the portable core encoders.

OpenTSDB bodies are compared after JSON decoding (orjson writes ``1e16``
where ``repr`` writes ``1e+16``); Influx lines are compared field by field:
the escaped series part byte for byte, ints exactly, floats by value.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tspush.core import influx as core_influx
from tspush.core import opentsdb as core_opentsdb
from tspush.core.errors import PointError
from tspush.core.point import Point
from tspush.host.wire import influx as wire_influx
from tspush.host.wire import opentsdb as fastencode

TRICKY_POINTS = [
    Point("sys.cpu.user", 42, 1700000000, {"host": "web01", "cpu": "0"}),
    Point("température", 21.5, 1700000000123, {"pièce": "salle à manger", "étage": "2ème"}),
    Point("日本.温度", -3.25, 1700000001, {"場所": "東京"}),
    Point('quo"te', 1, None, {"back\\slash": 'a"b', "tab": "x\ty", "nl": "l1\nl2"}),
    Point("ctrl", 2, 1700000002, {"c": "\x01\x08\x0c\x1f\x7f"}),
    Point("big.int", 2**63 - 1, 1700000003, {"k": "v"}),
    Point("bigger.int", 2**64 + 5, 1700000004, {"k": "v"}),
    Point("neg.big", -(2**70), 1700000005, {"k": "v"}),
    Point("floats", 1e16, 1700000006, {}),
    Point("floats", 1e-7, 1700000007, {}),
    Point("floats", -0.0, 1700000008, {}),
    Point("floats", 5e-324, 1700000009, {}),
    Point("floats", 1.7976931348623157e308, 1700000010, {}),
    Point("floats", 0.1 + 0.2, 1700000011, {}),
    Point("emoji", 7, 1700000012, {"face": "\U0001f600", "u2028": "a\u2028b"}),
    Point("no.tags.no.ts", 3.0, None, {}),
]


def _json_rows(batches: list[tuple[bytes, list[Any]]]) -> list[Any]:
    rows: list[Any] = []
    for body, _ in batches:
        rows.extend(json.loads(body))
    return rows


def _check_limits(
    batches: list[tuple[bytes, list[Any]]], points: list[Any], max_points: int, max_bytes: int
) -> None:
    sent = [p for _, batch in batches for p in batch]
    assert sent == points
    for body, batch in batches:
        assert 1 <= len(batch) <= max_points
        assert len(body) <= max_bytes


def _same_floats(a: Any, b: Any) -> bool:
    """Equal values of equal type; -0.0 differs from 0.0."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return bool(a == b)


def _assert_same_json(fast: list[Any], core: list[Any]) -> None:
    assert len(fast) == len(core)
    for f, c in zip(fast, core):
        assert f.keys() == c.keys()
        assert f["metric"] == c["metric"] and f["tags"] == c["tags"]
        assert f.get("timestamp") == c.get("timestamp")
        assert _same_floats(f["value"], c["value"]), (f, c)


def test_opentsdb_tricky_points_decode_to_the_core_data() -> None:
    fast = list(fastencode.batches(TRICKY_POINTS))
    core = list(core_opentsdb.batches(TRICKY_POINTS))
    _assert_same_json(_json_rows(fast), _json_rows(core))
    _check_limits(fast, TRICKY_POINTS, 50, 8192)
    assert b"\xc3\xa9" in fast[0][0]  # UTF-8 kept, not \u-escaped


def test_opentsdb_unicode_and_escapes_survive_a_round_trip() -> None:
    ((body, _),) = fastencode.batches([TRICKY_POINTS[3]])
    row = json.loads(body)[0]
    assert row["metric"] == 'quo"te'
    assert row["tags"] == {"back\\slash": 'a"b', "tab": "x\ty", "nl": "l1\nl2"}
    assert "timestamp" not in row


def test_opentsdb_encode_without_limit_matches_core() -> None:
    _assert_same_json(
        json.loads(fastencode.encode(TRICKY_POINTS)),
        json.loads(core_opentsdb.encode(TRICKY_POINTS)),
    )


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), True, "12"])
def test_opentsdb_values_the_fast_path_cannot_vouch_for_get_the_core_bytes(bad: Any) -> None:
    points = [Point("a", 1, 1700000000, {"k": "v"}), Point("b", bad, 1700000000, {"k": "v"})]
    assert list(fastencode.batches(points)) == list(core_opentsdb.batches(points))


@pytest.mark.parametrize(
    "max_points,max_bytes", [(1, 8192), (7, 8192), (50, 400), (50, 1000), (3, 260)]
)
def test_opentsdb_batches_respect_both_limits(max_points: int, max_bytes: int) -> None:
    points = [
        Point(
            "m.%d" % i,
            i * 1.5 if i % 2 else i,
            1700000000 + i,
            {"host": "h" * (i % 40), "i": str(i)},
        )
        for i in range(300)
    ]
    fast = list(fastencode.batches(points, max_points=max_points, max_bytes=max_bytes))
    _check_limits(fast, points, max_points, max_bytes)
    core = list(core_opentsdb.batches(points, max_points=max_points, max_bytes=max_bytes))
    _assert_same_json(_json_rows(fast), _json_rows(core))
    # same greedy packing: the same number of requests as the core
    assert len(fast) == len(core)


def test_opentsdb_a_point_too_large_alone_raises_after_the_ones_before_it() -> None:
    points = [Point("ok", 1, 1700000000, {}), Point("huge", 2, 1700000000, {"k": "v" * 500})]
    got: list[Any] = []
    with pytest.raises(PointError) as e:
        for item in fastencode.batches(points, max_bytes=200):
            got.append(item)
    assert e.value.rule == "too-large" and e.value.point is points[1]
    assert "200-byte" in str(e.value)
    assert [b for _, b in got] == [[points[0]]]


def test_batches_accept_a_generator() -> None:
    gen = (Point("g", i, 1700000000 + i, {"k": "v"}) for i in range(120))
    fast = list(fastencode.batches(gen, max_points=50))
    assert [len(b) for _, b in fast] == [50, 50, 20]
    assert [r["value"] for r in _json_rows(fast)] == list(range(120))


# -- Influx ----------------------------------------------------------------------


def _split_line(line: bytes, has_ts: bool) -> tuple[bytes, bytes, bytes | None]:
    ts = None
    if has_ts:
        line, ts = line.rsplit(b" ", 1)
    prefix, value = line.rsplit(b"=", 1)
    return prefix, value, ts


def _assert_same_influx(fast: bytes, core: bytes, points: list[Any]) -> None:
    flines = fast.split(b"\n")
    clines = core.split(b"\n")
    assert flines[-1] == b"" and clines[-1] == b""
    assert len(flines) == len(clines) == len(points) + 1
    for f, c, p in zip(flines, clines, points):
        fp, fv, fts = _split_line(f, p.ts is not None)
        cp, cv, cts = _split_line(c, p.ts is not None)
        assert fp == cp and fts == cts
        if cv.endswith(b"i"):
            assert fv == cv
        else:
            assert _same_floats(float(fv), float(cv)), (fv, cv)


INFLUX_POINTS = [
    p for p in TRICKY_POINTS if "\n" not in "".join(p.tags.values()) and abs(p.value) < 2**63
]
INFLUX_POINTS += [
    Point("with space,comma", 1, 1700000000, {"k=ey": "v a,l=ue", "plain": "x"}),
    Point("back\\slash", 2.5, 1700000000999, {"k": "a\\b"}),
    Point("zeta", 3, 1700000000, {"b": "2", "a": "1", "c": "3"}),
]


@pytest.mark.parametrize("precision", ["s", "ms", "us", "ns"])
def test_influx_tricky_points_match_the_core(precision: str) -> None:
    fast = list(wire_influx.batches(INFLUX_POINTS, precision=precision))
    core = list(core_influx.batches(INFLUX_POINTS, precision=precision))
    _assert_same_influx(b"".join(b for b, _ in fast), b"".join(b for b, _ in core), INFLUX_POINTS)
    _check_limits(fast, INFLUX_POINTS, 50, 8192)


def test_influx_escapes_and_sorted_tags_byte_for_byte() -> None:
    body = wire_influx.encode(INFLUX_POINTS[-3:], field="v")
    assert body == (
        b"with\\ space\\,comma,k\\=ey=v\\ a\\,l\\=ue,plain=x v=1i 1700000000000000000\n"
        b"back\\slash,k=a\\b v=2.5 1700000000999000000\n"
        b"zeta,a=1,b=2,c=3 v=3i 1700000000000000000\n"
    )


def test_influx_field_name_is_part_of_the_series() -> None:
    p = [Point("m", 1, 1700000000, {"k": "v"})]
    assert wire_influx.encode(p, field="a") != wire_influx.encode(p, field="b")
    assert wire_influx.encode(p, field="b").startswith(b"m,k=v b=1i")


@pytest.mark.parametrize(
    "point,rule",
    [
        (Point("m", 1, 1700000000, {"k": "line\nbreak"}), "influx-newline"),
        (Point("m", 1, 1700000000, {"k": "ends\\"}), "influx-backslash"),
        (Point("#comment", 1, 1700000000, {}), "influx-comment"),
        (Point("m", 2**63, 1700000000, {}), "influx-int-range"),
        (Point("m", float("nan"), 1700000000, {}), "value-finite"),
        (Point("m", 1, 1700000000, {"k": ""}), "influx-empty"),
    ],
)
def test_influx_refuses_what_the_core_refuses(point: Point, rule: str) -> None:
    points = [Point("ok", 1, 1700000000, {}), point]
    with pytest.raises(PointError) as core_err:
        list(core_influx.batches(points))
    with pytest.raises(PointError) as fast_err:
        list(wire_influx.batches(points))
    assert fast_err.value.rule == core_err.value.rule == rule
    assert str(fast_err.value) == str(core_err.value)


def test_influx_strings_and_booleans_are_written_by_the_core() -> None:
    points = [Point("m", 'say "hi"', 1700000000, {}), Point("m", True, 1700000000, {})]
    assert wire_influx.encode(points) == core_influx.encode(points)


def test_influx_bad_precision_is_the_cores_error() -> None:
    with pytest.raises(PointError) as e:
        list(wire_influx.batches([Point("m", 1, 1700000000, {})], precision="h"))
    assert e.value.rule == "precision"


@pytest.mark.parametrize("max_points,max_bytes", [(1, 8192), (9, 8192), (50, 300), (50, 97)])
def test_influx_batches_respect_both_limits(max_points: int, max_bytes: int) -> None:
    points = [Point("m", i, 1700000000 + i, {"h": "x" * (i % 30 + 1)}) for i in range(200)]
    fast = list(wire_influx.batches(points, max_points=max_points, max_bytes=max_bytes))
    core = list(core_influx.batches(points, max_points=max_points, max_bytes=max_bytes))
    _check_limits(fast, points, max_points, max_bytes)
    assert [b for b, _ in fast] == [b for b, _ in core]  # ints only: identical bytes


def test_influx_a_line_too_large_alone_raises() -> None:
    with pytest.raises(PointError) as e:
        list(wire_influx.batches([Point("m", 1, None, {"k": "v" * 200})], max_bytes=100))
    assert e.value.rule == "too-large"


def test_influx_series_cache_does_not_mix_series_with_the_same_values() -> None:
    a = Point("m", 1, 1700000000, {"x": "1", "y": "2"})
    b = Point("m", 1, 1700000000, {"x": "2", "y": "1"})
    assert wire_influx.encode([a, b]) == core_influx.encode([a, b])


# -- property: any valid-looking point encodes to the core's data ------------------

names = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r\\#"),
    min_size=1,
    max_size=12,
)
values = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
)
timestamps = st.one_of(st.none(), st.integers(min_value=1, max_value=9999999999999))
points_st = st.lists(
    st.builds(Point, names, values, timestamps, st.dictionaries(names, names, max_size=5)),
    min_size=1,
    max_size=80,
)


@settings(max_examples=150, deadline=None)
@given(
    points_st, st.integers(min_value=1, max_value=60), st.integers(min_value=600, max_value=9000)
)
def test_property_same_data_as_the_core(
    points: list[Point], max_points: int, max_bytes: int
) -> None:
    try:
        core_json = list(core_opentsdb.batches(points, max_points=max_points, max_bytes=max_bytes))
    except PointError:
        with pytest.raises(PointError):
            list(fastencode.batches(points, max_points=max_points, max_bytes=max_bytes))
    else:
        fast_json = list(fastencode.batches(points, max_points=max_points, max_bytes=max_bytes))
        _check_limits(fast_json, points, max_points, max_bytes)
        _assert_same_json(_json_rows(fast_json), _json_rows(core_json))

    try:
        core_lp = list(core_influx.batches(points, max_points=max_points, max_bytes=max_bytes))
    except PointError as e:
        with pytest.raises(PointError) as fe:
            list(wire_influx.batches(points, max_points=max_points, max_bytes=max_bytes))
        assert fe.value.rule == e.rule
    else:
        fast_lp = list(wire_influx.batches(points, max_points=max_points, max_bytes=max_bytes))
        _check_limits(fast_lp, points, max_points, max_bytes)
        _assert_same_influx(
            b"".join(b for b, _ in fast_lp), b"".join(b for b, _ in core_lp), points
        )


def test_influx_names_the_clean_path_must_not_take() -> None:
    # '=' is plain in a measurement but escaped in keys; a tab is never escaped
    points = [
        Point("m=1", 1, 1700000000, {"k": "v"}),
        Point("m", 1, 1700000000, {"k\tx": "v\ty"}),
        Point("m", 1, 1700000000, {"k": "a=b"}),
        Point("m", 1, 1700000000, {"k": "a b"}),
    ]
    for p in points:
        assert wire_influx.encode([p]) == core_influx.encode([p]), p

"""Property-based round trips through the Influx line protocol and Warp 10 GTS encoders.

The readers below are written from the formats' documentation, independently
of the encoders: escapes undone by a character scan, percent-decoding by
``urllib.parse.unquote`` (not ``unquote_plus``: Warp 10 would read ``+`` as a
space, so the encoder must never leave one).
"""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tspush.core.errors import PointError
from tspush.core.point import Point, check

from .test_point_properties import MODES, SETTINGS, _same, good_points

influx = pytest.importorskip("tspush.core.influx")
warp10 = pytest.importorskip("tspush.core.warp10")


def _split_unescaped(s: str, seps: str) -> tuple[str, str, str]:
    """Cut ``s`` at the first separator not preceded by a backslash escape."""
    i = 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s):
            i += 2
            continue
        if s[i] in seps:
            return s[:i], s[i], s[i + 1 :]
        i += 1
    return s, "", ""


def _unescape(s: str, special: str) -> str:
    out = []
    i = 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s) and s[i + 1] in special:
            out.append(s[i + 1])
            i += 2
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def parse_influx(line: str) -> tuple[Point, str]:
    """``(point with ts in ms, field key)`` from one line-protocol line."""
    head, sep, rest = _split_unescaped(line, ", ")
    meas = _unescape(head, ", ")
    tags: dict[str, str] = {}
    while sep == ",":
        pair, sep, rest = _split_unescaped(rest, ", ")
        k, eq, v = _split_unescaped(pair, "=")
        assert eq == "="
        tags[_unescape(k, ",= ")] = _unescape(v, ",= ")
    assert sep == " "
    fieldpart, sep, ts_s = _split_unescaped(rest, " ")
    fk, eq, fv = _split_unescaped(fieldpart, "=")
    assert eq == "="
    value: Any
    if fv.endswith("i"):
        value = int(fv[:-1])
    elif fv in ("true", "false"):
        value = fv == "true"
    else:
        value = float(fv)
    ts = int(ts_s) // 1_000_000 if sep else None
    return Point(meas, value, ts, tags), _unescape(fk, ",= ")


def parse_gts(line: str) -> Point:
    """A point (ts in ms) from ``TS// class{k=v,...} VALUE``."""
    head, _, rest = line.partition(" ")
    assert head.endswith("//")
    ts = int(head[:-2]) // 1000 if head[:-2] else None
    cls, _, rest = rest.partition("{")
    labels_s, _, value_s = rest.partition("} ")
    tags = {}
    for pair in labels_s.split(",") if labels_s else []:
        k, _, v = pair.partition("=")
        tags[urllib.parse.unquote(k, errors="strict")] = urllib.parse.unquote(v, errors="strict")
    value: Any
    if value_s in ("T", "F"):
        value = value_s == "T"
    elif any(c in value_s for c in ".eE"):
        value = float(value_s)
    else:
        value = int(value_s)
    return Point(urllib.parse.unquote(cls, errors="strict"), value, ts, tags)


def _in_ms(p: Point) -> Point:
    return Point(p.metric, p.value, p.ts_ms(), p.tags)


def _refusal_is_clean(e: PointError, p: Point) -> None:
    assert e.rule, f"no rule in {e!r}"
    assert str(p.metric) in str(e)


@SETTINGS
@given(good_points(), MODES)
def test_accepted_points_round_trip_through_influx_line_protocol(p: Point, mode: str) -> None:
    if check(p, mode) is not None:
        assume(False)
    try:
        line = influx.encode_point(p).decode()
    except PointError as e:  # e.g. an int beyond int64: refused, with a reason
        _refusal_is_clean(e, p)
        return
    assert "\n" not in line
    got, field = parse_influx(line)
    assert field == "value"
    _same(_in_ms(p), got)


@SETTINGS
@given(good_points(), MODES)
def test_accepted_points_round_trip_through_warp10_gts(p: Point, mode: str) -> None:
    if check(p, mode) is not None:
        assume(False)
    try:
        line = warp10.encode_point(p).decode()
    except PointError as e:
        _refusal_is_clean(e, p)
        return
    assert "\n" not in line and "+" not in line.split(" ")[1]
    _same(_in_ms(p), parse_gts(line))


@SETTINGS
@given(st.lists(good_points(), min_size=1, max_size=40), st.integers(300, 5000))
def test_text_batches_keep_every_point_once_in_order(points: list[Point], max_bytes: int) -> None:
    for mod, parse in ((influx, lambda s: parse_influx(s)[0]), (warp10, parse_gts)):
        out: list[Point] = []
        try:
            for body, batch in mod.batches(points, max_points=17, max_bytes=max_bytes):
                assert len(body) <= max_bytes and body.endswith(b"\n")
                got = [parse(s) for s in body.decode().splitlines()]
                assert len(got) == len(batch) <= 17
                out.extend(got)
        except PointError as e:
            _refusal_is_clean(e, e.point)
            continue
        assert len(out) == len(points)
        for a, b in zip(points, out):
            _same(_in_ms(a), b)


any_text = st.text(max_size=10)


@SETTINGS
@given(
    st.one_of(any_text, st.none(), st.integers()),
    st.one_of(st.integers(), st.floats(), st.booleans(), any_text, st.none()),
    st.one_of(st.none(), st.integers(min_value=1, max_value=10**13)),
    st.dictionaries(any_text, st.one_of(any_text, st.integers()), max_size=4),
)
def test_encoders_refuse_bad_points_with_a_rule_never_a_crash(
    metric: Any, value: Any, ts: Any, tags: Any
) -> None:
    p = Point(metric, value, ts, tags)
    for mod in (influx, warp10):
        try:
            mod.encode_point(p)
        except PointError as e:
            assert e.rule
            assert e.point is p

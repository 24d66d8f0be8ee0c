"""Property-based tests: any accepted point survives every wire format unchanged,
and any refused point gets an error that names the rule and the metric.

Each format is parsed back by an independent reader (``json`` for OpenTSDB,
small parsers written here for the text forms), never by the encoder's twin.
"""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tspush.core import lines, opentsdb
from tspush.core.errors import PointError
from tspush.core.point import LENIENT, MAX_MS, STRICT, Point, check, point_from_dict

MODES = st.sampled_from([LENIENT, STRICT])
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ASCII_OK = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./"
# Allowed characters plus Unicode letters (the rules accept letters of any script).
good_name = st.text(
    alphabet=st.one_of(
        st.sampled_from(ASCII_OK),
        st.characters(categories=["Lu", "Ll", "Lo"], min_codepoint=128, max_codepoint=0x2FFFF),
    ),
    min_size=1,
    max_size=24,
)
good_tags = st.dictionaries(good_name, good_name, min_size=1, max_size=8)
good_value = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
)
good_ts = st.one_of(
    st.integers(min_value=1, max_value=4294967295),
    st.integers(min_value=10**12, max_value=MAX_MS),
)


@st.composite
def good_points(draw: Any, with_ts: bool = False, with_tags: bool = False) -> Point:
    ts = draw(good_ts) if with_ts else draw(st.one_of(st.none(), good_ts))
    tags = draw(good_tags) if with_tags else draw(st.one_of(st.just({}), good_tags))
    return Point(draw(good_name), draw(good_value), ts, tags)


# Anything at all: wrong types, empty names, spaces, control characters, NaN...
any_name = st.one_of(st.text(max_size=12), st.none(), st.integers(), st.just(""))
any_value = st.one_of(
    st.integers(),
    st.floats(),
    st.booleans(),
    st.none(),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
)
any_ts = st.one_of(st.none(), st.integers(), st.booleans(), st.floats(), st.text(max_size=4))
any_tags = st.one_of(
    st.dictionaries(any_name, any_name, max_size=10),
    st.none(),
    st.lists(st.text(max_size=3), max_size=2),
)


def _same(a: Point, b: Point) -> None:
    assert b.metric == a.metric
    assert b.tags == a.tags
    assert b.ts == a.ts
    assert type(b.value) is type(a.value)
    assert b.value == a.value or (math.isnan(a.value) and math.isnan(b.value))
    if isinstance(a.value, float):
        assert math.copysign(1, a.value) == math.copysign(1, b.value)


# -- OpenTSDB JSON --------------------------------------------------------------


def _from_json_obj(d: dict[str, Any]) -> Point:
    assert set(d) <= {"metric", "timestamp", "value", "tags"}
    return Point(d["metric"], d["value"], d.get("timestamp"), d["tags"])


@SETTINGS
@given(good_points(), MODES)
def test_accepted_points_round_trip_through_opentsdb_json(p: Point, mode: str) -> None:
    if check(p, mode) is not None:
        assume(False)
    _same(p, _from_json_obj(json.loads(opentsdb.encode_point(p))))
    # and the receiver's reader agrees with the writer
    _same(p, point_from_dict(json.loads(opentsdb.encode_point(p)), mode))


@SETTINGS
@given(
    st.lists(good_points(), min_size=1, max_size=60),
    st.integers(min_value=1, max_value=80),
    st.integers(min_value=600, max_value=9000),
)
def test_batches_keep_every_point_once_in_order_within_limits(
    points: list[Point], max_points: int, max_bytes: int
) -> None:
    out: list[Point] = []
    try:
        for body, batch in opentsdb.batches(points, max_points=max_points, max_bytes=max_bytes):
            assert len(body) <= max_bytes
            assert 1 <= len(batch) <= max_points
            decoded = [_from_json_obj(d) for d in json.loads(body)]
            assert len(decoded) == len(batch)
            for a, b in zip(batch, decoded):
                _same(a, b)
            out.extend(decoded)
    except PointError as e:
        assert e.rule == "too-large" and e.point is not None
        assert len(opentsdb.encode_point(e.point)) + 2 > max_bytes
        return
    assert len(out) == len(points)
    for a, b in zip(points, out):
        _same(a, b)


# -- telnet put lines -------------------------------------------------------------


def _parse_put(line: str) -> Point:
    """An independent reader for ``put METRIC TS VALUE k=v ...``."""
    words = line.split(" ")
    assert words[0] == "put"
    ts = int(words[2])
    raw = words[3]
    value: int | float = float(raw) if any(c in raw for c in ".eEn") else int(raw)
    tags = dict(w.split("=", 1) for w in words[4:])
    return Point(words[1], value, ts, tags)


@SETTINGS
@given(good_points(with_ts=True), MODES)
def test_accepted_points_round_trip_through_put_lines(p: Point, mode: str) -> None:
    if check(p, mode) is not None:
        assume(False)
    line = lines.format_put(p)
    assert "\n" not in line
    _same(p, _parse_put(line))
    parsed = lines.parse_line(line, mode)
    assert parsed is not None
    _same(p, parsed)


# -- refusals -------------------------------------------------------------------


@SETTINGS
@given(any_name, any_value, any_ts, any_tags, MODES)
def test_every_refusal_names_its_rule_and_the_metric(
    metric: Any, value: Any, ts: Any, tags: Any, mode: str
) -> None:
    p = Point(metric, value, ts, tags)
    err = check(p, mode)
    if err is None:
        # accepted: then it must encode to JSON that reads back the same
        _same(p, _from_json_obj(json.loads(opentsdb.encode_point(p))))
        return
    assert isinstance(err, PointError)
    assert err.rule, f"no rule in {err!r}"
    assert str(metric) in str(err) or repr(metric) in str(err)


@SETTINGS
@given(st.dictionaries(st.text(max_size=10), st.one_of(st.text(max_size=5), st.integers())))
def test_point_from_arbitrary_dicts_raises_only_point_errors(d: dict[str, Any]) -> None:
    try:
        point_from_dict(d)
    except PointError as e:
        assert e.rule


@SETTINGS
@given(st.text(max_size=80), MODES)
def test_parse_line_on_arbitrary_text_raises_only_point_errors(text: str, mode: str) -> None:
    try:
        p = lines.parse_line(text, mode)
    except PointError as e:
        assert e.rule
        return
    if p is not None:
        assert check(p, mode) is None

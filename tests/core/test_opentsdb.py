"""OpenTSDB JSON encoding: exact bytes, precision, and body limits."""

import json

from mpcompat import raises
from tspush.core import opentsdb
from tspush.core.errors import PointError
from tspush.core.point import Point


def test_original_body_exact():
    body = opentsdb.encode([Point("universe", 42)])
    assert body == b'[{"metric":"universe","value":42,"tags":{}}]'


def test_full_point_exact():
    p = Point("sys.cpu", 0.1 + 0.2, 1700000000, {"host": "a"})
    assert opentsdb.encode_point(p) == (
        b'{"metric":"sys.cpu","timestamp":1700000000,"value":0.30000000000000004,'
        b'"tags":{"host":"a"}}'
    )


def test_floats_keep_precision_and_ints_stay_ints():
    vals = [123456789.12345679, -2.5e-08, 1e300, 42, -7, 2**53 + 1]
    body = opentsdb.encode([Point("m", v, 1700000000) for v in vals])
    back = json.loads(body)
    for v, d in zip(vals, back):
        assert d["value"] == v
        assert type(d["value"]) is type(v)


def test_escaping_and_unicode():
    p = Point("m", 1, None, {"k": 'a"b\\c\n\u00e9\x01'})
    b = opentsdb.encode_point(p)
    assert b == b'{"metric":"m","value":1,"tags":{"k":"a\\"b\\\\c\\n\xc3\xa9\\u0001"}}'
    assert json.loads(b)["tags"]["k"] == 'a"b\\c\n\u00e9\x01'


def test_batches_by_count():
    pts = [Point("m", i, 1700000000 + i) for i in range(120)]
    out = list(opentsdb.batches(pts, max_points=50))
    assert [len(b[1]) for b in out] == [50, 50, 20]
    seen = []
    for body, batch in out:
        seen.extend(d["value"] for d in json.loads(body))
    assert seen == list(range(120))


def test_batches_by_bytes_never_exceed_limit():
    pts = [Point("metric.name", i, 1700000000, {"host": "h%d" % i}) for i in range(200)]
    limit = 1000
    out = list(opentsdb.batches(pts, max_points=1000, max_bytes=limit))
    assert len(out) > 1
    total = 0
    for body, batch in out:
        assert len(body) <= limit
        assert len(json.loads(body)) == len(batch)
        total += len(batch)
    assert total == 200
    # a body is filled close to the limit, not cut early
    body0 = out[0][0]
    one = len(opentsdb.encode_point(pts[len(out[0][1])]))
    assert len(body0) + one + 1 > limit


def test_point_too_large_alone():
    p = Point("m", 1, None, {"k": "v" * 300})
    e = raises(PointError, lambda: list(opentsdb.batches([p], max_bytes=100)))
    assert e.rule == "too-large" and "100-byte" in str(e)


def test_default_limits_match_stock_opentsdb():
    assert opentsdb.DEFAULT_MAX_BYTES == 8192
    assert opentsdb.DEFAULT_MAX_POINTS == 50

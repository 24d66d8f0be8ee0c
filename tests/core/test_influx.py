"""Influx line protocol: exact bytes, escaping, precision and body limits."""

from mpcompat import raises
from tspush.core import influx
from tspush.core.errors import PointError
from tspush.core.point import Point

# (point, precision, expected line)
LINES = [
    (Point("universe", 42), "ns", b"universe value=42i"),
    (Point("universe", 42, 1700000000), "ns", b"universe value=42i 1700000000000000000"),
    (Point("m", 0.1 + 0.2, 1700000000123), "ms", b"m value=0.30000000000000004 1700000000123"),
    (Point("m", -7, 1700000000), "s", b"m value=-7i 1700000000"),
    (Point("m", 1.5, 1700000000999), "s", b"m value=1.5 1700000000"),
    (Point("m", 1.5, 1700000000), "us", b"m value=1.5 1700000000000000"),
    (Point("m", 1.5, 1700000000), "ms", b"m value=1.5 1700000000000"),
    (Point("m", 1e300, 1), "s", b"m value=1e+300 1"),
    (Point("m", -2.5e-08, None), "ns", b"m value=-2.5e-08"),
    (Point("m", 123456789.12345679, None), "ns", b"m value=123456789.12345679"),
    (Point("m", 2**53 + 1, None), "ns", b"m value=9007199254740993i"),
    (Point("m", 9223372036854775807, None), "ns", b"m value=9223372036854775807i"),
    (Point("m", -9223372036854775808, None), "ns", b"m value=-9223372036854775808i"),
    # tags sorted by key, whatever order the dict gives
    (
        Point("cpu", 1, None, {"z": "1", "a": "2", "m": "3"}),
        "ns",
        b"cpu,a=2,m=3,z=1 value=1i",
    ),
    # measurement escapes comma and space only (equals sign stays)
    (Point("a,b c=d", 1), "ns", b"a\\,b\\ c=d value=1i"),
    # tag keys and values escape comma, equals sign and space
    (Point("m", 1, None, {"k ,=": "v ,="}), "ns", b"m,k\\ \\,\\==v\\ \\,\\= value=1i"),
    # Unicode is kept as UTF-8
    (
        Point("temp\u00e9", 1, None, {"pi\u00e8ce": "s\u00e9jour \u20ac"}),
        "ns",
        b"temp\xc3\xa9,pi\xc3\xa8ce=s\xc3\xa9jour\\ \xe2\x82\xac value=1i",
    ),
    # a backslash not before a special character is literal
    (Point("a\\b", 1, None, {"k": "c:\\d"}), "ns", b"a\\b,k=c:\\d value=1i"),
]


def test_lines_exact():
    for p, precision, want in LINES:
        got = influx.encode_point(p, precision)
        assert got == want, (p, precision, got, want)


def test_field_key_escaped():
    p = Point("m", 1)
    assert influx.encode_point(p, "ns", "my field=x") == b"m my\\ field\\=x=1i"


def test_field_values_exact():
    table = [
        (42, "42i"),
        (-1, "-1i"),
        (0, "0i"),
        (1.0, "1.0"),
        (-0.5, "-0.5"),
        (1e16, "1e+16"),
        (True, "true"),
        (False, "false"),
        ("plain", '"plain"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("back\\slash", '"back\\\\slash"'),
        ("a,b=c d", '"a,b=c d"'),
        ("\u00e9\u20ac", '"\u00e9\u20ac"'),
    ]
    for v, want in table:
        assert influx.field_value(v) == want, (v, influx.field_value(v), want)


def test_body_lines_end_with_newline():
    body = influx.encode([Point("a", 1, 1700000000), Point("b", 2.5, 1700000001)], "s")
    assert body == b"a value=1i 1700000000\nb value=2.5 1700000001\n"


def test_refused_points_name_the_problem():
    cases = [
        (Point("m", float("nan")), "value-finite"),
        (Point("m", float("inf")), "value-finite"),
        (Point("m", 2**63), "influx-int-range"),
        (Point("m", -(2**63) - 1), "influx-int-range"),
        (Point("m", [1]), "value-type"),
        (Point("", 1), "influx-empty"),
        (Point("m", 1, None, {"k": ""}), "influx-empty"),
        (Point("m", 1, None, {"": "v"}), "influx-empty"),
        (Point("m\n", 1), "influx-newline"),
        (Point("m", 1, None, {"k": "a\rb"}), "influx-newline"),
        (Point("#m", 1), "influx-comment"),
        (Point("m\\", 1), "influx-backslash"),
        (Point("m", 1, None, {"k": "a\\ b"}), "influx-backslash"),
        (Point("m", 1, None, {"k\\=": "v"}), "influx-backslash"),
    ]
    for p, rule in cases:
        e = raises(PointError, influx.encode_point, p)
        assert e.rule == rule, (p, e.rule, rule)
        assert e.point is p
        assert str(e).startswith(p.describe() if p.metric else "")


def test_unknown_precision():
    e = raises(PointError, influx.encode_point, Point("m", 1, 1700000000), "h")
    assert "precision" in str(e) and "ns" in str(e)


def test_batches_by_count_keep_order():
    pts = [Point("m", i, 1700000000 + i) for i in range(120)]
    out = list(influx.batches(pts, max_points=50, max_bytes=100000, precision="s"))
    assert [len(b[1]) for b in out] == [50, 50, 20]
    lines = []
    for body, batch in out:
        assert body.endswith(b"\n")
        got = body.decode().split("\n")[:-1]
        assert len(got) == len(batch)
        lines.extend(got)
    assert lines == ["m value=%di %d" % (i, 1700000000 + i) for i in range(120)]


def test_batches_by_bytes_never_exceed_limit():
    pts = [Point("metric.name", i, 1700000000, {"host": "h%d" % i}) for i in range(200)]
    limit = 500
    out = list(influx.batches(pts, max_points=1000, max_bytes=limit))
    assert len(out) > 1
    total = 0
    for body, batch in out:
        assert len(body) <= limit
        assert body.count(b"\n") == len(batch)
        total += len(batch)
    assert total == 200
    # each body is as full as it may be: the next line would not have fitted
    for i in range(len(out) - 1):
        first_next = out[i + 1][0].split(b"\n")[0]
        assert len(out[i][0]) + len(first_next) + 1 > limit


def test_batches_one_point_too_large():
    big = Point("m", 1, None, {"k": "x" * 200})
    e = raises(PointError, lambda: list(influx.batches([big], max_bytes=100)))
    assert e.rule == "too-large" and e.point is big
    assert "100-byte" in str(e)


def test_batches_empty():
    assert list(influx.batches([])) == []

"""Warp 10 GTS input format: exact bytes, percent-encoding and body limits."""

from mpcompat import raises
from tspush.core import warp10
from tspush.core.errors import PointError
from tspush.core.point import Point

LINES = [
    # the original's point: no timestamp, the platform stamps it
    (Point("universe", 42), b"// universe{} 42"),
    # seconds and milliseconds both become microseconds
    (Point("universe", 42, 1700000000), b"1700000000000000// universe{} 42"),
    (Point("m", 1.5, 1700000000123), b"1700000000123000// m{} 1.5"),
    (Point("m", 0.1 + 0.2, None), b"// m{} 0.30000000000000004"),
    (Point("m", -7, None), b"// m{} -7"),
    (Point("m", 1e300, None), b"// m{} 1e+300"),
    (Point("m", -2.5e-08, None), b"// m{} -2.5e-08"),
    (Point("m", 123456789.12345679, None), b"// m{} 123456789.12345679"),
    (Point("m", 2**53 + 1, None), b"// m{} 9007199254740993"),
    (Point("m", True, None), b"// m{} T"),
    (Point("m", False, None), b"// m{} F"),
    # labels sorted by name
    (Point("sys.cpu", 1, None, {"z": "1", "a": "2", "m": "3"}), b"// sys.cpu{a=2,m=3,z=1} 1"),
    # dots, dashes, underscores and slashes stay
    (Point("a-b_c.d/e", 1, None, {"k.1": "v/2"}), b"// a-b_c.d/e{k.1=v/2} 1"),
    # what the format needs encoded, plus % and + (decoded as space) and space
    (Point("a{b}c", 1), b"// a%7Bb%7Dc{} 1"),
    (
        Point("m", 1, None, {"k,=": "v,=}{"}),
        b"// m{k%2C%3D=v%2C%3D%7D%7B} 1",
    ),
    (Point("50%+1 x", 1), b"// 50%25%2B1%20x{} 1"),
    # Unicode: UTF-8 bytes, percent-encoded, upper-case hex
    (
        Point("temp\u00e9", 1, None, {"pi\u00e8ce": "s\u00e9jour \u20ac"}),
        b"// temp%C3%A9{pi%C3%A8ce=s%C3%A9jour%20%E2%82%AC} 1",
    ),
]


def test_lines_exact():
    for p, want in LINES:
        got = warp10.encode_point(p)
        assert got == want, (p, got, want)


def test_pct_table():
    table = [
        ("", ""),
        ("abcXYZ019-_./", "abcXYZ019-_./"),
        (" ", "%20"),
        ("\n", "%0A"),
        ("'\"", "%27%22"),
        ("\u00e9", "%C3%A9"),
        ("\U0001f600", "%F0%9F%98%80"),
    ]
    for s, want in table:
        assert warp10.pct(s) == want, (s, warp10.pct(s), want)


def test_body_lines_end_with_newline():
    body = warp10.encode([Point("a", 1, 1700000000), Point("b", 2.5)])
    assert body == b"1700000000000000// a{} 1\n// b{} 2.5\n"


def test_refused_points_name_the_problem():
    cases = [
        (Point("m", float("nan")), "value-finite"),
        (Point("m", float("-inf")), "value-finite"),
        (Point("m", 2**63), "warp10-long-range"),
        (Point("m", "text"), "value-type"),
        (Point("", 1), "warp10-empty"),
        (Point("m", 1, None, {"": "v"}), "warp10-empty"),
        (Point("m", 1, None, {".app": "x"}), "warp10-reserved"),
        (Point("m", 1, None, {"k": 5}), "warp10-type"),
    ]
    for p, rule in cases:
        e = raises(PointError, warp10.encode_point, p)
        assert e.rule == rule, (p, e.rule, rule)
        assert e.point is p


def test_batches_by_count_and_bytes():
    pts = [Point("metric.name", i, 1700000000, {"host": "h%d" % i}) for i in range(200)]
    out = list(warp10.batches(pts, max_points=30, max_bytes=100000))
    assert [len(b) for _, b in out] == [30] * 6 + [20]
    limit = 400
    out = list(warp10.batches(pts, max_points=1000, max_bytes=limit))
    values = []
    for body, batch in out:
        assert len(body) <= limit
        lines = body.decode().split("\n")
        assert lines[-1] == ""
        assert len(lines) - 1 == len(batch)
        values.extend(int(line.rsplit(" ", 1)[1]) for line in lines[:-1])
    assert values == list(range(200))


def test_batches_one_point_too_large():
    big = Point("m", 1, None, {"k": "\u20ac" * 100})
    e = raises(PointError, lambda: list(warp10.batches([big], max_bytes=200)))
    assert e.rule == "too-large" and e.point is big

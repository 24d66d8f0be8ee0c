"""Telnet put lines and 'metric value' lines."""

from mpcompat import raises
from tspush.core.errors import PointError
from tspush.core.lines import format_put, parse_line
from tspush.core.point import STRICT, Point


def test_put_line():
    p = parse_line("put sys.cpu.user 1356998400 42.5 host=web01 cpu=0")
    assert p == Point("sys.cpu.user", 42.5, 1356998400, {"host": "web01", "cpu": "0"})
    # MicroPython dicts do not keep insertion order: compare the words
    words = format_put(p).split()
    assert words[:4] == ["put", "sys.cpu.user", "1356998400", "42.5"]
    assert sorted(words[4:]) == ["cpu=0", "host=web01"]


def test_plain_line_and_blank():
    assert parse_line("universe 42") == Point("universe", 42)
    assert parse_line("  ") is None
    assert parse_line("# comment") is None
    assert parse_line("m 1 a=b", now_s=1700000000) == Point("m", 1, 1700000000, {"a": "b"})


def test_bad_lines():
    assert raises(PointError, parse_line, "put m 1").rule == "line-format"
    assert raises(PointError, parse_line, "m x").rule == "value-type"
    assert raises(PointError, parse_line, "m 1 novalue").rule == "tag-format"
    assert raises(PointError, parse_line, "put m 1.5 3 a=b").rule == "timestamp-type"
    assert raises(PointError, parse_line, "m 1", STRICT).rule == "timestamp-missing"
    assert raises(PointError, parse_line, "m nan").rule == "value-finite"

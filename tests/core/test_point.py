"""Point validation: every rule, in both modes, with its message."""

from mpcompat import raises
from tspush.core.errors import PointError
from tspush.core.point import (
    LENIENT,
    OPEN,
    STRICT,
    Point,
    point_from_dict,
    validate,
    with_tags,
)


def rule_of(p, mode):
    e = raises(PointError, validate, p, mode)
    return e.rule, str(e)


def test_original_point_is_lenient_ok_and_strict_rejected():
    p = Point("universe", 42)
    assert validate(p, LENIENT) is p
    rule, msg = rule_of(p, STRICT)
    assert rule == "timestamp-missing"
    assert "universe" in msg and "timestamp" in msg
    p = p.with_ts(1700000000)
    rule, msg = rule_of(p, STRICT)
    assert rule == "tags-missing"
    assert "at least one tag" in msg


def test_strict_accepts_full_point():
    p = Point("sys.cpu-user/a_b", 1.5, 1700000000, {"host": "web01", "cpu": "0"})
    assert validate(p, STRICT) is p


def test_metric_rules():
    assert rule_of(Point("", 1), LENIENT)[0] == "metric-empty"
    assert rule_of(Point(None, 1), LENIENT)[0] == "metric-type"
    rule, msg = rule_of(Point("bad metric", 1), LENIENT)
    assert rule == "metric-chars"
    assert "' '" in msg and "a-z A-Z 0-9 - _ . /" in msg
    assert rule_of(Point("a,b", 1), LENIENT)[0] == "metric-chars"


def test_unicode_letters_allowed():
    validate(Point("temp\u00e9rature", 1, tags={"pi\u00e8ce": "caf\u00e9"}), STRICT_TS())


def STRICT_TS():
    return LENIENT


def test_value_rules():
    assert rule_of(Point("m", "42"), LENIENT)[0] == "value-type"
    assert rule_of(Point("m", None), LENIENT)[0] == "value-type"
    assert rule_of(Point("m", True), LENIENT)[0] == "value-type"
    rule, msg = rule_of(Point("m", float("nan")), LENIENT)
    assert rule == "value-finite" and "NaN" in msg
    assert rule_of(Point("m", float("inf")), LENIENT)[0] == "value-finite"
    assert rule_of(Point("m", float("-inf")), LENIENT)[0] == "value-finite"
    validate(Point("m", -12), LENIENT)
    validate(Point("m", 2**62), LENIENT)


def test_timestamp_rules():
    assert rule_of(Point("m", 1, 1.5), LENIENT)[0] == "timestamp-type"
    assert rule_of(Point("m", 1, 0), LENIENT)[0] == "timestamp-range"
    assert rule_of(Point("m", 1, -5), LENIENT)[0] == "timestamp-range"
    rule, msg = rule_of(Point("m", 1, 10**13), LENIENT)
    assert rule == "timestamp-range" and "13 digits" in msg
    validate(Point("m", 1, 4294967295), LENIENT)
    validate(Point("m", 1, 1700000000123), LENIENT)
    p = Point("m", 1, 1700000000123)
    assert p.ts_ms() == 1700000000123
    assert Point("m", 1, 1700000000).ts_ms() == 1700000000000


def test_tag_rules():
    tags9 = {}
    for i in range(9):
        tags9["k%d" % i] = "v"
    rule, msg = rule_of(Point("m", 1, 1700000000, tags9), STRICT)
    assert rule == "tags-too-many" and "at most 8" in msg
    validate(Point("m", 1, 1700000000, tags9), LENIENT)
    assert rule_of(Point("m", 1, None, {"": "v"}), LENIENT)[0] == "tag key-empty"
    assert rule_of(Point("m", 1, None, {"k": ""}), LENIENT)[0] == "tag value-empty"
    assert rule_of(Point("m", 1, None, {"k": "a b"}), LENIENT)[0] == "tag value-chars"
    assert rule_of(Point("m", 1, None, {"k": 5}), LENIENT)[0] == "tag value-type"
    assert rule_of(Point("m", 1, None, ["k"]), LENIENT)[0] == "tags-type"


def test_from_dict():
    p = point_from_dict({"metric": "m", "value": "4.5", "timestamp": "1700000000"}, LENIENT)
    assert p == Point("m", 4.5, 1700000000, {})
    p = point_from_dict({"metric": "m", "value": 1}, LENIENT, now_s=1700000001)
    assert p.ts == 1700000001
    e = raises(PointError, point_from_dict, {"metric": "m", "value": "x"})
    assert e.rule == "value"
    e = raises(PointError, point_from_dict, [1, 2])
    assert e.rule == "object"


def test_default_tags_point_wins():
    p = Point("m", 1, None, {"host": "mine"})
    q = with_tags(p, {"host": "default", "site": "home"})
    assert q.tags == {"host": "mine", "site": "home"}
    assert p.tags == {"host": "mine"}
    assert with_tags(p, {}) is p


def test_open_mode_takes_any_utf8_name_but_no_control_character():
    p = Point("salle à manger", 1, 1700000000, {"room": "living room, east=1", "who": "Zoë"})
    assert validate(p, OPEN) is p
    assert rule_of(p, LENIENT)[0] == "metric-chars"
    rule, msg = rule_of(Point("m", 1, None, {"room": "a\nb"}), OPEN)
    assert rule == "tag value-control" and "remove it" in msg
    assert rule_of(Point("m\x7f", 1), OPEN)[0] == "metric-control"
    assert rule_of(Point("m", 1, None, {"k": ""}), OPEN)[0] == "tag value-empty"

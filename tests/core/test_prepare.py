"""Points cannot be changed, and the one prepare step: stamp, tags, host tag, rules, cache."""

from mpcompat import raises
from tspush.core.errors import PointError
from tspush.core.point import LENIENT, OPEN, STRICT, Point, check
from tspush.core.prepare import Preparer


def test_a_point_cannot_be_changed():
    p = Point("m", 1, None, {"k": "v"})
    for name in ("metric", "value", "ts", "tags"):
        raises(AttributeError, setattr, p, name, 5)
    assert p == Point("m", 1, None, {"k": "v"})


def test_with_ts_stamped_and_with_tags_return_new_points():
    p = Point("m", 1, None, {"k": "v"})
    q = p.with_ts(1700000000)
    assert q == Point("m", 1, 1700000000, {"k": "v"}) and p.ts is None
    assert p.stamped(1700000001) == Point("m", 1, 1700000001, {"k": "v"})
    assert q.stamped(1700000001) is q  # a point with a time keeps it
    assert p.stamped(None) is p
    r = p.with_tags({"k": "default", "host": "pi"})
    assert r.tags == {"k": "v", "host": "pi"} and p.tags == {"k": "v"}
    assert p.with_tags({"k": "other"}) is p  # nothing new: the same point


def test_prepare_stamps_tags_and_checks():
    prep = Preparer(LENIENT, {"site": "home", "k": "default"})
    p = Point("m", 1, None, {"k": "v"})
    q = prep.prepare(p, 1700000000)
    assert q == Point("m", 1, 1700000000, {"k": "v", "site": "home"})
    assert p == Point("m", 1, None, {"k": "v"})  # as given
    assert prep.prepare(q) is q  # nothing to add: the point itself
    assert prep.prepare(Point("m", 2)).ts is None  # no clock, no now: the server stamps


def test_prepare_host_tag_and_clock():
    prep = Preparer(STRICT, None, "pi4", lambda: 1700000000.7)
    assert prep.prepare(Point("m", 1)) == Point("m", 1, 1700000000, {"host": "pi4"})
    assert prep.prepare(Point("m", 1, 5, {"a": "b"}), 9) == Point("m", 1, 5, {"a": "b"})


def test_refusal_names_the_rule_and_keeps_the_point_as_given():
    p = Point("m", 1, None, {"room": "living room"})
    e = raises(PointError, Preparer(LENIENT).prepare, p, 1700000000)
    assert e.rule == "tag value-chars" and e.point is p
    assert Preparer(OPEN).prepare(p, 1700000000).tags == {"room": "living room"}
    e = raises(PointError, Preparer(STRICT).prepare, Point("m", 1, None, {}))
    assert e.rule == "timestamp-missing"


def test_series_cache_changes_no_verdict():
    prep = Preparer(LENIENT, max_series=3)
    cases = [
        Point("m", 1, 1700000000, {"k": "v"}),
        Point("m", float("nan"), 1700000000, {"k": "v"}),
        Point("m", True, 1700000000, {"k": "v"}),
        Point("m", 1, 0, {"k": "v"}),
        Point("m m", 1, 1700000000, {}),
        Point("m", 1, 1700000000, {"k": 5}),
    ]
    for _ in range(2):  # the second time the good series is known
        for p in cases:
            want = check(p, LENIENT)
            try:
                prep.prepare(p)
                got = None
            except PointError as e:
                got = e
            assert (got is None) == (want is None), p
            if want is not None:
                assert got.rule == want.rule and str(got) == str(want)
    for i in range(10):
        prep.prepare(Point("s", 1, None, {"i": str(i)}))
    assert len(prep.series) <= 3


def test_split_keeps_the_good_and_explains_the_bad():
    ok, bad = Preparer().split([Point("a", 1), Point("b b", 2), Point("c", 3)], 1700000000)
    assert [p.metric for p in ok] == ["a", "c"] and all(p.ts == 1700000000 for p in ok)
    assert len(bad) == 1 and bad[0].rule == "metric-chars" and bad[0].point.metric == "b b"

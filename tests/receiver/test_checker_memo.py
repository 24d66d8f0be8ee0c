"""The write path's memo of good series never changes a verdict of the core's rules."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tspush.core.point import LENIENT, STRICT
from tspush.receiver.ingest import Checker, Limits, check_all

names = st.sampled_from(["cpu", "temp.c", "a b", "", "x" * 70, "é"])
values = st.one_of(
    st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(allow_nan=True),
    st.booleans(),
    st.none(),
    st.sampled_from(["1", "1.5", "x", [1]]),
)
stamps = st.one_of(
    st.none(),
    st.integers(min_value=-5, max_value=10**14),
    st.booleans(),
    st.sampled_from([1.5, "1700000000", "soon"]),
)
tags = st.one_of(
    st.none(),
    st.dictionaries(names, st.one_of(names, st.integers()), max_size=3),
    st.sampled_from([["a"], "x"]),
)
items = st.lists(
    st.fixed_dictionaries({"metric": names, "value": values, "timestamp": stamps, "tags": tags}),
    min_size=1,
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(items, min_size=1, max_size=4), st.sampled_from([LENIENT, STRICT]))
def test_memo_agrees_with_full_check(requests: list[list[dict[str, Any]]], mode: str) -> None:
    limits = Limits(max_name_chars=64)
    checker = Checker(mode, limits)
    for batch in requests:  # the memo carries over from one request to the next
        fast_good, fast_err = checker.check_all(batch, 1_700_000_000)
        full_good, full_err = check_all(batch, mode, 1_700_000_000, limits)
        assert fast_good == full_good
        assert fast_err == full_err


def test_memo_is_the_cores_bounded_series_cache() -> None:
    """The receiver keeps no cache of its own: ``core.prepare.Preparer``'s, bounded."""
    checker = Checker(LENIENT)
    checker.memo.max_series = 10
    items: list[Any] = [
        {"metric": "m", "timestamp": 1_700_000_000, "value": i, "tags": {"i": str(i)}}
        for i in range(25)
    ]
    good, errors = checker.check_all(items + [dict(items[0], value=float("nan"))], 1_700_000_000)
    assert [p.value for p in good] == list(range(25)) and len(errors) == 1
    assert 0 < len(checker.memo.series) <= 10
    assert checker.memo.known("m", {"i": "24"}) and not checker.memo.known("m", {"i": "0"})

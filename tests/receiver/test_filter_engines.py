"""Wildcards by substring search mean what the old regular expressions meant."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from tspush.receiver.filters import Filter, glob_match

ALPHABET = st.text(alphabet="ab*.", max_size=8)


@settings(max_examples=500, deadline=None)
@given(pattern=ALPHABET, value=st.text(alphabet="ab.", max_size=10))
def test_glob_match_agrees_with_the_regex_it_replaces(pattern: str, value: str) -> None:
    ref = re.compile("^" + ".*".join(re.escape(p) for p in pattern.split("*")) + "$", re.DOTALL)
    assert glob_match(pattern.split("*"), value) == (ref.match(value) is not None)


def test_iwildcard_ignores_case_and_regexp_searches() -> None:
    f = Filter("iwildcard", "host", "WEB*.LAN", False)
    assert f.matches({"host": "web01.lan"}) and not f.matches({"host": "db01.lan"})
    r = Filter("regexp", "host", "0[12]$", False)
    assert r.matches({"host": "web01"}) and not r.matches({"host": "web03"})
    assert not r.matches({"other": "web01"})

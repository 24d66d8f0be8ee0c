"""OpenTSDB tag value filters: literal_or, wildcard, regexp and their variants.

A filter names a tag key; a series passes only if it has that key and the
value matches. ``groupBy`` filters also split the answer into one result per
distinct value. The old ``tags`` map (``{"host": "*"}``, ``{"host": "a|b"}``)
is turned into group-by filters, as OpenTSDB 2.2+ does.

Anyone with the read token writes these patterns, so none may take more than
linear time: ``regexp`` runs on RE2 (no backtracking; what RE2 cannot run,
such as backreferences, is refused with 400) and ``wildcard`` is matched by
plain substring search, never by a regular expression.
"""

from __future__ import annotations

from typing import Any

import re2

from tspush.receiver.errors import ApiError

MAX_EXPR_CHARS = 512
MAX_WILDCARD_STARS = 16

FILTER_DOCS: dict[str, dict[str, str]] = {
    "literal_or": {
        "examples": "host=literal_or(web01),  host=literal_or(web01|web02|web03)",
        "description": "Accepts one or more exact values, case sensitive, separated by |.",
    },
    "iliteral_or": {
        "examples": "host=iliteral_or(web01),  host=iliteral_or(web01|web02|web03)",
        "description": "Like literal_or but case insensitive.",
    },
    "not_literal_or": {
        "examples": "host=not_literal_or(web01|web02)",
        "description": "Accepts any value except the listed ones, case sensitive.",
    },
    "not_iliteral_or": {
        "examples": "host=not_iliteral_or(web01|web02)",
        "description": "Accepts any value except the listed ones, case insensitive.",
    },
    "wildcard": {
        "examples": "host=wildcard(web*),  host=wildcard(*.example.com)",
        "description": "Values matching a pattern where * stands for any characters; "
        "case sensitive.",
    },
    "iwildcard": {
        "examples": "host=iwildcard(web*)",
        "description": "Like wildcard but case insensitive.",
    },
    "regexp": {
        "examples": "host=regexp(.*),  host=regexp(web[0-9]+)",
        "description": "Values in which the regular expression finds a match.",
    },
}


class Filter:
    """One tag filter, compiled once per query."""

    def __init__(self, ftype: str, tagk: str, expr: str, group_by: bool) -> None:
        self.type = ftype
        self.tagk = tagk
        self.expr = expr
        self.group_by = group_by
        if len(expr) > MAX_EXPR_CHARS:
            raise ApiError(
                400, "Filter too long for tag %r" % tagk, "at most %d characters" % MAX_EXPR_CHARS
            )
        if ftype in ("literal_or", "not_literal_or"):
            self._set = set(expr.split("|"))
        elif ftype in ("iliteral_or", "not_iliteral_or"):
            self._set = {v.lower() for v in expr.split("|")}
        elif ftype in ("wildcard", "iwildcard"):
            if expr.count("*") > MAX_WILDCARD_STARS:
                raise ApiError(
                    400,
                    "Wildcard for tag %r has %d '*', at most %d"
                    % (tagk, expr.count("*"), MAX_WILDCARD_STARS),
                    "use fewer '*' (or a regexp filter)",
                )
            self._parts = (expr.lower() if ftype == "iwildcard" else expr).split("*")
        elif ftype == "regexp":
            self._re = compile_re2(expr, tagk)
        else:
            raise ApiError(
                400,
                "No such filter type: %r" % ftype,
                "use one of " + ", ".join(sorted(FILTER_DOCS)) + " (see /api/config/filters)",
            )

    def matches(self, tags: dict[str, str]) -> bool:
        v = tags.get(self.tagk)
        if v is None:
            return False
        t = self.type
        if t == "literal_or":
            return v in self._set
        if t == "not_literal_or":
            return v not in self._set
        if t == "iliteral_or":
            return v.lower() in self._set
        if t == "not_iliteral_or":
            return v.lower() not in self._set
        if t == "regexp":
            return self._re.search(v) is not None
        return glob_match(self._parts, v.lower() if t == "iwildcard" else v)


def compile_re2(expr: str, tagk: str) -> Any:
    """``expr`` compiled by RE2 (linear time); 400 naming what RE2 refused."""
    opts = re2.Options()
    opts.log_errors = False  # RE2 would print its own line on stderr
    opts.never_capture = True
    try:
        return re2.compile(expr, opts)
    except re2.error as e:
        why = e.args[0].decode(errors="replace") if e.args and isinstance(e.args[0], bytes) else e
        raise ApiError(
            400,
            "Invalid regular expression %r for tag %r: %s" % (expr, tagk, why),
            "RE2 syntax: no backreferences or lookaround, repeat counts up to 1000",
        ) from None


def glob_match(parts: list[str], value: str) -> bool:
    """``value`` matches the pattern ``"*".join(parts)`` (``*``: any characters).

    The first part must start the value and the last end it; the middle parts
    are found left to right, each leftmost match as good as any: linear time.
    """
    if len(parts) == 1:
        return value == parts[0]
    first, last = parts[0], parts[-1]
    if len(first) + len(last) > len(value):
        return False
    if not value.startswith(first) or not value.endswith(last):
        return False
    pos, end = len(first), len(value) - len(last)
    for part in parts[1:-1]:
        i = value.find(part, pos, end)
        if i < 0:
            return False
        pos = i + len(part)
    return True


def split_typed(value: str) -> tuple[str, str]:
    """``wildcard(web*)`` -> ("wildcard", "web*").

    A bare ``*`` or ``a*`` is a wildcard, anything else literal_or.
    """
    i = value.find("(")
    if i > 0 and value.endswith(")") and value[:i] in FILTER_DOCS:
        return value[:i], value[i + 1 : -1]
    if "*" in value:
        return "wildcard", value
    return "literal_or", value


def parse_filter(d: Any) -> Filter:
    if not isinstance(d, dict):
        raise ApiError(400, "Invalid filter %r" % (d,), "give {type, tagk, filter, groupBy}")
    ftype, tagk, expr = d.get("type"), d.get("tagk"), d.get("filter")
    for name, v in (("type", ftype), ("tagk", tagk), ("filter", expr)):
        if not isinstance(v, str) or (name != "filter" and not v):
            raise ApiError(400, "Filter is missing %r" % name, "give {type, tagk, filter, groupBy}")
    return Filter(str(ftype), str(tagk), str(expr), bool(d.get("groupBy", False)))


def filters_from_tags(tags: dict[Any, Any]) -> list[Filter]:
    out = []
    for k, v in tags.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise ApiError(
                400, "Invalid tag filter %r=%r" % (k, v), "tag keys and values are strings"
            )
        ftype, expr = split_typed(v)
        out.append(Filter(ftype, k, expr, True))
    return out

"""Each point checked on its own with the core's rules: bad points do not spoil good ones.

The core's rules (lenient by default, real OpenTSDB's with ``strict``) plus
the server's limits; refused points are reported as OpenTSDB does
(``{"datapoint", "error"}``).
"""

from __future__ import annotations

import math
from typing import Any

from tspush.core.errors import PointError
from tspush.core.point import LENIENT, MAX_MS, Point, point_from_dict
from tspush.core.prepare import Preparer
from tspush.ingest.body import Limits

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def check_item(item: Any, mode: str, now_s: int, limits: Limits) -> Point:
    """One stored-ready point (timestamp filled in); PointError naming the rule otherwise."""
    p = point_from_dict(item, mode, now_s)
    if isinstance(p.value, int) and not INT64_MIN <= p.value <= INT64_MAX:
        raise PointError("%s: value is out of the 64-bit integer range" % p.metric, "value-range")
    if len(p.metric) > limits.max_name_chars:
        raise PointError(
            "metric name is %d characters long, at most %d"
            % (len(p.metric), limits.max_name_chars),
            "metric-length",
        )
    if len(p.tags) > limits.max_tags:
        raise PointError(
            "%s: %d tags, at most %d" % (p.metric, len(p.tags), limits.max_tags), "tags-too-many"
        )
    for k, v in p.tags.items():
        if len(k) > limits.max_name_chars or len(v) > limits.max_name_chars:
            raise PointError(
                "%s: tag %.40s... is longer than %d characters"
                % (p.metric, k, limits.max_name_chars),
                "tag-length",
            )
    return p


class Checker:
    """The core's point rules, plus a memo of metric+tag sets already found good.

    A board sends the same series again and again; once a name set has passed
    ``check_item`` (core rules and limits), later points of that series only
    need their value and timestamp looked at. Anything unusual (strings,
    bools, odd types, an unknown series) goes through the full check.
    """

    MAX_MEMO = 100_000

    def __init__(self, mode: str = LENIENT, limits: Limits | None = None) -> None:
        self.mode = mode
        self.limits = limits or Limits()
        # the series found good: the core's one series cache (bounded)
        self.memo = Preparer(mode, max_series=self.MAX_MEMO)
        # the raw metric and tags of the last point found in the memo (their tag
        # values are strings, so an equal tags object is the same good series)
        self._last: tuple[Any, Any] = (None, None)

    def check(self, item: Any, now_s: int) -> Point:
        if type(item) is dict:
            metric = item.get("metric")
            tags = item.get("tags")
            if tags is None:
                tags = {}
            value = item.get("value")
            ts = item.get("timestamp")
            if type(metric) is str and type(tags) is dict:
                last = self._last
                if metric == last[0] and tags == last[1]:
                    known = True  # the series of the point before: a board's run of readings
                else:
                    known = self.memo.known(metric, tags)
                    if known:
                        self._last = (metric, tags)
                if known and _value_ok(value) and self._ts_ok(ts):
                    return Point(metric, value, now_s if ts is None else ts, tags)
        p = check_item(item, self.mode, now_s, self.limits)
        self.memo.remember(p.metric, p.tags)
        return p

    def _ts_ok(self, ts: Any) -> bool:
        if ts is None:
            return self.mode == LENIENT
        return type(ts) is int and 0 < ts <= MAX_MS

    def check_all(self, items: list[Any], now_s: int) -> tuple[list[Point], list[dict[str, Any]]]:
        """``(good_points, errors)``; errors in OpenTSDB's ``{"datapoint","error"}`` form."""
        good: list[Point] = []
        errors: list[dict[str, Any]] = []
        lenient = self.mode == LENIENT
        isfinite = math.isfinite
        last_metric, last_tags = self._last
        for item in items:
            # check()'s fast path for a point of the series before, inlined: most points
            if type(item) is dict:
                metric = item.get("metric")
                tags = item.get("tags")
                if tags is None:
                    tags = {}
                if type(metric) is str and metric == last_metric and tags == last_tags:
                    value: Any = item.get("value")
                    ts = item.get("timestamp")
                    t = type(value)
                    if (
                        (t is float and isfinite(value))
                        or (t is int and INT64_MIN <= value <= INT64_MAX)
                    ) and ((type(ts) is int and 0 < ts <= MAX_MS) or (ts is None and lenient)):
                        good.append(Point(metric, value, now_s if ts is None else ts, tags))
                        continue
            try:
                good.append(self.check(item, now_s))
            except PointError as e:
                errors.append({"datapoint": echo(item), "error": str(e)})
            last_metric, last_tags = self._last
        return good, errors


ECHO_DEPTH = 4  # a point is an object holding a tags object: deeper is not a point


def echo(item: Any, depth: int = ECHO_DEPTH) -> Any:
    """A refused item as it is sent back in ``errors``, nested at most ``depth`` deep.

    JSON nested hundreds deep inside a point parses, but could not be encoded
    back (orjson stops at 254 levels); past a few levels it is cut to "...".
    """
    if isinstance(item, dict):
        if depth <= 0:
            return "..."
        return {k: echo(v, depth - 1) for k, v in item.items()}
    if isinstance(item, list):
        if depth <= 0:
            return "..."
        return [echo(v, depth - 1) for v in item]
    return item


def _value_ok(v: Any) -> bool:
    t = type(v)
    if t is int:
        return bool(INT64_MIN <= v <= INT64_MAX)
    return t is float and math.isfinite(v)


def check_all(
    items: list[Any], mode: str = LENIENT, now_s: int = 0, limits: Limits | None = None
) -> tuple[list[Point], list[dict[str, Any]]]:
    """Every item through the full core check (no memo)."""
    good: list[Point] = []
    errors: list[dict[str, Any]] = []
    for item in items:
        try:
            good.append(check_item(item, mode, now_s, limits or Limits()))
        except PointError as e:
            errors.append({"datapoint": echo(item), "error": str(e)})
    return good, errors

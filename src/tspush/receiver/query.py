"""OpenTSDB 2.x ``/api/query``: parse a query, run it on the store, shape the answer.

Order of operations, as OpenTSDB does it: filter series, group them by the
``groupBy`` tag keys, downsample each series (with its fill policy), turn
each into a rate if asked, then aggregate each group across series, with
linear interpolation where one series has no point at another's timestamp.

Times are milliseconds inside; answers use seconds unless ``msResolution``.
"""

from __future__ import annotations

import bisect
import math
import re
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from tspush.core.point import MAX_SECONDS
from tspush.receiver import rollups
from tspush.receiver.errors import ApiError
from tspush.receiver.filters import Filter, filters_from_tags, parse_filter, split_typed
from tspush.receiver.store import Series, Store

Value = int | float | None
Points = list[tuple[int, Value]]

UNITS_MS = {
    "ms": 1,
    "s": 1000,
    "m": 60_000,
    "h": 3_600_000,
    "d": 86_400_000,
    "w": 7 * 86_400_000,
    "n": 30 * 86_400_000,
    "y": 365 * 86_400_000,
}
_DURATION = re.compile(r"^(\d+)(ms|s|m|h|d|w|n|y)$")
_DATE_FORMATS = (
    "%Y/%m/%d-%H:%M:%S",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d-%H:%M",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
)
FILL_POLICIES = ("none", "nan", "null", "zero")
MAX_BUCKETS = 200_000
MAX_SUBQUERIES = 100
MAX_RESULT_POINTS = 2_000_000  # per request, every series and sub query together


def bad(message: str, details: str = "") -> ApiError:
    return ApiError(400, message, details)


# -- time -------------------------------------------------------------------


def parse_duration_ms(text: str) -> int:
    """``"1m"`` -> 60000. Units: ms s m h d w n(30 d) y(365 d)."""
    m = _DURATION.match(text.strip())
    if not m:
        raise bad(
            "Invalid duration %r" % text,
            "use a number and a unit (ms, s, m, h, d, w, n, y), e.g. 1m or 6h",
        )
    return int(m.group(1)) * UNITS_MS[m.group(2)]


def parse_time_ms(value: Any, now_ms: int, what: str = "start") -> int:
    """Absolute seconds or ms (int or digits), ``now``, ``1h-ago``, or ``yyyy/MM/dd-HH:mm:ss``.

    Dates are UTC. A time past what SQLite's 64-bit integers hold is a 400.
    """
    ms = _time_ms(value, now_ms, what)
    if not -MAX_QUERY_MS <= ms <= MAX_QUERY_MS:
        raise bad(
            "Invalid %s time %r: out of range" % (what, value),
            "give a time between year 1970 and 9999 (Unix seconds or milliseconds)",
        )
    return ms


MAX_QUERY_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z


def _time_ms(value: Any, now_ms: int, what: str) -> int:
    if isinstance(value, bool):
        raise bad("Invalid %s time %r" % (what, value))
    if isinstance(value, float) and not math.isfinite(value):
        raise bad("Invalid %s time %r" % (what, value), "give a finite number")
    if isinstance(value, int | float):
        n = int(value)
        return n if n > MAX_SECONDS else n * 1000
    if not isinstance(value, str) or not value.strip():
        raise bad("Missing %s time" % what, "give e.g. 1h-ago or Unix seconds")
    s = value.strip()
    if s == "now":
        return now_ms
    if s.isdigit():
        n = int(s)
        # OpenTSDB: 13 digits (or any value past 2106 in seconds) means milliseconds
        return n if (len(s) >= 13 or n > MAX_SECONDS) else n * 1000
    if s.endswith("-ago"):
        return now_ms - parse_duration_ms(s[:-4])
    for fmt in _DATE_FORMATS:
        try:
            dt = datetime.strptime(s, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
        return int(dt.timestamp() * 1000)
    raise bad(
        "Invalid %s time %r" % (what, value),
        "use Unix seconds or milliseconds, 'now', a relative time like 1h-ago, "
        "or yyyy/MM/dd-HH:mm:ss (UTC)",
    )


# -- aggregators --------------------------------------------------------------


def _dev(vs: Sequence[float]) -> float:
    return statistics.pstdev(vs) if len(vs) > 1 else 0.0


def _percentile(p: float) -> Callable[[Sequence[float]], float]:
    def agg(vs: Sequence[float]) -> float:
        s = sorted(vs)
        if len(s) == 1:
            return s[0]
        pos = p / 100.0 * (len(s) - 1)
        lo = int(math.floor(pos))
        hi = min(lo + 1, len(s) - 1)
        return s[lo] + (s[hi] - s[lo]) * (pos - lo)

    return agg


def _avg(vs: Sequence[float]) -> float:
    return sum(vs) / len(vs)


def _mult(vs: Sequence[float]) -> float:
    out = 1.0
    for v in vs:
        out *= v
    return out


AGGREGATORS: dict[str, Callable[[Sequence[Any]], Any]] = {
    "sum": sum,
    "zimsum": sum,
    "avg": _avg,
    "min": min,
    "mimmin": min,
    "max": max,
    "mimmax": max,
    "count": len,
    "dev": _dev,
    "first": lambda vs: vs[0],
    "last": lambda vs: vs[-1],
    "median": _percentile(50),
    "multiply": _mult,
    "p50": _percentile(50),
    "p75": _percentile(75),
    "p90": _percentile(90),
    "p95": _percentile(95),
    "p99": _percentile(99),
    "p999": _percentile(99.9),
    "none": lambda vs: vs[0],
}
# How a series with no point at a timestamp takes part in a cross-series aggregate.
ZERO_IF_MISSING = {"zimsum", "count"}
SKIP_IF_MISSING = {"mimmin", "mimmax"}


def aggregator(name: Any, what: str = "aggregator") -> Callable[[Sequence[Any]], Any]:
    if not isinstance(name, str) or name not in AGGREGATORS:
        raise bad(
            "No such aggregator: %r" % (name,),
            "use one of " + ", ".join(sorted(AGGREGATORS)) + " (see /api/aggregators)",
        )
    return AGGREGATORS[name]


# -- the parsed query -----------------------------------------------------------


class Downsample:
    """``1m-avg[-fill]`` or ``0all-sum``: interval_ms 0 means one bucket for all."""

    def __init__(self, spec: str) -> None:
        parts = spec.strip().split("-")
        if len(parts) not in (2, 3):
            raise bad("Invalid downsample %r" % spec, "use e.g. 1m-avg or 1h-max-zero")
        interval = parts[0]
        if interval.endswith("c"):  # calendar alignment: we align to UTC boundaries
            interval = interval[:-1]
        if interval == "0all" or interval.endswith("all"):
            self.interval_ms = 0
        else:
            self.interval_ms = parse_duration_ms(interval)
            if self.interval_ms <= 0:
                raise bad("Invalid downsample interval %r" % spec, "use an interval above 0")
        self.agg_name = parts[1]
        self.agg = aggregator(parts[1], "downsample aggregator")
        self.fill = parts[2] if len(parts) == 3 else "none"
        if self.fill not in FILL_POLICIES:
            raise bad(
                "Invalid fill policy %r in downsample %r" % (self.fill, spec),
                "use one of " + ", ".join(FILL_POLICIES),
            )


class RateOptions:
    def __init__(self, d: Any) -> None:
        d = d if isinstance(d, dict) else {}
        self.counter = bool(d.get("counter", False))
        self.counter_max = _num(d.get("counterMax"), float(2**63 - 1), "counterMax")
        self.reset_value = _num(d.get("resetValue"), 0.0, "resetValue")
        self.drop_resets = bool(d.get("dropResets", False))


def _num(v: Any, default: float, what: str) -> float:
    if v is None or v == "":
        return default
    if isinstance(v, bool):
        raise bad("Invalid %s %r" % (what, v))
    try:
        return float(v)
    except (TypeError, ValueError):
        raise bad("Invalid %s %r" % (what, v), "give a number") from None


class SubQuery:
    """One entry of ``queries``: metric, aggregator, downsample, rate, filters."""

    def __init__(self, d: Any, index: int) -> None:
        if not isinstance(d, dict):
            raise bad("Each entry of 'queries' must be an object", "got %r" % (d,))
        self.index = index
        self.raw = d
        metric = d.get("metric")
        if not isinstance(metric, str) or not metric:
            raise bad("Missing metric in sub query %d" % index, "give 'metric': 'name'")
        self.metric = metric
        self.agg_name = d.get("aggregator", "sum")
        self.agg = aggregator(self.agg_name)
        ds = d.get("downsample")
        if ds is not None and not isinstance(ds, str):
            raise bad("Invalid downsample %r" % (ds,), "use a string such as 1m-avg")
        self.downsample = Downsample(ds) if ds else None
        self.rate = bool(d.get("rate", False))
        self.rate_options = RateOptions(d.get("rateOptions"))
        self.explicit_tags = bool(d.get("explicitTags", False))
        filters: list[Filter] = []
        tags = d.get("tags")
        if tags:
            if not isinstance(tags, dict):
                raise bad("Invalid tags %r" % (tags,), "give a map of tag key to value")
            filters.extend(filters_from_tags(tags))
        fl = d.get("filters")
        if fl:
            if not isinstance(fl, list):
                raise bad("Invalid filters %r" % (fl,), "give a list of filter objects")
            filters.extend(parse_filter(f) for f in fl)
        self.filters = filters
        self.found: list[Series] | None = None  # the series small() picked, kept for run()


class Query:
    """A whole ``/api/query`` request."""

    def __init__(self, d: Any, now_ms: int | None = None) -> None:
        if not isinstance(d, dict):
            raise bad("The query must be a JSON object", "see the OpenTSDB /api/query docs")
        now = now_ms if now_ms is not None else int(time.time() * 1000)
        self.start_ms = parse_time_ms(d.get("start"), now, "start")
        end = d.get("end")
        self.end_ms = parse_time_ms(end, now, "end") if end not in (None, "") else now
        if self.end_ms < self.start_ms:
            raise bad("End time must be greater than the start time", "")
        self.ms_resolution = _flag(d.get("msResolution")) or _flag(d.get("ms"))
        self.arrays = _flag(d.get("arrays"))
        self.show_query = _flag(d.get("showQuery"))
        qs = d.get("queries")
        if not isinstance(qs, list) or not qs:
            raise bad("Missing sub queries", "give 'queries': [{'metric': ..., 'aggregator': ...}]")
        if len(qs) > MAX_SUBQUERIES:
            raise bad(
                "Too many sub queries: %d" % len(qs),
                "send at most %d per request" % MAX_SUBQUERIES,
            )
        self.queries = [SubQuery(q, i) for i, q in enumerate(qs)]
        self.budget = Budget(MAX_RESULT_POINTS)


def _flag(v: Any) -> bool:
    if isinstance(v, str):
        return v.lower() in ("", "true", "1", "yes")
    return bool(v)


# -- GET /api/query?m=... -------------------------------------------------------


def _split_top(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside braces, brackets and parentheses."""
    out: list[str] = []
    cur: list[str] = []
    depth = 0
    for c in text:
        if c in "{[(":
            depth += 1
        elif c in "}])":
            depth -= 1
        if c == sep and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(c)
    out.append("".join(cur))
    return out


def brace_groups(text: str) -> tuple[str, list[str]]:
    """``metric{a=b}{c=d}`` -> ("metric", ["a=b", "c=d"])."""
    i = text.find("{")
    if i < 0:
        return text, []
    name, rest, groups = text[:i], text[i:], []
    while rest:
        if not rest.startswith("{"):
            raise bad("Invalid metric expression %r" % text, "use metric{tag=value}{tag=filter}")
        depth = 0
        for j, c in enumerate(rest):
            if c in "{(":
                depth += 1
            elif c in "})":
                depth -= 1
            if depth == 0:
                groups.append(rest[1:j])
                rest = rest[j + 1 :]
                break
        else:
            raise bad("Unclosed brace in %r" % text, "close every {")
    return name, groups


def tag_pairs(text: str) -> list[tuple[str, str]]:
    pairs = []
    for part in _split_top(text, ","):
        if not part.strip():
            continue
        k, eq, v = part.partition("=")
        if not eq:
            raise bad("Invalid tag filter %r" % part, "use key=value")
        pairs.append((k.strip(), v.strip()))
    return pairs


def subquery_from_m(m: str) -> dict[str, Any]:
    """``sum:rate{counter,,}:1m-avg:metric{host=*}{dc=literal_or(a|b)}`` as a JSON sub query."""
    parts = _split_top(m, ":")
    if len(parts) < 2:
        raise bad("Invalid m parameter %r" % m, "use aggregator:[rate:][downsample:]metric{tags}")
    d: dict[str, Any] = {"aggregator": parts[0]}
    metric, groups = brace_groups(parts[-1])
    d["metric"] = metric
    for mid in parts[1:-1]:
        if mid == "rate" or mid.startswith("rate{"):
            d["rate"] = True
            if mid.startswith("rate{"):
                opts = mid[5:-1].split(",")
                ro: dict[str, Any] = {"counter": opts[0] == "counter"}
                if len(opts) > 1 and opts[1]:
                    ro["counterMax"] = opts[1]
                if len(opts) > 2 and opts[2]:
                    ro["resetValue"] = opts[2]
                if len(opts) > 3 and opts[3]:
                    ro["dropResets"] = opts[3] == "dropcounter"
                d["rateOptions"] = ro
        elif mid == "explicit_tags":
            d["explicitTags"] = True
        else:
            d["downsample"] = mid
    filters = []
    if groups:
        for k, v in tag_pairs(groups[0]):
            filters.append(_filter_dict(k, v, True))
    if len(groups) > 1:
        for k, v in tag_pairs(groups[1]):
            filters.append(_filter_dict(k, v, False))
    if filters:
        d["filters"] = filters
    return d


def _filter_dict(tagk: str, value: str, group_by: bool) -> dict[str, Any]:
    ftype, expr = split_typed(value)
    return {"type": ftype, "tagk": tagk, "filter": expr, "groupBy": group_by}


def query_from_params(params: dict[str, list[str]]) -> dict[str, Any]:
    """The JSON form of a GET /api/query URL's parameters."""

    def one(name: str) -> str | None:
        v = params.get(name)
        return v[-1] if v else None

    d: dict[str, Any] = {"start": one("start"), "end": one("end")}
    for flag in ("ms", "msResolution", "arrays", "showQuery"):
        if flag in params:
            d[flag] = one(flag)
    d["queries"] = [subquery_from_m(m) for m in params.get("m", [])]
    return d


# -- running it -------------------------------------------------------------


def downsample(points: Points, ds: Downsample, start_ms: int, end_ms: int) -> Points:
    """Bucket one series' points; buckets start on multiples of the interval."""
    if ds.interval_ms == 0:
        vs = [v for _, v in points if v is not None]
        return [(start_ms, ds.agg(vs))] if vs else []
    step = ds.interval_ms
    buckets: dict[int, list[Any]] = {}
    for ts, v in points:
        if v is None:
            continue
        b = ts - ts % step
        lst = buckets.get(b)
        if lst is None:
            buckets[b] = [v]
        else:
            lst.append(v)
    return fill_buckets({b: ds.agg(vs) for b, vs in buckets.items()}, ds, start_ms, end_ms)


def fill_buckets(values: dict[int, Value], ds: Downsample, start_ms: int, end_ms: int) -> Points:
    """Buckets in time order, with the fill policy's value where a bucket is empty."""
    if ds.interval_ms == 0:
        return [(start_ms, values[start_ms])] if start_ms in values else []
    if ds.fill == "none":
        return [(b, values[b]) for b in sorted(values)]
    step = ds.interval_ms
    first = start_ms - start_ms % step
    check_buckets((end_ms - first) // step)
    fill: Value = 0 if ds.fill == "zero" else None
    out: Points = []
    b = first
    while b <= end_ms:
        out.append((b, values.get(b, fill)))
        b += step
    return out


def check_buckets(n: int) -> None:
    if n > MAX_BUCKETS:
        raise bad(
            "Too many downsample buckets: %d" % n,
            "use a longer downsample interval or a shorter time range",
        )


def series_points(store: Store, s: Series, q: Query, sq: SubQuery) -> Points:
    """One series' points over the query range, downsampled (from rollups when they answer)."""
    ds = sq.downsample
    if ds is not None:
        res = rollups.resolution_for(ds.interval_ms, ds.agg_name)
        if res is not None:
            if ds.fill != "none" and ds.interval_ms:
                first = q.start_ms - q.start_ms % ds.interval_ms
                check_buckets((q.end_ms - first) // ds.interval_ms)
            values = rollups.bucket_values(
                store, s.id, res, ds.interval_ms, q.start_ms, q.end_ms, ds.agg_name
            )
            return fill_buckets(values, ds, q.start_ms, q.end_ms)
    pts: Points = store.points(s.id, q.start_ms, q.end_ms)  # type: ignore[assignment]
    if ds is not None:
        q.budget.take(len(pts) // 4)  # raw points read count a quarter of an answered one
        pts = downsample(pts, ds, q.start_ms, q.end_ms)
    return pts


class Budget:
    """Points one request may gather in all its series (a per-series bound multiplies)."""

    def __init__(self, max_points: int) -> None:
        self.left = max_points
        self.max_points = max_points

    def take(self, n: int) -> None:
        self.left -= n
        if self.left < 0:
            raise bad(
                "Too many points for one query: more than %d" % self.max_points,
                "use a downsample (e.g. 1h-avg), fewer series or a shorter time range",
            )


def rate(points: Points, opts: RateOptions) -> Points:
    """Per-second change between consecutive points, counter wrap handled."""
    out: Points = []
    prev: tuple[int, float] | None = None
    for ts, v in points:
        if v is None:
            continue
        if prev is not None:
            pts, pv = prev
            dt_s = (ts - pts) / 1000.0
            if dt_s > 0:
                delta = v - pv
                if opts.counter and delta < 0:
                    if opts.drop_resets:
                        prev = (ts, v)
                        continue
                    delta = opts.counter_max - pv + v
                r = delta / dt_s
                if opts.counter and opts.reset_value > 0 and r > opts.reset_value:
                    r = 0.0
                out.append((ts, r))
        prev = (ts, v)
    return out


def _value_at(points: Points, times: list[int], t: int) -> Value:
    """Linear interpolation of one series at ``t``; None outside its span."""
    i = bisect.bisect_left(times, t)
    if i < len(times) and times[i] == t:
        return points[i][1]
    if i == 0 or i == len(times):
        return None
    (t0, v0), (t1, v1) = points[i - 1], points[i]
    if v0 is None or v1 is None:
        return None
    return v0 + (v1 - v0) * (t - t0) / (t1 - t0)


def aggregate(series_points: list[Points], agg_name: str) -> Points:
    """Combine several series into one by ``agg_name`` at every timestamp any of them has."""
    agg = AGGREGATORS[agg_name]
    if len(series_points) == 1:
        pts = series_points[0]
        if agg_name == "count":
            return [(t, 1 if v is not None else 0) for t, v in pts]
        if agg_name == "dev":
            return [(t, 0.0 if v is not None else None) for t, v in pts]
        return list(pts)
    all_times = sorted({t for pts in series_points for t, _ in pts})
    exact = [dict(pts) for pts in series_points]
    times = [[t for t, _ in pts] for pts in series_points]
    out: Points = []
    for t in all_times:
        vs: list[Any] = []
        had_slot = False
        for i, pts in enumerate(series_points):
            if t in exact[i]:
                v = exact[i][t]
                had_slot = True
            elif agg_name in ZERO_IF_MISSING:
                v = 0 if agg_name == "zimsum" else None
            elif agg_name in SKIP_IF_MISSING:
                v = None
            else:
                v = _value_at(pts, times[i], t)
            if v is not None:
                vs.append(v)
        if agg_name == "count":
            out.append((t, len(vs)))
        elif vs:
            out.append((t, agg(vs)))
        elif had_slot:
            out.append((t, None))  # a fill (null/nan) bucket in every series
    return out


def _tag_summary(group: list[Series]) -> tuple[dict[str, str], list[str]]:
    """Tags shared with one value by every series, and the keys that differ."""
    common = dict(group[0].tags)
    keys: set[str] = set()
    for s in group:
        keys.update(s.tags)
        for k in list(common):
            if s.tags.get(k) != common[k]:
                del common[k]
    return common, sorted(keys - set(common))


def select_series(store: Store, sq: SubQuery) -> list[Series]:
    if sq.found is not None:
        return sq.found
    candidates = store.series_for(sq.metric)
    if not candidates:
        raise bad("No such name for 'metrics': '%s'" % sq.metric, "check the metric name")
    if len(sq.filters) == 1 and not sq.explicit_tags:  # the usual one: no generator per series
        f = sq.filters[0]
        return [s for s in candidates if f.matches(s.tags)]
    filter_keys = {f.tagk for f in sq.filters}
    out = []
    for s in candidates:
        if sq.explicit_tags and set(s.tags) != filter_keys:
            continue
        if all(f.matches(s.tags) for f in sq.filters):
            out.append(s)
    return out


def run_subquery(store: Store, q: Query, sq: SubQuery) -> list[dict[str, Any]]:
    group_keys = sorted({f.tagk for f in sq.filters if f.group_by})
    groups: dict[tuple[Any, ...], list[Series]] = {}
    for s in select_series(store, sq):
        if sq.agg_name == "none":
            key: tuple[Any, ...] = (s.id,)
        else:
            key = tuple(s.tags.get(k) for k in group_keys)
        groups.setdefault(key, []).append(s)
    results = []
    for key in sorted(groups, key=lambda k: tuple(str(x) for x in k)):
        group = groups[key]
        per_series: list[Points] = []
        for s in group:
            pts = series_points(store, s, q, sq)
            q.budget.take(len(pts))
            if sq.rate:
                pts = rate(pts, sq.rate_options)
            if pts:
                per_series.append(pts)
        if not per_series:
            continue
        dps = aggregate(per_series, sq.agg_name)
        tags, agg_tags = _tag_summary(group)
        res: dict[str, Any] = {"metric": sq.metric, "tags": tags, "aggregateTags": agg_tags}
        if q.show_query:
            res["query"] = dict(sq.raw, index=sq.index)
        res["dps"] = _shape_dps(dps, q.ms_resolution, q.arrays)
        results.append(res)
    return results


def _shape_dps(dps: Points, ms: bool, arrays: bool) -> Any:
    if arrays:
        return [[t if ms else t // 1000, v] for t, v in dps]
    if ms:
        return {str(t): v for t, v in dps}
    out: dict[str, Value] = {}
    for t, v in dps:
        out[str(t // 1000)] = v  # same second twice: the later value wins
    return out


# -- small queries, answered on the event loop --------------------------------

SMALL_MAX_SERIES_HELD = 2_000  # series_for() looks at each
SMALL_MAX_MATCHED = 4  # series read, every sub query together
SMALL_MAX_BUCKETS = 2_000  # rollup buckets read per series
SMALL_MAX_OPEN_POINTS = 5_000  # points of a series' open windows (read raw)
_LITERAL = ("literal_or", "iliteral_or")


def no_pattern(doc: Any) -> bool:
    """No regexp filter in this query document: parsing it compiles nothing.

    A pattern's compile time grows with it, so a query holding one is parsed in
    a worker (with the rest of its work), never on the event loop.
    """
    if not isinstance(doc, dict) or not isinstance(doc.get("queries"), list):
        return False
    for sq in doc["queries"]:
        if not isinstance(sq, dict):
            return False
        tags = sq.get("tags") or {}
        fl = sq.get("filters") or []
        if not isinstance(tags, dict) or not isinstance(fl, list):
            return False
        for v in tags.values():
            if not isinstance(v, str) or split_typed(v)[0] == "regexp":
                return False
        for f in fl:
            if not isinstance(f, dict) or f.get("type") == "regexp":
                return False
    return True


def small(store: Store, q: Query) -> bool:
    """``q``'s work is known to be a fraction of a millisecond: no thread hop for it.

    That is: a few series, picked by literal filters among a bounded number,
    answered from rollups over a bounded number of buckets, with few points in
    their open windows (read raw; their count also stands for how dense the
    series' closed blocks at the range's edges are).
    """
    if store.series_count() > SMALL_MAX_SERIES_HELD:
        return False
    matched = 0
    picked: list[list[Series]] = []
    for sq in q.queries:
        ds = sq.downsample
        if ds is None or any(f.type not in _LITERAL for f in sq.filters):
            return False
        res = rollups.resolution_for(ds.interval_ms, ds.agg_name)
        if res is None or (q.end_ms - q.start_ms) // res > SMALL_MAX_BUCKETS:
            return False
        found = select_series(store, sq)
        matched += len(found)
        if matched > SMALL_MAX_MATCHED:
            return False
        if any(store.open_points(s.id) > SMALL_MAX_OPEN_POINTS for s in found):
            return False
        picked.append(found)
    for sq, found in zip(q.queries, picked, strict=True):
        sq.found = found  # run() reads them at once (no await between): not looked up twice
    return True


def run(store: Store, q: Query) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    for sq in q.queries:
        results.extend(run_subquery(store, q, sq))
    return results

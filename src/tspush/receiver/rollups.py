"""Downsampling from pre-aggregated buckets: a 30-day view without reading 30 days of points.

A downsample whose interval is a whole number of rollup buckets (1 min or
1 h) and whose aggregator follows from count/min/max/sum is answered from
the coarsest such rollup, for the buckets lying wholly inside the query
range and in windows already written. The ragged ends of the range, and
windows with points not yet in their block, are read raw, so the answer
is the one the raw points give (sums may differ in the last float digit,
being added in another order).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tspush.receiver.codec import Rollup, wide
from tspush.receiver.store import RESOLUTIONS_MS, WINDOW_MS, Store

# downsample aggregators that count/min/max/sum answer
ROLLUP_AGGS = {"avg", "sum", "zimsum", "min", "mimmin", "max", "mimmax", "count"}

Acc = list[Any]  # [count, min, max, sum]


def resolution_for(interval_ms: int, agg_name: str) -> int | None:
    """The coarsest rollup resolution that answers this downsample exactly, if any."""
    if agg_name not in ROLLUP_AGGS:
        return None
    for res in RESOLUTIONS_MS:
        if interval_ms == 0 or interval_ms % res == 0:
            return res
    return None


def bucket_values(
    store: Store, sid: int, res: int, step: int, start_ms: int, end_ms: int, agg_name: str
) -> dict[int, Any]:
    """Bucket start (``step`` 0: ``start_ms``) -> downsampled value over [start, end]."""
    a = -(-start_ms // res) * res
    b = (end_ms + 1) // res * res
    raw_ranges: list[tuple[int, int]] = []
    if a >= b:
        raw_ranges.append((start_ms, end_ms))
        r = None
    else:
        r = store.rollup(sid, res, a, b)
        if start_ms < a:
            raw_ranges.append((start_ms, a - 1))
        for w in store.open_windows(sid, a, b - 1):
            lo, hi = max(w, a), min(w + WINDOW_MS, b) - 1
            if lo <= hi:
                raw_ranges.append((lo, hi))
        if b <= end_ms:
            raw_ranges.append((b, end_ms))
    parts = [r] if r is not None and len(r) else []
    for lo, hi in raw_ranges:
        ts, vs = store.point_arrays(sid, lo, hi)
        if len(ts):
            ones = np.ones(len(ts), dtype=np.int64)
            parts.append(Rollup(ts, ones, vs, vs, vs))
    if not parts:
        return {}
    both = Rollup.concat(parts)
    keys = both.ts - both.ts % step if step else np.full(len(both), start_ms, dtype=np.int64)
    cuts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    final = _final(
        agg_name,
        np.add.reduceat(both.count, cuts),
        np.minimum.reduceat(both.min, cuts),
        np.maximum.reduceat(both.max, cuts),
        np.add.reduceat(both.sum.astype(np.float64) if wide(both.sum) else both.sum, cuts),
    )
    return dict(zip(keys[cuts].tolist(), final.tolist(), strict=True))


def _final(agg_name: str, cnt: Any, mn: Any, mx: Any, sm: Any) -> Any:
    """The downsample value from count/min/max/sum: numpy arrays or one bucket's numbers."""
    if agg_name == "avg":
        return sm / cnt
    if agg_name in ("sum", "zimsum"):
        return sm
    if agg_name in ("min", "mimmin"):
        return mn
    if agg_name in ("max", "mimmax"):
        return mx
    return cnt


def finish(acc: Acc, agg_name: str) -> Any:
    """The downsample value of one bucket from its accumulator."""
    count, mn, mx, sm = acc
    return _final(agg_name, count, mn, mx, sm)

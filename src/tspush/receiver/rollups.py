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


def bucket_accumulators(
    store: Store, sid: int, res: int, step: int, start_ms: int, end_ms: int
) -> dict[int, Acc]:
    """Bucket start (``step`` 0: ``start_ms``) -> [count, min, max, sum] over [start, end]."""
    a = -(-start_ms // res) * res
    b = (end_ms + 1) // res * res
    acc: dict[int, Acc] = {}
    raw_ranges: list[tuple[int, int]] = []
    if a >= b:
        raw_ranges.append((start_ms, end_ms))
    else:
        r = store.rollup(sid, res, a, b)
        if len(r):
            keys = r.ts - r.ts % step if step else np.full(len(r), start_ms, dtype=np.int64)
            cuts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
            cols = zip(
                keys[cuts].tolist(),
                np.add.reduceat(r.count, cuts).tolist(),
                np.minimum.reduceat(r.min, cuts).tolist(),
                np.maximum.reduceat(r.max, cuts).tolist(),
                np.add.reduceat(r.sum, cuts).tolist(),
                strict=True,
            )
            acc = {k: [c, mn, mx, sm] for k, c, mn, mx, sm in cols}
        if start_ms < a:
            raw_ranges.append((start_ms, a - 1))
        for w in store.open_windows(sid, a, b - 1):
            lo, hi = max(w, a), min(w + WINDOW_MS, b) - 1
            if lo <= hi:
                raw_ranges.append((lo, hi))
        if b <= end_ms:
            raw_ranges.append((b, end_ms))
    for lo, hi in raw_ranges:
        for ts, v in store.points(sid, lo, hi):
            k = ts - ts % step if step else start_ms
            cur = acc.get(k)
            if cur is None:
                acc[k] = [1, v, v, v]
            else:
                cur[0] += 1
                if v < cur[1]:
                    cur[1] = v
                if v > cur[2]:
                    cur[2] = v
                cur[3] += v
    return acc


def finish(acc: Acc, agg_name: str) -> Any:
    """The downsample value of one bucket from its accumulator."""
    count, mn, mx, sm = acc
    if agg_name == "avg":
        return sm / count
    if agg_name in ("sum", "zimsum"):
        return sm
    if agg_name in ("min", "mimmin"):
        return mn
    if agg_name in ("max", "mimmax"):
        return mx
    return count

"""``GET /api/fleet``: which board is silent or sick? One line per device (its ``host`` tag).

For each host: when it was last heard from, points per hour (the last hour),
its usual interval (the median gap between its readings), whether it has
been silent for more than ``SILENT_INTERVALS`` of those intervals, and the
latest value of the health metrics a board or an agent sends about itself
(free heap, Wi-Fi RSSI, reset cause, uptime, spool depth, dropped readings).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tspush.receiver.store import Store

SILENT_INTERVALS = 3
HOUR_MS = 3_600_000
# metric name endings -> the column they fill
HEALTH = {
    "heap_free_bytes": "heap_free_bytes",
    "rssi_dbm": "rssi_dbm",
    "reset_cause": "reset_cause",
    "uptime_s": "uptime_s",
    "spool.points": "spool_points",
    "dropped": "dropped",
}


def fleet(store: Store, now_ms: int) -> list[dict[str, Any]]:
    """One dict per host, silent ones first, then by name."""
    by_host: dict[str, list[Any]] = {}
    for s in store.all_series():
        host = s.tags.get("host")
        if host is not None:
            by_host.setdefault(host, []).append(s)
    out = []
    for host, series in by_host.items():
        last_ms = 0
        per_hour = 0
        gaps: list[float] = []
        health: dict[str, Any] = {}
        for s in series:
            last = store.last(s.id, 0)
            if last is None:
                continue
            last_ms = max(last_ms, last[0])
            ts, _ = store.point_arrays(s.id, last[0] - HOUR_MS, last[0])
            per_hour += int(np.count_nonzero(ts > now_ms - HOUR_MS))
            if len(ts) > 1:
                gaps.append(float(np.median(np.diff(ts))))
            for suffix, column in HEALTH.items():
                if s.metric == suffix or s.metric.endswith("." + suffix):
                    health[column] = last[1]
        interval_ms = min(gaps) if gaps else None
        silent = interval_ms is not None and now_ms - last_ms > SILENT_INTERVALS * interval_ms
        out.append(
            {
                "host": host,
                "last_seen_ms": last_ms,
                "points_per_hour": per_hour,
                "interval_s": round(interval_ms / 1000, 1) if interval_ms else None,
                "silent": silent,
                "series": len(series),
                "health": health,
            }
        )
    out.sort(key=lambda d: (not d["silent"], d["host"]))
    return out

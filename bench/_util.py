"""Shared helpers for the bench scripts: data, timing, machine facts, tables.

Bench scripts are not tests: they print figures. Everything here stays on
127.0.0.1 and every loop is bounded.
"""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

Row = dict[str, Any]


def row(
    bench: str,
    metric: str,
    value: float,
    unit: str,
    note: str = "",
    goal: str = "",
    ok: bool | None = None,
) -> Row:
    """One figure in the shape every bench script returns (contract 10), plus goal/ok."""
    r: Row = {"bench": bench, "metric": metric, "value": value, "unit": unit, "note": note}
    if goal:
        r["goal"] = goal
        r["ok"] = ok
    print(f"  [{bench}] {metric}: {fmt_value(value)} {unit}", file=sys.stderr, flush=True)
    return r


def make_points(
    n: int,
    series: int = 1000,
    first_ts_ms: int = 1_700_000_000_000,
    unique: bool = False,
    prefix: str = "sys",
) -> list[Any]:
    """``n`` points with 5 tags, alternating int and float values, over ``series`` tag sets.

    Tag dicts are shared between the points of a series, as a source that
    reads the same sensor again would share them. ``unique``: every tag set
    differs (the host tag carries the tag set's number).
    """
    from tspush.core.point import Point

    tagsets = [
        {
            "host": "web%07d" % i if unique else "web%03d" % (i % 50),
            "dc": "gra%d" % (i % 3),
            "rack": "r%02d" % (i % 17),
            "cpu": str(i % 8),
            "env": "prod" if i % 5 else "staging",
        }
        for i in range(series)
    ]
    cpu = prefix + ".cpu.user"
    mem = prefix + ".mem.free"
    out = []
    for i in range(n):
        if i % 2:
            out.append(Point(cpu, i % 100_000, first_ts_ms + i, tagsets[i % series]))
        else:
            out.append(Point(mem, i * 0.37 + 0.001, first_ts_ms + i, tagsets[i % series]))
    return out


def median_rate(fn: Callable[[], Any], items: int, runs: int) -> tuple[float, list[float]]:
    """Run ``fn`` ``runs`` times; the median of ``items / seconds`` and every rate."""
    rates = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        rates.append(items / (time.perf_counter() - t0))
    return statistics.median(rates), rates


def machine() -> dict[str, Any]:
    """Cores, CPU model, Python version and date: what docs/benchmarks.md records."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "os": platform.platform(),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def fmt_value(v: float) -> str:
    if isinstance(v, bool) or v is None:
        return str(v)
    if abs(v) >= 100_000:
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:,.1f}"
    if abs(v) >= 1:
        return f"{v:.2f}"
    return f"{v:.3g}"


def table(rows: list[Row]) -> str:
    """A plain-text table of rows (bench, metric, value, unit, goal, note)."""
    head = ["bench", "metric", "value", "unit", "goal", "note"]
    cells = []
    for r in rows:
        goal = r.get("goal", "")
        if goal:
            goal = ("PASS " if r.get("ok") else "MISS ") + goal
        cells.append(
            [
                str(r.get("bench", "")),
                str(r.get("metric", "")),
                fmt_value(r.get("value", 0)),
                str(r.get("unit", "")),
                goal,
                str(r.get("note", "")),
            ]
        )
    widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, h in enumerate(head)]
    widths[-1] = len(head[-1])  # notes are not padded
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for c in cells:
        line = "  ".join(c[i].rjust(w) if i == 2 else c[i].ljust(w) for i, w in enumerate(widths))
        lines.append(line.rstrip())
    return "\n".join(lines)


def main(run: Callable[..., list[Row]]) -> None:
    """``python bench/bench_x.py [--quick]``: run and print the table."""
    quick = "--quick" in sys.argv[1:]
    print(table(run(quick=quick)))

"""Run every ``bench/bench_*.py``, print one table of all figures, write bench/results.json.

Each bench script exposes ``run(quick=False) -> list[dict]`` (rows with bench,
metric, value, unit, note; optionally goal and ok). A script that fails is
reported as a row and the others still run.

    python bench/run_all.py [--quick] [--only encode,wire] [--markdown] [--out FILE]

``--quick`` is a fast pass (a couple of minutes); the figures in
docs/benchmarks.md come from a full run.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
import traceback
from pathlib import Path

from _util import Row, fmt_value, machine, row, table

HERE = Path(__file__).resolve().parent
# Cross-cutting figures first, then each area's own bench, then anything new.
ORDER = ["encode", "e2e", "wire", "cpu", "receiver", "agent", "spool", "board"]


def discover() -> list[str]:
    names = [p.stem[len("bench_") :] for p in HERE.glob("bench_*.py")]
    return sorted(names, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))


def run_one(name: str, quick: bool) -> tuple[list[Row], float]:
    started = time.perf_counter()
    try:
        module = importlib.import_module("bench_" + name)
        rows = list(module.run(quick=quick))
    except Exception as e:  # one broken bench must not hide the others' figures
        traceback.print_exc()
        rows = [row(name, "FAILED", 0.0, "n/a", f"{type(e).__name__}: {e}")]
    for r in rows:
        r.setdefault("bench", name)
    return rows, time.perf_counter() - started


def markdown(rows: list[Row]) -> str:
    """The rows as a Markdown table (for docs/benchmarks.md)."""
    out = ["| bench | figure | value | unit | goal | note |", "|---|---|---:|---|---|---|"]
    for r in rows:
        goal = r.get("goal", "")
        if goal:
            goal = ("**met** " if r.get("ok") else "**missed** ") + goal
        cells = [
            str(r.get("bench", "")),
            str(r.get("metric", "")),
            fmt_value(r.get("value", 0.0)),
            str(r.get("unit", "")),
            goal,
            str(r.get("note", "")),
        ]
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fast pass: fewer points, shorter runs")
    ap.add_argument("--only", default="", help="comma-separated bench names (e.g. encode,wire)")
    ap.add_argument("--markdown", action="store_true", help="also print a Markdown table")
    ap.add_argument("--out", default=str(HERE / "results.json"), help="where to write JSON")
    args = ap.parse_args()

    names = discover()
    if args.only:
        wanted = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in wanted if n not in names]
        if unknown:
            ap.error(f"unknown bench {', '.join(unknown)}: have {', '.join(names)}")
        names = [n for n in names if n in wanted]
    facts = machine()
    command = "python bench/run_all.py" + "".join(f" {a}" for a in sys.argv[1:])
    print(
        f"# {command}\n# {facts['date']}; {facts['cores']} cores, {facts['cpu']}; "
        f"{facts['implementation']} {facts['python']}; {facts['os']}",
        flush=True,
    )
    rows: list[Row] = []
    timings: dict[str, float] = {}
    for name in names:
        print(f"== {name}", file=sys.stderr, flush=True)
        got, took = run_one(name, args.quick)
        rows += got
        timings[name] = round(took, 1)
    print(table(rows))
    goals = [r for r in rows if r.get("goal")]
    met = sum(1 for r in goals if r.get("ok"))
    print(f"\ngoals met: {met}/{len(goals)}; seconds per bench: {timings}")
    if args.markdown:
        print()
        print(markdown(rows))
    Path(args.out).write_text(
        json.dumps(
            {"command": command, "machine": facts, "seconds": timings, "rows": rows},
            indent=1,
            default=str,
        )
        + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``tspush serve`` for the long run, side by side with VictoriaMetrics in the same run.

Data (issue 15): S series (tag ``host``), one point every 10 s ending now, a
slow random walk with 2 decimals, sent as 50-point ``/api/put`` bodies (one
board's 50 consecutive readings per body), by CLIENTS keep-alive connections.
Each store ingests alone (the machine has 2 cores), then:

- bytes per point at rest (tspush: after a restart, its blocks written;
  VictoriaMetrics: after a flush) and the peak while ingesting;
- ingest wall time;
- queries, median of several calls: one series over the whole range in
  1-hour averages, every series in 1-hour averages by host, and the
  dashboard's own request for the range (aggregator none, its downsample).
  VictoriaMetrics answers the same questions through its Prometheus API
  (``avg_over_time`` over the same buckets).

    .venv/bin/python bench/bench_storage.py --quick          # 10 and 100 series, 1 day
    .venv/bin/python bench/bench_storage.py --sets 100x30    # series x days, comma separated
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import urllib3

from bench_receiver import Serve, Victoria

STEP_S = 10
BATCH = 50
CLIENTS = 4
METRIC = "bench.temp"
QUERIES = ("one series, 1h averages", "all series, 1h averages by host", "the dashboard's request")
DASH_DOWNSAMPLE = {1: "5m-avg", 7: "1h-avg", 30: "2h-avg", 365: "2h-avg"}


def body_stream(series: int, days: int, end_s: int) -> Iterator[bytes]:
    """Bodies in time order: for each 50-reading slice of time, one body per board."""
    n = days * 86400 // STEP_S
    start_s = end_s - (n - 1) * STEP_S
    rngs = [random.Random(k) for k in range(series)]
    vals = [20.0 + k % 7 for k in range(series)]
    for i in range(0, n, BATCH):
        for k in range(series):
            rng, v, pts = rngs[k], vals[k], []
            host = "board%03d" % k
            for j in range(i, min(i + BATCH, n)):
                v = round(v + rng.gauss(0, 0.05), 2)
                pts.append(
                    '{"metric":"%s","timestamp":%d,"value":%s,"tags":{"host":"%s"}}'
                    % (METRIC, start_s + j * STEP_S, repr(v), host)
                )
            vals[k] = v
            yield ("[" + ",".join(pts) + "]").encode()


def disk_bytes(paths: list[Path]) -> int:
    total = 0
    for p in paths:
        if p.is_file():
            total += p.stat().st_size
        elif p.is_dir():
            total += sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
    return total


def ingest(
    url: str, headers: dict[str, str], bodies: Iterator[bytes], size: Callable[[], int]
) -> tuple[float, int]:
    """(wall seconds, peak bytes on disk) for CLIENTS connections sharing the bodies."""
    lock = threading.Lock()
    errors: list[str] = []
    peak = [0]
    done = threading.Event()

    def worker() -> None:
        pool = urllib3.connectionpool.connection_from_url(url, maxsize=1, retries=False)
        while not errors:
            with lock:
                body = next(bodies, None)
            if body is None:
                break
            r = pool.urlopen("POST", "/api/put", body=body, headers=headers)
            if r.status != 204:
                errors.append("HTTP %d: %r" % (r.status, r.data[:200]))
        pool.close()

    def sampler() -> None:
        while not done.wait(0.5):
            try:
                peak[0] = max(peak[0], size())
            except OSError:
                pass

    threads = [threading.Thread(target=worker) for _ in range(CLIENTS)]
    s = threading.Thread(target=sampler, daemon=True)
    t0 = time.perf_counter()
    s.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    done.set()
    s.join()
    peak[0] = max(peak[0], size())
    if errors:
        raise RuntimeError(errors[0])
    return wall, peak[0]


def cold_ms(fn: Callable[[], Any]) -> float:
    """Milliseconds of one call: the first after a restart, nothing decoded or cached yet."""
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


def timed(fn: Callable[[], Any], calls: int) -> float:
    """Median milliseconds of ``calls`` calls (after one warm-up call)."""
    fn()
    times = []
    for _ in range(calls):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def tspush_queries(srv: Serve, days: int, end_s: int, series: int) -> dict[str, Callable[[], Any]]:
    start_s = end_s - days * 86400
    pool = urllib3.connectionpool.connection_from_url(srv.url, maxsize=1)

    def post(body: dict[str, Any], expect_results: int) -> Callable[[], Any]:
        data = json.dumps(body).encode()

        def call() -> Any:
            r = pool.urlopen("POST", "/api/query", body=data, headers=srv.headers)
            doc = json.loads(r.data)
            if r.status != 200 or len(doc) != expect_results or not doc[0]["dps"]:
                raise RuntimeError("tspush query: HTTP %d %r" % (r.status, r.data[:300]))
            return doc

        return call

    one = {
        "metric": METRIC,
        "aggregator": "avg",
        "downsample": "1h-avg",
        "tags": {"host": "board000"},
    }
    by_host = {"metric": METRIC, "aggregator": "avg", "downsample": "1h-avg", "tags": {"host": "*"}}
    dash = {"metric": METRIC, "aggregator": "none", "downsample": DASH_DOWNSAMPLE[days]}
    rng = "%dd-ago" % days if days < 365 else "365d-ago"
    return {
        "one series, 1h averages": post({"start": start_s, "end": end_s, "queries": [one]}, 1),
        "all series, 1h averages by host": post(
            {"start": start_s, "end": end_s, "queries": [by_host]}, series
        ),
        "the dashboard's request": post(
            {"start": rng, "msResolution": True, "queries": [dash]}, series
        ),
    }


def vm_queries(vm: Victoria, days: int, end_s: int, series: int) -> dict[str, Callable[[], Any]]:
    base = "http://127.0.0.1:%d/api/v1/query_range" % vm.http_port
    start_s = end_s - days * 86400
    pool = urllib3.PoolManager(maxsize=1)

    def get(expr: str, step: str, expect_results: int) -> Callable[[], Any]:
        qs = urllib.parse.urlencode({"query": expr, "start": start_s, "end": end_s, "step": step})

        def call() -> Any:
            r = pool.request("GET", base + "?" + qs)
            doc = json.loads(r.data)
            got = doc.get("data", {}).get("result", [])
            if r.status != 200 or len(got) != expect_results:
                raise RuntimeError("VM query: HTTP %d %r" % (r.status, r.data[:300]))
            return doc

        return call

    sel = '{__name__="%s"' % METRIC
    ds = DASH_DOWNSAMPLE[days].split("-")[0]
    return {
        "one series, 1h averages": get('avg_over_time(%s,host="board000"}[1h])' % sel, "1h", 1),
        "all series, 1h averages by host": get(
            "avg by (host) (avg_over_time(%s}[1h]))" % sel, "1h", series
        ),
        "the dashboard's request": get("avg_over_time(%s}[%s])" % (sel, ds), ds, series),
    }


def one_set(series: int, days: int, work: Path, calls: int) -> list[dict[str, Any]]:
    n_points = series * days * 86400 // STEP_S
    end_s = int(time.time()) // STEP_S * STEP_S
    name = "%d series x %d d" % (series, days)
    out: dict[str, Any] = {"set": name, "points": n_points}
    d = work / name.replace(" ", "")
    d.mkdir()
    srv = Serve(d)
    db_files = [d / "bench.sqlite", d / "bench.sqlite-wal", d / "bench.sqlite-shm"]
    try:
        wall, peak = ingest(
            srv.url, srv.headers, body_stream(series, days, end_s), lambda: disk_bytes(db_files)
        )
        out["tspush ingest s"] = wall
        out["tspush peak B/pt"] = peak / n_points
    finally:
        srv.stop()
    out["tspush ms"], out["tspush cold ms"] = {}, {}
    for k in QUERIES:  # a restart before each query: its first call finds no cache
        srv = Serve(d)
        try:
            out["tspush rest B/pt"] = disk_bytes(db_files) / n_points
            # started: its first answer (a route that reads nothing), then the query
            urllib3.request("GET", srv.url + "/api/version", headers=srv.headers)
            fn = tspush_queries(srv, days, end_s, series)[k]
            out["tspush cold ms"][k] = cold_ms(fn)
            out["tspush ms"][k] = timed(fn, calls)
        finally:
            srv.stop()
    vm = Victoria(d)
    vm_dir = [d / "vm"]
    try:
        wall, peak = ingest(
            vm.url, vm.headers, body_stream(series, days, end_s), lambda: disk_bytes(vm_dir)
        )
        out["VM ingest s"] = wall
        out["VM peak B/pt"] = peak / n_points
    finally:
        vm.stop()  # a clean stop writes its in-memory parts
    out["VM rest B/pt"] = disk_bytes(vm_dir) / n_points
    out["VM ms"], out["VM cold ms"] = {}, {}
    for k in QUERIES:
        vm = Victoria(d)
        try:
            urllib3.request("GET", "http://127.0.0.1:%d/health" % vm.http_port)
            fn = vm_queries(vm, days, end_s, series)[k]
            out["VM cold ms"][k] = cold_ms(fn)
            out["VM ms"][k] = timed(fn, calls)
        finally:
            vm.stop()
    shutil.rmtree(d, ignore_errors=True)
    return [out]


def report(results: list[dict[str, Any]]) -> str:
    lines = [
        "| data set | points | B/pt at rest (tspush / VM) | B/pt peak while ingesting "
        "(tspush / VM) | ingest s (tspush / VM, ratio) |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            "| %s | %s | %.2f / %.2f | %.2f / %.2f | %.1f / %.1f (%.2fx) |"
            % (
                r["set"],
                f"{r['points']:,}",
                r["tspush rest B/pt"],
                r["VM rest B/pt"],
                r["tspush peak B/pt"],
                r["VM peak B/pt"],
                r["tspush ingest s"],
                r["VM ingest s"],
                r["tspush ingest s"] / r["VM ingest s"],
            )
        )
    lines += [
        "",
        "| data set | query | tspush ms | VM ms | ratio | first call after a restart: "
        "tspush / VM ms | ratio |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        for k, ms in r["tspush ms"].items():
            vm_ms, c, vc = r["VM ms"][k], r["tspush cold ms"][k], r["VM cold ms"][k]
            lines.append(
                "| %s | %s | %.1f | %.1f | %.2fx | %.1f / %.1f | %.2fx |"
                % (r["set"], k, ms, vm_ms, ms / vm_ms, c, vc, c / vc)
            )
    return "\n".join(lines)


def run(quick: bool = False) -> list[dict[str, Any]]:
    """For run_all.py: one set (10 series x 1 day quick, else 100 series x 7 days) as rows."""
    from _util import row

    series, days = (10, 1) if quick else (100, 7)
    work = Path(tempfile.mkdtemp(prefix="tspush-bench-storage-"))
    try:
        (r,) = one_set(series, days, work, 3 if quick else 5)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    name = r["set"]
    rows = [
        row(
            "storage",
            "B/point at rest, " + name,
            round(r["tspush rest B/pt"], 2),
            "B",
            "VictoriaMetrics %.2f" % r["VM rest B/pt"],
            "<= 2 B",
            r["tspush rest B/pt"] <= 2,
        ),
        row(
            "storage",
            "ingest time ratio tspush/VM, " + name,
            round(r["tspush ingest s"] / r["VM ingest s"], 2),
            "ratio",
            "",
            "<= 2",
            r["tspush ingest s"] <= 2 * r["VM ingest s"],
        ),
    ]
    for k, ms in r["tspush ms"].items():
        ratio = ms / r["VM ms"][k]
        rows.append(
            row(
                "storage",
                "%s, %s" % (k, name),
                round(ms, 1),
                "ms",
                "%.2fx VictoriaMetrics" % ratio,
                "<= 3x VM",
                ratio <= 3,
            )
        )
        cold = r["tspush cold ms"][k] / r["VM cold ms"][k]
        rows.append(
            row(
                "storage",
                "%s, first call after a restart, %s" % (k, name),
                round(r["tspush cold ms"][k], 1),
                "ms",
                "%.2fx VictoriaMetrics" % cold,
                "<= 3x VM",
                cold <= 3,
            )
        )
    return rows


def stages(series: int, days: int) -> str:
    """Where a write's time goes without HTTP: CPU microseconds per point of each stage of
    ``POST /api/put`` (parse, check, rows, store), the same bodies, in this process."""
    from tspush.receiver.ingest import Checker, Limits, parse_items, rows
    from tspush.receiver.store import Store

    end_s = int(time.time()) // STEP_S * STEP_S
    bodies = list(body_stream(series, days, end_s))
    work = Path(tempfile.mkdtemp(prefix="tspush-bench-storage-"))
    spent = dict.fromkeys(("parse", "check", "rows", "store"), 0.0)
    try:
        store, checker, limits = Store(work / "s.sqlite"), Checker(), Limits()
        clock = time.process_time
        for body in bodies:
            t0 = clock()
            items = parse_items(body, limits)
            t1 = clock()
            good, _ = checker.check_all(items, end_s)
            t2 = clock()
            got = rows(good)
            t3 = clock()
            store.insert(got)
            t4 = clock()
            spent["parse"] += t1 - t0
            spent["check"] += t2 - t1
            spent["rows"] += t3 - t2
            spent["store"] += t4 - t3
        store.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    n = len(bodies) * BATCH
    parts = ["%s %.2f" % (k, v * 1e6 / n) for k, v in spent.items()]
    return "%d series x %d d, CPU us per point: %s; total %.2f" % (
        series,
        days,
        ", ".join(parts),
        sum(spent.values()) * 1e6 / n,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10 and 100 series, 1 day")
    ap.add_argument("--sets", default="10x1,10x7,10x30,100x1,100x7,100x30,1x365")
    ap.add_argument("--calls", type=int, default=5, help="query calls per median")
    ap.add_argument("--stages", metavar="SxD", help="only: per-stage CPU of a write, no HTTP")
    args = ap.parse_args()
    if args.stages:
        series, days = (int(x) for x in args.stages.split("x"))
        print(stages(series, days))
        return
    sets = "10x1,100x1" if args.quick else args.sets
    work = Path(tempfile.mkdtemp(prefix="tspush-bench-storage-"))
    results = []
    try:
        for spec in sets.split(","):
            series, days = (int(x) for x in spec.split("x"))
            print("... %d series x %d days" % (series, days), flush=True)
            results.extend(one_set(series, days, work, args.calls))
            print(report(results[-1:]), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(report(results))


if __name__ == "__main__":
    main()

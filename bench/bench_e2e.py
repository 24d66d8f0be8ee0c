"""End to end: points/s from Python to VictoriaMetrics' OpenTSDB listener on loopback.

* Ceiling: pre-built bodies (same point count, same kind of data as tspush
  sends) posted over and over by ``wrk`` with keep-alive from a small Lua
  script of ours (``bench/wrk_post.lua``). VictoriaMetrics is then CPU-bound.
* tspush: ``Transport`` + ``push_points`` (the public host API), one
  keep-alive connection per thread, in one process and in several (one
  Python thread cannot use more than one core).
* Peers that can speak HTTP to the listener, as a user would run them (one
  client, one connection).

Every pushed point is read back (a 204 proves nothing): the figure counts
only points VictoriaMetrics stored. Bodies are plain or gzip.

    python bench/bench_e2e.py [--quick]
"""

from __future__ import annotations

import gzip
import json
import multiprocessing as mp
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from _util import Row, main, make_points, row

BENCH = "e2e"
BASE_TS_MS = 1_700_000_000_000
LUA = Path(__file__).with_name("wrk_post.lua")
WRK_THREADS = 2
WRK_CONNECTIONS = 16


# -- the ceiling -----------------------------------------------------------------


def wrk_rate(
    url: str, bodies: list[bytes], points: int, gz: bool, duration_s: int
) -> tuple[float, str]:
    """Points/s ``wrk`` gets through posting ``bodies`` (``points`` points each) in turn."""
    with tempfile.TemporaryDirectory() as d:
        body_file = Path(d) / "bodies"
        with open(body_file, "wb") as f:
            for body in bodies:
                data = gzip.compress(body) if gz else body
                f.write(b"%d\n" % len(data) + data)
        env = dict(os.environ, BODY_FILE=str(body_file), BODY_GZIP="1" if gz else "")
        out = subprocess.run(
            [
                "wrk",
                f"-t{WRK_THREADS}",
                f"-c{WRK_CONNECTIONS}",
                f"-d{duration_s}s",
                "-s",
                str(LUA),
                url + "/api/put",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=duration_s + 120,
        ).stdout
    fields = [line.split() for line in out.splitlines() if line.startswith("RESULT ")]
    if not fields:
        raise RuntimeError("wrk printed no RESULT line:\n" + out)
    requests, duration_us, non2xx, errors = (int(x) for x in fields[0][1:5])
    rate = (requests - non2xx - errors) * points / (duration_us / 1e6)
    return rate, (
        f"wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS}, {len(bodies):,} distinct bodies, "
        f"{requests:,} requests, {non2xx} non-2xx"
    )


# -- read-back ---------------------------------------------------------------------


def stored(vm: Any, prefix: str) -> int:
    """How many samples VictoriaMetrics holds for metrics ``prefix.*``."""
    vm.flush()
    q = 'sum(count_over_time({__name__=~"%s[.].*"}[30d]))' % prefix
    at = BASE_TS_MS // 1000 + 20 * 86400
    url = vm.url + "/api/v1/query?" + urllib.parse.urlencode({"query": q, "time": str(at)})
    for _ in range(50):  # ingestion is asynchronous: wait until the count settles
        with urllib.request.urlopen(url, timeout=60) as r:
            res = json.loads(r.read())["data"]["result"]
        n = int(float(res[0]["value"][1])) if res else 0
        time.sleep(0.3)
        vm.flush()
        with urllib.request.urlopen(url, timeout=60) as r:
            res2 = json.loads(r.read())["data"]["result"]
        if (int(float(res2[0]["value"][1])) if res2 else 0) == n:
            return n
    return n


# -- pushers (run in worker processes) ------------------------------------------------


def _tspush_push(url: str, points: list[Any], body_points: int, gz: bool) -> int:
    from tspush.host import profiles
    from tspush.host.push import push_points
    from tspush.host.transport import Transport

    profile = profiles.get("victoriametrics").with_overrides(
        max_points=body_points, max_bytes=max(8192, body_points * 400)
    )
    with Transport(url, gzip=gz) as t:
        report = push_points(t, profile, points)
    return report.accepted


def _pyopentsdb_push(url: str, points: list[Any], body_points: int, gz: bool) -> int:
    from pyopentsdb import put, tsdb  # type: ignore[import-untyped]

    # pyopentsdb posts to /api/put/ (trailing slash), which VictoriaMetrics
    # answers with 400; only that URL is changed here.
    put.api_url = lambda host, *a: host + "/api/put"
    conn = tsdb.TsdbConnector(url)
    dicts = [p.to_dict() for p in points]
    for i in range(0, len(dicts), body_points):
        conn.put(data=dicts[i : i + body_points])
    return len(dicts)


def _corehttp_push(url: str, points: list[Any], body_points: int, gz: bool) -> int:
    """fastencode bodies over the board's own HTTP/1.1 client (``core.http``) on CPython."""
    from tspush.core import response
    from tspush.core.http import Connection, split_url
    from tspush.host.wire import opentsdb as fastencode

    parts = split_url(url)
    conn = Connection(parts[1], parts[2], buf_bytes=16384)
    conn.connect()
    # Without TCP_NODELAY the last partial segment of a large body waits for a
    # delayed ACK (about 40 ms a request); core.http does not set it (yet).
    conn._raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    headers = {"Content-Type": "application/json"}
    if gz:
        headers["Content-Encoding"] = "gzip"
    sent = 0
    try:
        for body, batch in fastencode.batches(
            points, max_points=body_points, max_bytes=max(8192, body_points * 400)
        ):
            r = conn.request("POST", "/api/put", gzip.compress(body) if gz else body, headers)
            response.classify(r.status, r.body, r.headers)
            sent += len(batch)
    finally:
        conn.close()
    return sent


def _tspush_influx_push(url: str, points: list[Any], body_points: int, gz: bool) -> int:
    from tspush.host import profiles
    from tspush.host.push import push_points
    from tspush.host.transport import Transport

    profile = profiles.get("victoriametrics-influx").with_overrides(max_points=body_points)
    with Transport(url, gzip=gz) as t:
        report = push_points(t, profile, points)
    return report.accepted


def _influxdb_client_push(url: str, points: list[Any], body_points: int, gz: bool) -> int:
    from influxdb_client import InfluxDBClient, WritePrecision  # type: ignore[import-untyped]
    from influxdb_client import Point as IPoint
    from influxdb_client.client.write_api import SYNCHRONOUS  # type: ignore[import-untyped]

    with InfluxDBClient(url=url, token="bench", org="bench", enable_gzip=gz) as client:
        write = client.write_api(write_options=SYNCHRONOUS)
        for i in range(0, len(points), body_points):
            records = []
            for p in points[i : i + body_points]:
                ip = IPoint(p.metric)
                for k, v in p.tags.items():
                    ip.tag(k, v)
                ip.field("value", p.value).time(p.ts * 1_000_000, WritePrecision.NS)
                records.append(ip)
            write.write(bucket="bench", record=records, write_precision=WritePrecision.NS)
    return len(points)


PUSHERS = {
    "tspush": _tspush_push,
    "tspush-influx": _tspush_influx_push,
    "influxdb-client": _influxdb_client_push,
    "tspush-corehttp": _corehttp_push,
    "pyopentsdb": _pyopentsdb_push,
}


def _worker(
    pusher: str,
    url: str,
    n: int,
    first_ts_ms: int,
    prefix: str,
    body_points: int,
    gz: bool,
    threads: int,
    ready: Any,
    go: Any,
    results: Any,
) -> None:
    import threading

    points = make_points(n, first_ts_ms=first_ts_ms, prefix=prefix)
    push = PUSHERS[pusher]
    slices = [points[i::threads] for i in range(threads)]
    done: list[int] = []

    def one(part: list[Any]) -> None:
        done.append(push(url, part, body_points, gz))

    ready.put(1)
    go.wait()
    workers = [threading.Thread(target=one, args=(s,)) for s in slices]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    results.put((time.perf_counter(), sum(done)))


def push_rate(
    vm: Any,
    pusher: str,
    prefix: str,
    n: int,
    body_points: int,
    gz: bool,
    processes: int,
    threads: int,
    url: str = "",
) -> tuple[float, int]:
    """Points/s stored, from the go signal to the last process done; and the count stored.

    ``url``: where the pusher sends (default: the OpenTSDB listener).
    """
    ctx = mp.get_context("fork")
    ready, results = ctx.Queue(), ctx.Queue()
    go = ctx.Event()
    counts = [n // processes + (1 if k < n % processes else 0) for k in range(processes)]
    procs = [
        ctx.Process(
            target=_worker,
            args=(
                pusher,
                url or vm.opentsdb_url,
                counts[k],
                BASE_TS_MS + sum(counts[:k]),
                prefix,
                body_points,
                gz,
                threads,
                ready,
                go,
                results,
            ),
        )
        for k in range(processes)
    ]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get(timeout=300)
    t0 = time.perf_counter()
    go.set()
    ends = [results.get(timeout=900) for _ in procs]
    for p in procs:
        p.join(60)
    elapsed = max(e for e, _ in ends) - t0
    landed = stored(vm, prefix)
    return landed / elapsed, landed


# -- the run ---------------------------------------------------------------------------


def run(quick: bool = False) -> list[Row]:
    from support.vm import VictoriaMetrics, available
    from tspush.host.wire import opentsdb as fastencode

    if not available() or shutil.which("wrk") is None:
        return [row(BENCH, "not run", 0.0, "n/a", "needs victoria-metrics and wrk (tools/test)")]
    n = 200_000 if quick else 1_000_000
    duration_s = 3 if quick else 8
    cases = [(50, False), (50, True), (1000, False)]
    configs = [(1, 1), (2, 2)]
    if not quick:
        cases.append((1000, True))
        configs = [(1, 1), (2, 1), (2, 2), (3, 2)]
    rows: list[Row] = []
    seq = 0

    def push(
        pusher: str, size: int, gz: bool, p: int, t: int, count: int, url: str = ""
    ) -> tuple[float, int]:
        nonlocal seq
        seq += 1
        return push_rate(vm, pusher, f"e2e{seq}", count, size, gz, p, t, url)

    with tempfile.TemporaryDirectory() as d, VictoriaMetrics(Path(d) / "vm") as vm:
        for size, gz in cases:
            tag = f"{size}-point bodies, {'gzip' if gz else 'plain'}"
            # the ceiling's bodies: the same shape of data, its own metric names
            ceiling_points = make_points(n, first_ts_ms=BASE_TS_MS, prefix=f"wrk{size}")
            bodies = [b for b, _ in fastencode.batches(ceiling_points, size, 1 << 30)]
            del ceiling_points
            ceilings = [wrk_rate(vm.opentsdb_url, bodies, size, gz, duration_s)]
            best: dict[str, float] = {}
            for pusher, label in [
                ("tspush", "tspush Transport (urllib3)"),
                ("tspush-corehttp", "tspush core.http client"),
            ]:
                for p, t in configs:
                    rate, landed = push(pusher, size, gz, p, t, n)
                    best[pusher] = max(best.get(pusher, 0.0), rate)
                    if (pusher, size, gz, p, t) == ("tspush", 50, False, 1, 1):
                        single = rate
                    rows.append(
                        row(
                            BENCH,
                            f"{label}, {p} proc x {t} conn ({tag})",
                            rate,
                            "points/s",
                            f"{landed:,}/{n:,} read back",
                        )
                    )
            ceilings.append(wrk_rate(vm.opentsdb_url, bodies, size, gz, duration_s))
            ceiling = max(c for c, _ in ceilings)
            rows.append(
                row(
                    BENCH,
                    f"ceiling ({tag})",
                    ceiling,
                    "points/s",
                    "best of 2 (before/after); " + ceilings[0][1],
                )
            )
            ratio = best["tspush"] / ceiling
            rows.append(
                row(
                    BENCH,
                    f"tspush Transport / ceiling ({tag})",
                    ratio * 100,
                    "%",
                    "best Transport figure above",
                    ">= 50%",
                    ratio >= 0.5,
                )
            )
            rows.append(
                row(
                    BENCH,
                    f"tspush core.http / ceiling ({tag})",
                    best["tspush-corehttp"] / ceiling * 100,
                    "%",
                    "what a Transport on the core's HTTP/1.1 client reaches",
                )
            )
            if size == 50 and not gz:
                m = n // 4
                rate, landed = push("pyopentsdb", size, gz, 1, 1, m)
                rows.append(
                    row(
                        BENCH,
                        f"pyopentsdb 0.2, 1 proc x 1 conn ({tag})",
                        rate,
                        "points/s",
                        f"{landed:,}/{m:,} read back; its URL patched to /api/put",
                    )
                )
                rows.append(
                    row(
                        BENCH,
                        "tspush Transport 1x1 / pyopentsdb 1x1",
                        single / rate,
                        "x",
                        "same bodies, one connection each",
                        "> 1x",
                        single > rate,
                    )
                )
        # Influx line protocol to VictoriaMetrics' /write and /api/v2/write: the
        # one HTTP peer that does not speak OpenTSDB.
        size = 1000
        m = n // 4
        tag = f"Influx lines, {size}-point bodies, plain"
        t_rate, t_landed = push("tspush-influx", size, False, 1, 1, m, vm.url)
        i_rate, i_landed = push("influxdb-client", size, False, 1, 1, m, vm.url)
        rows.append(
            row(
                BENCH,
                f"tspush Transport, 1 proc x 1 conn ({tag})",
                t_rate,
                "points/s",
                f"{t_landed:,}/{m:,} read back; POST /write",
            )
        )
        rows.append(
            row(
                BENCH,
                f"influxdb-client 1.50, 1 proc x 1 conn ({tag})",
                i_rate,
                "points/s",
                f"{i_landed:,}/{m:,} read back; POST /api/v2/write, synchronous",
            )
        )
        rows.append(
            row(
                BENCH,
                "tspush 1x1 / influxdb-client 1x1 (Influx lines)",
                t_rate / i_rate,
                "x",
                "same points, one connection each",
                "> 1x",
                t_rate > i_rate,
            )
        )
    rows.append(
        row(
            BENCH,
            "opentsdb-py 0.6",
            0.0,
            "n/a",
            "not measurable: it parses VictoriaMetrics' empty 204 as JSON, logs the error "
            "and re-sends the same batch every second, forever",
        )
    )
    rows.append(
        row(BENCH, "potsdb 1.0", 0.0, "n/a", "no HTTP: it writes telnet put lines to port 4242")
    )
    return rows


if __name__ == "__main__":
    main(run)

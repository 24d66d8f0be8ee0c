"""``tspush serve``: ingest rate against VictoriaMetrics, and query latency.

Ingest: one keep-alive client POSTs ``/api/put`` bodies of 50 points
(bodies encoded before the clock starts), first into ``tspush serve``
(SQLite), then the same bodies into VictoriaMetrics' OpenTSDB HTTP listener
in the same run; both stores are read back to check every point arrived.
Query: one series holding one day at 10 s resolution (8640 points),
``/api/query`` with a ``1m-avg`` downsample, median and p95 of 30 calls.

    .venv/bin/python bench/bench_receiver.py [--quick]
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

import urllib3

BATCH = 50
T0 = 1_699_999_980  # a minute boundary


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listening on {port}") from None
            time.sleep(0.05)


class Serve:
    """``tspush serve`` in a subprocess with tokens and a fresh database."""

    TOKEN = "bench-token-0123456789"

    def __init__(self, work: Path) -> None:
        self.db = work / "bench.sqlite"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tspush.cli.main",
                "serve",
                "--port",
                "0",
                "--quiet",
                "--db",
                str(self.db),
                "--token",
                self.TOKEN,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )
        assert self.proc.stdout is not None
        self.url = ""
        for line in self.proc.stdout:
            m = re.match(r"listening on (\S+)", line)
            if m:
                self.url = m.group(1)
                break
        if not self.url:
            raise RuntimeError("tspush serve did not start")
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()
        _wait_port(int(self.url.rsplit(":", 1)[1]))
        self.headers = urllib3.make_headers(basic_auth="DESC:" + self.TOKEN)
        self.headers["Content-Type"] = "application/json"

    def cpu_s(self) -> float:
        """CPU seconds the server process has used (user + system)."""
        import psutil

        t = psutil.Process(self.proc.pid).cpu_times()
        return float(t.user + t.system)

    def count(self) -> int:
        """Points stored, read back through the query API (every series of bench.cpu)."""
        q = json.dumps(
            {
                "start": 0,
                "msResolution": True,
                "queries": [{"metric": "bench.cpu", "aggregator": "none"}],
            }
        ).encode()
        r = urllib3.request("POST", self.url + "/api/query", body=q, headers=self.headers)
        return sum(len(res["dps"]) for res in json.loads(r.data))

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(20)


class Victoria:
    def __init__(self, work: Path) -> None:
        self.http_port, self.tsdb_port = _free_port(), _free_port()
        self.log = open(work / "vm.log", "ab")
        self.proc = subprocess.Popen(
            [
                "victoria-metrics",
                f"-storageDataPath={work / 'vm'}",
                f"-httpListenAddr=127.0.0.1:{self.http_port}",
                f"-opentsdbHTTPListenAddr=127.0.0.1:{self.tsdb_port}",
                "-retentionPeriod=100y",
                "-search.disableCache",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        _wait_port(self.http_port)
        _wait_port(self.tsdb_port)
        self.url = f"http://127.0.0.1:{self.tsdb_port}"
        self.headers = {"Content-Type": "application/json"}

    def count(self, expected: int, timeout_s: float = 60.0) -> int:
        base = f"http://127.0.0.1:{self.http_port}"
        deadline = time.monotonic() + timeout_s
        n = 0
        while time.monotonic() < deadline:
            urllib3.request("GET", base + "/internal/force_flush")
            q = urllib.parse.urlencode({"match[]": '{__name__=~"bench.*"}', "start": "0"})
            text = urllib3.request("GET", f"{base}/api/v1/export?{q}", timeout=60).data
            n = sum(len(json.loads(line)["values"]) for line in text.splitlines() if line.strip())
            if n >= expected:
                break
            time.sleep(0.5)
        return n

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(20)
        self.log.close()


def bodies(n_requests: int) -> list[bytes]:
    """50 points per body over 100 series (10 hosts x 10 cores), time rising."""
    out = []
    i = 0
    for _ in range(n_requests):
        pts = []
        for _k in range(BATCH):
            pts.append(
                {
                    "metric": "bench.cpu",
                    "timestamp": T0 + i // 100,
                    "value": (i * 7919) % 1000 / 10.0,
                    "tags": {"host": "h%d" % (i % 10), "core": "c%d" % (i // 10 % 10)},
                }
            )
            i += 1
        out.append(json.dumps(pts, separators=(",", ":")).encode())
    return out


def ingest(url: str, headers: dict[str, str], body_list: list[bytes]) -> float:
    """Points per second for one keep-alive connection sending every body in turn."""
    pool = urllib3.connectionpool.connection_from_url(url, maxsize=1, retries=False)
    start = time.perf_counter()
    for b in body_list:
        r = pool.urlopen("POST", "/api/put", body=b, headers=headers)
        if r.status != 204:
            raise RuntimeError("HTTP %d: %r" % (r.status, r.data[:200]))
    elapsed = time.perf_counter() - start
    pool.close()
    return len(body_list) * BATCH / elapsed


def query_latency_ms(srv: Serve, calls: int) -> tuple[float, float]:
    day = [
        {"metric": "bench.day", "timestamp": T0 + 10 * i, "value": i % 360, "tags": {"host": "one"}}
        for i in range(8640)
    ]
    pool = urllib3.connectionpool.connection_from_url(srv.url, maxsize=1)
    for k in range(0, len(day), 500):
        body = json.dumps(day[k : k + 500]).encode()
        assert pool.urlopen("POST", "/api/put", body=body, headers=srv.headers).status == 204
    q = json.dumps(
        {
            "start": T0,
            "end": T0 + 86399,
            "queries": [{"metric": "bench.day", "aggregator": "avg", "downsample": "1m-avg"}],
        }
    ).encode()
    times = []
    for _ in range(calls):
        t = time.perf_counter()
        r = pool.urlopen("POST", "/api/query", body=q, headers=srv.headers)
        times.append((time.perf_counter() - t) * 1000)
        assert r.status == 200 and len(json.loads(r.data)[0]["dps"]) == 1440
    pool.close()
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def run(quick: bool = False) -> list[dict[str, Any]]:
    n_requests = 200 if quick else 2000
    body_list = bodies(n_requests)
    n_points = n_requests * BATCH
    work = Path(tempfile.mkdtemp(prefix="tspush-bench-rx-"))
    rows: list[dict[str, Any]] = []
    try:
        srv = Serve(work)
        try:
            ingest(srv.url, srv.headers, bodies(20))  # warm up (series created)
            cpu0 = srv.cpu_s()
            ours = ingest(srv.url, srv.headers, body_list)
            cpu_ms_per_req = (srv.cpu_s() - cpu0) * 1000 / n_requests
            assert srv.count() == n_points, "tspush serve lost points"
            median_ms, p95_ms = query_latency_ms(srv, 10 if quick else 30)
        finally:
            srv.stop()
        rows.append(
            {
                "bench": "receiver",
                "metric": "ingest tspush serve",
                "value": round(ours),
                "unit": "points/s",
                "note": f"{n_points} points, POST /api/put x50, 1 keep-alive connection",
            }
        )
        rows.append(
            {
                "bench": "receiver",
                "metric": "tspush serve CPU per request",
                "value": round(cpu_ms_per_req, 3),
                "unit": "ms",
                "note": "50 points; %d points/s if CPU-bound" % (BATCH * 1000 / cpu_ms_per_req),
            }
        )
        if shutil.which("victoria-metrics"):
            vm = Victoria(work)
            try:
                ingest(vm.url, vm.headers, bodies(20))
                theirs = ingest(vm.url, vm.headers, body_list)
                got = vm.count(n_points)
                assert got >= n_points, f"VictoriaMetrics stored {got} of {n_points}"
            finally:
                vm.stop()
            rows.append(
                {
                    "bench": "receiver",
                    "metric": "ingest VictoriaMetrics",
                    "value": round(theirs),
                    "unit": "points/s",
                    "note": "same bodies, same client",
                }
            )
            rows.append(
                {
                    "bench": "receiver",
                    "metric": "ingest ratio tspush/VM",
                    "value": round(ours / theirs, 3),
                    "unit": "ratio",
                    "note": "aim: >= 0.25",
                }
            )
        rows.append(
            {
                "bench": "receiver",
                "metric": "query 1 day @10s, 1m-avg (median)",
                "value": round(median_ms, 2),
                "unit": "ms",
                "note": "8640 -> 1440 points",
            }
        )
        rows.append(
            {
                "bench": "receiver",
                "metric": "query 1 day @10s, 1m-avg (p95)",
                "value": round(p95_ms, 2),
                "unit": "ms",
                "note": "aim: < 50 ms",
            }
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rows


def main() -> None:
    rows = run(quick="--quick" in sys.argv)
    width = max(len(r["metric"]) for r in rows)
    for r in rows:
        print(f"{r['metric']:<{width}}  {r['value']:>12} {r['unit']:<9} {r['note']}")


if __name__ == "__main__":
    main()

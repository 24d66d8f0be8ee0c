"""The agent end to end: a fast source -> spool (fsync per batch) -> VictoriaMetrics.

    python bench/bench_agent.py [--quick]

* Ceiling, measured in the same run: the same kind of pre-built body
  (``BODY_POINTS`` points) posted over and over on many keep-alive
  connections, by ``wrk`` (see bench_e2e.py) or, without wrk, by several
  Python processes in a tight loop.
* Agent: ``tspush.host.agent.Agent`` with one source handing out pre-built
  points as fast as it is read, the spool fsync'd after every append, and
  one output (one keep-alive connection). The figure is points delivered per
  second from start until the last point is acked, and every point is read
  back from VictoriaMetrics before it counts.
"""

from __future__ import annotations

import multiprocessing as mp
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _util import Row, main, make_points, row

BENCH = "agent"
BODY_POINTS = 1000
MAX_BYTES = 512 * 1024
CHUNK = 5000  # points per source read


def _post_loop(url: str, body: bytes, duration_s: float, out: Any) -> None:
    import http.client

    host, port = url.split("//")[1].split(":")
    conn = http.client.HTTPConnection(host, int(port))
    n = 0
    end = time.monotonic() + duration_s
    while time.monotonic() < end:
        conn.request("POST", "/api/put", body, {"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        if 200 <= r.status < 300:
            n += 1
    out.put(n)


def python_ceiling(url: str, body: bytes, points: int, duration_s: float) -> tuple[float, str]:
    procs = 4
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    ps = [ctx.Process(target=_post_loop, args=(url, body, duration_s, q)) for _ in range(procs)]
    for p in ps:
        p.start()
    total = sum(q.get() for _ in ps)
    for p in ps:
        p.join()
    return total * points / duration_s, f"{procs} Python processes, one connection each"


WRK_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open(os.getenv("BODY_FILE"), "rb")
wrk.body = f:read("*a")
f:close()
"""


def wrk_ceiling(url: str, body: bytes, points: int, duration_s: int) -> tuple[float, str]:
    """wrk posting ``body`` on 16 keep-alive connections; only 2xx answers count."""
    import os
    import re
    import subprocess

    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "body").write_bytes(body)
        (Path(d) / "post.lua").write_text(WRK_LUA)
        out = subprocess.run(
            [
                "wrk",
                "-t2",
                "-c16",
                "-d%ds" % duration_s,
                "-s",
                str(Path(d) / "post.lua"),
                url + "/api/put",
            ],
            env=dict(os.environ, BODY_FILE=str(Path(d) / "body")),
            capture_output=True,
            text=True,
            timeout=duration_s + 30,
        ).stdout
    total = re.search(r"(\d+) requests in ([\d.]+)s", out)
    if not total:
        raise RuntimeError("wrk printed no request count:\n" + out)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    ok = int(total.group(1)) - (int(bad.group(1)) if bad else 0)
    return ok * points / float(total.group(2)), "wrk -t2 -c16, %s requests" % total.group(1)


def ceilings(url: str, duration_s: int) -> list[tuple[str, float, str]]:
    """Pre-built bodies posted on many connections: by Python processes, and by wrk if present."""
    from tspush.core.opentsdb import encode

    body = encode(make_points(BODY_POINTS, first_ts_ms=1_600_000_000_000))
    out = []
    rate, how = python_ceiling(url, body, BODY_POINTS, duration_s)
    out.append(("ceiling: pre-built bodies, Python loop", rate, how))
    if shutil.which("wrk"):
        rate, how = wrk_ceiling(url, body, BODY_POINTS, duration_s)
        out.append(("ceiling: pre-built bodies, wrk", rate, how))
    return out


class FastSource:
    """Hands out pre-built points, ``CHUNK`` per read, as fast as the agent reads."""

    def __init__(self, points: list[Any]) -> None:
        self.name = "fast"
        self.interval_s = 0.0005
        self.points = points
        self.pos = 0
        self.done_at: float | None = None

    def read(self, now_s: int) -> list[Any]:
        chunk = self.points[self.pos : self.pos + CHUNK]
        self.pos += len(chunk)
        if not chunk and self.done_at is None:
            self.done_at = time.perf_counter()
        return chunk

    def close(self) -> None:
        pass


def agent_rate(vm: Any, tmp: Path, n: int, connections: int) -> tuple[float, float, int]:
    from tspush.host import config as hconfig
    from tspush.host.agent import Agent, Logger
    from tspush.host.agent_config import AgentConfig, OutputConfig, SpoolConfig

    settings = hconfig.Settings(
        url=vm.opentsdb_url, profile="victoriametrics", max_points=BODY_POINTS, max_bytes=MAX_BYTES
    )
    cfg = AgentConfig(
        path=None,
        spool=SpoolConfig(dir=tmp / ("spool%d" % connections), sync_every_s=0),
        sources=[],
        outputs=[
            OutputConfig(
                name="vm",
                settings=settings,
                flush_interval_s=0.05,
                flush_jitter_s=0,
                connections=connections,
            )
        ],
        self_metrics_interval_s=0,
        state_file=tmp / "state.json",
        state_interval_s=1.0,
    )
    src = FastSource(make_points(n, first_ts_ms=1_700_000_000_000))
    log = Logger(open(tmp / "agent.log", "w"), level="warning")
    agent = Agent(cfg, log=log, sources=[src])  # type: ignore[list-item]
    fwds = agent.outputs[0].forwarders()
    t0 = time.perf_counter()
    agent.start()
    deadline = time.monotonic() + 600
    while sum(f.sent_points for f in fwds) < n and time.monotonic() < deadline:
        time.sleep(0.005)
    t1 = time.perf_counter()
    agent.stop(flush_s=0)
    spooled_s = (src.done_at or t1) - t0
    from bench_e2e import stored

    got = stored(vm, "sys")
    return n / (t1 - t0), n / spooled_s, got


def run(quick: bool = False) -> list[Row]:
    from support.vm import VictoriaMetrics

    n = 200_000 if quick else 1_000_000
    duration_s = 5 if quick else 10
    tmp = Path(tempfile.mkdtemp(prefix="tspush-bench-agent-"))
    rows: list[Row] = []
    try:
        results = []
        for connections in (1, 4):
            with VictoriaMetrics(tmp / ("vm%d" % connections)) as vm:
                results.append((connections, *agent_rate(vm, tmp, n, connections)))
        with VictoriaMetrics(tmp / "vm-ceiling") as vm:
            ceil = 0.0
            for metric, rate, how in ceilings(vm.opentsdb_url, duration_s):
                rows.append(
                    row(BENCH, metric, rate, "points/s", f"{BODY_POINTS} points per body; {how}")
                )
                ceil = max(ceil, rate)
        for connections, e2e, spool_rate, stored_n in results:
            rows.append(
                row(
                    BENCH,
                    "source -> spool, %d connection(s)" % connections,
                    spool_rate,
                    "points/s",
                    f"{CHUNK} points per append, fsync each, while the output sends",
                )
            )
            rows.append(
                row(
                    BENCH,
                    "agent end to end, %d connection(s)" % connections,
                    e2e,
                    "points/s",
                    f"{n:,} points, {BODY_POINTS} per body, fsync per append; "
                    f"{stored_n:,} read back; {100 * e2e / ceil:.0f}% of the higher ceiling",
                    goal=">= 50% of ceiling",
                    ok=stored_n == n and e2e >= ceil / 2,
                )
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


if __name__ == "__main__":
    threading.excepthook = lambda a: print("thread error:", a.exc_value)
    main(run)

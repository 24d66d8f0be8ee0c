"""The agent's CPU seconds per 1e6 points forwarded, and its resident memory.

``tspush run`` runs as a real process with a ``stdin`` source: N ``put``
lines (5 tags, ms timestamps) are piped in, spooled (fsync after every batch
the source appends, the default) and forwarded to VictoriaMetrics' OpenTSDB
listener. The figure is the agent's user+system CPU from the first line in
until VictoriaMetrics holds every point (read back), divided by the points;
start-up (imports) is measured apart. Memory: resident set at the end and
its peak (VmHWM).

    python bench/bench_cpu.py [--quick]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _util import ROOT, Row, main, make_points, row

BENCH = "cpu"


def _lines(points: list[Any]) -> bytes:
    out = []
    for p in points:
        tags = " ".join(f"{k}={v}" for k, v in p.tags.items())
        out.append(f"put {p.metric} {p.ts} {p.value!r} {tags}\n")
    return "".join(out).encode()


def _peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _agent_run(vm: Any, tmp: Path, n: int, max_points: int) -> dict[str, float]:
    import psutil

    from bench_e2e import BASE_TS_MS, stored

    prefix = f"cpu{max_points}"
    cfg = tmp / f"agent-{max_points}.toml"
    cfg.write_text(
        f"""
[agent]
self_metrics_interval_s = 0
log_level = "warning"
state_interval_s = 60

[spool]
dir = "{tmp / ("spool-%d" % max_points)}"

[[sources]]
type = "stdin"
interval_s = 0.2

[[outputs]]
name = "vm"
url = "{vm.opentsdb_url}"
profile = "victoriametrics"
max_points = {max_points}
max_bytes = {max(8192, max_points * 400)}
flush_interval_s = 0.5
flush_jitter_s = 0
"""
    )
    data = _lines(make_points(n, first_ts_ms=BASE_TS_MS, prefix=prefix))
    exe = Path(sys.executable).with_name("tspush")
    proc = subprocess.Popen(
        [str(exe), "run", "--config", str(cfg)],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=str(ROOT),
    )
    assert proc.stdin is not None and proc.stderr is not None
    errors: list[bytes] = []
    threading.Thread(target=lambda: errors.extend(proc.stderr or []), daemon=True).start()
    ps = psutil.Process(proc.pid)
    time.sleep(2.0)  # imports and start-up, measured apart
    c = ps.cpu_times()
    startup_cpu_s = c.user + c.system
    startup_rss = ps.memory_info().rss
    t0 = time.perf_counter()
    proc.stdin.write(data)
    proc.stdin.close()
    deadline = time.monotonic() + 600
    landed = 0
    while time.monotonic() < deadline:
        landed = stored(vm, prefix)
        if landed >= n:
            break
        time.sleep(0.5)
    elapsed = time.perf_counter() - t0
    c = ps.cpu_times()
    cpu_s = c.user + c.system - startup_cpu_s
    rss = ps.memory_info().rss
    peak_kib = _peak_rss_kib(proc.pid)
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if landed < n:
        raise RuntimeError(
            f"only {landed}/{n} points arrived; agent said: {b''.join(errors)[-2000:]!r}"
        )
    return {
        "cpu_s_per_1e6": cpu_s / n * 1e6,
        "startup_cpu_s": startup_cpu_s,
        "startup_rss_mib": startup_rss / 2**20,
        "rss_mib": rss / 2**20,
        "peak_rss_mib": peak_kib / 1024,
        "rate": n / elapsed,
        "landed": landed,
    }


def run(quick: bool = False) -> list[Row]:
    from support.vm import VictoriaMetrics, available

    if not available():
        return [row(BENCH, "not run", 0.0, "n/a", "needs victoria-metrics (tools/test)")]
    n = 100_000 if quick else 1_000_000
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as d, VictoriaMetrics(Path(d) / "vm") as vm:
        for max_points in (50, 1000):
            r = _agent_run(vm, Path(d), n, max_points)
            tag = f"stdin -> spool -> VictoriaMetrics, {max_points}-point bodies"
            note = f"N={n:,}, {int(r['landed']):,} read back, {r['rate']:,.0f} points/s wall"
            rows.append(
                row(BENCH, f"agent CPU per 1e6 points ({tag})", r["cpu_s_per_1e6"], "s", note)
            )
            rows.append(
                row(BENCH, f"agent resident memory at the end ({tag})", r["rss_mib"], "MiB", "")
            )
            rows.append(
                row(BENCH, f"agent peak resident memory ({tag})", r["peak_rss_mib"], "MiB", "VmHWM")
            )
        rows.append(
            row(
                BENCH,
                "agent start-up",
                r["startup_cpu_s"],
                "s CPU",
                f"{r['startup_rss_mib']:.1f} MiB resident when idle",
            )
        )
    return rows


if __name__ == "__main__":
    main(run)

"""A bounded load on ``tspush serve``: N concurrent clients for T seconds.

Each client thread keeps its own keep-alive connection and posts batches of
10 points with unique timestamps (one in ten requests is a query instead).
The receiver's RSS is sampled every 0.2 s. Afterwards the stored points are
counted through /api/query and must equal the acknowledged ones.

    .venv/bin/python -m tests.reliability.loadrun 50 30    # the figure in docs
"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import urllib3

BATCH = 10
T0 = 1_700_000_000


def run_load(clients: int, duration_s: float, tmp: Path) -> dict[str, Any]:
    from support.receiver import ReceiverProcess

    rx = ReceiverProcess(tmp, "--quiet")
    assert rx.proc is not None
    proc = psutil.Process(rx.proc.pid)
    rss0 = proc.memory_info().rss
    lock = threading.Lock()
    stats = {"put_ok": 0, "query_ok": 0, "errors": 0, "points": 0}
    errors: dict[str, int] = {}
    lat: list[float] = []
    stop = threading.Event()
    peak = [rss0]
    wh = {**rx.write_headers(), "Content-Type": "application/json"}
    rh = rx.read_headers()

    def client(k: int) -> None:
        pool = urllib3.HTTPConnectionPool(
            "127.0.0.1", rx.port, maxsize=1, retries=False, timeout=urllib3.Timeout(5, 10)
        )
        i = 0
        mine: list[float] = []
        while not stop.is_set():
            i += 1
            t = time.monotonic()
            try:
                if i % 10 == 0:
                    r = pool.request(
                        "GET", f"/api/query?start={T0}&m=sum:load.v{{c={k}}}", headers=rh
                    )
                    good = r.status == 200
                    key = "query_ok"
                    n = 0
                else:
                    base = (k * 1_000_000 + i) * BATCH
                    body = json.dumps(
                        [
                            {
                                "metric": "load.v",
                                "timestamp": T0 + base + j,
                                "value": j,
                                "tags": {"c": str(k)},
                            }
                            for j in range(BATCH)
                        ]
                    ).encode()
                    r = pool.request("POST", "/api/put", body=body, headers=wh)
                    good = r.status == 204
                    key = "put_ok"
                    n = BATCH
                err = None if good else "HTTP %d" % r.status
            except urllib3.exceptions.HTTPError as e:
                err = type(e).__name__
                good = False
            mine.append(time.monotonic() - t)
            with lock:
                if good:
                    stats[key] += 1
                    stats["points"] += n
                else:
                    stats["errors"] += 1
                    errors[err or "?"] = errors.get(err or "?", 0) + 1
        with lock:
            lat.extend(mine)

    def sampler() -> None:
        while not stop.wait(0.2):
            try:
                peak[0] = max(peak[0], proc.memory_info().rss)
            except psutil.Error:
                return

    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(clients)]
    threading.Thread(target=sampler, daemon=True).start()
    t0 = time.monotonic()
    for t in threads:
        t.start()
    time.sleep(duration_s)
    stop.set()
    for t in threads:
        t.join(30)
    wall_s = time.monotonic() - t0
    # read back what was acknowledged
    r = urllib3.request(
        "POST",
        rx.url + "/api/query",
        body=json.dumps(
            {
                "start": T0,
                "end": T0 + 10**9,
                "queries": [{"metric": "load.v", "aggregator": "none"}],
            }
        ).encode(),
        headers={**rh, "Content-Type": "application/json"},
        timeout=60,
    )
    stored = sum(len(s["dps"]) for s in json.loads(r.data)) if r.status == 200 else -1
    alive = rx.proc.poll() is None
    rx.stop()
    lat.sort()
    requests = stats["put_ok"] + stats["query_ok"] + stats["errors"]
    return {
        "clients": clients,
        "duration_s": round(wall_s, 1),
        "requests": requests,
        "requests_per_s": round(requests / wall_s, 1),
        "points_per_s": round(stats["points"] / wall_s, 1),
        "errors": stats["errors"],
        "error_kinds": errors,
        "latency_p50_ms": round(lat[len(lat) // 2] * 1000, 1) if lat else None,
        "latency_p99_ms": round(lat[int(len(lat) * 0.99)] * 1000, 1) if lat else None,
        "acknowledged_points": stats["points"],
        "stored_points": stored,
        "receiver_rss_start_mib": round(rss0 / 2**20, 1),
        "receiver_rss_peak_mib": round(peak[0] / 2**20, 1),
        "alive_after": alive,
    }


def main(argv: list[str]) -> None:
    here = Path(__file__).resolve().parent
    sys.path.insert(0, str(here.parent))
    clients = int(argv[1]) if len(argv) > 1 else 50
    duration_s = float(argv[2]) if len(argv) > 2 else 30.0
    with tempfile.TemporaryDirectory() as d:
        res = run_load(clients, duration_s, Path(d))
    width = max(len(k) for k in res)
    for k, v in res.items():
        print(f"{k:<{width}}  {v}")


if __name__ == "__main__":
    main(sys.argv)

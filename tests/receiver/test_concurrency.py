"""Many boards at once: concurrent writers and readers, every acknowledged point stored once."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import urllib3

from support.receiver import ReceiverProcess

T = 1_700_000_000
WRITERS = 8
REQUESTS = 25
BATCH = 20


def test_concurrent_writers_and_readers(tmp_path: Path) -> None:
    errors: list[str] = []
    with ReceiverProcess(tmp_path, "--quiet") as rx:

        def writer(w: int) -> None:
            pool = urllib3.PoolManager(maxsize=1)
            for r in range(REQUESTS):
                pts = [
                    {
                        "metric": "conc.v",
                        "timestamp": T + r * BATCH + i,
                        "value": w * 1000 + i,
                        "tags": {"board": "b%d" % w},
                    }
                    for i in range(BATCH)
                ]
                resp = pool.request(
                    "POST",
                    rx.url + "/api/put",
                    body=json.dumps(pts).encode(),
                    headers=rx.write_headers(),
                )
                if resp.status != 204:
                    errors.append("writer %d: HTTP %d %r" % (w, resp.status, resp.data[:200]))

        def reader() -> None:
            pool = urllib3.PoolManager(maxsize=1)
            for _ in range(40):
                resp = pool.request(
                    "GET",
                    rx.url + f"/api/query?start={T}&m=sum:1m-avg:conc.v",
                    headers=rx.read_headers(),
                )
                if resp.status not in (200, 400):  # 400 until the metric exists
                    errors.append("reader: HTTP %d" % resp.status)

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
        threads += [threading.Thread(target=reader) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert errors == []
        resp = urllib3.request(
            "GET",
            rx.url + f"/api/query?start={T}&end={T + 1000}&m=none:conc.v",
            headers=rx.read_headers(),
        )
        got = {r["tags"]["board"]: r["dps"] for r in json.loads(resp.data)}
    assert sorted(got) == ["b%d" % w for w in range(WRITERS)]
    for w in range(WRITERS):
        assert got["b%d" % w] == {
            str(T + r * BATCH + i): w * 1000 + i for r in range(REQUESTS) for i in range(BATCH)
        }

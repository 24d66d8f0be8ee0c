"""SIGKILL of the receiver at random moments: every acknowledged point is kept.

Each cycle starts ``tspush serve`` on the same database while a client
posts batches of points with unique timestamps as fast as it can; after a
random 0.05-0.8 s the receiver is killed with SIGKILL. A point counts as
acknowledged only when its request got a 2xx. After the last cycle the
database is opened again: every acknowledged point must be there, exactly
as sent, and the receiver must start and answer on the same file.
"""

from __future__ import annotations

import json
import random
import threading
import time
from pathlib import Path

import pytest
import urllib3

from support.receiver import ReceiverProcess

from .figures import record

CYCLES = 50
BATCH = 20
T0_MS = 1_700_000_000_000


def _hammer(
    url: str, headers: dict[str, str], start: int, acked: list[int], stop: threading.Event
) -> int:
    """Post batches until stopped or the server dies; returns the next unused index."""
    http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=1, read=3))
    i = start
    while not stop.is_set():
        batch = list(range(i, i + BATCH))
        i += BATCH
        body = json.dumps(
            [
                {"metric": "rel.rx", "timestamp": T0_MS + j, "value": j, "tags": {"k": "v"}}
                for j in batch
            ]
        ).encode()
        try:
            r = http.request(
                "POST",
                url + "/api/put",
                body=body,
                headers={**headers, "Content-Type": "application/json"},
            )
        except urllib3.exceptions.HTTPError:
            break
        if 200 <= r.status < 300:
            acked.extend(batch)
    http.clear()
    return i


@pytest.mark.slow
def test_sigkill_of_the_receiver_never_loses_acknowledged_points(tmp_path: Path) -> None:
    rng = random.Random(3)
    acked: list[int] = []
    next_i = 0
    t0 = time.monotonic()
    starts_s: list[float] = []
    for _cycle in range(CYCLES):
        s0 = time.monotonic()
        rx = ReceiverProcess(tmp_path)
        starts_s.append(time.monotonic() - s0)
        stop = threading.Event()
        out: list[int] = []
        th = threading.Thread(
            target=lambda o, u, h, i, ev: o.append(_hammer(u, h, i, acked, ev)),
            args=(out, rx.url, rx.write_headers(), next_i, stop),
            daemon=True,
        )
        th.start()
        time.sleep(rng.uniform(0.05, 0.8))
        rx.kill()
        stop.set()
        th.join(10)
        next_i = out[0] if out else next_i + 10_000
        assert "Traceback" not in rx.text, rx.text[-3000:]
    kills_s = time.monotonic() - t0
    # it comes back on the same file and answers
    rx = ReceiverProcess(tmp_path)
    r = urllib3.request(
        "GET",
        rx.url + f"/api/query?start={T0_MS // 1000 - 1}&m=sum:rel.rx",
        headers=rx.read_headers(),
        timeout=10,
    )
    assert r.status == 200, r.data[:300]
    assert rx.stop() == 0
    from tspush.receiver.store import Store

    store = Store(tmp_path / "receiver.sqlite")
    stored = {ts - T0_MS: v for m, _, ts, v in store.iter_all() if m == "rel.rx"}
    store.close()
    lost = set(acked) - set(stored)
    record(
        "SIGKILL of the receiver",
        cycles=CYCLES,
        batch_points=BATCH,
        kill_after_s="uniform 0.05-0.8",
        acknowledged=len(acked),
        stored=len(stored),
        lost_acknowledged=len(lost),
        stored_but_not_acknowledged=len(set(stored) - set(acked)),
        mean_start_s=round(sum(starts_s) / len(starts_s), 2),
        total_s=round(time.monotonic() - t0, 1),
        kills_s=round(kills_s, 1),
    )
    assert not lost, f"{len(lost)} acknowledged points lost, e.g. {sorted(lost)[:5]}"
    assert all(stored[i] == i for i in acked)
    assert len(acked) > CYCLES * BATCH, "too few requests were acknowledged to test anything"

"""The relay: points accepted locally reach the upstream even when it is down for a while."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

from helpers import Lines, spooled_records

from support.receiver import ReceiverProcess
from tspush.core.point import Point
from tspush.core.retry import Retry
from tspush.host.relay import Relay


def _relay(url: str, spool_dir: Path) -> Relay:
    return Relay(
        url,
        token=None,
        profile="victoriametrics",
        spool_dir=spool_dir,
        flush_interval_s=0.2,
        retry=Retry(backoff_s=0.1, cap_s=0.5, jitter=0),
        log=Lines(),
    )


def test_relay_spools_durably_and_forwards_after_upstream_and_relay_restarts(
    tmp_path: Path,
    victoria,  # type: ignore[no-untyped-def]
) -> None:
    victoria.stop()
    spool_dir = tmp_path / "relay"
    relay = _relay(victoria.opentsdb_url, spool_dir)
    relay.start()
    batch = [Point("relay.t", i, 1700000000 + i, {"board": "esp1"}) for i in range(30)]
    relay.accept(batch[:20])
    # accept() returned: the points are on disk, checksummed, before anything was sent.
    assert [d["value"] for d in spooled_records(spool_dir)] == list(range(20))
    deadline = time.monotonic() + 60  # at least one failed try, however slow the machine
    while not relay.output.backing_off() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert relay.pending() == 20 and relay.output.backing_off()
    relay.stop()  # the gateway restarts while the upstream is still down
    relay = _relay(victoria.opentsdb_url, spool_dir)
    relay.start()
    relay.accept(batch[20:])
    victoria.start()
    rows = victoria.wait_for('{__name__="relay.t"}', 30, timeout_s=60)
    relay.stop()
    assert [(r[2], r[3]) for r in rows] == [((1700000000 + i) * 1000, float(i)) for i in range(30)]
    assert relay.pending() == 0


def _retried(state_path: Path) -> bool:
    try:
        up = json.loads(state_path.read_text())["outputs"]["upstream"]
    except (OSError, ValueError, KeyError):
        return False
    return bool(up["retries"] >= 1 and up["pending"] > 0)


def test_serve_forward_end_to_end(tmp_path: Path, victoria) -> None:  # type: ignore[no-untyped-def]
    victoria.stop()
    rx = ReceiverProcess(
        tmp_path,
        "--no-auth",
        "--forward",
        victoria.opentsdb_url,
        "--forward-profile",
        "victoriametrics",
        "--spool-dir",
        str(tmp_path / "gw-spool"),
    )
    try:
        sent = 0
        for k in range(5):
            body = [
                {
                    "metric": "gw.temp",
                    "timestamp": 1710000000 + 10 * k + i,
                    "value": 20 + i,
                    "tags": {"board": "d1mini"},
                }
                for i in range(10)
            ]
            req = urllib.request.Request(
                rx.url + "/api/put",
                data=json.dumps(body).encode(),
                headers={"Content-Type": "application/json"},
                method="POST",
            )
            with urllib.request.urlopen(req, timeout=10) as r:
                assert r.status in (200, 204)
            sent += len(body)
        # upstream down: the gateway keeps them and says so in its state file
        state_path = tmp_path / "gw-spool" / "state.json"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not _retried(state_path):
            time.sleep(0.1)
        assert _retried(state_path)
        assert victoria.proc is None
        victoria.start()
        rows = victoria.wait_for('{__name__="gw.temp"}', sent, timeout_s=60)
    finally:
        rx.stop()
    assert len(rows) == sent
    assert {r[1]["board"] for r in rows} == {"d1mini"}
    assert sorted(r[2] for r in rows) == sorted(
        (1710000000 + 10 * k + i) * 1000 for k in range(5) for i in range(10)
    )

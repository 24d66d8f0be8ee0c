"""SIGKILL the agent at random moments: no spooled point is lost, the spool stays readable."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from helpers import spooled_records

from tspush.core.spool import Spool

KILLS = 25
MAX_POINTS = 50  # victoriametrics profile: the most one in-flight batch can resend


def _config(tmp_path: Path, url: str) -> Path:
    p = tmp_path / "agent.toml"
    p.write_text(
        f"""
[agent]
timestamp_unit = "ms"
self_metrics_interval_s = 0
state_interval_s = 0.2
shutdown_flush_s = 10

[spool]
dir = "{tmp_path / "spool"}"
segment_bytes = 16384
max_bytes = 104857600

[[sources]]
type = "constant"
name = "const"
metric = "crash.const"
interval_s = 0.01
tags = {{ src = "const" }}

[[sources]]
type = "command"
name = "cmd"
command = ["sh", "-c", "echo crash.cmd $(date +%N)"]
interval_s = 0.05
tags = {{ src = "cmd" }}

[[outputs]]
name = "vm"
url = "{url}"
profile = "victoriametrics"
flush_interval_s = 0.05
flush_jitter_s = 0.0
retry_backoff_s = 0.05
retry_cap_s = 0.5
"""
    )
    return p


def _start(cfg: Path, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as f:
        return subprocess.Popen(
            [sys.executable, "-m", "tspush.cli.main", "run", "--config", str(cfg)],
            stdout=f,
            stderr=subprocess.STDOUT,
        )


def _wait_running(state_path: Path, p: subprocess.Popen[bytes], bound_s: float) -> None:
    """Until the agent ``p`` has written its state file (it has started), at most ``bound_s``."""
    deadline = time.monotonic() + bound_s
    while time.monotonic() < deadline and p.poll() is None:
        try:
            if json.loads(state_path.read_text()).get("pid") == p.pid:
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.02)


def _key(d: dict) -> tuple[str, int]:  # type: ignore[type-arg]
    return (d["metric"], d["timestamp"])


def test_sigkill_many_times_loses_no_spooled_point(tmp_path: Path, victoria) -> None:  # type: ignore[no-untyped-def]
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    cfg = _config(tmp_path, victoria.opentsdb_url)
    spool_dir = tmp_path / "spool"
    log = tmp_path / "agent.log"
    spooled: dict[tuple[str, int], float] = {}
    kills = 0
    # KILLS kills, and more (up to a bound) until enough points were spooled to
    # mean anything: a loaded machine starts the agent more slowly.
    while kills < KILLS or (len(spooled) <= 200 and kills < 10 * KILLS):
        kills += 1
        p = _start(cfg, log)
        if rng.random() < 0.8:  # mostly while running; sometimes during start-up
            _wait_running(spool_dir / "state.json", p, 60)
        time.sleep(rng.uniform(0.0, 1.2))
        p.send_signal(signal.SIGKILL)
        p.wait(10)
        # Whatever made it into the spool must reach the server eventually.
        for d in spooled_records(spool_dir):
            spooled[_key(d)] = d["value"]
        # The spool opens after every kill (a torn tail is cut, never fatal).
        s = Spool(str(spool_dir), outputs=["vm"])
        s.close()
    assert len(spooled) > 200, f"seed {seed}: too few points spooled to mean anything"

    (spool_dir / "state.json").unlink(missing_ok=True)
    p = _start(cfg, log)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                state = json.loads((spool_dir / "state.json").read_text())
            except (OSError, ValueError):
                state = {}
            mine = state.get("pid") == p.pid
            if mine and state.get("outputs", {}).get("vm", {}).get("pending") == 0:
                break
            time.sleep(0.2)
    finally:
        p.send_signal(signal.SIGTERM)
        assert p.wait(30) == 0, log.read_text()[-3000:]

    def stored() -> dict[tuple[str, int], list[float]]:
        seen: dict[tuple[str, int], list[float]] = defaultdict(list)
        for metric, _tags, ts, value in victoria.samples('{__name__=~"crash.*"}'):
            seen[(metric, ts)].append(value)
        return seen

    deadline = time.monotonic() + 60  # VictoriaMetrics ingests asynchronously
    seen = stored()
    while any(k not in seen for k in spooled) and time.monotonic() < deadline:
        time.sleep(0.5)
        seen = stored()
    missing = [k for k in spooled if k not in seen]
    assert missing == [], (
        f"seed {seed}: {len(missing)} spooled point(s) never arrived: {missing[:5]}"
    )
    for k, v in spooled.items():
        assert set(seen[k]) == {float(v)}, f"seed {seed}: {k} stored as {seen[k]}, spooled {v}"
    dupes = sum(len(v) - 1 for v in seen.values())
    assert dupes <= (kills + 1) * MAX_POINTS, f"seed {seed}: {dupes} duplicates"
    # Anything stored was something the agent sampled: values of the right kind only.
    assert all(m in ("crash.const", "crash.cmd") for m, _ in seen)
    assert all(vals == [42.0] * len(vals) for (m, _), vals in seen.items() if m == "crash.const")
    print(f"seed {seed}: {len(spooled)} spooled, {len(seen)} stored, {dupes} duplicate(s)")

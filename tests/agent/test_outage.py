"""VictoriaMetrics goes away while the agent samples, then comes back: every point arrives once."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from helpers import Lines

from tspush.core.point import Point
from tspush.host.agent import Agent
from tspush.host.agent_config import load
from tspush.host.sources import Source


class Counting(Source):
    """value = sequence number, ms timestamps: every point is unique and countable."""

    kind = "counting"

    def __init__(self, name: str, interval_s: float) -> None:
        super().__init__(name, interval_s, {"src": name})
        self.n = 0

    def sample(self, now_s: int) -> list[Point]:
        self.n += 1
        return [Point("outage.seq", self.n, now_s, {})]


def _config(tmp_path: Path, url: str, extra: str = "") -> Path:
    p = tmp_path / "agent.toml"
    p.write_text(
        f"""
[agent]
timestamp_unit = "ms"
self_metrics_interval_s = 0
state_interval_s = 0.2
tags = {{ host = "test" }}

[spool]
dir = "{tmp_path / "spool"}"

[[outputs]]
name = "vm"
url = "{url}"
profile = "victoriametrics"
flush_interval_s = 0.2
flush_jitter_s = 0.05
retry_backoff_s = 0.1
retry_cap_s = 0.5
{extra}
"""
    )
    return p


def _wait(pred, timeout_s: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return pred()


def test_outage_loses_nothing_and_sends_nothing_twice(tmp_path: Path, victoria) -> None:  # type: ignore[no-untyped-def]
    cfg = load(_config(tmp_path, victoria.opentsdb_url))
    a, b = Counting("a", 0.02), Counting("b", 0.05)
    log = Lines()
    agent = Agent(cfg, log=log, sources=[a, b])
    agent.start()
    try:
        assert _wait(lambda: len(victoria.samples('{__name__="outage.seq"}')) > 20, 60)
        victoria.stop()
        before = a.n + b.n
        # the agent keeps sampling into the spool (waited for, however slow the machine)
        assert _wait(lambda: a.n + b.n > before + 50 and agent.spool.pending("vm") > 50, 60)
        assert _wait(lambda: any(lv == "warning" and "kept" in m for lv, m, _ in log.lines), 60)
        victoria.start()
        assert _wait(lambda: not agent.outputs[0].backing_off(), 60)
    finally:
        agent.stop(flush_s=10)
    total = a.n + b.n
    rows = victoria.wait_for('{__name__="outage.seq"}', total, timeout_s=60)
    counts = Counter((r[1]["src"], r[3]) for r in rows)
    assert sorted(counts) == sorted(
        [("a", float(i)) for i in range(1, a.n + 1)] + [("b", float(i)) for i in range(1, b.n + 1)]
    )
    twice = {k: c for k, c in counts.items() if c > 1}
    assert twice == {}
    assert all(r[1]["host"] == "test" for r in rows)
    # timestamps are the sampling times (ms), increasing with the sequence within a series
    for src in ("a", "b"):
        ts = [r[2] for r in sorted((r for r in rows if r[1]["src"] == src), key=lambda r: r[3])]
        assert ts == sorted(ts) and len(set(ts)) == len(ts)
    assert agent.spool.pending("vm") == 0

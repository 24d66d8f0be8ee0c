"""The agent against VictoriaMetrics through a lossy, stalling, resetting link.

``tspush run`` reads ``put`` lines (unique millisecond timestamps) from
stdin and sends them to VictoriaMetrics' OpenTSDB listener through the
fault proxy: delays with jitter, lost segments (retransmitted 200 ms later),
stalls longer than the read timeout, connection resets, and link cuts of
one to two seconds. Afterwards every point must be in the database (read
back by export) and duplicates may only come from requests whose answer
the link lost after the server had them (``ambiguous``); the proxy counts
those.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from pathlib import Path

import pytest

from support.faultproxy import FaultProxy, Faults

from .agentproc import METRIC, T0_MS, AgentProcess, put_line, wait_until, write_config
from .figures import record

N_POINTS = 3000
MAX_POINTS = 50  # the victoriametrics profile's points per request
FEED_S = 12.0


def _distinct(vm: object) -> int:
    return len({ts for _, _, ts, _ in vm.samples(METRIC)})  # type: ignore[attr-defined]


@pytest.mark.slow
def test_agent_loses_nothing_over_a_lossy_link(victoria, tmp_path: Path) -> None:
    faults = Faults(
        delay_s=0.005,
        jitter_s=0.01,
        drop_rate=0.05,
        retransmit_s=0.2,
        stall_rate=0.02,
        stall_s=1.5,
        reset_rate=0.02,
        segment_bytes=536,
        seed=20261127,
    )
    rng = random.Random(faults.seed)
    host, port = victoria.opentsdb_url.rsplit(":", 1)
    with FaultProxy(("127.0.0.1", int(port)), faults) as proxy:
        cfg = write_config(
            tmp_path / "agent.toml", proxy.url, tmp_path / "spool", read_timeout_s=1.0
        )
        agent = AgentProcess(cfg, tmp_path / "agent.log").start()
        t0 = time.monotonic()
        steps = 24
        per_step = N_POINTS // steps
        cut_at = set(rng.sample(range(2, steps - 2), 3))
        cut_total_s = 0.0
        for step in range(steps):
            agent.feed([put_line(i) for i in range(step * per_step, (step + 1) * per_step)])
            if step in cut_at:
                d = rng.uniform(1.0, 2.0)
                cut_total_s += d
                proxy.cut(d, mode=rng.choice(["reset", "blackhole"]))
            time.sleep(FEED_S / steps)
        rss = agent.rss_bytes()
        done = wait_until(lambda: _distinct(victoria) >= N_POINTS, 90, step_s=1.0)
        drained_s = time.monotonic() - t0
        time.sleep(1.0)  # anything late (a retry in flight) lands now
        rows = victoria.samples(METRIC)
        counters = proxy.snapshot()
        assert agent.stop() == 0, agent.log()[-3000:]
    seen = Counter(ts for _, _, ts, _ in rows)
    expected = {T0_MS + i for i in range(N_POINTS)}
    missing = expected - set(seen)
    extra = set(seen) - expected
    dups = sum(n - 1 for n in seen.values() if n > 1)
    # duplicated points come in runs, one run per batch sent again
    dup_ts = sorted(ts for ts, n in seen.items() if n > 1)
    runs = sum(1 for i, ts in enumerate(dup_ts) if i == 0 or dup_ts[i - 1] != ts - 1)
    record(
        "lossy network: agent -> fault proxy -> VictoriaMetrics",
        points=N_POINTS,
        feed_s=FEED_S,
        faults=(
            "delay 5 ms + 0-10 ms jitter, 5%% segments lost (resent after 200 ms), "
            "2%% stalls of 1.5 s (read timeout 1 s), 2%% resets, 536-byte segments, "
            "3 link cuts (%.1f s total)" % cut_total_s
        ),
        delivered=len(seen),
        missing=len(missing),
        duplicates=dups,
        duplicate_runs=runs,
        ambiguous=counters["ambiguous"],
        all_delivered_after_s=round(drained_s, 1),
        agent_rss_mib=round(rss / 2**20, 1),
        proxy=counters,
    )
    assert done, f"{len(missing)} points missing after 90 s"
    assert not missing and not extra
    assert all(v == ts - T0_MS for _, _, ts, v in rows), "a value arrived under the wrong time"
    # A batch is sent again only when its answer was lost after the server had it.
    assert runs <= counters["ambiguous"], (runs, counters)
    assert dups <= counters["ambiguous"] * MAX_POINTS, (dups, counters)
    # the faults really happened
    assert counters["resets"] > 0 and counters["dropped"] > 0 and counters["stalls"] > 0
    assert counters["cuts"] == 3

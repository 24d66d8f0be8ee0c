"""SIGKILL of the agent at random moments: nothing it had spooled is ever lost.

Each cycle starts ``tspush run`` on the same spool, feeds it fresh ``put``
lines, and kills it with SIGKILL after a random 0.05-1.2 s (during start-up,
reading, appending, sending or waiting for an answer). After each kill the
spool's valid records are read straight from the segment files: those points
were accepted by the agent. A last, clean run drains the spool; every
accepted point must then be in VictoriaMetrics.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from pathlib import Path

import pytest

from tspush.core.spoolfix import HEADER, SEG_SUFFIX, scan

from .agentproc import METRIC, T0_MS, AgentProcess, put_line, wait_until, write_config
from .figures import record

CYCLES = 50
PER_CYCLE = 40


def spooled_ts(spool_dir: Path) -> set[int]:
    """Timestamps of every valid record in the segments (acked or not)."""
    out = set()
    for seg in sorted(spool_dir.glob("*" + SEG_SUFFIX)):
        buf = seg.read_bytes()
        for start, end, _ in scan(buf):
            for line in bytes(buf[start + HEADER : end]).split(b"\n"):
                d = json.loads(line)  # one or more points per record, one per line
                if d.get("metric") == METRIC:
                    out.add(int(d["timestamp"]))
    return out


@pytest.mark.slow
def test_sigkill_of_the_agent_never_loses_spooled_points(victoria, tmp_path: Path) -> None:
    rng = random.Random(8)
    spool = tmp_path / "spool"
    cfg = write_config(tmp_path / "agent.toml", victoria.opentsdb_url, spool)
    accepted: set[int] = set()
    fed = 0
    t0 = time.monotonic()
    for _cycle in range(CYCLES):
        agent = AgentProcess(cfg, tmp_path / "agent.log").start()
        agent.feed([put_line(i) for i in range(fed, fed + PER_CYCLE)])
        fed += PER_CYCLE
        time.sleep(rng.uniform(0.05, 1.2))
        agent.kill()
        accepted |= spooled_ts(spool)
    kills_s = time.monotonic() - t0
    # a clean run drains what is left
    starts = agent.log().count("agent started")
    agent = AgentProcess(cfg, tmp_path / "agent.log").start()
    assert wait_until(lambda: agent.log().count("agent started") > starts, 20)
    got: set[int] = set()

    def all_there() -> bool:
        nonlocal got
        got = {ts for _, _, ts, _ in victoria.samples(METRIC)}
        return accepted <= got

    drained = wait_until(all_there, 60, step_s=0.5)
    assert agent.stop() == 0
    rows = victoria.samples(METRIC)
    seen = Counter(ts for _, _, ts, _ in rows)
    lost = accepted - set(seen)
    dup_ts = sorted(ts for ts, n in seen.items() if n > 1)
    runs = sum(1 for i, ts in enumerate(dup_ts) if i == 0 or dup_ts[i - 1] != ts - 1)
    log = agent.log()
    record(
        "SIGKILL of the agent",
        cycles=CYCLES,
        points_fed=fed,
        kill_after_s="uniform 0.05-1.2",
        accepted_by_agent=len(accepted),
        delivered=len(seen),
        lost_accepted=len(lost),
        never_read_before_kill=fed - len(accepted | set(seen)),
        duplicates=sum(n - 1 for n in seen.values() if n > 1),
        duplicate_runs=runs,
        torn_tails_cut=log.count("torn tail"),
        total_s=round(time.monotonic() - t0, 1),
        kills_s=round(kills_s, 1),
    )
    assert drained and not lost, f"{len(lost)} accepted points lost"
    assert set(seen) <= {T0_MS + i for i in range(fed)}
    assert max(seen.values()) <= 2 and runs <= CYCLES, "more than the batch in flight came twice"
    assert len(accepted) > fed // 4, "the kills came too early to test anything"
    assert "Traceback" not in log, log[-3000:]

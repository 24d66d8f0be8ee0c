"""Server faults against the running agent: it times out, backs off, keeps
every point, and its memory stays bounded.

``tspush run`` sends to a BadServer that misbehaves on its first four
requests (one behaviour per test) and answers properly afterwards; the
points must then all arrive, each once in the accepted bodies, with the
retries spaced by the back-off, while the agent's RSS is sampled.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import psutil
import pytest

from support.badserver import BadServer

from .agentproc import T0_MS, AgentProcess, put_line, wait_until, write_config
from .figures import record

N = 300
FAILS = 4


def _values(srv: BadServer) -> list[int]:
    out = []
    for r in srv.requests:
        if r.behaviour in ("ok", "short", "huge"):  # answered 2xx: accepted by the server
            out += [int(d["timestamp"]) - T0_MS for d in json.loads(r.body)]
    return out


@pytest.mark.parametrize(
    "behaviour", ["late", "never", "reset", "garbage", "half", "close", "short", "huge"]
)
def test_agent_backs_off_keeps_the_data_and_stays_small(tmp_path: Path, behaviour: str) -> None:
    script = [behaviour] * FAILS
    with BadServer(script=script, then="ok", late_s=3.0, huge_bytes=10**11) as srv:
        cfg = write_config(
            tmp_path / "agent.toml",
            srv.url,
            tmp_path / "spool",
            read_timeout_s=1.0,
            retry_cap_s=2.0,
        )
        agent = AgentProcess(cfg, tmp_path / "agent.log").start()
        proc = psutil.Process(agent.proc.pid)  # type: ignore[union-attr]
        peak = [0]
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.1):
                try:
                    peak[0] = max(peak[0], proc.memory_info().rss)
                except psutil.Error:
                    return

        threading.Thread(target=sample, daemon=True).start()
        t0 = time.monotonic()
        agent.feed([put_line(i) for i in range(N)])
        done = wait_until(lambda: set(_values(srv)) >= set(range(N)), 60, 0.2)
        took_s = time.monotonic() - t0
        stop.set()
        code = agent.stop()
        log = agent.log()
    got = _values(srv)
    seen = srv.behaviours_seen()
    times = list(seen)
    record(
        "agent vs bad server: " + behaviour,
        faulty_requests=FAILS,
        requests=len(times),
        delivered=len(set(got)),
        sent_twice=len(got) - len(set(got)),
        all_delivered_after_s=round(took_s, 1),
        agent_peak_rss_mib=round(peak[0] / 2**20, 1),
        streamed_to_agent_mib=srv.huge_sent_bytes >> 20,
    )
    assert done, f"{N - len(set(got))} points never arrived:\n{log[-2000:]}"
    assert seen[:FAILS] == script, seen
    assert code == 0 and "Traceback" not in log, log[-3000:]
    assert peak[0] < 150 * 2**20, f"agent RSS peaked at {peak[0] >> 20} MiB"
    if behaviour not in ("short", "huge"):  # those answer 2xx: nothing to retry
        # backed off: four failures then a success take at least the first back-off steps
        assert took_s >= 0.1 + 0.2 + 0.4
    if behaviour == "huge":
        assert srv.huge_sent_bytes < 2**30

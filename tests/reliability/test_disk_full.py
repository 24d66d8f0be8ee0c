"""Disk full under the agent's spool: a clear error, nothing accepted is lost,
and the agent recovers by itself once there is room again.

The spool lives on a 2 MiB tmpfs (``mount -t tmpfs -o size=2m``, as root).
Where mounting is not allowed the test falls back to RLIMIT_FSIZE on the
agent process (writes past the limit fail with EFBIG), which is said in the
figures. The agent's server is down, so points pile up until the disk is
full; then the server comes back (the agent's output points at a fault proxy
whose link was cut), the spool drains, room returns, and new points flow.
"""

from __future__ import annotations

import json
import resource
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.faultproxy import FaultProxy

from .agentproc import METRIC, T0_MS, AgentProcess, put_line, wait_until, write_config
from .figures import record
from .test_kill_agent import spooled_ts

SIZE = "2m"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    d = tmp_path / "spool"
    d.mkdir()
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SIZE},mode=0700", "tmpfs", str(d)],
        capture_output=True,
        text=True,
    )
    if r.returncode == 0:
        yield d, "tmpfs " + SIZE
        subprocess.run(["umount", "-l", str(d)], check=False)
    else:
        yield d, "RLIMIT_FSIZE 2 MiB (mount failed: %s)" % r.stderr.strip()[:80]


def _state(path: Path) -> dict[str, object]:
    try:
        doc = json.loads(path.read_text())
        return doc if isinstance(doc, dict) else {}
    except (OSError, ValueError):
        return {}


@pytest.mark.slow
def test_disk_full_keeps_accepted_points_and_recovers(
    victoria, tmp_path: Path, small_disk: tuple[Path, str]
) -> None:
    spool, how = small_disk
    state_file = tmp_path / "state.json"
    vm_port = int(victoria.opentsdb_url.rsplit(":", 1)[1])
    with FaultProxy(("127.0.0.1", vm_port)) as proxy:
        proxy.cut(3600)  # the server is "down" until we heal the link
        cfg = write_config(
            tmp_path / "agent.toml",
            proxy.url,
            spool,
            state_file=state_file,
            retry_cap_s=0.5,
            segment_bytes=256 * 1024 if how.startswith("tmpfs") else 4 << 20,
        )
        agent = AgentProcess(cfg, tmp_path / "agent.log")
        if not how.startswith("tmpfs"):
            limit = 2 << 20
            agent.env["TSPUSH_TEST_FSIZE"] = str(limit)
            orig_start = agent.start

            def start_limited() -> AgentProcess:
                import subprocess as sp

                real = sp.Popen

                def popen(*a: object, **kw: object) -> object:
                    kw["preexec_fn"] = lambda: resource.setrlimit(
                        resource.RLIMIT_FSIZE, (limit, limit)
                    )
                    return real(*a, **kw)  # type: ignore[call-overload]

                sp.Popen = popen  # type: ignore[assignment,misc]
                try:
                    return orig_start()
                finally:
                    sp.Popen = real  # type: ignore[misc]

            agent.start = start_limited  # type: ignore[method-assign]
        agent.start()
        fed = 0
        for _ in range(60):  # ~2.5x what fits
            agent.feed([put_line(i) for i in range(fed, fed + 1000)])
            fed += 1000
            time.sleep(0.05)
        time.sleep(2.0)
        log_full = agent.log()
        assert agent.alive(), log_full[-3000:]
        believed = wait_until(lambda: _state(state_file).get("spool_points"), 5) and _state(
            state_file
        ).get("spool_points")
        on_disk = spooled_ts(spool)
        # the link comes back: the spool drains, room returns, new points are taken
        proxy.cut(0)
        # Records of a write that failed half-way can sit whole on disk past the
        # segment's end: the agent said "not stored" for them, so only the count it
        # believes in must arrive (those are the records before the torn write).
        drained = wait_until(
            lambda: len(on_disk & {ts for _, _, ts, _ in victoria.samples(METRIC)}) >= believed,
            60,
            0.5,
        )
        after = list(range(10**6, 10**6 + 500))
        agent.feed([put_line(i) for i in after])
        want_after = {T0_MS + i for i in after}
        recovered = wait_until(
            lambda: want_after <= {ts for _, _, ts, _ in victoria.samples(METRIC)}, 30, 0.5
        )
        code = agent.stop()
        log = agent.log()
    got = {ts for _, _, ts, _ in victoria.samples(METRIC)}
    record(
        "disk full under the agent spool",
        disk=how,
        points_fed_while_down=fed,
        spooled_valid_records=len(on_disk),
        agent_believed_spooled=believed,
        delivered_of_spooled=len(on_disk & got),
        recovered_new_points=len(want_after & got),
        error_lines=sum(1 for line in log_full.splitlines() if "space" in line.lower()),
        exit_code=code,
    )
    assert "No space left" in log_full or "too large" in log_full.lower(), log_full[-2000:]
    assert "Traceback" not in log, log[log.find("Traceback") - 500 :][:3000]
    assert 0 < len(on_disk) < fed
    assert isinstance(believed, int) and 0 < believed <= len(on_disk), (
        "agent counts points not on disk"
    )
    assert drained, f"{believed - len(on_disk & got)} spooled points never arrived"
    assert recovered, "new points are not accepted after the disk has room again"
    assert code == 0

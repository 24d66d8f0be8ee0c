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
import re
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.faultproxy import FaultProxy
from tspush.core.point import Point
from tspush.host import config as hconfig
from tspush.host.agent import Agent
from tspush.host.agent_config import AgentConfig, OutputConfig, SpoolConfig
from tspush.host.sources.base import Source
from tspush.host.status import format_status

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


def _source(state_file: Path) -> dict[str, int]:
    src = _state(state_file).get("sources")
    got = src.get("in") if isinstance(src, dict) else None
    return got if isinstance(got, dict) else {}


@pytest.mark.slow
def test_disk_full_keeps_accepted_points_and_recovers(
    victoria, tmp_path: Path, small_disk: tuple[Path, str]
) -> None:
    """Also: every point that cannot be spooled is counted (state, ``tspush status``, a
    self-metric) and logged, rate-limited (issue 13 item 5: 30,500 of 35,446 went unreported)."""
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
            self_metrics_interval_s=1,
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
        # every line fed has been read: stored or counted as not stored
        consumed = wait_until(
            lambda: (
                _source(state_file).get("points", 0) + _source(state_file).get("not_stored", 0)
                == fed
            ),
            60,
            0.3,
        )
        log_full = agent.log()
        assert agent.alive(), log_full[-3000:]
        src = _source(state_file)
        believed = src.get("points", 0)
        not_stored = src.get("not_stored", 0)
        status = subprocess.run(
            [sys.executable, "-m", "tspush.cli.main", "status", "--state-file", str(state_file)],
            capture_output=True,
            text=True,
        ).stdout
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
        total = _state(state_file).get("not_stored_points")  # the source's and self-metrics'
        # the self-metric, read back from the database once the total no longer moves
        metric_ok = wait_until(
            lambda: any(v == total for _, _, _, v in victoria.samples("tspush.spool.not_stored")),
            30,
            0.5,
        )
        code = agent.stop()
        log = agent.log()
    got = {ts for _, _, ts, _ in victoria.samples(METRIC)}
    reports = [line for line in log.splitlines() if "not stored since the last report" in line]
    back = [line for line in log.splitlines() if "spool writable again" in line]
    record(
        "disk full under the agent spool",
        disk=how,
        points_fed_while_down=fed,
        spooled_valid_records=len(on_disk),
        agent_believed_spooled=believed,
        counted_not_stored=not_stored,
        not_stored_incl_self_metrics=total,
        delivered_of_spooled=len(on_disk & got),
        recovered_new_points=len(want_after & got),
        error_lines=len(reports),
        exit_code=code,
    )
    assert "No space left" in log_full or "too large" in log_full.lower(), log_full[-2000:]
    assert "Traceback" not in log, log[log.find("Traceback") - 500 :][:3000]
    assert consumed, f"source read {believed} + {not_stored} of {fed} lines"
    assert 0 < len(on_disk) < fed
    assert 0 < believed <= len(on_disk), "agent counts points not on disk"
    assert believed + not_stored == fed, "points neither stored nor counted"
    assert isinstance(total, int) and total >= not_stored
    shown = re.search(r"NOT STORED: (\d+) point", status)
    assert shown and not_stored <= int(shown.group(1)) <= total, status
    assert f"{not_stored} NOT STORED" in status, status
    # logged at the first loss, then at most once a minute: a handful of lines, not thousands
    assert 1 <= len(reports) <= 3, reports
    assert back and f"{total} in all" in back[-1], back
    assert metric_ok, f"tspush.spool.not_stored never read {total} back"
    assert drained, f"{believed - len(on_disk & got)} spooled points never arrived"
    assert recovered, "new points are not accepted after the disk has room again"
    assert code == 0


class _Burst(Source):
    """200 points a read, each with its own timestamp (a source that cannot send again)."""

    kind = "burst"

    def __init__(self) -> None:
        super().__init__("burst", 1.0)
        self.n = 0

    def sample(self, now_s: int) -> list[Point]:
        out = [
            Point("burst.p", self.n + i, 1_700_000_000 + self.n + i, {"pad": "x" * 40})
            for i in range(200)
        ]
        self.n += 200
        return out


def test_every_point_the_full_disk_refuses_is_counted_and_reported(
    tmp_path: Path, small_disk: tuple[Path, str]
) -> None:
    spool, how = small_disk
    if not how.startswith("tmpfs"):
        pytest.skip("needs a real small file system (mount -t tmpfs): " + how)
    lines: list[str] = []
    cfg = AgentConfig(
        path=None,
        spool=SpoolConfig(dir=spool, segment_bytes=64 * 1024, max_bytes=1 << 30),
        sources=[],
        outputs=[OutputConfig("out", hconfig.Settings(url="http://127.0.0.1:9/api/put"))],
        self_metrics_prefix="tspush",
    )
    agent = Agent(cfg, log=lambda level, msg, **kw: lines.append(msg), sources=[_Burst()])
    agent.not_stored_log_s = 0.3
    runner = agent.runners[0]
    try:
        while not agent.not_stored_points:  # fill the 2 MiB
            runner.read_once()
        t0 = time.monotonic()
        reads = 1
        while time.monotonic() - t0 < 2.0:
            runner.read_once()
            reads += 1
            time.sleep(0.02)
        lost = agent.not_stored_points
        assert runner.unstored == lost and lost >= 200 * reads
        assert runner.points + lost == runner.source.n  # type: ignore[attr-defined]
        reports = [m for m in lines if "not stored since the last report" in m]
        told = sum(int(re.search(r"; (\d+) point", m).group(1)) for m in reports)  # type: ignore[union-attr]
        # the first at once, then one every 0.3 s at most: never one per lost batch
        assert 2 <= len(reports) <= 2.0 / 0.3 + 2 < reads, (len(reports), reads)
        assert "No space left" in reports[0] and told <= lost
        st = agent.state()
        assert st["not_stored_points"] == lost and st["sources"]["burst"]["not_stored"] == lost
        text = format_status(st)
        assert f"NOT STORED: {lost} point(s)" in text and f"{lost} NOT STORED" in text, text
        metrics = {p.metric: p.value for p in agent.self_metrics() if "not_stored" in p.metric}
        assert metrics == {"tspush.source.not_stored": lost, "tspush.spool.not_stored": lost}
        # room again (the output "delivered" and acked everything): the total is said once more
        while (b := agent.spool.take("out", 5000)) is not None:
            agent.spool.ack(b)
        runner.read_once()
        assert agent.not_stored_points == lost and runner.unstored == lost
        back = [m for m in lines if "spool writable again" in m]
        assert back == [
            "spool writable again; %d point(s) could not be stored meanwhile, %d in all"
            % (lost, lost)
        ], lines[-3:]
    finally:
        agent.spool.close()
        agent._lock_file.close()
    record(
        "disk full: every refused point counted",
        disk=how,
        reads_while_full=reads,
        points_not_stored=lost,
        log_lines_while_full=len(reports),
        log_every_s=0.3,
    )

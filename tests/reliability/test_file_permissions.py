"""Files that hold tokens or data are the owner's alone; a readable config is called out.

Run under the usual umask 022 so that "owner only" has to be chosen by the
code, not inherited.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support.receiver import ReceiverProcess

from .agentproc import AgentProcess, put_line, wait_until, write_config

TOKEN = "perm-test-token-123456"


@pytest.fixture(autouse=True)
def usual_umask():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _others_can_read(p: Path) -> bool:
    return bool(p.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))


def _reachable_by_others(p: Path, top: Path) -> bool:
    """Group/others can read ``p``: it is readable and every directory up to ``top`` is open."""
    if not _others_can_read(p):
        return False
    d = p.parent
    while True:
        if not d.stat().st_mode & (stat.S_IXGRP | stat.S_IXOTH):
            return False
        if d == top or d == d.parent:
            return True
        d = d.parent


def test_receiver_token_file_is_owner_only(tmp_path: Path) -> None:
    rx = ReceiverProcess(tmp_path, "--no-auth")  # starts, then we restart with made tokens
    rx.stop()
    state = tmp_path / "state"
    args = ["--db", str(state / "rx.sqlite")]
    r = subprocess.Popen(
        [sys.executable, "-m", "tspush.cli.main", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert wait_until(lambda: any(state.rglob("tokens.json")), 20)
        time.sleep(0.3)
    finally:
        r.terminate()
        r.wait(10)
    (tokens,) = list(state.rglob("tokens.json"))
    assert stat.S_IMODE(tokens.stat().st_mode) == 0o600


def test_agent_spool_and_state_are_owner_only(tmp_path: Path) -> None:
    top = tmp_path
    os.chmod(top, 0o755)
    spool = tmp_path / "var" / "spool"
    state = tmp_path / "var" / "state.json"
    cfg = write_config(
        tmp_path / "agent.toml", "http://127.0.0.1:9", spool, token=TOKEN, state_file=state
    )
    agent = AgentProcess(cfg, tmp_path / "agent.log").start()
    agent.feed([put_line(i) for i in range(10)])
    assert wait_until(lambda: any(spool.glob("*.seg")) and state.exists(), 20), agent.log()
    time.sleep(0.5)
    agent.stop()
    exposed = [
        str(p.relative_to(top))
        for p in [*spool.rglob("*"), state]
        if p.is_file() and _reachable_by_others(p, top)
    ]
    assert not exposed, f"readable by group/others: {exposed}"


@pytest.mark.parametrize("mode,warns", [(0o644, True), (0o640, True), (0o600, False)])
def test_a_readable_config_holding_a_token_gets_a_warning(
    tmp_path: Path, mode: int, warns: bool
) -> None:
    cfg = tmp_path / "tspush.toml"
    cfg.write_text(f'[output]\nurl = "http://127.0.0.1:9"\ntoken = "{TOKEN}"\n')
    os.chmod(cfg, mode)
    r = subprocess.run(
        [sys.executable, "-m", "tspush.cli.main", "push", "m", "1", "--config", str(cfg)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    warned = "readable by group/others" in r.stderr
    assert warned == warns, r.stderr
    assert TOKEN not in r.stdout + r.stderr
    # the agent reads the same file and must say the same
    (tmp_path / "spool").mkdir(exist_ok=True)
    with open(cfg, "a") as f:
        f.write(f'\n[spool]\ndir = "{tmp_path / "spool"}"\n')
    r = subprocess.run(
        [sys.executable, "-m", "tspush.cli.main", "run", "--config", str(cfg), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ("readable by group/others" in r.stderr) == warns, r.stdout + r.stderr


def test_relay_spool_of_the_receiver_is_owner_only(tmp_path: Path) -> None:
    from tspush.host.relay import Relay

    d = tmp_path / "db" / "relay-spool"
    relay = Relay("http://127.0.0.1:9", token=TOKEN, spool_dir=d)
    try:
        from tspush.core.point import Point

        relay.accept([Point("m", 1, 1700000000, {"a": "b"})])
    finally:
        relay.stop()
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    assert not any(TOKEN.encode() in f.read_bytes() for f in d.rglob("*") if f.is_file())

"""A spool directory that cannot be created: one line naming it and the fix, in
``tspush run --check`` already (it used to say OK, then ``run`` ended in a
traceback), at start-up, and for the relay's ``--spool-dir``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tspush.core.errors import SpoolError
from tspush.host.relay import Relay


def _config(tmp_path: Path, spool: Path) -> Path:
    p = tmp_path / "agent.toml"
    p.write_text(f'[spool]\ndir = "{spool}"\n[[outputs]]\nurl = "http://127.0.0.1:9"\n')
    p.chmod(0o600)
    return p


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TSPUSH_")}
    return subprocess.run(
        [sys.executable, "-m", "tspush.cli.main", "run", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


@pytest.mark.parametrize("check", [True, False])
def test_run_names_a_spool_dir_it_cannot_create(tmp_path: Path, check: bool) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    spool = blocker / "spool"
    r = _run("--config", str(_config(tmp_path, spool)), *(["--check"] if check else []))
    assert r.returncode != 0
    assert "Traceback" not in r.stderr and "config OK" not in r.stdout, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert str(spool) in lines[0] and "[spool] dir" in lines[0]
    assert "is not a directory" in lines[0] and "mkdir -p" in lines[0]


def test_run_check_passes_a_spool_dir_it_can_create(tmp_path: Path) -> None:
    r = _run("--config", str(_config(tmp_path, tmp_path / "new" / "spool")), "--check")
    assert r.returncode == 0 and "config OK" in r.stdout, r.stderr
    assert not (tmp_path / "new").exists()  # --check creates nothing


def test_relay_names_its_spool_dir(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(SpoolError) as e:
        Relay("http://127.0.0.1:9", token=None, spool_dir=blocker / "relay")
    assert "--spool-dir" in str(e.value) and str(blocker) in str(e.value)

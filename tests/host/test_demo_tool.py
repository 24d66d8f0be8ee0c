"""``bash tools/demo`` installs only when pyproject.toml changed, not at every start.

The venv here has no pip at all, so a run that tried to install would fail:
a run that succeeds proves the install was skipped, and a run after
pyproject.toml changed must try (and fail) to install.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _demo(repo: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(repo / "tools/demo"), "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "80"},
    )


def test_demo_tool_skips_the_install_while_pyproject_is_unchanged(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "tools").mkdir(parents=True)
    shutil.copy(ROOT / "tools/demo", repo / "tools/demo")
    shutil.copy(ROOT / "pyproject.toml", repo / "pyproject.toml")
    venv.create(repo / ".venv", with_pip=False)
    # tspush as already installed: the entry script of this checkout's venv
    shutil.copy(Path(sys.executable).parent / "tspush", repo / ".venv/bin/tspush")
    want = hashlib.sha256((repo / "pyproject.toml").read_bytes()).hexdigest()
    (repo / ".venv/.tspush-demo-installed").write_text(want + "\n")

    current = _demo(repo)
    assert current.returncode == 0, current.stderr
    assert "Usage: tspush demo" in current.stdout

    with (repo / "pyproject.toml").open("a") as f:
        f.write("\n# a dependency changed\n")
    changed = _demo(repo)
    assert changed.returncode != 0
    assert "No module named pip" in changed.stderr  # it tried to install

"""Run the real ``tspush`` console script in a clean environment."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

TSPUSH = str(Path(sys.executable).with_name("tspush"))


@pytest.fixture
def tspush(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``tspush(*args, input=None, env={}, cwd=None)``: runs the CLI with no user config."""
    home = tmp_path / "home"
    home.mkdir()

    def run(
        *args: str,
        input: str | None = None,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        timeout_s: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        e = {k: v for k, v in os.environ.items() if not k.startswith("TSPUSH_")}
        e.update({"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")})
        e.update(env or {})
        return subprocess.run(
            [TSPUSH, *args],
            input=input,
            capture_output=True,
            text=True,
            env=e,
            cwd=str(cwd or tmp_path),
            timeout=timeout_s,
        )

    return run

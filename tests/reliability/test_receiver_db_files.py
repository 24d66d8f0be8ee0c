"""The receiver's database is the owner's alone, and a --db it cannot make is one clear line.

Issue 13, item 12 (the database was 0644 in a 0755 directory) and "also
seen" (``--db`` in a directory that cannot be created ended in a traceback).
Run under the usual umask 022, so owner-only has to be chosen by the code.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import urllib3

from support.receiver import ReceiverProcess


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_database_directory_and_files_are_owner_only(tmp_path: Path) -> None:
    db = tmp_path / "new" / "dir" / "rx.sqlite"
    with ReceiverProcess(tmp_path, "--db", str(db)) as rx:
        body = json.dumps([{"metric": "m", "timestamp": 1_700_000_000, "value": 1}]).encode()
        r = urllib3.request("POST", rx.url + "/api/put", body=body, headers=rx.write_headers())
        assert r.status == 204
        files = sorted(p.name for p in db.parent.iterdir())
        assert "rx.sqlite-wal" in files  # the WAL exists while it runs: check it too
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in db.parent.iterdir()}
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
    assert all(m == 0o600 for n, m in modes.items() if n.startswith("rx.sqlite")), modes
    assert stat.S_IMODE(db.stat().st_mode) == 0o600


def _serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tspush.cli.main", "serve", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_a_db_directory_that_cannot_be_made_is_one_line_not_root(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    r = _serve("--db", str(locked / "sub" / "rx.sqlite"))
    assert r.returncode != 0 and "Traceback" not in r.stderr + r.stdout
    assert str(locked / "sub") in r.stderr and "--db" in r.stderr


@pytest.mark.parametrize("token_args", [[], ["--no-auth"]], ids=["made-tokens", "no-auth"])
def test_a_db_directory_that_cannot_be_made_is_one_line(
    tmp_path: Path, token_args: list[str]
) -> None:
    """A regular file in the way stops even root from making the directory."""
    (tmp_path / "file").write_text("in the way")
    target = tmp_path / "file" / "sub"
    r = _serve(*token_args, "--db", str(target / "rx.sqlite"))
    assert r.returncode != 0
    assert "Traceback" not in r.stderr + r.stdout, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    assert str(target) in lines[0] and "--db" in lines[0]


def test_a_db_that_is_a_directory_is_one_line(tmp_path: Path) -> None:
    r = _serve("--no-auth", "--db", str(tmp_path))
    assert r.returncode != 0 and "Traceback" not in r.stderr, r.stderr
    assert "is a directory" in r.stderr and "--db" in r.stderr

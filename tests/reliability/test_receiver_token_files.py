"""``tspush serve`` takes its tokens from files or the environment (issue 13, item 13).

A token on the command line is visible to every local user in ``ps``; the
docs now show only ``--token-file``/``--write-token-file``/``--read-token-file``/
``--forward-token-file`` and their ``TSPUSH_..._FILE`` variables.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
import urllib3

from support.receiver import ReceiverProcess

ROOT = Path(__file__).resolve().parents[2]
T = 1_700_000_000
WRITE = "w-token/from+a=file"
READ = "r-token-from-a-file"


def _token_file(path: Path, token: str) -> Path:
    path.write_text(token + "\n")
    path.chmod(0o600)
    return path


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(("x:" + token).encode()).decode()}


def _write_and_read(rx: ReceiverProcess, write: str, read: str, v: int) -> None:
    body = json.dumps([{"metric": "tf", "timestamp": T + v, "value": v}]).encode()
    r = urllib3.request("POST", rx.url + "/api/put", body=body, headers=_auth(write))
    assert r.status == 204, r.data
    if read != write:
        r = urllib3.request("POST", rx.url + "/api/put", body=body, headers=_auth(read))
        assert r.status == 401  # the read token does not write
    q = urllib3.request("GET", rx.url + f"/api/query?start={T}&m=sum:tf", headers=_auth(read))
    assert q.status == 200 and json.loads(q.data)[0]["dps"][str(T + v)] == v


def test_tokens_from_files_on_the_command_line(tmp_path: Path) -> None:
    w = _token_file(tmp_path / "write.token", WRITE)
    r = _token_file(tmp_path / "read.token", READ)
    with ReceiverProcess(tmp_path, "--write-token-file", str(w), "--read-token-file", str(r)) as rx:
        rx.write_token, rx.read_token = WRITE, READ
        _write_and_read(rx, WRITE, READ, 1)
        assert rx.proc is not None
        cmdline = " ".join(psutil.Process(rx.proc.pid).cmdline())
        assert WRITE not in cmdline and READ not in cmdline
    assert WRITE not in rx.text and READ not in rx.text


def test_tokens_from_file_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    one = _token_file(tmp_path / "one.token", WRITE)
    monkeypatch.setenv("TSPUSH_SERVE_TOKEN_FILE", str(one))
    with ReceiverProcess(tmp_path) as rx:
        _write_and_read(rx, WRITE, WRITE, 2)
    w = _token_file(tmp_path / "w", WRITE)
    r = _token_file(tmp_path / "r", READ)
    monkeypatch.delenv("TSPUSH_SERVE_TOKEN_FILE")
    monkeypatch.setenv("TSPUSH_WRITE_TOKEN_FILE", str(w))
    monkeypatch.setenv("TSPUSH_READ_TOKEN_FILE", str(r))
    with ReceiverProcess(tmp_path) as rx:
        _write_and_read(rx, WRITE, READ, 3)


def _serve(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("TSPUSH_")}
    e.update(env)
    return subprocess.run(
        [sys.executable, "-m", "tspush.cli.main", "serve", "--port", "0"]
        + ["--db", str(tmp_path / "x.sqlite"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=e,
    )


def test_a_missing_or_empty_token_file_is_one_clear_line(tmp_path: Path) -> None:
    r = _serve(tmp_path, "--token-file", str(tmp_path / "nope"))
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "--token-file" in r.stderr and str(tmp_path / "nope") in r.stderr
    empty = _token_file(tmp_path / "empty", "")
    r = _serve(tmp_path, "--write-token-file", str(empty), "--read-token-file", str(empty))
    assert r.returncode != 0 and "is empty" in r.stderr
    f = _token_file(tmp_path / "f", WRITE)
    r = _serve(tmp_path, "--token-file", str(f), TSPUSH_SERVE_TOKEN="other")
    assert r.returncode != 0 and "give one" in r.stderr
    assert WRITE not in r.stderr + r.stdout
    r = _serve(tmp_path, "--forward-token-file", str(f))
    assert r.returncode != 0 and "--forward" in r.stderr


def test_a_token_file_readable_by_others_gets_a_warning(tmp_path: Path) -> None:
    f = _token_file(tmp_path / "f", WRITE)
    f.chmod(0o644)
    with ReceiverProcess(tmp_path, "--token-file", str(f)) as rx:
        pass
    assert "readable by group/others" in rx.text and WRITE not in rx.text


@pytest.mark.parametrize(
    "name", ["README.md", "docs/cli.md", "docs/receiver.md", "docs/hardware.md"]
)
def test_serve_docs_show_no_token_on_the_command_line(name: str) -> None:
    text = (ROOT / name).read_text()
    serve_lines = [ln for ln in text.splitlines() if "serve" in ln or "--forward" in ln]
    found = [
        ln
        for ln in serve_lines
        if re.search(r"--(?:forward-|write-|read-)?token(?:[ =](?!-)\S+)", ln)
    ]
    assert not found, f"{name} shows a serve token on a command line: {found}"


def test_a_non_ascii_token_works_as_on_the_agents_listener(tmp_path: Path) -> None:
    """One token check (tspush.ingest.tokens): the UTF-8 bytes a client sends are compared.

    The receiver compared the header's latin-1 reading re-encoded as UTF-8, so
    a non-ASCII token never matched there, while the agent's listener took it.
    """
    token = "clé-été-ünïcode-42"
    f = tmp_path / "t.token"
    f.write_text(token + "\n", encoding="utf-8")
    f.chmod(0o600)
    body = json.dumps([{"metric": "tf", "timestamp": T + 7, "value": 7}]).encode()
    with ReceiverProcess(tmp_path, "--token-file", str(f)) as rx:
        answers = [
            urllib3.request("POST", rx.url + "/api/put", body=body, headers={"Authorization": a})
            for a in (
                b"Bearer " + token.encode(),
                b"Basic " + base64.b64encode(b"DESC:" + token.encode()),
                b"Bearer " + "clé-été-ünïcode-43".encode(),
                b"Bearer \xff\xfe",
            )
        ]
        read = {"Authorization": b"Bearer " + token.encode()}
        q = urllib3.request("GET", rx.url + f"/api/query?start={T}&m=sum:tf", headers=read)
    assert [a.status for a in answers] == [204, 204, 401, 401]
    assert q.status == 200 and json.loads(q.data)[0]["dps"] == {str(T + 7): 7}
    assert token not in rx.text

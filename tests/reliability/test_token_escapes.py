"""A token with ``/`` and ``+`` never shows, however a server escapes its echo.

Servers repeat what they were sent in JSON (``\\/``, ``\\uXXXX``), percent-
encoded, or as the Basic header itself. Before the fix, a token holding
``/`` leaked in 67 of 130 ``tspush push`` runs when echoed as ``\\/``, and in
clear in the agent's dead-letter file. Every text the commands wrote is
searched after undoing every escape, so a form the redaction misses fails.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest

from support.badserver import BadServer

from .agentproc import T0_MS, AgentProcess, put_line, wait_until, write_config
from .figures import record

TOKEN = "s3cr/et+T0KEN/with/slashes+plus-42"


def _unescape(text: str) -> str:
    text = text.replace("\\/", "/")
    text = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)
    return urllib.parse.unquote(text)


def _forms() -> list[str]:
    out = [TOKEN]
    for user in ("DESC", "metrics", "tspush", ""):
        b = base64.b64encode(f"{user}:{TOKEN}".encode()).decode()
        out += [b, b.replace("+", "-").replace("/", "_")]
    out.append(base64.b64encode(TOKEN.encode()).decode())
    return out


def assert_clean(where: str, text: str) -> None:
    for shown in (text, _unescape(text)):
        for f in _forms():
            assert f not in shown, f"{where}: token form {f[:6]}... found in:\n{text[-2000:]}"


def _token_file(tmp_path: Path) -> Path:
    tf = tmp_path / "token"
    tf.write_text(TOKEN + "\n")
    tf.chmod(0o600)
    return tf


@pytest.mark.parametrize("behaviour", ["echo", "echo400"])
@pytest.mark.parametrize("profile", ["ovh", "victoriametrics", "tspush"])
def test_push_never_shows_an_escaped_token(tmp_path: Path, profile: str, behaviour: str) -> None:
    with BadServer(then=behaviour) as srv:
        r = subprocess.run(
            [sys.executable, "-m", "tspush.cli.main", "push", "esc.t", "1", "-v"]
            + ["--url", srv.url, "--profile", profile, "--token-file", str(_token_file(tmp_path))],
            capture_output=True,
            text=True,
            timeout=60,
            env={k: v for k, v in os.environ.items() if not k.startswith("TSPUSH_")},
        )
    out = r.stdout + r.stderr
    assert srv.requests, "no request reached the server: this proves nothing"
    sent = srv.requests[0].headers.get("authorization", "")
    assert TOKEN in sent or base64.b64encode(f"DESC:{TOKEN}".encode()).decode() in sent
    assert r.returncode == (3 if behaviour == "echo" else 6), out  # token / refused
    assert "***" in out, out  # the echo reached the output, masked
    assert_clean("push output", out)


def test_agent_dead_letter_log_and_status_hold_no_form_of_the_token(tmp_path: Path) -> None:
    n = 5
    with BadServer(then="echo400") as srv:
        cfg = write_config(
            tmp_path / "agent.toml",
            srv.url,
            tmp_path / "spool",
            profile="ovh",
            extra_output=f'token_file = "{_token_file(tmp_path)}"',
        )
        agent = AgentProcess(cfg, tmp_path / "agent.log").start()
        dead = tmp_path / "spool" / "dead-letter.jsonl"

        def dead_lines() -> list[dict[str, object]]:
            if not dead.exists():
                return []
            return [json.loads(line) for line in dead.read_text().splitlines() if line]

        try:
            agent.feed([put_line(i) for i in range(n)])
            assert wait_until(lambda: len(dead_lines()) >= n, 60), agent.log()
            status = subprocess.run(
                [sys.executable, "-m", "tspush.cli.main", "status", "--config", str(cfg)],
                capture_output=True,
                text=True,
                timeout=60,
            ).stdout
        finally:
            agent.stop()
    assert any("authorization" in r.headers for r in srv.requests)
    lines = dead_lines()
    # the points are all there, read back from the dead-letter file
    assert sorted(d["point"]["timestamp"] for d in lines) == [T0_MS + i for i in range(n)]  # type: ignore[index]
    for d in lines:
        reason = str(d["reason"])
        assert "refused for this metric" in reason and "***" in reason, reason
        assert "REVTQz" not in reason and "Authorization" not in reason, reason
    for name, text in (
        ("dead-letter file", dead.read_text()),
        ("agent log", agent.log()),
        ("status", status),
        ("state file", (tmp_path / "spool" / "state.json").read_text()),
    ):
        assert_clean(name, text)
    record("token_escapes_agent", dead_letters=len(lines), forms_checked=len(_forms()))

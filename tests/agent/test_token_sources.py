"""Tokens from files and environment variables, never the command line (``ps`` shows it).

``tspush push`` takes ``--token-file`` and ``TSPUSH_TOKEN``/``TSPUSH_TOKEN_FILE``;
the agent's outputs ``token_file``/``token_env``, and now its
``http_listener`` device token too. The docs show only those.
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from support.badserver import BadServer
from tspush.core.errors import ConfigError
from tspush.host.agent_config import load

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "device/T0KEN+from-a-file"


def test_cli_and_agent_docs_show_no_token_on_a_command_line() -> None:
    for name in ("docs/cli.md", "docs/agent.md"):
        text = (ROOT / name).read_text()
        found = re.findall(r"--(?:forward-|write-|read-)?token(?:[ =]\S+)", text)
        assert not found, f"{name} shows a token on a command line: {found}"
        assert "--token-file" in text or "token_file" in text, name


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("TSPUSH_")}


@pytest.mark.parametrize("how", ["TSPUSH_TOKEN_FILE", "TSPUSH_TOKEN"])
def test_push_takes_the_token_from_the_environment(tmp_path: Path, how: str) -> None:
    tf = tmp_path / "token"
    tf.write_text(TOKEN + "\n")
    tf.chmod(0o600)
    env = _env()
    env[how] = str(tf) if how == "TSPUSH_TOKEN_FILE" else TOKEN
    with BadServer(then="ok") as srv:
        r = subprocess.run(
            [sys.executable, "-m", "tspush.cli.main", "push", "m", "1", "--url", srv.url],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
    assert r.returncode == 0, r.stderr
    sent = srv.requests[0].headers["authorization"]
    assert base64.b64decode(sent.split()[1]).decode() == "DESC:" + TOKEN
    assert TOKEN not in r.stdout + r.stderr


def _listener_config(tmp_path: Path, line: str) -> Path:
    p = tmp_path / "agent.toml"
    p.write_text(
        f"""
[spool]
dir = "{tmp_path / "spool"}"
[[sources]]
type = "http_listener"
{line}
[[outputs]]
url = "http://127.0.0.1:9"
"""
    )
    p.chmod(0o600)
    return p


def test_listener_device_token_from_a_file_or_a_variable(tmp_path: Path) -> None:
    tf = tmp_path / "device-token"
    tf.write_text(TOKEN + "\n")
    tf.chmod(0o600)
    cfg = load(_listener_config(tmp_path, f'token_file = "{tf}"'), environ={})
    assert cfg.sources[0].options["token"] == TOKEN
    assert "token_file" not in cfg.sources[0].options
    assert any(TOKEN in f for f in cfg.secrets())  # masked in the logs
    cfg = load(_listener_config(tmp_path, 'token_env = "DEV_TOK"'), environ={"DEV_TOK": TOKEN})
    assert cfg.sources[0].options["token"] == TOKEN


def test_listener_token_problems_name_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        load(_listener_config(tmp_path, 'token_env = "DEV_TOK"'), environ={})
    assert "sources[0].token_env: the variable DEV_TOK is not set" in str(e.value)
    with pytest.raises(ConfigError) as e:
        load(_listener_config(tmp_path, f'token_file = "{tmp_path / "nope"}"'), environ={})
    assert "token_file: cannot read" in str(e.value) and "nope" in str(e.value)
    # tspush status needs no token: a missing variable is no problem there
    cfg = load(_listener_config(tmp_path, 'token_env = "DEV_TOK"'), environ={}, need_tokens=False)
    assert "token" not in cfg.sources[0].options

"""`tspush` alone helps a newcomer: every command, its whole summary, the exit codes."""

from __future__ import annotations

import subprocess
import sys

from tspush.cli.main import COMMANDS, SUMMARIES


def _tspush(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tspush.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"COLUMNS": "80", "PATH": "/usr/bin:/bin"},
    )


def test_tspush_alone_prints_the_help_and_exits_0() -> None:
    r = _tspush()
    assert r.returncode == 0, r.stderr
    assert r.stdout == _tspush("--help").stdout
    for name in COMMANDS:
        line = next(x for x in r.stdout.splitlines() if x.strip().startswith(name + " "))
        assert line.split(None, 1)[1] == SUMMARIES[name]  # whole, on one line
    commands = r.stdout.split("Commands:")[1]
    assert "..." not in commands and "…" not in commands
    assert "7 the spool is in use" in " ".join(r.stdout.split())


def test_an_unknown_command_is_a_usage_error() -> None:
    r = _tspush("nosuch")
    assert r.returncode == 2
    assert "No such command 'nosuch'" in r.stderr


def test_fingerprint_help_says_the_default_port() -> None:
    r = _tspush("fingerprint", "--help")
    assert r.returncode == 0
    assert "port 443 when none is given" in " ".join(r.stdout.split())


def test_push_help_lists_the_exit_codes() -> None:
    text = " ".join(_tspush("push", "--help").stdout.split())
    for code in ("2 bad usage", "3 the token was refused", "4 TLS", "5 network", "6 the server"):
        assert code in text


def test_config_is_explained_one_way_everywhere() -> None:
    from tspush.host.config import CONFIG_HELP

    for cmd in ("push", "run", "status", "deploy"):
        text = " ".join(
            _tspush(
                cmd,
                "--help",
            ).stdout.split()
        )
        assert CONFIG_HELP in text, cmd


def test_every_flash_option_says_what_it_is() -> None:
    text = " ".join(_tspush("flash", "--help").stdout.split())
    assert "--chip [esp32|esp32c3|esp32s3|esp8266] The board's chip" in text
    assert "--baud INTEGER Serial speed" in text

"""``tspush run`` in the foreground says what each output does: sent, pending, last error."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable
from pathlib import Path

from support.ports import free_port
from support.receiver import READ_TOKEN, WRITE_TOKEN, ReceiverProcess


def _summaries(lines: list[str], output: str) -> list[dict[str, str]]:
    out = []
    for ln in lines:
        if 'msg="output summary"' in ln and " output=%s " % output in ln:
            out.append(dict(re.findall(r'(\w+)=("[^"]*"|\S+)', ln)))
    return out


def _run_until(cfg: Path, done: Callable[[list[str]], bool]) -> list[str]:
    """Run ``tspush run --config cfg`` until ``done(stderr lines so far)``; its lines."""
    cfg.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TSPUSH_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tspush.cli.main", "run", "--config", str(cfg)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    lines: list[str] = []
    enough = threading.Event()

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if done(lines):
                enough.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert enough.wait(90), "".join(lines)
    finally:
        proc.terminate()
        proc.wait(30)
        reader.join(10)
    return lines


def test_run_prints_a_summary_line_per_output(tmp_path: Path) -> None:
    down = free_port()  # nothing listens there
    with ReceiverProcess(tmp_path / "rx") as rx:
        cfg = tmp_path / "tspush.toml"
        cfg.write_text(
            f"""
[agent]
interval_s = 0.5
timestamp_unit = "ms"
self_metrics_interval_s = 0
summary_interval_s = 1
[spool]
dir = "{tmp_path / "spool"}"
[[sources]]
type = "constant"
metric = "universe"
value = 42
[[outputs]]
name = "live"
url = "{rx.url}"
profile = "tspush"
token = "{WRITE_TOKEN}"
flush_interval_s = 0.2
[[outputs]]
name = "gone"
url = "http://127.0.0.1:{down}"
profile = "tspush"
token = "{WRITE_TOKEN}"
flush_interval_s = 0.2
"""
        )

        def enough(lines: list[str]) -> bool:
            live, gone = _summaries(lines, "live"), _summaries(lines, "gone")
            return len(live) >= 3 and len(gone) >= 3 and "last_error" in gone[-1]

        lines = _run_until(cfg, enough)
        url = rx.url + "/api/query?start=1h-ago&msResolution=true&m=sum:universe"
        req = urllib.request.Request(url, headers=rx.read_headers())
        with urllib.request.urlopen(req, timeout=30) as r:
            stored = json.loads(r.read())[0]["dps"]
    live, gone = _summaries(lines, "live"), _summaries(lines, "gone")
    # what the live output says it sent is what the receiver holds (by the time it stopped)
    assert sum(int(s["sent"]) for s in live) >= 1
    assert sum(int(s["sent"]) for s in live) <= len(stored)
    assert all(s["sent"] == "0" for s in gone)
    assert int(gone[-1]["pending"]) >= 1
    assert "cannot connect to 127.0.0.1:%d" % down in gone[-1]["last_error"]
    # still failing: every later line repeats the error, not only the first after it
    failing = [s for s in gone if "retrying" in s]
    assert failing and all("last_error" in s for s in failing)
    assert WRITE_TOKEN not in "".join(lines) and READ_TOKEN not in "".join(lines)


def test_the_first_summary_comes_soon_after_the_start(tmp_path: Path) -> None:
    """With the default interval (60 s) a newcomer does not wait a minute to see it work."""
    with ReceiverProcess(tmp_path / "rx") as rx:
        cfg = tmp_path / "tspush.toml"
        cfg.write_text(
            f"""
[agent]
interval_s = 1
self_metrics_interval_s = 0
[spool]
dir = "{tmp_path / "spool"}"
[[sources]]
type = "constant"
metric = "universe"
value = 42
[[outputs]]
name = "main"
url = "{rx.url}"
profile = "tspush"
token = "{WRITE_TOKEN}"
flush_interval_s = 0.5
"""
        )
        lines = _run_until(cfg, lambda lines: 'msg="output summary"' in lines[-1])
    started = next(ln for ln in lines if 'msg="agent started"' in ln)
    summary = _summaries(lines, "main")[0]

    def stamp(line: str) -> float:
        from datetime import datetime

        return datetime.fromisoformat(line.split()[0].removeprefix("ts=")).timestamp()

    # 10 s after the start by the agent's own log stamps: well before the 60 s interval
    assert stamp(started) + 5 <= stamp("ts=" + summary["ts"]) <= stamp(started) + 45
    assert int(summary["sent"]) >= 1

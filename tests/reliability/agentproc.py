"""Run the real agent (``tspush run``) as a subprocess fed through stdin.

Points are ``put`` lines with unique millisecond timestamps, so every point
can be found (or found twice) in the database afterwards.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

METRIC = "rel.point"
T0_MS = 1_700_000_000_000


def put_line(i: int, metric: str = METRIC, run: str = "r") -> str:
    return f"put {metric} {T0_MS + i} {i} run={run}\n"


def write_config(
    path: Path,
    url: str,
    spool_dir: Path,
    *,
    profile: str = "victoriametrics",
    token: str | None = None,
    read_timeout_s: float = 2.0,
    connect_timeout_s: float = 1.0,
    flush_interval_s: float = 0.2,
    retry_cap_s: float = 1.0,
    segment_bytes: int = 65536,
    max_bytes: int = 64 << 20,
    extra_output: str = "",
    state_file: Path | None = None,
    self_metrics_interval_s: float = 0,
) -> Path:
    lines = [
        "[agent]",
        "interval_s = 0.1",
        f"self_metrics_interval_s = {self_metrics_interval_s}",
        "state_interval_s = 0.3",
        'log_level = "info"',
    ]
    if state_file is not None:
        lines.append(f'state_file = "{state_file}"')
    lines += [
        "",
        "[spool]",
        f'dir = "{spool_dir}"',
        f"segment_bytes = {segment_bytes}",
        f"max_bytes = {max_bytes}",
        "",
        "[[sources]]",
        'type = "stdin"',
        'name = "in"',
        "interval_s = 0.1",
        "",
        "[[outputs]]",
        'name = "db"',
        f'url = "{url}"',
        f'profile = "{profile}"',
        f"flush_interval_s = {flush_interval_s}",
        "flush_jitter_s = 0",
        "retry_backoff_s = 0.1",
        f"retry_cap_s = {retry_cap_s}",
        "retry_jitter = 0",
        f"read_timeout_s = {read_timeout_s}",
        f"connect_timeout_s = {connect_timeout_s}",
    ]
    if token:
        lines.append(f'token = "{token}"')
    if extra_output:
        lines.append(extra_output)
    path.write_text("\n".join(lines) + "\n")
    os.chmod(path, 0o600)
    return path


class AgentProcess:
    """``tspush run --config FILE`` with stdin as a pipe and stderr in a file."""

    def __init__(self, config: Path, log_path: Path, env: dict[str, str] | None = None) -> None:
        self.config = config
        self.log_path = log_path
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> AgentProcess:
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tspush.cli.main", "run", "--config", str(self.config)],
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
        )
        log.close()
        return self

    def feed(self, lines: list[str]) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write("".join(lines).encode())
        self.proc.stdin.flush()

    def rss_bytes(self) -> int:
        assert self.proc is not None
        return int(psutil.Process(self.proc.pid).memory_info().rss)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout_s: float = 15.0) -> int:
        """SIGTERM and wait; returns the exit code (SIGKILL after ``timeout_s``)."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self.proc.stdin:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        return int(self.proc.returncode)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def wait_until(pred: object, timeout_s: float, step_s: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if pred():  # type: ignore[operator]
            return True
        time.sleep(step_s)
    return bool(pred())  # type: ignore[operator]

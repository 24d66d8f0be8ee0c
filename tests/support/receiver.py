"""``tspush serve`` as a real subprocess on a free loopback port (contract 8).

    with ReceiverProcess(tmp_path, "--strict") as rx:   # tokens: rx.write_token / rx.read_token
        urllib3.request("POST", rx.url + "/api/put", body=..., headers=rx.write_headers())

The database is ``tmp_path/receiver.sqlite`` unless ``--db`` is given, so a
second ReceiverProcess on the same tmp_path sees the same data (restarts).
Pass ``"--no-auth"`` to run without tokens. Output is kept in ``.output``.
"""

from __future__ import annotations

import base64
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

WRITE_TOKEN = "test-write-token-0123456789"
READ_TOKEN = "test-read-token-9876543210"
# serve's own token variables: when a test sets one, it decides the tokens
SERVE_TOKEN_VARS = ("TSPUSH_SERVE_TOKEN", "TSPUSH_WRITE_TOKEN", "TSPUSH_READ_TOKEN")


class ReceiverProcess:
    """Start ``tspush serve --port 0``, wait until it answers, stop or kill it."""

    def __init__(
        self,
        tmp_path: Path,
        *args: str,
        timeout_s: float = 30.0,
        preexec_fn: Callable[[], None] | None = None,
    ) -> None:
        self.tmp_path = Path(tmp_path)
        self.preexec_fn = preexec_fn  # e.g. set an rlimit in the child
        self.args = list(args)
        self.write_token: str | None = None
        self.read_token: str | None = None
        if (
            "--no-auth" not in self.args
            and not any(
                a.startswith(("--token", "--write-token", "--read-token")) for a in self.args
            )
            and not any(k.startswith("TSPUSH_") and "TOKEN" in k for k in os.environ)
        ):
            self.write_token, self.read_token = WRITE_TOKEN, READ_TOKEN
            self.args += ["--write-token", WRITE_TOKEN, "--read-token", READ_TOKEN]
        if "--db" not in self.args:
            self.args += ["--db", str(self.tmp_path / "receiver.sqlite")]
        if "--port" not in self.args:
            self.args += ["--port", "0"]
        self.output: list[str] = []
        self.url = ""
        self.proc: subprocess.Popen[str] | None = None
        self._started = threading.Event()
        self.start(timeout_s)

    def start(self, timeout_s: float = 30.0) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tspush.cli.main", "serve", *self.args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            preexec_fn=self.preexec_fn,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._started.wait(timeout_s):
            self.kill()
            raise RuntimeError("tspush serve did not start:\n" + self.text)
        self._wait_answering(timeout_s)

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)
            m = re.match(r"listening on (\S+)", line)
            if m:
                self.url = m.group(1)
                self._started.set()
        self._started.set()

    def _wait_answering(self, timeout_s: float) -> None:
        import ssl

        ctx = ssl._create_unverified_context()
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with urllib.request.urlopen(self.url + "/api/version", timeout=2, context=ctx):
                    return
            except (OSError, urllib.error.URLError):
                if time.monotonic() > deadline or (self.proc and self.proc.poll() is not None):
                    raise RuntimeError("tspush serve does not answer:\n" + self.text) from None
                time.sleep(0.05)

    @property
    def text(self) -> str:
        return "".join(self.output)

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def write_headers(self, scheme: str = "basic") -> dict[str, str]:
        return _auth(self.write_token, scheme)

    def read_headers(self, scheme: str = "basic") -> dict[str, str]:
        return _auth(self.read_token, scheme)

    def stop(self, timeout_s: float = 15.0) -> int:
        """SIGINT (Ctrl-C), wait; returns the exit code."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(5)  # the last lines ("stopped") are in .output
        return int(self.proc.returncode)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
            self._reader.join(5)

    def __enter__(self) -> ReceiverProcess:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def _auth(token: str | None, scheme: str) -> dict[str, str]:
    if not token:
        return {}
    if scheme == "bearer":
        return {"Authorization": "Bearer " + token}
    return {"Authorization": "Basic " + base64.b64encode(("DESC:" + token).encode()).decode()}

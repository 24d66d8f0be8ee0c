"""Store-and-forward gateway: points the local receiver accepted go on to an upstream.

Boards on the LAN post to ``tspush serve`` (a device token, plain HTTP allowed
there); ``accept`` puts their points in a spool on disk (fsync'd before it
returns) and an output thread forwards them over verified TLS with the
upstream token, with the agent's retry, split and dead-letter rules. This is
how an ESP8266, which cannot check a modern certificate, reaches a real
platform safely.

A watchdog thread restarts the sender if it ever ends, and writes
``state.json`` in the spool directory, so ``tspush status --state-file
DIR/state.json`` shows the relay as it shows the agent.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tspush.core.point import Point
from tspush.core.retry import Retry
from tspush.core.spool import Spool
from tspush.host import config as hconfig
from tspush.host.agent_config import OutputConfig
from tspush.host.spoollock import lock_spool

OUTPUT_NAME = "upstream"
STATE_FILE = "state.json"


class Relay:
    def __init__(
        self,
        url: str,
        *,
        token: str | None,
        profile: str = "ovh",
        spool_dir: Path,
        fingerprint: str | None = None,
        ca_file: str | None = None,
        insecure: bool = False,
        flush_interval_s: float = 1.0,
        retry: Retry | None = None,
        log: Callable[..., None] | None = None,
        state_interval_s: float = 2.0,
    ) -> None:
        from tspush.core.auth import secret_forms
        from tspush.host.agent import Logger
        from tspush.host.output import Output

        settings = hconfig.Settings(
            url=url,
            token=token or None,
            profile=profile,
            fingerprint=fingerprint,
            ca_file=ca_file,
            insecure=insecure,
        )
        self.cfg = OutputConfig(
            name=OUTPUT_NAME,
            settings=settings,
            flush_interval_s=flush_interval_s,
            flush_jitter_s=min(0.2, flush_interval_s / 5),
            retry=retry or Retry(backoff_s=1.0, cap_s=60.0, auth_backoff_s=60.0),
        )
        self.profile = self.cfg.profile()  # an unknown profile fails here, before start
        self.log = log or Logger(secrets=secret_forms(token, self.profile.auth_user))
        self.spool_dir = Path(spool_dir)
        self._lock_file = lock_spool(self.spool_dir, "--spool-dir")
        self.spool = Spool(str(self.spool_dir), outputs=[OUTPUT_NAME], lock=threading.RLock())
        self.output = Output(
            self.cfg,
            self.spool,
            log=self.log,
            dead_letter_path=self.spool_dir / "dead-letter.jsonl",
        )
        self.accepted = 0
        self.started_s = time.time()
        self.state_path = self.spool_dir / STATE_FILE
        self.state_interval_s = state_interval_s
        self._stop = threading.Event()
        self._watchdog = threading.Thread(target=self._watch, name="tspush-relay", daemon=True)

    def _watch(self) -> None:
        while not self._stop.wait(self.state_interval_s):
            try:
                self.output.check_threads()
                self.write_state()
            except Exception as e:  # noqa: BLE001 - the watchdog itself must not die
                self.log("error", "relay housekeeping failed, will retry: %r" % e)

    def write_state(self) -> None:
        from tspush.host.status import write_state

        doc = {
            "pid": os.getpid(),
            "started_s": self.started_s,
            "updated_s": time.time(),
            "stopped": self._stop.is_set(),
            "spool_dir": str(self.spool_dir),
            "spool_points": self.spool.points(),
            "accepted": self.accepted,
            "outputs": {OUTPUT_NAME: self.output.state()},
            "sources": {},
        }
        try:
            write_state(self.state_path, doc)
        except OSError as e:
            self.log("warning", "cannot write the state file: %s" % e, path=str(self.state_path))

    def start(self) -> None:
        self.log(
            "info",
            "relay forwarding",
            upstream=self.output.state()["url"],
            pending=self.spool.pending(OUTPUT_NAME),
        )
        self.output.start()
        self._watchdog.start()

    def accept(self, points: list[Point]) -> None:
        """Spool ``points`` durably (fsync) before returning; the output sends them later."""
        if not points:
            return
        self.spool.append(list(points), now_ts=int(time.time()))
        self.accepted += len(points)
        self.output.wake()

    def pending(self) -> int:
        return self.spool.pending(OUTPUT_NAME)

    def state(self) -> dict[str, Any]:
        st = self.output.state()
        st["accepted"] = self.accepted
        return st

    def stop(self) -> None:
        self._stop.set()
        if self._watchdog.ident is not None:
            self._watchdog.join(5)
        self.output.stop()
        self.write_state()
        self.spool.close()
        self._lock_file.close()

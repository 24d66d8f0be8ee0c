"""Store-and-forward gateway: points the local receiver accepted go on to an upstream.

Boards on the LAN post to ``tspush serve`` (a device token, plain HTTP allowed
there); ``accept`` puts their points in a spool on disk (fsync'd before it
returns) and an output thread forwards them over verified TLS with the
upstream token, with the agent's retry, split and dead-letter rules. This is
how an ESP8266, which cannot check a modern certificate, reaches a real
platform safely.
"""

from __future__ import annotations

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
        self._lock_file = lock_spool(self.spool_dir)
        self.spool = Spool(str(self.spool_dir), outputs=[OUTPUT_NAME], lock=threading.RLock())
        self.output = Output(
            self.cfg,
            self.spool,
            log=self.log,
            dead_letter_path=self.spool_dir / "dead-letter.jsonl",
        )
        self.accepted = 0

    def start(self) -> None:
        self.log(
            "info",
            "relay forwarding",
            upstream=self.output.state()["url"],
            pending=self.spool.pending(OUTPUT_NAME),
        )
        self.output.start()

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
        self.output.stop()
        self.spool.close()
        self._lock_file.close()

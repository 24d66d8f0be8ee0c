"""Store-and-forward gateway: points the local receiver accepted go on to an upstream.

Boards on the LAN post to ``tspush serve`` (a device token, plain HTTP allowed
there); ``accept`` puts their points in a spool on disk (fsync'd before it
returns) and an output thread forwards them over verified TLS with the
upstream token, with the agent's retry, split and dead-letter rules. This is
how an ESP8266, which cannot check a modern certificate, reaches a real
platform safely.

The relay is an ``Agent`` with no sources and one output, ``upstream``: the
same spool, lock, sender supervision, state file (``state.json`` in the spool
directory, for ``tspush status --state-file``), summary lines and stop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tspush.core.point import Point
from tspush.core.retry import Retry
from tspush.host import config as hconfig
from tspush.host.agent import Agent
from tspush.host.agent_config import AgentConfig, OutputConfig, SpoolConfig

OUTPUT_NAME = "upstream"
STATE_FILE = "state.json"


def relay_config(
    url: str,
    *,
    token: str | None,
    profile: str,
    spool_dir: Path,
    fingerprint: str | None = None,
    ca_file: str | None = None,
    insecure: bool = False,
    flush_interval_s: float = 1.0,
    retry: Retry | None = None,
    state_interval_s: float = 2.0,
) -> AgentConfig:
    """The agent config of a relay: no sources, one output named ``upstream``."""
    settings = hconfig.Settings(
        url=url,
        token=token or None,
        profile=profile,
        fingerprint=fingerprint,
        ca_file=ca_file,
        insecure=insecure,
    )
    out = OutputConfig(
        name=OUTPUT_NAME,
        settings=settings,
        flush_interval_s=flush_interval_s,
        flush_jitter_s=min(0.2, flush_interval_s / 5),
        retry=retry or Retry(backoff_s=1.0, cap_s=60.0, auth_backoff_s=60.0),
    )
    out.profile()  # an unknown profile fails here, before anything starts
    return AgentConfig(
        path=None,
        spool=SpoolConfig(dir=spool_dir),
        sources=[],
        outputs=[out],
        self_metrics_interval_s=0,
        state_file=spool_dir / STATE_FILE,
        state_interval_s=state_interval_s,
        shutdown_flush_s=2.0,
    )


class Relay(Agent):
    """``tspush serve --forward``: the receiver hands each accepted batch to ``accept``."""

    def __init__(
        self,
        url: str,
        *,
        spool_dir: Path,
        log: Callable[..., None] | None = None,
        **options: Any,
    ) -> None:
        """``options``: those of ``relay_config`` (token, profile, fingerprint, ...)."""
        self.spool_dir = Path(spool_dir)
        options.setdefault("profile", "ovh")
        cfg = relay_config(url, spool_dir=self.spool_dir, **options)
        super().__init__(cfg, log=log, sources=[], spool_key="--spool-dir")
        self.output = self.outputs[0]
        self.state_path = cfg.state_file
        self.accepted = 0

    def accept(self, points: list[Point]) -> None:
        """Spool ``points`` durably (fsync) before returning; the output sends them later."""
        if not points:
            return
        self.accepted += self.append(list(points), int(time.time()), "receiver")
        self.output.wake()

    def pending(self) -> int:
        return self.spool.pending(OUTPUT_NAME)

    def state(self) -> dict[str, Any]:
        st = super().state()
        st["accepted"] = self.accepted
        return st

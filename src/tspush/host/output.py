"""One output on a thread: a keep-alive Transport, a spool cursor and a retry policy.

The decisions (ack, dead-letter, split, back off, stop on a bad token) are
``core.forward.Forwarder``'s, shared with the board; this module adds the
computer's parts: the urllib3 transport, the profile's wire format, a flush
interval with jitter, and a wake-up when a full batch is waiting.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tspush.core import forward
from tspush.core.opentsdb import encode_point
from tspush.core.spool import Spool, decode_point
from tspush.host import profiles
from tspush.host.agent_config import OutputConfig
from tspush.host.transport import Transport

LogFn = Callable[..., None]


class Sender:
    """``send(body, details)`` for the Forwarder: one POST, the raw answer back."""

    def __init__(self, transport: Transport, profile: profiles.Profile) -> None:
        self.transport = transport
        self.profile = profile
        self.path = profiles.request_path(profile, transport.base_path)
        self.secrets = transport.secrets

    def __call__(self, body: bytes, details: bool) -> tuple[int, dict[str, str], bytes]:
        path = self.path
        if details and self.profile.supports_details and "details" not in path:
            path += ("&" if "?" in path else "?") + "details"
        reply = self.transport.post(path, body, content_type=self.profile.content_type)
        return reply.status, reply.headers, reply.body


def _needs_prepare(profile: profiles.Profile) -> bool:
    return bool(
        profile.host_tag
        or profile.stamp_missing
        or profile.mode == "strict"
        or profile.default_tags
    )


class Output:
    """Runs ``Forwarder.step`` until stopped; sleeps per its answer or the flush interval."""

    def __init__(
        self,
        cfg: OutputConfig,
        spool: Spool,
        *,
        log: LogFn,
        dead_letter_path: Path | None = None,
        transport: Transport | None = None,
    ) -> None:
        self.cfg = cfg
        self.name = cfg.name
        self.spool = spool
        self.log = log
        self.profile = cfg.profile()
        settings = cfg.settings
        self.transport = transport or settings.make_transport(
            warn=lambda m: log("warning", m, output=cfg.name)
        )
        self.sender = Sender(self.transport, self.profile)
        details = cfg.details if cfg.details is not None else self.profile.supports_details
        raw = self.profile.format == "opentsdb"
        self.forwarder = forward.Forwarder(
            spool,
            cfg.name,
            self.sender,
            max_points=self.profile.max_points,
            max_bytes=self.profile.max_bytes,
            retry=cfg.retry,
            details=details,
            encode=None if raw else self._encode,
            prepare=self._prepare if _needs_prepare(self.profile) else None,
            log=self._log,
            dead_letter_path=str(dead_letter_path) if dead_letter_path else None,
        )
        self._batcher = profiles.batcher_for(self.profile, self.sender.path)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._rand = random.Random()

    def _log(self, level: str, message: str) -> None:
        self.log(level, message, output=self.name)

    def _encode(self, records: list[bytes]) -> bytes:
        points = [decode_point(r) for r in records]
        bodies = list(self._batcher(points, max_points=len(points) + 1, max_bytes=1 << 30))
        return b"".join(b for b, _ in bodies)

    def _prepare(self, records: list[bytes]) -> tuple[list[bytes], list[tuple[bytes, str]]]:
        points = [decode_point(r) for r in records]
        ok, refused = profiles.prepare(self.profile, points, now_s=int(time.time()))
        dead = [(encode_point(e.point), str(e)) for e in refused]
        return [encode_point(p) for p in ok], dead

    # -- the thread -------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.run, name="tspush-out-" + self.name, daemon=True
        )
        self._thread.start()

    def wake(self) -> None:
        """A full batch is waiting: do not sit out the flush interval."""
        self._wake.set()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self.transport.close()

    def backing_off(self) -> bool:
        """The last try failed (the server is down or refuses the token)."""
        return self.forwarder.attempt > 0 or self.forwarder.auth_failed

    def flush_wait_s(self) -> float:
        j = self.cfg.flush_jitter_s
        return max(0.0, self.cfg.flush_interval_s + (self._rand.uniform(-j, j) if j else 0.0))

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                outcome, wait_s = self.forwarder.step()
            except Exception as e:  # noqa: BLE001 - an output never dies; it reports and waits
                self._log("error", "unexpected failure, retrying: %r" % e)
                outcome, wait_s = forward.KEPT, self.cfg.retry.delay_s(1)
            if outcome == forward.SENT:
                if self.spool.pending(self.name) >= self.forwarder.max_points:
                    continue
                wait_s = self.flush_wait_s()
            elif outcome == forward.EMPTY:
                wait_s = self.flush_wait_s()
            self._wake.clear()
            if outcome in (forward.SENT, forward.EMPTY):
                self._wake.wait(wait_s)
            else:
                # Backing off: only stopping cuts the wait short.
                self._stop.wait(wait_s)

    def state(self) -> dict[str, Any]:
        st = self.forwarder.state()
        st.update(self.spool.stats(self.name))
        st["url"] = self.transport.display_url(self.sender.path)
        st["profile"] = self.profile.name
        return st

"""Connections that send nothing useful cannot crowd out the boards.

uvicorn keeps a connection that never sends a request until the client goes
away, and counts it against its concurrency limit: a thousand idle sockets
(or completed TLS handshakes) used to get every board a 503. Here, on
uvicorn's own HTTP protocol:

- a connection must send a complete request head within ``header_timeout_s``
  of opening (or of the first byte of its next request), else it is closed;
- one client address holds at most ``max_per_client`` connections, and the
  whole server ``max_total``: past that, the oldest connection with no
  request in progress is closed to make room (a new connection always gets
  its chance); only when every one is busy with a request is the new one
  refused.

Refused and timed-out connections are counted and logged at most once a
minute, so a flood does not flood the log too.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("tspush.receiver")

LOG_EVERY_S = 60.0


class ConnectionGuard:
    """Counts of one server's connections, by client address, oldest first."""

    def __init__(
        self, header_timeout_s: float = 5.0, max_per_client: int = 256, max_total: int = 4096
    ) -> None:
        self.header_timeout_s = header_timeout_s
        self.max_per_client = max_per_client
        self.max_total = max_total
        self.by_client: dict[str, dict[GuardedProtocol, None]] = {}
        self.all: dict[GuardedProtocol, None] = {}
        self.counts = {"timed_out": 0, "evicted": 0, "refused": 0}
        self._logged = dict(self.counts)
        self._last_log = 0.0

    def admit(self, conn: GuardedProtocol) -> bool:
        """Make room for ``conn`` (closing older idle ones if need be); False to refuse it."""
        mine = self.by_client.setdefault(conn.client_host, {})
        if len(mine) >= self.max_per_client and not self._evict_from(mine):
            self.note("refused")
            return False
        if len(self.all) >= self.max_total and not self._evict_from(self.all):
            self.note("refused")
            return False
        mine[conn] = None
        self.all[conn] = None
        return True

    def leave(self, conn: GuardedProtocol) -> None:
        self.all.pop(conn, None)
        mine = self.by_client.get(conn.client_host)
        if mine is not None:
            mine.pop(conn, None)
            if not mine:
                del self.by_client[conn.client_host]

    def _evict_from(self, conns: dict[GuardedProtocol, None]) -> bool:
        for old in conns:  # oldest first
            if not old.busy():
                old.drop()
                self.note("evicted")
                return True
        return False

    def note(self, what: str) -> None:
        self.counts[what] += 1
        now = time.monotonic()
        if now - self._last_log < LOG_EVERY_S:
            return
        self._last_log = now
        new = {k: v - self._logged[k] for k, v in self.counts.items()}
        self._logged = dict(self.counts)
        log.warning(
            "connections closed: %d sent no complete request within %gs, %d made room for "
            "newer ones (over %d per client address or %d in all), %d refused (all busy); "
            "next summary in %ds at the earliest",
            new["timed_out"],
            self.header_timeout_s,
            new["evicted"],
            self.max_per_client,
            self.max_total,
            new["refused"],
            LOG_EVERY_S,
        )


class GuardedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with a request-head deadline and the guard's bounds."""

    guard: ConnectionGuard  # set on the subclass made by protocol_for()

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.client_host = ""
        self._head_timer: asyncio.TimerHandle | None = None
        self._admitted = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.client_host = self.client[0] if self.client else ""
        if not self.guard.admit(self):
            transport.abort()
            return
        self._admitted = True
        self._start_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        if self._admitted:
            self.guard.leave(self)
            self._admitted = False
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._head_timer is None and not self.busy():
            self._start_head_timer()  # the first byte of a new request on a kept-alive connection
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._stop_head_timer()
        super().on_headers_complete()

    def busy(self) -> bool:
        """A request head has arrived and its response is not finished."""
        return bool(self.pipeline) or (self.cycle is not None and not self.cycle.response_complete)

    def drop(self) -> None:
        """Close at once, and leave the guard's counts now.

        Not when the loop reports it closed: several new connections in one
        loop turn would otherwise all evict this same one.
        """
        self._stop_head_timer()
        if self._admitted:
            self.guard.leave(self)
            self._admitted = False
        if self.transport is not None and not self.transport.is_closing():
            self.transport.abort()

    def _start_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(self.guard.header_timeout_s, self._head_too_slow)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if not self.busy():
            self.guard.note("timed_out")
            self.drop()


def protocol_for(guard: ConnectionGuard) -> type[GuardedProtocol]:
    """The protocol class to give uvicorn (``Config(http=...)``), bound to ``guard``."""
    return type("GuardedProtocol", (GuardedProtocol,), {"guard": guard})

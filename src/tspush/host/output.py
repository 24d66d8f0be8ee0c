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
from tspush.core.errors import PointError
from tspush.core.point import LENIENT, OPEN, STRICT
from tspush.core.spool import Spool
from tspush.host import profiles, wire
from tspush.host.agent_config import OutputConfig
from tspush.host.transport import Transport
from tspush.host.wire import opentsdb as json_wire

LogFn = Callable[..., None]
MAX_WAIT_S = 7 * 86400.0  # far below threading.TIMEOUT_MAX, whatever the config says


def _bounded(wait_s: float) -> float:
    """A wait every ``Event.wait`` takes: 0 .. MAX_WAIT_S (a huge one raises OverflowError)."""
    return min(max(0.0, float(wait_s)), MAX_WAIT_S)


def _needs_prepare(profile: profiles.Profile, spool_mode: str = LENIENT) -> bool:
    """Whether records must pass the profile's rules before they are sent: it adds
    something, or its rules are stricter than those the records were stored under."""
    return bool(
        profile.host_tag
        or profile.stamp_missing
        or profile.mode == STRICT
        or profile.default_tags
        or (spool_mode == OPEN and profile.mode != OPEN)
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
        self.wire = wire.get(self.profile.format)
        settings = cfg.settings
        self.transport = transport or settings.make_transport(
            warn=lambda m: log("warning", m, output=cfg.name)
        )
        self.path = profiles.request_path(self.profile, self.transport.base_path)
        self.preparer = profiles.preparer(self.profile)
        self._prepared: tuple[list[bytes], list[Any]] | None = None
        self.dead_letter_path = str(dead_letter_path) if dead_letter_path else None
        self.forwarder = self._forwarder(self.transport)
        # More connections: each sender has its own transport and forwarder;
        # batches are acked in spool order whichever answer comes first.
        self.extra: list[tuple[Transport, forward.Forwarder]] = []
        for _ in range(max(1, cfg.connections) - 1):
            t = settings.make_transport(warn=lambda m: None)
            self.extra.append((t, self._forwarder(t)))
        self._order = threading.Lock()
        self._inflight: list[list[Any]] = []  # [batch, done] in the order taken
        self._read_pos: Any = None
        self._batcher = profiles.batcher_for(self.profile, self.path)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._jobs: list[tuple[Callable[..., None], tuple[Any, ...]]] = []
        self._rand = random.Random()
        self.deaths = 0  # sender threads that died and were restarted
        self.last_death = ""
        self.last_death_s: float | None = None

    def _forwarder(self, transport: Transport) -> forward.Forwarder:
        cfg = self.cfg
        details = cfg.details if cfg.details is not None else self.profile.supports_details
        path = profiles.with_details(self.profile, self.path, details)
        # e.g. promwrite: Content-Encoding: snappy
        headers = {"Content-Type": self.profile.content_type, **dict(self.profile.headers)}
        return forward.Forwarder(
            self.spool,
            cfg.name,
            transport.send,
            max_points=self.profile.max_points,
            max_bytes=self.profile.max_bytes,
            retry=cfg.retry,
            details=details,
            encode=None if self.wire.RECORDS else self._encode,
            prepare=self._prepare if _needs_prepare(self.profile) else None,
            log=self._log,
            dead_letter_path=self.dead_letter_path,
            path=path,
            headers=headers,
            secrets=transport.secrets,
        )

    def forwarders(self) -> list[forward.Forwarder]:
        return [self.forwarder] + [f for _, f in self.extra]

    def _log(self, level: str, message: str) -> None:
        self.log(level, message, output=self.name)

    def set_spool_mode(self, mode: str) -> None:
        """The rules records were checked by when stored; stricter ones are applied here."""
        prepare = self._prepare if _needs_prepare(self.profile, mode) else None
        for f in self.forwarders():
            f.prepare = prepare

    def _encode(self, records: list[bytes]) -> bytes:
        """Records to this output's format (the opentsdb format sends them as they are)."""
        last = self._prepared  # one read: several sender threads may share this output
        points = last[1] if last is not None and last[0] is records else json_wire.decode(records)
        bodies = list(self._batcher(points, max_points=len(points) + 1, max_bytes=1 << 30))
        return b"".join(b for b, _ in bodies)

    def _prepare(self, records: list[bytes]) -> tuple[list[bytes], list[tuple[bytes, str]]]:
        """The profile's rules on stored records: a record they leave as it was is sent
        as stored; only a point they change (a host tag, a stamp) is encoded again."""
        ok: list[bytes] = []
        ready = []
        dead: list[tuple[bytes, str]] = []
        now_s = int(time.time())
        for r, p in zip(records, json_wire.decode(records)):
            try:
                q = self.preparer.prepare(p, now_s)
            except PointError as e:
                dead.append((r, str(e)))
                continue
            ok.append(r if q is p else json_wire.record(q))
            ready.append(q)
        if not self.wire.RECORDS:  # _encode takes these points instead of decoding again
            self._prepared = (ok, ready)
        return ok, dead

    # -- the thread -------------------------------------------------------------

    def start(self) -> None:
        if not self.extra:
            self._jobs = [(self.run, ())]
        else:
            self._jobs = [(self.run_pipelined, (f, [None])) for f in self.forwarders()]
        self._threads = [self._spawn(i) for i in range(len(self._jobs))]

    def _spawn(self, i: int) -> threading.Thread:
        t = threading.Thread(
            target=self._supervised, args=(i,), name="tspush-out-" + self.name, daemon=True
        )
        t.start()
        return t

    def _supervised(self, i: int) -> None:
        """Run sender ``i``; if it dies, log, count and run it again until stopped."""
        target, args = self._jobs[i]
        while not self._stop.is_set():
            try:
                target(*args)
                return
            except BaseException as e:  # noqa: BLE001 - a sender never stays dead
                self._died("%s: %s" % (type(e).__name__, e))
            self._stop.wait(_bounded(self.cfg.retry.delay_s(min(self.deaths, 16))))

    def _attempt(self, step: Any, *args: Any) -> tuple[str, float]:
        """One step of a sender (``Forwarder.step`` or ``handle``): an unexpected failure is
        logged and counts as KEPT after the first back-off, so the loop goes on (and a
        thread that dies anyway is restarted by ``_supervised``)."""
        try:
            return step(*args)  # type: ignore[no-any-return]
        except Exception as e:  # noqa: BLE001 - an output never dies; it reports and waits
            self._log("error", "unexpected failure, retrying: %r" % e)
            return forward.KEPT, self.cfg.retry.delay_s(1)

    def _died(self, why: str) -> None:
        with self._order:
            self.deaths += 1
            self.last_death = why
            self.last_death_s = time.time()
        self._log(
            "error",
            "sender thread died (%s); restarted (%d time(s) so far); points stay in the spool"
            % (why, self.deaths),
        )

    def check_threads(self) -> int:
        """Restart any sender thread that ended while the output runs; how many were."""
        n = 0
        for i, t in enumerate(self._threads):
            if not t.is_alive() and not self._stop.is_set():
                self._died("thread ended")
                self._threads[i] = self._spawn(i)
                n += 1
        return n

    def wake(self) -> None:
        """A full batch is waiting: do not sit out the flush interval."""
        self._wake.set()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        for t in self._threads:
            t.join(timeout_s)
        self.transport.close()
        for transport, _ in self.extra:
            transport.close()

    def backing_off(self) -> bool:
        """The last try failed (the server is down or refuses the token)."""
        return any(f.attempt > 0 or f.auth_failed for f in self.forwarders())

    def flush_wait_s(self) -> float:
        j = self.cfg.flush_jitter_s
        return max(0.0, self.cfg.flush_interval_s + (self._rand.uniform(-j, j) if j else 0.0))

    def run(self) -> None:
        """One connection: take, send, ack, one batch at a time."""
        fwd = self.forwarder
        while not self._stop.is_set():
            outcome, wait_s = self._attempt(fwd.step)
            if outcome == forward.SENT:
                if self.spool.pending(self.name) >= fwd.max_points:
                    continue
                wait_s = self.flush_wait_s()
            elif outcome == forward.EMPTY:
                wait_s = self.flush_wait_s()
            self._wake.clear()
            if outcome in (forward.SENT, forward.EMPTY):
                self._wake.wait(_bounded(wait_s))
            else:
                # Backing off: only stopping cuts the wait short.
                self._stop.wait(_bounded(wait_s))

    def run_pipelined(self, fwd: forward.Forwarder, held: list[Any]) -> None:
        """One of several connections: batches in flight at once, acked in spool order.

        ``held[0]`` is this connection's batch in flight: a restarted sender
        finishes it first, so the batches after it are not held up for good.
        """
        while not self._stop.is_set():
            entry = held[0]
            full = False
            if entry is None:
                with self._order:
                    # At most one batch per connection in flight: after a crash,
                    # at most ``connections`` batches are sent again.
                    full = len(self._inflight) >= 1 + len(self.extra)
                    batch = None if full else fwd.take(self._read_pos)
                    if batch is not None:
                        entry = [batch, False]
                        self._inflight.append(entry)
                        self._read_pos = batch.end
                        held[0] = entry
                if full:
                    self._stop.wait(0.01)
                    continue
                if entry is None:
                    self._wake.clear()
                    self._wake.wait(_bounded(self.flush_wait_s()))
                    continue
            batch = entry[0]
            while True:
                outcome, wait_s = self._attempt(fwd.handle, batch)
                if outcome == forward.SENT:
                    break
                if self._stop.wait(_bounded(wait_s)):
                    return  # never acked: sent again after the next start
            with self._order:
                entry[1] = True
                held[0] = None
                while self._inflight and self._inflight[0][1]:
                    self.spool.ack(self._inflight.pop(0)[0])
            if len(batch) < fwd.max_points:
                self._wake.clear()
                self._wake.wait(_bounded(self.flush_wait_s()))

    def state(self) -> dict[str, Any]:
        st = self.forwarder.state()
        for _, f in self.extra:
            other = f.state()
            for key in ("sent_points", "requests", "retries", "dead_letters"):
                st[key] += other[key]
            st["auth_failed"] = st["auth_failed"] or other["auth_failed"]
            st["attempt"] = max(st["attempt"], other["attempt"])
            if (other["last_error_s"] or 0) > (st["last_error_s"] or 0):
                st["last_error"], st["last_error_s"] = other["last_error"], other["last_error_s"]
            if (other["last_success_s"] or 0) > (st["last_success_s"] or 0):
                st["last_success_s"] = other["last_success_s"]
        st["connections"] = 1 + len(self.extra)
        st["sender_deaths"] = self.deaths
        st["last_sender_death"] = self.last_death
        st["last_sender_death_s"] = self.last_death_s
        st.update(self.spool.stats(self.name))
        st["url"] = self.transport.display_url(self.path)
        st["profile"] = self.profile.name
        return st

"""The always-on agent: sources -> spool -> outputs, each on its own thread.

A source that fails is reported and read again next interval; the others
never notice. Every output has its own spool cursor, so one dead upstream
keeps its backlog without holding the others back. The agent's own figures
(spool depth, drops, retries, time since the last success) go through the
same pipe as ``tspush.*`` points, and into a state file for ``tspush status``.
Logs go through ``tspush.host.logs`` (stdlib ``logging``, one line per event,
logfmt or JSON, every token form masked, control characters escaped); lines
that sources write through stdlib ``logging`` take the same handler, and each
output says what it did every ``summary_interval_s``.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from tspush.core.errors import SpoolError
from tspush.core.point import LENIENT, OPEN, Point
from tspush.core.prepare import Preparer
from tspush.core.spool import MAX_POINT, Spool, describe
from tspush.host import sources as sources_mod
from tspush.host.agent_config import AgentConfig
from tspush.host.logs import Logger, attach, detach
from tspush.host.output import Output
from tspush.host.spoollock import lock_spool
from tspush.host.status import write_state
from tspush.host.wire.opentsdb import record, too_big

__all__ = ["Agent", "Logger", "SourceRunner"]

FIRST_SUMMARY_S = 10.0


class SourceRunner:
    """Reads one source on its interval and appends to the spool; never lets it crash others."""

    def __init__(self, agent: Agent, source: sources_mod.Source) -> None:
        self.agent = agent
        self.source = source
        self.points = 0
        self.errors = 0
        self.last_ok_s: float | None = None
        self.last_error = ""
        self.last_error_s: float | None = None
        self.unstored = 0  # points lost because the spool could not be written
        self.thread = threading.Thread(
            target=self.run, name="tspush-src-" + source.name, daemon=True
        )

    def run(self) -> None:
        agent = self.agent
        interval = self.source.interval_s
        next_t = time.monotonic()
        while not agent.stopping.is_set():
            try:
                self.read_once()
            except Exception as e:  # noqa: BLE001 - a bug here must not end the source
                self.errors += 1
                agent.log(
                    "error", "source step failed, will retry: %r" % e, source=self.source.name
                )
            next_t += interval
            now = time.monotonic()
            if next_t < now:  # fell behind (slow source): skip the missed ticks
                next_t = now + interval - ((now - next_t) % interval)
            agent.stopping.wait(next_t - now)

    def read_once(self) -> int:
        agent = self.agent
        now = agent.clock()
        stamp = int(now * 1000) if agent.cfg.timestamp_unit == "ms" else int(now)
        try:
            points = self.source.read(stamp)
        except Exception as e:  # noqa: BLE001 - a failing source is reported, never fatal
            self.errors += 1
            msg = str(e) or repr(e)
            if msg != self.last_error:
                agent.log("error", "source failed, will retry: " + msg, source=self.source.name)
            self.last_error = msg
            self.last_error_s = now
            return 0
        if self.last_error:
            agent.log("info", "source recovered", source=self.source.name)
            self.last_error = ""
        self.last_ok_s = now
        try:
            n = agent.append(points, stamp, self.source.name)
        except SpoolError as e:  # disk full: count every point, log now and then, keep reading
            lost = e.lost
            self.unstored += lost
            self.points += e.stored
            agent.not_stored(e, lost, self.source.name)
            return 0
        self.points += n
        return n


class Agent:
    """Owns the spool, the source threads and the output threads."""

    def __init__(
        self,
        cfg: AgentConfig,
        *,
        log: Callable[..., None] | None = None,
        clock: Callable[[], float] = time.time,
        sources: list[sources_mod.Source] | None = None,
        spool_key: str = "[spool] dir",
        stamp: bool = True,
        transports: dict[str, Any] | None = None,
    ) -> None:
        """``stamp=False``: points without a time are sent without one (the server stamps
        them, as the original board; only for delivery within seconds, e.g. the demo).
        ``transports``: an output's Transport by output name, instead of one made from
        its settings."""
        self.cfg = cfg
        self.stamp = stamp
        self.clock = clock
        self.log = log or Logger(fmt=cfg.log_format, level=cfg.log_level, secrets=cfg.secrets())
        self._summary_sent: dict[str, int] = {}
        self._summary_s = 0.0
        self.stopping = threading.Event()
        self._attached: list[str] = []
        self.started_s = clock()
        # created owner-only (it holds the data); one clear line if it cannot be
        self._lock_file = lock_spool(cfg.spool.dir, spool_key)
        self.spool = Spool(
            str(cfg.spool.dir),
            outputs=[o.name for o in cfg.outputs],
            max_bytes=cfg.spool.max_bytes,
            max_age_s=int(cfg.spool.max_age_s),
            segment_bytes=cfg.spool.segment_bytes,
            sync_every_s=cfg.spool.sync_every_s,
            lock=threading.RLock(),
        )
        for damage in self.spool.damage:  # a torn tail, corrupt records, an emptied segment
            self.log("warning", describe(damage), spool=str(cfg.spool.dir))
        dead = cfg.spool.dead_letter_file or (cfg.spool.dir / "dead-letter.jsonl")
        self.dead_letter_path = dead
        given = transports or {}
        self.outputs = [
            Output(o, self.spool, log=self.log, dead_letter_path=dead, transport=given.get(o.name))
            for o in cfg.outputs
        ]
        if sources is None:
            sources = [sources_mod.build(s.kind, dict(s.options)) for s in cfg.sources]
        self.runners = [SourceRunner(self, s) for s in sources]
        self._aux = threading.Thread(target=self._housekeeping, name="tspush-aux", daemon=True)
        # Stamp, the agent's tags, then the loosest rules among the outputs (open when an
        # Influx or remote write output takes any UTF-8); each output applies its own
        # stricter rules when it sends (Output.spool_mode).
        mode = OPEN if any(o.profile.mode == OPEN for o in self.outputs) else LENIENT
        for o in self.outputs:
            o.set_spool_mode(mode)
        self.preparer = Preparer(mode, cfg.tags)
        self.invalid_points = 0
        # Points the spool could not take (disk full), all of them counted; logged at
        # the first, then at most every ``not_stored_log_s``, and when it takes points again.
        self.not_stored_points = 0
        self.not_stored_log_s = 60.0
        self.last_spool_error = ""
        self.last_spool_error_s: float | None = None
        self._outage = 0  # points not stored since the spool last took some
        self._outage_logged = 0
        self._next_not_stored_log = 0.0
        self._not_stored_lock = threading.Lock()

    # -- the pipe ---------------------------------------------------------------

    def append(self, points: list[Point], stamp: int, source: str = "agent") -> int:
        """Stamp, tag, check (``core.prepare``) and spool points; invalid ones are logged and
        counted, not stored."""
        if not points:
            return 0
        ready, bad = self.preparer.split(points, stamp if self.stamp else None)
        records = []
        for p in ready:
            r = record(p)
            if len(r) > MAX_POINT:  # the spool would refuse the whole batch for it
                bad.append(too_big(p, len(r)))
            else:
                records.append(r)
        if bad:
            self.invalid_points += len(bad)
            self.log(
                "warning",
                "%d invalid point(s) not stored: %s" % (len(bad), bad[0]),
                source=source,
            )
        try:
            n = self.spool.append_records(records)
        except SpoolError as e:  # the caller counts: some sources can send again, some cannot
            e.lost = len(records) - e.stored
            raise
        if self._outage:
            self._spool_back()
        for o in self.outputs:
            if self.spool.pending(o.name) >= o.forwarder.max_points:
                o.wake()
        return n

    def not_stored(self, e: Exception, n: int, source: str) -> None:
        """Count ``n`` points the spool refused (``e``); log the first, then at most every
        ``not_stored_log_s`` seconds with the count since the last line."""
        now = time.monotonic()
        with self._not_stored_lock:
            self.not_stored_points += n
            self._outage += n
            self.last_spool_error = str(e)
            self.last_spool_error_s = self.clock()
            if now < self._next_not_stored_log:
                return
            self._next_not_stored_log = now + self.not_stored_log_s
            new = self._outage - self._outage_logged
            self._outage_logged = self._outage
            total = self.not_stored_points
        self.log(
            "error",
            "%s; %d point(s) not stored since the last report, %d in all since start"
            % (e, new, total),
            source=source,
        )

    def _spool_back(self) -> None:
        with self._not_stored_lock:
            lost, self._outage, self._outage_logged = self._outage, 0, 0
            self._next_not_stored_log = 0.0
        if lost:
            self.log(
                "info",
                "spool writable again; %d point(s) could not be stored meanwhile, %d in all"
                % (lost, self.not_stored_points),
            )

    def _receive(self, runner: SourceRunner, points: list[Point]) -> int:
        """Points pushed to a listening source: spooled before its client gets an answer."""
        now = self.clock()
        stamp = int(now * 1000) if self.cfg.timestamp_unit == "ms" else int(now)
        n = self.append(points, stamp, runner.source.name)
        runner.points += n
        runner.last_ok_s = now
        return n

    def self_metrics(self) -> list[Point]:
        now = self.clock()
        pre = self.cfg.self_metrics_prefix
        out: list[Point] = []
        for o in self.outputs:
            st = o.state()  # spool figures plus every connection's counters
            tags = {"output": o.name}
            last = st["last_success_s"]
            age = round(now - last, 1) if last else round(now - self.started_s, 1)
            out += [
                Point(pre + ".spool.points", st["pending"], None, dict(tags)),
                Point(pre + ".dropped", st["dropped"], None, dict(tags)),
                Point(pre + ".dead_letters", st["dead_letters"], None, dict(tags)),
                Point(pre + ".retries", st["retries"], None, dict(tags)),
                Point(pre + ".sent", st["sent_points"], None, dict(tags)),
                Point(pre + ".last_success_age_s", age, None, dict(tags)),
                Point(pre + ".sender_deaths", st["sender_deaths"], None, dict(tags)),
            ]
        for r in self.runners:
            out.append(Point(pre + ".source.errors", r.errors, None, {"source": r.source.name}))
            out.append(
                Point(pre + ".source.not_stored", r.unstored, None, {"source": r.source.name})
            )
        out.append(Point(pre + ".spool.not_stored", self.not_stored_points, None, {}))
        return out

    def state(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "started_s": self.started_s,
            "updated_s": self.clock(),
            "stopped": self.stopping.is_set(),
            "config": str(self.cfg.path) if self.cfg.path else None,
            "spool_dir": str(self.cfg.spool.dir),
            "spool_points": self.spool.points(),
            "spool_bytes": self.spool.total_bytes(),
            "corrupt_bytes": self.spool.corrupt_bytes,
            "corrupt_records": self.spool.corrupt_records,
            "dead_letter_file": str(self.dead_letter_path),
            "invalid_points": self.invalid_points,
            "not_stored_points": self.not_stored_points,
            "last_spool_error": self.last_spool_error,
            "last_spool_error_s": self.last_spool_error_s,
            "outputs": {o.name: o.state() for o in self.outputs},
            "sources": {
                r.source.name: {
                    "points": r.points,
                    "errors": r.errors,
                    "last_ok_s": r.last_ok_s,
                    "last_error": r.last_error,
                    "last_error_s": r.last_error_s,
                    "not_stored": r.unstored,
                }
                for r in self.runners
            },
        }

    def write_state(self) -> None:
        try:
            write_state(self.cfg.state_file, self.state())
        except OSError as e:
            self.log(
                "warning", "cannot write the state file: %s" % e, path=str(self.cfg.state_file)
            )

    def _housekeeping(self) -> None:
        next_metrics = time.monotonic() + (self.cfg.self_metrics_interval_s or 0)
        # the first summary soon after the start (a newcomer sees it work), then at the interval
        next_summary = time.monotonic() + min(self.cfg.summary_interval_s or 0, FIRST_SUMMARY_S)
        while not self.stopping.wait(self.cfg.state_interval_s):
            if self.cfg.summary_interval_s and time.monotonic() >= next_summary:
                next_summary = time.monotonic() + self.cfg.summary_interval_s
                try:
                    self.summarize()
                except Exception as e:  # noqa: BLE001
                    self.log("warning", "output summary failed: %r" % e)
            try:
                for o in self.outputs:
                    o.check_threads()  # a sender that ended anyway is restarted
                self.write_state()
            except Exception as e:  # noqa: BLE001 - the watchdog itself must not die
                self.log("error", "housekeeping failed, will retry: %r" % e)
            if self.cfg.self_metrics_interval_s and time.monotonic() >= next_metrics:
                next_metrics += self.cfg.self_metrics_interval_s
                metrics = self.self_metrics()
                try:
                    self.append(metrics, int(self.clock()))
                except SpoolError as e:
                    self.not_stored(e, e.lost, "agent")
                except Exception as e:  # noqa: BLE001
                    self.log("warning", "self-metrics failed: %r" % e)

    # -- life cycle -------------------------------------------------------------

    def summarize(self) -> None:
        """One line per output: sent since the last line, pending, last error."""
        for o in self.outputs:
            st = o.state()
            sent = st["sent_points"]
            fields: dict[str, Any] = {
                "output": o.name,
                "sent": sent - self._summary_sent.get(o.name, 0),
                "pending": st.get("pending", 0),
            }
            self._summary_sent[o.name] = sent
            new_error = (st.get("last_error_s") or 0) > self._summary_s
            if st.get("last_error") and (new_error or st.get("attempt")):
                fields["last_error"] = st["last_error"]  # new, or still failing
            if st.get("attempt"):
                fields["retrying"] = "attempt %d" % st["attempt"]
            self.log("info", "output summary", **fields)
        self._summary_s = self.clock()

    def _bridge_logging(self) -> None:
        """Lines sources and libraries write through stdlib ``logging`` take the same handler."""
        if isinstance(self.log, Logger):
            self._attached = attach(self.log.handler, "tspush", "urllib3")

    def start(self) -> None:
        self._bridge_logging()
        self.log(
            "info",
            "agent started",
            sources=",".join(r.source.name for r in self.runners) or "-",
            outputs=",".join(o.name for o in self.outputs),
            spool=str(self.cfg.spool.dir),
            pending=sum(self.spool.pending(o.name) for o in self.outputs),
        )
        for o in self.outputs:
            o.start()
        for r in self.runners:
            attach = getattr(r.source, "attach", None)
            if attach is not None:  # push-style sources store through the agent directly
                attach(partial(self._receive, r))
            r.thread.start()
        self._aux.start()
        self.write_state()

    def stop(self, flush_s: float | None = None) -> None:
        """Stop the sources, give the outputs ``flush_s`` to empty the spool, then stop them.

        Whatever is left stays in the spool for the next start.
        """
        if self.stopping.is_set() and not self._aux.is_alive():
            return
        self.stopping.set()
        for r in self.runners:
            if r.thread.ident is not None:
                r.thread.join(5)
            r.source.close()
        flush_s = self.cfg.shutdown_flush_s if flush_s is None else flush_s
        deadline = time.monotonic() + flush_s
        for o in self.outputs:
            o.wake()
        while time.monotonic() < deadline:
            busy = [o for o in self.outputs if self.spool.pending(o.name) and not o.backing_off()]
            if not busy:
                break
            for o in busy:
                o.wake()
            time.sleep(0.05)
        for o in self.outputs:
            o.stop()
        if self._aux.ident is not None:
            self._aux.join(5)
        self.write_state()
        pending = self.state_pending()
        self.spool.close()
        self._lock_file.close()
        self.log("info", "agent stopped", pending=pending)
        if isinstance(self.log, Logger):
            detach(self.log.handler, *self._attached)

    def state_pending(self) -> int:
        return sum(self.spool.pending(o.name) for o in self.outputs)

    def run_forever(self) -> None:
        """Start, then wait for SIGTERM or SIGINT and stop cleanly."""

        def on_signal(signum: int, _frame: object) -> None:
            self.log("info", "signal %d: stopping" % signum)
            self.stopping.set()

        old = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.start()
            while not self.stopping.wait(0.5):
                pass
        finally:
            self.stop()
            for s, h in old.items():
                signal.signal(s, h)

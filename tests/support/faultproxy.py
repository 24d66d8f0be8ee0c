"""A fault-injecting TCP proxy on loopback, standing in for ``tc netem``.

The kernel here has no ``netem`` qdisc, so the network's bad days are played
by a proxy between a client and a real server. Data is forwarded in
"segments" (``segment_bytes``); each segment may be delayed, "dropped"
(held back for ``retransmit_s``, as TCP does when it retransmits a lost
segment), stall the connection, or reset it. ``cut(duration_s)`` takes the
link down for a while: open connections are reset and new ones are reset on
accept (``mode="reset"``) or swallowed without an answer (``"blackhole"``).

Every fault is counted. ``ambiguous`` counts connections that died after a
request reached the server but before its answer reached the client: only
there can an honest client send the same data twice, so tests compare
duplicates against it.
"""

from __future__ import annotations

import random
import select
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from support.ports import free_port


@dataclass
class Faults:
    """What goes wrong, as probabilities per segment and durations in seconds."""

    delay_s: float = 0.0  # added to every segment
    jitter_s: float = 0.0  # extra uniform 0..jitter_s per segment
    drop_rate: float = 0.0  # segment held back retransmit_s (a lost + resent segment)
    retransmit_s: float = 0.2
    stall_rate: float = 0.0  # connection frozen for stall_s
    stall_s: float = 1.0
    reset_rate: float = 0.0  # connection reset (RST both ways)
    segment_bytes: int = 1460
    seed: int | None = None


@dataclass
class Counters:
    connections: int = 0
    segments: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    delayed: int = 0
    dropped: int = 0
    stalls: int = 0
    resets: int = 0
    cuts: int = 0
    refused_during_cut: int = 0
    ambiguous: int = 0
    extra: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d.pop("extra")
        d.update(self.extra)
        return d


def _reset(sock: socket.socket) -> None:
    """Close with RST instead of FIN (SO_LINGER 0)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


class _Conn:
    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client = client
        self.upstream = upstream
        self.pending = False  # request bytes went up, no answer came down yet
        self.killed = False
        self.lock = threading.Lock()

    def kill(self) -> bool:
        """Reset both sides once; True if this call did it."""
        with self.lock:
            if self.killed:
                return False
            self.killed = True
        _reset(self.client)
        _reset(self.upstream)
        return True


class FaultProxy:
    """``FaultProxy(("127.0.0.1", port), Faults(...))``; point clients at ``.url``."""

    def __init__(self, upstream: tuple[str, int], faults: Faults | None = None) -> None:
        self.upstream = upstream
        self.faults = faults or Faults()
        self.counters = Counters()
        self.port = free_port()
        self._rng = random.Random(self.faults.seed)
        self._lock = threading.Lock()
        self._conns: set[_Conn] = set()
        self._cut_until = 0.0
        self._cut_mode = "reset"
        self._stop = threading.Event()
        self._listener: socket.socket | None = None
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- control -------------------------------------------------------------

    def start(self) -> FaultProxy:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(64)
        s.settimeout(0.1)
        self._listener = s
        t = threading.Thread(target=self._accept_loop, name="faultproxy-accept", daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(5)
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            c.kill()
        if self._listener is not None:
            self._listener.close()

    def cut(self, duration_s: float, mode: str = "reset") -> None:
        """Take the link down for ``duration_s``: reset open connections now."""
        if mode not in ("reset", "blackhole"):
            raise ValueError("mode is 'reset' or 'blackhole'")
        with self._lock:
            self._cut_until = time.monotonic() + duration_s
            self._cut_mode = mode
            self.counters.cuts += 1
            conns = list(self._conns)
        for c in conns:
            self._kill(c)

    def is_cut(self) -> bool:
        return time.monotonic() < self._cut_until

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return self.counters.as_dict()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- internals -----------------------------------------------------------

    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self.counters, name, getattr(self.counters, name) + n)

    def _chance(self, p: float) -> bool:
        if p <= 0:
            return False
        with self._lock:
            return self._rng.random() < p

    def _kill(self, c: _Conn) -> None:
        if c.kill():
            self._count("resets")
            if c.pending:
                self._count("ambiguous")

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.is_cut():
                self._count("refused_during_cut")
                if self._cut_mode == "reset":
                    _reset(client)
                else:
                    t = threading.Thread(target=self._swallow, args=(client,), daemon=True)
                    t.start()
                continue
            try:
                up = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                _reset(client)
                self._count("resets")
                continue
            conn = _Conn(client, up)
            with self._lock:
                self._conns.add(conn)
                self.counters.connections += 1
            t = threading.Thread(target=self._pump, args=(conn,), daemon=True)
            t.start()
            self._threads = [x for x in self._threads if x.is_alive()]
            self._threads.append(t)

    def _swallow(self, client: socket.socket) -> None:
        """Blackhole: read and discard until the cut ends or the client gives up."""
        client.settimeout(0.1)
        while not self._stop.is_set() and self.is_cut():
            try:
                if not client.recv(65536):
                    break
            except TimeoutError:
                continue
            except OSError:
                break
        _reset(client)

    def _pump(self, c: _Conn) -> None:
        f = self.faults
        open_up = open_down = True
        try:
            while (open_up or open_down) and not self._stop.is_set() and not c.killed:
                if self.is_cut():
                    self._kill(c)
                    return
                socks = []
                if open_up:
                    socks.append(c.client)
                if open_down:
                    socks.append(c.upstream)
                try:
                    ready, _, _ = select.select(socks, [], [], 0.05)
                except (OSError, ValueError):
                    break
                for s in ready:
                    up = s is c.client
                    try:
                        data = s.recv(65536)
                    except OSError:
                        self._kill(c)
                        return
                    dst = c.upstream if up else c.client
                    if not data:
                        try:
                            dst.shutdown(socket.SHUT_WR)
                        except OSError:
                            pass
                        if up:
                            open_up = False
                        else:
                            open_down = False
                        continue
                    if not self._forward(c, data, dst, up, f):
                        return
        finally:
            with self._lock:
                self._conns.discard(c)
            if not c.killed:
                if c.pending:
                    # the client or server went away while an answer was owed
                    self._count("ambiguous")
                c.killed = True
                for s in (c.client, c.upstream):
                    try:
                        s.close()
                    except OSError:
                        pass

    def _forward(self, c: _Conn, data: bytes, dst: socket.socket, up: bool, f: Faults) -> bool:
        step = max(1, f.segment_bytes)
        if not up:
            c.pending = True  # an answer is on its way; owed until fully delivered
        for i in range(0, len(data), step):
            seg = data[i : i + step]
            self._count("segments")
            if self._chance(f.reset_rate):
                self._kill(c)
                return False
            wait = f.delay_s
            if f.jitter_s:
                with self._lock:
                    wait += self._rng.uniform(0, f.jitter_s)
            if wait:
                self._count("delayed")
            if self._chance(f.drop_rate):
                self._count("dropped")
                wait += f.retransmit_s
            if self._chance(f.stall_rate):
                self._count("stalls")
                wait += f.stall_s
            if wait and not self._sleep(c, wait):
                return False
            try:
                dst.sendall(seg)
            except OSError:
                self._kill(c)
                return False
            self._count("bytes_up" if up else "bytes_down", len(seg))
            if up:
                c.pending = True
        if not up:
            c.pending = False
        return True

    def _sleep(self, c: _Conn, wait_s: float) -> bool:
        """Sleep, but wake for a cut or stop; False when the connection died meanwhile."""
        end = time.monotonic() + wait_s
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return not c.killed
            if self._stop.is_set() or c.killed:
                return False
            if self.is_cut():
                self._kill(c)
                return False
            time.sleep(min(left, 0.05))

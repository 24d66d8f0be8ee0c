"""A scripted HTTP server that misbehaves on purpose, one way per connection.

``BadServer(script=["reset", "garbage", "ok"], then="ok")`` answers the first
request by resetting mid-response, the second with random bytes, the third
properly, and every later one with ``then``. Behaviours:

* ``ok``       ``204 No Content`` (``status`` and ``body`` can be changed)
* ``slow``     the right answer, one byte every ``trickle_s`` seconds
* ``late``     nothing for ``late_s``, then the right answer
* ``reset``    half the status line and headers, then RST
* ``garbage``  ``garbage_bytes`` random bytes, then close
* ``half``     headers promising ``Content-Length: 1000``, 10 bytes, then close
* ``short``    ``Content-Length: 2`` with a longer body (extra bytes after it)
* ``huge``     a 200 with a huge announced body, streamed until the client goes
* ``never``    reads the request and never answers (until the client leaves)
* ``close``    closes without a byte
* ``echo``     401 whose body and headers repeat the request's Authorization
* ``echo400``  400 (points refused) whose JSON body repeats the token escaped
               as servers do: ``\\/``, ``\\uXXXX``, percent-encoded, then the header
* ``busy``     503 with ``Retry-After: retry_after`` (default 99999999999 s)

Every request's raw bytes and parsed body are recorded, so tests can check
what arrived (and what did not).
"""

from __future__ import annotations

import base64
import os
import socket
import struct
import threading
import time
from dataclasses import dataclass, field

from support.ports import free_port

BEHAVIOURS = (
    "ok",
    "slow",
    "late",
    "reset",
    "garbage",
    "half",
    "short",
    "huge",
    "never",
    "close",
    "echo",
    "echo400",
    "busy",
)


@dataclass
class Seen:
    behaviour: str
    request_line: str
    headers: dict[str, str]
    body: bytes
    raw: bytes


@dataclass
class BadServer:
    script: list[str] = field(default_factory=list)
    then: str = "ok"
    status: int = 204
    body: bytes = b""
    trickle_s: float = 0.05
    late_s: float = 3.0
    garbage_bytes: int = 4096
    huge_bytes: int = 1 << 40
    retry_after: str = "99999999999"
    port: int = 0
    requests: list[Seen] = field(default_factory=list)
    connections: int = 0
    huge_sent_bytes: int = 0

    def __post_init__(self) -> None:
        for b in [*self.script, self.then]:
            if b not in BEHAVIOURS:
                raise ValueError(f"unknown behaviour {b!r}: use one of {BEHAVIOURS}")
        self.port = self.port or free_port()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._n = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> BadServer:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(32)
        s.settimeout(0.1)
        self._sock = s
        self._thread = threading.Thread(target=self._loop, name="badserver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        if self._sock is not None:
            self._sock.close()

    def __enter__(self) -> BadServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def behaviours_seen(self) -> list[str]:
        with self._lock:
            return [r.behaviour for r in self.requests]

    def _next(self) -> str:
        with self._lock:
            i = self._n
            self._n += 1
        return self.script[i] if i < len(self.script) else self.then

    def _loop(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                c, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _read_request(self, c: socket.socket) -> Seen | None:
        c.settimeout(10)
        buf = b""
        while b"\r\n\r\n" not in buf:
            try:
                chunk = c.recv(65536)
            except OSError:
                return None
            if not chunk:
                return None
            buf += chunk
            if len(buf) > 1 << 20:
                return None
        head, _, rest = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0") or 0)
        while len(rest) < n:
            try:
                chunk = c.recv(65536)
            except OSError:
                return None
            if not chunk:
                return None
            rest += chunk
        return Seen("", lines[0], headers, rest[:n], head + b"\r\n\r\n" + rest[:n])

    def _answer(self, status: int, body: bytes, extra: str = "") -> bytes:
        return (
            f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n{extra}"
            "Connection: close\r\n\r\n"
        ).encode() + body

    def _serve(self, c: socket.socket) -> None:
        try:
            seen = self._read_request(c)
            if seen is None:
                return
            b = self._next()
            seen.behaviour = b
            with self._lock:
                self.requests.append(seen)
            getattr(self, "_do_" + b)(c, seen)
        except OSError:
            pass
        finally:
            try:
                c.close()
            except OSError:
                pass

    def _do_ok(self, c: socket.socket, seen: Seen) -> None:
        c.sendall(self._answer(self.status, self.body))

    def _do_slow(self, c: socket.socket, seen: Seen) -> None:
        for i in range(len(data := self._answer(self.status, self.body))):
            if self._stop.wait(self.trickle_s):
                return
            c.sendall(data[i : i + 1])

    def _do_late(self, c: socket.socket, seen: Seen) -> None:
        if not self._stop.wait(self.late_s):
            c.sendall(self._answer(self.status, self.body))

    def _do_reset(self, c: socket.socket, seen: Seen) -> None:
        c.sendall(b"HTTP/1.1 204 No Con")
        time.sleep(0.05)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def _do_garbage(self, c: socket.socket, seen: Seen) -> None:
        c.sendall(os.urandom(self.garbage_bytes))

    def _do_half(self, c: socket.socket, seen: Seen) -> None:
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789")

    def _do_short(self, c: socket.socket, seen: Seen) -> None:
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}trailing-junk-after-the-body")

    def _do_huge(self, c: socket.socket, seen: Seen) -> None:
        c.sendall(
            f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            f"Content-Length: {self.huge_bytes}\r\n\r\n".encode()
        )
        chunk = b"[" + b"0," * 32767 + b"0"
        c.settimeout(5)
        sent = 0
        while sent < self.huge_bytes and not self._stop.is_set():
            try:
                c.sendall(chunk)
            except OSError:
                break
            sent += len(chunk)
            with self._lock:
                self.huge_sent_bytes += len(chunk)

    def _do_never(self, c: socket.socket, seen: Seen) -> None:
        c.settimeout(0.1)
        while not self._stop.is_set():
            try:
                if not c.recv(4096):
                    return
            except TimeoutError:
                continue
            except OSError:
                return

    def _do_close(self, c: socket.socket, seen: Seen) -> None:
        return

    def _do_echo(self, c: socket.socket, seen: Seen) -> None:
        auth = seen.headers.get("authorization", "") or seen.headers.get("x-warp10-token", "")
        clear = ""
        if auth.lower().startswith("basic "):
            try:
                clear = base64.b64decode(auth[6:]).decode("latin-1")
            except ValueError:
                clear = ""
        body = f'{{"error":{{"code":401,"message":"bad token {auth} ({clear})"}}}}'.encode()
        c.sendall(self._answer(401, body, f"WWW-Authenticate: Basic realm={auth}\r\n"))

    def _do_busy(self, c: socket.socket, seen: Seen) -> None:
        c.sendall(self._answer(503, b"busy", f"Retry-After: {self.retry_after}\r\n"))

    def _do_echo400(self, c: socket.socket, seen: Seen) -> None:
        import json
        import urllib.parse

        auth = seen.headers.get("authorization", "") or seen.headers.get("x-warp10-token", "")
        scheme, _, value = auth.partition(" ")
        clear = value
        if scheme.lower() == "basic":
            clear = base64.b64decode(value).decode("latin-1").partition(":")[2]
        doc = {
            "error": {
                "code": 400,
                "message": f"token {clear} refused for this metric",
                "details": "as unicode "
                + "".join(f"\\u{ord(ch):04X}" for ch in clear)
                + " as url "
                + urllib.parse.quote(clear, safe="")
                + f"; request headers: Authorization: {auth}",
            }
        }
        # json.dumps escapes the backslashes of the \\u forms: undo that, as a server would
        body = json.dumps(doc).replace("\\\\u", "\\u").replace("/", "\\/").encode()
        c.sendall(self._answer(400, body, "Content-Type: application/json\r\n"))

"""Boards on the LAN post OpenTSDB JSON to the agent itself (``/api/put``).

The agent's answer to the board comes after the points are in the spool
(fsync'd), so a 204 means "kept", as with ``tspush serve --forward``. Plain
HTTP: meant for the LAN, with a device token (Basic password or Bearer)
that is not the upstream's. Bad points are refused with 400 and a
``?details``-style body naming each; the good ones of the same body are kept.
A point too large for the spool is such a bad point (never a 503, which a
board would retry forever). Connections are bounded in number and in time:
``max_connections`` at once (the next get 503 and Retry-After), each read
waits at most ``timeout_s`` and a connection lives at most ``3 * timeout_s``.
"""

from __future__ import annotations

import binascii
import hmac
import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tspush.core.errors import PointError
from tspush.core.opentsdb import encode_point
from tspush.core.point import Point, point_from_dict
from tspush.core.spool import MAX_POINT
from tspush.host.options import Option
from tspush.host.sources.base import Source

log = logging.getLogger("tspush.agent")
MAX_BODY_BYTES = 1 << 20
MAX_CONNECTIONS = 64
TIMEOUT_S = 10.0
_BUSY_BODY = b'{"error":{"code":503,"message":"too many connections: retry in 5 s"}}'
BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(_BUSY_BODY), _BUSY_BODY)
)

Sink = Callable[[list[Point]], int]


def listen_problem(listen: str) -> str | None:
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        return "%r: write it as HOST:PORT, e.g. 0.0.0.0:4242" % listen
    return None


class HttpListenerSource(Source):
    kind = "http_listener"
    about = (
        "boards on the LAN POST OpenTSDB JSON to `/api/put` on the agent; the answer (204, "
        "or 400 naming each bad point) comes once the good points are spooled. A wrong or "
        "non-ASCII token gets 401; a point too large for the spool (64 KiB encoded) gets "
        "400 naming it, never 503"
    )
    OPTIONS = (
        Option(
            "listen",
            "str",
            "127.0.0.1:4242",
            "HOST:PORT; 0.0.0.0:4242 for the whole LAN",
            check=listen_problem,
        ),
        Option(
            "token_file",
            "str",
            None,
            "file whose first line is the boards' device token (not the upstream's)",
            example="",
        ),
        Option("token_env", "str", None, "or: the environment variable holding it", example=""),
        Option(
            "token",
            "str",
            None,
            "or the token itself; none of the three: no token asked",
            example="",
            secret=True,
        ),
        Option("max_body_bytes", "int", MAX_BODY_BYTES, "larger bodies get 413 with the limit"),
        Option(
            "max_connections",
            "int",
            MAX_CONNECTIONS,
            "open at once; the next get 503 + Retry-After",
        ),
        Option("timeout_s", "pos", TIMEOUT_S, "per read; a connection lives at most 3 x timeout_s"),
    )

    def __init__(
        self,
        listen: str = "127.0.0.1:4242",
        token: str | None = None,
        name: str | None = None,
        interval_s: float = 1.0,
        tags: dict[str, str] | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
        max_connections: int = MAX_CONNECTIONS,
        timeout_s: float = TIMEOUT_S,
    ) -> None:
        super().__init__(name, interval_s, tags)
        why = listen_problem(listen)
        if why:
            raise ValueError("listen " + why)
        host, _, port = listen.rpartition(":")
        self.address = (host.strip("[]"), int(port))
        self.token = token or None
        self.max_body_bytes = max_body_bytes
        self.max_connections = max_connections
        self.timeout_s = timeout_s
        self.sink: Sink | None = None
        self.received = 0
        self.refused = 0
        self._server: _Server | None = None
        self._busy_before = 0

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        h = host.decode() if isinstance(host, bytes) else host
        return f"http://{h}:{port}"

    def attach(self, sink: Sink) -> None:
        """Start listening; each accepted body goes to ``sink`` before the board gets 204."""
        self.sink = sink
        handler = _handler(self)
        self._server = _Server(self.address, handler, self.max_connections, self.timeout_s * 3)
        threading.Thread(
            target=self._server.serve_forever, name="tspush-http-" + self.name, daemon=True
        ).start()

    def sample(self, now_s: int) -> list[Point]:
        return []  # points arrive through attach(); nothing to poll

    def close(self) -> None:
        if self._server is not None:
            self._busy_before += self._server.busy_refused
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def busy_refused(self) -> int:
        """Connections turned away with 503 because ``max_connections`` were open."""
        return self._busy_before + (self._server.busy_refused if self._server else 0)

    def authorized(self, header: str | None) -> bool:
        """Bearer TOKEN, or Basic with any user and TOKEN as password; bytes compared.

        http.server decodes header bytes as latin-1: encoding back gives the
        bytes the board sent, so a token with non-ASCII characters (UTF-8)
        matches, and any other header is a plain refusal, never an error.
        """
        if self.token is None:
            return True
        if not header:
            return False
        want = self.token.encode()
        raw = header.encode("latin-1", "replace")
        scheme, _, value = raw.strip().partition(b" ")
        value = value.strip()
        if scheme.lower() == b"bearer":
            return hmac.compare_digest(value, want)
        if scheme.lower() == b"basic":
            try:
                decoded = binascii.a2b_base64(value)
            except (binascii.Error, ValueError):
                return False
            return hmac.compare_digest(decoded.partition(b":")[2], want)
        return False

    def handle(self, body: bytes, now_s: int) -> tuple[int, dict[str, Any] | None]:
        """``(status, details)`` for one posted body."""
        try:
            doc = json.loads(body)
        except ValueError as e:
            return 400, {"error": {"code": 400, "message": f"body is not JSON: {e}"}}
        items = doc if isinstance(doc, list) else [doc]
        good: list[Point] = []
        errors = []
        for d in items:
            try:
                p = point_from_dict(d, now_s=now_s)
            except PointError as e:
                errors.append({"datapoint": d, "error": str(e)})
                continue
            (p,) = self.add_tags([p])
            size = len(encode_point(p))
            if size > MAX_POINT:
                errors.append({"datapoint": _brief(d), "error": _too_large(p, size)})
                continue
            good.append(p)
        if good:
            assert self.sink is not None
            self.sink(good)  # durable before we answer
        self.received += len(good)
        self.refused += len(errors)
        if errors:
            return 400, {"success": len(good), "failed": len(errors), "errors": errors}
        return 204, None


def _too_large(p: Point, size: int) -> str:
    return (
        "%s: the point encodes to %d bytes, over the %d-byte limit of one point: "
        "shorten its metric name and tag values" % (p.metric[:60], size, MAX_POINT)
    )


def _brief(d: Any) -> Any:
    """The refused point as the answer repeats it: its metric, not its megabytes of tags."""
    if isinstance(d, dict):
        return {
            k: d[k] for k in ("metric", "timestamp", "value") if k in d and len(str(d[k])) < 256
        }
    return None


class _Server(ThreadingHTTPServer):
    """A thread per connection, but at most ``max_connections``, each at most ``max_s``.

    One reaper thread cuts connections older than ``max_s`` (a client sending
    one byte just inside each read timeout would otherwise hold its thread).
    """

    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], handler: type, max_connections: int, max_s: float
    ) -> None:
        super().__init__(address, handler)
        self.slots = threading.BoundedSemaphore(max_connections)
        self.max_s = max_s
        self.busy_refused = 0
        self._open: dict[Any, float] = {}  # connection -> when it must end (monotonic)
        self._open_lock = threading.Lock()
        self._closed = threading.Event()
        threading.Thread(target=self._reap, name="tspush-http-reaper", daemon=True).start()

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            self.busy_refused += 1
            try:
                request.settimeout(1.0)
                request.sendall(BUSY)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        with self._open_lock:
            self._open[request] = time.monotonic() + self.max_s
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._done(request)
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._done(request)

    def _done(self, request: Any) -> None:
        with self._open_lock:
            if self._open.pop(request, None) is None:
                return
        self.slots.release()

    def _reap(self) -> None:
        while not self._closed.wait(min(0.5, self.max_s / 4)):
            now = time.monotonic()
            with self._open_lock:
                late = [r for r, end in self._open.items() if end <= now]
            for r in late:
                _cut(r)

    def server_close(self) -> None:
        self._closed.set()
        super().server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """One line, no traceback: a client that breaks its connection is not our failure."""
        import sys

        e = sys.exc_info()[1]
        log.info("http_listener: connection from %s ended: %r", client_address[0], e)


def _cut(request: socket.socket) -> None:
    try:
        request.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _handler(src: HttpListenerSource) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "tspush-agent"
        timeout = src.timeout_s  # each read of the request waits at most this long

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            log.debug("http_listener %s: " + format, src.name, *args)

        def _reply(self, status: int, doc: dict[str, Any] | None = None) -> None:
            data = json.dumps(doc).encode() if doc is not None else b""
            self.send_response(status)
            if data:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            if self.path.split("?")[0].rstrip("/") != "/api/put":
                self._reply(404, {"error": {"code": 404, "message": "POST to /api/put"}})
                return
            if not src.authorized(self.headers.get("Authorization")):
                self._reply(401, {"error": {"code": 401, "message": "device token refused"}})
                return
            try:
                length = int(self.headers.get("Content-Length") or "0")
            except ValueError:
                length = -1
            if length < 0 or length > src.max_body_bytes:
                msg = "body of %s bytes: send at most %d bytes per request" % (
                    length if length >= 0 else "unknown",
                    src.max_body_bytes,
                )
                self._reply(413, {"error": {"code": 413, "message": msg}})
                return
            body = self.rfile.read(length)
            try:
                status, doc = src.handle(body, int(time.time()))
            except Exception as e:  # noqa: BLE001 - the spool refused: the board keeps its data
                log.error("http_listener %s: cannot store: %s", src.name, e)
                self._reply(503, {"error": {"code": 503, "message": "cannot store now"}})
                return
            self._reply(status, doc)

    return Handler

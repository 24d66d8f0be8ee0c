"""Boards on the LAN post OpenTSDB JSON to the agent itself (``/api/put``).

The agent's answer to the board comes after the points are in the spool
(fsync'd), so a 204 means "kept", as with ``tspush serve --forward``. Plain
HTTP: meant for the LAN, with a device token (Basic password or Bearer)
that is not the upstream's. Bad points are refused with 400 and a
``?details``-style body naming each; the good ones of the same body are kept.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tspush.core.auth import b64
from tspush.core.errors import PointError
from tspush.core.point import Point, point_from_dict
from tspush.host.sources.base import Source

log = logging.getLogger("tspush.agent")
MAX_BODY_BYTES = 1 << 20

Sink = Callable[[list[Point]], int]


class HttpListenerSource(Source):
    kind = "http_listener"

    def __init__(
        self,
        listen: str = "127.0.0.1:4242",
        token: str | None = None,
        name: str | None = None,
        interval_s: float = 1.0,
        tags: dict[str, str] | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        super().__init__(name, interval_s, tags)
        host, _, port = listen.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"listen {listen!r}: write it as HOST:PORT, e.g. 0.0.0.0:4242")
        self.address = (host.strip("[]"), int(port))
        self.token = token or None
        self.max_body_bytes = max_body_bytes
        self.sink: Sink | None = None
        self.received = 0
        self.refused = 0
        self._server: ThreadingHTTPServer | None = None

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
        self._server = ThreadingHTTPServer(self.address, handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, name="tspush-http-" + self.name, daemon=True
        ).start()

    def sample(self, now_s: int) -> list[Point]:
        return []  # points arrive through attach(); nothing to poll

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def authorized(self, header: str | None) -> bool:
        if self.token is None:
            return True
        if not header:
            return False
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer":
            return hmac.compare_digest(value.strip(), self.token)
        if scheme.lower() == "basic":
            value = value.strip()
            for user in ("DESC", "metrics", "tspush", ""):
                if hmac.compare_digest(value, b64((user + ":" + self.token).encode())):
                    return True
            try:
                import base64

                _, _, password = base64.b64decode(value).decode().partition(":")
            except (ValueError, UnicodeError):
                return False
            return hmac.compare_digest(password, self.token)
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
            if self.tags:
                merged = dict(self.tags)
                merged.update(p.tags)
                p.tags = merged
            good.append(p)
        if good:
            assert self.sink is not None
            self.sink(good)  # durable before we answer
        self.received += len(good)
        self.refused += len(errors)
        if errors:
            return 400, {"success": len(good), "failed": len(errors), "errors": errors}
        return 204, None


def _handler(src: HttpListenerSource) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "tspush-agent"

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
            import time

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
                self._reply(413, {"error": {"code": 413, "message": "body too large"}})
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

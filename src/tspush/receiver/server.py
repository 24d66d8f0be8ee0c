"""Running the receiver app under uvicorn, on a socket bound before start-up.

Binding first lets ``--port 0`` and "4242 or any free port" work and lets the
caller print the real address before serving. ``serve`` runs it in the
foreground (uvicorn handles Ctrl-C); ``demo`` runs it in a thread.
"""

from __future__ import annotations

import errno
import socket
import threading
import time
from typing import Any

import uvicorn

from tspush.core.errors import ConfigError


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket; ConfigError naming the fix when the port is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        if e.errno in (errno.EADDRINUSE, errno.EACCES):
            raise ConfigError(
                "cannot listen on %s:%d: %s; pick another --port or stop what uses it"
                % (host, port, e.strerror or e),
                "--port",
            ) from None
        raise ConfigError(  # not an address of this machine, or not an address at all
            "cannot listen on %s: %s; give an address of this machine (127.0.0.1, "
            "or 0.0.0.0 for every interface)" % (host, e.strerror or e),
            "--host",
        ) from None
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def free_or(host: str, preferred: int) -> socket.socket:
    """Bind ``preferred`` if free, else any free port."""
    try:
        return bind(host, preferred)
    except ConfigError:
        return bind(host, 0)


def url_of(sock: socket.socket, tls: bool, host: str | None = None) -> str:
    h, port = sock.getsockname()[:2]
    h = host or h
    if h in ("0.0.0.0", "::", ""):
        h = socket.gethostname()
    if ":" in h:
        h = "[%s]" % h
    return "%s://%s:%d" % ("https" if tls else "http", h, port)


class Server:
    """uvicorn on a pre-bound socket; ``run()`` blocks, ``start_thread()`` does not."""

    def __init__(
        self,
        app: Any,
        sock: socket.socket,
        *,
        cert_path: str | None = None,
        key_path: str | None = None,
        log_level: str = "warning",
    ) -> None:
        self.sock = sock
        config = uvicorn.Config(
            app,
            log_level=log_level,
            log_config=None,  # tspush serve formats uvicorn's warnings like its own lines
            access_log=False,
            lifespan="on",
            ssl_certfile=cert_path,
            ssl_keyfile=key_path,
            timeout_keep_alive=30,
            # Past this many open connections and tasks, answer 503 at once
            # rather than let a flood of idle sockets starve the boards.
            limit_concurrency=1000,
            server_header=False,
            date_header=True,
        )
        self.uvicorn = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def run(self) -> None:
        self.uvicorn.run(sockets=[self.sock])

    def start_thread(self, timeout_s: float = 15.0) -> None:
        self._thread = threading.Thread(target=self.run, name="tspush-receiver", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.uvicorn.started and self._thread.is_alive():
            if time.monotonic() > deadline:
                break
            time.sleep(0.02)
        if not self.uvicorn.started:
            raise ConfigError("the receiver did not start; see the messages above", "serve")

    def stop(self, timeout_s: float = 10.0) -> None:
        self.uvicorn.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout_s)

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
from tspush.receiver.guard import ConnectionGuard, protocol_for

FDS_KEPT_BACK = 256  # for the database, the relay's spool and sockets, logs


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


def raise_fd_limit(wanted: int = 65536) -> int:
    """Raise this process's open-file limit toward ``wanted`` (the hard limit caps it).

    Every connection is a file descriptor; at the usual soft limit of 1024 a
    few hundred idle sockets would stop the server accepting anyone. Windows
    has no such limit to raise (and no ``resource`` module).
    """
    try:
        import resource
    except ImportError:
        return wanted
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return int(soft) if soft != resource.RLIM_INFINITY else wanted


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
        header_timeout_s: float = 5.0,
        max_client_connections: int = 256,
        max_connections: int = 4096,
    ) -> None:
        self.sock = sock
        fds = raise_fd_limit()
        self.guard = ConnectionGuard(
            header_timeout_s,
            max_client_connections,
            max(16, min(max_connections, fds - FDS_KEPT_BACK)),
        )
        config = uvicorn.Config(
            app,
            log_level=log_level,
            log_config=None,  # tspush serve formats uvicorn's warnings like its own lines
            access_log=False,
            lifespan="on",
            ssl_certfile=cert_path,
            ssl_keyfile=key_path,
            # The guard bounds connections (per client address and in all) and
            # closes those that send no request; uvicorn's limit_concurrency
            # counted idle sockets and answered everyone 503.
            http=protocol_for(self.guard),
            timeout_keep_alive=30,
            limit_concurrency=None,
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

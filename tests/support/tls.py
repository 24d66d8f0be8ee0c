"""Real HTTP(S) servers on loopback that record the exact bytes they receive.

``make_certs`` issues a throw-away CA and a server certificate (trustme) for
``127.0.0.1`` and ``localhost``. ``RecordingServer`` is a threaded raw-socket
HTTP/1.1 server: it keeps every connection's received bytes (after TLS
decryption) so tests can assert what went over the wire, and also that
nothing did (a pin mismatch must leave ``connections == [b""]``).

    certs = make_certs(tmp_path)
    with RecordingServer(tls=True, certs=certs, responder=lambda req: (204, {}, b"")) as srv:
        ...  # client talks to srv.url, trusting certs.ca_file
    line, headers, body = srv.requests[0]
"""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

REASONS = {
    200: "OK",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    413: "Payload Too Large",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


@dataclass
class Certs:
    """Files and facts about one throw-away PKI."""

    ca_file: Path  # PEM of the CA: pass as ca_file / --ca-file
    cert_file: Path  # PEM server certificate chain
    key_file: Path  # PEM server private key
    der: bytes  # DER of the server's leaf certificate (hash it for fingerprints)
    ca: Any = field(repr=False, default=None)  # the trustme.CA, to issue more certs

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(self.cert_file), str(self.key_file))
        return ctx


def make_certs(
    tmp_path: Path,
    *identities: str,
    not_after: datetime.datetime | None = None,
    name: str = "server",
) -> Certs:
    """A CA and a leaf for ``identities`` (default 127.0.0.1, localhost), files in tmp_path."""
    import trustme

    tmp_path = Path(tmp_path)
    tmp_path.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    leaf = ca.issue_cert(*(identities or ("127.0.0.1", "localhost")), not_after=not_after)
    ca_file = tmp_path / f"{name}-ca.pem"
    cert_file = tmp_path / f"{name}.pem"
    key_file = tmp_path / f"{name}.key"
    ca.cert_pem.write_to_path(str(ca_file))
    leaf.private_key_pem.write_to_path(str(key_file))
    with open(cert_file, "wb") as f:
        for blob in leaf.cert_chain_pems:
            f.write(blob.bytes())
    der = ssl.PEM_cert_to_DER_cert(leaf.cert_chain_pems[0].bytes().decode("ascii"))
    return Certs(ca_file=ca_file, cert_file=cert_file, key_file=key_file, der=der, ca=ca)


class Request(NamedTuple):
    """One parsed request: ``line, headers, body = request``."""

    line: str  # e.g. "POST /api/put HTTP/1.1"
    headers: dict[str, str]  # names exactly as sent
    body: bytes  # exactly as sent (still gzip-compressed if it was)

    def header(self, name: str) -> str | None:
        """Case-insensitive header lookup."""
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None


Response = tuple[int, dict[str, str], bytes]
Responder = Callable[[Request], Response]


def no_content(_request: Request) -> Response:
    return 204, {}, b""


class RecordingServer:
    """A threaded HTTP(S)/1.1 server on 127.0.0.1 that records raw bytes per connection.

    ``responder(request) -> (status, headers, body)`` scripts the answers; it
    may raise to make the server drop the connection without answering.
    Keep-alive is honoured unless the request or the response says
    ``Connection: close``.
    """

    def __init__(
        self,
        tls: bool = True,
        responder: Responder | None = None,
        certs: Certs | None = None,
        tmp_path: Path | None = None,
        io_timeout_s: float = 10.0,
        keep_alive: bool = True,
    ) -> None:
        self.tls = tls
        self.keep_alive = keep_alive  # False: hang up after each answer without saying so
        self.responder: Responder = responder or no_content
        self.io_timeout_s = io_timeout_s
        self._raw: list[bytearray] = []
        self.requests: list[Request] = []
        self.handshake_errors: list[str] = []
        self.closed_connections = 0
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._open: list[socket.socket] = []
        self._stopping = False
        self.context: ssl.SSLContext | None = None
        self.certs: Certs | None = certs
        if tls:
            if self.certs is None:
                if tmp_path is None:
                    import tempfile

                    tmp_path = Path(tempfile.mkdtemp(prefix="tspush-tls-"))
                self.certs = make_certs(tmp_path)
            self.context = self.certs.server_context()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port: int = self._listener.getsockname()[1]
        self._acceptor: threading.Thread | None = None

    # -- public ---------------------------------------------------------------

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    @property
    def connections(self) -> list[bytes]:
        """Raw received bytes, one entry per accepted connection (TLS: decrypted)."""
        with self._lock:
            return [bytes(b) for b in self._raw]

    def start(self) -> RecordingServer:
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)
        self._acceptor.start()
        return self

    def stop(self) -> None:
        self._stopping = True
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        except OSError:
            pass
        try:
            self._listener.close()
        except OSError:
            pass
        with self._lock:
            socks = list(self._open)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                s.close()
            except OSError:
                pass
        for t in [self._acceptor, *self._threads]:
            if t is not None:
                t.join(5)

    def wait_closed(self, n: int = 1, timeout_s: float = 5.0) -> None:
        """Block until ``n`` connections have ended (the server saw EOF or an error)."""
        deadline = time.monotonic() + timeout_s
        while self.closed_connections < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.closed_connections} of {n} connections closed")
            time.sleep(0.01)

    def wait_requests(self, n: int = 1, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.requests) < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.requests)} of {n} requests received")
            time.sleep(0.01)

    def __enter__(self) -> RecordingServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- internals ------------------------------------------------------------

    def _accept_loop(self) -> None:
        while not self._stopping:
            try:
                conn, _addr = self._listener.accept()
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            with self._lock:
                self._threads.append(t)
                self._open.append(conn)
            t.start()

    def _serve(self, conn: socket.socket) -> None:
        raw = bytearray()
        with self._lock:
            self._raw.append(raw)
        sock: socket.socket = conn
        try:
            conn.settimeout(self.io_timeout_s)
            if self.context is not None:
                try:
                    sock = self.context.wrap_socket(conn, server_side=True)
                except (ssl.SSLError, OSError) as exc:
                    self.handshake_errors.append(str(exc))
                    return
                with self._lock:
                    self._open.append(sock)
            self._http_loop(sock, raw)
        except (OSError, ValueError):
            pass
        finally:
            try:
                sock.close()
            except OSError:
                pass
            with self._lock:
                self.closed_connections += 1

    def _recv(self, sock: socket.socket, raw: bytearray) -> bytes:
        try:
            data = sock.recv(65536)
        except ssl.SSLError:
            return b""
        raw.extend(data)
        return data

    def _http_loop(self, sock: socket.socket, raw: bytearray) -> None:
        buf = b""
        while True:
            while b"\r\n\r\n" not in buf:
                data = self._recv(sock, raw)
                if not data:
                    return
                buf += data
            head, buf = buf.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            headers: dict[str, str] = {}
            for item in lines[1:]:
                name, _, value = item.partition(":")
                headers[name.strip()] = value.strip()
            length = 0
            for k, v in headers.items():
                if k.lower() == "content-length":
                    length = int(v)
            while len(buf) < length:
                data = self._recv(sock, raw)
                if not data:
                    return
                buf += data
            body, buf = buf[:length], buf[length:]
            request = Request(lines[0], headers, body)
            with self._lock:
                self.requests.append(request)
            status, rheaders, rbody = self.responder(request)
            close = (request.header("Connection") or "").lower() == "close"
            out = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}"]
            has_length = False
            for k, v in rheaders.items():
                out.append(f"{k}: {v}")
                if k.lower() == "content-length":
                    has_length = True
                if k.lower() == "connection" and v.lower() == "close":
                    close = True
            if not has_length:
                out.append(f"Content-Length: {len(rbody)}")
            sock.sendall(("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + rbody)
            if close or not self.keep_alive:
                return

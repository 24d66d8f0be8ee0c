"""HTTP(S) to one server over a keep-alive urllib3 pool; the only place that sees sockets.

TLS: the system CA store by default (or ``ca_file``). A ``fingerprint`` pins
the leaf certificate (SHA-1 or SHA-256, any format ``core.fingerprint``
reads); like the original board, a pin alone replaces CA checking, so a
self-signed server can be pinned. urllib3 checks the pin right after the
handshake, before any request byte (and so before the token) is written.
``insecure`` turns CA and host name checks off and says so on stderr (an
explicit pin is still checked).

Bodies always go with ``Content-Length``: never chunked, never
``Expect: 100-continue`` (stock OpenTSDB refuses both). urllib3 does not
retry: the retry policy lives in the agent.

Foreign errors (urllib3, OSError, ssl) are mapped once here to the
``core.errors.TransportError`` tree, the cause kept, the token redacted.
"""

from __future__ import annotations

import gzip as gzip_mod
import http.client
import socket
import ssl
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    InsecureRequestWarning,
    NameResolutionError,
    NewConnectionError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.exceptions import ProtocolError as U3ProtocolError
from urllib3.util import parse_url

from tspush import __version__
from tspush.core import auth
from tspush.core import fingerprint as fp
from tspush.core.errors import (
    ConfigError,
    ConnectError,
    DNSError,
    PinMismatch,
    ProtocolError,
    Timeout,
    TLSError,
    TransportError,
)

USER_AGENT = "tspush/" + __version__
# No real /api/put answer is this big; a bigger body is cut and its connection dropped,
# so a broken server cannot make us allocate or read gigabytes.
MAX_REPLY_BYTES = 1 << 20
LOOPBACK = ("127.0.0.1", "::1", "localhost")


@dataclass
class Reply:
    """What came back: status, headers (as sent), body, wall time, body bytes written."""

    status: int
    headers: dict[str, str]
    body: bytes
    elapsed_s: float
    sent_bytes: int


CREDENTIALS_IN_URL = (
    "the URL holds a user name or password (USER:TOKEN@HOST), which would be shown and "
    "logged with it: remove it, give the token with --token-file, TSPUSH_TOKEN or token "
    "in tspush.toml, and the user with --user / user"
)


def check_ca_file(ca_file: str, key: str = "ca_file") -> None:
    """Load ``ca_file`` once up front, so a typo is a config error, not a TLS failure."""
    try:
        ssl.create_default_context(cafile=ca_file)
    except FileNotFoundError:
        raise ConfigError(
            "%s: no such file: give the PEM file of the CA that signed the server's certificate"
            % ca_file,
            key,
        ) from None
    except (ssl.SSLError, OSError) as e:
        why = (e.reason if isinstance(e, ssl.SSLError) else e.strerror) or str(e)
        raise ConfigError(
            "%s: cannot load CA certificates from it (%s): give a PEM file" % (ca_file, why), key
        ) from None


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


class Transport:
    """POSTs bodies to one server (scheme, host, port) with auth and TLS settings."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        auth_scheme: str = auth.BASIC,
        auth_user: str = auth.DEFAULT_USER,
        fingerprint: str | None = None,
        insecure: bool = False,
        ca_file: str | None = None,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 30.0,
        gzip: bool = False,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        warn = warn or _stderr
        self.url = url
        self.token = token or None
        self.auth_scheme = auth_scheme
        self.auth_user = auth_user
        self.gzip = gzip
        self.secrets: list[str] = auth.secret_forms(self.token, auth_user)
        if self.token and any(ord(c) < 32 or ord(c) == 127 for c in self.token):
            raise ConfigError(
                "the token contains a line break or control character: check how it was "
                "pasted (a token file may hold it on its first line only)",
                "token",
            )
        if auth_scheme not in auth.SCHEMES:
            raise ConfigError(
                "unknown auth scheme %r: use one of %s" % (auth_scheme, ", ".join(auth.SCHEMES)),
                "auth",
            )
        try:
            u = parse_url(url)
        except ValueError as e:
            raise ConfigError("%r is not a URL: %s" % (url, e), "url") from e
        if u.auth:
            raise ConfigError(CREDENTIALS_IN_URL, "url")  # and the URL is not repeated
        if u.scheme not in ("http", "https") or not u.host:
            raise ConfigError(
                "%r is not an http(s) URL: write it as https://HOST[:PORT][/path]" % url, "url"
            )
        self.scheme: str = u.scheme
        self.host: str = u.host.strip("[]")
        self.port: int = u.port or (443 if u.scheme == "https" else 80)
        path = u.path or ""
        self.base_path: str = ""
        if path not in ("", "/") or u.query:
            self.base_path = (path or "/") + ("?" + u.query if u.query else "")
        self.origin = "%s://%s" % (self.scheme, u.netloc)
        timeout = urllib3.Timeout(connect=connect_timeout_s, read=read_timeout_s)
        common: dict[str, object] = {
            "timeout": timeout,
            "retries": False,
            "maxsize": 2,
            "block": False,
        }
        self.pin: tuple[str, bytes] | None = None
        if fingerprint:
            self.pin = fp.parse(fingerprint)
        self._pool: urllib3.HTTPConnectionPool
        if self.scheme == "https":
            kw = dict(common)
            if insecure:
                warn(
                    "tspush: warning: --insecure: the server's certificate is NOT checked; "
                    "anyone on the path can read the token and the data"
                )
                kw["cert_reqs"] = ssl.CERT_NONE
                kw["assert_hostname"] = False
                import warnings

                warnings.simplefilter("ignore", InsecureRequestWarning)
            elif self.pin is not None and not ca_file:
                # The pin is the trust anchor, as on the original board.
                kw["cert_reqs"] = ssl.CERT_NONE
                kw["assert_hostname"] = False
            else:
                kw["cert_reqs"] = ssl.CERT_REQUIRED
                if ca_file:
                    check_ca_file(str(ca_file))
                    kw["ca_certs"] = str(ca_file)
            if self.pin is not None:  # an explicit pin holds even with --insecure
                kw["assert_fingerprint"] = fp.hex_plain(self.pin[1])
            self._pool = urllib3.HTTPSConnectionPool(self.host, self.port, **kw)  # type: ignore[arg-type]
        else:
            if fingerprint or ca_file:
                warn("tspush: warning: %s is plain http: fingerprint/ca_file are ignored" % url)
            if self.token and self.host not in LOOPBACK:
                warn(
                    "tspush: warning: the token goes in clear text over plain http to %s; "
                    "use https" % self.host
                )
            self._pool = urllib3.HTTPConnectionPool(self.host, self.port, **common)  # type: ignore[arg-type]

    def auth_header(self) -> tuple[str, str] | None:
        pair = auth.header_pair(self.auth_scheme, self.token, self.auth_user)
        return (pair[0], pair[1]) if pair else None

    def display_url(self, path: str) -> str:
        """``host[:port]/path`` as the original printed it (no scheme, no token)."""
        u = parse_url(self.url)
        return auth.redact("%s%s" % (u.netloc, path), self.secrets)

    def send(self, request: Any) -> Reply:
        """The delivery engine's one call (``core.answer``): a Request in, its Reply out.

        The Reply has the Response's three fields (status, headers, body); the
        request's ``Content-Type`` header, if any, replaces the JSON default.
        """
        headers = dict(request.headers or {})
        content_type = headers.pop("Content-Type", "application/json")
        return self.post(
            request.path or self.base_path or "/",
            request.body,
            content_type=content_type,
            headers=headers or None,
        )

    def post(
        self,
        path: str,
        body: bytes,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """Send one POST and return the reply whatever its status; raise TransportError."""
        data = gzip_mod.compress(body) if self.gzip else body
        h = {
            "Content-Type": content_type,
            "Content-Length": str(len(data)),
            "User-Agent": USER_AGENT,
        }
        if self.gzip:
            h["Content-Encoding"] = "gzip"
        pair = self.auth_header()
        if pair:
            h[pair[0]] = pair[1]
        if headers:
            h.update(headers)
        started = time.monotonic()
        try:
            resp = self._pool.urlopen(
                "POST",
                path or "/",
                body=data,
                headers=h,
                redirect=False,
                retries=False,
                chunked=False,
                preload_content=False,
                assert_same_host=False,
            )
            body = resp.read(MAX_REPLY_BYTES + 1)
            if len(body) > MAX_REPLY_BYTES:
                body = body[:MAX_REPLY_BYTES]
                resp.close()  # do not read the rest, do not reuse the connection
        except (HTTPError, OSError, http.client.HTTPException, ValueError) as e:
            raise self._map(e, path) from e
        elapsed_s = time.monotonic() - started
        reply = Reply(
            status=resp.status,
            headers={k: v for k, v in resp.headers.items()},
            body=body or b"",
            elapsed_s=elapsed_s,
            sent_bytes=len(data),
        )
        resp.release_conn()
        return reply

    def close(self) -> None:
        self._pool.close()

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the one place foreign errors become ours ------------------------------

    def _map(self, e: BaseException, path: str) -> TransportError:
        where = "%s:%d" % (self.host, self.port)
        cause = e
        # urllib3 wraps the interesting error; look through the chain.
        inner: BaseException | None = e
        for _ in range(5):
            if inner is None:
                break
            if isinstance(inner, (ssl.SSLError, socket.gaierror, ConnectionRefusedError)):
                break
            nxt = getattr(inner, "reason", None) or inner.__cause__ or inner.__context__
            if not isinstance(nxt, BaseException) or nxt is inner:
                break
            inner = nxt
        text = self._redact(str(e))
        err: TransportError
        if isinstance(e, NameResolutionError) or isinstance(inner, socket.gaierror):
            err = DNSError(
                "cannot resolve %s: check the host name in the URL and the DNS/network (%s)"
                % (self.host, text),
                cause,
            )
        elif isinstance(e, SSLError) and "fingerprints did not match" in text.lower():
            got = ""
            if self.pin is not None:
                got = " (pinned %s %s)" % (self.pin[0].upper(), fp.format_original(self.pin[1]))
            err = PinMismatch(
                "the certificate of %s does not match the pinned fingerprint%s; nothing was "
                "sent. If the server renewed its certificate, run 'tspush fingerprint %s' "
                "and update the fingerprint" % (where, got, where),
                cause,
            )
        elif isinstance(e, SSLError) or isinstance(inner, ssl.SSLError):
            low = text.lower()
            if "certificate verify failed" in low or "hostname" in low:
                hint = (
                    "the certificate is not trusted for %s: pass --ca-file with the CA that "
                    "signed it, or pin it with --fingerprint (see 'tspush fingerprint %s')"
                    % (self.host, where)
                )
            elif "wrong version number" in low or "record layer" in low:
                hint = "the server did not answer TLS: is it plain http:// ?"
            else:
                hint = "TLS handshake failed"
            err = TLSError("%s: %s (%s)" % (where, hint, text), cause)
        elif isinstance(e, (ConnectTimeoutError, ReadTimeoutError)) and not isinstance(
            e, NewConnectionError
        ):
            phase = "connect" if isinstance(e, ConnectTimeoutError) else "read"
            err = Timeout(
                "%s: %s timed out: check the server is up, or raise %s_timeout_s"
                % (where, phase, phase),
                cause,
            )
        elif isinstance(e, socket.timeout) or isinstance(inner, socket.timeout):
            err = Timeout("%s: timed out: check the server is up (%s)" % (where, text), cause)
        elif isinstance(e, NewConnectionError) or isinstance(inner, ConnectionRefusedError):
            err = ConnectError(
                "cannot connect to %s: is the server running and the port right? (%s)"
                % (where, text),
                cause,
            )
        elif isinstance(e, (U3ProtocolError, http.client.HTTPException)):
            hint = "; if it speaks TLS, write https:// in the URL" if self.scheme == "http" else ""
            err = ProtocolError(
                "%s closed the connection or sent an invalid HTTP answer to POST %s%s (%s)"
                % (where, path, hint, text),
                cause,
            )
        elif isinstance(e, OSError):
            err = ConnectError("%s: network error: %s" % (where, text), cause)
        else:
            err = TransportError("%s: %s" % (where, text), cause)
        return err

    def _redact(self, text: str) -> str:
        return auth.redact(text, self.secrets)

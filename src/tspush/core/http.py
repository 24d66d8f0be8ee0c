"""A small HTTP/1.1 client for the board, and its response parser.

Why our own: micropython-lib's ``requests`` speaks HTTP/1.0 with
``Connection: close`` (one TLS handshake per request), rejects chunked
answers and writes one small TLS record per header. This one keeps the
connection alive, sends ``Content-Length`` bodies (never chunked: stock
OpenTSDB refuses them), reads Content-Length, chunked and close-delimited
answers, and writes the request in pieces through one small buffer so a
request costs a few large TLS records and no body-sized copy. That buffer
is allocated on connect and freed on close, and serves both ways (the
request is all sent before the answer is read): an idle board holds none.

Three parts, each usable alone:

* ``httpread.parse_response(readable)``: the parser, and ``httpread.Response``. It only calls
  ``readline()`` and ``read(n)``, so a ``BytesIO`` feeds it in tests and
  fuzzers. With ``httpread.Reader`` (``readline``/``read`` over a socket
  with one fixed buffer) it is loaded at the first connect, not at set-up:
  a board at rest holds neither.
* ``Connection``: DNS, TCP, keep-alive, and the mapping of OSError to
  ``tspush.core.errors`` at this edge; TLS (CA verification, certificate
  pins checked before any HTTP byte is sent, or explicitly insecure) is in
  ``core.tls``, imported only for an https URL (RAM on the relay path).
"""

from tspush.core import errors


def _errno(e):
    try:
        return e.errno if e.errno is not None else e.args[0]
    except (AttributeError, IndexError):
        return None


def _is_timeout(e):
    # EAGAIN, ETIMEDOUT (unix, lwIP)
    return _errno(e) in (11, 110, 116, -116) or "timed out" in str(e)


class Connection:
    """One kept-alive HTTP/1.1 connection to ``host:port``, plain or TLS.

    TLS: ``ca_der`` (a DER certificate or a list of them) verifies the
    server (CERT_REQUIRED and the host name); ``pins`` is a list of
    ``(algorithm, digest)`` from ``fingerprint.parse``, checked with
    ``getpeercert(True)`` before a single HTTP byte (hence the token) is sent;
    ``insecure=True`` is the explicit no-verification mode. ``min_free_bytes``
    refuses to start TLS with less heap free (axTLS crashes instead of raising).
    """

    def __init__(
        self,
        host,
        port,
        tls=False,
        ca_der=None,
        pins=None,
        insecure=False,
        timeout_s=10,
        buf_bytes=1024,
        min_free_bytes=0,
        max_body_bytes=16384,  # httpread.MAX_BODY_BYTES
    ):
        if tls and not (ca_der or pins or insecure):
            raise errors.TLSError(errors.words(70, host))  # no CA, no fingerprint, not insecure
        self.host = host
        self.port = port
        self.tls = tls
        self.ca_der = ca_der
        self.pins = pins or []
        self.insecure = insecure
        self.timeout_s = timeout_s
        self.min_free_bytes = min_free_bytes
        self.max_body_bytes = max_body_bytes
        self.buf_bytes = buf_bytes
        self._buf = bytearray()  # allocated on connect, freed on close
        self.sock = None
        self._raw = None
        self._reader = None
        self._poller = None
        self.sent_bytes = 0
        self.connects = 0
        self.pins_unchecked = False
        self.idle = None  # the board feeds its watchdog and takes due readings here

    def where(self):
        return "%s://%s:%d" % ("https" if self.tls else "http", self.host, self.port)

    def close(self):
        for s in (self.sock, self._raw):
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass
        self.sock = None
        self._raw = None
        self._reader = None
        self._poller = None
        self._buf = bytearray()

    def reserve(self):
        """Allocate the buffer and load the answer's reader now, before the caller reads a
        batch: later, in a heap cut up by the batch's records, no 1 KiB block may be left."""
        if len(self._buf) != self.buf_bytes:
            self._buf = bytearray(self.buf_bytes)
        from tspush.core import httpread  # noqa: F401

    def connect(self):
        import socket

        buf = self._buf
        self.close()
        self._buf = buf  # a buffer reserved before is kept
        try:
            ai = socket.getaddrinfo(self.host, self.port, 0, socket.SOCK_STREAM)[0]
        except OSError as e:
            raise errors.DNSError(errors.words(71, self.host), e)  # did not resolve
        raw = socket.socket(ai[0], socket.SOCK_STREAM)
        self._raw = raw
        try:
            raw.settimeout(self.timeout_s)
            raw.connect(ai[-1])
        except OSError as e:
            self.close()
            if _is_timeout(e):
                raise errors.Timeout(errors.words(72, (self.where(), self.timeout_s)), e)
            raise errors.ConnectError(errors.words(73, (self.where(), _errno(e))), e)
        # Nagle off: the head and body go out in separate writes, and a delayed ACK
        # would stall each request by up to 40 ms. Not every port has the option.
        try:
            raw.setsockopt(6, 1, 1)  # IPPROTO_TCP, TCP_NODELAY
        except (OSError, AttributeError, TypeError):
            pass
        sock = raw
        if self.tls:
            from tspush.core.tls import wrap

            sock = wrap(self, raw)
        self.sock = sock
        wait = None
        if hasattr(sock, "readinto"):
            # MicroPython's readinto() waits to fill the whole buffer: read what is
            # there without blocking, and wait with poll() (which bounds the time).
            import select

            sock.setblocking(False)
            self._poller = select.poll()
            self._poller.register(sock, select.POLLIN)
            wait = lambda: self._wait(select.POLLIN)  # noqa: E731  (a name costs RAM)
        self.reserve()
        from tspush.core.httpread import Reader

        self._reader = Reader(sock, self._buf, wait)
        self.connects += 1

    def _wait(self, mask):
        """Up to ``timeout_s``; ``idle`` (if set) is called every second while waiting."""
        poller = getattr(self, "_poller")
        poller.modify(self.sock, mask)
        left = int(self.timeout_s * 1000)
        idle = getattr(self, "idle")
        while True:
            step = left if idle is None or left < 1000 else 1000
            if poller.poll(step):
                return
            left -= step
            if left <= 0:
                raise OSError(110)
            idle()

    def _write_all(self, data):
        write = getattr(self.sock, "write", None) or getattr(self.sock, "send")
        mv = memoryview(data)
        while len(mv):
            try:
                n = write(mv)
            except OSError as e:
                if self._poller is None or _errno(e) != 11:
                    raise
                n = None
            if n is None:
                if self._poller is None:
                    raise OSError(11)
                import select

                self._wait(select.POLLOUT)
                continue
            mv = mv[n:]
            self.sent_bytes += n

    def _send(self, head, body):
        """Head parts then body parts through the buffer; flush whenever it fills.

        The reader shares the buffer: nothing is pending in it between answers.
        """
        buf = self._buf
        reader = getattr(self, "_reader")
        reader._start = reader._end = 0
        cap = len(buf)
        out = memoryview(buf)
        used = 0
        single = isinstance(body, (bytes, bytearray, memoryview))
        for seq in (head, (body,) if single else body):
            for part in seq:
                src = memoryview(part)
                pos = 0
                n = len(src)
                while pos < n:
                    take = cap - used
                    if take > n - pos:
                        take = n - pos
                    out[used : used + take] = src[pos : pos + take]
                    used += take
                    pos += take
                    if used == cap:
                        self._write_all(out)
                        used = 0
        if used:
            self._write_all(out[:used])

    def request(self, method, path, body=b"", headers=None, body_len=None):
        """Send one request and return its Response; reconnects once if a kept socket died.

        ``body`` is bytes, or a list of byte strings sent back to back (then
        ``body_len`` may give their total), so callers need not join them.
        """
        if body_len is None:
            if isinstance(body, (bytes, bytearray)):
                body_len = len(body)
            else:
                body_len = 0
                for part in body:
                    body_len += len(part)
        # the head in pieces, one per line: no head-sized string is built (and copied twice
        # by ``+=`` and ``encode``), which a fragmented heap may not have in one block
        head = [
            (
                "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n"
                % (method, path, self.host, body_len)
            ).encode()
        ]
        if headers:
            for k in headers:
                head.append(("%s: %s\r\n" % (k, headers[k])).encode())
        head.append(b"\r\n")
        for attempt in (0, 1):
            reused = self.sock is not None
            if not reused:
                self.connect()
            try:
                self._send(head, body)
            except OSError as e:
                self.close()
                if reused and attempt == 0:
                    continue
                raise self._io_error("sending", e)
            reader = self._reader
            before = getattr(reader, "total", 0)
            from tspush.core.httpread import parse_response

            try:
                resp = parse_response(reader, method, self.max_body_bytes)
            except errors.ProtocolError:
                nothing = getattr(reader, "total", 0) == before
                self.close()
                if reused and attempt == 0 and nothing:
                    continue
                raise
            except OSError as e:
                self.close()
                raise self._io_error("", e)
            if resp.will_close:
                self.close()
            return resp
        raise errors.ConnectError(errors.words(74, self.where()))  # keeps dropping

    def _io_error(self, doing, e):
        """``doing``: "sending", or "" for reading the answer (its words come from flash)."""
        doing = doing or errors.words(77)
        if _is_timeout(e):
            return errors.Timeout(errors.words(75, (self.where(), self.timeout_s, doing)), e)
        return errors.ConnectError(errors.words(76, (self.where(), doing, e)), e)


def split_url(url):
    """``(tls, host, port, path)`` from ``http(s)://host[:port][/path]``; ValueError otherwise."""
    if url.startswith("https://"):
        tls, rest, port = True, url[8:], 443
    elif url.startswith("http://"):
        tls, rest, port = False, url[7:], 80
    else:
        raise ValueError("URL %r must start with http:// or https://" % url)
    hostport, sep, path = rest.partition("/")
    path = "/" + path if sep else "/"
    host, sep, p = hostport.rpartition(":")
    if sep and p.isdigit() and "]" not in p:
        port = int(p)
    else:
        host = hostport
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host:
        raise ValueError("URL %r has no host name" % url)
    return tls, host, port, path

"""Reading an HTTP/1.x answer: the parser and a buffered socket reader.

Split from ``core.http`` so that a board loads them at its first request,
not at set-up (every module and name costs RAM on an ESP8266).
``parse_response`` only calls ``readline()`` and ``read(n)``, so a
``BytesIO`` feeds it in tests and fuzzers.
"""

from tspush.core import errors
from tspush.core.http import _errno

try:
    from micropython import const  # a private const name is not interned (RAM)
except ImportError:  # CPython
    const = int

_MAX_LINE = const(2048)
_MAX_HEADERS = const(64)
MAX_BODY_BYTES = 16384
# past this much body, stop reading and close instead of keeping alive
_MAX_DRAIN = const(65536)


class Response:
    """Status, lower-case header names, body bytes, and whether the server closes."""

    __slots__ = ("status", "reason", "headers", "body", "will_close", "truncated")

    def __init__(self, status, reason, headers, body, will_close, truncated=False):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.will_close = will_close
        self.truncated = truncated

    def __repr__(self):
        return "Response(%d, %d bytes)" % (self.status, len(self.body))


def _bad(code, args=()):
    """A ProtocolError with line ``code`` of ``core/says.py`` (rare: read from flash)."""
    return errors.ProtocolError(errors.words(code, args))


def _line(readable):
    line = readable.readline()
    if len(line) > _MAX_LINE:
        raise _bad(50, len(line))  # HTTP line of %d bytes is too long
    return line


def _status_line(readable):
    line = _line(readable)
    if not line:
        raise _bad(51)  # the server closed the connection without answering
    if not line.endswith(b"\n"):
        raise _bad(52)  # the status line was cut short
    parts = bytes(line).strip().split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
        raise _bad(53, bytes(line[:60]))  # not an HTTP/1.x answer: %r
    code = parts[1]
    if len(code) != 3 or not code.isdigit():
        raise _bad(54, bytes(code[:10]))  # bad HTTP status %r
    status = int(code)
    if status < 100:
        raise _bad(55, status)  # bad HTTP status %d
    try:
        reason = parts[2].decode() if len(parts) > 2 else ""
    except UnicodeError:  # a reason phrase that is not UTF-8 is not worth failing for
        reason = ""
    return parts[0], status, reason


def _headers(readable):
    headers = {}
    n = 0
    while True:
        line = _line(readable)
        if not line.endswith(b"\n"):
            raise _bad(56)  # the answer's headers were cut short
        line = bytes(line).rstrip(b"\r\n")
        if not line:
            return headers
        n += 1
        if n > _MAX_HEADERS:
            raise _bad(57, _MAX_HEADERS)  # more than %d header lines
        if line[0] in b" \t":
            raise _bad(58)  # folded header lines are not allowed
        name, sep, value = line.partition(b":")
        if not sep or not name or name != name.strip():
            raise _bad(59, line[:60])  # bad header line %r
        try:
            key = name.decode().lower()
            val = value.strip().decode()
        except UnicodeError:
            raise _bad(60, name[:40])  # header %r is not text
        if key in headers:
            val = headers[key] + ", " + val
        headers[key] = val


def _read_exact(readable, n, keep, out):
    """Read ``n`` bytes; append up to ``keep`` of them to ``out``; return bytes kept."""
    kept = 0
    while n > 0:
        chunk = readable.read(n if n < 1024 else 1024)
        if not chunk:
            raise _bad(61)  # the server closed the connection in the middle of the body
        n -= len(chunk)
        if kept < keep:
            room = keep - kept
            part = chunk if len(chunk) <= room else chunk[:room]
            out.extend(part)
            kept += len(part)
    return kept


def _chunked(readable, max_body_bytes, out):
    total = 0
    while True:
        line = _line(readable)
        if not line.endswith(b"\n"):
            raise _bad(62)  # a chunk size line was cut short
        size_s = bytes(line).split(b";", 1)[0].strip()
        if not size_s or len(size_s) > 8:
            raise _bad(63, size_s[:20])  # bad chunk size %r
        try:
            size = int(size_s, 16)
        except ValueError:
            raise _bad(63, size_s[:20])  # bad chunk size %r
        if size < 0:
            raise _bad(63, size_s[:20])  # bad chunk size %r
        if size == 0:
            _headers(readable)  # trailers, ignored
            return total
        keep = max_body_bytes - len(out)
        if total + size > _MAX_DRAIN:  # a huge body: keep what fits, drop the connection
            if keep > 0:
                _read_exact(readable, size if size < keep else keep, keep, out)
            return None
        _read_exact(readable, size, keep if keep > 0 else 0, out)
        total += size
        if _line(readable).strip():
            raise _bad(64)  # chunk data is longer than its size


def parse_response(readable, method="POST", max_body_bytes=MAX_BODY_BYTES):
    """Read one HTTP/1.x answer from ``readable`` (``readline()``/``read(n)``).

    Skips 1xx interim answers. Keeps at most ``max_body_bytes`` of the body
    but reads all of it, so a kept-alive connection stays in step; a body over
    ``_MAX_DRAIN`` is not drained (``will_close`` is set instead). Raises
    ProtocolError for anything that is not valid HTTP.
    """
    for _ in range(5):
        version, status, reason = _status_line(readable)
        headers = _headers(readable)
        if status >= 200:
            break
    else:
        raise _bad(65)  # too many 1xx interim answers
    conn = headers.get("connection", "").lower()
    will_close = "close" in conn or (version == b"HTTP/1.0" and "keep-alive" not in conn)
    out = bytearray()
    truncated = False
    if method == "HEAD" or status in (204, 304):
        pass
    elif "chunked" in headers.get("transfer-encoding", "").lower():
        total = _chunked(readable, max_body_bytes, out)
        if total is None:
            will_close = truncated = True
        else:
            truncated = total > len(out)
    elif "content-length" in headers:
        values = [v.strip() for v in headers["content-length"].split(",")]
        for v in values:
            if v != values[0] or not v.isdigit() or len(v) > 12:
                raise _bad(66, headers["content-length"][:40])  # bad Content-Length %r
        n = int(values[0])
        if n > _MAX_DRAIN and n > max_body_bytes:
            will_close = True  # do not read gigabytes just to keep the connection
            _read_exact(readable, max_body_bytes, max_body_bytes, out)
        else:
            _read_exact(readable, n, max_body_bytes, out)
        truncated = n > len(out)
    else:
        will_close = True
        drained = 0
        while drained <= _MAX_DRAIN:
            chunk = readable.read(512)
            if not chunk:
                break
            drained += len(chunk)
            room = max_body_bytes - len(out)
            if room > 0:
                out.extend(chunk[:room])
            if len(chunk) > room:
                truncated = True
    return Response(status, reason, headers, bytes(out), will_close, truncated)


class Reader:
    """Buffered ``readline()`` / ``read(n)`` over a socket, one fixed buffer."""

    def __init__(self, sock, buf, wait=None):
        self._recv = getattr(sock, "readinto", None) or sock.recv_into
        self._wait = wait  # blocks until readable, or raises OSError(110)
        self._buf = buf
        self._mv = memoryview(buf)
        self._start = 0
        self._end = 0
        self.total = 0

    def _fill(self):
        while True:
            try:
                n = self._recv(self._mv)
            except OSError as e:
                if self._wait is None or _errno(e) != 11:
                    raise
                n = None
            if n is not None:
                break
            if self._wait is None:
                raise OSError(11)
            self._wait()
        self._start = 0
        self._end = n
        self.total += n
        return n

    def readline(self):
        parts = []
        size = 0
        while True:
            if self._start >= self._end and not self._fill():
                break
            i = self._buf.find(b"\n", self._start, self._end)
            stop = self._end if i < 0 else i + 1
            parts.append(bytes(self._mv[self._start : stop]))
            size += stop - self._start
            self._start = stop
            if i >= 0 or size > _MAX_LINE:
                break
        return b"".join(parts)

    def read(self, n):
        if self._start >= self._end and not self._fill():
            return b""
        stop = self._start + n
        if stop > self._end:
            stop = self._end
        out = bytes(self._mv[self._start : stop])
        self._start = stop
        return out

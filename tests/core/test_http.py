"""The board's HTTP/1.1 client: the parser on byte strings, the client on a fake socket.

Runs under pytest and under the MicroPython unix port (tests/mprun.py).
"""

import io

from mpcompat import raises
from tspush.core.errors import ConnectError, ProtocolError, TLSError
from tspush.core.http import Connection, split_url
from tspush.core.httpread import Reader, parse_response


def parse(data, method="POST", max_body_bytes=16384):
    return parse_response(io.BytesIO(data), method, max_body_bytes)


def test_content_length_body_and_headers():
    r = parse(
        b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
        b'Content-Length: 7\r\nX-A: 1\r\nX-A: 2\r\n\r\n{"e":1}'
    )
    assert r.status == 400
    assert r.reason == "Bad Request"
    assert r.body == b'{"e":1}'
    assert r.headers["content-type"] == "application/json"
    assert r.headers["x-a"] == "1, 2"
    assert not r.will_close


def test_204_has_no_body_even_if_bytes_follow():
    stream = io.BytesIO(
        b"HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    )
    first = parse_response(stream)
    assert first.status == 204 and first.body == b""
    second = parse_response(stream)
    assert second.status == 200 and second.body == b"ok"


def test_chunked_body_with_extensions_and_trailers():
    r = parse(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
    )
    assert r.body == b"hello world"
    assert not r.truncated


def test_close_delimited_body():
    r = parse(b"HTTP/1.1 500 Oops\r\nConnection: close\r\n\r\nsomething broke")
    assert r.status == 500
    assert r.body == b"something broke"
    assert r.will_close


def test_http10_closes_unless_keep_alive():
    assert parse(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").will_close
    assert not parse(
        b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n"
    ).will_close


def test_interim_100_continue_is_skipped():
    r = parse(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n")
    assert r.status == 204


def test_long_body_is_read_fully_but_kept_short():
    body = b"x" * 3000
    stream = io.BytesIO(
        b"HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n" + body + b"HTTP/1.1 204 N\r\n\r\n"
    )
    r = parse_response(stream, "POST", 100)
    assert r.body == b"x" * 100 and r.truncated
    assert parse_response(stream).status == 204


def test_head_answer_has_no_body():
    r = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", "HEAD")
    assert r.body == b""


def test_malformed_answers_are_protocol_errors():
    bad = [
        b"",
        b"HTTP/1.1 200 OK",
        b"SMTP 220 hello\r\n\r\n",
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"HTTP/1.1 abc OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n folded: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\nab",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
        b"HTTP/1.1 200 OK\r\nX: " + b"y" * 5000 + b"\r\n\r\n",
    ]
    for data in bad:
        raises(ProtocolError, parse, data)


def test_too_many_headers():
    data = b"HTTP/1.1 200 OK\r\n" + b"X: 1\r\n" * 70 + b"\r\n"
    raises(ProtocolError, parse, data)


class FakeSock:
    """A socket that records what is written and answers from a script."""

    def __init__(self, answer, write_max=None):
        self.answer = answer
        self.pos = 0
        self.written = bytearray()
        self.writes = 0
        self.write_max = write_max
        self.closed = False

    def write(self, data):
        if self.closed:
            raise OSError(32)
        n = len(data) if self.write_max is None else min(len(data), self.write_max)
        self.written.extend(bytes(data[:n]))
        self.writes += 1
        return n

    def readinto(self, buf):
        n = min(len(buf), len(self.answer) - self.pos, 7)  # short reads on purpose
        buf[:n] = self.answer[self.pos : self.pos + n]
        self.pos += n
        return n

    def close(self):
        self.closed = True


def attach(conn, sock):
    conn.sock = sock
    conn._buf = bytearray(conn.buf_bytes)  # what connect() allocates
    conn._reader = Reader(sock, conn._buf)


def test_request_bytes_on_the_wire():
    conn = Connection("db.example", 8080, buf_bytes=64)
    sock = FakeSock(b"HTTP/1.1 204 No Content\r\n\r\n", write_max=10)
    attach(conn, sock)
    body = b'[{"metric":"universe","value":42,"tags":{}}]'
    r = conn.request("POST", "/api/put", body, {"Content-Type": "application/json"})
    assert r.status == 204
    assert bytes(sock.written) == (
        b"POST /api/put HTTP/1.1\r\nHost: db.example\r\nContent-Length: 44\r\n"
        b"Content-Type: application/json\r\n\r\n" + body
    )
    assert conn.sent_bytes == len(sock.written)
    assert conn.sock is sock  # kept alive


def test_request_is_written_in_buffer_sized_pieces():
    conn = Connection("h", 80, buf_bytes=256)
    sock = FakeSock(b"HTTP/1.1 204 No Content\r\n\r\n")
    attach(conn, sock)
    conn.request("POST", "/api/put", b"a" * 1000)
    # 1000 body bytes + ~60 header bytes through a 256-byte buffer: 5 writes, not one per header
    assert sock.writes == 5


def test_server_close_drops_the_connection():
    conn = Connection("h", 80)
    sock = FakeSock(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
    attach(conn, sock)
    assert conn.request("POST", "/", b"x").body == b"ok"
    assert conn.sock is None and sock.closed


def test_stale_kept_connection_is_reopened_once():
    conn = Connection("h", 80)
    stale = FakeSock(b"")  # the server closed it while we were idle
    attach(conn, stale)
    fresh = FakeSock(b"HTTP/1.1 204 No Content\r\n\r\n")

    def reconnect():
        attach(conn, fresh)
        conn.connects += 1

    conn.connect = reconnect
    assert conn.request("POST", "/api/put", b"[]").status == 204
    assert conn.connects == 1
    assert bytes(fresh.written).startswith(b"POST /api/put HTTP/1.1\r\n")


def test_connection_refused_is_a_connect_error():
    conn = Connection("127.0.0.1", 1, timeout_s=2)  # port 1: nothing listens there
    e = raises(ConnectError, conn.request, "POST", "/", b"")
    assert "127.0.0.1:1" in str(e)


def test_tls_needs_a_way_to_trust_the_server():
    e = raises(TLSError, Connection, "h", 443, True)
    assert "tls_ca" in str(e)


def test_split_url():
    assert split_url("https://db.example/api/put") == (True, "db.example", 443, "/api/put")
    assert split_url("http://10.0.0.2:4242") == (False, "10.0.0.2", 4242, "/")
    assert split_url("http://[::1]:80/x?y=1") == (False, "::1", 80, "/x?y=1")
    raises(ValueError, split_url, "ftp://x")
    raises(ValueError, split_url, "http:///path")


def test_body_from_parts_is_not_joined_first():
    conn = Connection("h", 80, buf_bytes=32)
    sock = FakeSock(b"HTTP/1.1 204 No Content\r\n\r\n")
    attach(conn, sock)
    parts = [b"[", b'{"a":1}', b",", b'{"b":2}', b"]"]
    conn.request("POST", "/api/put", parts)
    assert bytes(sock.written).endswith(b'Content-Length: 17\r\n\r\n[{"a":1},{"b":2}]')

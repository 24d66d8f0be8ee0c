"""The board's HTTP client (``tspush.core.http``) against real servers on loopback.

Runs under CPython, whose ``ssl`` has ``getpeercert(True)`` like the ESP32 and
Pico W ports (the unix port's does not): so pins are checked here, including
that a mismatch sends not one byte. Under the unix port the same client is
proven by tests/host/test_board_app.py.
"""

from __future__ import annotations

import hashlib
import ssl
from pathlib import Path

import pytest

from support.tls import RecordingServer, Request, Response, make_certs
from tspush.core import fingerprint
from tspush.core.errors import PinMismatch, TLSError
from tspush.core.http import Connection


def ca_der(certs) -> bytes:  # type: ignore[no-untyped-def]
    return ssl.PEM_cert_to_DER_cert(certs.ca_file.read_text())


def chunked(_req: Request) -> Response:
    return 200, {"Transfer-Encoding": "chunked"}, b"4\r\nabcd\r\n0\r\n\r\n"


def test_verified_tls_keeps_the_connection_alive(tmp_path: Path) -> None:
    certs = make_certs(tmp_path)
    with RecordingServer(tls=True, certs=certs) as srv:
        conn = Connection("127.0.0.1", srv.port, True, ca_der=ca_der(certs), timeout_s=5)
        for i in range(3):
            r = conn.request(
                "POST",
                "/api/put",
                b'[{"metric":"m","value":%d}]' % i,
                {"Content-Type": "application/json"},
            )
            assert r.status == 204
        conn.close()
        srv.wait_requests(3)
        assert len(srv.connections) == 1  # one handshake for three requests
        assert [q.body for q in srv.requests] == [
            b'[{"metric":"m","value":%d}]' % i for i in range(3)
        ]
        assert srv.requests[0].line == "POST /api/put HTTP/1.1"
        assert srv.requests[0].header("Content-Length") == "26"


def test_pins_checked_and_a_mismatch_sends_nothing(tmp_path: Path) -> None:
    certs = make_certs(tmp_path)
    good = fingerprint.parse(hashlib.sha256(certs.der).hexdigest())
    sha1 = fingerprint.parse(fingerprint.format_original(hashlib.sha1(certs.der).digest()))
    bad = fingerprint.parse("sha256:" + "00" * 32)
    with RecordingServer(tls=True, certs=certs) as srv:
        ok = Connection("127.0.0.1", srv.port, True, ca_der=ca_der(certs), pins=[bad, good])
        assert ok.request("POST", "/api/put", b"[]").status == 204
        ok.close()
        only_sha1 = Connection("127.0.0.1", srv.port, True, pins=[sha1])  # pin alone, no CA
        assert only_sha1.request("POST", "/api/put", b"[]").status == 204
        only_sha1.close()
        wrong = Connection("127.0.0.1", srv.port, True, ca_der=ca_der(certs), pins=[bad])
        e = pytest.raises(
            PinMismatch,
            wrong.request,
            "POST",
            "/api/put",
            b"[secret]",
            {"Authorization": "Basic c2VjcmV0"},
        ).value
        assert "nothing was sent" in str(e)
        srv.wait_closed(3)
        assert srv.connections[-1] == b""
        assert all(b"secret" not in c for c in srv.connections)


def test_unknown_ca_is_a_tls_error(tmp_path: Path) -> None:
    certs = make_certs(tmp_path / "a")
    other = make_certs(tmp_path / "b")
    with RecordingServer(tls=True, certs=certs) as srv:
        conn = Connection("127.0.0.1", srv.port, True, ca_der=ca_der(other), timeout_s=5)
        e = pytest.raises(TLSError, conn.request, "POST", "/api/put", b"[]").value
        assert "check tls_ca" in str(e)
        assert not isinstance(e, PinMismatch)


def test_chunked_answer_over_plain_http() -> None:
    with RecordingServer(tls=False, responder=chunked) as srv:
        conn = Connection("127.0.0.1", srv.port, False, timeout_s=5)
        r = conn.request("POST", "/api/put", b"[]")
        assert r.status == 200 and r.body == b"abcd"

"""The recording server itself: it must see exactly what a client sends."""

from __future__ import annotations

import hashlib
import socket
import ssl

import urllib3

from support.tls import RecordingServer, make_certs


def test_https_request_recorded_byte_for_byte(tmp_path):
    certs = make_certs(tmp_path)
    with RecordingServer(
        tls=True, certs=certs, responder=lambda r: (201, {"X-A": "b"}, b"ok")
    ) as srv:
        pool = urllib3.PoolManager(ca_certs=str(certs.ca_file))
        resp = pool.request("POST", srv.url + "/api/put", body=b"[1]", headers={"X-T": "1"})
        assert resp.status == 201 and resp.data == b"ok" and resp.headers["X-A"] == "b"
        del resp  # the response keeps a file reference on the socket
        pool.clear()
        srv.wait_closed(1)
    line, headers, body = srv.requests[0]
    assert line == "POST /api/put HTTP/1.1"
    assert headers["X-T"] == "1" and headers["Content-Length"] == "3" and body == b"[1]"
    assert srv.connections[0].startswith(b"POST /api/put HTTP/1.1\r\n")
    assert srv.connections[0].endswith(b"\r\n\r\n[1]")


def test_der_is_the_served_certificate(tmp_path):
    certs = make_certs(tmp_path)
    with RecordingServer(tls=True, certs=certs) as srv:
        ctx = ssl.create_default_context(cafile=str(certs.ca_file))
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
            with ctx.wrap_socket(s, server_hostname="127.0.0.1") as t:
                der = t.getpeercert(binary_form=True)
        srv.wait_closed(1)
    assert der == certs.der
    assert hashlib.sha1(der).digest() == hashlib.sha1(certs.der).digest()
    assert srv.connections == [b""]
    assert srv.requests == []


def test_plain_http_keep_alive(tmp_path):
    with RecordingServer(tls=False) as srv:
        pool = urllib3.PoolManager()
        for i in range(3):
            assert pool.request("POST", srv.url + "/x", body=str(i).encode()).status == 204
        pool.clear()
        srv.wait_closed(1)
    assert [r.body for r in srv.requests] == [b"0", b"1", b"2"]
    assert len(srv.connections) == 1

"""The urllib3 transport against real TLS servers on loopback: bytes on the wire, pins, errors."""

from __future__ import annotations

import gzip
import hashlib
import socket
import time

import pytest

from support.tls import RecordingServer, Request, make_certs
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
)
from tspush.host.transport import Transport

TOKEN = "wr1te-T0ken-xyz"


def sha1_original(der: bytes) -> str:
    return fp.format_original(hashlib.sha1(der).digest())


@pytest.fixture
def certs(tmp_path):
    return make_certs(tmp_path)


def test_exact_request_bytes_with_basic_auth(certs):
    with RecordingServer(tls=True, certs=certs) as srv:
        t = Transport(srv.url, token=TOKEN, fingerprint=sha1_original(certs.der))
        body = b'[{"metric":"universe","value":42,"tags":{}}]'
        reply = t.post("/api/put", body)
        t.close()
        srv.wait_closed(1)
    assert reply.status == 204 and reply.body == b"" and reply.sent_bytes == len(body)
    [raw] = srv.connections
    head, _, sent_body = raw.partition(b"\r\n\r\n")
    assert sent_body == body
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /api/put HTTP/1.1"
    headers = dict(line.split(": ", 1) for line in lines[1:])
    assert headers["Authorization"] == "Basic " + auth.b64(b"DESC:" + TOKEN.encode())
    assert headers["Content-Type"] == "application/json"
    assert headers["Content-Length"] == str(len(body))
    assert headers["Host"] == "127.0.0.1:%d" % srv.port
    lowered = {k.lower() for k in headers}
    assert "transfer-encoding" not in lowered and "expect" not in lowered


def test_user_bearer_and_none(certs):
    with RecordingServer(tls=True, certs=certs) as srv:
        for kw, expected in [
            ({"auth_user": "metrics"}, "Basic " + auth.b64(b"metrics:" + TOKEN.encode())),
            ({"auth_scheme": "bearer"}, "Bearer " + TOKEN),
            ({"auth_scheme": "none"}, None),
        ]:
            with Transport(srv.url, token=TOKEN, ca_file=str(certs.ca_file), **kw) as t:
                assert t.post("/api/put", b"[]").status == 204
            assert srv.requests[-1].header("Authorization") == expected


def test_keep_alive_reuses_one_connection(certs):
    with RecordingServer(tls=True, certs=certs) as srv:
        with Transport(srv.url, token=TOKEN, ca_file=str(certs.ca_file)) as t:
            for i in range(5):
                assert t.post("/api/put", b"[%d]" % i).status == 204
        srv.wait_closed(1)
    assert len(srv.connections) == 1
    assert [r.body for r in srv.requests] == [b"[%d]" % i for i in range(5)]


def test_gzip_body_has_content_encoding_and_length(certs):
    body = b'[{"metric":"m","value":1.25,"tags":{}}]' * 20
    with RecordingServer(tls=True, certs=certs) as srv:
        with Transport(srv.url, ca_file=str(certs.ca_file), gzip=True) as t:
            t.post("/api/put", body)
    req = srv.requests[0]
    assert req.header("Content-Encoding") == "gzip"
    assert req.header("Content-Length") == str(len(req.body))
    assert gzip.decompress(req.body) == body and len(req.body) < len(body)


@pytest.mark.parametrize(
    "form",
    [
        lambda d: fp.format_original(hashlib.sha1(d).digest()),
        lambda d: fp.format_colon(hashlib.sha1(d).digest()).lower(),
        lambda d: hashlib.sha256(d).hexdigest(),
        lambda d: "sha256:" + fp.format_colon(hashlib.sha256(d).digest()),
    ],
    ids=["sha1-original", "sha1-colon", "sha256-hex", "sha256-prefixed"],
)
def test_pin_in_every_format_accepts_the_right_cert(certs, form):
    with RecordingServer(tls=True, certs=certs) as srv:
        with Transport(srv.url, token=TOKEN, fingerprint=form(certs.der)) as t:
            assert t.post("/api/put", b"[]").status == 204
    assert len(srv.requests) == 1


@pytest.mark.parametrize("algo", ["sha1", "sha256"])
def test_pin_mismatch_sends_no_http_byte(certs, algo):
    wrong = hashlib.new(algo, b"another certificate").digest()
    with RecordingServer(tls=True, certs=certs) as srv:
        t = Transport(srv.url, token=TOKEN, fingerprint=fp.format_original(wrong))
        with pytest.raises(PinMismatch) as ei:
            t.post("/api/put", b'[{"metric":"universe","value":42,"tags":{}}]')
        t.close()
        srv.wait_closed(1)
    # The TLS handshake happened (the server accepted one connection) ...
    assert srv.handshake_errors == []
    # ... and not one byte of HTTP (so no token) reached the server.
    assert srv.connections == [b""]
    assert srv.requests == []
    msg = str(ei.value)
    assert "does not match the pinned fingerprint" in msg and "nothing was sent" in msg
    assert TOKEN not in msg
    assert ei.value.exit_code == 4


def test_pin_with_ca_file_checks_both(tmp_path, certs):
    other = make_certs(tmp_path / "other")
    with RecordingServer(tls=True, certs=certs) as srv:
        # right pin, wrong CA: refused by CA verification
        t = Transport(srv.url, fingerprint=sha1_original(certs.der), ca_file=str(other.ca_file))
        with pytest.raises(TLSError):
            t.post("/api/put", b"[]")
        t = Transport(srv.url, fingerprint=sha1_original(certs.der), ca_file=str(certs.ca_file))
        assert t.post("/api/put", b"[]").status == 204


def test_untrusted_certificate_is_refused_by_default(certs):
    with RecordingServer(tls=True, certs=certs) as srv:
        t = Transport(srv.url, token=TOKEN)
        with pytest.raises(TLSError) as ei:
            t.post("/api/put", b"[]")
        t.close()
        srv.wait_closed(1)
    assert not isinstance(ei.value, PinMismatch)
    assert "--ca-file" in str(ei.value) and "--fingerprint" in str(ei.value)
    assert srv.requests == []


def test_insecure_is_explicit_and_warns(certs):
    warnings: list[str] = []
    with RecordingServer(tls=True, certs=certs) as srv:
        with Transport(srv.url, token=TOKEN, insecure=True, warn=warnings.append) as t:
            assert t.post("/api/put", b"[]").status == 204
    assert len(warnings) == 1 and "NOT checked" in warnings[0]


def test_insecure_warning_goes_to_stderr(certs, capsys):
    Transport("https://127.0.0.1:1", insecure=True).close()
    assert "--insecure" in capsys.readouterr().err


def test_connection_refused_is_connect_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: refused
        t = Transport("https://127.0.0.1:%d" % port, token=TOKEN)
        with pytest.raises(ConnectError) as ei:
            t.post("/api/put", b"[]")
    assert "cannot connect to 127.0.0.1:%d" % port in str(ei.value)
    assert ei.value.exit_code == 5 and ei.value.cause is not None


def test_read_timeout_is_timeout(certs):
    def slow(req: Request):
        time.sleep(1.5)
        return 204, {}, b""

    with RecordingServer(tls=True, certs=certs, responder=slow) as srv:
        t = Transport(srv.url, ca_file=str(certs.ca_file), read_timeout_s=0.3)
        with pytest.raises(Timeout) as ei:
            t.post("/api/put", b"[]")
        t.close()
    assert "read timed out" in str(ei.value) and "read_timeout_s" in str(ei.value)


def test_server_closing_without_answer_is_protocol_error(certs):
    def hang_up(req: Request):
        raise ConnectionAbortedError("drop")

    with RecordingServer(tls=False, responder=hang_up) as srv:
        t = Transport(srv.url, token=TOKEN)
        with pytest.raises(ProtocolError) as ei:
            t.post("/api/put", b"[]")
    assert "closed the connection" in str(ei.value)
    assert TOKEN not in str(ei.value)


def test_https_to_a_plain_http_port_says_so():
    import threading

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)

        def answer_plain() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.recv(4096)
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

        th = threading.Thread(target=answer_plain, daemon=True)
        th.start()
        t = Transport("https://127.0.0.1:%d" % listener.getsockname()[1], read_timeout_s=5)
        with pytest.raises(TLSError) as ei:
            t.post("/api/put", b"[]")
        th.join(5)
    assert "plain http" in str(ei.value)


def test_url_path_is_kept_as_base_path():
    t = Transport("http://h:8086/api/v2/write?org=o&bucket=b")
    assert t.base_path == "/api/v2/write?org=o&bucket=b"
    assert Transport("https://h/").base_path == ""
    assert Transport("https://h").base_path == ""
    assert t.display_url("/x") == "h:8086/x"


@pytest.mark.parametrize("url", ["ftp://h/", "h:443", "", "https://"])
def test_bad_urls_name_the_key(url):
    with pytest.raises(ConfigError) as ei:
        Transport(url)
    assert ei.value.key == "url"


def test_secrets_cover_clear_and_base64():
    t = Transport("https://h/", token=TOKEN)
    text = "got %s and %s" % (TOKEN, auth.b64(("DESC:" + TOKEN).encode()))
    assert auth.redact(text, t.secrets) == "got *** and ***"


def test_insecure_still_honours_an_explicit_pin(certs):
    with RecordingServer(tls=True, certs=certs) as srv:
        t = Transport(srv.url, token=TOKEN, insecure=True, fingerprint="11" * 32, warn=print)
        with pytest.raises(PinMismatch):
            t.post("/api/put", b"[]")
        t.close()
        srv.wait_closed(1)
    assert srv.connections == [b""]


def test_token_with_a_line_break_is_a_config_error():
    with pytest.raises(ConfigError) as ei:
        Transport("https://h/", token="abc\ndef")
    assert ei.value.key == "token" and "abc" not in str(ei.value)


def test_dns_failure_is_dns_error(monkeypatch):
    """Name resolution is made to fail locally (tests use loopback only)."""

    def no_such_host(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    t = Transport("https://metrics.example.invalid/", token=TOKEN)
    with pytest.raises(DNSError) as ei:
        t.post("/api/put", b"[]")
    assert str(ei.value).startswith("cannot resolve metrics.example.invalid: check the host name")
    assert ei.value.exit_code == 5


def test_server_dropping_idle_keep_alive_is_survived(certs):
    """A server that silently closes idle connections (nginx keepalive_timeout)."""
    with RecordingServer(tls=True, certs=certs, keep_alive=False) as srv:
        with Transport(srv.url, ca_file=str(certs.ca_file)) as t:
            for i in range(3):
                assert t.post("/api/put", b"[%d]" % i).status == 204
                srv.wait_closed(i + 1)
    assert len(srv.connections) == 3
    assert [r.body for r in srv.requests] == [b"[0]", b"[1]", b"[2]"]

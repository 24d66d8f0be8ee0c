"""TLS: an untrusted, expired, misnamed or unpinned certificate is refused
before a single HTTP byte (hence the token) leaves the client.

The server side is a real TLS server that records every decrypted byte per
connection; each refusal must leave every connection empty. A control case
with the right CA shows the same server does see the token when trusted.
Both clients are checked: the computer's urllib3 Transport and the board's
core ``http.Connection``.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
from pathlib import Path

import pytest

from support.tls import Certs, RecordingServer, make_certs
from tspush.core import fingerprint, http
from tspush.core.errors import PinMismatch, TLSError, TspushError
from tspush.host.transport import Transport

TOKEN = "tok-SECRET-4242-abcdef"
BODY = b'[{"metric":"m","value":1,"tags":{}}]'


def _pin_of(der: bytes) -> str:
    return ":".join("%02X" % b for b in hashlib.sha256(der).digest())


def _cases(tmp_path: Path) -> dict[str, tuple[Certs, dict[str, object]]]:
    """name -> (server certs, client trust settings) for every refusal."""
    good = make_certs(tmp_path / "good")
    other = make_certs(tmp_path / "other", name="other")
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1)
    expired = make_certs(tmp_path / "expired", not_after=past, name="expired")
    misnamed = make_certs(tmp_path / "misnamed", "example.org", name="misnamed")
    return {
        "self-signed, CA not trusted": (good, {}),
        "signed by another CA": (good, {"ca_file": str(other.ca_file)}),
        "expired": (expired, {"ca_file": str(expired.ca_file)}),
        "issued for another host": (misnamed, {"ca_file": str(misnamed.ca_file)}),
        "pin mismatch": (good, {"fingerprint": _pin_of(other.der)}),
        "pin mismatch with trusted CA": (
            good,
            {"fingerprint": _pin_of(other.der), "ca_file": str(good.ca_file)},
        ),
    }


CASES = [
    "self-signed, CA not trusted",
    "signed by another CA",
    "expired",
    "issued for another host",
    "pin mismatch",
    "pin mismatch with trusted CA",
]


def _assert_nothing_arrived(srv: RecordingServer) -> None:
    conns = srv.connections
    assert conns, "the client never even connected: the test would prove nothing"
    assert all(c == b"" for c in conns), f"bytes reached the server: {conns!r}"
    assert not srv.requests


def _assert_no_token(text: str) -> None:
    for form in (TOKEN, base64.b64encode(("DESC:" + TOKEN).encode()).decode()):
        assert form not in text


@pytest.mark.parametrize("case", CASES)
def test_host_transport_refuses_before_sending(tmp_path: Path, case: str) -> None:
    certs, trust = _cases(tmp_path)[case]
    with RecordingServer(tls=True, certs=certs) as srv:
        t = Transport(srv.url, token=TOKEN, connect_timeout_s=3, read_timeout_s=3, **trust)  # type: ignore[arg-type]
        with pytest.raises(TLSError) as ei:
            t.post("/api/put", BODY)
        t.close()
        srv.wait_closed(1)
    if "pin" in case:
        assert isinstance(ei.value, PinMismatch)
    _assert_nothing_arrived(srv)
    _assert_no_token(str(ei.value))


def test_host_transport_control_trusted_server_gets_the_token(tmp_path: Path) -> None:
    certs = make_certs(tmp_path)
    with RecordingServer(tls=True, certs=certs) as srv:
        with Transport(srv.url, token=TOKEN, ca_file=str(certs.ca_file)) as t:
            assert t.post("/api/put", BODY).status == 204
        with Transport(srv.url, token=TOKEN, fingerprint=_pin_of(certs.der)) as t:
            assert t.post("/api/put", BODY).status == 204
    assert len(srv.requests) == 2
    assert all(r.header("Authorization") for r in srv.requests)


def _board(url: str, certs_for_trust: Certs | None, pins: str | None) -> http.Connection:
    tls, host, port, _ = http.split_url(url)
    ca_der = None
    if certs_for_trust is not None:
        import ssl

        ca_der = ssl.PEM_cert_to_DER_cert(certs_for_trust.ca_file.read_text())
    return http.Connection(
        host,
        port,
        tls=tls,
        ca_der=ca_der,
        pins=[fingerprint.parse(pins)] if pins else None,
        timeout_s=3,
    )


@pytest.mark.parametrize("case", CASES[1:])  # the board refuses to start with no trust at all
def test_board_client_refuses_before_sending(tmp_path: Path, case: str) -> None:
    certs, trust = _cases(tmp_path)[case]
    ca = None
    if "ca_file" in trust:
        ca = Certs(Path(str(trust["ca_file"])), certs.cert_file, certs.key_file, certs.der)
    with RecordingServer(tls=True, certs=certs) as srv:
        c = _board(srv.url, ca, trust.get("fingerprint"))  # type: ignore[arg-type]
        headers = {"Authorization": "Basic " + base64.b64encode(b"DESC:" + TOKEN.encode()).decode()}
        with pytest.raises(TspushError) as ei:
            c.request("POST", "/api/put", BODY, headers)
        c.close()
        srv.wait_closed(1)
    assert isinstance(ei.value, TLSError), repr(ei.value)
    if "pin" in case:
        assert isinstance(ei.value, PinMismatch)
    _assert_nothing_arrived(srv)
    _assert_no_token(str(ei.value))


def test_board_client_without_any_trust_refuses_to_connect(tmp_path: Path) -> None:
    with RecordingServer(tls=True, certs=make_certs(tmp_path)) as srv:
        with pytest.raises(TLSError):
            _board(srv.url, None, None).request("POST", "/api/put", BODY)
    assert srv.connections == []


def test_board_client_control_trusted_server_gets_the_request(tmp_path: Path) -> None:
    certs = make_certs(tmp_path)
    with RecordingServer(tls=True, certs=certs) as srv:
        c = _board(srv.url, certs, None)
        assert c.request("POST", "/api/put", BODY).status == 204
        c.close()
        c = _board(srv.url, None, _pin_of(certs.der))
        assert c.request("POST", "/api/put", BODY).status == 204
        c.close()
    assert [r.body for r in srv.requests] == [BODY, BODY]

"""``tspush serve`` start-up: TLS certificate kept and pins printed, tokens, retention, Ctrl-C."""

from __future__ import annotations

import hashlib
import json
import re
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest
import urllib3

from support.receiver import ReceiverProcess
from tspush.core import fingerprint
from tspush.core.errors import PinMismatch


def served_der(port: int) -> bytes:
    pem = ssl.get_server_certificate(("127.0.0.1", port))
    return ssl.PEM_cert_to_DER_cert(pem)


def printed_pins(text: str) -> tuple[str, str]:
    sha1 = re.search(r"SHA-1\s+((?:[0-9A-F]{2} ){19}[0-9A-F]{2})\n", text)
    sha256 = re.search(r"SHA-256\s+((?:[0-9A-F]{2}:){31}[0-9A-F]{2})\n", text)
    assert sha1 and sha256, text
    return sha1.group(1), sha256.group(1)


def serve_once(*args: str) -> subprocess.CompletedProcess[str]:
    """``tspush serve ARGS`` expected to stop by itself (bad options, taken port)."""
    return subprocess.run(
        [sys.executable, "-m", "tspush.cli.main", "serve", *args],
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_tls_self_signed_kept_and_pinnable(tmp_path: Path) -> None:
    from tspush.core.point import Point
    from tspush.host import profiles
    from tspush.host.push import push_points
    from tspush.host.transport import Transport

    with ReceiverProcess(tmp_path, "--tls") as rx:
        assert rx.url.startswith("https://127.0.0.1:")
        sha1, sha256 = printed_pins(rx.text)
        der = served_der(rx.port)
        assert sha1 == fingerprint.format_original(hashlib.sha1(der).digest())
        assert sha256 == fingerprint.format_colon(hashlib.sha256(der).digest())
        assert "generated now" in rx.text
        t = Transport(rx.url, token=rx.write_token, fingerprint=sha1)
        try:
            report = push_points(t, profiles.get("tspush"), [Point("tls.v", 5, 1_700_000_000)])
        finally:
            t.close()
        assert report.accepted == 1, report.errors
        wrong = "00 " * 19 + "00"
        t = Transport(rx.url, token=rx.write_token, fingerprint=wrong)
        try:
            with pytest.raises(PinMismatch):
                t.post("/api/put", b"[]")
        finally:
            t.close()
    assert (tmp_path / "tls" / "key.pem").stat().st_mode & 0o077 == 0
    with ReceiverProcess(tmp_path, "--tls") as again:
        assert printed_pins(again.text) == (sha1, sha256)
        assert served_der(again.port) == der
        assert "generated now" not in again.text


def test_no_auth_is_stated_and_open(tmp_path: Path) -> None:
    with ReceiverProcess(tmp_path, "--no-auth") as rx:
        assert "auth: OFF (--no-auth)" in rx.text
        r = urllib3.request(
            "POST",
            rx.url + "/api/put",
            body=b'{"metric":"open.v","value":1,"timestamp":1700000000}',
        )
        assert r.status == 204
        r = urllib3.request("GET", rx.url + "/api/query?start=1699999999&m=sum:open.v")
        assert json.loads(r.data)[0]["dps"] == {"1700000000": 1}


def test_generated_tokens_are_kept_private_and_never_printed(tmp_path: Path) -> None:
    db = tmp_path / "d" / "rx.sqlite"
    with ReceiverProcess(tmp_path, "--db", str(db), "--token", "x") as _:
        pass
    # no token given at all: tokens generated into a 0600 file, not printed
    proc = subprocess.Popen(
        [sys.executable, "-m", "tspush.cli.main", "serve", "--port", "0", "--db", str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = []
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("listening on"):
                break
        # The dashboard link works as printed: the browser asks for the read token
        # (Basic, any user name) and the page comes with it.
        m = re.search(r"dashboard: (http://\S+/)  \(", "".join(lines))
        assert m, "".join(lines)
        tokens_file = db.parent / "tokens.json"
        doc = json.loads(tokens_file.read_text())
        asked = urllib3.request("GET", m.group(1), redirect=False)
        auth = urllib3.make_headers(basic_auth="anyone:" + doc["read"])
        opened = urllib3.request("GET", m.group(1), headers=auth, redirect=False)
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=15)
    assert asked.status == 401 and asked.headers["WWW-Authenticate"].startswith("Basic")
    assert opened.status == 200 and b"<title>tspush" in opened.data
    text = "".join(lines) + out
    assert tokens_file.stat().st_mode & 0o077 == 0
    assert doc["write"] != doc["read"] and len(doc["write"]) >= 24
    assert str(tokens_file) in text
    assert doc["write"] not in text and doc["read"] not in text
    # the dashboard line says where the read token is (it showed a bare READ_TOKEN)
    assert "READ_TOKEN" not in text
    assert 'read token: the "read" entry of %s' % tokens_file in text


def test_retention_deletes_old_points_in_the_background(tmp_path: Path) -> None:
    now = int(time.time())
    with ReceiverProcess(tmp_path, "--retention", "30s") as rx:
        body = json.dumps(
            [
                {"metric": "ret.v", "timestamp": now - 3600, "value": 1, "tags": {"k": "v"}},
                {"metric": "ret.v", "timestamp": now - 60, "value": 2, "tags": {"k": "v"}},
                {"metric": "ret.v", "timestamp": now + 5, "value": 3, "tags": {"k": "v"}},
            ]
        ).encode()
        assert (
            urllib3.request(
                "POST", rx.url + "/api/put", body=body, headers=rx.write_headers()
            ).status
            == 204
        )
        deadline = time.monotonic() + 20
        while True:
            r = urllib3.request(
                "GET",
                rx.url + f"/api/query?start={now - 7200}&end={now + 60}&m=sum:ret.v",
                headers=rx.read_headers(),
            )
            dps = json.loads(r.data)[0]["dps"]
            if len(dps) == 1 or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert dps == {str(now + 5): 3}
        assert "retention: deleted 2 point(s)" in rx.text


def test_bad_retention_and_taken_port_are_clear_errors(tmp_path: Path) -> None:
    out = serve_once("--no-auth", "--retention", "soon", "--db", str(tmp_path / "x.sqlite"))
    assert out.returncode == 2
    assert "--retention" in out.stderr and "30d" in out.stderr
    with ReceiverProcess(tmp_path, "--no-auth") as rx:
        out = serve_once("--no-auth", "--port", str(rx.port), "--db", str(tmp_path / "y.sqlite"))
        assert out.returncode == 2
        assert f"cannot listen on 127.0.0.1:{rx.port}" in out.stderr
        assert "Traceback" not in out.stderr


def test_ctrl_c_stops_cleanly(tmp_path: Path) -> None:
    rx = ReceiverProcess(tmp_path, "--no-auth")
    assert rx.stop() == 0
    assert "Traceback" not in rx.text and "tspush serve: stopped" in rx.text


def test_sigterm_stops_cleanly_too(tmp_path: Path) -> None:
    rx = ReceiverProcess(tmp_path, "--no-auth")
    assert rx.proc is not None
    rx.proc.terminate()
    assert rx.proc.wait(15) == 0
    assert rx.stop() == 0
    assert "Traceback" not in rx.text and "tspush serve: stopped" in rx.text


def test_given_cert_and_key_are_served_and_printed(tmp_path: Path) -> None:
    from support.tls import make_certs

    certs = make_certs(tmp_path)
    with ReceiverProcess(
        tmp_path, "--cert", str(certs.cert_file), "--key", str(certs.key_file)
    ) as rx:
        sha1, _ = printed_pins(rx.text)
        assert sha1 == fingerprint.format_original(hashlib.sha1(certs.der).digest())
        assert served_der(rx.port) == certs.der
        ctx = ssl.create_default_context(cafile=str(certs.ca_file))
        import urllib.request

        with urllib.request.urlopen(rx.url + "/api/version", context=ctx, timeout=10) as resp:
            assert json.loads(resp.read())["version"].startswith("2.")
    out = serve_once(
        "--no-auth", "--cert", str(certs.cert_file), "--db", str(tmp_path / "z.sqlite")
    )
    assert out.returncode == 2 and "--cert" in out.stderr and "--key" in out.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("command", ["serve", "demo"])
def test_signal_right_at_start_up_stops_cleanly(tmp_path: Path, sig: int, command: str) -> None:
    """The window between printing the address and uvicorn taking the signals."""
    args = {
        "serve": ["serve", "--no-auth", "--port", "0", "--db", str(tmp_path / "s.sqlite")],
        "demo": ["demo", "--no-browser", "--port", "0"],
    }[command]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tspush.cli.main", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert first.startswith("tspush ")
    proc.send_signal(sig)
    try:
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, first + out
    assert "Traceback" not in out and "stopped" in out

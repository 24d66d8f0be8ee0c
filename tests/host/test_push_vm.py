"""End to end: ``tspush push`` over TLS with Basic auth and a pin, read back from VictoriaMetrics.

VictoriaMetrics answers 204 even for rows it drops, so every test reads the
points back and compares metric, tags, timestamp and value.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.request

import pytest

from support.tls import RecordingServer, Request, make_certs
from support.vmauth import VMAuth
from support.vmauth import available as vmauth_available

TOKEN = "0vh-Write-T0ken-4242"
BASIC = "Basic " + base64.b64encode(b"DESC:" + TOKEN.encode()).decode()


def no_secret(*texts: str) -> bool:
    forms = [TOKEN, base64.b64encode(TOKEN.encode()).decode(), BASIC.split()[1]]
    return not any(f in t for t in texts for f in forms)


@pytest.fixture
def ovh(victoria, tmp_path):
    """vmauth with TLS and Basic auth in front of VictoriaMetrics: OVH's shape."""
    if not vmauth_available():
        pytest.fail("vmauth is not installed: run .ci/run (it installs victoria-metrics)")
    va = VMAuth(tmp_path / "vmauth", victoria.opentsdb_url, token=TOKEN)
    va.start()
    yield va
    va.stop()


def test_the_original_request_lands(tspush, victoria, ovh):
    # VictoriaMetrics stamps with a clock it refreshes once a second: allow 1 s
    before_ms = (int(time.time()) - 1) * 1000
    r = tspush(
        "push", "universe", "42", "--url", ovh.url, "--token", TOKEN,
        "--fingerprint", ovh.sha1_original,
    )  # fmt: skip
    after_ms = (int(time.time()) + 1) * 1000
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("HTTP 204  1 point")
    rows = victoria.wait_for("universe", 1)
    assert len(rows) == 1
    metric, tags, ts_ms, value = rows[0]
    assert (metric, tags, value) == ("universe", {}, 42)
    assert before_ms <= ts_ms <= after_ms  # no timestamp sent: stamped on arrival
    assert no_secret(r.stdout, r.stderr)


def test_wrong_token_is_refused_redacted_and_nothing_lands(tspush, victoria, ovh):
    r = tspush(
        "push", "universe", "42", "-v", "--url", ovh.url, "--token", "wrong-" + TOKEN,
        "--fingerprint", ovh.sha1_original,
    )  # fmt: skip
    assert r.returncode == 3, (r.stdout, r.stderr)
    assert "token was rejected" in r.stderr
    wrong = "wrong-" + TOKEN
    for form in [wrong, base64.b64encode(b"DESC:" + wrong.encode()).decode()]:
        assert form not in r.stdout + r.stderr
    assert victoria.wait_for("universe", 1, timeout_s=2) == []


def test_wrong_pin_reaches_nothing(tspush, victoria, ovh):
    wrong = ovh.sha1_original.replace(
        ovh.sha1_original[:2], "00" if ovh.sha1_original[:2] != "00" else "11", 1
    )
    r = tspush("push", "universe", "42", "--url", ovh.url, "--token", TOKEN, "--fingerprint", wrong)
    assert r.returncode == 4
    assert "does not match" in r.stderr
    assert victoria.wait_for("universe", 1, timeout_s=2) == []


def forwarding_responder(victoria):
    """A TLS server that checks Basic auth like OVH did and hands the body to VictoriaMetrics."""

    def responder(req: Request):
        if req.header("Authorization") != BASIC:
            return 401, {}, b"bad token"
        fwd = urllib.request.Request(
            victoria.opentsdb_url + "/api/put",
            data=req.body,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(fwd, timeout=10) as resp:
            return resp.status, {}, resp.read()

    return responder


def test_exact_bytes_and_landing_through_a_recording_proxy(tspush, victoria, tmp_path):
    certs = make_certs(tmp_path / "pki")
    with RecordingServer(tls=True, certs=certs, responder=forwarding_responder(victoria)) as srv:
        import hashlib

        from tspush.core import fingerprint as fp

        pin = fp.format_original(hashlib.sha1(certs.der).digest())
        r = tspush(
            "push", "universe", "42", "--url", srv.url, "--token", TOKEN, "--fingerprint", pin,
            "--timestamp", "1700000000",
        )  # fmt: skip
    assert r.returncode == 0, r.stderr
    [raw] = srv.connections
    body = b'[{"metric":"universe","timestamp":1700000000,"value":42,"tags":{}}]'
    assert raw.startswith(b"POST /api/put HTTP/1.1\r\n")
    assert raw.endswith(b"\r\n\r\n" + body)
    assert b"\r\nAuthorization: " + BASIC.encode() + b"\r\n" in raw
    assert b"\r\nContent-Length: %d\r\n" % len(body) in raw
    assert b"chunked" not in raw.lower() and b"expect:" not in raw.lower()
    assert victoria.wait_for("universe", 1) == [("universe", {}, 1700000000000, 42)]


# VictoriaMetrics keeps 12 significant digits (its documented limit), so the values
# read back here have at most 12; full float64 precision on the wire is asserted
# byte for byte in test_push_cli.py. The original board kept only 2 decimals.
FLOATS = [0.1, 0.333333333333, 3.14159265359, 21.123456789, -0.000123456789, 1234567.891]


def test_stdin_mixed_lines_and_json_all_land_exactly(tspush, victoria, ovh):
    base_s = 1700000000
    lines = [
        "# comment lines and blank lines are skipped",
        "",
        "put sensor.temp %d 21.5 room=attic board=d1mini" % base_s,
        "put sensor.temp %d000 %r room=cellar board=d1mini" % (base_s + 1, FLOATS[1]),
        "sensor.hum 55 room=attic",  # stamped by --timestamp
        json.dumps({"metric": "sensor.pres", "timestamp": base_s + 2, "value": 1013,
                    "tags": {"room": "attic"}}),
        json.dumps([{"metric": "sensor.f%d" % i, "timestamp": base_s + 3, "value": v,
                     "tags": {"i": str(i)}} for i, v in enumerate(FLOATS)]),
    ]  # fmt: skip
    r = tspush(
        "push", "-", "--url", ovh.url, "--token", TOKEN, "--fingerprint", ovh.sha1_original,
        "--timestamp", str(base_s + 5), "--max-points", "4",
        input="\n".join(lines) + "\n",
    )  # fmt: skip
    assert r.returncode == 0, (r.stdout, r.stderr)
    n = 4 + len(FLOATS)
    assert "%d points in 3 requests: %d accepted" % (n, n) in r.stdout
    rows = victoria.wait_for('{__name__=~"sensor.*"}', n)
    assert len(rows) == n
    got = {(m, tuple(sorted(t.items())), ts): v for m, t, ts, v in rows}
    expected = {
        ("sensor.temp", (("board", "d1mini"), ("room", "attic")), base_s * 1000): 21.5,
        ("sensor.temp", (("board", "d1mini"), ("room", "cellar")), (base_s + 1) * 1000): FLOATS[1],
        ("sensor.hum", (("room", "attic"),), (base_s + 5) * 1000): 55,
        ("sensor.pres", (("room", "attic"),), (base_s + 2) * 1000): 1013,
    }  # fmt: skip
    for i, v in enumerate(FLOATS):
        expected[("sensor.f%d" % i, (("i", str(i)),), (base_s + 3) * 1000)] = v
    assert got == expected
    assert no_secret(r.stdout, r.stderr)


def test_plain_http_victoriametrics_profile(tspush, victoria):
    r = tspush(
        "push", "room.temp", "19.25", "-t", "room=kitchen", "--timestamp", "1700000100",
        "--url", victoria.opentsdb_url, "--profile", "victoriametrics",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert victoria.wait_for("room.temp", 1) == [
        ("room.temp", {"room": "kitchen"}, 1700000100000, 19.25)
    ]


def test_gzip_bodies_land(tspush, victoria, ovh):
    lines = "".join("put gz.m %d %d host=a\n" % (1700000000 + i, i) for i in range(120))
    r = tspush(
        "push", "-", "--gzip", "--url", ovh.url, "--token", TOKEN,
        "--fingerprint", ovh.sha1_original, input=lines,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    rows = victoria.wait_for("gz.m", 120)
    assert [(ts, v) for _, _, ts, v in rows] == [((1700000000 + i) * 1000, i) for i in range(120)]

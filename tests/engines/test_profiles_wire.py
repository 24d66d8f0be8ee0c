"""What each profile puts on the wire, seen by a real HTTP server on loopback.

Request line, auth header, content type, ``Content-Length`` (never chunked,
never ``Expect``) and a body that an independent reader decodes back to the
points. Warp 10 has no engine here: its bodies are decoded the way Warp 10
decodes them (Java's URLDecoder: ``%XX`` as UTF-8, ``+`` as a space).
"""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from support.tls import RecordingServer
from tspush.core.point import Point
from tspush.host import profiles
from tspush.host.push import push_points
from tspush.host.transport import Transport

TOKEN = "tok-3f9a"
POINTS = [
    Point("temp", 21.375, 1700000000, {"room": "s\u00e9jour", "host": "h1"}),
    Point("count", -42, 1700000000123, {"host": "h1"}),
    Point("big", 2**53 + 1, 1700000001, {"host": "h1"}),
    Point("pi", 3.141592653589793, 1700000002, {"host": "h1"}),
]


def _push(url: str, name: str, points: list[Point], **kw: Any) -> Any:
    prof = profiles.get(name)
    t = Transport(url, token=TOKEN, auth_scheme=prof.auth_scheme, auth_user=prof.auth_user, **kw)
    try:
        return push_points(t, prof, points)
    finally:
        t.close()


def _check_framing(req: Any) -> None:
    assert req.header("Content-Length") == str(len(req.body))
    assert req.header("Transfer-Encoding") is None
    assert req.header("Expect") is None


def _decode_warp10(line: str) -> tuple[int | None, str, dict[str, str], str]:
    """A reader written from the format's description, as Warp 10 parses it."""
    head, rest = line.split(" ", 1)
    ts_s = head.split("/")[0]
    cls, rest = rest.split("{", 1)
    labels_s, value = rest.split("} ", 1)
    labels = {}
    for pair in filter(None, labels_s.split(",")):
        k, v = pair.split("=", 1)
        labels[urllib.parse.unquote_plus(k)] = urllib.parse.unquote_plus(v)
    return (int(ts_s) if ts_s else None), urllib.parse.unquote_plus(cls), labels, value


def _decode_influx(line: str) -> tuple[str, dict[str, str], str, int]:
    # simple reader for the names used here (no escapes in them)
    series, field, ts = line.split(" ")
    name, *tags = series.split(",")
    return name, dict(t.split("=", 1) for t in tags), field, int(ts)


def test_ovh_profile_sends_the_originals_request_done_right(tmp_path: Path) -> None:
    with RecordingServer(tls=True, tmp_path=tmp_path) as srv:
        rep = _push(srv.url, "ovh", [Point("universe", 42)], ca_file=str(srv.certs.ca_file))
    assert rep.accepted == 1 and rep.ok
    req = srv.requests[0]
    assert req.line == "POST /api/put HTTP/1.1"
    assert req.header("Authorization") == "Basic REVTQzp0b2stM2Y5YQ=="  # DESC:tok-3f9a
    assert req.header("Content-Type") == "application/json"
    assert req.body == b'[{"metric":"universe","value":42,"tags":{}}]'
    _check_framing(req)


def test_opentsdb_profile_asks_for_details_and_stays_under_8_kib(tmp_path: Path) -> None:
    many = [Point("m.x", i, 1700000000 + i, {"host": "h%d" % i}) for i in range(300)]
    with RecordingServer(tls=False) as srv:
        rep = _push(srv.url, "opentsdb", many)
    assert rep.accepted == 300 and rep.ok
    seen = []
    for req in srv.requests:
        assert req.line == "POST /api/put?details HTTP/1.1"
        assert req.header("Authorization") is None
        assert len(req.body) <= 8192
        _check_framing(req)
        seen.extend(d["value"] for d in json.loads(req.body))
    assert seen == list(range(300))
    assert len(srv.requests) == 6  # 50 points per body


@pytest.mark.parametrize(
    ("url_path", "factor"),
    [
        ("/api/v2/write?org=o&bucket=b", 10**6),
        ("/write?db=home", 10**6),
        ("/write?db=home&precision=ms", 1),
        ("/api/v2/write?org=o&bucket=b&precision=us", 1000),
    ],
)
def test_influx_profile(url_path: str, factor: int) -> None:
    with RecordingServer(tls=False) as srv:
        rep = _push(srv.url + url_path, "influx", POINTS)
    assert rep.accepted == len(POINTS) and rep.ok
    (req,) = srv.requests
    assert req.line.split(" ")[1].startswith(url_path)
    assert req.header("Authorization") == "Token " + TOKEN
    assert req.header("Content-Type") == "text/plain; charset=utf-8"
    _check_framing(req)
    lines = req.body.decode().splitlines()
    assert lines[0] == "temp,host=h1,room=s\u00e9jour value=21.375 %d" % (1700000000000 * factor)
    got = [_decode_influx(line) for line in lines]
    assert [g[0] for g in got] == [p.metric for p in POINTS]
    assert [g[3] for g in got] == [p.ts_ms() * factor for p in POINTS]
    assert got[1][2] == "value=-42i" and got[2][2] == "value=9007199254740993i"
    assert float(got[3][2].split("=")[1]) == 3.141592653589793


def test_victoriametrics_influx_profile_default_path() -> None:
    with RecordingServer(tls=False) as srv:
        rep = _push(srv.url, "victoriametrics-influx", POINTS[:1])
    assert rep.ok
    (req,) = srv.requests
    assert req.line == "POST /write HTTP/1.1"
    assert req.header("Authorization") == "Bearer " + TOKEN


def test_warp10_profile_bytes_decode_back() -> None:
    pts = [*POINTS, Point("a{b} c+d%", 1, None, {"k,=": "v=}{, \u20ac"})]
    with RecordingServer(tls=False) as srv:
        rep = _push(srv.url, "warp10", pts)
    assert rep.accepted == len(pts) and rep.ok
    (req,) = srv.requests
    assert req.line == "POST /api/v0/update HTTP/1.1"
    assert req.header("X-Warp10-Token") == TOKEN
    assert req.header("Authorization") is None
    _check_framing(req)
    lines = req.body.decode("ascii").splitlines()  # percent-encoding leaves pure ASCII
    assert lines[0] == "1700000000000000// temp{host=h1,room=s%C3%A9jour} 21.375"
    decoded = [_decode_warp10(line) for line in lines]
    for p, (ts_us, cls, labels, value) in zip(pts, decoded):
        assert cls == p.metric
        assert labels == p.tags
        assert ts_us == (None if p.ts is None else p.ts_ms() * 1000)
        assert (int(value) if isinstance(p.value, int) else float(value)) == p.value

"""Wire cost per point at the original's cadence: one point every 10 s for 1 hour.

The hour is simulated in seconds with an injected clock (360 points). Every
pattern talks TLS to the same HTTPS server (``tests/support/tls.py``) through
a counting TCP proxy on loopback (``tests/support/faultproxy.py`` with no
faults): bytes are the TCP payload both ways (TLS records, handshakes
included; TCP/IP headers come on top), handshakes are TCP connections (each
opens with one full TLS handshake).

* original: a new TLS connection and one request per point, no timestamp,
  no batching, ``Connection: close`` (as BEHAVIOUR.md describes).
* host agent: the agent's own pipeline (``core.spool`` -> ``core.forward`` ->
  ``host.output.Sender`` -> ``host.transport.Transport``), keep-alive, gzip,
  flushing every ``flush_interval_s`` (10 s is the default; 300 s batches).
* board: the board's pieces (spool, forwarder, ``core.http`` client), no gzip;
  ``wifi_every = 30`` pushes 30-point batches on a fresh TLS connection,
  ``wifi_every = 1`` pushes each point over a kept connection.

    python bench/bench_wire.py [--quick]
"""

from __future__ import annotations

import base64
import socket
import ssl
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _util import Row, main, row

BENCH = "wire"
CADENCE_S = 10
HOUR_S = 3600
POINTS = HOUR_S // CADENCE_S
TOKEN = "w" * 44  # an OVH-like write token length
START_S = 1_700_000_000


class Clock:
    def __init__(self) -> None:
        self.now_s = START_S

    def __call__(self) -> int:
        return self.now_s


def _original(url_host: str, port: int, ca_file: str) -> None:
    """One TLS connection, one request, one point, no timestamp, closed: 360 times."""
    body = b'[{"metric":"universe","value":42,"tags":{}}]'
    auth = base64.b64encode(b"DESC:" + TOKEN.encode()).decode()
    head = (
        "POST /api/put HTTP/1.1\r\n"
        f"Host: {url_host}\r\n"
        "User-Agent: ESP8266HTTPClient\r\n"
        "Connection: close\r\n"
        f"Authorization: basic {auth}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    ctx = ssl.create_default_context(cafile=ca_file)
    for _ in range(POINTS):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                s.sendall(head + body)
                while s.recv(4096):
                    pass


def _spooled(
    tmp: Path, name: str, send: Callable[[bytes, bool], tuple[int, dict[str, str], bytes]]
) -> tuple[Any, Any, Clock]:
    from tspush.core.forward import Forwarder
    from tspush.core.spool import Spool

    clock = Clock()
    spool = Spool(str(tmp / name), outputs=[name], clock=clock, sync_every_s=-1)
    fwd = Forwarder(spool, name, send, max_points=50, max_bytes=8192, clock=clock)
    return spool, fwd, clock


def _simulate(
    spool: Any, fwd: Any, clock: Clock, flush_s: int, after_flush: Callable[[], None] | None
) -> None:
    """A point every 10 s for an hour; every ``flush_s`` send all that is pending."""
    from tspush.core import forward
    from tspush.core.point import Point

    for k in range(POINTS):
        clock.now_s = START_S + k * CADENCE_S
        spool.append([Point("universe", 42, None, {})], now_ts=clock.now_s)
        if (k + 1) * CADENCE_S % flush_s == 0 or k == POINTS - 1:
            for _ in range(100):
                outcome, _ = fwd.step()
                if outcome != forward.SENT:
                    break
            if after_flush is not None:
                after_flush()
    assert spool.pending(fwd.output) == 0, "points left unsent"


def _host_agent(tmp: Path, url: str, ca_file: str, flush_s: int, name: str) -> None:
    from tspush.host import profiles
    from tspush.host.output import Sender
    from tspush.host.transport import Transport

    profile = profiles.get("ovh")
    with Transport(url, token=TOKEN, ca_file=ca_file, gzip=True) as t:
        spool, fwd, clock = _spooled(tmp, name, Sender(t, profile))
        _simulate(spool, fwd, clock, flush_s, None)
        spool.close()


def _board(tmp: Path, port: int, ca_der: bytes, wifi_every: int, name: str) -> None:
    from tspush.core import auth
    from tspush.core.http import Connection

    conn = Connection("127.0.0.1", port, tls=True, ca_der=ca_der, buf_bytes=1024)
    header = auth.header_pair("basic", TOKEN, "DESC")
    assert header is not None
    headers = {"Content-Type": "application/json", header[0]: header[1]}

    def send(body: bytes, details: bool) -> tuple[int, dict[str, str], bytes]:
        r = conn.request("POST", "/api/put", body, headers)
        return r.status, r.headers, r.body

    spool, fwd, clock = _spooled(tmp, name, send)
    # Between Wi-Fi sessions the board's connection is gone: close after each push.
    _simulate(spool, fwd, clock, wifi_every * CADENCE_S, conn.close if wifi_every > 1 else None)
    conn.close()
    spool.close()


def run(quick: bool = False) -> list[Row]:
    from support.faultproxy import FaultProxy
    from support.tls import RecordingServer, make_certs

    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        certs = make_certs(tmp / "pki")
        ca_der = ssl.PEM_cert_to_DER_cert(certs.ca_file.read_text())
        answer = (204, {"Content-Type": "application/json"}, b"")
        patterns: list[tuple[str, Callable[[int], None], str]] = [
            (
                "original (1 TLS connection per point)",
                lambda port: _original(f"127.0.0.1:{port}", port, str(certs.ca_file)),
                "no batching, Connection: close",
            ),
            (
                "host agent, flush 10 s (default)",
                lambda port: _host_agent(
                    tmp, f"https://127.0.0.1:{port}", str(certs.ca_file), 10, "a10"
                ),
                "keep-alive, gzip, 1 point per request",
            ),
            (
                "host agent, flush 300 s",
                lambda port: _host_agent(
                    tmp, f"https://127.0.0.1:{port}", str(certs.ca_file), 300, "a300"
                ),
                "keep-alive, gzip, 30-point batches",
            ),
            (
                "board, wifi_every 30",
                lambda port: _board(tmp, port, ca_der, 30, "b30"),
                "no gzip, 30-point batches, new TLS connection per batch",
            ),
            (
                "board, wifi_every 1",
                lambda port: _board(tmp, port, ca_der, 1, "b1"),
                "no gzip, 1 point per request, kept connection",
            ),
        ]
        cost: dict[str, tuple[float, float]] = {}
        for name, go, note in patterns:
            with RecordingServer(tls=True, certs=certs, responder=lambda _r: answer) as srv:
                with FaultProxy(("127.0.0.1", srv.port)) as proxy:
                    go(proxy.port)
                    c = proxy.counters
                    total = c.bytes_up + c.bytes_down
                    served = sum(r.line.startswith("POST") for r in srv.requests)
            per_point = total / POINTS
            hs = c.connections / POINTS
            cost[name] = (per_point, hs)
            rows.append(
                row(
                    BENCH,
                    f"{name}: bytes per point",
                    per_point,
                    "B/point",
                    f"{note}; {c.bytes_up:,} up + {c.bytes_down:,} down, {served} requests",
                )
            )
            rows.append(
                row(
                    BENCH,
                    f"{name}: TLS handshakes per point",
                    hs,
                    "/point",
                    f"{c.connections} handshakes for {POINTS} points",
                )
            )
    ob, oh = cost["original (1 TLS connection per point)"]
    for name, goal_b, goal_h in [
        ("host agent, flush 300 s", 50, 100),
        ("host agent, flush 10 s (default)", 0, 0),
        ("board, wifi_every 30", 10, 0),
        ("board, wifi_every 1", 0, 0),
    ]:
        b, h = cost[name]
        rb = ob / b
        rows.append(
            row(
                BENCH,
                f"original / {name}: bytes",
                rb,
                "x fewer",
                "",
                f">= {goal_b}x" if goal_b else "",
                rb >= goal_b if goal_b else None,
            )
        )
        rh = oh / h if h else float(POINTS)
        rows.append(
            row(
                BENCH,
                f"original / {name}: handshakes",
                rh,
                "x fewer",
                "",
                f">= {goal_h}x" if goal_h else "",
                rh >= goal_h if goal_h else None,
            )
        )
    return rows


if __name__ == "__main__":
    main(run)

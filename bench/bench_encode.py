"""Encoding: points/s turning N points into request bodies, tspush vs the Python peers.

Every tool starts from its own natural input (tspush: ``Point`` objects;
pyopentsdb and opentsdb-py: their dicts or ``send()`` calls; potsdb:
``log()`` calls; influxdb-client: its ``Point`` builder) and ends with the
bytes its sender would put on the wire, in 50-point batches. No network:
the peers' HTTP sessions are replaced by a stub that only takes the body.

    python bench/bench_encode.py [--quick]
"""

from __future__ import annotations

import gc
import statistics
from collections.abc import Callable
from typing import Any

from _util import Row, main, make_points, median_rate, row

BENCH = "encode"
BATCH = 50


class _Reply:
    status_code = 204
    content = b""

    def json(self) -> dict[str, int]:
        return {"success": BATCH, "failed": 0}


class _StubSession:
    """Takes the body a peer would POST and answers 204; counts bytes."""

    def __init__(self) -> None:
        self.body_bytes = 0
        self.headers: dict[str, str] = {}

    def post(self, url: str, data: Any = None, **kw: Any) -> _Reply:
        self.body_bytes += len(data)
        return _Reply()


def _tspush_json(points: list[Any]) -> Callable[[], None]:
    from tspush.host.wire import opentsdb as fastencode

    def go() -> None:
        for _ in fastencode.batches(points, max_points=BATCH):
            pass

    return go


def _core_json(points: list[Any]) -> Callable[[], None]:
    from tspush.core import opentsdb

    def go() -> None:
        for _ in opentsdb.batches(points, max_points=BATCH):
            pass

    return go


def _tspush_influx(points: list[Any]) -> Callable[[], None]:
    from tspush.host.wire import influx as wire_influx

    def go() -> None:
        for _ in wire_influx.batches(points, max_points=BATCH):
            pass

    return go


def _core_influx(points: list[Any]) -> Callable[[], None]:
    from tspush.core import influx

    def go() -> None:
        for _ in influx.batches(points, max_points=BATCH):
            pass

    return go


def _pyopentsdb(points: list[Any]) -> Callable[[], None]:
    from pyopentsdb import put  # type: ignore[import-untyped]

    dicts = [p.to_dict() for p in points]  # its input: OpenTSDB dicts
    session = _StubSession()
    host = "http://127.0.0.1:4242"

    def go() -> None:
        for i in range(0, len(dicts), BATCH):
            put.put(host, session, data=dicts[i : i + BATCH])

    return go


def _opentsdb_py(points: list[Any]) -> Callable[[], None]:
    from opentsdb import TSDBClient  # type: ignore[import-untyped]
    from opentsdb.protocols.http_connect import HttpTSDBConnect  # type: ignore[import-untyped]

    client = TSDBClient("127.0.0.1", 4242, run_at_once=False, host_tag=False, max_queue_size=1000)
    conn = HttpTSDBConnect("127.0.0.1", 4242, False, compression=None, uri=None)
    conn._connect = _StubSession()
    queue = client._metrics_queue

    def go() -> None:
        # what its push thread does: send() queues dicts, sendall() dumps 50 at a time
        for i in range(0, len(points), BATCH):
            for p in points[i : i + BATCH]:
                client.send(p.metric, p.value, timestamp=p.ts, **p.tags)
            conn.sendall(*[queue.get_nowait() for _ in range(queue.qsize())])

    return go


def _potsdb(points: list[Any]) -> Callable[[], None]:
    import potsdb  # type: ignore[import-untyped]

    def go() -> None:
        # test_mode: its worker thread takes the lines but opens no socket
        client = potsdb.Client(
            "127.0.0.1", check_host=False, test_mode=True, host_tag=False, qsize=len(points) + 1
        )
        for p in points:
            client.log(p.metric, p.value, timestamp=p.ts, **p.tags)
        client.wait()

    return go


def _influxdb_client(points: list[Any]) -> Callable[[], None]:
    from influxdb_client import Point as IPoint  # type: ignore[import-untyped]
    from influxdb_client import WritePrecision

    def go() -> None:
        for i in range(0, len(points), BATCH):
            lines = []
            for p in points[i : i + BATCH]:
                ip = IPoint(p.metric)
                for k, v in p.tags.items():
                    ip.tag(k, v)
                ip.field("value", p.value).time(p.ts * 1_000_000, WritePrecision.NS)
                lines.append(ip.to_line_protocol())
            "\n".join(lines).encode()

    return go


# (metric name, maker, format, note)
TOOLS: list[tuple[str, Callable[[list[Any]], Callable[[], None]], str, str]] = [
    ("tspush OpenTSDB JSON (host, orjson)", _tspush_json, "tspush-json", "wire.opentsdb.batches"),
    ("tspush OpenTSDB JSON (portable core)", _core_json, "core", "core.opentsdb.batches"),
    ("tspush Influx lines (host)", _tspush_influx, "tspush-influx", "wire.influx.batches"),
    ("tspush Influx lines (portable core)", _core_influx, "core", "core.influx.batches"),
    ("pyopentsdb 0.2 put()", _pyopentsdb, "opentsdb-peer", "validate + json.dumps"),
    ("opentsdb-py 0.6 send()+sendall()", _opentsdb_py, "opentsdb-peer", "queue + json.dumps"),
    ("potsdb 1.0 log()", _potsdb, "opentsdb-peer", "telnet put lines"),
    ("influxdb-client 1.50 Point", _influxdb_client, "influx-peer", "to_line_protocol"),
]


def run(quick: bool = False) -> list[Row]:
    n = 100_000 if quick else 1_000_000
    runs = 3 if quick else 5
    points = make_points(n)
    rows: list[Row] = []
    fmt: dict[str, str] = {}
    makers: dict[str, Callable[[], None]] = {}
    notes: dict[str, str] = {}
    for name, maker, kind, note in TOOLS:
        try:
            makers[name] = maker(points)
        except Exception as e:  # a peer that cannot install or import here
            rows.append(row(BENCH, name, 0.0, "n/a", f"not measured: {type(e).__name__}: {e}"))
            continue
        fmt[name] = kind
        notes[name] = note
    # Round robin: every tool runs once per round, so a busy moment on the
    # machine hits all of them alike; the median of the rounds is reported.
    samples: dict[str, list[float]] = {name: [] for name in makers}
    for go in makers.values():  # warm-up round, not counted (imports, caches)
        go()
    for _ in range(runs):
        for name, go in makers.items():
            gc.collect()
            rate, _ = median_rate(go, n, 1)
            samples[name].append(rate)
    rates = {name: statistics.median(v) for name, v in samples.items()}
    for name, rate in rates.items():
        v = samples[name]
        spread = f"runs {min(v) / 1e6:.2f}..{max(v) / 1e6:.2f} M"
        rows.append(
            row(
                BENCH, name, rate, "points/s", f"{notes[name]}; N={n:,}, median of {runs}; {spread}"
            )
        )

    json_name = TOOLS[0][0]
    peers = {k: v for k, v in rates.items() if fmt[k] == "opentsdb-peer"}
    if json_name in rates and peers:
        best = max(peers, key=lambda k: peers[k])
        ratio = rates[json_name] / peers[best]
        rows.append(
            row(
                BENCH,
                "OpenTSDB: tspush / fastest peer",
                ratio,
                "x",
                f"fastest peer: {best}",
                ">= 5x",
                ratio >= 5,
            )
        )
    influx_name = TOOLS[2][0]
    influx_peer = TOOLS[7][0]
    if influx_name in rates and influx_peer in rates:
        ratio = rates[influx_name] / rates[influx_peer]
        rows.append(
            row(BENCH, "Influx: tspush / influxdb-client", ratio, "x", "", ">= 10x", ratio >= 10)
        )

    # Honesty check: the Influx series cache does not help when every point is a new series.
    m = min(n, 200_000)
    unique = make_points(m, series=m, unique=True)
    rate, _ = median_rate(_tspush_influx(unique), m, runs)
    rows.append(
        row(
            BENCH,
            "tspush Influx lines, every point a new series",
            rate,
            "points/s",
            f"worst case for the series cache; N={m:,}",
        )
    )
    return rows


if __name__ == "__main__":
    main(run)

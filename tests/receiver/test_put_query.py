"""``tspush serve`` as a subprocess: put over HTTP, read back by /api/query, exact values."""

from __future__ import annotations

import gzip
import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest
import urllib3

from support.receiver import ReceiverProcess
from tspush.receiver.store import Store

T = 1_700_000_000


@pytest.fixture(scope="module")
def rx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReceiverProcess]:
    with ReceiverProcess(tmp_path_factory.mktemp("rx")) as r:
        yield r


def put(
    rx: ReceiverProcess,
    body: Any,
    query: str = "",
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
) -> urllib3.BaseHTTPResponse:
    h = {"Content-Type": "application/json", **rx.write_headers()}
    h.update(headers or {})
    data = raw if raw is not None else json.dumps(body).encode()
    return urllib3.request("POST", rx.url + "/api/put" + query, body=data, headers=h)


def query(rx: ReceiverProcess, body: dict[str, Any]) -> Any:
    r = urllib3.request(
        "POST",
        rx.url + "/api/query",
        body=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **rx.read_headers()},
    )
    assert r.status == 200, r.data
    return json.loads(r.data)


def dps_of(rx: ReceiverProcess, metric: str, start: int = T - 10, **extra: Any) -> Any:
    res = query(
        rx, {"start": start, "queries": [{"metric": metric, "aggregator": "none", **extra}]}
    )
    return {json.dumps(r["tags"], sort_keys=True): r["dps"] for r in res}


def test_put_array_and_read_back_exact_values(rx: ReceiverProcess) -> None:
    pts = [
        {"metric": "exact.v", "timestamp": T, "value": 42, "tags": {"host": "a"}},
        {"metric": "exact.v", "timestamp": T + 10, "value": 0.1 + 0.2, "tags": {"host": "a"}},
        {"metric": "exact.v", "timestamp": T + 20, "value": -7, "tags": {"host": "b"}},
        {"metric": "exact.v", "timestamp": T + 30, "value": 123456789012, "tags": {"host": "b"}},
    ]
    r = put(rx, pts)
    assert r.status == 204 and r.data == b""
    got = dps_of(rx, "exact.v")
    assert got == {
        '{"host": "a"}': {str(T): 42, str(T + 10): 0.30000000000000004},
        '{"host": "b"}': {str(T + 20): -7, str(T + 30): 123456789012},
    }
    # ints come back as JSON ints, floats keep every digit
    raw = urllib3.request(
        "GET",
        rx.url + f"/api/query?start={T - 10}&m=none:exact.v{{host=a}}",
        headers=rx.read_headers(),
    ).data
    assert b'"1700000000":42,' in raw and b"0.30000000000000004" in raw


def test_single_object_like_the_original_board_is_stamped_on_arrival(rx: ReceiverProcess) -> None:
    import time

    before = int(time.time())
    r = put(rx, {"metric": "universe.board", "value": 42, "tags": {}})
    after = int(time.time())
    assert r.status == 204
    (dps,) = dps_of(rx, "universe.board", start=before - 1).values()
    (ts,) = dps
    assert before <= int(ts) <= after and dps[ts] == 42


def test_original_lowercase_basic_scheme_and_bearer(rx: ReceiverProcess) -> None:
    assert rx.write_token
    lower = rx.write_headers()["Authorization"].replace("Basic", "basic")
    assert (
        put(
            rx,
            [{"metric": "auth.ok", "timestamp": T, "value": 1}],
            headers={"Authorization": lower},
        ).status
        == 204
    )
    assert (
        put(
            rx,
            [{"metric": "auth.ok", "timestamp": T + 1, "value": 2}],
            headers=rx.write_headers("bearer"),
        ).status
        == 204
    )
    assert dps_of(rx, "auth.ok") == {"{}": {str(T): 1, str(T + 1): 2}}


def test_gzip_body_summary_and_details(rx: ReceiverProcess) -> None:
    body = gzip.compress(
        json.dumps(
            [
                {"metric": "gz.v", "timestamp": T + i, "value": i, "tags": {"k": "v"}}
                for i in range(5)
            ]
        ).encode()
    )
    r = put(rx, None, "?summary", {"Content-Encoding": "gzip"}, raw=body)
    assert r.status == 200 and json.loads(r.data) == {"failed": 0, "success": 5}
    assert dps_of(rx, "gz.v") == {'{"k": "v"}': {str(T + i): i for i in range(5)}}
    r = put(
        rx, [{"metric": "gz.v", "timestamp": T + 9, "value": 9, "tags": {"k": "v"}}], "?details"
    )
    assert r.status == 200
    assert json.loads(r.data) == {"errors": [], "failed": 0, "success": 1}


def test_partial_failure_stores_good_points_and_details_name_the_bad(rx: ReceiverProcess) -> None:
    pts = [
        {"metric": "partial.v", "timestamp": T, "value": 1, "tags": {"k": "v"}},
        {"metric": "partial.v", "timestamp": T + 1, "value": "NaN?", "tags": {"k": "v"}},
        {"metric": "bad name!", "timestamp": T, "value": 1},
        {"metric": "partial.v", "timestamp": T + 2, "value": 3, "tags": {"k": "v"}},
    ]
    r = put(rx, pts, "?details")
    assert r.status == 400
    doc = json.loads(r.data)
    assert doc["success"] == 2 and doc["failed"] == 2
    assert [e["datapoint"] for e in doc["errors"]] == [pts[1], pts[2]]
    assert "not a number" in doc["errors"][0]["error"]
    assert "character" in doc["errors"][1]["error"]
    r = put(rx, pts)  # without details: OpenTSDB's error object
    assert r.status == 400
    err = json.loads(r.data)["error"]
    assert err["code"] == 400 and err["message"] == "One or more data points had errors"
    assert dps_of(rx, "partial.v") == {'{"k": "v"}': {str(T): 1, str(T + 2): 3}}


def test_push_path_of_tspush_push_reaches_the_store(rx: ReceiverProcess) -> None:
    from tspush.core.point import Point
    from tspush.host import profiles
    from tspush.host.push import push_points
    from tspush.host.transport import Transport

    pts = [Point("via.push", i * 1.5, T + i, {"host": "h"}) for i in range(120)]
    t = Transport(rx.url, token=rx.write_token)
    try:
        report = push_points(t, profiles.get("tspush"), pts)
    finally:
        t.close()
    assert (report.accepted, report.rejected, report.requests) == (120, 0, 3)
    assert dps_of(rx, "via.push") == {'{"host": "h"}': {str(T + i): i * 1.5 for i in range(120)}}


@pytest.mark.skipif(find_spec("tspush.cli.push") is None, reason="tspush push (issue 2) missing")
def test_push_cli_to_receiver(rx: ReceiverProcess) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "tspush.cli.main",
            "push",
            "--url",
            rx.url,
            "--profile",
            "tspush",
            "cli.push",
            "7",
            "--tag",
            "room=lab",
            "--timestamp",
            str(T),
            "--gzip",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={"TSPUSH_TOKEN": rx.write_token or "", "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert rx.write_token not in out.stdout + out.stderr
    assert dps_of(rx, "cli.push") == {'{"room": "lab"}': {str(T): 7}}


def test_restart_keeps_data_and_one_row_per_point(tmp_path: Path) -> None:
    pts = [
        {"metric": "keep.v", "timestamp": T + i, "value": i, "tags": {"k": "v"}} for i in range(50)
    ]
    with ReceiverProcess(tmp_path) as first:
        assert put(first, pts).status == 204
        assert put(first, pts[:10]).status == 204  # same series+time: replaced, not doubled
    assert first.proc is not None and first.proc.returncode == 0
    with ReceiverProcess(tmp_path) as second:
        assert dps_of(second, "keep.v") == {'{"k": "v"}': {str(T + i): i for i in range(50)}}
    db = sqlite3.connect(tmp_path / "receiver.sqlite")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("SELECT metric, tags FROM series").fetchall() == [("keep.v", '{"k":"v"}')]
    db.close()
    store = Store(tmp_path / "receiver.sqlite")
    assert store.count_points() == 50
    store.close()


def test_deflate_body(rx: ReceiverProcess) -> None:
    import zlib

    body = zlib.compress(json.dumps([{"metric": "defl.v", "timestamp": T, "value": 8}]).encode())
    assert put(rx, None, headers={"Content-Encoding": "deflate"}, raw=body).status == 204
    assert dps_of(rx, "defl.v") == {"{}": {str(T): 8}}

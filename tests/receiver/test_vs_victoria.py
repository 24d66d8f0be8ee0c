"""The same OpenTSDB bodies into VictoriaMetrics and into ``tspush serve`` store the same data."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import urllib3

from support.receiver import ReceiverProcess
from tspush.receiver.store import Store

T = 1_700_000_000

BODIES: list[tuple[bytes, dict[str, str]]] = [
    (
        json.dumps(
            {"metric": "cmp.one", "timestamp": T, "value": 42, "tags": {"host": "a"}}
        ).encode(),
        {},
    ),
    (
        json.dumps(
            [
                {
                    "metric": "cmp.many",
                    "timestamp": T + i,
                    "value": i * 0.25,
                    "tags": {"host": "a", "i": "x"},
                }
                for i in range(30)
            ]
        ).encode(),
        {},
    ),
    (
        json.dumps(
            [
                {
                    "metric": "cmp.ms",
                    "timestamp": T * 1000 + 123,
                    "value": -1.5,
                    "tags": {"host": "b"},
                },
                {
                    "metric": "cmp.ms",
                    "timestamp": T * 1000 + 456,
                    "value": 7,
                    "tags": {"host": "b"},
                },
            ]
        ).encode(),
        {},
    ),
    (
        json.dumps(
            [
                {"metric": "cmp.str", "timestamp": T, "value": "3.75", "tags": {"host": "c"}},
                {"metric": "cmp.untagged", "timestamp": T, "value": 1},
            ]
        ).encode(),
        {},
    ),
    (
        gzip.compress(
            json.dumps(
                [
                    {
                        "metric": "cmp.gz",
                        "timestamp": T + i,
                        "value": 1e6 + i,
                        "tags": {"host": "d"},
                    }
                    for i in range(5)
                ]
            ).encode()
        ),
        {"Content-Encoding": "gzip"},
    ),
    (
        json.dumps(
            [
                {
                    "metric": "cmp.big",
                    "timestamp": T,
                    "value": 1234567890.125,
                    "tags": {"site": "paris", "room": "r1"},
                }
            ]
        ).encode(),
        {},
    ),
]


def ours(db: Path) -> list[tuple[str, dict[str, str], int, float]]:
    store = Store(db)
    out = [(m, t, ts, float(v)) for m, t, ts, v in store.iter_all()]
    store.close()
    out.sort(key=lambda r: (r[0], sorted(r[1].items()), r[2]))
    return out


def test_same_bodies_same_stored_data(victoria: Any, tmp_path: Path) -> None:
    with ReceiverProcess(tmp_path, "--no-auth") as rx:
        for body, headers in BODIES:
            h = {"Content-Type": "application/json", **headers}
            r1 = urllib3.request("POST", victoria.opentsdb_url + "/api/put", body=body, headers=h)
            r2 = urllib3.request("POST", rx.url + "/api/put", body=body, headers=h)
            assert (r1.status, r2.status) == (204, 204), (r1.data, r2.data)
        expected_count = 1 + 30 + 2 + 2 + 5 + 1
        vm_rows = victoria.wait_for('{__name__=~"cmp.*"}', expected_count)
    mine = ours(tmp_path / "receiver.sqlite")  # read once the receiver has stopped
    assert len(mine) == expected_count
    assert [(m, t, ts, float(v)) for m, t, ts, v in vm_rows] == mine

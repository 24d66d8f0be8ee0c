"""The agent's http_listener source: a board posts, the agent spools, then forwards."""

from __future__ import annotations

import base64
import io
import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from helpers import spooled_records

from support.ports import free_port
from tspush.host.agent import Agent, Logger
from tspush.host.agent_config import load

DEVICE_TOKEN = "device-token-on-the-lan"


def _post(url: str, body: object, token: str | None) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Basic " + base64.b64encode(f"DESC:{token}".encode()).decode()
    req = urllib.request.Request(
        url + "/api/put", data=json.dumps(body).encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_board_posts_are_spooled_before_the_answer_then_forwarded(tmp_path: Path, victoria) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    cfg_path = tmp_path / "agent.toml"
    cfg_path.write_text(
        f"""
[agent]
self_metrics_interval_s = 0
[spool]
dir = "{tmp_path / "spool"}"
[[sources]]
type = "http_listener"
listen = "127.0.0.1:{port}"
token = "{DEVICE_TOKEN}"
tags = {{ gateway = "gw1" }}
[[outputs]]
url = "{victoria.opentsdb_url}"
profile = "victoriametrics"
flush_interval_s = 0.2
"""
    )
    cfg = load(cfg_path)
    stream = io.StringIO()
    victoria.stop()  # upstream down: the points must wait in the spool
    agent = Agent(cfg, log=Logger(stream, secrets=cfg.secrets()))
    agent.start()
    url = f"http://127.0.0.1:{port}"
    try:
        status, _ = _post(url, [{"metric": "lan.t", "value": 1, "tags": {}}], "wrong")
        assert status == 401
        body = [
            {"metric": "lan.t", "timestamp": 1710000000 + i, "value": i, "tags": {"board": "d1"}}
            for i in range(5)
        ]
        body.append({"metric": "bad metric", "timestamp": 1710000009, "value": 9, "tags": {}})
        status, answer = _post(url, body, DEVICE_TOKEN)
        assert status == 400
        details = json.loads(answer)
        assert details["success"] == 5 and details["failed"] == 1
        assert "bad metric" in details["errors"][0]["error"]
        # Answered: the five good points are already on disk.
        stored = [d for d in spooled_records(tmp_path / "spool") if d["metric"] == "lan.t"]
        assert sorted(d["value"] for d in stored) == [0, 1, 2, 3, 4]
        assert stored[0]["tags"] == {"board": "d1", "gateway": "gw1"}
        victoria.start()
        rows = victoria.wait_for('{__name__="lan.t"}', 5, timeout_s=60)
    finally:
        agent.stop(flush_s=2)
    assert [(r[2], r[3]) for r in rows] == [((1710000000 + i) * 1000, float(i)) for i in range(5)]
    assert DEVICE_TOKEN not in stream.getvalue()


def _raw(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(url + "/api/put", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            data = r.read()
            return r.status, json.loads(data) if data else {}
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def test_the_listener_reads_a_request_as_serve_does(tmp_path: Path) -> None:
    """One ingest: the same body gets the same answer from the agent and from `tspush serve`."""
    import gzip

    from support.receiver import WRITE_TOKEN, ReceiverProcess

    port = free_port()
    with ReceiverProcess(tmp_path / "rx") as rx:
        cfg_path = tmp_path / "agent.toml"
        cfg_path.write_text(
            f"""
[agent]
self_metrics_interval_s = 0
[spool]
dir = "{tmp_path / "spool"}"
[[sources]]
type = "http_listener"
listen = "127.0.0.1:{port}"
token = "{DEVICE_TOKEN}"
[[outputs]]
url = "{rx.url}"
profile = "tspush"
token = "{WRITE_TOKEN}"
flush_interval_s = 0.2
"""
        )
        cfg = load(cfg_path)
        agent = Agent(cfg, log=Logger(io.StringIO(), secrets=cfg.secrets()))
        agent.start()
        lan = f"http://127.0.0.1:{port}"

        def both(body: bytes, **headers: str) -> list[tuple[int, dict[str, Any]]]:
            h = {"Content-Type": "application/json", **headers}
            device = "Bearer " + DEVICE_TOKEN
            return [
                _raw(lan, body, {**h, "Authorization": device}),
                _raw(rx.url, body, {**h, **rx.write_headers("bearer")}),
            ]

        def points(metric: str) -> bytes:
            return json.dumps(
                [{"metric": metric, "timestamp": 1710000000 + i, "value": i} for i in range(3)]
            ).encode()

        try:
            zipped = both(gzip.compress(points("gz.t")), **{"Content-Encoding": "gzip"})
            not_json = both(b"[{not json")
            brotli = both(points("br.t"), **{"Content-Encoding": "br"})
            empty = both(b"[]")
            url = rx.url + "/api/query?start=1709999999&m=sum:gz.t"
            deadline = time.monotonic() + 60
            while True:  # the listener's copy arrives through the agent's spool and output
                req = urllib.request.Request(url, headers=rx.read_headers())
                with urllib.request.urlopen(req, timeout=30) as r:
                    got = json.loads(r.read())
                if got and len(got[0]["dps"]) == 3 or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
        finally:
            agent.stop(flush_s=2)
    assert [s for s, _ in zipped] == [204, 204]
    assert got[0]["dps"] == {str(1710000000 + i): i for i in range(3)}
    for lan_answer, serve_answer in (not_json, brotli, empty):
        assert lan_answer[0] == serve_answer[0] >= 400
        assert lan_answer[1]["error"]["message"] == serve_answer[1]["error"]["message"]
    assert not_json[0][0] == 400 and brotli[0][0] == 415

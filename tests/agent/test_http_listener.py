"""The agent's http_listener source: a board posts, the agent spools, then forwards."""

from __future__ import annotations

import base64
import io
import json
import urllib.error
import urllib.request
from pathlib import Path

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

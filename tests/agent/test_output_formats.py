"""Outputs whose profile needs more than the stored JSON: strict rules, Influx line protocol."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from helpers import Lines, output_config

from support.tls import RecordingServer, Request
from tspush.core import forward
from tspush.core.point import Point
from tspush.core.spool import Spool
from tspush.host.output import Output


def test_strict_profile_adds_host_tag_and_dead_letters_what_it_cannot_fix(tmp_path: Path) -> None:
    with RecordingServer(tls=False) as srv:
        spool = Spool(str(tmp_path / "spool"), outputs=["out"], lock=threading.RLock())
        out = Output(
            output_config(srv.url, profile="opentsdb"),
            spool,
            log=Lines(),
            dead_letter_path=tmp_path / "dead.jsonl",
        )
        nine = {"t%d" % i: "v" for i in range(9)}
        spool.append(
            [
                Point("ok.m", 1, 1700000000, {}),
                Point("too.many", 2, 1700000001, nine),
                Point("ok.m", 3, 1700000002, {"k": "v"}),
            ]
        )
        assert out.forwarder.step()[0] == forward.SENT
        (req,) = srv.requests
        sent = json.loads(req.body)
        assert [d["value"] for d in sent] == [1, 3]
        assert set(sent[0]["tags"]) == {"host"} and sent[1]["tags"] == {"k": "v"}
        assert req.line == "POST /api/put?details HTTP/1.1"
        dead = json.loads((tmp_path / "dead.jsonl").read_text())
        assert dead["point"]["metric"] == "too.many" and "at most 8" in dead["reason"]


def test_influx_profile_reaches_victoriametrics(tmp_path: Path, victoria) -> None:  # type: ignore[no-untyped-def]
    spool = Spool(str(tmp_path / "spool"), outputs=["out"], lock=threading.RLock())
    out = Output(output_config(victoria.url, profile="victoriametrics-influx"), spool, log=Lines())
    spool.append([Point("room.temp", 20 + i / 4, 1700000000 + i, {"room": "b"}) for i in range(8)])
    while out.forwarder.step()[0] == forward.SENT:
        pass
    rows = victoria.wait_for('{__name__=~"room.temp.*"}', 8)
    assert [(r[2], r[3]) for r in rows] == [((1700000000 + i) * 1000, 20 + i / 4) for i in range(8)]
    assert rows[0][1] == {"room": "b"}


def test_server_that_answers_details_for_the_whole_body_is_bisected(tmp_path: Path) -> None:
    def responder(req: Request) -> tuple[int, dict[str, str], bytes]:
        docs = json.loads(req.body)
        if any(d["value"] == 2 for d in docs):
            return 400, {}, b'{"error":{"code":400,"message":"Unable to parse"}}'
        return 204, {}, b""

    with RecordingServer(tls=False, responder=responder) as srv:
        spool = Spool(str(tmp_path / "spool"), outputs=["out"], lock=threading.RLock())
        out = Output(
            output_config(srv.url, profile="tspush"),
            spool,
            log=Lines(),
            dead_letter_path=tmp_path / "dead.jsonl",
        )
        spool.append([Point("m", i, 1700000000 + i, {"k": "v"}) for i in range(4)])
        assert out.forwarder.step()[0] == forward.SENT
        dead = json.loads((tmp_path / "dead.jsonl").read_text())
        assert dead["point"]["value"] == 2 and "Unable to parse" in dead["reason"]

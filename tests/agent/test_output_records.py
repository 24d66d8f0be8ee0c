"""Stored records go on the wire as stored: a profile's rules re-encode only what they change."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from helpers import Lines, output_config

from support.tls import RecordingServer
from tspush.core import forward
from tspush.core.point import LENIENT, OPEN, Point
from tspush.core.spool import Spool
from tspush.host.output import Output
from tspush.host.wire.opentsdb import record


def _output(tmp_path: Path, url: str, profile: str) -> tuple[Spool, Output]:
    spool = Spool(str(tmp_path / "spool"), outputs=["out"], lock=threading.RLock())
    out = Output(
        output_config(url, profile=profile),
        spool,
        log=Lines(),
        dead_letter_path=tmp_path / "dead.jsonl",
    )
    return spool, out


def test_strict_output_sends_untouched_records_byte_for_byte(tmp_path: Path) -> None:
    with RecordingServer(tls=False) as srv:
        spool, out = _output(tmp_path, srv.url, "opentsdb")
        keep = [
            Point("a.m", 1e-7, 1700000000, {"z": "1", "a": "2"}),
            Point("b", 2, 1700000001123, {"k": "v"}),
        ]
        fixed = Point("c", 3, 1700000002, {})  # gets host=<name>: encoded again
        # the agent's records (orjson: 1e-7, where decoding and encoding again gives 1e-07)
        spool.append_records([record(keep[0]), record(fixed), record(keep[1])])
        assert out.forwarder.prepare is not None  # strict: its rules run
        assert out.forwarder.step()[0] == forward.SENT
        (req,) = srv.requests
        body = req.body
        assert b"1e-7" in record(keep[0])
        assert body.startswith(b"[" + record(keep[0]) + b",")
        assert body.endswith(b"," + record(keep[1]) + b"]")
        assert json.loads(body)[1]["tags"].keys() == {"host"}


def test_rules_run_only_where_the_spool_was_looser(tmp_path: Path) -> None:
    with RecordingServer(tls=False) as srv:
        _, vm = _output(tmp_path / "1", srv.url, "victoriametrics")
        _, lines = _output(tmp_path / "2", srv.url, "victoriametrics-influx")
    vm.set_spool_mode(LENIENT)
    lines.set_spool_mode(OPEN)
    assert vm.forwarder.prepare is None and lines.forwarder.prepare is None
    vm.set_spool_mode(OPEN)  # a spool that took "living room" for an Influx output
    assert vm.forwarder.prepare is not None

"""Issue 14 item 7: Influx and remote write take any UTF-8 tag value; only OpenTSDB
outputs apply OpenTSDB's character rules. Real VictoriaMetrics, read back."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from support.vm import VictoriaMetrics


def test_push_profile_influx_v2_takes_a_space(victoria: VictoriaMetrics) -> None:
    """The issue's command: ``tspush push m 1 -t 'room=living room' --profile influx``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TSPUSH_")}
    url = victoria.url + "/api/v2/write?org=o&bucket=b"
    r = subprocess.run(
        [sys.executable, "-m", "tspush.cli.main", "push", "utf.v2", "1", "-t",
         "room=living room", "--profile", "influx", "--url", url, "--timestamp", "1700000000"],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    rows = victoria.wait_for('{__name__=~"utf.v2.*"}', 1)
    assert [(n, t["room"], ts, v) for n, t, ts, v in rows] == [
        ("utf.v2_value", "living room", 1700000000000, 1)
    ]


def _wait(state: Path, p: subprocess.Popen[bytes], ok: object, bound_s: float) -> dict:
    deadline = time.monotonic() + bound_s
    while time.monotonic() < deadline and p.poll() is None:
        try:
            outs = json.loads(state.read_text())["outputs"]
            if ok(outs):  # type: ignore[operator]
                return outs  # type: ignore[no-any-return]
        except (OSError, ValueError, KeyError):
            pass  # not written yet
        time.sleep(0.1)
    raise AssertionError("outputs never got there")


def test_agent_influx_output_stores_it_opentsdb_output_dead_letters_it(
    tmp_path: Path, victoria: VictoriaMetrics
) -> None:
    cfg = tmp_path / "agent.toml"
    cfg.write_text(f"""
[agent]
self_metrics_interval_s = 0
state_interval_s = 0.2

[spool]
dir = "{tmp_path / "spool"}"

[[sources]]
type = "constant"
metric = "utf.agent"
value = 3
interval_s = 0.05
tags = {{ room = "living room, east=1" }}

[[outputs]]
name = "lines"
url = "{victoria.url}/write?db=a"
profile = "victoriametrics-influx"
flush_interval_s = 0.1

[[outputs]]
name = "json"
url = "{victoria.opentsdb_url}"
profile = "victoriametrics"
flush_interval_s = 0.1
""")
    log = tmp_path / "agent.log"
    with open(log, "ab") as f:
        p = subprocess.Popen(
            [sys.executable, "-m", "tspush.cli.main", "run", "--config", str(cfg)],
            stdout=f,
            stderr=subprocess.STDOUT,
        )
    try:
        outs = _wait(
            tmp_path / "spool" / "state.json",
            p,
            lambda o: o["lines"]["sent_points"] >= 3 and o["json"]["dead_letters"] >= 3,
            120,
        )
    finally:
        p.send_signal(signal.SIGTERM)
        assert p.wait(30) == 0, log.read_text()[-3000:]
    assert outs["json"]["sent_points"] == 0
    rows = victoria.wait_for('{__name__="utf.agent_value"}', outs["lines"]["sent_points"])
    assert rows and {r[1]["room"] for r in rows} == {"living room, east=1"}
    assert victoria.samples('{__name__="utf.agent"}') == []  # OpenTSDB never got one
    dead = [json.loads(line) for line in (tmp_path / "spool" / "dead-letter.jsonl").open()]
    assert dead and all(d["output"] == "json" for d in dead), dead[:2]
    assert "has the character ' '" in json.dumps(dead[0])

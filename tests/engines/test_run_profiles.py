"""``tspush run`` with one ``profile =`` per output: the same readings reach every engine.

One constant source, four outputs: VictoriaMetrics' OpenTSDB listener
(``victoriametrics``), its Influx ``/write`` (``victoriametrics-influx`` and
``influx`` with a v1 URL) and, on a second VictoriaMetrics, Prometheus remote
write (``promwrite``). After a clean stop every output's copy is read back
and must hold the same (timestamp, value) pairs.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from support.vm import VictoriaMetrics


def _config(tmp_path: Path, vm: VictoriaMetrics, vm2: VictoriaMetrics) -> Path:
    p = tmp_path / "agent.toml"
    outputs = [
        ("otsdb", vm.opentsdb_url, "victoriametrics"),
        ("vminflux", vm.url + "/write?db=vm", "victoriametrics-influx"),
        ("influx1", vm.url + "/write?db=v1&precision=ms", "influx"),
        ("remote", vm2.url, "promwrite"),
    ]
    text = f"""
[agent]
timestamp_unit = "ms"
self_metrics_interval_s = 0
state_interval_s = 0.2
shutdown_flush_s = 10

[spool]
dir = "{tmp_path / "spool"}"

[[sources]]
type = "constant"
name = "const"
metric = "run.const"
value = 21.375
interval_s = 0.05
tags = {{ room = "s\u00e9jour" }}
"""
    for name, url, profile in outputs:
        text += f"""
[[outputs]]
name = "{name}"
url = "{url}"
profile = "{profile}"
flush_interval_s = 0.1
flush_jitter_s = 0.0
"""
    p.write_text(text)
    return p


def _wait_sent(state_path: Path, n: int, p: subprocess.Popen[bytes], bound_s: float) -> bool:
    names = ("otsdb", "vminflux", "influx1", "remote")
    deadline = time.monotonic() + bound_s
    while time.monotonic() < deadline and p.poll() is None:
        try:
            outs = json.loads(state_path.read_text())["outputs"]
            if all(outs[name]["sent_points"] >= n for name in names):
                return True
        except (OSError, ValueError, KeyError):
            pass  # not written yet
        time.sleep(0.1)
    return False


def test_every_profile_gets_the_same_readings(tmp_path: Path, victoria: VictoriaMetrics) -> None:
    with VictoriaMetrics(tmp_path / "vm2") as vm2:
        cfg = _config(tmp_path, victoria, vm2)
        log = tmp_path / "agent.log"
        with open(log, "ab") as f:
            p = subprocess.Popen(
                [sys.executable, "-m", "tspush.cli.main", "run", "--config", str(cfg)],
                stdout=f,
                stderr=subprocess.STDOUT,
            )
        try:
            # Run until every output has sent at least 10 readings (no fixed time:
            # a loaded machine samples and sends more slowly, not wrongly).
            assert _wait_sent(tmp_path / "spool" / "state.json", 10, p, 120), log.read_text()[
                -3000:
            ]
        finally:
            p.send_signal(signal.SIGTERM)
            assert p.wait(30) == 0, log.read_text()[-3000:]
        state = json.loads((tmp_path / "spool" / "state.json").read_text())
        for name in ("otsdb", "vminflux", "influx1", "remote"):
            assert state["outputs"][name]["pending"] == 0, (name, state["outputs"][name])

        def series(vm: VictoriaMetrics, match: str, output: str) -> list[tuple[int, float]]:
            # every reading the output sent, once VictoriaMetrics has ingested it
            rows = vm.wait_for(match, state["outputs"][output]["sent_points"])
            assert rows, (match, log.read_text()[-2000:])
            assert {r[1]["room"] for r in rows} == {"s\u00e9jour"}
            return [(r[2], r[3]) for r in rows]

        otsdb = series(victoria, "run.const", "otsdb")
        vminflux = series(victoria, 'run.const_value{db="vm"}', "vminflux")
        influx1 = series(victoria, 'run.const_value{db="v1"}', "influx1")
        remote = series(vm2, "run.const", "remote")
    assert len(otsdb) >= 10
    assert {v for _, v in otsdb} == {21.375}
    assert otsdb == vminflux == influx1 == remote

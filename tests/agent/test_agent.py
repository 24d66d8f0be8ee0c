"""The agent as a whole: fan-out, failing sources, self-metrics, state and `tspush status`."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from support.ports import free_port
from support.tls import RecordingServer, Request
from tspush.core.point import Point
from tspush.host.agent import Agent, Logger
from tspush.host.agent_config import load
from tspush.host.sources import ConstantSource, Source

TOKEN = "fan-out-token-123456"


class Broken(Source):
    kind = "broken"

    def sample(self, now_s: int) -> list[Point]:
        raise OSError("sensor on GPIO4 not answering: check the pull-up")


def _values(reqs: list[Request], metric: str) -> list[object]:
    out = []
    for r in reqs:
        for d in json.loads(r.body):
            if d["metric"] == metric:
                out.append(d)
    return out


def _wait(pred, timeout_s: float = 60) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def test_fan_out_failing_source_self_metrics_state_and_status(tmp_path: Path) -> None:
    def responder(req: Request) -> tuple[int, dict[str, str], bytes]:
        return 204, {}, b""

    dead_port = free_port()
    with RecordingServer(tls=False, responder=responder) as srv:
        cfg_path = tmp_path / "agent.toml"
        cfg_path.write_text(
            f"""
[agent]
self_metrics_interval_s = 0.5
state_interval_s = 0.1
tags = {{ host = "box" }}
[spool]
dir = "{tmp_path / "spool"}"
[[outputs]]
name = "live"
url = "{srv.url}"
profile = "victoriametrics"
token = "{TOKEN}"
flush_interval_s = 0.1
[[outputs]]
name = "dead"
url = "http://127.0.0.1:{dead_port}"
profile = "victoriametrics"
token = "{TOKEN}"
flush_interval_s = 0.1
retry_backoff_s = 0.1
retry_cap_s = 0.2
"""
        )
        cfg = load(cfg_path)
        stream = io.StringIO()
        log = Logger(stream, secrets=cfg.secrets())
        good = ConstantSource(interval_s=0.05, tags={"k": "v"})
        agent = Agent(cfg, log=log, sources=[Broken("gpio4", 0.05), good])
        agent.start()
        try:
            assert _wait(lambda: len(_values(srv.requests, "universe")) >= 20)
            assert _wait(lambda: _values(srv.requests, "tspush.spool.points"))
            assert _wait(lambda: agent.spool.pending("dead") > 20)
        finally:
            agent.stop(flush_s=60)  # returns as soon as "live" is empty
        universe = _values(srv.requests, "universe")
        assert len(universe) == good_points(agent, "constant")
        assert universe[0]["tags"] == {"host": "box", "k": "v"}  # type: ignore[index]
        metrics = {
            (d["metric"], d["tags"]["output"])
            for d in _values_all(srv.requests)  # type: ignore[index]
            if d["metric"].startswith("tspush.") and "output" in d["tags"]
        }  # type: ignore[index]
        for name in ("spool.points", "dropped", "retries", "last_success_age_s", "dead_letters"):
            assert ("tspush." + name, "dead") in metrics and ("tspush." + name, "live") in metrics
        assert _values(srv.requests, "tspush.source.errors")

    logs = stream.getvalue()
    assert TOKEN not in logs
    assert logs.count("check the pull-up") == 1  # reported once, not every interval
    assert "level=error" in logs and "source=gpio4" in logs

    state = json.loads((tmp_path / "spool" / "state.json").read_text())
    assert state["outputs"]["live"]["pending"] == 0
    assert state["outputs"]["dead"]["pending"] > 20
    assert state["sources"]["gpio4"]["errors"] >= 5 and state["sources"]["constant"]["points"] > 0
    assert TOKEN not in json.dumps(state)

    r = subprocess.run(
        [sys.executable, "-m", "tspush.cli.main", "status", "--config", str(cfg_path)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "agent: not running" in out
    assert "output dead -> 127.0.0.1:%d/api/put" % dead_port in out
    assert "pending %d point(s)" % state["outputs"]["dead"]["pending"] in out
    assert "last error" in out and "dead letters 0" in out
    assert "source gpio4" in out and "check the pull-up" in out
    assert TOKEN not in out


def good_points(agent: Agent, name: str) -> int:
    return next(r.points for r in agent.runners if r.source.name == name)


def _values_all(reqs: list[Request]) -> list[dict]:  # type: ignore[type-arg]
    return [d for r in reqs for d in json.loads(r.body)]


def test_status_without_a_state_file_says_how_to_start(tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "tspush.cli.main", "status", "--state-file", str(tmp_path / "x")],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and "tspush run" in r.stderr


def test_a_second_agent_on_the_same_spool_is_refused(tmp_path: Path) -> None:
    cfg_path = tmp_path / "agent.toml"
    cfg_path.write_text(
        f"""
[spool]
dir = "{tmp_path / "spool"}"
[[outputs]]
url = "http://127.0.0.1:{free_port()}"
"""
    )
    first = Agent(load(cfg_path), log=lambda *a, **k: None, sources=[])
    try:
        r = subprocess.run(
            [sys.executable, "-m", "tspush.cli.main", "run", "--config", str(cfg_path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 7
        assert "in use by another tspush process (pid %d)" % os.getpid() in r.stderr
    finally:
        first.stop(flush_s=0)
    # released on stop: the next one starts
    Agent(load(cfg_path), log=lambda *a, **k: None, sources=[]).stop(flush_s=0)


class Chatty(Source):
    """A source that logs through stdlib ``logging``, as stdin and http_listener do."""

    kind = "chatty"

    def sample(self, now_s: int) -> list[Point]:
        import logging

        logging.getLogger("tspush.agent").warning("chatty: skipped line with %s", TOKEN)
        return [Point("chatty.v", 1, now_s)]


def test_foreground_run_says_what_it_does_in_one_format(tmp_path: Path) -> None:
    """A summary per output at a modest rate; sources' stdlib lines in the agent's format."""

    def responder(req: Request) -> tuple[int, dict[str, str], bytes]:
        return 204, {}, b""

    with RecordingServer(tls=False, responder=responder) as srv:
        cfg_path = tmp_path / "agent.toml"
        cfg_path.write_text(
            f"""
[agent]
interval_s = 0.2
self_metrics_interval_s = 0
state_interval_s = 0.1
summary_interval_s = 0.5
[spool]
dir = "{tmp_path / "spool"}"
[[outputs]]
name = "live"
url = "{srv.url}"
profile = "victoriametrics"
token = "{TOKEN}"
flush_interval_s = 0.1
"""
        )
        stream = io.StringIO()
        cfg = load(cfg_path)
        agent = Agent(
            cfg,
            log=Logger(stream=stream, secrets=cfg.secrets()),
            sources=[Chatty("chatty", interval_s=0.2)],
        )
        agent.start()
        try:
            assert _wait(lambda: 'msg="output summary" output=live sent=' in stream.getvalue())
            assert _wait(lambda: len(_values(srv.requests, "chatty.v")) >= 2)
            assert _wait(lambda: "pending=0" in stream.getvalue().split("output summary")[-1])
        finally:
            agent.stop(flush_s=1)
    text = stream.getvalue()
    summaries = [ln for ln in text.splitlines() if "output summary" in ln]
    sent = sum(int(ln.split(" sent=")[1].split()[0]) for ln in summaries)
    assert sent >= 1
    chatty = [ln for ln in text.splitlines() if "chatty: skipped line" in ln]
    assert chatty and chatty[0].startswith("ts=") and "level=warning" in chatty[0]
    assert "logger=tspush.agent" in chatty[0]
    assert TOKEN not in text  # masked like every other line

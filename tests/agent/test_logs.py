"""One logger: every line of `tspush run` through stdlib logging, one format, tokens masked,
control characters escaped (issue 14, item 4)."""

from __future__ import annotations

import io
import json
import logging
import time
from pathlib import Path

import pytest

from tspush.core.point import Point
from tspush.host.agent import Agent, Logger
from tspush.host.agent_config import load
from tspush.host.sources import Source

TOKEN = "upstream-token-4f9a2c"
FORGED = "x\n2026-01-01T00:00:00Z level=error msg=forged\x1b[2J\x9b31m\u2028"


class Leaky(Source):
    """A source that logs what it should not: the token, control characters, a traceback."""

    kind = "leaky"

    def sample(self, now_s: int) -> list[Point]:
        log = logging.getLogger("tspush.sources.leaky")
        log.warning("leaky: the server said %s about %s", FORGED, TOKEN)
        # a library's line (the transport's) takes the same handler
        logging.getLogger("urllib3.connectionpool").warning("pool: retrying %s", TOKEN)
        try:
            raise ValueError("token was " + TOKEN)
        except ValueError:
            log.exception("leaky: failed")
        return [Point("leaky.v", 1, now_s)]


def _run_agent(tmp_path: Path, fmt: str) -> str:
    cfg_path = tmp_path / "agent.toml"
    cfg_path.write_text(
        f"""
[agent]
interval_s = 0.2
self_metrics_interval_s = 0
summary_interval_s = 0
log_format = "{fmt}"
[spool]
dir = "{tmp_path / "spool"}"
[[outputs]]
url = "http://127.0.0.1:9"
token = "{TOKEN}"
"""
    )
    cfg = load(cfg_path)
    stream = io.StringIO()
    agent = Agent(
        cfg,
        log=Logger(stream, fmt=cfg.log_format, secrets=cfg.secrets()),
        sources=[Leaky("leaky", interval_s=0.2)],
    )
    agent.start()
    try:
        deadline = time.monotonic() + 60
        while stream.getvalue().count("leaky: failed") < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        agent.stop(flush_s=0)
    return stream.getvalue()


@pytest.mark.parametrize("fmt", ["logfmt", "json"])
def test_a_source_that_logs_a_token_and_control_characters(tmp_path: Path, fmt: str) -> None:
    text = _run_agent(tmp_path, fmt)
    assert "leaky: failed" in text
    assert TOKEN not in text  # message, arguments and traceback alike
    for raw in ("\x1b", "\x9b", "\u2028"):
        assert raw not in text, repr(raw)
    lines = text.splitlines()
    assert not [ln for ln in lines if ln.startswith("2026-01-01T00:00:00Z")]  # nothing forged
    lib = [ln for ln in lines if "pool: retrying" in ln]
    assert lib and "urllib3.connectionpool" in lib[0] and "***" in lib[0]
    said = [ln for ln in lines if "leaky: the server said" in ln]
    assert said and "***" in said[0]
    if fmt == "json":
        docs = [json.loads(ln) for ln in lines]  # every line is one JSON document
        doc = next(d for d in docs if "the server said" in d["msg"])
        assert doc["level"] == "warning" and doc["logger"] == "tspush.sources.leaky"
        assert "\\x1b[2J" in doc["msg"] and "\\x0a" in doc["msg"]
        failed = next(d for d in docs if d["msg"] == "leaky: failed")
        assert "ValueError: token was ***" in failed["error"]
    else:
        assert all(ln.startswith("ts=") for ln in lines)
        assert "level=warning" in said[0] and "logger=tspush.sources.leaky" in said[0]
        assert "\\x1b[2J" in said[0]  # visible, never sent to the terminal

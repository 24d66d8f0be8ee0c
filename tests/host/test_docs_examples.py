"""The examples in the docs work when pasted: each is run here and its points read back."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

from support.receiver import ReceiverProcess

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _stdin_example() -> str:
    text = (DOCS / "cli.md").read_text()
    section = text.split("### stdin", 1)[1]
    m = re.search(r"```\n(.*?)```", section, re.S)
    assert m, "docs/cli.md: the stdin example block is gone"
    return m.group(1)


def _query(rx: ReceiverProcess, metric: str) -> list[dict]:
    url = rx.url + "/api/query?start=2000/01/01-00:00:00&m=sum:" + metric
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.loads(r.read())  # type: ignore[no-any-return]


def test_the_stdin_example_of_cli_md_lands_as_written(tspush, tmp_path: Path) -> None:
    """The notes after each line used to be read as tags: the pasted example failed."""
    example = _stdin_example()
    with ReceiverProcess(tmp_path, "--no-auth") as rx:
        r = tspush("push", "-", "--url", rx.url, "--timestamp", "1700000005", input=example)
        assert r.returncode == 0, r.stderr
        got = {m: _query(rx, m) for m in ("sys.cpu.user", "sensor.hum", "sensor.pres", "a", "b")}
    assert got["sys.cpu.user"][0]["dps"] == {"1700000000": 42.5}
    assert got["sys.cpu.user"][0]["tags"] == {"host": "web01", "cpu": "0"}
    assert got["sensor.hum"][0]["dps"] == {"1700000005": 55}
    assert got["sensor.hum"][0]["tags"] == {"room": "attic"}
    assert got["sensor.pres"][0]["dps"] == {"1700000002": 1013}
    assert got["a"][0]["dps"] == {"1700000005": 1}
    assert got["b"][0]["dps"] == {"1700000005": 2.5}

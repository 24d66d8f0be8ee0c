"""``tspush push --profile NAME`` against real engines, read back.

VictoriaMetrics speaks OpenTSDB JSON (``victoriametrics``) and Influx line
protocol on ``/write`` (``victoriametrics-influx``, and ``influx`` with a v1
or v2 URL); ``tspush serve --strict`` plays OpenTSDB for ``opentsdb``. The
Warp 10 profile is checked on the wire (no Warp 10 here).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from support.receiver import ReceiverProcess
from support.tls import RecordingServer
from support.vm import VictoriaMetrics
from tspush.host import profiles

STDIN = (
    "put cli.temp 1700000000 21.375 room=s\u00e9jour host=pi\n"
    "put cli.count 1700000001 -42 host=pi\n"
    "put cli.big 1700000002 9007199254740992 host=pi\n"
    "put cli.small 1700000003123 -2.5e-08 host=pi\n"
)
WANT = [
    ("cli.big", {"host": "pi"}, 1700000002000, 9007199254740992),
    ("cli.count", {"host": "pi"}, 1700000001000, -42),
    ("cli.small", {"host": "pi"}, 1700000003123, -2.5e-08),
    ("cli.temp", {"host": "pi", "room": "s\u00e9jour"}, 1700000000000, 21.375),
]


def push(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TSPUSH_")}
    r = subprocess.run(
        [sys.executable, "-m", "tspush.cli.main", "push", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=str(Path(__file__).parent),
    )
    return r


@pytest.mark.parametrize(
    ("profile", "where", "suffix", "extra"),
    [
        ("victoriametrics", "opentsdb", "", {}),
        ("victoriametrics-influx", "main", "_value", {}),
        ("influx", "main:/write?db=home", "_value", {"db": "home"}),
        ("influx", "main:/write?db=home&precision=ms", "_value", {"db": "home"}),
        ("influx", "main:/api/v2/write?org=o&bucket=b", "_value", {}),
    ],
)
def test_profile_lands_in_victoriametrics(
    victoria: VictoriaMetrics, profile: str, where: str, suffix: str, extra: dict[str, str]
) -> None:
    base = victoria.opentsdb_url if where == "opentsdb" else victoria.url
    url = base + (where.split(":", 1)[1] if ":" in where else "")
    r = push("-", "--profile", profile, "--url", url, stdin=STDIN)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "4 accepted" in r.stdout
    rows = victoria.wait_for('{__name__=~"cli.*"}', 4)
    want = [(m + suffix, {**t, **extra}, ts, v) for m, t, ts, v in WANT]
    assert rows == want


def test_influx_single_point_without_timestamp_is_stamped_on_arrival(
    victoria: VictoriaMetrics,
) -> None:
    before_ms = int(time.time() * 1000)
    r = push("universe", "42", "--profile", "influx", "--url", victoria.url + "/write?db=d")
    assert r.returncode == 0, r.stdout + r.stderr
    ((name, tags, ts_ms, value),) = victoria.wait_for("universe_value", 1)
    assert (name, tags, value) == ("universe_value", {"db": "d"}, 42)
    assert before_ms - 1000 <= ts_ms <= time.time() * 1000 + 1000


def _query(rx: ReceiverProcess, metric: str) -> list[dict[str, Any]]:
    q = urllib.parse.urlencode({"start": "0", "m": "none:" + metric})
    req = urllib.request.Request(f"{rx.url}/api/query?{q}", headers=rx.read_headers())
    with urllib.request.urlopen(req, timeout=60) as resp:
        return list(json.loads(resp.read()))


def test_opentsdb_profile_sends_the_originals_point_to_strict_opentsdb(tmp_path: Path) -> None:
    with ReceiverProcess(tmp_path, "--strict") as rx:
        before_s = int(time.time())
        args = ["--profile", "opentsdb", "--url", rx.url, "--auth", "basic"]
        r = push("universe", "42", *args, "--token", str(rx.write_token))
        assert r.returncode == 0, r.stdout + r.stderr
        rows = _query(rx, "universe")
        # stdin: lines without timestamps are stamped too, and tags are filled in
        lines = "strict.x 1 host=a\nstrict.x 2\n"
        r2 = push("-", *args, "--token", str(rx.write_token), stdin=lines)
        assert r2.returncode == 0, r2.stdout + r2.stderr
        r3 = push("-", *args, "-t", "site=b", "--token", str(rx.write_token), stdin="strict.y 3\n")
        assert r3.returncode == 0, r3.stdout + r3.stderr
        rows2 = _query(rx, "strict.x")
        rows3 = _query(rx, "strict.y")
    (row,) = rows
    assert row["tags"] == {"host": profiles.hostname()}
    ((ts, value),) = row["dps"].items()
    assert before_s <= int(ts) <= time.time() + 1
    assert value == 42
    assert sorted(list(r["dps"].values()) for r in rows2) == [[1], [2]]
    assert sorted(r["tags"]["host"] for r in rows2) == sorted(["a", profiles.hostname()])
    assert [r["tags"] for r in rows3] == [{"site": "b"}]  # a given tag: no host added


def test_warp10_profile_on_the_wire() -> None:
    with RecordingServer(tls=False) as srv:
        r = push("-", "--profile", "warp10", "--url", srv.url, "--token", "w-tok", stdin=STDIN)
        assert r.returncode == 0, r.stdout + r.stderr
    (req,) = srv.requests
    assert req.line == "POST /api/v0/update HTTP/1.1"
    assert req.header("X-Warp10-Token") == "w-tok"
    assert req.body.decode().splitlines() == [
        "1700000000000000// cli.temp{host=pi,room=s%C3%A9jour} 21.375",
        "1700000001000000// cli.count{host=pi} -42",
        "1700000002000000// cli.big{host=pi} 9007199254740992",
        "1700000003123000// cli.small{host=pi} -2.5e-08",
    ]
    assert "w-tok" not in r.stdout + r.stderr


@pytest.mark.parametrize("profile", ["victoriametrics-influx", "promwrite"])
def test_any_utf8_tag_value_lands_through_influx_and_remote_write(
    victoria: VictoriaMetrics, profile: str
) -> None:
    """Only OpenTSDB has OpenTSDB's character rules: a space or '=' is fine elsewhere."""
    path = "/api/v1/write" if profile == "promwrite" else ""
    r = push(
        "cli.open", "7", "--timestamp", "1700000000", "-t", "room=living room, east=1",
        "-t", "who=Zoë & co", "--profile", profile, "--url", victoria.url + path,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    suffix = "_value" if profile != "promwrite" else ""
    rows = victoria.wait_for('{__name__=~"cli.open.*"}', 1)
    assert rows == [
        ("cli.open" + suffix, {"room": "living room, east=1", "who": "Zoë & co"}, 1700000000000, 7)
    ]


def test_opentsdb_profiles_still_refuse_what_opentsdb_refuses() -> None:
    r = push("cli.open", "7", "-t", "room=living room", "--profile", "victoriametrics",
             "--url", "http://127.0.0.1:9/api/put")  # fmt: skip
    assert r.returncode == 2
    assert "tag value 'living room' has the character ' '" in r.stderr


def test_a_control_character_is_refused_everywhere() -> None:
    r = push("cli.open", "7", "-t", "room=a\tb", "--profile", "promwrite",
             "--url", "http://127.0.0.1:9/api/v1/write")  # fmt: skip
    assert r.returncode == 2
    assert "control character" in r.stderr

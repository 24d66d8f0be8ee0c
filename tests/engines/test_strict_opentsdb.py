"""Real OpenTSDB's rules, played by ``tspush serve --strict``.

The ``opentsdb`` profile fills in what OpenTSDB needs (a ``host`` tag, a
timestamp), keeps bodies under 8 KiB and asks for ``?details``: every point
lands, none is refused. The original board's body (no timestamp, no tags) is
refused with OpenTSDB's messages, and ``?details`` drops only the bad points.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from support.receiver import ReceiverProcess
from tspush.core.point import Point
from tspush.host import profiles
from tspush.host.push import push_points
from tspush.host.transport import Transport

ORIGINAL_BODY = b'[{"metric":"universe","value":42,"tags":{}}]'


def _query(rx: ReceiverProcess, metric: str) -> list[dict[str, Any]]:
    q = urllib.parse.urlencode({"start": "0", "m": "none:" + metric})
    req = urllib.request.Request(f"{rx.url}/api/query?{q}", headers=rx.read_headers())
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return list(json.loads(r.read()))
    except urllib.error.HTTPError as e:
        # OpenTSDB answers 400 "No such name" for a metric it never stored
        text = e.read().decode()
        if e.code == 400 and "No such name" in text:
            return []
        raise AssertionError(f"query {metric}: HTTP {e.code}: {text}") from None


def _push(rx: ReceiverProcess, name: str, points: list[Point]) -> Any:
    prof = profiles.get(name)
    t = Transport(rx.url, token=rx.write_token, auth_scheme="basic")
    try:
        return push_points(t, prof, points)
    finally:
        t.close()


def test_opentsdb_profile_makes_the_originals_point_acceptable(tmp_path: Path) -> None:
    prof = profiles.get("opentsdb")
    now_s = int(time.time())
    ready, refused = profiles.prepare(prof, [Point("universe", 42)], now_s=now_s)
    assert refused == []
    with ReceiverProcess(tmp_path, "--strict") as rx:
        rep = _push(rx, "opentsdb", ready)
        assert (rep.accepted, rep.rejected, rep.errors) == (1, 0, [])
        rows = _query(rx, "universe")
    assert rows == [
        {
            "metric": "universe",
            "tags": {"host": profiles.hostname()},
            "aggregateTags": [],
            "dps": {str(now_s): 42},
        }
    ]


def test_opentsdb_profile_many_points_all_accepted(tmp_path: Path) -> None:
    prof = profiles.get("opentsdb")
    pts = [
        Point("strict.load", i * 0.5 - 20, 1700000000 + i, {"host": "h%d" % (i % 3), "k": "v"})
        for i in range(400)
    ]
    ready, refused = profiles.prepare(prof, pts)
    assert refused == [] and len(ready) == 400
    with ReceiverProcess(tmp_path, "--strict") as rx:
        rep = _push(rx, "opentsdb", ready)
        assert (rep.accepted, rep.rejected, rep.errors) == (400, 0, [])
        assert rep.requests == 8  # 50 points per body, each under 8 KiB
        rows = _query(rx, "strict.load")
    got = {(r["tags"]["host"], int(ts)): v for r in rows for ts, v in r["dps"].items()}
    assert got == {("h%d" % (i % 3), 1700000000 + i): i * 0.5 - 20 for i in range(400)}


def test_originals_body_refused_with_opentsdb_messages(tmp_path: Path) -> None:
    with ReceiverProcess(tmp_path, "--strict") as rx:
        for path in ("/api/put", "/api/put?details"):
            req = urllib.request.Request(
                rx.url + path, data=ORIGINAL_BODY, method="POST", headers=rx.write_headers()
            )
            req.add_header("Content-Type", "application/json")
            try:
                urllib.request.urlopen(req, timeout=60)
                raise AssertionError("strict receiver accepted the original body")
            except urllib.error.HTTPError as e:
                assert e.code == 400
                doc = json.loads(e.read())
            if path == "/api/put":
                assert doc["error"]["message"] == "One or more data points had errors"
                assert "timestamp" in doc["error"]["details"]
            else:
                assert (doc["success"], doc["failed"]) == (0, 1)
                assert doc["errors"][0]["datapoint"] == json.loads(ORIGINAL_BODY)[0]
                assert "timestamp" in doc["errors"][0]["error"]
        # the lenient ovh profile sends it as the board did: refused, and counted so
        rep = _push(rx, "ovh", [Point("universe", 42)])
        assert (rep.accepted, rep.rejected) == (0, 1)
        assert "no timestamp" in str(rep.errors[0])
        assert _query(rx, "universe") == []


def test_details_drops_only_the_bad_points(tmp_path: Path) -> None:
    good = [Point("mix.ok", i, 1700000000 + i, {"host": "a"}) for i in range(5)]
    nine_tags = Point("mix.bad", 1, 1700000000, {"t%d" % i: "v" for i in range(9)})
    no_tags = Point("mix.bad", 2, 1700000001)
    # the opentsdb profile refuses them before sending, saying why
    _, refused = profiles.prepare(profiles.get("opentsdb"), [nine_tags])
    assert [e.rule for e in refused] == ["tags-too-many"]
    with ReceiverProcess(tmp_path, "--strict") as rx:
        # sent anyway in one body (tspush profile: lenient, with ?details)
        rep = _push(rx, "tspush", [good[0], nine_tags, *good[1:3], no_tags, *good[3:]])
        assert (rep.accepted, rep.rejected, rep.requests) == (5, 2, 1)
        assert len(rep.errors) == 1 and "2 point(s) refused" in str(rep.errors[0])
        rows = _query(rx, "mix.ok")
        assert _query(rx, "mix.bad") == []
    assert sorted(int(ts) for r in rows for ts in r["dps"]) == [1700000000 + i for i in range(5)]

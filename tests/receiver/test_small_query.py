"""Small queries answered on the event loop: which ones, same answers, same budget."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import urllib3

from support.receiver import ReceiverProcess
from tspush.receiver import query as q
from tspush.receiver.errors import ApiError
from tspush.receiver.readpool import ReadPool
from tspush.receiver.store import Store

T = 1_699_999_200  # seconds, on an hour boundary
HOUR_MS = 3_600_000


def _one(tags: dict[str, str], **extra: Any) -> dict[str, Any]:
    sub = {"metric": "m", "aggregator": "avg", "downsample": "1h-avg", "tags": tags, **extra}
    return {"start": T, "end": T + 6 * 3600, "queries": [sub]}


@pytest.fixture
def store(tmp_path: Path) -> Any:
    s = Store(tmp_path / "s.sqlite")
    for h in range(8):
        s.insert([("m", {"host": "h%d" % h}, T * 1000 + j * 60_000, j + h) for j in range(360)])
    yield s
    s.close()


def test_which_queries_count_as_small(store: Store) -> None:
    def small(doc: dict[str, Any]) -> bool:
        return q.no_pattern(doc) and q.small(store, q.Query(doc, (T + 7 * 3600) * 1000))

    assert small(_one({"host": "h1"}))
    assert small(_one({"host": "h1|h2|h3"}))  # literal_or, 3 series
    assert not small(_one({"host": "*"}))  # a wildcard: every series
    assert not small(_one({"host": "h1|h2|h3|h4|h5"}))  # more series than SMALL_MAX_MATCHED
    assert not small(_one({"host": "regexp(^h1$)"}))  # a pattern: parsed in a worker
    assert not q.no_pattern(
        {"queries": [{"metric": "m", "filters": [{"type": "regexp", "tagk": "host"}]}]}
    )
    raw = _one({"host": "h1"})
    del raw["queries"][0]["downsample"]
    assert not small(raw)  # raw points: their number is not known beforehand
    long = _one({"host": "h1"})
    long["start"] = T - (q.SMALL_MAX_BUCKETS + 10) * 3600
    assert not small(long)  # more rollup buckets than SMALL_MAX_BUCKETS


def test_dense_open_windows_are_not_small(tmp_path: Path) -> None:
    s = Store(tmp_path / "d.sqlite", clock=lambda: T + 60.0)
    s.insert([("m", {"host": "h1"}, T * 1000 + j, 1.0) for j in range(q.SMALL_MAX_OPEN_POINTS + 1)])
    sid = s.series_for("m")[0].id
    assert s.open_points(sid) == q.SMALL_MAX_OPEN_POINTS + 1
    assert not q.small(s, q.Query(_one({"host": "h1"}), (T + 60) * 1000))
    s.close()


def test_the_budget_holds_on_the_loop_too(store: Store) -> None:
    pool = ReadPool(store, budget_s=0.001)

    def slow(st: Any) -> int:
        time.sleep(0.01)
        return int(st.series_count())

    with pytest.raises(ApiError) as e:
        pool.run_here(slow)
    assert e.value.status == 413
    assert pool.running == 0


def test_small_and_worker_answers_are_the_same(tmp_path: Path) -> None:
    """The same question asked with a literal filter (small: on the loop) and with the
    equivalent regexp (in a worker) gets the same, correct, hourly averages."""
    with ReceiverProcess(tmp_path) as rx:
        pts = [
            {"metric": "m", "timestamp": T + j * 60, "value": j, "tags": {"host": "a"}}
            for j in range(180)
        ]
        r = urllib3.request(
            "POST", rx.url + "/api/put", body=json.dumps(pts).encode(), headers=rx.write_headers()
        )
        assert r.status == 204, r.data

        def ask(tag: str) -> Any:
            r = urllib3.request(
                "POST",
                rx.url + "/api/query",
                body=json.dumps(_one({"host": tag})).encode(),
                headers=rx.read_headers(),
            )
            assert r.status == 200, r.data
            return json.loads(r.data)

        small, worker = ask("a"), ask("regexp(^a$)")
        assert small[0]["dps"] == {str(T): 29.5, str(T + 3600): 89.5, str(T + 7200): 149.5}
        assert worker[0]["dps"] == small[0]["dps"]
        # GET, the same small query
        r = urllib3.request(
            "GET",
            rx.url + "/api/query?start=%d&end=%d&m=avg:1h-avg:m{host=a}" % (T, T + 6 * 3600),
            headers=rx.read_headers(),
        )
        assert r.status == 200 and json.loads(r.data)[0]["dps"] == small[0]["dps"]
        # a bad query is still a 400 naming the field
        bad = _one({"host": "a"})
        bad["end"] = T - 3600
        r = urllib3.request(
            "POST", rx.url + "/api/query", body=json.dumps(bad).encode(), headers=rx.read_headers()
        )
        assert r.status == 400 and b"End time" in r.data

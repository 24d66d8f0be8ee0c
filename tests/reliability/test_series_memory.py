"""Issue 13 items 6-8: what one client can make the receiver hold in memory is bounded.

- series with maximum-size Unicode tags are counted by their bytes (--max-series-bytes),
  not only by their number, and the bound holds after a restart;
- one query is bounded over all its series, not per series (test_store_blocks.py,
  test_one_request_is_bounded_in_points);
- /api/query/last takes a bounded number of sub-queries.
"""

from __future__ import annotations

import json
from pathlib import Path

import urllib3

from support.receiver import ReceiverProcess

T = 1_700_000_000
WIDE = "\u8a9e" * 80  # a CJK letter: 3 bytes in UTF-8, 240 bytes a tag value


def put(rx: ReceiverProcess, pts: list[dict[str, object]]) -> tuple[int, dict[str, object]]:
    r = urllib3.request(
        "POST",
        rx.url + "/api/put?details",
        body=json.dumps(pts).encode(),
        headers=rx.write_headers(),
    )
    return r.status, json.loads(r.data) if r.data else {}


def wide_series(i: int) -> dict[str, object]:
    tags = {"k%02d" % k: WIDE for k in range(8)}
    tags["n"] = str(i)
    return {"metric": "wide.v", "timestamp": T, "value": i, "tags": tags}


def test_series_are_bounded_by_bytes_across_restarts(tmp_path: Path) -> None:
    # one wide series weighs about 8 x 240 bytes of tag values: 4 fit in 8 KiB, not 5
    args = ("--max-series-bytes", "8192")
    with ReceiverProcess(tmp_path, *args) as rx:
        status, doc = put(rx, [wide_series(i) for i in range(6)])
        assert status == 400
        assert (doc["success"], doc["failed"]) == (4, 2)
        errors = doc["errors"]
        assert isinstance(errors, list) and "--max-series-bytes" in errors[0]["error"]
        r = urllib3.request(
            "GET", rx.url + f"/api/query?start={T}&m=none:wide.v", headers=rx.read_headers()
        )
        assert sorted(x["tags"]["n"] for x in json.loads(r.data)) == ["0", "1", "2", "3"]
    with ReceiverProcess(tmp_path, *args) as rx:  # the weight is counted again at start-up
        status, doc = put(rx, [wide_series(9), dict(wide_series(0), timestamp=T + 1)])
        assert (status, doc["success"], doc["failed"]) == (400, 1, 1)


def test_query_last_refuses_too_many_sub_queries(tmp_path: Path) -> None:
    with ReceiverProcess(tmp_path) as rx:
        assert (
            put(rx, [{"metric": "l.v", "timestamp": T, "value": 1, "tags": {"a": "b"}}])[0] == 200
        )
        many = {"queries": [{"metric": "l.v"}] * 10_000}
        r = urllib3.request(
            "POST",
            rx.url + "/api/query/last",
            body=json.dumps(many).encode(),
            headers=rx.read_headers(),
        )
        assert r.status == 400 and b"Too many sub queries" in r.data
        few = {"queries": [{"metric": "l.v"}]}
        r = urllib3.request(
            "POST",
            rx.url + "/api/query/last",
            body=json.dumps(few).encode(),
            headers=rx.read_headers(),
        )
        assert r.status == 200 and json.loads(r.data)[0]["value"] == "1"


def test_max_series_holds_exactly_under_concurrent_writers(tmp_path: Path) -> None:
    """Writes share commits (group commit); a request making a series commits at once, so
    the next request's count includes it: 8 writers, 40 new series offered, 10 let in."""
    from concurrent.futures import ThreadPoolExecutor

    with ReceiverProcess(tmp_path, "--max-series", "10") as rx:

        def offer(i: int) -> int:
            pts = [{"metric": "c.v", "timestamp": T, "value": i, "tags": {"n": str(i)}}]
            return put(rx, pts)[0]

        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(offer, range(40)))
        assert statuses.count(200) == 10 and statuses.count(400) == 30
        r = urllib3.request(
            "GET", rx.url + f"/api/query?start={T}&m=none:c.v", headers=rx.read_headers()
        )
        assert len(json.loads(r.data)) == 10

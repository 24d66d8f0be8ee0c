"""A read-token holder cannot freeze the receiver with a pattern (issue 13, item 2).

Patterns that take exponential time on a backtracking engine (``((\\w+))+#``,
a wildcard with many ``*``) are sent while a writer keeps writing: the
queries are answered (RE2, linear time; wildcards by substring search) and
every write is stored and read back promptly.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import urllib3

from support.receiver import ReceiverProcess

from .figures import record

T = 1_700_000_000
VALUE = "a" * 40  # ((\w+))+# on Python's re: about 2**40 steps; RE2: one pass
HOSTILE = [
    {"type": "regexp", "tagk": "k", "filter": r"((\w+))+#"},
    {"type": "regexp", "tagk": "k", "filter": r"(a|aa)+$#"},
    {"type": "wildcard", "tagk": "k", "filter": "*a" * 15 + "*b"},
    {"type": "iwildcard", "tagk": "k", "filter": "*A" * 15 + "*B"},
]


@pytest.fixture(scope="module")
def rx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReceiverProcess]:
    r = ReceiverProcess(tmp_path_factory.mktemp("redos"))
    _put(r, [{"metric": "redos", "timestamp": T, "value": 1, "tags": {"k": VALUE}}])
    yield r
    r.stop()
    assert "Traceback" not in r.text, r.text[-3000:]


def _put(rx: ReceiverProcess, points: list[dict[str, object]]) -> float:
    t0 = time.monotonic()
    r = urllib3.request(
        "POST",
        rx.url + "/api/put",
        body=json.dumps(points).encode(),
        headers={**rx.write_headers(), "Content-Type": "application/json"},
        timeout=60,
    )
    assert r.status == 204, r.data[:300]
    return time.monotonic() - t0


def _query(
    rx: ReceiverProcess, metric: str, filters: list[dict[str, str]]
) -> urllib3.BaseHTTPResponse:
    doc = {
        "start": T - 10,
        "queries": [{"metric": metric, "aggregator": "sum", "filters": filters}],
    }
    return urllib3.request(
        "POST",
        rx.url + "/api/query",
        body=json.dumps(doc).encode(),
        headers={**rx.read_headers(), "Content-Type": "application/json"},
        timeout=120,
    )


def test_hostile_patterns_do_not_hold_up_writes(rx: ReceiverProcess) -> None:
    answers: list[tuple[int, float, bytes]] = []

    def attacker() -> None:
        for _ in range(5):
            for f in HOSTILE:
                t0 = time.monotonic()
                r = _query(rx, "redos", [f])
                answers.append((r.status, time.monotonic() - t0, r.data))

    th = threading.Thread(target=attacker)
    th.start()
    waits = []
    i = 0
    while th.is_alive() or i < 20:
        i += 1
        waits.append(_put(rx, [{"metric": "w", "timestamp": T + i, "value": i}]))
        if i > 2000:
            break
    th.join(120)
    assert not th.is_alive()
    # The patterns ran to the end (no match: the value has no '#', no 'b').
    assert [(s, d) for s, _, d in answers] == [(200, b"[]")] * (5 * len(HOSTILE))
    # Every write is stored: read back.
    r = _query(rx, "w", [])
    dps = json.loads(r.data)[0]["dps"]
    assert len(dps) == i and dps[str(T + i)] == i
    worst_write_s = max(waits)
    record(
        "receiver ReDoS",
        hostile_queries=len(answers),
        tag_value_chars=len(VALUE),
        worst_query_s=round(max(t for _, t, _ in answers), 3),
        writes=i,
        worst_write_s=round(worst_write_s, 3),
    )
    # Before RE2, one such query held every write for the whole query (9.7 s at 26
    # characters; 2**14 times that at 40): a bound far above normal, far below that.
    assert worst_write_s < 10.0


@pytest.mark.parametrize(
    "filt, words",
    [
        ({"type": "regexp", "tagk": "k", "filter": r"(a)\1"}, "invalid escape"),
        ({"type": "regexp", "tagk": "k", "filter": r"(?=a)"}, "invalid perl operator"),
        ({"type": "regexp", "tagk": "k", "filter": "a{1001}"}, "repetition"),
        ({"type": "wildcard", "tagk": "k", "filter": "*a" * 17}, "at most 16"),
    ],
)
def test_patterns_RE2_cannot_run_get_400(
    rx: ReceiverProcess, filt: dict[str, str], words: str
) -> None:
    r = _query(rx, "redos", [filt])
    assert r.status == 400
    err = json.loads(r.data)["error"]
    assert err["code"] == 400 and words in err["message"] + err.get("details", "")


def test_wildcards_still_match_what_they_should(rx: ReceiverProcess) -> None:
    _put(
        rx,
        [
            {"metric": "wc", "timestamp": T, "value": 1, "tags": {"host": "web01.example.com"}},
            {"metric": "wc", "timestamp": T, "value": 2, "tags": {"host": "db01.example.com"}},
            {"metric": "wc", "timestamp": T, "value": 4, "tags": {"host": "WEB02.lan"}},
        ],
    )
    cases = {
        ("wildcard", "web*"): 1,
        ("wildcard", "*.example.com"): 3,
        ("wildcard", "*01*"): 3,
        ("iwildcard", "web*"): 5,
        ("wildcard", "*"): 7,
        ("wildcard", "web01.example.com"): 1,
        ("regexp", "^(web|db)0[0-9]"): 3,
    }
    for (ftype, expr), total in cases.items():
        r = _query(rx, "wc", [{"type": ftype, "tagk": "host", "filter": expr}])
        assert r.status == 200, r.data
        assert list(json.loads(r.data)[0]["dps"].values()) == [total], (ftype, expr)


def test_the_query_budget_answers_413(tmp_path: Path) -> None:
    """A query that needs longer than --query-timeout is stopped and answered 413."""
    with ReceiverProcess(tmp_path, "--query-timeout", "0.1") as rx:
        points = [
            {"metric": "many", "timestamp": T + j, "value": j, "tags": {"s": str(s)}}
            for s in range(200)
            for j in range(50)
        ]
        for i in range(0, len(points), 5000):
            _put(rx, points[i : i + 5000])
        deadline = time.monotonic() + 120
        status = 0
        while time.monotonic() < deadline:  # on a fast machine a few rounds may fit in 0.1 s
            doc = {
                "start": T - 10,
                "queries": [{"metric": "many", "aggregator": "none"}] * 100,
            }
            r = urllib3.request(
                "POST",
                rx.url + "/api/query",
                body=json.dumps(doc).encode(),
                headers=rx.read_headers(),
                timeout=60,
            )
            status = r.status
            if status == 413:
                break
        assert status == 413
        assert "--query-timeout" in json.loads(r.data)["error"]["details"]
        _put(rx, [{"metric": "after", "timestamp": T, "value": 1}])

"""The dashboard against a slow server, in headless Chromium (issue 15, item 2).

A small HTTP proxy on loopback sits between Chromium and a real ``tspush
serve``: it holds every ``/api/query`` answer for DELAY_S seconds and records,
on the server side, when each query started and ended and for which chart
(the metrics it asks for). The page must never have two queries in flight for
a chart, even when its 5 s refresh fires while an answer is still coming, and
must wait at least four times as long as the last answer took before the next.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import urllib3
from test_acceptance_dashboard import Page

from support.receiver import READ_TOKEN, ReceiverProcess

DELAY_S = 6.0  # longer than the page's 5 s refresh: its timer fires with an answer pending
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class SlowProxy:
    """Forwards every request to ``upstream``; ``/api/query`` answers come DELAY_S late."""

    def __init__(self, upstream: str, delay_s: float = DELAY_S) -> None:
        self.upstream = upstream
        self.delay_s = delay_s
        self.http = urllib3.PoolManager(maxsize=8, retries=False)
        self.lock = threading.Lock()
        self.in_flight: dict[str, int] = {}
        self.most_in_flight: dict[str, int] = {}
        self.most_in_flight_all = 0
        self.queries: list[dict[str, Any]] = []  # chart, start_s, end_s (None while pending)
        self.others: list[tuple[str, float]] = []  # (path, arrival) of every other request
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                proxy.forward(self, b"")

            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                proxy.forward(self, self.rfile.read(n))

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def forward(self, h: BaseHTTPRequestHandler, body: bytes) -> None:
        headers = {k: v for k, v in h.headers.items() if k.lower() not in HOP_BY_HOP}
        headers.pop("Accept-Encoding", None)
        record: dict[str, Any] | None = None
        if h.path.split("?")[0] == "/api/query":
            doc = json.loads(body) if body else {}
            chart = ",".join(sorted(q["metric"] for q in doc.get("queries", [])))
            record = {
                "chart": chart,
                "range": doc.get("start"),
                "start_s": time.monotonic(),
                "end_s": None,
            }
            with self.lock:
                self.queries.append(record)
                n = self.in_flight[chart] = self.in_flight.get(chart, 0) + 1
                self.most_in_flight[chart] = max(self.most_in_flight.get(chart, 0), n)
                total = sum(self.in_flight.values())
                self.most_in_flight_all = max(self.most_in_flight_all, total)
            time.sleep(self.delay_s)  # a slow server: the answer is computed late
        else:
            with self.lock:
                self.others.append((h.path.split("?")[0], time.monotonic()))
        try:
            r = self.http.request(
                h.command, self.upstream + h.path, body=body or None, headers=headers,
                redirect=False,
            )  # fmt: skip
            h.send_response(r.status)
            for k, v in r.headers.items():
                if k.lower() not in HOP_BY_HOP:
                    h.send_header(k, v)
            h.send_header("Content-Length", str(len(r.data)))
            h.end_headers()
            h.wfile.write(r.data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the browser went away (the test closed it)
        finally:
            if record is not None:
                with self.lock:
                    record["end_s"] = time.monotonic()
                    self.in_flight[record["chart"]] -= 1

    def done(self) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(q) for q in self.queries if q["end_s"] is not None]

    def wait_done(self, n: int, timeout_s: float) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        while len(self.done()) < n:
            if time.monotonic() > deadline:
                raise AssertionError("only %d of %d queries answered" % (len(self.done()), n))
            time.sleep(0.1)
        return self.done()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def slow(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[ReceiverProcess, SlowProxy]]:
    with ReceiverProcess(tmp_path / "rx") as rx:
        now = int(time.time())
        pts = [
            {"metric": m, "value": 20 + i % 5, "timestamp": now - 600 + 10 * i,
             "tags": {"host": "board1"}}
            for i in range(60)
            for m in ("slow.temp", "slow.rh")
        ]  # fmt: skip
        r = urllib3.request(
            "POST", rx.url + "/api/put", body=json.dumps(pts).encode(), headers=rx.write_headers()
        )
        assert r.status == 204
        proxy = SlowProxy(rx.url, getattr(request, "param", DELAY_S))
        try:
            yield rx, proxy
        finally:
            proxy.close()


def test_one_query_in_flight_per_chart_and_slower_refresh_when_answers_are_slow(
    slow: tuple[ReceiverProcess, SlowProxy], tmp_path: Path
) -> None:
    _, proxy = slow
    page = Page(proxy.url + "/?token=%s#m=slow.temp" % READ_TOKEN, tmp_path / "chromium")
    try:
        first, second = proxy.wait_done(2, 60)[:2]
        # the 5 s refresh fired while the first answer was pending (it asked for the metric
        # list then), and its query waited for that answer instead of running beside it
        asked = [t for p, t in proxy.others if p == "/api/suggest"]
        assert any(first["start_s"] < t < first["end_s"] for t in asked), (asked, first)
        assert second["start_s"] >= first["end_s"]
        # each of those took at least DELAY_S: the next refresh waits at least 4x that
        third = proxy.wait_done(3, 4 * DELAY_S + 60)[2]
        assert third["start_s"] - second["end_s"] >= 4 * DELAY_S - 0.1
        page.wait_for("document.getElementById('status').textContent.includes('slow')", 30)
        status = page.js("document.getElementById('status').textContent")
        every_s = int(status.split("refreshing every ")[1].split(" s")[0])
        assert every_s >= 4 * DELAY_S, status
        # and the data read back through the slow path is the data pushed
        legend = page.js("document.querySelector('#legend tbody').innerText")
        assert "slow.temp{host=board1}" in legend and "\t60" in legend
    finally:
        page.close()
    assert proxy.most_in_flight == {"slow.temp": 1}
    assert proxy.most_in_flight_all == 1


@pytest.mark.parametrize("slow", [3.0], indirect=True)
def test_the_overview_asks_one_small_chart_at_a_time_even_when_the_range_changes(
    slow: tuple[ReceiverProcess, SlowProxy], tmp_path: Path
) -> None:
    """The range picked while a pass over the small charts is slow to answer: the new
    pass starts after it, never a second request beside one still pending."""
    _, proxy = slow
    page = Page(proxy.url + "/?token=%s#v=overview" % READ_TOKEN, tmp_path / "chromium")
    try:
        deadline = time.monotonic() + 60
        while not proxy.queries:
            assert time.monotonic() < deadline, "the overview asked nothing"
            time.sleep(0.1)
        page.js(
            "var r = document.getElementById('range'); r.value = '1h';"
            "r.dispatchEvent(new Event('change'))"
        )
        done = proxy.wait_done(4, 120)
        assert sorted(q["chart"] for q in done[:2]) == ["slow.rh", "slow.temp"]
        assert {q["range"] for q in done[2:4]} == {"1h-ago"}  # the range picked, after
        page.wait_for("document.querySelectorAll('#overview figure[data-series=\"1\"]')"
                      ".length === 2", 30)  # fmt: skip
    finally:
        page.close()
    assert proxy.most_in_flight_all == 1, proxy.most_in_flight

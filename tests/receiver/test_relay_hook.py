"""``create_app(on_accepted=...)``: the relay hook sees exactly the stored points, after storing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3

from tspush.core.point import Point
from tspush.receiver.app import create_app
from tspush.receiver.server import Server, bind, url_of

T = 1_700_000_000


class Hook:
    def __init__(self) -> None:
        self.calls: list[list[Point]] = []
        self.fail = False

    def __call__(self, points: list[Point]) -> None:
        if self.fail:
            raise OSError("spool disk full")
        self.calls.append(points)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Hook]]:
    hook = Hook()
    app = create_app(db_path=tmp_path / "h.sqlite", no_auth=True, on_accepted=hook)
    sock = bind("127.0.0.1", 0)
    server = Server(app, sock)
    server.start_thread()
    try:
        yield url_of(sock, False), hook
    finally:
        server.stop()


def put(url: str, body: Any) -> urllib3.BaseHTTPResponse:
    return urllib3.request("POST", url + "/api/put", body=json.dumps(body).encode())


def stored(url: str, metric: str) -> Any:
    r = urllib3.request("GET", url + f"/api/query?start={T - 1}&m=sum:{metric}")
    return json.loads(r.data)[0]["dps"] if r.status == 200 else None


def test_hook_gets_the_good_points_only(served: tuple[str, Hook]) -> None:
    url, hook = served
    r = put(
        url,
        [
            {"metric": "hook.v", "timestamp": T, "value": 1, "tags": {"k": "v"}},
            {"metric": "hook.v", "timestamp": T, "value": "bad"},
            {
                "metric": "température",
                "timestamp": T + 1,
                "value": 2.5,
                "tags": {"lieu": "cuisine"},
            },
        ],
    )
    assert r.status == 400
    assert hook.calls == [
        [Point("hook.v", 1, T, {"k": "v"}), Point("température", 2.5, T + 1, {"lieu": "cuisine"})]
    ]
    assert stored(url, "température") == {str(T + 1): 2.5}


def test_hook_failure_is_503_and_local_data_is_kept(served: tuple[str, Hook]) -> None:
    url, hook = served
    hook.fail = True
    r = put(url, {"metric": "hook.fail", "timestamp": T, "value": 3})
    assert r.status == 503
    assert (
        json.loads(r.data)["error"]["message"] == "Points stored here but not queued for forwarding"
    )
    assert stored(url, "hook.fail") == {str(T): 3}
    hook.fail = False
    assert put(url, {"metric": "hook.fail", "timestamp": T + 1, "value": 4}).status == 204
    assert hook.calls == [[Point("hook.fail", 4, T + 1, {})]]

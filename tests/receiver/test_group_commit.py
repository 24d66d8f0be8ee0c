"""Requests ready together share one commit, each answered after it, each with its own
outcome when the group fails (the receiver's write path, on a real SQLite file)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tspush.core.point import LENIENT
from tspush.receiver.app import Receiver
from tspush.receiver.auth import Tokens
from tspush.receiver.ingest import Limits
from tspush.receiver.store import Store

T0_MS = 1_700_006_400_000


def receiver(store: Store) -> Receiver:
    return Receiver(store, Tokens(None, None, no_auth=True), LENIENT, Limits(), None, None)


def batch(host: str, first: int, value: Any = 1.5) -> list[Any]:
    return [("g", {"host": host}, T0_MS + i * 10_000, value) for i in range(first, first + 50)]


def test_requests_ready_together_share_one_commit_and_all_land(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(tmp_path / "g.sqlite")
    rx = receiver(store)
    groups: list[int] = []
    real = store.insert_many

    def spy(batches: list[Any]) -> list[int]:
        groups.append(len(batches))
        return real(batches)

    monkeypatch.setattr(store, "insert_many", spy)

    async def main() -> None:
        await asyncio.gather(*(rx.store_rows(batch("b%d" % k, 0)) for k in range(4)))
        await rx.store_rows(batch("b0", 50))  # alone: a group of one

    asyncio.run(main())
    assert groups == [4, 1]
    store.close()
    got = sorted((tags["host"], ts) for _, tags, ts, _ in Store(tmp_path / "g.sqlite").iter_all())
    assert len(got) == 5 * 50 and len(set(got)) == 250


def test_a_request_that_cannot_be_stored_does_not_fail_the_others(tmp_path: Path) -> None:
    store = Store(tmp_path / "f.sqlite")
    rx = receiver(store)

    async def main() -> list[Any]:
        return await asyncio.gather(
            rx.store_rows(batch("ok", 0)),
            rx.store_rows(batch("bad", 0, value=2**64)),  # past int64: no head row can hold it
            rx.store_rows(batch("ok", 50)),
            return_exceptions=True,
        )

    first, second, third = asyncio.run(main())
    assert first is None and third is None
    assert isinstance(second, TypeError)
    store.close()
    got = [tags["host"] for _, tags, _, _ in Store(tmp_path / "f.sqlite").iter_all()]
    assert got == ["ok"] * 100


def test_max_series_counts_series_made_by_requests_of_the_same_round(tmp_path: Path) -> None:
    """40 requests ready at once, each making a series, --max-series 10: exactly 10 in."""
    import orjson
    from starlette.requests import Request

    from tspush.receiver.errors import ApiError

    store = Store(tmp_path / "m.sqlite")
    rx = Receiver(
        store, Tokens(None, None, no_auth=True), LENIENT, Limits(max_series=10), None, None
    )

    async def put(i: int) -> int:
        body = orjson.dumps([{"metric": "m", "timestamp": 1_700_000_000, "value": i,
                              "tags": {"n": str(i)}}])  # fmt: skip

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        scope = {"type": "http", "method": "POST", "path": "/api/put", "query_string": b"",
                 "headers": [(b"content-length", b"%d" % len(body))]}  # fmt: skip
        try:
            return (await rx.put(Request(scope, receive))).status_code
        except ApiError as e:
            return e.status

    async def main() -> list[int]:
        return await asyncio.gather(*(put(i) for i in range(40)))

    statuses = asyncio.run(main())
    assert statuses.count(204) == 10 and statuses.count(400) == 30
    assert store.series_count() == 10
    store.close()

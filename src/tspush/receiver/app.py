"""The receiver's routes: OpenTSDB's HTTP API on a Starlette app, plus the dashboard.

Every failure is answered with OpenTSDB's error object and the right status;
nothing a client sends can stop the server (unexpected exceptions become a
500 with the same shape and a log line).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sqlite3
import sys
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from tspush import __version__
from tspush.core.errors import ConfigError
from tspush.core.point import LENIENT, STRICT, Point
from tspush.receiver import fleet
from tspush.receiver import query as q
from tspush.receiver.auth import Tokens
from tspush.receiver.errors import ApiError
from tspush.receiver.filters import FILTER_DOCS
from tspush.receiver.ingest import Checker, Limits, parse_items, read_body, rows
from tspush.receiver.readpool import ReadPool
from tspush.receiver.store import Series, Store, series_bytes, tags_key

log = logging.getLogger("tspush.receiver")

OPENTSDB_VERSION = "2.4.0"
SUGGEST_TYPES = ("metrics", "tagk", "tagv")
MAX_BACK_SCAN_H = 24 * 366 * 100  # a century
WARM_YIELD_S = 1.0  # the start-up warm-up waits at most this for running queries, each step


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def error_response(e: ApiError) -> Response:
    headers = {}
    if e.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="tspush"'
    if e.retry_after_s is not None:
        headers["Retry-After"] = str(e.retry_after_s)
    return JSON(e.body(), status_code=e.status, headers=headers)


def log_refused(request: Request, e: ApiError) -> None:
    """A board whose writes are refused (token, path, size) shows up in the log."""
    if request.method == "POST":
        client = request.client.host if request.client else "?"
        log.info(
            "POST %s from %s: refused, HTTP %d %s", request.url.path, client, e.status, e.message
        )


def _settle(fut: asyncio.Future[None], error: BaseException | None) -> None:
    if fut.done():  # the request was cancelled (client gone): its rows are stored anyway
        return
    if error is None:
        fut.set_result(None)
    else:
        fut.set_exception(error)


NO_CONTENT = Response(status_code=204)  # the answer to almost every write: built once


def _params(request: Request) -> dict[str, list[str]]:
    if not request.scope.get("query_string"):
        return {}  # the usual /api/put: building request.url costs more than the rest
    return urllib.parse.parse_qs(request.url.query, keep_blank_values=True)


def _flag(params: dict[str, list[str]], name: str) -> bool:
    v = params.get(name)
    return v is not None and (v[-1] == "" or v[-1].lower() in ("true", "1", "yes"))


class Receiver:
    """State shared by the routes: store, tokens, rules, limits, relay hook."""

    def __init__(
        self,
        store: Store,
        tokens: Tokens,
        mode: str,
        limits: Limits,
        on_accepted: Callable[[list[Point]], None] | None,
        retention_s: float | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.tokens = tokens
        self.mode = mode
        self.limits = limits
        self.on_accepted = on_accepted
        self.retention_s = retention_s
        self.rollup_retention_s: tuple[float | None, float | None] = (None, None)
        self.clock = clock
        self.checker = Checker(mode, limits)
        self.reads = ReadPool(store, budget_s=limits.query_timeout_s)
        self.stored_total = 0
        self.failed_total = 0
        self._batch: list[tuple[list[Any], asyncio.Future[None]]] = []  # see store_rows()
        self._new_series = 0  # series the last cap_series() let in

    # -- auth ------------------------------------------------------------

    def need_write(self, request: Request) -> None:
        if not self.tokens.can_write(request):
            raise _auth_error(request, "write")

    def need_read(self, request: Request) -> None:
        if not self.tokens.can_read(request):
            raise _auth_error(request, "read")

    # -- /api/put --------------------------------------------------------

    async def put(self, request: Request) -> Response:
        self.need_write(request)
        body = await read_body(request, self.limits, stock_opentsdb=self.mode == STRICT)
        items = parse_items(body, self.limits)
        now_s = int(self.clock())
        good, errors = self.checker.check_all(items, now_s)
        good = self.cap_series(good, errors)
        if good:
            try:
                # a request making a series commits at once (with those waiting): the next
                # request's --max-series count must include it
                await self.store_rows(rows(good), now=self._new_series > 0)
            except sqlite3.Error as e:  # disk full, read-only, I/O error: nothing stored
                log.error("could not store %d point(s): %s", len(good), e)
                raise ApiError(
                    503,
                    "Points not stored: the database cannot be written",
                    "%s; check the receiver's disk (free space, permissions), then send again" % e,
                    retry_after_s=10,
                ) from None
            if self.on_accepted is not None:
                try:
                    await run_in_threadpool(self.on_accepted, good)
                except Exception as e:
                    log.error(
                        "stored %d point(s) here but could not queue them for forwarding: %s",
                        len(good),
                        e,
                    )
                    raise ApiError(
                        503,
                        "Points stored here but not queued for forwarding",
                        "the relay spool failed (%s); retry later" % type(e).__name__,
                    ) from None
        self.stored_total += len(good)
        self.failed_total += len(errors)
        params = _params(request)
        details = _flag(params, "details")
        summary = details or _flag(params, "summary")
        client = request.client.host if request.client else "?"
        log.info("POST /api/put from %s: %d stored, %d failed", client, len(good), len(errors))
        if errors:
            for err in errors[:3]:
                log.info("  refused: %s", err["error"])
            if details:
                return JSON({"errors": errors, "failed": len(errors), "success": len(good)}, 400)
            if summary:
                return JSON({"failed": len(errors), "success": len(good)}, 400)
            reasons = "; ".join(e["error"] for e in errors[:3])
            more = " (and %d more)" % (len(errors) - 3) if len(errors) > 3 else ""
            raise ApiError(
                400,
                "One or more data points had errors",
                "%d of %d refused: %s%s. Append ?details to the request for every error"
                % (len(errors), len(items), reasons, more),
            )
        if details:
            return JSON({"errors": [], "failed": 0, "success": len(good)}, 200)
        if summary:
            return JSON({"failed": 0, "success": len(good)}, 200)
        return NO_CONTENT

    async def store_rows(self, rws: list[Any], now: bool = False) -> None:
        """Store one request's rows; the requests that are ready together share one commit.

        The first request of a round schedules the commit for the loop's next
        turn: requests whose bodies arrived meanwhile join it. Each is answered
        only after the commit holding its rows (the same guarantee as alone).
        """
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        self._batch.append((rws, fut))
        if now:
            self._commit_batch()  # the round already scheduled finds nothing left, or later rows
        elif len(self._batch) == 1:
            loop.call_soon(self._commit_batch)
        await fut

    def _commit_batch(self) -> None:
        batch, self._batch = self._batch, []
        if not batch:
            return
        try:
            self.store.insert_many([r for r, _ in batch])
        except Exception:
            if len(batch) == 1:
                _settle(batch[0][1], sys.exc_info()[1])
                return
            for rws, fut in batch:  # each request gets its own outcome
                try:
                    self.store.insert(rws)
                except Exception as e:
                    _settle(fut, e)
                else:
                    _settle(fut, None)
            return
        for _, fut in batch:
            _settle(fut, None)

    def cap_series(self, points: list[Point], errors: list[dict[str, Any]]) -> list[Point]:
        """Points of new series past ``max_series`` become errors; the rest go on.

        The usual cause is a tag that changes with every reading (a time or a
        counter), which makes one series per point and fills memory and disk.
        """
        cap = self.limits.max_series
        cap_bytes = self.limits.max_series_bytes
        store = self.store
        room = cap - store.series_count()
        room_bytes = cap_bytes - store.series_bytes
        keep: list[Point] = []
        new: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
        last: tuple[Any, Any] = (None, None)
        for p in points:
            if (p.metric == last[0] and p.tags == last[1]) or store.has_series(p.metric, p.tags):
                last = (p.metric, p.tags)  # a run of one series costs one lookup
                keep.append(p)
                continue
            key = (p.metric, tuple(sorted(p.tags.items())))
            if key in new:
                keep.append(p)
                continue
            weight = series_bytes(p.metric, tags_key(p.tags))
            if len(new) < room and weight <= room_bytes:
                new.add(key)
                room_bytes -= weight
                keep.append(p)
                continue
            if len(new) >= room:
                why = "the receiver already holds %d series, at most %d (--max-series)" % (
                    store.series_count(),
                    cap,
                )
            else:
                why = (
                    "the names and tags of the series held take %d bytes, at most %d "
                    "(--max-series-bytes)" % (cap_bytes - room_bytes, cap_bytes)
                )
            errors.append(
                {
                    "datapoint": p.to_dict(),
                    "error": "%s: %s; does a tag change with every reading (a time or a "
                    "counter in a tag)?" % (p.describe(), why),
                }
            )
        self._new_series = len(new)  # read by put() right after: no await in between
        return keep

    # -- /api/query ------------------------------------------------------

    async def query(self, request: Request) -> Response:
        self.need_read(request)
        params = _params(request)
        if request.method == "POST":
            body = await read_body(request, self.limits)
            try:
                doc = orjson.loads(body)
            except orjson.JSONDecodeError as e:
                raise ApiError(400, "Unable to parse the given JSON", str(e)) from None
            if isinstance(doc, dict):
                for flag in ("arrays", "msResolution", "ms", "showQuery"):
                    if flag in params and flag not in doc:
                        doc[flag] = params[flag][-1]
        else:
            doc = q.query_from_params(params)
        now_ms = int(self.clock() * 1000)
        if q.no_pattern(doc):  # parsing compiles nothing: cheap here, and 400s answered now
            parsed = q.Query(doc, now_ms)
            if q.small(self.store, parsed):
                body = self.reads.run_here(lambda store: orjson.dumps(q.run(store, parsed)))
                return Response(body, media_type="application/json")
            return Response(
                await self.reads.run(lambda store: orjson.dumps(q.run(store, parsed))),
                media_type="application/json",
            )

        def work(store: Store) -> bytes:
            return orjson.dumps(q.run(store, q.Query(doc, now_ms)))

        return Response(await self.reads.run(work), media_type="application/json")

    async def query_last(self, request: Request) -> Response:
        """``/api/query/last``: the newest point of each matching series (OpenTSDB 2.x shape)."""
        self.need_read(request)
        params = _params(request)
        back_scan_h: Any = 0
        wanted: list[tuple[str, dict[str, str]]] = []
        if request.method == "POST":
            body = await read_body(request, self.limits)
            try:
                doc = orjson.loads(body)
            except orjson.JSONDecodeError as e:
                raise ApiError(400, "Unable to parse the given JSON", str(e)) from None
            if not isinstance(doc, dict) or not isinstance(doc.get("queries"), list):
                raise ApiError(400, "Missing queries", "give {'queries': [{'metric': ...}]}")
            back_scan_h = doc.get("backScan", 0)
            for sub in doc["queries"]:
                if not isinstance(sub, dict) or not isinstance(sub.get("metric"), str):
                    raise ApiError(400, "Each query needs a metric", "give {'metric': 'name'}")
                tags = sub.get("tags") or {}
                if not isinstance(tags, dict):
                    raise ApiError(400, "Invalid tags %r" % (tags,), "give a map of key to value")
                wanted.append((sub["metric"], {str(k): str(v) for k, v in tags.items()}))
        else:
            back_scan_h = (params.get("back_scan") or ["0"])[-1]
            for ts in params.get("timeseries", []):
                metric, groups = q.brace_groups(ts)
                wanted.append((metric, dict(q.tag_pairs(groups[0])) if groups else {}))
        if not wanted:
            raise ApiError(400, "Missing timeseries", "use timeseries=metric{tag=value}")
        try:
            back_scan_h = int(back_scan_h)
        except (TypeError, ValueError, OverflowError):
            raise ApiError(400, "Invalid back_scan %r" % (back_scan_h,), "give hours") from None
        if not 0 <= back_scan_h <= MAX_BACK_SCAN_H:
            raise ApiError(
                400,
                "Invalid back_scan %r" % (back_scan_h,),
                "give hours, from 0 (no limit) to %d" % MAX_BACK_SCAN_H,
            )
        if len(wanted) > q.MAX_SUBQUERIES:
            raise ApiError(
                400,
                "Too many sub queries: %d" % len(wanted),
                "send at most %d per request" % q.MAX_SUBQUERIES,
            )
        since_ms = int((self.clock() - back_scan_h * 3600) * 1000) if back_scan_h > 0 else 0

        def work(store: Store) -> bytes:
            out = []
            for metric, tags in wanted:
                for s in store.series_for(metric):
                    if all(s.tags.get(k) == v for k, v in tags.items()):
                        last = store.last(s.id, since_ms)
                        if last is not None:
                            out.append(
                                {
                                    "metric": s.metric,
                                    "timestamp": last[0],
                                    "value": str(last[1]),
                                    "tags": s.tags,
                                    "tsuid": "%06X" % s.id,
                                }
                            )
            return orjson.dumps(out)

        return Response(await self.reads.run(work), media_type="application/json")

    async def fleet(self, request: Request) -> Response:
        """``/api/fleet``: one line per device (``host`` tag), for the dashboard's fleet view."""
        self.need_read(request)
        now_ms = int(self.clock() * 1000)
        # in the read pool: the loop keeps serving writes, and the query budget holds
        return JSON(await self.reads.run(lambda store: fleet.fleet(store, now_ms)))

    # -- lookups Grafana makes -------------------------------------------

    async def suggest(self, request: Request) -> Response:
        self.need_read(request)
        params = _params(request)
        kind = (params.get("type") or [""])[-1]
        if kind not in SUGGEST_TYPES:
            raise ApiError(400, "Invalid 'type' %r" % kind, "use type=metrics, tagk or tagv")
        prefix = (params.get("q") or [""])[-1]
        max_s = (params.get("max") or ["25"])[-1]
        try:
            limit = int(max_s)
        except ValueError:
            raise ApiError(400, "Invalid 'max' %r" % max_s, "give a whole number") from None

        def work(store: Store) -> list[str]:
            names: set[str] = set()
            for s in store.all_series():
                if kind == "metrics":
                    names.add(s.metric)
                elif kind == "tagk":
                    names.update(s.tags)
                else:
                    names.update(s.tags.values())
            return sorted(n for n in names if n.startswith(prefix))[: max(limit, 0)]

        return JSON(await self.reads.run(work))

    async def lookup(self, request: Request) -> Response:
        self.need_read(request)
        params = _params(request)
        limit = 25
        if request.method == "POST":
            body = await read_body(request, self.limits)
            try:
                doc = orjson.loads(body)
            except orjson.JSONDecodeError as e:
                raise ApiError(400, "Unable to parse the given JSON", str(e)) from None
            if not isinstance(doc, dict):
                raise ApiError(400, "The lookup must be a JSON object")
            metric = doc.get("metric") or "*"
            tags = doc.get("tags") or []
            if not isinstance(metric, str) or not isinstance(tags, list):
                raise ApiError(
                    400,
                    "Invalid lookup",
                    "give {'metric': 'name', 'tags': [{'key': 'k', 'value': 'v'}]}",
                )
            pairs = [
                (t.get("key") or "*", t.get("value") or "*") for t in tags if isinstance(t, dict)
            ]
            if not all(isinstance(k, str) and isinstance(v, str) for k, v in pairs):
                raise ApiError(400, "Invalid lookup tags", "each key and value is a string")
            limit = doc.get("limit", limit) if isinstance(doc.get("limit"), int) else limit
        else:
            m = (params.get("m") or [""])[-1]
            if not m:
                raise ApiError(400, "Missing 'm' parameter", "use m=metric{tagk=*}")
            metric, groups = q.brace_groups(m)
            pairs = q.tag_pairs(groups[0]) if groups else []
            if "limit" in params:
                try:
                    limit = int(params["limit"][-1])
                except ValueError:
                    raise ApiError(400, "Invalid 'limit'", "give a whole number") from None
        t0 = time.monotonic()

        def work(store: Store) -> list[Series]:
            found = [
                s
                for s in store.all_series()
                if (metric in ("", "*") or s.metric == metric)
                and all(_lookup_match(s.tags, k, v) for k, v in pairs)
            ]
            return sorted(found, key=lambda s: (s.metric, sorted(s.tags.items())))

        matched = await self.reads.run(work)
        results = [{"metric": s.metric, "tags": s.tags, "tsuid": "%06X" % s.id} for s in matched]
        total = len(results)
        return JSON(
            {
                "type": "LOOKUP",
                "metric": metric,
                "tags": [{"key": k, "value": v} for k, v in pairs],
                "limit": limit,
                "time": int((time.monotonic() - t0) * 1000),
                "results": results[: max(limit, 0)],
                "startIndex": 0,
                "totalResults": total,
            }
        )

    async def aggregators(self, request: Request) -> Response:
        return JSON(sorted(q.AGGREGATORS))

    async def config_filters(self, request: Request) -> Response:
        return JSON(FILTER_DOCS)

    async def version(self, request: Request) -> Response:
        return JSON(
            {
                "version": OPENTSDB_VERSION,
                "short_revision": "tspush",
                "full_revision": "tspush-" + __version__,
                "repo": "tspush",
                "repo_status": "MODIFIED",
                "timestamp": "0",
                "host": "",
                "user": "",
                "tspush": __version__,
            }
        )

    async def stats(self, request: Request) -> Response:
        """``/api/stats`` in OpenTSDB's shape: a list of points, values as strings."""
        self.need_read(request)
        now_s = int(self.clock())
        host = socket.gethostname()

        def stat(metric: str, value: int, **tags: str) -> dict[str, Any]:
            return {
                "metric": metric,
                "timestamp": now_s,
                "value": str(value),
                "tags": dict(tags, host=host),
            }

        return JSON(
            [
                stat("tsd.rpc.received", self.stored_total + self.failed_total, type="put"),
                stat("tsd.rpc.errors", self.failed_total, type="invalid_values"),
                stat("tspush.receiver.points.stored", self.stored_total),
                stat("tspush.receiver.series", self.store.series_count()),
            ]
        )

    # -- retention ---------------------------------------------------------

    async def warm(self) -> None:
        """The read workers' set-up and what long views read decoded, before the first query;
        paused while queries run (they would share the CPU with it)."""
        now_ms = int(self.clock() * 1000)

        def idle() -> None:
            deadline = time.monotonic() + WARM_YIELD_S
            while self.reads.running > 1 and time.monotonic() < deadline:  # 1: the warm-up
                time.sleep(0.002)

        try:
            await self.reads.run(lambda store: store.warm(now_ms, idle))
        except Exception as e:  # only a head start: a query does the same work
            log.debug("warm-up: %s", e)

    async def checkpoint_loop(self, period_s: float = 1.0) -> None:
        while True:
            await asyncio.sleep(period_s)
            try:
                await run_in_threadpool(self.store.maintain)
                await run_in_threadpool(self.store.checkpoint)
            except Exception as e:  # busy or failing disk: the next round tries again
                log.warning("checkpoint: %s", e)

    async def retention_loop(self) -> None:
        """Raw points past ``retention_s``, 1-min and 1-hour rollups past their own (or it)."""
        ages = [a for a in (self.retention_s, *self.rollup_retention_s) if a]
        period_s = min(max(min(ages) / 10.0, 0.5), 60.0)
        while True:
            try:
                now_ms = int(self.clock() * 1000)
                raw = now_ms - int(self.retention_s * 1000) if self.retention_s else None
                m1, h1 = (now_ms - int(a * 1000) if a else raw for a in self.rollup_retention_s)
                n = await run_in_threadpool(self.store.delete_before, raw, m1, h1)
                if n:
                    log.info("retention: deleted %d point(s) older than %ds", n, self.retention_s)
            except Exception as e:  # keep the loop alive: the next round tries again
                log.error("retention: could not delete old points: %s", e)
            await asyncio.sleep(period_s)


class ReceiverApp(Starlette):
    """Starlette, with ``POST /api/put`` and ``/api/query`` taken straight to their handlers.

    Writes are the hot path (every board, every interval), and a small query's
    own work is a fraction of a millisecond: skipping the router and middleware
    stack saves a good part of each request. Errors are answered exactly as the
    routed path answers them.
    """

    receiver: Receiver | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        rx = self.receiver
        if rx is not None and scope["type"] == "http":
            path, method = scope["path"], scope["method"]
            if path == "/api/put" and method == "POST":
                handler = rx.put
            elif path == "/api/query" and method in ("GET", "POST"):
                handler = rx.query
            else:
                await super().__call__(scope, receive, send)
                return
            request = Request(scope, receive)
            try:
                response = await handler(request)
            except ApiError as e:
                log_refused(request, e)
                response = error_response(e)
            except Exception as e:  # the server keeps serving whatever a request holds
                log.exception("internal error on %s %s", method, path)
                response = error_response(ApiError(500, "Internal error", type(e).__name__))
            await response(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def _lookup_match(tags: dict[str, str], k: str, v: str) -> bool:
    if k == "*":
        return v == "*" or v in tags.values()
    if k not in tags:
        return False
    return v == "*" or tags[k] == v


def _auth_error(request: Request, what: str) -> ApiError:
    given = "authorization" in request.headers
    need = "the write token" if what == "write" else "the read token"
    if given:
        return ApiError(
            401, "Invalid token", "this request needs %s (Basic password or Bearer)" % need
        )
    return ApiError(
        401,
        "Missing token",
        "send %s as the Basic auth password or as 'Authorization: Bearer TOKEN'" % need,
    )


def prepare_db_path(db_path: str | Path) -> None:
    """Create the database's directory (0700) and file (0600): readings are the owner's.

    SQLite would create the file with the umask (0644, world-readable); its
    -wal and -shm files copy the database file's mode. A directory that
    cannot be made is a ConfigError naming the path and the fix.
    """
    if str(db_path) == ":memory:":
        return
    path = Path(db_path)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(
            "cannot create %s for the database (%s): create it yourself with write access "
            "for this user, or give --db a file in a directory you can write"
            % (path.parent, e.strerror or e),
            "--db",
        ) from None
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    except IsADirectoryError:
        raise ConfigError(
            "%s is a directory: give --db a file name, e.g. %s" % (path, path / "receiver.sqlite"),
            "--db",
        ) from None
    except OSError as e:
        raise ConfigError(
            "cannot create the database %s (%s): give --db a file in a directory you can write"
            % (path, e.strerror or e),
            "--db",
        ) from None


def create_app(
    *,
    db_path: str | Path,
    write_token: str | None = None,
    read_token: str | None = None,
    no_auth: bool = False,
    open_read: bool = False,
    strict: bool = False,
    retention_s: float | None = None,
    rollup_retention_s: tuple[float | None, float | None] = (None, None),
    max_body_bytes: int = 1_048_576,
    max_points: int = 10_000,
    max_name_chars: int = 256,
    max_tags: int = 32,
    body_timeout_s: float = 30.0,
    max_series: int = 100_000,
    query_timeout_s: float = 10.0,
    max_series_bytes: int = 64 * 1024 * 1024,
    on_accepted: Callable[[list[Point]], None] | None = None,
    clock: Callable[[], float] = time.time,
) -> Starlette:
    """The receiver as an ASGI app. ``app.state.receiver`` holds its state (tests)."""
    from tspush.receiver.dashboard import Dashboard

    if not no_auth and not write_token and not read_token and not open_read:
        raise ValueError("give write_token and/or read_token, or no_auth=True")
    prepare_db_path(db_path)
    store = Store(db_path, background_checkpoint=True, clock=clock)
    rx = Receiver(
        store,
        Tokens(write_token, read_token, no_auth, open_read),
        STRICT if strict else LENIENT,
        Limits(
            max_body_bytes,
            max_points,
            max_name_chars,
            max_tags,
            body_timeout_s,
            max_series,
            query_timeout_s,
            max_series_bytes,
        ),
        on_accepted,
        retention_s,
        clock,
    )
    rx.rollup_retention_s = rollup_retention_s
    dash = Dashboard(rx)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(rx.checkpoint_loop()), asyncio.create_task(rx.warm())]
        if retention_s or any(rollup_retention_s):
            tasks.append(asyncio.create_task(rx.retention_loop()))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            store.close()

    async def on_api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        log_refused(request, exc)
        return error_response(exc)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        msg = {404: "Endpoint not found", 405: "Method not allowed"}.get(
            exc.status_code, str(exc.detail)
        )
        e = ApiError(exc.status_code, msg, "path %s" % request.url.path)
        log_refused(request, e)
        return error_response(e)

    async def on_crash(request: Request, exc: Exception) -> Response:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return error_response(ApiError(500, "Internal error", type(exc).__name__))

    routes = [
        Route("/api/put", rx.put, methods=["POST"]),
        Route("/api/query", rx.query, methods=["GET", "POST"]),
        Route("/api/query/last", rx.query_last, methods=["GET", "POST"]),
        Route("/api/suggest", rx.suggest, methods=["GET"]),
        Route("/api/search/lookup", rx.lookup, methods=["GET", "POST"]),
        Route("/api/aggregators", rx.aggregators, methods=["GET"]),
        Route("/api/config/filters", rx.config_filters, methods=["GET"]),
        Route("/api/version", rx.version, methods=["GET", "POST"]),
        Route("/api/stats", rx.stats, methods=["GET"]),
        Route("/api/fleet", rx.fleet, methods=["GET"]),
        Route("/", dash.page, methods=["GET"]),
        Mount("/static", app=dash.static()),
    ]
    app = ReceiverApp(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            ApiError: on_api_error,
            HTTPException: on_http_error,
            Exception: on_crash,
        },
    )
    app.state.receiver = rx
    app.receiver = rx
    return app

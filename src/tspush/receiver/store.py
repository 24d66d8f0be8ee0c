"""SQLite storage for the receiver: series, compressed blocks of points, rollups.

Why this shape: a row per point cost 24 B on disk and ~550 ns to read back;
months of a hundred sensors need ~1 B per point and long ranges answered
from pre-aggregated buckets.

- Each series' points are grouped in fixed windows of ``WINDOW_MS`` (3 h,
  about 1,000 points at one every 10 s). A window still open lives in memory;
  a closed one is one row of ``blocks`` compressed with pcodec (codec.py).
- Every ``insert()`` is first one row of ``head`` (the request's points,
  packed), committed before the answer: nothing acknowledged is lost when the
  process is killed; start-up replays ``head`` into the open windows.
  ``insert_many()`` commits several requests' rows at once (group commit).
- A window closes when its series has moved ``GRACE_MS`` past its end (or the
  clock has, for a series silent ``QUIET_S``). When ``head`` has grown by
  ``HEAD_MAX_POINTS`` or past its share of the disk, the windows due are
  written and the points of those still filling are carried into ``head``,
  one compressed row per series (no partial block to merge again later);
  ``compact()`` (shutdown, start-up) writes every open window and empties
  ``head``. A point that arrives for a
  closed window reopens it: at its next close it is merged into the block,
  so late and replayed points land where they belong and an identical resend
  is stored once (last write wins, as OpenTSDB's compaction does).
- Closing a window also writes its 1-minute and 1-hour buckets (count, min,
  max, sum) in ``rollups``: one row per series, resolution and span.

Why SQLite still: one file, no server, a transaction per request, WAL so
readers never block the writer.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import sqlite3
import struct
import threading
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from tspush.core.errors import ConfigError
from tspush.receiver.codec import Rollup, Value, decode_arrays, decode_points, encode_points

log = logging.getLogger("tspush.receiver.store")

WINDOW_MS = 3 * 3_600_000
GRACE_MS = 10 * 60_000
MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
# a rollup row spans this much time: 1,440 minute buckets, 720 hour buckets
ROLLUP_SPAN_MS = {MINUTE_MS: 86_400_000, HOUR_MS: 30 * 86_400_000}
RESOLUTIONS_MS = (HOUR_MS, MINUTE_MS)  # coarsest first
# A window's 1-minute buckets are stored only when it averages more than 12 points a minute:
# at one point every 10 s a bucket (count, min, max, sum: ~3 B) weighs nearly what its 6 points
# do (~4.4 B, 0.56 B a point at rest), and a query makes them from the block (~50 us a window).
MINUTE_ROLLUP_MIN_POINTS = 12 * (WINDOW_MS // MINUTE_MS)
CACHE_MAX_BYTES = 32 * 1024 * 1024  # decoded blocks and rollups kept for the next query
QUIET_S = 60.0  # maintain() closes windows by the clock for series silent this long
HEAD_MAX_POINTS = 100_000  # compact when head holds this many points (memory bound)
BUSY_TIMEOUT_MS = 10_000
SHRINK_WAIT_MS = 200  # the writer waits at most this for readers to leave an oversized WAL
# Disk while running stays proportional to the data: the WAL and ``head`` may each grow to
# a share of the database file (1/SHARE), never past a cap, with a small floor for a new one.
OVERHEAD_SHARE = 5
OVERHEAD_FLOOR_BYTES = 64 * 1024
# the WAL's own floor, lower: a small database's peak while ingesting was mostly its WAL
# (up to twice the allowance before a truncating checkpoint); its copies run in a thread
WAL_FLOOR_BYTES = 32 * 1024
OVERHEAD_CAP_BYTES = 8 * 1024 * 1024

SCHEMA = """
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY,
    metric TEXT NOT NULL,
    tags TEXT NOT NULL,
    UNIQUE (metric, tags)
);
CREATE TABLE IF NOT EXISTS head (
    id INTEGER PRIMARY KEY,
    data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS blocks (
    series_id INTEGER NOT NULL,
    start_ms INTEGER NOT NULL,
    n INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (series_id, start_ms)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rollups (
    series_id INTEGER NOT NULL,
    res_ms INTEGER NOT NULL,
    start_ms INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (series_id, res_ms, start_ms)
) WITHOUT ROWID;
"""

SQUASHED = b"S"  # a head row of one series' open points, compressed
DELTAS = b"D"  # a head row of one request's points, timestamps as deltas (JSON)
# (a head row of earlier versions: JSON of (series id, ts_ms, value) triples, b"[")
_SID = struct.Struct("<q")

SeriesKey = tuple[str, str]  # (metric, canonical tags JSON)
Row = tuple[str, dict[str, str], int, Value]


def _head_row(packed: list[tuple[int, int, Value]], runs: list[int]) -> bytes:
    """One request's points as a ``head`` row: its runs of one series (id, first index),
    the first timestamp, the differences to each next, the values.

    Why: JSON triples took ~25 B per point, and every byte of head is written twice
    (WAL, then the database) and checkpointed within the WAL's allowance; this takes ~12.
    """
    if not packed:
        return b"[]"
    ts = [p[1] for p in packed]
    dts = [b - a for a, b in zip(ts, ts[1:])]
    return DELTAS + orjson.dumps((runs, ts[0], dts, [p[2] for p in packed]))


def tags_key(tags: dict[str, str]) -> str:
    """Canonical text of a tag set: sorted keys, compact JSON."""
    return json.dumps(tags, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def series_bytes(metric: str, key_text: str) -> int:
    """What one series' names weigh, counted as UTF-8 (memory holds a few copies)."""
    return len(metric.encode()) + len(key_text.encode())


def window_of(ts_ms: int) -> int:
    return ts_ms - ts_ms % WINDOW_MS


class Series:
    """One stored series: id, metric name and tags."""

    __slots__ = ("id", "metric", "tags")

    def __init__(self, series_id: int, metric: str, tags: dict[str, str]) -> None:
        self.id = series_id
        self.metric = metric
        self.tags = tags


class Store:
    """The database file. Thread-safe: one writer connection under a lock,
    one reader connection per thread (WAL readers do not block the writer)."""

    def __init__(
        self,
        path: str | Path,
        background_checkpoint: bool = False,
        clock: object = time.time,
    ) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._local = threading.local()
        self._clock = clock
        try:
            if str(path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._w = self._connect()
            self._w.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as e:
            # A wrong --db (not a database, no permission) is a config error, not a traceback.
            if "locked" in str(e):
                raise ConfigError(
                    "%s: another process has this database open (another tspush serve?): "
                    "stop it or choose another file" % path,
                    "--db",
                ) from None
            raise ConfigError(
                "%s: cannot use it as the database (%s): choose another file" % (path, e), "--db"
            ) from None
        self._background = background_checkpoint  # checkpoint() is called every second
        self._series: dict[SeriesKey, Series] = {}
        self._by_id: dict[int, Series] = {}
        # (metric, sorted tag pairs) -> Series: the write path's lookup, no JSON needed
        self._fast: dict[tuple[str, tuple[tuple[str, str], ...]], Series] = {}
        # series id -> window start -> ts_ms -> value: the windows not yet (re)written
        self._open: dict[int, dict[int, dict[int, Value]]] = {}
        self._newest: dict[int, int] = {}  # series id -> newest ts_ms seen
        self._arrived: dict[int, float] = {}  # series id -> clock (s) of its last insert
        self._head_points = 0
        self._head_bytes = 0
        self._carried = 0  # points head holds for windows still filling (see _compact_head)
        self._allowance = -1  # bytes head may hold (set by _scale_overhead)
        self._wal_allowance = -1  # bytes the WAL may hold (the same share, its own floor)
        self.series_bytes = 0  # UTF-8 bytes of every series' metric and tags (memory bound)
        # decoded blocks and rollups, most recently used last: a dashboard refreshing the
        # same view decodes nothing twice. Per-series generations keep it exact.
        self._cache: OrderedDict[tuple[int, ...], tuple[Any, int]] = OrderedDict()
        self._cache_bytes = 0
        self._cache_keys: dict[int, set[tuple[int, ...]]] = {}
        self._gen: dict[int, int] = {}
        # a bulk ingest's checkpoints run beside the writer, not in it (see _checkpointer)
        self._wal_full = threading.Event()
        # held while a checkpoint copies: the writer's truncating one must not find SQLite's
        # checkpoint lock taken by the thread (it would return at once, the WAL uncut)
        self._copying = threading.Lock()
        self._stopping = False
        self._ckpt_thread: threading.Thread | None = None
        self._load_series()
        self._migrate_rows()
        self._replay_head()
        self._scale_overhead()
        if background_checkpoint and str(path) != ":memory:":
            self._ckpt_thread = threading.Thread(
                target=self._checkpointer, name="tspush-checkpoint", daemon=True
            )
            self._ckpt_thread.start()

    def _sqlite(self) -> sqlite3.Connection:
        """A connection through SQLite's ``unix-excl`` VFS (``:memory:`` as it is).

        Why: the WAL index lives in this process's memory instead of a 32 KiB ``-shm``
        file beside the database (0.38 B a point of a 10-series day at rest), and the file
        is locked to this process: a second receiver on the same file (its open windows
        and caches unseen by this one) is refused instead of silently diverging. The
        process's own connections (writer, readers, checkpointer) share it as before.
        """
        if str(self.path) == ":memory:":
            target, uri = ":memory:", False
        else:
            target, uri = "file:%s?vfs=unix-excl" % urllib.parse.quote(str(self.path)), True
        return sqlite3.connect(target, check_same_thread=False, isolation_level=None, uri=uri)

    def _connect(self, reader: bool = False) -> sqlite3.Connection:
        conn = self._sqlite()
        conn.execute("PRAGMA busy_timeout = %d" % BUSY_TIMEOUT_MS)
        if reader:
            # the file's settings are the writer's to make: a reader opened on a full disk
            # (queries keep being answered) must not try to write anything
            conn.execute("PRAGMA query_only = 1")
            return conn
        conn.execute("PRAGMA page_size = 4096")  # new files: blocks are a few hundred bytes
        # new files: pages freed (head emptied, blocks rewritten) go back to the disk
        # (set only when not yet: setting it rewrites page 1, a WAL frame at every start)
        if conn.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        conn.execute("PRAGMA journal_mode = WAL")
        # WAL + NORMAL: a process crash loses nothing committed; a power cut
        # may lose the last transactions but never corrupts the file.
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA journal_size_limit = %d" % OVERHEAD_FLOOR_BYTES)
        return conn

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect(reader=True)
            self._local.conn = conn
        return conn

    def _load_series(self) -> None:
        for sid, metric, tags in self._w.execute("SELECT id, metric, tags FROM series"):
            self._remember(Series(sid, metric, json.loads(tags)), tags)

    def _remember(self, s: Series, key_text: str | None = None) -> None:
        key_text = key_text or tags_key(s.tags)
        self.series_bytes += series_bytes(s.metric, key_text)
        self._series[(s.metric, key_text)] = s
        self._by_id[s.id] = s
        self._fast[(s.metric, tuple(sorted(s.tags.items())))] = s

    # -- start-up ----------------------------------------------------------

    def _migrate_rows(self) -> None:
        """A database of the row-per-point format: move its points into blocks, series by series.

        Each series moves in one transaction (its blocks written, its rows
        deleted), so a stop half-way loses nothing and the next start goes on.
        """
        conn = self._w
        if not conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'points'"
        ).fetchone():
            return
        ids = [r[0] for r in conn.execute("SELECT DISTINCT series_id FROM points")]
        moved = 0
        for sid in ids:
            rows = conn.execute(
                "SELECT ts_ms, value FROM points WHERE series_id = ? ORDER BY ts_ms", (sid,)
            ).fetchall()
            with self._lock:
                windows = self._open.setdefault(sid, {})
                for ts, v in rows:
                    windows.setdefault(window_of(ts), {})[ts] = v
                conn.execute("BEGIN IMMEDIATE")
                try:
                    self._write_windows(sid, list(windows))
                    conn.execute("DELETE FROM points WHERE series_id = ?", (sid,))
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    self._open.pop(sid, None)
                    raise
                self._open.pop(sid, None)
            moved += len(rows)
        conn.execute("DROP TABLE points")
        log.info("migrated %d point(s) of %d series into compressed blocks", moved, len(ids))
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        if str(self.path) != ":memory:":
            conn.execute("VACUUM")  # give the old rows' pages back to the disk

    def _replay_head(self) -> None:
        """Points acknowledged but not yet in blocks (the process stopped): back to memory."""
        n = 0
        for (data,) in self._w.execute("SELECT data FROM head ORDER BY id"):
            self._head_bytes += len(data)
            if data[:1] == SQUASHED:  # one series' open points, carried by _compact_head()
                (sid,) = _SID.unpack_from(data, 1)
                tss, vs = decode_points(data[1 + _SID.size :])
                for ts, v in zip(tss, vs, strict=True):
                    self._add(sid, ts, v)
                n += len(tss)
                continue
            if data[:1] == DELTAS:  # a request's points, as insert_many() writes them
                runs, t0, dts, vs = orjson.loads(data[1:])
                tss = list(itertools.accumulate(dts, initial=t0))
                ends = runs[3::2] + [len(vs)]
                for k, sid in enumerate(runs[::2]):
                    for i in range(runs[2 * k + 1], ends[k]):
                        self._add(sid, tss[i], vs[i])
                n += len(vs)
                continue
            for sid, ts, v in orjson.loads(data):  # rows of versions before
                self._add(sid, ts, v)
                n += 1
        self._head_points = n
        if n:
            self.compact()

    # -- writing -------------------------------------------------------------

    def _add(self, sid: int, ts: int, v: Value) -> None:
        windows = self._open.get(sid)
        if windows is None:
            windows = self._open[sid] = {}
        w = ts - ts % WINDOW_MS
        pts = windows.get(w)
        if pts is None:
            pts = windows[w] = {}
        pts[ts] = v
        if ts > self._newest.get(sid, 0):
            self._newest[sid] = ts

    def insert(self, rows: Iterable[Row]) -> int:
        """Store ``(metric, tags, ts_ms, value)`` rows in one transaction.

        A later point with the same series and timestamp replaces the earlier
        one (last write wins, as OpenTSDB's compaction does).
        """
        return self.insert_many([rows])[0]

    def insert_many(self, batches: list[Iterable[Row]]) -> list[int]:
        """Several requests' rows in one transaction (one commit for all: group commit);
        how many rows of each were stored. All are stored or none."""
        with self._lock:
            conn = self._w
            new: dict[SeriesKey, Series] = {}
            packs: list[list[tuple[int, int, Value]]] = []
            head_bytes = 0
            fast = self._fast
            # a transaction only for several requests or a new series: else one INSERT is atomic
            began = len(batches) > 1
            if began:
                conn.execute("BEGIN IMMEDIATE")
            try:
                for rows in batches:
                    packed: list[tuple[int, int, Value]] = []
                    runs: list[int] = []  # series id, index of its run's first point, ...
                    # a request holds runs of one series (a board's readings): a point of the
                    # same series as the one before costs a comparison, not a lookup
                    last_metric: str | None = None
                    last_tags: dict[str, str] | None = None
                    sid = 0
                    for metric, tags, ts_ms, value in rows:
                        if metric != last_metric or tags != last_tags:
                            s = fast.get((metric, tuple(sorted(tags.items()))))
                            if s is None:
                                key = (metric, tags_key(tags))
                                s = self._series.get(key) or new.get(key)
                                if s is None:
                                    if not began:
                                        conn.execute("BEGIN IMMEDIATE")
                                        began = True
                                    s = Series(self._series_id(conn, key), metric, dict(tags))
                                    new[key] = s
                            last_metric, last_tags, sid = metric, tags, s.id
                            runs += (sid, len(packed))
                        packed.append((sid, ts_ms, value))
                    data = _head_row(packed, runs)
                    conn.execute("INSERT INTO head (data) VALUES (?)", (data,))
                    packs.append(packed)
                    head_bytes += len(data)
                if began:
                    conn.execute("COMMIT")
            except BaseException:
                if began:
                    conn.execute("ROLLBACK")
                raise
            for key, s in new.items():
                self._remember(s, key[1])
            touched: set[int] = set()
            for packed in packs:
                self._head_points += len(packed)
                touched |= self._add_packed(packed)
            self._head_bytes += head_bytes
            try:
                self._close_due(touched, None)
                self._settle()
            except sqlite3.Error as e:  # stored in head already: the next round writes blocks
                log.warning("could not write blocks yet: %s", e)
            return [len(p) for p in packs]

    def _add_packed(self, packed: list[tuple[int, int, Value]]) -> set[int]:
        """Points of a committed request into their open windows; the series whose newest
        timestamp moved. The write path's hot loop: runs of one series and window share
        their dict lookups."""
        touched: set[int] = set()
        seen: set[int] = set()
        opened, newest = self._open, self._newest
        last_sid = last_w = -1
        pts: dict[int, Value] = {}
        top = 0
        for sid, ts, v in packed:
            w = ts - ts % WINDOW_MS
            if sid != last_sid or w != last_w:
                if last_sid != sid:
                    if top > newest.get(last_sid, 0):
                        newest[last_sid] = top
                        touched.add(last_sid)
                    top = 0
                    seen.add(sid)
                windows = opened.get(sid)
                if windows is None:
                    windows = opened[sid] = {}
                got = windows.get(w)
                if got is None:
                    got = windows[w] = {}
                pts, last_sid, last_w = got, sid, w
            pts[ts] = v
            if ts > top:
                top = ts
        if top > newest.get(last_sid, 0):
            newest[last_sid] = top
            touched.add(last_sid)
        now_s = self._clock()  # type: ignore[operator]
        arrived = self._arrived
        for sid in seen:
            arrived[sid] = now_s
        return touched

    @staticmethod
    def _series_id(conn: sqlite3.Connection, key: SeriesKey) -> int:
        """The id of a series, created if new (or found, if another process made it)."""
        cur = conn.execute("INSERT OR IGNORE INTO series (metric, tags) VALUES (?, ?)", key)
        if cur.rowcount == 1 and cur.lastrowid:
            return int(cur.lastrowid)
        row = conn.execute("SELECT id FROM series WHERE metric = ? AND tags = ?", key).fetchone()
        return int(row[0])

    def _close_due(self, sids: Iterable[int], now_ms: int | None) -> None:
        """Write the windows their series (or the clock) has left ``GRACE_MS`` behind."""
        due: list[tuple[int, list[int]]] = []
        for sid in sids:
            windows = self._open.get(sid)
            if not windows:
                continue
            edge = max(self._newest.get(sid, 0), now_ms or 0) - GRACE_MS
            ws = [w for w in windows if w + WINDOW_MS <= edge]
            if ws:
                due.append((sid, ws))
        if not due:
            return
        conn = self._w
        conn.execute("BEGIN IMMEDIATE")
        try:
            for sid, ws in due:
                self._write_windows(sid, ws)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._invalidate(sid for sid, _ in due)
        for sid, ws in due:
            windows = self._open[sid]
            for w in ws:
                del windows[w]

    def _write_windows(self, sid: int, ws: list[int]) -> None:
        """Merge open windows into their blocks and rollups (inside the caller's transaction)."""
        conn = self._w
        windows = self._open[sid]
        for w in sorted(ws):
            pts = windows[w]
            row = conn.execute(
                "SELECT data FROM blocks WHERE series_id = ? AND start_ms = ?", (sid, w)
            ).fetchone()
            if row is not None:
                old_ts, old_vs = decode_points(row[0])
                merged = dict(zip(old_ts, old_vs, strict=True))
                merged.update(pts)
            else:
                merged = pts
            ts = sorted(merged)
            vs = [merged[t] for t in ts]
            self._put_block(sid, w, ts, vs)

    def _put_block(self, sid: int, w: int, ts: list[int], vs: list[Value]) -> None:
        conn = self._w
        if ts:
            conn.execute(
                "INSERT OR REPLACE INTO blocks (series_id, start_ms, n, data) VALUES (?, ?, ?, ?)",
                (sid, w, len(ts), encode_points(ts, vs)),
            )
        else:
            conn.execute("DELETE FROM blocks WHERE series_id = ? AND start_ms = ?", (sid, w))
        for res in RESOLUTIONS_MS:
            if res == MINUTE_MS and len(ts) <= MINUTE_ROLLUP_MIN_POINTS:
                # made from the block when read (_block_minutes); stored buckets before its
                # first point's minute hold points retention deleted (_keep_minutes)
                lo = ts[0] - ts[0] % MINUTE_MS if ts else w
                self._put_rollup(sid, res, lo, w + WINDOW_MS, Rollup.empty())
            else:
                self._put_rollup(sid, res, w, w + WINDOW_MS, Rollup.of_points(ts, vs, res))

    def _put_rollup(self, sid: int, res: int, start: int, end: int, fresh: Rollup) -> None:
        """Replace the buckets of ``[start, end)`` in the rollup row spanning them."""
        conn = self._w
        span = ROLLUP_SPAN_MS[res]
        s0 = start - start % span
        row = conn.execute(
            "SELECT data FROM rollups WHERE series_id = ? AND res_ms = ? AND start_ms = ?",
            (sid, res, s0),
        ).fetchone()
        merged = Rollup.concat([Rollup.decode(row[0]).without(start, end), fresh]) if row else fresh
        if len(merged):
            conn.execute(
                "INSERT OR REPLACE INTO rollups (series_id, res_ms, start_ms, data) "
                "VALUES (?, ?, ?, ?)",
                (sid, res, s0, merged.encode()),
            )
        elif row:
            conn.execute(
                "DELETE FROM rollups WHERE series_id = ? AND res_ms = ? AND start_ms = ?",
                (sid, res, s0),
            )

    def _invalidate(self, sids: Iterable[int]) -> None:
        """Forget decoded data of series just written (after the commit)."""
        with self._lock:
            for sid in sids:
                self._gen[sid] = self._gen.get(sid, 0) + 1
                for key in self._cache_keys.pop(sid, ()):
                    entry = self._cache.pop(key, None)
                    if entry is not None:
                        self._cache_bytes -= entry[1]

    def _cached(self, key: tuple[int, ...]) -> Any:
        with self._lock:
            entry = self._cache.get(key)
            if entry is None:
                return None
            self._cache.move_to_end(key)
            return entry[0]

    def _keep(self, key: tuple[int, ...], gen: int, value: Any, nbytes: int) -> None:
        sid = key[1]
        with self._lock:
            if self._gen.get(sid, 0) != gen or key in self._cache:
                return  # written meanwhile: what was read may be older than the file
            self._cache[key] = (value, nbytes)
            self._cache_keys.setdefault(sid, set()).add(key)
            self._cache_bytes += nbytes
            while self._cache_bytes > CACHE_MAX_BYTES and self._cache:
                old, (_, n) = self._cache.popitem(last=False)
                self._cache_bytes -= n
                keys = self._cache_keys.get(old[1])
                if keys is not None:
                    keys.discard(old)

    def compact(self) -> None:
        """Write every open window into blocks and empty ``head`` (one transaction)."""
        with self._lock:
            conn = self._w
            conn.execute("BEGIN IMMEDIATE")
            try:
                for sid, windows in self._open.items():
                    if windows:
                        self._write_windows(sid, list(windows))
                conn.execute("DELETE FROM head")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            self._invalidate(list(self._open))
            self._open.clear()
            self._head_points = self._carried = 0
            self._head_bytes = 0
            self._scale_overhead()

    def _compact_head(self) -> None:
        """Empty ``head`` of what windows already written or due hold, in one transaction
        (lock held).

        The windows still filling (not due to close by their series' newest point) are
        not written as partial blocks, to be merged again minutes later: their points
        are carried into ``head``, one compressed row per series (~1.5 B per point
        against ~25 B of JSON; replay reads both row kinds, in order). Only the windows
        not filling (reopened by late points) are written. When the carried points are
        many (``HEAD_MAX_POINTS``, memory) or would take over half of head's allowance,
        everything is written instead (``compact()``).
        """
        rows: list[bytes] = []
        carried = 0
        due: list[tuple[int, list[int]]] = []
        for sid, windows in self._open.items():
            edge = self._newest.get(sid, 0) - GRACE_MS
            pts: dict[int, Value] = {}
            ws = []
            for w, got in windows.items():
                if w + WINDOW_MS > edge:
                    pts.update(got)
                elif got:
                    ws.append(w)
            if ws:
                due.append((sid, ws))
            if pts:
                ts = sorted(pts)
                rows.append(SQUASHED + _SID.pack(sid) + encode_points(ts, [pts[t] for t in ts]))
                carried += len(ts)
            if carried >= HEAD_MAX_POINTS:
                self.compact()
                return
        nbytes = sum(map(len, rows))
        if 2 * nbytes > self._allowance:
            self.compact()
            return
        conn = self._w
        conn.execute("BEGIN IMMEDIATE")
        try:
            for sid, ws in due:
                self._write_windows(sid, ws)
            conn.execute("DELETE FROM head")
            conn.executemany("INSERT INTO head (data) VALUES (?)", [(r,) for r in rows])
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._invalidate(sid for sid, _ in due)
        for sid, ws in due:
            windows = self._open[sid]
            for w in ws:
                del windows[w]
        self._head_points = self._carried = carried
        self._head_bytes = nbytes

    def _vacuum(self, keep_pages: int) -> None:
        """Give free pages past ``keep_pages`` back to the disk (lock held).

        Not after every compaction: head's freed pages are what the next head rows use,
        and moving pages to the file's end writes several WAL frames each.
        """
        conn = self._w
        free = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
        if free > keep_pages:
            conn.executescript("PRAGMA incremental_vacuum(%d);" % (free - keep_pages))

    # -- disk while running: WAL and head in proportion to the data ----------

    def _db_bytes(self) -> int:
        try:
            return os.path.getsize(str(self.path))
        except OSError:  # ":memory:"
            return 0

    def _scale_overhead(self) -> None:
        """Let WAL and head each hold 1/OVERHEAD_SHARE of the database (floor, cap).

        The WAL is checkpointed right after the commit that passes the allowance: by
        SQLite in the writer, or, for the server (``background_checkpoint``), by
        ``_checkpointer()`` beside it; past 1.5x the writer checkpoints and truncates it
        itself (``_shrink_wal``). A WAL left bigger than the allowance is cut back to it
        when it restarts. ``head`` is compacted past it.
        """
        share = self._db_bytes() // OVERHEAD_SHARE
        allowance = min(OVERHEAD_CAP_BYTES, max(OVERHEAD_FLOOR_BYTES, share))
        wal = min(OVERHEAD_CAP_BYTES, max(WAL_FLOOR_BYTES, share))
        if allowance == self._allowance and wal == self._wal_allowance:
            return
        with self._lock:
            self._allowance = allowance
            self._wal_allowance = wal
            pages = max(1, wal // self._page_bytes())
            if self._background:
                pages = 0  # _checkpointer() copies the WAL, beside the writer
            self._w.execute("PRAGMA wal_autocheckpoint = %d" % pages)
            self._w.execute("PRAGMA journal_size_limit = %d" % wal)

    def _page_bytes(self) -> int:
        return int(self._w.execute("PRAGMA page_size").fetchone()[0]) + 24  # frame header

    def _settle(self) -> None:
        """After a write (lock held): head grown by ``HEAD_MAX_POINTS`` (memory) or past its
        allowance (disk) is compacted, the filling windows carried; and a WAL that one
        big transaction (windows closing) grew is cut back at once."""
        if (
            self._head_points - self._carried >= HEAD_MAX_POINTS
            or self._head_bytes > self._allowance
        ):
            self._compact_head()
        self._shrink_wal()

    def _shrink_wal(self) -> None:
        """Checkpoint and truncate a WAL past 1.5x its allowance (lock held).

        Readers that keep starting could keep a passive checkpoint from ever finishing:
        this one holds the write lock, so the readers it waits for (at most
        SHRINK_WAIT_MS; queries hold a snapshot only while fetching blobs) are the last.
        With the checkpoint thread, the writer truncates past 1.5x only when the thread
        is not copying (it would find SQLite's checkpoint lock taken and cut nothing),
        and past 2x waits for it: a bulk ingest seldom waits.
        """
        try:
            wal_bytes = os.path.getsize(str(self.path) + "-wal")
        except OSError:
            return
        if wal_bytes > self._wal_allowance and self._background:
            self._wal_full.set()
        if 2 * wal_bytes <= 3 * self._wal_allowance:
            return
        if not self._copying.acquire(blocking=wal_bytes > 2 * self._wal_allowance):
            return
        self._w.execute("PRAGMA busy_timeout = %d" % SHRINK_WAIT_MS)
        try:
            self._w.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            self._copying.release()
            self._w.execute("PRAGMA busy_timeout = %d" % BUSY_TIMEOUT_MS)

    def maintain(self, now_ms: int | None = None) -> None:
        """Close windows of series that went silent (called from a background thread).

        Without ``now_ms`` (the background loop), a series that received points
        in the last ``QUIET_S`` is left to close its windows by its own
        timestamps: a backfill of old data would otherwise have its filling
        window written (and rewritten, merged, its rollups too) every second.
        """
        clock_s = self._clock()  # type: ignore[operator]
        with self._lock:
            if now_ms is None:
                quiet = clock_s - QUIET_S
                sids = [s for s in self._open if self._arrived.get(s, 0.0) <= quiet]
                self._close_due(sids, int(clock_s * 1000))
            else:
                self._close_due(list(self._open), now_ms)
            self._shrink_wal()

    def checkpoint(self) -> None:
        """Background upkeep, every second: the allowances follow the database's size,
        free pages past the allowance go back to the disk, and a WAL that readers kept
        from restarting is checkpointed and truncated.

        Checkpoints themselves run when the WAL passes its allowance
        (``_scale_overhead``), not once a second: a bulk ingest outran that.
        """
        if not self._background:
            return
        self._scale_overhead()
        with self._lock:
            self._vacuum(self._allowance // self._page_bytes())
            self._shrink_wal()

    def _checkpointer(self) -> None:
        """Copy the WAL into the database whenever the writer finds it past its allowance.

        Why a thread: checkpoints in the writer (SQLite's autocheckpoint) held the event
        loop while copying pages, ~20% of a bulk ingest's time; SQLite copies them here
        without the GIL, beside the writer, which keeps appending. Once all frames are
        copied the writer's next commit restarts the WAL from its start, so the file
        stays near its allowance; ``_shrink_wal()`` remains the bound if this falls behind.
        """
        # no settings of its own: they are the writer's (and each would write a WAL frame)
        conn = self._sqlite()
        conn.execute("PRAGMA busy_timeout = %d" % BUSY_TIMEOUT_MS)
        try:
            while not self._stopping:
                if not self._wal_full.wait(1.0):
                    continue
                self._wal_full.clear()
                if self._stopping:
                    break
                try:
                    with self._copying:
                        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as e:  # disk full, I/O: the writer's bound still holds
                    log.warning("checkpoint: %s", e)
        finally:
            conn.close()

    def close(self) -> None:
        if self._ckpt_thread is not None:
            self._stopping = True
            self._wal_full.set()
            self._ckpt_thread.join()
            self._ckpt_thread = None
        try:
            self.compact()
        except sqlite3.Error as e:  # head keeps the points: the next start writes them
            log.warning("could not write the open blocks at shutdown: %s", e)
        with self._lock:
            try:
                self._vacuum(0)
            except sqlite3.Error as e:  # only disk space: the next start tries again
                log.warning("could not give free pages back to the disk: %s", e)
            self._w.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            self._w.close()
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def delete_before(
        self, ts_ms: int | None, minute_ms: int | None = None, hour_ms: int | None = None
    ) -> int:
        """Delete raw points older than ``ts_ms`` (None: keep them), rollups older than
        their own cutoffs (``ts_ms`` when not given); returns how many raw points went."""
        cut: dict[int, int] = {}
        for res, c in ((MINUTE_MS, minute_ms), (HOUR_MS, hour_ms)):
            if c is not None:
                cut[res] = c
            elif ts_ms is not None:
                cut[res] = ts_ms
        if ts_ms is None:
            ts_ms = -(2**62)
        total = 0
        for s in self.all_series():  # one short transaction per series: writers wait little
            with self._lock:
                total += self._delete_series_before(s.id, ts_ms, cut)
        return total

    def _delete_series_before(self, sid: int, ts_ms: int, cut: dict[int, int]) -> int:
        conn = self._w
        n = 0
        windows = self._open.get(sid, {})
        for w in list(windows):
            pts = windows[w]
            old = [t for t in pts if t < ts_ms]
            for t in old:
                del pts[t]
            n += len(old)
        conn.execute("BEGIN IMMEDIATE")
        try:
            if MINUTE_MS in cut and cut[MINUTE_MS] < ts_ms:
                self._keep_minutes(sid, ts_ms, cut[MINUTE_MS])
            (whole,) = conn.execute(
                "SELECT COALESCE(SUM(n), 0) FROM blocks WHERE series_id = ? AND start_ms + ? <= ?",
                (sid, WINDOW_MS, ts_ms),
            ).fetchone()
            conn.execute(
                "DELETE FROM blocks WHERE series_id = ? AND start_ms + ? <= ?",
                (sid, WINDOW_MS, ts_ms),
            )
            n += int(whole)
            row = conn.execute(
                "SELECT data FROM blocks WHERE series_id = ? AND start_ms = ?",
                (sid, window_of(ts_ms)),
            ).fetchone()
            if row is not None:
                ts, vs = decode_points(row[0])
                keep = [i for i, t in enumerate(ts) if t >= ts_ms]
                if len(keep) < len(ts):
                    n += len(ts) - len(keep)
                    raw = ([ts[i] for i in keep], [vs[i] for i in keep])
                    conn.execute(
                        "INSERT OR REPLACE INTO blocks (series_id, start_ms, n, data) "
                        "VALUES (?, ?, ?, ?)"
                        if keep
                        else "DELETE FROM blocks WHERE series_id = ? AND start_ms = ?",
                        (sid, window_of(ts_ms), len(keep), encode_points(*raw))
                        if keep
                        else (sid, window_of(ts_ms)),
                    )
            for res, c in cut.items():
                span = ROLLUP_SPAN_MS[res]
                conn.execute(
                    "DELETE FROM rollups WHERE series_id = ? AND res_ms = ? AND start_ms + ? <= ?",
                    (sid, res, span, c),
                )
                r = conn.execute(
                    "SELECT data FROM rollups WHERE series_id = ? AND res_ms = ? AND start_ms = ?",
                    (sid, res, c - c % span),
                ).fetchone()
                if r is not None:
                    rest = Rollup.decode(r[0]).without(0, c)
                    if len(rest):
                        conn.execute(
                            "UPDATE rollups SET data = ? "
                            "WHERE series_id = ? AND res_ms = ? AND start_ms = ?",
                            (rest.encode(), sid, res, c - c % span),
                        )
                    else:
                        conn.execute(
                            "DELETE FROM rollups "
                            "WHERE series_id = ? AND res_ms = ? AND start_ms = ?",
                            (sid, res, c - c % span),
                        )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._invalidate([sid])
        return n

    def _keep_minutes(self, sid: int, ts_ms: int, minute_cut_ms: int) -> None:
        """Before raw points older than ``ts_ms`` go, store the 1-minute buckets of those
        windows that had none stored (few points a minute) and are kept longer, from
        ``minute_cut_ms`` (inside the caller's transaction).

        Buckets already stored win: a window trimmed before keeps its whole first bucket.
        """
        conn = self._w
        span = ROLLUP_SPAN_MS[MINUTE_MS]
        for w, data in conn.execute(
            "SELECT start_ms, data FROM blocks WHERE series_id = ? AND start_ms < ? "
            "AND start_ms + ? > ? AND n <= ?",
            (sid, ts_ms, WINDOW_MS, minute_cut_ms, MINUTE_ROLLUP_MIN_POINTS),
        ).fetchall():
            fresh = Rollup.of_arrays(*decode_arrays(data), MINUTE_MS).slice(minute_cut_ms, ts_ms)
            if not len(fresh):
                continue
            s0 = w - w % span
            row = conn.execute(
                "SELECT data FROM rollups WHERE series_id = ? AND res_ms = ? AND start_ms = ?",
                (sid, MINUTE_MS, s0),
            ).fetchone()
            old = Rollup.decode(row[0]) if row else Rollup.empty()
            add = _missing(fresh, old)
            if len(add):
                conn.execute(
                    "INSERT OR REPLACE INTO rollups (series_id, res_ms, start_ms, data) "
                    "VALUES (?, ?, ?, ?)",
                    (sid, MINUTE_MS, s0, Rollup.concat([old, add]).encode()),
                )

    # -- reading ---------------------------------------------------------

    def has_series(self, metric: str, tags: dict[str, str]) -> bool:
        return (metric, tuple(sorted(tags.items()))) in self._fast

    def series_count(self) -> int:
        return len(self._by_id)

    def all_series(self) -> list[Series]:
        with self._lock:
            return list(self._by_id.values())

    def metrics(self) -> list[str]:
        return sorted({s.metric for s in self.all_series()})

    def series_for(self, metric: str) -> list[Series]:
        return [s for s in self.all_series() if s.metric == metric]

    def open_points(self, series_id: int) -> int:
        """Points of the series in its open windows (a query reads them raw)."""
        with self._lock:
            return sum(len(p) for p in self._open.get(series_id, {}).values())

    def _open_copy(self, sid: int, start_ms: int, end_ms: int) -> dict[int, dict[int, Value]]:
        with self._lock:
            windows = self._open.get(sid)
            if not windows:
                return {}
            lo = window_of(start_ms)
            return {w: dict(p) for w, p in windows.items() if lo <= w <= end_ms}

    def points(self, series_id: int, start_ms: int, end_ms: int) -> list[tuple[int, Value]]:
        """``(ts_ms, value)`` of one series with start <= ts <= end, oldest first."""
        opened = self._open_copy(series_id, start_ms, end_ms)
        rows = (
            self._reader()
            .execute(
                "SELECT start_ms, data FROM blocks WHERE series_id = ? AND start_ms BETWEEN ? AND ?"
                " ORDER BY start_ms",
                (series_id, window_of(start_ms), end_ms),
            )
            .fetchall()
        )
        out: list[tuple[int, Value]] = []
        done = set()
        for w, data in rows:
            ts, vs = decode_points(data)
            pts = opened.get(w)
            if pts:
                merged = dict(zip(ts, vs, strict=True))
                merged.update(pts)
                ts = sorted(merged)
                vs = [merged[t] for t in ts]
                done.add(w)
            out.extend(_between(ts, vs, start_ms, end_ms))
        for w in sorted(set(opened) - done):
            pts = opened[w]
            ts = sorted(pts)
            out.extend(_between(ts, [pts[t] for t in ts], start_ms, end_ms))
        if done != set(opened):
            out.sort(key=lambda p: p[0])
        return out

    def point_arrays(
        self, series_id: int, start_ms: int, end_ms: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """``points()`` as two arrays (timestamps, values): no Python object per point."""
        if self._open_copy(series_id, start_ms, end_ms):
            pts = self.points(series_id, start_ms, end_ms)
            return (
                np.array([t for t, _ in pts], dtype=np.int64),
                np.array([v for _, v in pts]),
            )
        tss, vss = [], []
        for ts, vs in self._blocks(series_id, start_ms, end_ms):
            i, j = np.searchsorted(ts, [start_ms, end_ms + 1])
            tss.append(ts[i:j])
            vss.append(vs[i:j])
        if not tss:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        return np.concatenate(tss), np.concatenate(vss)

    def _blocks(self, sid: int, start_ms: int, end_ms: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Decoded blocks of the windows overlapping [start, end], from the cache if there."""
        gen = self._gen.get(sid, 0)
        rows = (
            self._reader()
            .execute(
                "SELECT start_ms FROM blocks "
                "WHERE series_id = ? AND start_ms BETWEEN ? AND ? ORDER BY start_ms",
                (sid, window_of(start_ms), end_ms),
            )
            .fetchall()
        )
        out = []
        for (w,) in rows:
            key = (0, sid, w)
            got = self._cached(key)
            if got is None:
                row = (
                    self._reader()
                    .execute(
                        "SELECT data FROM blocks WHERE series_id = ? AND start_ms = ?", (sid, w)
                    )
                    .fetchone()
                )
                if row is None:
                    continue
                got = decode_arrays(row[0])
                self._keep(key, gen, got, got[0].nbytes + got[1].nbytes)
            out.append(got)
        return out

    def _rollups(self, sid: int, res_ms: int, start_ms: int, end_ms: int) -> list[Rollup]:
        span = ROLLUP_SPAN_MS[res_ms]
        gen = self._gen.get(sid, 0)
        out = []
        spans = (
            self._reader()
            .execute(
                "SELECT start_ms FROM rollups WHERE series_id = ? AND res_ms = ? "
                "AND start_ms BETWEEN ? AND ? ORDER BY start_ms",
                (sid, res_ms, start_ms - start_ms % span, end_ms),
            )
            .fetchall()
        )
        for (s,) in spans:
            key = (1, sid, res_ms, s)
            got = self._cached(key)
            if got is None:
                row = (
                    self._reader()
                    .execute(
                        "SELECT data FROM rollups "
                        "WHERE series_id = ? AND res_ms = ? AND start_ms = ?",
                        (sid, res_ms, s),
                    )
                    .fetchone()
                )
                got = Rollup.decode(row[0]) if row is not None else Rollup.empty()
                self._keep(key, gen, got, 40 * len(got) + 100)
            out.append(got)
        return out

    def warm(self, now_ms: int, idle: Callable[[], None] | None = None) -> int:
        """Ready the read path before the first query: this thread's connection, then
        decoded into the cache, most needed first: the hour rollups of the last 30 days,
        each series' newest block (every view ending now reads it), the block where a
        1-day view starts (its ragged first hour is read raw), the last day's minute
        buckets (the 1-day view's 5-minute averages).

        Why: the first query after a restart paid for thread and connection set-up and
        for decoding what every long-range view reads first. ``idle()`` is called
        between series: the server's waits there while queries run, so a warm-up that
        is still going does not halve their share of the CPU. Returns the rows decoded.
        """
        n = 0
        steps: list[Callable[[int], int]] = [
            lambda sid: len(self._rollups(sid, HOUR_MS, now_ms - ROLLUP_SPAN_MS[HOUR_MS], now_ms)),
            lambda sid: len(self._blocks(sid, now_ms - WINDOW_MS, now_ms)),
            lambda sid: len(self._blocks(sid, now_ms - DAY_MS, now_ms - DAY_MS)),
            lambda sid: len(self.rollup(sid, MINUTE_MS, now_ms - DAY_MS, now_ms)) > 0,
        ]
        for step in steps:
            for s in self.all_series():
                if idle is not None:
                    idle()
                n += step(s.id)
                if self._cache_bytes > CACHE_MAX_BYTES // 2:
                    return n  # leave room for what queries ask
        return n

    def rollup(self, series_id: int, res_ms: int, start_ms: int, end_ms: int) -> Rollup:
        """Buckets of ``res_ms`` with start_ms <= ts < end_ms, from windows not reopened.

        The caller reads raw points for the open windows (``open_windows``).
        """
        r = Rollup.concat(
            [x.slice(start_ms, end_ms) for x in self._rollups(series_id, res_ms, start_ms, end_ms)]
        )
        if res_ms == MINUTE_MS:
            r = self._block_minutes(series_id, r, start_ms, end_ms)
        for w in self.open_windows(series_id, start_ms, end_ms):
            r = r.without(w, w + WINDOW_MS)
        return r

    def _block_minutes(self, sid: int, stored: Rollup, start_ms: int, end_ms: int) -> Rollup:
        """``stored`` minute buckets and those of the windows that keep none (few points a
        minute, ``MINUTE_ROLLUP_MIN_POINTS``), made from their blocks (cached)."""
        gen = self._gen.get(sid, 0)
        rows = (
            self._reader()
            .execute(
                "SELECT start_ms FROM blocks WHERE series_id = ? AND start_ms BETWEEN ? AND ? "
                "AND n <= ? ORDER BY start_ms",
                (sid, window_of(start_ms), end_ms - 1, MINUTE_ROLLUP_MIN_POINTS),
            )
            .fetchall()
        )
        made: dict[int, Rollup] = {}
        todo = []
        for (w,) in rows:
            got = self._cached((2, sid, w))
            if got is None:
                todo.append(w)
            else:
                made[w] = got
        if todo:  # one statement, one pass of numpy over the windows not cached
            wanted = set(todo)
            blocks = {
                w: decode_arrays(data)
                for w, data in self._reader().execute(
                    "SELECT start_ms, data FROM blocks WHERE series_id = ? "
                    "AND start_ms BETWEEN ? AND ?",
                    (sid, todo[0], todo[-1]),
                )
                if w in wanted
            }
            ws = sorted(blocks)
            if len({blocks[w][1].dtype for w in ws}) > 1:  # ints and floats: each its own type
                groups = [[w] for w in ws]
            else:
                groups = [ws] if ws else []
            for group in groups:
                r = Rollup.of_arrays(
                    np.concatenate([blocks[w][0] for w in group]),
                    np.concatenate([blocks[w][1] for w in group]),
                    MINUTE_MS,
                )
                cuts = np.searchsorted(r.ts, group + [group[-1] + WINDOW_MS])
                for k, w in enumerate(group):
                    got = r.slice_at(int(cuts[k]), int(cuts[k + 1]))
                    self._keep((2, sid, w), gen, got, 40 * len(got) + 100)
                    made[w] = got
        parts = [stored]
        for w in sorted(made):
            got = made[w].slice(start_ms, end_ms)
            parts.append(_missing(got, stored) if len(stored) else got)
        return Rollup.concat(parts)

    def open_windows(self, series_id: int, start_ms: int, end_ms: int) -> list[int]:
        """Starts of the windows with points not yet in their block (and rollups)."""
        with self._lock:
            windows = self._open.get(series_id) or {}
            lo = window_of(start_ms)
            return sorted(w for w, p in windows.items() if p and lo <= w <= end_ms)

    def last(self, series_id: int, since_ms: int) -> tuple[int, Value] | None:
        """The newest ``(ts_ms, value)`` of a series at or after ``since_ms``, if any."""
        with self._lock:
            windows = self._open.get(series_id) or {}
            best: tuple[int, Value] | None = None
            for pts in windows.values():
                for t, v in pts.items():
                    if t >= since_ms and (best is None or t > best[0]):
                        best = (t, v)
        row = (
            self._reader()
            .execute(
                "SELECT start_ms, data FROM blocks WHERE series_id = ? AND start_ms >= ? "
                "ORDER BY start_ms DESC LIMIT 1",
                (series_id, window_of(since_ms)),
            )
            .fetchone()
        )
        if row is not None and (best is None or best[0] < row[0] + WINDOW_MS):
            ts, vs = decode_points(row[1])
            if ts and ts[-1] >= since_ms and (best is None or ts[-1] > best[0]):
                best = (ts[-1], vs[-1])
        return best

    def count_points(self) -> int:
        return sum(1 for _ in self.iter_all())

    def iter_all(self) -> Iterator[Row]:
        """Every stored point as ``(metric, tags, ts_ms, value)`` (tests, export)."""
        for s in sorted(self.all_series(), key=lambda s: s.id):
            for ts, v in self.points(s.id, -(2**62), 2**62):
                yield s.metric, s.tags, ts, v


def _missing(r: Rollup, have: Rollup) -> Rollup:
    """The buckets of ``r`` whose start ``have`` lacks."""
    keep = ~np.isin(r.ts, have.ts)
    return Rollup(r.ts[keep], r.count[keep], r.min[keep], r.max[keep], r.sum[keep])


def _between(ts: list[int], vs: list[Value], start_ms: int, end_ms: int) -> list[tuple[int, Value]]:
    import bisect

    i = bisect.bisect_left(ts, start_ms)
    j = bisect.bisect_right(ts, end_ms)
    return list(zip(ts[i:j], vs[i:j], strict=True))

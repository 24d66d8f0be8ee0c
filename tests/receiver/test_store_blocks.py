"""The compressed store on a real SQLite file: blocks, late and repeated points, crash
replay, migration from the row-per-point format, rollups answering like raw points."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tspush.receiver import query as q
from tspush.receiver import rollups
from tspush.receiver.store import WINDOW_MS, Store

DAY_MS = 86_400_000
T0_MS = 1_700_006_400_000  # a multiple of 3 h: windows start on it


def walk(n: int, seed: int, start: float = 20.0) -> list[float]:
    rng = random.Random(seed)
    v, out = start, []
    for _ in range(n):
        v = round(v + rng.gauss(0, 0.05), 2)
        out.append(v)
    return out


def rows_of(db: Path, *where: str) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM %s" % where).fetchone()[0])
    finally:
        conn.close()


def test_late_repeated_and_replaced_points_land_once(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite"
    s = Store(db)
    n = 2 * 8640  # two days of 10 s points
    vals = walk(n, 1)
    order = list(range(n))
    random.Random(2).shuffle(order)  # a spool replayed in any order
    for i in range(0, n, 50):
        s.insert([("t", {"host": "a"}, T0_MS + j * 10_000, vals[j]) for j in order[i : i + 50]])
    # resends of what is already in closed blocks: identical, then one changed value
    s.insert([("t", {"host": "a"}, T0_MS + j * 10_000, vals[j]) for j in range(100)])
    s.insert([("t", {"host": "a"}, T0_MS + 5 * 10_000, 99.5)])
    expected = dict(zip([T0_MS + j * 10_000 for j in range(n)], vals, strict=True))
    expected[T0_MS + 50_000] = 99.5
    got = {ts: v for _, _, ts, v in s.iter_all()}
    assert got == expected
    s.close()
    assert rows_of(db, "head") == 0
    assert rows_of(db, "blocks") == 2 * DAY_MS // WINDOW_MS  # one block per 3-hour window
    s = Store(db)
    assert {ts: v for _, _, ts, v in s.iter_all()} == expected
    assert len(list(s.iter_all())) == n
    s.close()


def test_points_not_yet_in_blocks_come_back_after_a_crash(tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite"
    first = Store(db)
    pts = [("c", {"k": "v"}, T0_MS + i * 1000, i) for i in range(500)]
    pts += [("c", {"k": "f"}, T0_MS + i * 1000, i / 4) for i in range(500)]
    first.insert(pts)
    assert rows_of(db, "head") == 1  # acknowledged = committed in head, before any block
    # no close(): the process was killed; a new one opens the same file
    second = Store(db)
    assert sorted(second.iter_all(), key=lambda r: (r[1]["k"], r[2])) == sorted(
        pts, key=lambda r: (r[1]["k"], r[2])
    )
    assert [type(v) for _, t, _, v in second.iter_all() if t["k"] == "v"][:2] == [int, int]
    assert rows_of(db, "head") == 0  # written into blocks at start-up
    second.close()


OLD_SCHEMA = """
CREATE TABLE series (id INTEGER PRIMARY KEY, metric TEXT NOT NULL, tags TEXT NOT NULL,
    UNIQUE (metric, tags));
CREATE TABLE points (series_id INTEGER NOT NULL, ts_ms INTEGER NOT NULL, value,
    PRIMARY KEY (series_id, ts_ms)) WITHOUT ROWID;
"""


def test_a_database_of_the_row_format_is_migrated_whole(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA page_size = 1024")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.executescript(OLD_SCHEMA)
    conn.execute("INSERT INTO series VALUES (1, 'temp', '{\"host\":\"a\"}')")
    conn.execute("INSERT INTO series VALUES (2, 'count', '{}')")
    conn.execute("INSERT INTO series VALUES (3, 'mixed', '{\"k\":\"v\"}')")
    vals = walk(3000, 5)
    old: list[tuple[int, int, Any]] = [(1, T0_MS + i * 10_000, v) for i, v in enumerate(vals)]
    old += [(2, T0_MS + i * 60_000, 2**62 + i) for i in range(400)]
    old += [(3, T0_MS + i * 1000, i if i % 2 else i + 0.5) for i in range(50)]
    conn.executemany("INSERT INTO points VALUES (?, ?, ?)", old)
    conn.commit()
    conn.close()
    s = Store(db)
    got = sorted((sid, ts, v) for sid, ts, v in _with_ids(s))
    assert got == sorted(old)
    assert [type(v) for sid, _, v in got if sid == 3][:2] == [float, int]
    s.close()
    conn = sqlite3.connect(db)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    conn.close()
    assert "points" not in tables and "blocks" in tables
    s = Store(db)  # a second start finds nothing left to migrate and the same points
    assert sorted(_with_ids(s)) == sorted(old)
    s.close()


def _with_ids(s: Store) -> list[tuple[int, int, Any]]:
    return [(x.id, ts, v) for x in s.all_series() for ts, v in s.points(x.id, 0, 2**62)]


def test_compact_at_rest(tmp_path: Path) -> None:
    """Ten series, three days of 10 s readings: a few bytes per point, not the 24 of rows."""
    db = tmp_path / "z.sqlite"
    s = Store(db)
    n = 3 * 8640
    for k in range(10):
        vals = walk(n, 10 + k)
        for i in range(0, n, 500):
            s.insert(
                [
                    ("room.temp", {"host": "b%d" % k}, T0_MS + j * 10_000, vals[j])
                    for j in range(i, min(i + 500, n))
                ]
            )
    s.close()
    per_point = db.stat().st_size / (10 * n)
    assert per_point < 2.0, per_point  # 1.75 when measured


@pytest.fixture
def three_days(tmp_path: Path) -> Store:
    s = Store(tmp_path / "r.sqlite")
    n = 3 * 8640
    for k, host in enumerate(("a", "b", "c")):
        vals: list[Any] = walk(n, 20 + k)
        if host == "c":
            vals = [int(v * 100) for v in vals]  # an integer series: answers stay ints
        for i in range(0, n, 1000):
            s.insert(
                [
                    ("m", {"host": host}, T0_MS + 7_000 + j * 10_000, vals[j])
                    for j in range(i, min(i + 1000, n))
                ]
            )
    # a late point into a closed window (reopened, not in its rollups yet)
    s.insert([("m", {"host": "a"}, T0_MS + DAY_MS + 3_000, 500.0)])
    return s


@pytest.mark.parametrize(
    "ds", ["1h-avg", "2h-max", "1m-sum-zero", "30m-min", "1h-count", "0all-avg", "6h-avg-null"]
)
@pytest.mark.parametrize("span", [(0, 3 * DAY_MS), (1_234_567, 2 * DAY_MS + 99_999)])
def test_rollups_answer_what_raw_points_answer(
    three_days: Store, monkeypatch: pytest.MonkeyPatch, ds: str, span: tuple[int, int]
) -> None:
    body = {
        "start": T0_MS + span[0],
        "end": T0_MS + span[1],
        "msResolution": True,
        "queries": [{"metric": "m", "aggregator": "none", "downsample": ds}],
    }
    assert rollups.resolution_for(q.Downsample(ds).interval_ms, q.Downsample(ds).agg_name)
    from_rollups = q.run(three_days, q.Query(body))
    monkeypatch.setattr(rollups, "resolution_for", lambda *a: None)
    from_raw = q.run(three_days, q.Query(body))
    assert len(from_rollups) == len(from_raw) == 3
    for a, b in zip(from_rollups, from_raw, strict=True):
        assert a["tags"] == b["tags"]
        assert a["dps"].keys() == b["dps"].keys()
        for k, v in b["dps"].items():
            assert type(a["dps"][k]) is type(v), (k, a["dps"][k], v)
            if v is not None:
                assert a["dps"][k] == pytest.approx(v, rel=1e-12), (k, a["dps"][k], v)


def test_one_request_is_bounded_in_points(three_days: Store) -> None:
    body = {
        "start": T0_MS,
        "end": T0_MS + 3 * DAY_MS,
        "msResolution": True,
        "queries": [{"metric": "m", "aggregator": "none"}],
    }
    old = q.MAX_RESULT_POINTS
    q.MAX_RESULT_POINTS = 50_000  # 3 series x 25,920 points: over, though each is under
    try:
        with pytest.raises(q.ApiError, match="Too many points for one query"):
            q.run(three_days, q.Query(body))
    finally:
        q.MAX_RESULT_POINTS = old
    got = sum(len(r["dps"]) for r in q.run(three_days, q.Query(body)))
    assert got == 3 * 3 * 8640 + 1  # and the late point


def test_retention_deletes_raw_points_and_counts_them(tmp_path: Path) -> None:
    s = Store(tmp_path / "d.sqlite")
    n = 8640
    s.insert([("r", {}, T0_MS + i * 10_000, float(i)) for i in range(n)])
    cut = T0_MS + DAY_MS // 2 + 5_000
    assert s.delete_before(cut) == n // 2 + 1
    got = [ts for _, _, ts, _ in s.iter_all()]
    assert got[0] == T0_MS + DAY_MS // 2 + 10_000 and len(got) == n // 2 - 1
    hours = s.rollup(s.all_series()[0].id, 3_600_000, 0, 2**62)
    assert int(hours.ts[0]) >= cut - cut % 3_600_000
    s.close()


def test_hour_rollups_outlive_raw_points(tmp_path: Path) -> None:
    """--retention 1d --retention-1h 5y: the 1-hour view of older days stays."""
    s = Store(tmp_path / "h.sqlite")
    n = 2 * 8640
    s.insert([("r", {}, T0_MS + i * 10_000, float(i % 360)) for i in range(n)])
    s.maintain(T0_MS + 3 * DAY_MS)  # the series went silent: every window closes
    assert s.delete_before(T0_MS + DAY_MS, hour_ms=0) == n // 2
    assert s.points(s.all_series()[0].id, 0, T0_MS + DAY_MS - 1) == []
    body = {
        "start": T0_MS,
        "end": T0_MS + 2 * DAY_MS - 1,
        "msResolution": True,
        "queries": [{"metric": "r", "aggregator": "sum", "downsample": "1h-avg"}],
    }
    (res,) = q.run(s, q.Query(body))
    assert len(res["dps"]) == 48  # 24 hours from rollups alone, 24 from rollups and raw
    assert res["dps"][str(T0_MS)] == pytest.approx(179.5)
    s.delete_before(None, minute_ms=None, hour_ms=T0_MS + DAY_MS)
    (res,) = q.run(s, q.Query(body))
    assert len(res["dps"]) == 24
    s.close()


def test_disk_while_ingesting_stays_within_twice_the_data_with_readers(tmp_path: Path) -> None:
    """A relay replaying a backlog while the dashboard reads: WAL and head are cut back in
    proportion to the data, so the files never hold more than twice what they hold at rest
    (the old fixed allowance, 8 MiB of WAL and 100,000 points of head, was 4-5x here)."""
    import threading

    db = tmp_path / "w.sqlite"
    s = Store(db, background_checkpoint=True)
    stop = threading.Event()
    reads = [0]

    def reader() -> None:
        while not stop.is_set():
            for x in s.all_series():
                s.points(x.id, T0_MS, T0_MS + DAY_MS)
            reads[0] += 1

    def checkpointer() -> None:
        while not stop.is_set():
            s.maintain(T0_MS)
            s.checkpoint()
            stop.wait(0.05)

    threads = [threading.Thread(target=reader), threading.Thread(target=checkpointer)]
    for t in threads:
        t.start()
    files = [db, Path(str(db) + "-wal"), Path(str(db) + "-shm")]
    biggest = 0
    n = 25_900  # 3 days of 20 boards, 50 readings a request
    vals = walk(n, 7)
    try:
        for i in range(0, n - 50, 50):
            for k in range(20):
                s.insert(
                    [
                        ("bulk", {"host": "b%d" % k}, T0_MS + j * 10_000, vals[j] + k)
                        for j in range(i, i + 50)
                    ]
                )
            biggest = max(biggest, sum(f.stat().st_size for f in files if f.exists()))
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert reads[0] > 0
    s.close()
    s = Store(db)  # at rest: what a restart finds
    assert len(list(s.iter_all())) == 20 * (n - 50)
    rest = sum(f.stat().st_size for f in files if f.exists())
    s.close()
    assert biggest <= 2 * rest, (biggest, rest)


def test_decoded_cache_never_serves_what_was_rewritten(three_days: Store) -> None:
    body = {
        "start": T0_MS,
        "end": T0_MS + DAY_MS - 1,
        "msResolution": True,
        "queries": [
            {"metric": "m", "aggregator": "max", "downsample": "1h-max", "tags": {"host": "b"}}
        ],
    }
    key = str(T0_MS + 7_200_000)
    before = q.run(three_days, q.Query(body))[0]["dps"][key]
    assert q.run(three_days, q.Query(body))[0]["dps"][key] == before  # now from the cache
    three_days.insert([("m", {"host": "b"}, T0_MS + 7_200_000 + 7_000, 1e6)])  # reopens
    assert q.run(three_days, q.Query(body))[0]["dps"][key] == 1e6
    three_days.maintain(T0_MS + 10 * DAY_MS)  # written again: block and rollups
    assert three_days.open_windows(three_days.all_series()[1].id, 0, 2**62) == []
    assert q.run(three_days, q.Query(body))[0]["dps"][key] == 1e6
    three_days.delete_before(T0_MS + DAY_MS)
    assert q.run(three_days, q.Query(body)) == []


def test_int64_extremes_are_stored_exactly_and_sums_do_not_wrap(tmp_path: Path) -> None:
    """Issue 13 item 16: integers are int64 in blocks, exact; wider ones are refused."""
    s = Store(tmp_path / "i.sqlite")
    big = [2**63 - 1, -(2**63), 2**63 - 2, 2**53 + 1]
    s.insert([("big", {}, T0_MS + i * 10_000, v) for i, v in enumerate(big)])
    s.maintain(T0_MS + DAY_MS)  # into a block and rollups
    assert [v for _, _, _, v in s.iter_all()] == big
    assert all(type(v) is int for _, _, _, v in s.iter_all())
    body = {
        "start": T0_MS,
        "end": T0_MS + 3_599_999,
        "msResolution": True,
        "queries": [{"metric": "big", "aggregator": "sum", "downsample": "1h-max"}],
    }
    assert q.run(s, q.Query(body))[0]["dps"] == {str(T0_MS): 2**63 - 1}
    body["queries"][0]["downsample"] = "1h-sum"  # type: ignore[index]
    total = q.run(s, q.Query(body))[0]["dps"][str(T0_MS)]
    assert total == pytest.approx(float(sum(big)))  # a float, not a wrapped int64
    with pytest.raises(TypeError):
        s.insert([("big", {}, T0_MS, 2**64)])
    assert len(list(s.iter_all())) == 4
    s.close()


def test_warm_decodes_hour_rollups_before_the_first_query(tmp_path: Path) -> None:
    """The first query after a restart finds the hour rollups decoded (and the same answer)."""
    db = tmp_path / "warm.sqlite"
    s = Store(db)
    n = 2 * 8640  # 2 days, 480-point requests
    for k in range(3):
        vals = walk(n, 40 + k)
        for i in range(0, n, 480):
            s.insert(
                [("w", {"host": "h%d" % k}, T0_MS + j * 10_000, vals[j]) for j in range(i, i + 480)]
            )
    s.close()
    body = {
        "start": T0_MS,
        "end": T0_MS + 2 * DAY_MS - 1,
        "queries": [{"metric": "w", "aggregator": "avg", "downsample": "1h-avg"}],
    }
    cold = Store(db)
    expected = q.run(cold, q.Query(body))
    cold.close()
    s = Store(db)
    # per series: its 30-day hour rollup row, and the last day's minute buckets (made from
    # the blocks: one point every 10 s stores none)
    assert s.warm(T0_MS + 2 * DAY_MS) >= 3 * (1 + 1)
    sid = s.all_series()[0].id
    assert s._cached((1, sid, 3_600_000, T0_MS - T0_MS % (30 * DAY_MS))) is not None
    assert (
        s._reader().execute("SELECT COUNT(*) FROM rollups WHERE res_ms = 60000").fetchone()[0] == 0
    )
    last_window = T0_MS + 2 * DAY_MS - WINDOW_MS
    assert s._cached((2, sid, last_window)) is not None
    assert q.run(s, q.Query(body)) == expected
    s.close()


def test_squashed_head_comes_back_after_a_crash(tmp_path: Path) -> None:
    """head past its allowance is rewritten compressed (no block written yet): a kill
    then loses nothing, and later request rows still win over the squashed ones."""
    db = tmp_path / "sq.sqlite"
    first = Store(db)
    n = 6000  # about 150 KB of JSON rows: past the 64 KiB floor, squashed on the way
    pts = [("sq", {"host": "h%d" % (i % 3)}, T0_MS + (i // 3) * 1000, i * 0.25) for i in range(n)]
    for i in range(0, n, 60):
        first.insert(pts[i : i + 60])
    conn = sqlite3.connect(db)
    kinds = [bytes(r[0][:1]) for r in conn.execute("SELECT data FROM head ORDER BY id")]
    conn.close()
    assert kinds[:3] == [b"S"] * 3 and kinds[-1] == b"D"  # squashed rows, then requests
    assert rows_of(db, "blocks") == 0  # nothing written as blocks: all still open
    first.insert([("sq", {"host": "h0"}, T0_MS, 99.0)])  # replaces a squashed point
    expected = {(r[1]["host"], r[2]): r[3] for r in pts}
    expected[("h0", T0_MS)] = 99.0
    # no close(): the process was killed; a new one opens the same file
    second = Store(db)
    assert {(r[1]["host"], r[2]): r[3] for r in second.iter_all()} == expected
    second.close()


def test_a_bulk_ingest_carries_filling_windows_in_head_and_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Head compaction writes the windows due and carries the filling ones (never a partial
    block to merge minutes later); a kill after it loses nothing (the next start replays)."""
    from tspush.receiver import store as store_mod

    monkeypatch.setattr(store_mod, "HEAD_MAX_POINTS", 2_000)
    db = tmp_path / "c.sqlite"
    s = Store(db)
    sent: dict[tuple[str, int], float] = {}
    for i in range(0, 3 * 1080 + 500, 50):  # 3 windows and a half of 4 boards, in time order
        for k in range(4):
            batch = [
                ("c", {"host": "b%d" % k}, T0_MS + j * 10_000, float(j * 10 + k))
                for j in range(i, i + 50)
            ]
            s.insert(batch)
            sent.update({("b%d" % k, ts): v for _, _, ts, v in batch})
    conn = sqlite3.connect(db)
    blocks = conn.execute("SELECT series_id, start_ms, n FROM blocks").fetchall()
    head = conn.execute("SELECT data FROM head").fetchall()
    conn.close()
    # every block is a whole window written once: 4 boards x 3 closed windows of 1,080 points
    assert sorted(n for _, _, n in blocks) == [1080] * 12
    assert len(head) < 2_000 // 50 + 2  # emptied at least once, the filling windows carried
    # killed now (no close()): a new process replays head and finds every point
    got = {(tags["host"], ts): v for _, tags, ts, v in Store(db).iter_all()}
    assert got == sent


def test_background_maintain_leaves_a_series_being_written_to_its_own_pace(
    tmp_path: Path,
) -> None:
    from tspush.receiver import store as store_mod

    now = [T0_MS / 1000 + 30 * 86_400]  # a backfill: the data is a month old
    s = Store(tmp_path / "m.sqlite", clock=lambda: now[0])
    s.insert([("m", {}, T0_MS + j * 10_000, 1.0) for j in range(100)])
    sid = s.all_series()[0].id
    s.maintain()  # points just arrived: the window stays open, however old
    assert s.open_windows(sid, 0, 2**62) == [T0_MS]
    now[0] += store_mod.QUIET_S + 1  # then silent: closed by the clock
    s.maintain()
    assert s.open_windows(sid, 0, 2**62) == []
    assert len(s.points(sid, 0, 2**62)) == 100
    s.close()


def test_a_servers_wal_is_copied_by_its_checkpoint_thread_and_the_thread_stops(
    tmp_path: Path,
) -> None:
    """The server's writer never checkpoints below 1.5x the WAL's allowance: the thread
    beside it copies the WAL into the database file once it passes the allowance."""
    import threading
    import time

    db = tmp_path / "t.sqlite"
    s = Store(db, background_checkpoint=True)
    assert s._w.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    wal = Path(str(db) + "-wal")
    i = 0
    from tspush.receiver.store import WAL_FLOOR_BYTES

    while not wal.exists() or wal.stat().st_size <= WAL_FLOOR_BYTES:  # the allowance's floor
        s.insert([("t", {"host": "a"}, T0_MS + (i * 50 + j) * 10_000, 1.5) for j in range(50)])
        i += 1
    assert wal.stat().st_size < 2 * WAL_FLOOR_BYTES  # below the writer's own bound

    def in_db_file() -> int:  # the database file alone, without the WAL
        conn = sqlite3.connect("file:%s?immutable=1" % db, uri=True)
        try:
            return int(conn.execute("SELECT COUNT(*) FROM head").fetchone()[0])
        except sqlite3.DatabaseError:  # not copied yet: the file has no tables
            return 0
        finally:
            conn.close()

    deadline = time.monotonic() + 30
    while in_db_file() < i and time.monotonic() < deadline:
        time.sleep(0.05)
    assert in_db_file() == i  # every request's head row, copied without the writer
    s.close()
    assert not [t for t in threading.enumerate() if t.name == "tspush-checkpoint"]
    s = Store(db)
    assert len(list(s.iter_all())) == 50 * i
    s.close()


def test_head_rows_of_every_kind_come_back_in_order(tmp_path: Path) -> None:
    """A request's row (runs of series, timestamp deltas, out of order too), and a row as
    versions before wrote it (JSON triples): a start replays both, the later one winning."""
    db = tmp_path / "k.sqlite"
    s = Store(db)
    pts = [
        ("k", {"host": "a"}, T0_MS + 20_000, 1),
        ("k", {"host": "a"}, T0_MS, 2.5),  # out of order: a negative delta
        ("k", {"host": "b"}, T0_MS, -(2**63)),
        ("k", {"host": "a"}, T0_MS + 10_000, 2**63 - 1),
    ]
    s.insert(pts)
    ids = {x.tags["host"]: x.id for x in s.all_series()}
    s._w.close()  # killed: no compaction at shutdown
    conn = sqlite3.connect(db)
    kinds = [bytes(r[0][:1]) for r in conn.execute("SELECT data FROM head")]
    old = "[[%d,%d,7.25],[%d,%d,8]]" % (ids["a"], T0_MS, ids["b"], T0_MS + 30_000)
    conn.execute("INSERT INTO head (data) VALUES (?)", (old.encode(),))
    conn.commit()
    conn.close()
    assert kinds == [b"D"]
    s = Store(db)
    got = {(r[1]["host"], r[2]): r[3] for r in s.iter_all()}
    assert got == {
        ("a", T0_MS): 7.25,
        ("a", T0_MS + 10_000): 2**63 - 1,
        ("a", T0_MS + 20_000): 1,
        ("b", T0_MS): -(2**63),
        ("b", T0_MS + 30_000): 8,
    }
    assert [type(got[("a", T0_MS + 20_000)]), type(got[("b", T0_MS + 30_000)])] == [int, int]
    s.close()


def test_a_restart_writes_nothing_to_the_wal(tmp_path: Path) -> None:
    """Opening the store (writer and checkpoint thread) rewrites no page: at rest the WAL is
    empty (each connection setting auto_vacuum again wrote page 1, 4 KiB, at every start)."""
    db = tmp_path / "r.sqlite"
    s = Store(db)
    s.insert([("r", {}, T0_MS + i * 10_000, float(i)) for i in range(500)])
    s.close()
    s = Store(db, background_checkpoint=True)
    assert Path(str(db) + "-wal").stat().st_size == 0
    assert s._w.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental, as made
    assert len(list(s.iter_all())) == 500
    s.close()


def test_the_wal_index_is_in_memory_and_the_file_is_this_process_s(tmp_path: Path) -> None:
    """No 32 KiB ``-shm`` file beside the database (it was 0.38 B a point of a 10-series
    day at rest); another process opening the file is refused with a clear error, while
    this process's connections (writer, readers, checkpoint thread) share it."""
    import subprocess
    import sys

    db = tmp_path / "x.sqlite"
    s = Store(db, background_checkpoint=True)
    s.insert([("m", {"k": "v"}, T0_MS + i * 10_000, float(i)) for i in range(100)])
    assert len(s.points(1, T0_MS, T0_MS + DAY_MS)) == 100  # a reader connection
    assert Path(str(db) + "-wal").exists()
    assert not Path(str(db) + "-shm").exists()
    code = (
        "import sys\n"
        "from tspush.core.errors import ConfigError\n"
        "from tspush.receiver import store\n"
        "store.BUSY_TIMEOUT_MS = 100\n"
        "try:\n"
        "    store.Store(sys.argv[1])\n"
        "except ConfigError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(db)], capture_output=True, text=True, timeout=60
    )
    assert "another process has this database open" in out.stdout, out
    s.close()
    again = Store(db)  # the lock went with the first store
    assert len(list(again.iter_all())) == 100
    again.close()


def minute_rows(s: Store) -> int:
    return int(
        s._reader().execute("SELECT COUNT(*) FROM rollups WHERE res_ms = 60000").fetchone()[0]
    )


def by_minute(s: Store, metric: str, start_ms: int, end_ms: int, raw: bool = False) -> Any:
    body = {
        "start": start_ms,
        "end": end_ms,
        "msResolution": True,
        "queries": [{"metric": metric, "aggregator": "none", "downsample": "1m-sum"}],
    }
    if not raw:
        return q.run(s, q.Query(body))
    old = rollups.resolution_for
    rollups.resolution_for = lambda *a: None  # type: ignore[assignment]
    try:
        return q.run(s, q.Query(body))
    finally:
        rollups.resolution_for = old


def same(a: Any, b: Any, types: bool = True) -> bool:
    """Two answers alike: the same buckets, sums equal but for the order of additions."""
    assert [r["dps"].keys() for r in a] == [r["dps"].keys() for r in b]
    for x, y in zip(a, b, strict=True):
        for k, v in y["dps"].items():
            assert not types or type(x["dps"][k]) is type(v), k
            assert x["dps"][k] == pytest.approx(v, rel=1e-12), k
    return True


def test_minute_buckets_are_stored_only_where_they_pay(tmp_path: Path) -> None:
    """A window of one point every 10 s keeps no 1-minute buckets (a query makes them from
    its block); one of a point a second keeps them. Both answer what raw points answer."""
    s = Store(tmp_path / "m.sqlite")
    slow = walk(2 * 1080, 1)
    s.insert([("slow", {}, T0_MS + i * 10_000, v) for i, v in enumerate(slow)])
    s.maintain(T0_MS + DAY_MS)
    assert minute_rows(s) == 0
    fast = walk(2 * 10_800, 2)
    s.insert([("fast", {}, T0_MS + i * 1_000, v) for i, v in enumerate(fast)])
    s.maintain(T0_MS + DAY_MS)
    assert minute_rows(s) == 1  # one row spans a day of the fast series
    for metric in ("slow", "fast"):
        got = by_minute(s, metric, T0_MS + 1_234, T0_MS + 2 * WINDOW_MS)
        assert len(got[0]["dps"]) == 360
        assert same(got, by_minute(s, metric, T0_MS + 1_234, T0_MS + 2 * WINDOW_MS, raw=True))
    s.close()


def test_a_database_with_minute_rows_for_every_window_reads_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The format before: 1-minute rows for every window. Opened now, nothing is counted
    twice; a window rewritten (a late point) drops its stored buckets, the rest stay."""
    from tspush.receiver import store as store_mod

    db = tmp_path / "old.sqlite"
    monkeypatch.setattr(store_mod, "MINUTE_ROLLUP_MIN_POINTS", -1)  # every window stores
    s = Store(db)
    vals = walk(8640, 3)
    s.insert([("m", {"k": "v"}, T0_MS + i * 10_000, v) for i, v in enumerate(vals)])
    s.close()
    monkeypatch.undo()
    s = Store(db)
    (old_row,) = s._reader().execute("SELECT data FROM rollups WHERE res_ms = 60000").fetchall()
    assert len(store_mod.Rollup.decode(old_row[0])) == 1440
    expected = by_minute(s, "m", T0_MS, T0_MS + DAY_MS - 1, raw=True)
    assert same(by_minute(s, "m", T0_MS, T0_MS + DAY_MS - 1), expected)
    s.insert([("m", {"k": "v"}, T0_MS + 5_000, 100.0)])  # late, into the first window
    s.maintain(T0_MS + 2 * DAY_MS)
    (row,) = s._reader().execute("SELECT data FROM rollups WHERE res_ms = 60000").fetchall()
    assert len(store_mod.Rollup.decode(row[0])) == 1440 - 180  # the first window's went
    expected = by_minute(s, "m", T0_MS, T0_MS + DAY_MS - 1, raw=True)
    assert expected[0]["dps"][str(T0_MS)] == pytest.approx(sum(vals[:6]) + 100.0)
    assert same(by_minute(s, "m", T0_MS, T0_MS + DAY_MS - 1), expected)
    s.close()


def test_minute_buckets_outlive_raw_points(tmp_path: Path) -> None:
    """--retention 1d --retention-1m 3d: before raw points go, the buckets their windows did
    not store are; a second pass over a trimmed window keeps its whole first bucket."""
    s = Store(tmp_path / "r.sqlite")
    n = 2 * 8640
    s.insert([("r", {}, T0_MS + i * 10_000, float(i % 360)) for i in range(n)])
    s.maintain(T0_MS + 3 * DAY_MS)
    assert minute_rows(s) == 0
    day1 = by_minute(s, "r", T0_MS, T0_MS + DAY_MS - 1)
    cut = T0_MS + DAY_MS // 2 + 25_000  # inside a window and a minute
    s.delete_before(cut, minute_ms=0)
    assert s.points(s.all_series()[0].id, 0, cut - 1) == []
    assert minute_rows(s) == 1
    assert by_minute(s, "r", T0_MS, T0_MS + DAY_MS - 1) == day1
    s.delete_before(cut + 60_000, minute_ms=0)  # the trimmed window again
    assert by_minute(s, "r", T0_MS, T0_MS + DAY_MS - 1) == day1
    s.delete_before(cut + 60_000, minute_ms=T0_MS + DAY_MS // 2)
    assert len(by_minute(s, "r", T0_MS, T0_MS + DAY_MS - 1)[0]["dps"]) == 720
    s.close()


def test_minute_buckets_made_from_blocks_keep_each_window_s_type(tmp_path: Path) -> None:
    """A series whose windows hold ints in one and floats in the next: the buckets made
    from their blocks are made window by window and answer as raw points do."""
    s = Store(tmp_path / "t.sqlite")
    s.insert([("t", {}, T0_MS + i * 10_000, i) for i in range(1080)])
    s.insert([("t", {}, T0_MS + WINDOW_MS + i * 10_000, i + 0.5) for i in range(1080)])
    s.maintain(T0_MS + DAY_MS)
    got = by_minute(s, "t", T0_MS, T0_MS + 2 * WINDOW_MS - 1)
    raw = by_minute(s, "t", T0_MS, T0_MS + 2 * WINDOW_MS - 1, raw=True)
    # (answers from rollups mixing int and float windows are floats, as they were when
    # every window stored its minutes: numpy joins the two)
    assert same(got, raw, types=False)
    assert got[0]["dps"][str(T0_MS)] == 15  # 0 + 1 + ... + 5
    assert got[0]["dps"][str(T0_MS + WINDOW_MS)] == 18.0
    s.close()


def test_the_warm_up_steps_between_series(tmp_path: Path) -> None:
    """The server's warm-up waits in ``idle()`` while queries run: it is called before
    every series' step, and what it decoded answers as a cold store does."""
    db = tmp_path / "w.sqlite"
    s = Store(db)
    for k in range(3):
        s.insert([("w", {"h": str(k)}, T0_MS + i * 10_000, float(i)) for i in range(8640)])
    s.close()
    s = Store(db)
    calls = []
    s.warm(T0_MS + DAY_MS, lambda: calls.append(1))
    assert len(calls) == 4 * 3  # four steps, three series
    assert same(
        by_minute(s, "w", T0_MS, T0_MS + DAY_MS - 1),
        by_minute(Store(db), "w", T0_MS, T0_MS + DAY_MS - 1, raw=True),
    )
    s.close()


def test_the_read_pool_counts_the_requests_in_its_workers(tmp_path: Path) -> None:
    """What the server's warm-up waits on: requests running in a worker, each counted once,
    also when one fails."""
    import anyio

    from tspush.receiver.readpool import ReadPool

    s = Store(tmp_path / "p.sqlite")
    pool = ReadPool(s, threads=4)
    seen: list[int] = []

    def look(store: Any) -> int:
        seen.append(pool.running)
        return store.series_count()

    def fail(store: Any) -> int:
        raise ValueError("boom")

    async def main() -> None:
        assert await pool.run(look) == 0
        with pytest.raises(ValueError):
            await pool.run(fail)
        async with anyio.create_task_group() as tg:
            for _ in range(20):
                tg.start_soon(pool.run, look)

    anyio.run(main)
    assert seen[0] == 1 and max(seen) <= 4 and len(seen) == 21
    assert pool.running == 0
    s.close()

"""Spool figures: append and replay rates with fsync per batch, recovery time at 1M points.

    python bench/bench_spool.py [--quick]

Runs in a temporary directory on the same file system as the checkout's
/tmp (ext4 on a virtual disk on the reference machine): fsync costs are real.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from _util import Row, main, make_points, row
from tspush.core.spool import Spool

BENCH = "spool"


def _append(
    path: Path,
    points: list,  # type: ignore[type-arg]
    batch: int,
    sync_every_s: float,
    host: bool = False,
) -> float:
    """Seconds to append ``points`` in batches: the core encoder, or the host's (the agent's)."""
    from tspush.core.prepare import Preparer
    from tspush.host.wire.opentsdb import record

    s = Spool(str(path), outputs=["out"], max_bytes=8 << 30, sync_every_s=sync_every_s)
    prep = Preparer()
    t0 = time.perf_counter()
    for i in range(0, len(points), batch):
        if host:
            s.append_records([record(p) for p in prep.split(points[i : i + batch])[0]])
        else:
            s.append(points[i : i + batch])
    dt = time.perf_counter() - t0
    s.close()
    return dt


def _replay(path: Path, batch: int, decode: bool) -> tuple[float, int]:
    s = Spool(str(path), outputs=["out"], max_bytes=8 << 30)
    n = 0
    t0 = time.perf_counter()
    while True:
        b = s.take("out", batch)
        if b is None:
            break
        if decode:
            b.points()
        n += len(b)
        s.ack(b)
    dt = time.perf_counter() - t0
    s.close()
    return dt, n


def run(quick: bool = False) -> list[Row]:
    n = 100_000 if quick else 400_000
    n_recover = 100_000 if quick else 1_000_000
    batch = 500
    tmp = Path(tempfile.mkdtemp(prefix="tspush-bench-spool-"))
    rows: list[Row] = []
    try:
        points = make_points(n, unique=False)
        dt = _append(tmp / "a", points, batch, 0, host=True)
        rows.append(
            row(
                BENCH,
                "append, fsync every batch (agent)",
                n / dt,
                "points/s",
                f"host encoder; {n} points in batches of {batch}: "
                f"{n / batch / dt:,.0f} fsync'd batches/s",
            )
        )
        points = make_points(n, unique=False)
        dt = _append(tmp / "b", points, batch, 0)
        rows.append(
            row(
                BENCH,
                "append, fsync every batch (core)",
                n / dt,
                "points/s",
                "the board's portable encoder, on CPython",
            )
        )
        points = make_points(n, unique=False)
        dt = _append(tmp / "d", points, batch, -1, host=True)
        rows.append(
            row(BENCH, "append, no fsync (agent)", n / dt, "points/s", f"batches of {batch}")
        )
        dt, got = _replay(tmp / "a", 5000, decode=False)
        assert got == n
        rows.append(
            row(
                BENCH,
                "replay take+ack (raw records)",
                n / dt,
                "points/s",
                "batches of 5000; what an OpenTSDB output sends as is",
            )
        )
        dt, got = _replay(tmp / "b", 5000, decode=True)
        assert got == n
        rows.append(row(BENCH, "replay take+ack+decode", n / dt, "points/s", "to Point objects"))

        points = make_points(n_recover, unique=False)
        _append(tmp / "c", points, 5000, -1)
        del points
        size = sum(p.stat().st_size for p in (tmp / "c").glob("*.seg"))
        t0 = time.perf_counter()
        s = Spool(str(tmp / "c"), outputs=["out"], max_bytes=8 << 30)
        dt = time.perf_counter() - t0
        assert s.pending("out") == n_recover
        s.close()
        rows.append(
            row(
                BENCH,
                f"recovery: open a spool of {n_recover:,} points",
                dt,
                "s",
                f"{size / 1e6:.0f} MB; every record's CRC checked",
            )
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


if __name__ == "__main__":
    main(run)

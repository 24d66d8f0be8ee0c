"""Prometheus remote write into a real VictoriaMetrics (/api/v1/write), read back."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support.vm import VictoriaMetrics
from tspush.core.point import Point
from tspush.host import profiles
from tspush.host.push import push_points
from tspush.host.transport import Transport

VALUES = [42, -7, 21.375, 123456.789012, -2.5e-08, 1e300, 2**53]


def test_remote_write_reads_back_exactly(victoria: VictoriaMetrics) -> None:
    pts = [
        Point("rw.v%d" % i, v, 1700000000000 + i, {"pi\u00e8ce": "s\u00e9jour", "i": str(i)})
        for i, v in enumerate(VALUES)
    ]
    pts.append(Point("rw.secs", 3, 1700000123, {"host": "h"}))
    with Transport(victoria.url, auth_scheme="none") as t:
        rep = push_points(t, profiles.get("promwrite").with_overrides(max_points=3), pts)
    assert (rep.accepted, rep.rejected, rep.requests, rep.errors) == (8, 0, 3, [])
    rows = victoria.wait_for('{__name__=~"rw.*"}', len(pts))
    want = sorted(
        ((p.metric, p.tags, p.ts_ms(), p.value) for p in pts),
        key=lambda r: (r[0], sorted(r[1].items()), r[2]),
    )
    assert [r[:3] for r in rows] == [w[:3] for w in want]
    for got, exp in zip(rows, want):
        assert float(got[3]) == float(exp[3]), (got, exp)


def test_cli_profile_promwrite(victoria: VictoriaMetrics) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TSPUSH_")}
    r = subprocess.run(
        [sys.executable, "-m", "tspush.cli.main", "push", "-", "--profile", "promwrite"]
        + ["--url", victoria.url],
        input="put rw.cli 1700000000 1.25 host=a\nrw.now 5 host=b\n",
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=str(Path(__file__).parent),
    )
    assert r.returncode == 0, r.stdout + r.stderr
    rows = victoria.wait_for('{__name__=~"rw.*"}', 2)
    assert rows[0] == ("rw.cli", {"host": "a"}, 1700000000000, 1.25)
    assert rows[1][:2] == ("rw.now", {"host": "b"}) and rows[1][3] == 5

"""Spool before/after on a busy machine: CPU seconds, best of N, runs interleaved.

    python bench/spool_ab.py OLD_SRC [NEW_SRC] [--reps 5]

Wall-clock rates swing 2x on the shared 2-core machine; the process's CPU
time does not. Each rep runs in a fresh interpreter for each tree, one after
the other, and the best rep of each figure is kept. Nothing here fsyncs
(fsync waits are not CPU time; ``bench_spool.py`` measures those).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

ONE = r"""
import json, shutil, sys, tempfile, time
sys.path.insert(0, SRC)
sys.path.insert(1, BENCH)
from _util import make_points
from tspush.core.spool import Spool
from tspush.core.prepare import Preparer
from tspush.host.wire.opentsdb import record

cpu = time.process_time
tmp = tempfile.mkdtemp()
out = {}
N = 300_000
pts = make_points(N)
s = Spool(tmp + "/a", outputs=["out"], max_bytes=8 << 30, sync_every_s=-1)
prep = Preparer()
t0 = cpu()
for i in range(0, N, 500):
    s.append_records([record(p) for p in prep.split(pts[i : i + 500])[0]])
out["append (agent encoder), points/cpu-s"] = N / (cpu() - t0)
s.close()
t0 = cpu()
s = Spool(tmp + "/a", outputs=["out"], max_bytes=8 << 30)
out["recovery of 300,000 points, cpu-s"] = cpu() - t0
n = 0
t0 = cpu()
while True:
    b = s.take("out", 5000)
    if b is None:
        break
    n += len(b)
    s.ack(b)
out["replay take+ack (raw), points/cpu-s"] = n / (cpu() - t0)
s.close()
b = tmp + "/b"
s = Spool(b, outputs=["out"], max_bytes=1 << 30, segment_bytes=4096, sync_every_s=-1)
t0 = cpu()
for p in pts[:20_000]:
    s.append([p])
out["board-shaped append (1 point, 4 KiB segments), points/cpu-s"] = 20_000 / (cpu() - t0)
s.close()
t0 = cpu()
s = Spool(b, outputs=["out"], max_bytes=1 << 30, segment_bytes=4096)
out["board-shaped recovery of 20,000 records, cpu-s"] = cpu() - t0
n = 0
t0 = cpu()
while True:
    bt = s.take("out", 50, 8190, 1)
    if bt is None:
        break
    n += len(bt)
    s.ack(bt)
out["board-shaped replay (50-point takes), points/cpu-s"] = n / (cpu() - t0)
s.close()
shutil.rmtree(tmp)
print(json.dumps(out))
"""


def one(src: Path) -> dict[str, float]:
    code = "SRC = %r\nBENCH = %r\n" % (str(src), str(HERE)) + ONE
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    got: dict[str, float] = json.loads(r.stdout.strip().splitlines()[-1])
    return got


def main() -> None:
    args = sys.argv[1:]
    reps = 5
    if "--reps" in args:
        i = args.index("--reps")
        reps = int(args[i + 1])
        del args[i : i + 2]
    old = Path(args[0])
    new = Path(args[1]) if len(args) > 1 else HERE.parent / "src"
    best: dict[str, dict[str, float]] = {"before": {}, "after": {}}
    for _ in range(reps):
        for label, src in (("before", old), ("after", new)):
            for k, v in one(src).items():
                keep = min if k.endswith("cpu-s") else max
                best[label][k] = keep(best[label].get(k, v), v)
    print("| figure | before | after | change |")
    print("|---|---:|---:|---:|")
    for k in best["before"]:
        a, b = best["before"][k], best["after"][k]
        print("| %s | %s | %s | %+.0f %% |" % (k, _fmt(a), _fmt(b), (b / a - 1) * 100))


def _fmt(v: float) -> str:
    return "%.3f" % v if v < 100 else f"{v:,.0f}"


if __name__ == "__main__":
    main()

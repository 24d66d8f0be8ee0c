"""The spool's less frequent work: caps, dead letters, figures, Point input, error messages.

Why a module of its own: a board opens, appends, takes and acks on every
cycle and needs none of this until a cap is hit, the server refuses a point
or something fails; every name a module holds costs RAM there. The
computer's agent calls these as ``Spool`` methods of the same names
(``Spool.__getattr__``, ``METHODS``; see ``core.spool`` for the format and the
segment and cursor lists used here).
"""

import os

from tspush.core.errors import SpoolError
from tspush.core.spool import MAX_POINT


def crc32(data, value=0) -> int:
    """The same CRC-32 as binascii.crc32, bit by bit, for boards built without it."""
    crc = value ^ 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0xEDB88320 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def fail(sp, what: str, detail):
    """The SpoolError for ``what`` failed in spool ``sp``, saying what to do.

    ``what`` is a name the spool module holds anyway (each distinct one costs
    a board RAM): ``__init__`` bad settings (``detail``: outputs, max_bytes,
    segment_bytes), ``mkdir`` the directory cannot be created or read,
    ``write`` a write failed, ``open`` a new segment cannot be started (both:
    disk full; ``detail`` the OSError), ``key`` an unknown output, ``len`` a
    point too large (``detail``: its size). None when ``__init__`` finds the
    settings fine after all.
    """
    if what == "__init__":
        outputs, max_bytes, segment_bytes = detail
        if not outputs:
            return SpoolError("spool needs at least one output name")
        for name in outputs:
            for ch in name or "/":
                if not (ch.isalpha() or ch.isdigit() or ch in "-_"):
                    return SpoolError(
                        "output name %r: use letters, digits, '-' and '_' (it names a cursor "
                        "file)" % name
                    )
        if segment_bytes < 256 or max_bytes < 2 * segment_bytes:
            return SpoolError(
                "spool: segment_bytes %d and max_bytes %d: need segment_bytes >= 256 and "
                "max_bytes >= 2 * segment_bytes" % (segment_bytes, max_bytes)
            )
        return None  # all fine (non-ASCII letters in an output name)
    if what == "mkdir":
        try:
            os.stat(sp.path)
            how = "read"
        except OSError:
            how = "created"
        return SpoolError("spool directory %s cannot be %s: %s" % (sp.path, how, detail), detail)
    if what == "write":
        return SpoolError(
            "spool %s: cannot write (%s): check free space and permissions" % (sp.path, detail),
            detail,
        )
    if what == "open":
        return SpoolError(
            "spool %s: cannot start a new segment (%s): check free space" % (sp.path, detail),
            detail,
        )
    if what == "key":
        return SpoolError(
            "output %r has no cursor in spool %s: known outputs are %s"
            % (detail, sp.path, ", ".join(sorted(sp.cursors)))
        )
    return too_big("a point", detail)


def too_big(what: str, size: int) -> SpoolError:
    return SpoolError(
        "%s: point encodes to %d bytes, over the %d-byte limit" % (what, size, MAX_POINT)
    )


def cursor(sp, output: str):
    """The cursor list of ``output``; a SpoolError naming the known outputs if none."""
    c = sp.cursors.get(output)
    if c is None:
        raise fail(sp, "key", output)
    return c


def append(sp, points, now_ts=None) -> int:
    """Store points durably (per ``sync_every_s``); stamp those without a timestamp.

    Returns the number stored. ``now_ts`` is the stamp for points whose
    ``ts`` is None (seconds or milliseconds, as the caller's clock gives).
    """
    from tspush.core.opentsdb import encode_point

    payloads = []
    for p in points:
        p = p.stamped(now_ts)
        payload = encode_point(p)
        if len(payload) > MAX_POINT:
            raise too_big(p.describe(), len(payload))
        payloads.append(payload)
    return sp.append_records(payloads)


def batch_points(batch):
    """A Batch's points as Point objects (``Batch.points``)."""
    return [decode_point(r) for r in batch.records]


# Spool's methods that live here (``Spool.__getattr__``): called as ``sp.NAME(...)``.
METHODS = (
    "append",
    "dead_letter",
    "keep",
    "flush",
    "points",
    "total_bytes",
    "stats",
    "oldest_pending_s",
)


def keep(sp, batch) -> None:
    """Send later: nothing moves (present for symmetry and readability)."""
    return None


def flush(sp) -> None:
    """The segment written to, on the disk now."""
    from tspush.core.spool import _fsync

    with sp.lock:
        if sp._f is not None:
            _fsync(sp._f)


def points(sp) -> int:
    """Points stored in the spool (acked by some outputs but not all included)."""
    return sum(s[2] for s in sp.segments)


def total_bytes(sp) -> int:
    """Bytes of the spool's valid records."""
    return sum(s[1] for s in sp.segments)


def decode_point(payload):
    """A Point from a stored record payload."""
    import json

    from tspush.core.point import Point

    d = json.loads(payload)
    return Point(d["metric"], d["value"], d.get("timestamp"), d.get("tags") or {})


# -- caps ---------------------------------------------------------------------


def enforce_caps(sp, now_s: int) -> None:
    """Drop whole segments, oldest first, past ``max_bytes`` or older than ``max_age_s``."""
    segs = sp.segments
    while len(segs) > 1 and segs[0][2] == 0:
        drop_oldest(sp)
    while len(segs) > 1 and sp.total_bytes() > sp.max_bytes:
        drop_oldest(sp)
    if sp.max_age_s:
        cutoff = now_s - sp.max_age_s
        while segs[0][2] and segs[0][3] < cutoff:
            if len(segs) == 1:
                sp._rotate()
            drop_oldest(sp)


def drop_oldest(sp) -> None:
    """Delete the oldest segment; outputs that had not acked its points count them dropped."""
    seg = sp.segments.pop(0)
    nxt = sp.segments[0]
    for name in sp.cursors:
        c = sp.cursors[name]
        if c[0] <= seg[0]:
            c[4] += seg[2] - (c[2] if c[0] == seg[0] else 0)
            c[:4] = (nxt[0], 0, 0, 0)
            sp._save_cursor(name)
    try:
        os.remove(sp._file(seg[0]))
    except OSError:
        pass


# -- dead letters and figures -------------------------------------------------


def dead_letter(sp, output: str, items, file_path=None) -> int:
    """Append rejected points as JSON lines ``{"output","reason","point"}``; count them.

    ``items``: ``(payload_bytes, reason)`` pairs. Call ``ack`` afterwards.
    """
    from tspush.core.opentsdb import json_str

    if not items:
        return 0
    path = file_path or (sp.path + "/dead-letter.jsonl")
    lines = []
    for payload, reason in items:
        if not isinstance(payload, (bytes, bytearray)):
            from tspush.core.opentsdb import encode_point

            payload = encode_point(payload)
        lines.append(
            b'{"output":'
            + json_str(output).encode()
            + b',"reason":'
            + json_str(str(reason)).encode()
            + b',"point":'
            + bytes(payload)
            + b"}\n"
        )
    with sp.lock:
        f = open(path, "ab")
        try:
            for line in lines:  # one line at a time: no buffer larger than a point
                f.write(line)
            f.flush()
            try:
                os.fsync(f.fileno())
            except (AttributeError, OSError):
                pass
        finally:
            f.close()
        c = cursor(sp, output)
        c[5] += len(lines)
        sp._save_cursor(output)
    return len(lines)


def oldest_pending_s(sp, output: str):
    """Append time (clock seconds) of ``output``'s oldest pending point, or None."""
    with sp.lock:
        c = cursor(sp, output)
        for s in sp.segments:
            if s[0] < c[0]:
                continue
            off = c[1] if s[0] == c[0] else 0
            for a, b in s[4] or ():
                if a <= off < b:
                    off = b
            if off >= s[1]:
                continue
            if s is sp.segments[-1] and sp._f is not None:
                sp._f.flush()
            f = open(sp._file(s[0]), "rb")
            try:
                f.seek(off)
                head = f.read(12)
            finally:
                f.close()
            if len(head) == 12:
                word = int.from_bytes(head[:4], "little")
                return int.from_bytes(head[4:8] if word >> 24 == 0xF5 else head[8:], "little")
        return None


def stats(sp, output: str) -> dict:
    c = cursor(sp, output)
    return {
        "pending": sp.pending(output),
        "oldest_s": oldest_pending_s(sp, output),
        "dropped": c[4],
        "dead_letters": c[5],
    }

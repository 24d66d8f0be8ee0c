# Segments and cursors are lists of ints with one None-or-object slot, on purpose (see
# the end of the docstring), which mypy cannot type item by item:
# mypy: disable-error-code="arg-type,operator,index,union-attr,assignment,misc,list-item"
"""Persistent store-and-forward: append-only segment files with a CRC per record.

Why: nothing accepted may be lost while the network or the server is down,
and after a crash at most the one batch in flight is sent again. The same
format runs on a board's flash (small segments, one write per append).

On disk, in one directory::

    00000001.seg ...   segments; each a run of records
    cursor.NAME        one per output: where its unacked points start, in two
                       128-byte slots written in turn in place (no rename,
                       no new block: an ack costs one small write, and works
                       on a full disk); each slot has a counter and a CRC, and
                       the newest valid one wins, so a torn write falls back
                       to the previous position (points sent again, not lost)

A record is a 12-byte header then the payload::

    <u32 0xF5 << 24 | length> <u32 appended_s> <u32 crc32 of (header bytes 0-7 + payload)>
    payload = one or more points as OpenTSDB JSON objects, joined by b"\\n"

The top byte 0xF5 is the record marker (a byte UTF-8 never uses): after a
damaged record, reading re-synchronises on the next place where a marker
starts a record whose CRC checks, so one bad byte costs only its record.
Segments written before the marker existed (``<u32 length> <u32 crc32 of
(appended_s + payload)> <u32 appended_s>``, top byte 0) are still read; they
re-synchronise only onto marked records.

One ``append`` writes its points as few records as ``record_bytes`` allows
(one CRC and one write for many points on a computer; a board appending one
reading at a time writes one point per record). JSON escapes control
characters, so a newline never occurs inside a point (nor may it in a payload
given to ``append_records``).

Opening the spool checks every record's CRC, reading in ``read_bytes``
pieces (never a whole segment: a board has little contiguous RAM). A bad
record followed by valid ones is skipped (a hole, remembered in memory); one
followed by nothing is a torn tail (a crash while writing) and is cut off.
Both, and segments found empty although later ones exist, are listed in
``damage`` and counted in ``corrupt_bytes``/``corrupt_records``; never fatal.

Transactions (Telegraf's buffer): ``take(output, n)`` gives a Batch; the
caller then calls ``ack(batch)`` (never sent again), or ``keep`` (nothing
moves; the same points come back next take). Rejected points are written to
a dead-letter file by the caller (``dead_letter``) and then acked. Each output
has its own cursor, saved on ack, so a dead upstream holds its own backlog
without blocking the others.

Caps: ``max_bytes`` and ``max_age_s``. Whole segments go, oldest first; the
points an output had not acked are counted in its ``dropped``.

Board memory: this module is what a board loads to open a healthy spool,
append, take, ack and close, and it interns as few names as it can (every
name costs RAM on MicroPython, see docs/benchmarks.md). So segments and
cursors are plain lists, not classes, and everything else is loaded only
when needed: recovery from damage and old cursor formats (``core.spoolfix``),
caps, dead letters, figures and error messages (``core.spoolmore``).

A segment is ``[seq, size, count, last_s, holes]``: its number, the bytes
and points of its valid records, the append time of its last record, and
None or the ``[start, end)`` byte ranges of damage that reading jumps over.
A cursor is ``[seq, offset, recno, skip, dropped, dead, counter, file]``:
the segment and byte offset of the record holding the output's next point,
the index of that point within the segment, how many of that record's points
are done; points lost to caps and dead-lettered; the counter of its newest
slot on disk, and its open cursor file (None until the first save).
"""

import os

from tspush.core.errors import SpoolError

MAX_POINT = 65536  # bytes of one encoded point

try:
    from micropython import const  # a private const name is not interned (RAM)
except ImportError:  # CPython
    const = int

_STEP = const(5)  # points Spool.stream holds at once while it counts a batch

try:
    from binascii import crc32
except ImportError:  # a port built without it
    from tspush.core import spoolmore

    crc32 = spoolmore.crc32


def _crc(data, value=0) -> int:
    """CRC-32 of ``data``, going on from ``value`` (the CRC of the bytes before)."""
    return crc32(data, value) & 0xFFFFFFFF


def _fsync(file) -> None:
    file.flush()
    try:
        os.fsync(file.fileno())
    except (AttributeError, OSError):
        pass  # no fsync on this port (the flash driver writes through), or not supported


def write_atomic(path: str, data, sync: bool = True) -> None:
    """Replace ``path`` with ``data`` (bytes, or a list of them): temp file, flush (+fsync),
    rename."""
    tmp = path + ".tmp"
    f = open(tmp, "wb")
    try:
        for b in data if isinstance(data, list) else (data,):
            f.write(b)
        if sync:
            _fsync(f)
        else:
            f.flush()
    finally:
        f.close()
    try:
        os.rename(tmp, path)
    except OSError:
        # FAT on some boards will not rename over an existing file.
        try:
            os.remove(path)
        except OSError:
            pass
        os.rename(tmp, path)


def check(file, start: int, stop: int, step: int, keep: bool):
    """The record at ``start`` (``file`` is there) if whole and its CRC checks, else None.

    Returns ``(end, appended_s, n_points, points)``; ``points`` is the list of
    payloads when ``keep``, else None. ``stop`` is where the segment's valid
    bytes end. The payload is read ``step`` bytes at a time, so no buffer is
    larger than one point or one step.
    """
    h = file.read(12)
    if len(h) < 12:
        return None
    word = int.from_bytes(h[:4], "little")
    if word >> 24 == 0xF5:
        n = word & 0xFFFFFF
        ts = int.from_bytes(h[4:8], "little")
        want = int.from_bytes(h[8:], "little")
        crc = _crc(h[:8])
    elif word >> 24 == 0:  # written before the marker
        n = word
        want = int.from_bytes(h[4:8], "little")
        ts = int.from_bytes(h[8:], "little")
        crc = _crc(h[8:])
    else:
        return None
    end = start + 12 + n
    if not n or n > 1 << 20 or end > stop:  # a length above 1 MiB is corruption
        return None
    if n <= step:  # one read: the usual case on a computer
        data = file.read(n)
        if len(data) < n or _crc(data, crc) != want:
            return None
        if keep:
            pts = data.split(b"\n")
            return end, ts, len(pts), pts
        return end, ts, data.count(b"\n") + 1, None
    pts = []
    part = b""
    k = 1
    while n:
        data = file.read(step if n > step else n)
        if not data:
            return None
        n -= len(data)
        crc = _crc(data, crc)
        if keep:
            i = 0
            j = data.find(b"\n")
            while j >= 0:
                pts.append(part + data[i:j])
                part = b""
                i = j + 1
                j = data.find(b"\n", i)
            part += data[i:]
        else:
            k += data.count(b"\n")
    if crc != want:
        return None
    if not keep:
        return end, ts, k, None
    pts.append(part)
    return end, ts, len(pts), pts


def describe(d) -> str:
    """One log line for an entry of ``Spool.damage``."""
    from tspush.core import spoolfix

    return spoolfix.describe(d)


class Batch:
    """Points taken for one output; give it back with ``ack`` or ``keep``."""

    def __init__(self, output: str, records, end):
        self.output = output
        self.records = records  # payload bytes, one per point, in spool order
        self.end = end  # (seq, offset, recno, skip) after its last point

    def __len__(self) -> int:
        return len(self.records)

    def points(self):
        from tspush.core import spoolmore

        return spoolmore.batch_points(self)


class Stream:
    """A batch's points read from flash again each time they are walked, never all in RAM.

    ``Spool.stream`` gives a Batch whose ``records`` is one: ``len()`` and
    iteration (several times: the body's size, then its bytes) hold one
    record's points at a time (a board's records hold one cycle's readings),
    so a board's 50-point push does not hold its 50 records (about 6.5 KB on
    an ESP8266) while it sends. Indexing and slicing (a refused batch is
    halved, a rare path) give lists.
    """

    def __init__(self, spool, output, start, n):
        self.spool = spool
        self.output = output
        self.start = start
        self.n = n

    def __len__(self):
        return self.n

    def __iter__(self):
        # take()'s walk (segments, holes, a record's first points already done), one open
        # file per segment and one record's points at a time
        sp = self.spool
        seq, offset, _, skip = self.start
        left = self.n
        piece = 256 if sp.segment_bytes < 65536 else 65536
        for seg in sp.segments:
            if left <= 0:
                return
            if seg[0] < seq:
                continue
            if seg[0] > seq:
                offset = skip = 0
            if seg is sp.segments[-1] and sp._f is not None:
                sp._f.flush()
            size = seg[1]
            f = open(sp._file(seg[0]), "rb")
            try:
                f.seek(offset)
                while offset < size and left > 0:
                    for a, b in seg[4] or ():
                        if a <= offset < b:
                            offset = b
                            skip = 0
                            f.seek(offset)
                    if offset >= size:
                        break
                    got = check(f, offset, size, piece, True)
                    if got is None:  # damaged since it was counted: as take() does
                        from tspush.core import spoolfix

                        spoolfix.seek(sp, seg, f, offset)
                        f.seek(offset)
                        continue
                    offset = got[0]
                    pts = got[3]
                    got = None
                    while skip < len(pts) and left > 0:
                        yield pts[skip]
                        skip += 1
                        left -= 1
                    pts = None
                    skip = 0
            finally:
                f.close()

    def __getitem__(self, i):
        return list(self)[i]


class Spool:
    """A spool directory shared by one writer and one or more output cursors.

    ``lock`` (optional) is any object with ``__enter__``/``__exit__``; the
    host passes a ``threading.Lock`` because sources and outputs run on
    threads; without one the spool is its own (no-op) lock. ``clock``
    returns whole seconds and stamps records.
    """

    def __init__(
        self,
        path: str,
        outputs=("default",),
        max_bytes: int = 1 << 30,
        max_age_s: int = 7 * 86400,
        segment_bytes: int = 4 << 20,
        sync_every_s: float = 0,
        clock=None,
        lock=None,
        record_bytes: int = 0,
        cursor_sync: bool = False,
    ):
        ok = outputs and segment_bytes >= 256 and max_bytes >= 2 * segment_bytes
        for name in outputs:
            # Letters, digits, - and _ (it names a file). As bytes: iterating a str would
            # intern each character as a name on MicroPython.
            for ch in (name or "/").encode():
                if not (ch in (45, 95) or 48 <= ch <= 57 or 65 <= (ch & 0xDF) <= 90):
                    ok = False  # or a non-ASCII letter: spoolmore looks closer
        if not ok:
            from tspush.core import spoolmore

            e = spoolmore.fail(None, "__init__", (outputs, max_bytes, segment_bytes))
            if e is not None:
                raise e
        if clock is None:
            import time

            clock = lambda: int(time.time())  # noqa: E731  (a def would cost a name)
        self.path = path.rstrip("/") or "/"
        self.outputs = list(outputs)
        self.max_bytes = max_bytes
        self.max_age_s = max_age_s
        self.segment_bytes = segment_bytes
        self.sync_every_s = sync_every_s
        # Saving a cursor is a small write in place (see the module doc); fsync'ing
        # it too only matters for a power cut, where a stale cursor means points
        # sent again, never lost.
        self.cursor_sync = cursor_sync
        # Small segments mean flash: small records and small reads save RAM.
        small = segment_bytes < 65536
        self.record_bytes = min(record_bytes or (1024 if small else 65536), segment_bytes // 4)
        self.clock = clock
        self.lock = lock or self
        self.segments = []  # oldest first; the last one is written to
        self.cursors = {}
        self.corrupt_bytes = 0  # damaged bytes skipped or cut, since opening
        self.corrupt_records = 0
        self.damage = []  # (segment seq, kind, bytes, records): see describe()
        self._f = None  # the last segment, open to append; None: it takes no more records
        self._synced_s = 0
        path = self.path
        try:
            names = os.listdir(path)
        except OSError:
            # First start: create the directory and its parents (those that exist fail).
            d = None
            for part in path.split("/"):
                d = part if d is None else d + "/" + part
                try:
                    os.mkdir(d)
                except OSError:
                    pass
            try:
                names = os.listdir(path)
            except OSError as e:
                from tspush.core import spoolmore

                raise spoolmore.fail(self, "mkdir", e)
        seqs = []
        for n in names:
            if n.endswith(".seg"):
                try:
                    seqs.append(int(n[:-4]))
                except ValueError:
                    pass
            elif n.endswith(".tmp"):
                try:
                    os.remove(path + "/" + n)
                except OSError:
                    pass
        seqs.sort()
        piece = 256 if small else 65536  # bytes read at a time (spoolfix.read_bytes)
        for seq in seqs:
            # Index the segment, checking every record's CRC; damage is left to spoolfix.
            name = self._file(seq)
            seg = [seq, 0, 0, 0, None]
            self.segments.append(seg)
            size = os.stat(name)[6]
            if not size and seq != seqs[-1]:
                # Only the segment written to can be empty: this one was cut by the file system.
                self.damage.append((seq, 3, 0, 0))  # spoolfix.EMPTY
                continue
            f = open(name, "rb")
            try:
                start = 0
                while start < size:
                    got = check(f, start, size, piece, False)
                    if got is None:
                        break
                    seg[3] = got[1]
                    seg[2] += got[2]
                    start = got[0]
            finally:
                f.close()
            seg[1] = start
            if start < size:  # skipped or cut by spoolfix
                from tspush.core import spoolfix

                spoolfix.index(self, seg, name, start, size)
        if not self.segments:
            self.segments.append([1, 0, 0, 0, None])
        first = self.segments[0]
        for name in self.outputs:
            # The newest valid slot of the output's cursor file, checked against the segments.
            data = b""
            try:
                f = open("%s/cursor.%s" % (path, name), "rb")
                try:
                    data = f.read(256)
                finally:
                    f.close()
            except OSError:
                pass
            c = None
            if data[:3] != b"v3 ":
                if data:
                    from tspush.core import spoolfix

                    c = spoolfix.decode(data)
            else:
                best = None
                for i in range(0, len(data) - 127, 128):
                    try:
                        body, crc = bytes(data[i : i + 128]).strip().rsplit(b" ", 1)
                        if body[:3] != b"v3 " or int(crc, 16) != _crc(body):
                            continue
                        v = [int(w) for w in body.split()[1:]]
                    except ValueError:
                        continue
                    if len(v) == 7 and (best is None or v[0] > best[0]):
                        best = (v[0], v[1:])
                if best is not None:
                    c = best[1] + [best[0], None]
            if c is None:
                c = [first[0], 0, 0, 0, 0, 0, 0, None]
            if c[0] < first[0]:
                c[:4] = [first[0], 0, 0, 0]
            seg = None
            for s in self.segments:
                if s[0] == c[0]:
                    seg = s
            if (
                seg is None
                or (seg[4] and seg[4][0][0] <= c[1])
                or c[1] > seg[1]
                or c[2] > seg[2]
                or (c[1] == seg[1] and c[3])
                or (c[1] and not seg[1])
            ):
                from tspush.core import spoolfix

                spoolfix.fix_cursor(self, c, seg)
            self.cursors[name] = c
        last = self.segments[-1]
        # "r+b" at the end of its valid bytes rather than "ab": one name fewer on a board.
        self._f = open(self._file(last[0]), "r+b" if last[1] else "wb")
        self._f.seek(last[1])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __getattr__(self, name):
        """The methods a board's cycle does not call, from ``core.spoolmore`` (loaded at first
        use: every method of a loaded class holds a board's RAM): ``append`` (Points),
        ``dead_letter``, ``keep``, ``flush``, ``points``, ``total_bytes``, ``stats``,
        ``oldest_pending_s``; see each there."""
        from tspush.core import spoolmore

        if name not in spoolmore.METHODS:
            raise AttributeError(name)
        f = getattr(spoolmore, name)
        return lambda *args, **kw: f(self, *args, **kw)

    def _file(self, index: int) -> str:
        """The path of segment number ``index``."""
        return "%s/%08d.seg" % (self.path, index)

    # -- writing --------------------------------------------------------------

    def append_records(self, data) -> int:
        """Store already-encoded points (``data``: OpenTSDB JSON objects, one per payload).

        A SpoolError (disk full) says in ``stored`` how many of the first
        points were stored before the write failed; the rest were not.
        """
        if not data:
            return 0
        now_s = self.clock()
        stamp = (now_s & 0xFFFFFFFF).to_bytes(4, "little")
        # (pieces, bytes, points) of each record. On a board (small segments) its points are
        # never joined: the CRC runs over them one by one and they are written one by one,
        # so an append allocates no block larger than one point. A computer joins them.
        small = self.segment_bytes < 65536
        records = []
        group = []
        size = 0
        for p in list(data) + [None]:  # None: the end, encode the last group
            if p is not None and len(p) > MAX_POINT:
                from tspush.core import spoolmore

                raise spoolmore.fail(None, "len", len(p))
            if group and (p is None or size + len(p) + 1 > self.record_bytes):
                # A record: marker and length, append time, CRC, the points (see top).
                head = (0xF5 << 24 | size - 1).to_bytes(4, "little") + stamp
                crc = _crc(head)
                if small:
                    pieces = [None]
                    for q in group:
                        if len(pieces) > 1:
                            pieces.append(b"\n")
                            crc = _crc(b"\n", crc)
                        pieces.append(q)
                        crc = _crc(q, crc)
                else:
                    rec = b"\n".join(group)
                    crc = _crc(rec, crc)
                    pieces = [None, rec]
                pieces[0] = head + crc.to_bytes(4, "little")
                records.append((pieces, 11 + size, len(group)))
                group = []
                size = 0
            if p is not None:
                group.append(p)
                size += len(p) + 1
        records.append(((), 0, 0))  # the end: write what is gathered
        with self.lock:
            parts = []
            seg = self.segments[-1]
            size = seg[1]
            n = done = 0
            try:
                for pieces, length, count in records:
                    full = length and size > 0 and size + length > self.segment_bytes
                    if n and (full or not length):
                        # Write what fits this segment (one flush, one record or more).
                        if self._f is None:
                            seg = self._rotate()
                        written = 0
                        try:
                            for b in parts:
                                self._f.write(b)
                                written += len(b)
                            self._f.flush()
                        except OSError as e:
                            # Disk full: part of ``parts`` may be on disk. Nothing may follow
                            # a torn record (recovery cuts a segment there), so this segment
                            # is closed for good and the next write starts a new one.
                            f = self._f
                            self._f = None
                            try:
                                f.close()  # (drops what it buffers)
                            except OSError:
                                pass
                            from tspush.core import spoolmore

                            raise spoolmore.fail(self, "write", e)
                        seg[1] += written
                        seg[2] += n
                        seg[3] = now_s
                        done += n
                    if full:
                        seg = self._rotate()
                        size = 0
                        parts = []
                        n = 0
                    parts.extend(pieces)
                    size += length
                    n += count
                every = self.sync_every_s
                if every is not None and every >= 0 and now_s - self._synced_s >= every:
                    _fsync(self._f)
                    self._synced_s = now_s
                segs = self.segments
                if (
                    len(segs) > 1
                    and (not segs[0][2] or sum(s[1] for s in segs) > self.max_bytes)
                    or (self.max_age_s and segs[0][2] and segs[0][3] < now_s - self.max_age_s)
                ):
                    from tspush.core import spoolmore

                    spoolmore.enforce_caps(self, now_s)
            except SpoolError as e:
                e.stored = done  # the points before the failed write are stored
                raise
        return len(data)

    def _rotate(self):
        """Start the next segment (or the last one again if it holds no whole record)."""
        f = self._f
        if f is not None:
            _fsync(f)
            f.close()
            self._f = None  # until the new segment is open
        last = self.segments[-1]
        empty = not last[1]
        seg = last if empty else [last[0] + 1, 0, 0, 0, None]
        try:
            f = open(self._file(seg[0]), "wb")
        except OSError as e:
            from tspush.core import spoolmore

            raise spoolmore.fail(self, "open", e)
        if not empty:
            self.segments.append(seg)
        self._f = f
        return seg

    def close(self) -> None:
        with self.lock:
            f = self._f
            self._f = None
            if f is not None:
                try:
                    _fsync(f)
                    f.close()
                except (OSError, ValueError):
                    pass  # disk full or already closed after a failed write: all is indexed
            for c in self.cursors.values():
                if c[7] is not None:
                    try:
                        c[7].close()
                    except OSError:
                        pass
                    c[7] = None

    # -- transactions ---------------------------------------------------------

    def take(
        self, output: str, max_points: int = 500, max_bytes: int = 0, per_record_bytes=0, start=None
    ):
        """The next unacked points for ``output`` (oldest first), or None when none are pending.

        ``max_bytes`` bounds the total bytes of the points, counting
        ``per_record_bytes`` more for each (a separator); 0: no bound.
        At least one point is returned when any is pending. ``start`` (a
        previous batch's ``end``) reads on past batches still in flight.
        """
        with self.lock:
            c = self.cursors.get(output)
            if c is None:
                from tspush.core import spoolmore

                raise spoolmore.fail(self, "key", output)
            if start is None or (start[0], start[2]) < (c[0], c[2]):
                start = (c[0], c[1], c[2], c[3])
            records = []
            stop = [max_points, max_bytes, per_record_bytes, 0]
            for index in range(len(self.segments)):
                seg = self.segments[index]
                if seg[0] < start[0]:
                    continue
                if seg[0] > start[0]:
                    start = (seg[0], 0, 0, 0)
                if start[1] >= seg[1]:
                    continue
                start, full = self._read(index, start, stop, records)
                if full:
                    break
            if not records:
                return None
            return Batch(output, records, start)

    def stream(self, output: str, max_points: int):
        """``take(output, max_points)`` whose records are a ``Stream``: read from flash as they
        are walked (counted now, in steps of a few points), or None when none are pending."""
        with self.lock:
            c = self.cursors.get(output)
            if c is None:
                from tspush.core import spoolmore

                raise spoolmore.fail(self, "key", output)
            start = at = (c[0], c[1], c[2], c[3])
        n = 0
        while n < max_points:
            left = max_points - n
            b = self.take(output, _STEP if left > _STEP else left, 0, 0, at)
            if b is None:
                break
            n += len(b.records)
            at = b.end
            b = None
        if not n:
            return None
        return Batch(output, Stream(self, output, start, n), at)

    def _read(self, index, start, stop, records):
        """Points of segment ``index`` (in ``segments``) from position ``start`` into ``records``:
        the new position, and whether the batch is full. ``stop``: [max points, max bytes, bytes
        per point, bytes so far].
        """
        seg = self.segments[index]
        want, max_bytes, extra = stop[0], stop[1], stop[2]
        offset, recno, skip = start[1], start[2], start[3]
        if seg is self.segments[-1] and self._f is not None:
            self._f.flush()
        piece = 256 if self.segment_bytes < 65536 else 65536  # spoolfix.read_bytes
        size = seg[1]
        f = open(self._file(seg[0]), "rb")
        try:
            f.seek(offset)
            while offset < size and len(records) < want:
                if seg[4]:
                    for a, b in seg[4]:
                        if a <= offset < b:
                            offset = b
                            skip = 0
                            f.seek(offset)
                    if offset >= size:
                        break
                got = check(f, offset, size, piece, True)
                if got is None:
                    # Changed on disk since it was indexed: go on at the next valid record.
                    from tspush.core import spoolfix

                    spoolfix.seek(self, seg, f, offset)
                    f.seek(offset)
                    continue
                end, appended_s, n_pts, points = got
                i = skip
                room = want - len(records)
                chunk = points[i : i + room] if (i or room < n_pts) else points
                n = 0
                if max_bytes:
                    for p in chunk:
                        n += len(p)
                    n += extra * len(chunk)
                if not max_bytes or stop[3] + n <= max_bytes:
                    # The common case: the whole rest of the record fits.
                    records.extend(chunk)
                    stop[3] += n
                    recno += len(chunk)
                    i += len(chunk)
                while i < n_pts and len(records) < want:
                    p = points[i]
                    if max_bytes and records and stop[3] + len(p) + extra > max_bytes:
                        return (seg[0], offset, recno, i), True
                    stop[3] += len(p) + extra
                    records.append(p)
                    recno += 1
                    i += 1
                if i < n_pts:
                    return (seg[0], offset, recno, i), True
                skip = 0
                offset = end
        finally:
            f.close()
        if offset >= size:  # (recno falls short if a record was damaged since indexing)
            offset, recno = size, seg[2]
        return (seg[0], offset, recno, 0), len(records) >= want

    def ack(self, batch) -> None:
        """The batch is delivered (or dead-lettered): never send it again."""
        with self.lock:
            c = self.cursors.get(batch.output)
            if c is None:
                from tspush.core import spoolmore

                raise spoolmore.fail(self, "key", batch.output)
            end = batch.end
            if (end[0], end[2]) > (c[0], c[2]):
                self._save_cursor(batch.output, end)
            # Delete segments every output has acked past (never the one written to).
            segs = self.segments
            while len(segs) > 1:
                seq = segs[0][0]
                for c in self.cursors.values():
                    if c[0] <= seq:
                        return
                try:
                    os.remove(self._file(seq))
                except OSError:
                    pass
                segs.pop(0)

    # -- cursors and figures --------------------------------------------------

    def _save_cursor(self, name: str, end=None) -> None:
        """Write the output's cursor, moved to position ``end`` if given, into its file.

        Out of memory, nothing moves: the file and the cursor in memory still agree.
        Disk full, the cursor moves in memory only and is saved at a later ack, after
        the segments it frees have made room (a crash before then sends again).
        """
        c = self.cursors[name]
        v = list(end or c[:4]) + c[4:6]
        n = c[6] + 1
        path = "%s/cursor.%s" % (self.path, name)
        f = c[7]
        slots = []
        # The first save since opening writes a fresh two-slot file, later ones one slot,
        # at ``128 * (counter % 2)``: a torn write leaves the other, older one.
        for k in (n - 1, n) if f is None else (n,):
            text = "v3 %d %d %d %d %d %d %d" % (k, v[0], v[1], v[2], v[3], v[4], v[5])
            line = "%s %08x %s\n" % (text, _crc(text.encode()), " " * (117 - len(text)))
            slots.append(line.encode())  # 128 bytes: "v3 n seq offset recno skip dropped dead crc"
        try:
            if f is None:
                if n % 2 == 0:
                    slots.reverse()
                write_atomic(path, slots, self.cursor_sync)
                c[7] = open(path, "r+b")
            else:
                f.seek(128 * (n % 2))
                f.write(slots[0])
                if self.cursor_sync:
                    _fsync(f)
                else:
                    f.flush()
        except OSError:
            try:
                os.remove(path + ".tmp")
            except OSError:
                pass
        c[:4] = v[:4]
        c[6] = n

    def pending(self, output: str) -> int:
        """Points stored and not yet acked by ``output``."""
        with self.lock:
            c = self.cursors.get(output)
            if c is None:
                from tspush.core import spoolmore

                raise spoolmore.fail(self, "key", output)
            n = 0
            for s in self.segments:
                if s[0] == c[0]:
                    n += s[2] - c[2]
                elif s[0] > c[0]:
                    n += s[2]
            return n

    def dropped(self, output: str) -> int:
        """Points ``output`` never got: dropped by the caps before it acked them."""
        c = self.cursors.get(output)
        return c[4] if c is not None else 0

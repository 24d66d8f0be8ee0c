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
    payload = one or more points as OpenTSDB JSON objects, joined by b"\n"

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
has its own cursor, persisted atomically (temp file + rename) on ack, so a
dead upstream holds its own backlog without blocking the others.

Caps: ``max_bytes`` and ``max_age_s``. Whole segments go, oldest first; the
points an output had not acked are counted in its ``dropped``.
"""

import os
import struct

from tspush.core.errors import SpoolError

HEADER = 12  # bytes before a record's payload
MARK = 0xF5  # top byte of a record's first word
MAX_POINT = 65536  # bytes of one encoded point
MAX_RECORD = 1 << 20  # a length above this is taken as corruption
SEG_SUFFIX = ".seg"
_CURSOR = "cursor."
SLOT = 128
TORN, CORRUPT, EMPTY = 1, 2, 3  # kinds of damage

_crc32 = None  # binascii.crc32 once looked up, or _crc_bits where the port lacks it


def _crc(data, crc=0) -> int:
    global _crc32
    if _crc32 is None:
        import binascii

        _crc32 = getattr(binascii, "crc32", None) or _crc_bits
    return _crc32(data, crc) & 0xFFFFFFFF


def _crc_bits(data, crc=0) -> int:
    """The same CRC-32, bit by bit, for boards built without binascii.crc32."""
    crc = crc ^ 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0xEDB88320 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def _now_s() -> int:
    import time

    return int(time.time())


def _exists(path: str) -> bool:
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def _fsync(f) -> None:
    f.flush()
    sync = getattr(os, "fsync", None)
    if sync is not None:
        try:
            sync(f.fileno())
        except (AttributeError, OSError):
            pass


def write_atomic(path: str, data: bytes, sync: bool = True) -> None:
    """Replace ``path`` with ``data``: temp file, flush (+fsync), rename."""
    tmp = path + ".tmp"
    f = open(tmp, "wb")
    try:
        f.write(data)
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


def encode_record(payload: bytes, appended_s: int) -> bytes:
    head = struct.pack("<II", MARK << 24 | len(payload), appended_s & 0xFFFFFFFF)
    return head + struct.pack("<I", _crc(payload, _crc(head))) + payload


def check(f, pos: int, limit: int, piece: int, keep: bool = False):
    """The record at ``pos`` (``f`` is there) if whole and its CRC checks, else None.

    Returns ``(end, appended_s, n_points, points)``; ``points`` is the list of
    payloads when ``keep``, else None. The payload is read ``piece`` bytes at
    a time, so no buffer is larger than one point or one piece.
    """
    h = f.read(HEADER)
    if len(h) < HEADER:
        return None
    word, b, c = struct.unpack("<III", h)
    top = word >> 24
    if top == MARK:
        n, ts, want = word & 0xFFFFFF, b, c
        crc = _crc(h[:8])
    elif top == 0:  # written before the marker
        n, ts, want = word, c, b
        crc = _crc(h[8:])
    else:
        return None
    end = pos + HEADER + n
    if not n or n > MAX_RECORD or end > limit:
        return None
    if n <= piece:  # one read: the usual case on a computer
        data = f.read(n)
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
        data = f.read(piece if n > piece else n)
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
            if check(f, start, limit, piece) is not None:
                return start
            j = data.find(b"\xf5", j + 1)
        at += len(data)
    return -1


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
        got = check(f, pos, n, n)
        if got is None:
            pos = find(f, pos, n, 4096)
            if pos < 0:
                return
            continue
        yield pos, got[0], got[1]
        pos = got[0]


def decode_point(payload):
    """A Point from a stored record payload."""
    import json

    from tspush.core.point import Point

    d = json.loads(payload)
    return Point(d["metric"], d["value"], d.get("timestamp"), d.get("tags") or {})


class Segment:
    """What the spool knows about one segment file without reading it again."""

    __slots__ = ("seq", "size", "count", "first_s", "last_s", "holes")

    def __init__(self, seq: int):
        self.seq = seq
        self.size = 0
        self.count = 0
        self.first_s = 0  # append time of the first record; 0 while empty
        self.last_s = 0
        self.holes = None  # [start, end) of damaged bytes that reading jumps over


class Cursor:
    """An output's position and counters.

    ``offset`` is the byte offset of the record holding the next point,
    ``skip`` how many of that record's points are already done, and
    ``recno`` the index of the next point within the segment.
    """

    __slots__ = ("seq", "offset", "recno", "skip", "dropped", "dead")

    def __init__(self, seq=0, offset=0, recno=0, dropped=0, dead=0, skip=0):
        self.seq = seq
        self.offset = offset
        self.recno = recno
        self.skip = skip
        self.dropped = dropped
        self.dead = dead

    def position(self):
        return (self.seq, self.offset, self.recno, self.skip)

    def move(self, pos) -> None:
        self.seq, self.offset, self.recno, self.skip = pos

    def slot(self, counter: int) -> bytes:
        """One 128-byte slot: ``v3 counter seq offset recno skip dropped dead crc``."""
        text = "v3 %d %d %d %d %d %d %d" % (
            counter,
            self.seq,
            self.offset,
            self.recno,
            self.skip,
            self.dropped,
            self.dead,
        )
        line = ("%s %08x" % (text, _crc(text.encode()))).encode()
        return line + b" " * (SLOT - 1 - len(line)) + b"\n"

    @staticmethod
    def from_slot(data):
        """``(counter, Cursor)`` from a slot, or None when it does not check."""
        try:
            text = bytes(data).decode().strip()
            body, crc = text.rsplit(" ", 1)
            if not body.startswith("v3 ") or int(crc, 16) != _crc(body.encode()):
                return None
            v = [int(w) for w in body.split()[1:]]
            if len(v) != 7:
                return None
        except (ValueError, UnicodeError):
            return None
        return v[0], Cursor(v[1], v[2], v[3], v[5], v[6], v[4])

    @staticmethod
    def decode(data):
        """The newest valid slot of a cursor file (or a v1/v2 one-line file), or None."""
        if data[:3] == b"v3 ":
            best = None
            for i in range(0, len(data) - SLOT + 1, SLOT):
                got = Cursor.from_slot(data[i : i + SLOT])
                if got is not None and (best is None or got[0] > best[0]):
                    best = got
            return best
        try:
            words = data.decode().split()
            if words[0] == "v1" and len(words) == 6:
                words = words[:4] + ["0"] + words[4:]
            elif words[0] != "v2" or len(words) != 7:
                return None
            v = [int(w) for w in words[1:]]
        except (ValueError, IndexError, UnicodeError):
            return None
        return 0, Cursor(v[0], v[1], v[2], v[4], v[5], v[3])


class Batch:
    """Points taken for one output; give it back with ``ack`` or ``keep``."""

    __slots__ = ("output", "records", "appended", "start", "end")

    def __init__(self, output: str, records, appended, start, end):
        self.output = output
        self.records = records  # payload bytes, one per point, in spool order
        self.appended = appended  # append time (s) of each record
        self.start = start  # (seq, offset, recno, skip)
        self.end = end

    def __len__(self) -> int:
        return len(self.records)

    def points(self):
        return [decode_point(r) for r in self.records]


class Spool:
    """A spool directory shared by one writer and one or more output cursors.

    ``lock`` (optional) is any object with ``__enter__``/``__exit__``; the
    host passes a ``threading.Lock`` because sources and outputs run on
    threads. ``clock`` returns whole seconds and stamps records.
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
        if not outputs:
            raise SpoolError("spool needs at least one output name")
        for name in outputs:
            if not name or not _valid_name(name):
                raise SpoolError(
                    "output name %r: use letters, digits, '-' and '_' (it names a cursor file)"
                    % name
                )
        if segment_bytes < 256 or max_bytes < 2 * segment_bytes:
            raise SpoolError(
                "spool: segment_bytes %d and max_bytes %d: need segment_bytes >= 256 and "
                "max_bytes >= 2 * segment_bytes" % (segment_bytes, max_bytes)
            )
        self.path = path.rstrip("/") or "/"
        self.outputs = list(outputs)
        self.max_bytes = max_bytes
        self.max_age_s = max_age_s
        self.segment_bytes = segment_bytes
        self.sync_every_s = sync_every_s
        # Cursor files are replaced by rename, which a crashed process cannot
        # tear; fsync'ing them too only matters for a power cut, where a stale
        # cursor means points sent again, never lost.
        self.cursor_sync = cursor_sync
        # Small segments mean flash: small records and small reads save RAM.
        small = segment_bytes < 65536
        self.record_bytes = min(record_bytes or (1024 if small else 65536), segment_bytes // 4)
        self.read_bytes = 256 if small else 65536
        self.clock = clock or _now_s
        self.lock = lock or _NoLock()
        self.segments = []  # Segment, oldest first; the last one is written to
        self.cursors = {}
        self.corrupt_bytes = 0  # damaged bytes skipped or cut, since opening
        self.corrupt_records = 0
        self.damage = []  # (segment seq, kind, bytes, records): see describe()
        self.closed = False
        self._counters = {}  # output -> counter of its newest cursor slot
        self._cursor_files = {}  # output -> open cursor file, written in place
        self._last_sync_s = 0
        self._torn = False  # a write failed half-way: the last segment takes no more records
        self._open()

    # -- opening and recovery -------------------------------------------------

    def _file(self, seq: int) -> str:
        return "%s/%08d%s" % (self.path, seq, SEG_SUFFIX)

    def _open(self) -> None:
        try:
            os.stat(self.path)
        except OSError:
            _mkdirs(self.path)
        try:
            names = os.listdir(self.path)
        except OSError as e:
            raise SpoolError("spool directory %s cannot be read: %s" % (self.path, e), e)
        seqs = []
        for n in names:
            if n.endswith(SEG_SUFFIX):
                try:
                    seqs.append(int(n[: -len(SEG_SUFFIX)]))
                except ValueError:
                    pass
            elif n.endswith(".tmp"):
                _remove(self.path + "/" + n)
        seqs.sort()
        for seq in seqs:
            self.segments.append(self._recover(seq, seq == seqs[-1]))
        if not self.segments:
            self.segments.append(Segment(1))
        for name in self.outputs:
            self.cursors[name] = self._load_cursor(name)
        last = self.segments[-1]
        self._f = open(self._file(last.seq), "ab")

    def _recover(self, seq: int, last: bool) -> Segment:
        """Index one segment: skip damaged records, cut a torn tail, report an empty file."""
        path = self._file(seq)
        seg = Segment(seq)
        size = os.stat(path)[6]
        if not size and not last:
            # Only the segment written to can be empty: this one was cut by the file system.
            self.damage.append((seq, EMPTY, 0, 0))
            return seg
        piece = self.read_bytes
        f = open(path, "rb")
        try:
            pos = 0
            while pos < size:
                got = check(f, pos, size, piece)
                if got is None:
                    nxt = find(f, pos, size, piece)
                    self._damaged(seg, f, pos, size if nxt < 0 else nxt, nxt < 0)
                    if nxt < 0:
                        break
                    pos = nxt
                    f.seek(pos)
                    continue
                if seg.count == 0:
                    seg.first_s = got[1]
                seg.last_s = got[1]
                seg.count += got[2]
                pos = got[0]
        finally:
            f.close()
        seg.size = pos
        if pos < size:
            _cut(path, pos, piece)
        return seg

    def _damaged(self, seg, f, start: int, end: int, torn: bool) -> None:
        """Count the damaged bytes ``[start, end)``; reading jumps over them unless ``torn``."""
        # How many records they held, as far as their headers can still be followed.
        n = 0
        pos = start
        while pos < end:
            n += 1
            f.seek(pos)
            h = f.read(HEADER)
            word = struct.unpack("<I", h[:4])[0] if len(h) == HEADER else 0
            if word >> 24 not in (0, MARK) or not word & 0xFFFFFF:
                break
            pos += HEADER + (word & 0xFFFFFF)
        self.corrupt_bytes += end - start
        self.corrupt_records += n
        if not torn:
            if seg.holes is None:
                seg.holes = []
            seg.holes.append((start, end))
        self.damage.append((seg.seq, TORN if torn else CORRUPT, end - start, n))

    def _load_cursor(self, name: str) -> Cursor:
        path = self.path + "/" + _CURSOR + name
        c = None
        try:
            f = open(path, "rb")
            try:
                got = Cursor.decode(f.read(2 * SLOT))
            finally:
                f.close()
            if got is not None:
                self._counters[name], c = got
        except OSError:
            pass
        first = self.segments[0]
        if c is None:
            return Cursor(first.seq, 0, 0)
        if c.seq < first.seq:
            c.move((first.seq, 0, 0, 0))
        seg = self._segment(c.seq)
        if seg is not None and seg.holes and seg.holes[0][0] <= c.offset:
            self._recount(seg, c)
        if (
            seg is not None
            and c.offset
            and not seg.size
            and (seg.seq, EMPTY, 0, 0) not in self.damage
        ):
            self.damage.append((seg.seq, EMPTY, 0, 0))  # it held what this output had read
        if seg is None:
            # The segment it pointed into is gone: start at the next one.
            later = [s for s in self.segments if s.seq > c.seq]
            s = later[0] if later else self.segments[-1]
            c.move((s.seq, 0, 0, 0) if later else (s.seq, s.size, s.count, 0))
        elif c.offset > seg.size or c.recno > seg.count or (c.offset == seg.size and c.skip):
            # The tail it had acked was cut after a crash: nothing left to send there.
            c.move((seg.seq, seg.size, seg.count, 0))
        return c

    def _recount(self, seg, c) -> None:
        """Count again the valid points before ``c``'s offset: some at or before it are damaged."""
        off, skip = c.offset, c.skip
        for a, b in seg.holes:
            if a <= off < b:  # the record it points at is damaged
                off, skip = b, 0
        pos = n = 0
        f = open(self._file(seg.seq), "rb")
        try:
            while pos < off and pos < seg.size:
                for a, b in seg.holes:
                    if a <= pos < b:
                        pos = b
                if pos >= off:
                    break
                f.seek(pos)
                got = check(f, pos, seg.size, self.read_bytes)
                if got is None:
                    break
                n += got[2]
                pos = got[0]
        finally:
            f.close()
        c.move((seg.seq, pos, n, skip if pos == off else 0))

    def _segment(self, seq: int):
        for s in self.segments:
            if s.seq == seq:
                return s
        return None

    # -- writing --------------------------------------------------------------

    def append(self, points, now_ts=None) -> int:
        """Store points durably (per ``sync_every_s``); stamp those without a timestamp.

        Returns the number stored. ``now_ts`` is the stamp for points whose
        ``ts`` is None (seconds or milliseconds, as the caller's clock gives).
        """
        from tspush.core.opentsdb import encode_point

        payloads = []
        for p in points:
            if p.ts is None and now_ts is not None:
                p.ts = now_ts
            payload = encode_point(p)
            if len(payload) > MAX_POINT:
                raise SpoolError(
                    "%s: point encodes to %d bytes, over the %d-byte limit"
                    % (p.describe(), len(payload), MAX_POINT)
                )
            payloads.append(payload)
        return self.append_records(payloads)

    def append_records(self, payloads) -> int:
        """Store already-encoded points (OpenTSDB JSON objects, one per payload).

        A SpoolError (disk full) says in ``stored`` how many of the first
        points were stored before the write failed; the rest were not.
        """
        if not payloads:
            return 0
        now_s = self.clock()
        records = []  # (record bytes, points in it)
        group = []
        group_bytes = 0
        for payload in payloads:
            if len(payload) > MAX_POINT:
                raise SpoolError(
                    "a point encodes to %d bytes, over the %d-byte limit"
                    % (len(payload), MAX_POINT)
                )
            if group and group_bytes + len(payload) + 1 > self.record_bytes:
                records.append((encode_record(b"\n".join(group), now_s), len(group)))
                group = []
                group_bytes = 0
            group.append(payload)
            group_bytes += len(payload) + 1
        if group:
            records.append((encode_record(b"\n".join(group), now_s), len(group)))
        with self.lock:
            parts = []
            seg = self.segments[-1]
            size = seg.size
            n = done = 0
            try:
                for rec, count in records:
                    if size + len(rec) > self.segment_bytes and size > 0:
                        self._write(seg, parts, n, now_s)
                        done += n
                        seg = self._rotate()
                        size = 0
                        parts = []
                        n = 0
                    parts.append(rec)
                    size += len(rec)
                    n += count
                self._write(seg, parts, n, now_s)
                done += n
                self._sync(now_s)
                self._enforce_caps(now_s)
            except SpoolError as e:
                e.stored = done  # the points before the failed write are stored
                raise
        return len(payloads)

    def _write(self, seg: Segment, parts, n: int, now_s: int) -> None:
        if not n:
            return
        if self._torn:
            seg = self._fresh_segment()
        data = b"".join(parts)
        try:
            self._f.write(data)
            self._f.flush()
        except OSError as e:
            # Disk full: part of ``data`` may be on disk. Nothing may follow a torn
            # record (recovery cuts a segment there), so this segment is closed for
            # good and the next write starts a new one.
            self._torn = True
            try:
                self._f.close()  # also drops the bytes it still buffers
            except OSError:
                pass
            raise SpoolError(
                "spool %s: cannot write (%s): check free space and permissions" % (self.path, e), e
            )
        if seg.count == 0:
            seg.first_s = now_s
        seg.size += len(data)
        seg.count += n
        seg.last_s = now_s

    def _sync(self, now_s: int, force: bool = False) -> None:
        if self.sync_every_s is None or self.sync_every_s < 0:
            if force:
                _fsync(self._f)
            return
        if force or now_s - self._last_sync_s >= self.sync_every_s:
            _fsync(self._f)
            self._last_sync_s = now_s

    def _rotate(self) -> Segment:
        _fsync(self._f)
        self._f.close()
        self._torn = True  # until the new segment is open
        return self._fresh_segment()

    def _fresh_segment(self) -> Segment:
        last = self.segments[-1]
        empty = last.size == 0  # holds no whole record: start it again rather than add one
        seg = last if empty else Segment(last.seq + 1)
        try:
            f = open(self._file(seg.seq), "wb" if empty else "ab")
        except OSError as e:
            raise SpoolError(
                "spool %s: cannot start a new segment (%s): check free space" % (self.path, e), e
            )
        if not empty:
            self.segments.append(seg)
        self._f = f
        self._torn = False
        return seg

    def flush(self) -> None:
        with self.lock:
            _fsync(self._f)

    def close(self) -> None:
        with self.lock:
            if not self.closed:
                try:
                    _fsync(self._f)
                    self._f.close()
                except (OSError, ValueError):
                    pass  # disk full or already closed after a failed write: all is indexed
                for name in self._cursor_files:
                    try:
                        self._cursor_files[name].close()
                    except OSError:
                        pass
                self._cursor_files = {}
                self.closed = True

    # -- caps -----------------------------------------------------------------

    def total_bytes(self) -> int:
        return sum(s.size for s in self.segments)

    def _enforce_caps(self, now_s: int) -> None:
        while len(self.segments) > 1 and self.segments[0].count == 0:
            self._drop_oldest()
        while len(self.segments) > 1 and self.total_bytes() > self.max_bytes:
            self._drop_oldest()
        if self.max_age_s:
            cutoff = now_s - self.max_age_s
            while self.segments[0].count and self.segments[0].last_s < cutoff:
                if len(self.segments) == 1:
                    self._rotate()
                self._drop_oldest()

    def _drop_oldest(self) -> None:
        seg = self.segments.pop(0)
        nxt = self.segments[0]
        for name in self.cursors:
            c = self.cursors[name]
            if c.seq <= seg.seq:
                c.dropped += seg.count - (c.recno if c.seq == seg.seq else 0)
                c.move((nxt.seq, 0, 0, 0))
                self._save_cursor(name, c)
        _remove(self._file(seg.seq))

    def _gc(self) -> None:
        """Delete segments every output has acked past (never the one written to)."""
        while len(self.segments) > 1:
            seq = self.segments[0].seq
            for name in self.cursors:
                if self.cursors[name].seq <= seq:
                    return
            _remove(self._file(seq))
            self.segments.pop(0)

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
            c = self._cursor(output)
            if start is None or (start[0], start[2]) < (c.seq, c.recno):
                start = c.position()
            records = []
            appended = []
            pos = start
            budget = [max_points, max_bytes, per_record_bytes, 0]
            for seg in self.segments:
                if seg.seq < pos[0]:
                    continue
                if seg.seq > pos[0]:
                    pos = (seg.seq, 0, 0, 0)
                if pos[1] >= seg.size:
                    continue
                pos, full = self._read(seg, pos, budget, records, appended)
                if full:
                    break
            if not records:
                return None
            return Batch(output, records, appended, start, pos)

    def _read(self, seg, pos, budget, records, appended):
        """Points of ``seg`` from ``pos`` into ``records``; the new position and whether full."""
        want, max_bytes, extra = budget[0], budget[1], budget[2]
        _, offset, recno, skip = pos
        if seg is self.segments[-1] and not self._torn:
            self._f.flush()
        piece = self.read_bytes
        f = open(self._file(seg.seq), "rb")
        try:
            f.seek(offset)
            while offset < seg.size and len(records) < want:
                if seg.holes:
                    for a, b in seg.holes:
                        if a <= offset < b:
                            offset = b
                            skip = 0
                            f.seek(offset)
                    if offset >= seg.size:
                        break
                got = check(f, offset, seg.size, piece, True)
                if got is None:
                    # Changed on disk since it was indexed: go on at the next valid record.
                    nxt = find(f, offset, seg.size, piece)
                    self._damaged(seg, f, offset, seg.size if nxt < 0 else nxt, False)
                    f.seek(offset)
                    continue
                end, appended_s, n_pts, points = got
                i = skip
                room = want - len(records)
                chunk = points[i : i + room] if (i or room < n_pts) else points
                size = 0
                if max_bytes:
                    for p in chunk:
                        size += len(p)
                    size += extra * len(chunk)
                if not max_bytes or budget[3] + size <= max_bytes:
                    # The common case: the whole rest of the record fits.
                    records.extend(chunk)
                    appended.extend([appended_s] * len(chunk))
                    budget[3] += size
                    recno += len(chunk)
                    i += len(chunk)
                while i < n_pts and len(records) < want:
                    p = points[i]
                    if max_bytes and records and budget[3] + len(p) + extra > max_bytes:
                        return (seg.seq, offset, recno, i), True
                    budget[3] += len(p) + extra
                    records.append(p)
                    appended.append(appended_s)
                    recno += 1
                    i += 1
                if i < n_pts:
                    return (seg.seq, offset, recno, i), True
                skip = 0
                offset = end
        finally:
            f.close()
        if offset >= seg.size:  # (recno falls short if a record was damaged since indexing)
            offset, recno = seg.size, seg.count
        return (seg.seq, offset, recno, 0), len(records) >= want

    def ack(self, batch) -> None:
        """The batch is delivered (or dead-lettered): never send it again."""
        with self.lock:
            c = self._cursor(batch.output)
            if (batch.end[0], batch.end[2]) > (c.seq, c.recno):
                c.move(batch.end)
                self._save_cursor(batch.output, c)
            self._gc()

    def keep(self, batch) -> None:
        """Send later: nothing moves (present for symmetry and readability)."""
        return None

    def dead_letter(self, output: str, items, file_path=None) -> int:
        """Append rejected points as JSON lines ``{"output","reason","point"}``; count them.

        ``items``: ``(payload_bytes, reason)`` pairs. Call ``ack`` afterwards.
        """
        from tspush.core.opentsdb import json_str

        if not items:
            return 0
        path = file_path or (self.path + "/dead-letter.jsonl")
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
        with self.lock:
            f = open(path, "ab")
            try:
                f.write(b"".join(lines))
                _fsync(f)
            finally:
                f.close()
            c = self._cursor(output)
            c.dead += len(lines)
            self._save_cursor(output, c)
        return len(lines)

    # -- cursors and figures --------------------------------------------------

    def _cursor(self, output: str) -> Cursor:
        c = self.cursors.get(output)
        if c is None:
            raise SpoolError(
                "output %r has no cursor in spool %s: known outputs are %s"
                % (output, self.path, ", ".join(sorted(self.cursors)))
            )
        return c

    def _save_cursor(self, name: str, c: Cursor) -> None:
        path = self.path + "/" + _CURSOR + name
        counter = self._counters.get(name, 0) + 1
        self._counters[name] = counter
        try:
            f = self._cursor_files.get(name)
            if f is None:
                # First save since opening: a fresh two-slot file, then written in place.
                slots = [c.slot(counter - 1), c.slot(counter)]
                if counter % 2 == 0:
                    slots.reverse()
                write_atomic(path, slots[0] + slots[1], self.cursor_sync)
                self._cursor_files[name] = open(path, "r+b")
                return
            f.seek(SLOT * (counter % 2))
            f.write(c.slot(counter))
            if self.cursor_sync:
                _fsync(f)
            else:
                f.flush()
        except OSError:
            # Disk full: the cursor moves in memory and is saved at a later ack, after
            # the segments it frees have made room. A crash before then sends again.
            _remove(path + ".tmp")

    def pending(self, output: str) -> int:
        """Points stored and not yet acked by ``output``."""
        with self.lock:
            c = self._cursor(output)
            n = 0
            for s in self.segments:
                if s.seq == c.seq:
                    n += s.count - c.recno
                elif s.seq > c.seq:
                    n += s.count
            return n

    def points(self) -> int:
        """Points stored in the spool (acked by some outputs but not all included)."""
        return sum(s.count for s in self.segments)

    def oldest_pending_s(self, output: str):
        """Append time (clock seconds) of ``output``'s oldest pending point, or None."""
        with self.lock:
            c = self._cursor(output)
            for s in self.segments:
                if s.seq < c.seq:
                    continue
                off = c.offset if s.seq == c.seq else 0
                for a, b in s.holes or ():
                    if a <= off < b:
                        off = b
                if off >= s.size:
                    continue
                if s is self.segments[-1]:
                    self._f.flush()
                f = open(self._file(s.seq), "rb")
                try:
                    f.seek(off)
                    head = f.read(HEADER)
                finally:
                    f.close()
                if len(head) == HEADER:
                    word, b, c = struct.unpack("<III", head)
                    return b if word >> 24 == MARK else c
            return None

    def stats(self, output: str) -> dict:
        c = self._cursor(output)
        return {
            "pending": self.pending(output),
            "oldest_s": self.oldest_pending_s(output),
            "dropped": c.dropped,
            "dead_letters": c.dead,
        }


def describe(d) -> str:
    """One log line for an entry of ``Spool.damage``."""
    seq, kind, size, n = d
    name = "%08d%s" % (seq, SEG_SUFFIX)
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


class _NoLock:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _valid_name(name: str) -> bool:
    for ch in name:
        if not (ch.isalpha() or ch.isdigit() or ch in "-_"):
            return False
    return True


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


def _mkdirs(path: str) -> None:
    parts = path.split("/")
    cur = ""
    for i, part in enumerate(parts):
        if not part:
            if i == 0:
                cur = "/"
            continue
        cur = (cur + "/" + part) if cur and cur != "/" else (cur + part)
        if not _exists(cur):
            try:
                os.mkdir(cur)
            except OSError as e:
                raise SpoolError("spool directory %s cannot be created: %s" % (path, e), e)


def _cut(path: str, end: int, piece: int = 256) -> None:
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
            _fsync(dst)
        finally:
            dst.close()
    finally:
        src.close()
    _remove(path)
    os.rename(tmp, path)

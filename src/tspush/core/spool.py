"""Persistent store-and-forward: append-only segment files with a CRC per record.

Why: nothing accepted may be lost while the network or the server is down,
and after a crash at most the one batch in flight is sent again. The same
format runs on a board's flash (small segments, one write per append).

On disk, in one directory::

    00000001.seg ...   segments; each a run of records
    cursor.NAME        one per output: where its unacked points start

A record is a 12-byte header then the payload::

    <u32 length> <u32 crc32 of (appended_s bytes + payload)> <u32 appended_s>
    payload = one point as OpenTSDB JSON (``opentsdb.encode_point``)

Opening the spool scans every segment; the first record whose header or CRC
does not check cuts its segment there (a torn tail after a crash), and the
cut is counted in ``corrupt_bytes``, never fatal.

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

HEADER = struct.calcsize("<III")
MAX_RECORD = 65536
SEG_SUFFIX = ".seg"
_CURSOR = "cursor."
_CHUNK = 32768


def _crc(data, crc=0) -> int:
    import binascii

    f = getattr(binascii, "crc32", None)
    if f is not None:
        return f(data, crc) & 0xFFFFFFFF
    # Boards built without binascii.crc32: the same CRC-32, bit by bit.
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


def write_atomic(path: str, data: bytes) -> None:
    """Replace ``path`` with ``data``: temp file, flush+fsync, rename."""
    tmp = path + ".tmp"
    f = open(tmp, "wb")
    try:
        f.write(data)
        _fsync(f)
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
    t = struct.pack("<I", appended_s & 0xFFFFFFFF)
    return struct.pack("<II", len(payload), _crc(payload, _crc(t))) + t + payload


def scan(buf, start: int = 0):
    """Yield ``(offset, end, appended_s)`` of each valid record; stop at the first bad one."""
    pos = start
    n = len(buf)
    while pos + HEADER <= n:
        length, crc, appended_s = struct.unpack_from("<III", buf, pos)
        end = pos + HEADER + length
        if length > MAX_RECORD or end > n:
            return
        mv = memoryview(buf)
        if _crc(mv[pos + HEADER : end], _crc(mv[pos + 8 : pos + HEADER])) != crc:
            return
        yield pos, end, appended_s
        pos = end


def decode_point(payload):
    """A Point from a stored record payload."""
    import json

    from tspush.core.point import Point

    d = json.loads(payload)
    return Point(d["metric"], d["value"], d.get("timestamp"), d.get("tags") or {})


class Segment:
    """What the spool knows about one segment file without reading it again."""

    __slots__ = ("seq", "size", "count", "first_s", "last_s")

    def __init__(self, seq: int):
        self.seq = seq
        self.size = 0
        self.count = 0
        self.first_s = 0  # append time of the first record; 0 while empty
        self.last_s = 0


class Cursor:
    """An output's position: segment, byte offset, record index; plus its counters."""

    __slots__ = ("seq", "offset", "recno", "dropped", "dead")

    def __init__(self, seq=0, offset=0, recno=0, dropped=0, dead=0):
        self.seq = seq
        self.offset = offset
        self.recno = recno
        self.dropped = dropped
        self.dead = dead

    def encode(self) -> bytes:
        return (
            "v1 %d %d %d %d %d\n" % (self.seq, self.offset, self.recno, self.dropped, self.dead)
        ).encode()

    @staticmethod
    def decode(data):
        try:
            words = data.decode().split()
            if words[0] != "v1" or len(words) != 6:
                return None
            v = [int(w) for w in words[1:]]
        except (ValueError, IndexError, UnicodeError):
            return None
        return Cursor(v[0], v[1], v[2], v[3], v[4])


class Batch:
    """Points taken for one output; give it back with ``ack`` or ``keep``."""

    __slots__ = ("output", "records", "appended", "start", "end")

    def __init__(self, output: str, records, appended, start, end):
        self.output = output
        self.records = records  # payload bytes, one per point, in spool order
        self.appended = appended  # append time (s) of each record
        self.start = start  # (seq, offset, recno)
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
        self.clock = clock or _now_s
        self.lock = lock or _NoLock()
        self.segments = []  # Segment, oldest first; the last one is written to
        self.cursors = {}
        self.corrupt_bytes = 0
        self.closed = False
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
            self.segments.append(self._recover(seq))
        if not self.segments:
            self.segments.append(Segment(1))
        for name in self.outputs:
            self.cursors[name] = self._load_cursor(name)
        last = self.segments[-1]
        self._f = open(self._file(last.seq), "ab")

    def _recover(self, seq: int) -> Segment:
        """Index one segment; cut it at the first record that does not check."""
        path = self._file(seq)
        f = open(path, "rb")
        try:
            buf = f.read()
        finally:
            f.close()
        seg = Segment(seq)
        end = 0
        for _, end, appended_s in scan(buf):
            if seg.count == 0:
                seg.first_s = appended_s
            seg.last_s = appended_s
            seg.count += 1
        seg.size = end
        if end < len(buf):
            self.corrupt_bytes += len(buf) - end
            _cut(path, buf, end)
        return seg

    def _load_cursor(self, name: str) -> Cursor:
        path = self.path + "/" + _CURSOR + name
        c = None
        try:
            f = open(path, "rb")
            try:
                c = Cursor.decode(f.read())
            finally:
                f.close()
        except OSError:
            pass
        first = self.segments[0]
        if c is None:
            return Cursor(first.seq, 0, 0)
        if c.seq < first.seq:
            c.seq, c.offset, c.recno = first.seq, 0, 0
        seg = self._segment(c.seq)
        if seg is None:
            # The segment it pointed into is gone: start at the next one.
            later = [s for s in self.segments if s.seq > c.seq]
            s = later[0] if later else self.segments[-1]
            c.seq, c.offset, c.recno = s.seq, (0 if later else s.size), (0 if later else s.count)
        elif c.offset > seg.size or c.recno > seg.count:
            # The tail it had acked was cut after a crash: nothing left to send there.
            c.offset, c.recno = seg.size, seg.count
        return c

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
            if len(payload) > MAX_RECORD:
                raise SpoolError(
                    "%s: point encodes to %d bytes, over the %d-byte record limit"
                    % (p.describe(), len(payload), MAX_RECORD)
                )
            payloads.append(payload)
        return self.append_records(payloads)

    def append_records(self, payloads) -> int:
        """Store already-encoded points (OpenTSDB JSON objects, one per payload)."""
        if not payloads:
            return 0
        now_s = self.clock()
        with self.lock:
            parts = []
            seg = self.segments[-1]
            size = seg.size
            n = 0
            for payload in payloads:
                if len(payload) > MAX_RECORD:
                    raise SpoolError(
                        "a point encodes to %d bytes, over the %d-byte record limit"
                        % (len(payload), MAX_RECORD)
                    )
                rec = encode_record(payload, now_s)
                if size + len(rec) > self.segment_bytes and size > 0:
                    self._write(seg, parts, n, now_s)
                    seg = self._rotate()
                    size = 0
                    parts = []
                    n = 0
                parts.append(rec)
                size += len(rec)
                n += 1
            self._write(seg, parts, n, now_s)
            self._sync(now_s)
            self._enforce_caps(now_s)
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
        seg = Segment(self.segments[-1].seq + 1)
        try:
            f = open(self._file(seg.seq), "ab")
        except OSError as e:
            raise SpoolError(
                "spool %s: cannot start a new segment (%s): check free space" % (self.path, e), e
            )
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
                c.seq, c.offset, c.recno = nxt.seq, 0, 0
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

    def take(self, output: str, max_points: int = 500, max_bytes: int = 0, per_record_bytes=0):
        """The next unacked points for ``output`` (oldest first), or None when none are pending.

        ``max_bytes`` bounds the total payload bytes, counting
        ``per_record_bytes`` more for each record (a separator); 0: no bound.
        At least one point is returned when any is pending.
        """
        with self.lock:
            c = self._cursor(output)
            start = (c.seq, c.offset, c.recno)
            records = []
            appended = []
            total = 0
            seq, offset, recno = c.seq, c.offset, c.recno
            for seg in self.segments:
                if seg.seq < seq:
                    continue
                if seg.seq > seq:
                    seq, offset, recno = seg.seq, 0, 0
                if offset >= seg.size:
                    continue
                offset, recno, total, full = self._read(
                    seg,
                    offset,
                    recno,
                    max_points,
                    max_bytes,
                    per_record_bytes,
                    total,
                    records,
                    appended,
                )
                if full:
                    break
            if not records:
                return None
            return Batch(output, records, appended, start, (seq, offset, recno))

    def _read(self, seg, offset, recno, want, max_bytes, extra, total, records, appended):
        """Read records of ``seg`` from ``offset``; return the new position and whether full."""
        if seg is self.segments[-1] and not self._torn:
            self._f.flush()
        f = open(self._file(seg.seq), "rb")
        try:
            f.seek(offset)
            buf = b""
            pos = 0
            while offset < seg.size and len(records) < want:
                if len(buf) - pos < HEADER:
                    buf = buf[pos:] + f.read(_CHUNK)
                    pos = 0
                    if len(buf) < HEADER:
                        break
                length, crc, appended_s = struct.unpack_from("<III", buf, pos)
                if length > MAX_RECORD:
                    break
                end = pos + HEADER + length
                if end > len(buf):
                    buf = buf[pos:] + f.read(end - len(buf) + _CHUNK)
                    pos = 0
                    end = HEADER + length
                    if end > len(buf):
                        break
                if max_bytes and records and total + length + extra > max_bytes:
                    return offset, recno, total, True
                payload = buf[pos + HEADER : end]
                if _crc(payload, _crc(buf[pos + 8 : pos + HEADER])) != crc:
                    break
                records.append(payload)
                appended.append(appended_s)
                total += length + extra
                recno += 1
                offset += HEADER + length
                pos = end
            else:
                return offset, recno, total, len(records) >= want
        finally:
            f.close()
        # A record changed on disk after it was indexed: skip the rest of this segment.
        self.corrupt_bytes += seg.size - offset
        return seg.size, seg.count, total, False

    def ack(self, batch) -> None:
        """The batch is delivered (or dead-lettered): never send it again."""
        with self.lock:
            c = self._cursor(batch.output)
            if (batch.end[0], batch.end[1]) > (c.seq, c.offset):
                c.seq, c.offset, c.recno = batch.end
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
        write_atomic(self.path + "/" + _CURSOR + name, c.encode())

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
                    return struct.unpack("<III", head)[2]
            return None

    def stats(self, output: str) -> dict:
        c = self._cursor(output)
        return {
            "pending": self.pending(output),
            "oldest_s": self.oldest_pending_s(output),
            "dropped": c.dropped,
            "dead_letters": c.dead,
        }


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


def _cut(path: str, buf, end: int) -> None:
    """Keep the first ``end`` bytes of a segment (os.truncate, or copy and rename)."""
    trunc = getattr(os, "truncate", None)
    if trunc is not None:
        trunc(path, end)
        return
    write_atomic(path, bytes(buf[:end]))

"""Where readings wait: a bounded RAM queue, then the flash spool.

Readings enter RAM with the ``ticks_ms`` of their reading (so they can be
stamped when the clock becomes valid). ``to_spool`` moves them to flash in
one append (one write per cycle spares the flash), using the agent's record
format (``tspush.core.spool``); they survive reboot, power loss and deep
sleep there. When RAM is full the oldest reading is dropped and counted;
the spool has its own byte cap and drop counter. Without a spool
(``spool_dir = ""``), ``take`` cuts batches from RAM with the core's
``opentsdb.batches``; with one, ``core.forward`` takes batches from the spool.
"""

OUTPUT = "board"


class Pending:
    """One batch to send: body parts (not joined), their length, and how to settle it."""

    __slots__ = ("parts", "body_len", "count", "handle")

    def __init__(self, parts, body_len, count, handle):
        self.parts = parts
        self.body_len = body_len
        self.count = count
        self.handle = handle


class Buffer:
    def __init__(self, queue_max=200, spool=None):
        self.queue_max = queue_max
        self.spool = spool
        self.points = []
        self.read_ms = []
        self.dropped = 0

    def add(self, points, read_ms):
        for p in points:
            self.points.append(p)
            self.read_ms.append(read_ms)
        over = len(self.points) - self.queue_max
        if over > 0:
            del self.points[:over]
            del self.read_ms[:over]
            self.dropped += over

    def ram_count(self):
        return len(self.points)

    def pending(self):
        n = len(self.points)
        if self.spool is not None:
            n += self.spool.pending(OUTPUT)
        return n

    def unstamped(self):
        n = 0
        for p in self.points:
            if p.ts is None:
                n += 1
        return n

    def to_spool(self, unstamped_too=False):
        """Move stamped readings (all of them if ``unstamped_too``) to flash; return how many."""
        if self.spool is None or not self.points:
            return 0
        move = []
        keep = []
        keep_ms = []
        for i in range(len(self.points)):
            p = self.points[i]
            if p.ts is not None or unstamped_too:
                move.append(p)
            else:
                keep.append(p)
                keep_ms.append(self.read_ms[i])
        if move:
            self.spool.append(move)
        self.points = keep
        self.read_ms = keep_ms
        return len(move)

    def take(self, max_points, max_bytes, unstamped_too=False):
        """The next batch from RAM (no spool), cut by the core's ``opentsdb.batches``; or None."""
        ready = [p for p in self.points if p.ts is not None or unstamped_too]
        if not ready:
            return None
        from tspush.core.opentsdb import batches

        for body, pts in batches(ready, max_points, max_bytes):
            return Pending([body], len(body), len(pts), pts)
        return None

    def ack(self, pending):
        """Forget the points of a delivered (or refused) RAM batch."""
        gone = {}
        for p in pending.handle:
            gone[id(p)] = True
        keep = []
        keep_ms = []
        for i in range(len(self.points)):
            if id(self.points[i]) not in gone:
                keep.append(self.points[i])
                keep_ms.append(self.read_ms[i])
        self.points = keep
        self.read_ms = keep_ms

    def reject(self, pending, reason):
        """The server refused these points for good (no spool: no dead-letter file)."""
        self.ack(pending)

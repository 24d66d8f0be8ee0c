"""Where readings wait: a bounded RAM queue, then the flash spool.

With a spool (the normal case) every cycle's readings go to flash at once
(``App.store``), in the agent's record format (``tspush.core.spool``); they
survive reboot, power loss and deep sleep there, and ``core.forward`` takes
batches from it. Without one (``spool_dir = ""``) readings wait in RAM, with
the raw RTC seconds of their reading so they can be stamped when the clock
is set; when RAM is full the oldest reading is dropped and counted, and
``take`` cuts batches with the core's ``opentsdb.batches``.
"""

OUTPUT = "board"


class Buffer:
    def __init__(self, queue_max=200, spool=None):
        self.queue_max = queue_max
        self.spool = spool
        self.points = []
        self.read_s = []
        self.dropped = 0

    def add(self, points, read_s):
        for p in points:
            self.points.append(p)
            self.read_s.append(read_s)
        over = len(self.points) - self.queue_max
        if over > 0:
            del self.points[:over]
            del self.read_s[:over]
            self.dropped += over

    def ram_count(self):
        return len(self.points)

    def pending(self):
        n = len(self.points)
        if self.spool is not None:
            n += self.spool.pending(OUTPUT)
        return n

    def stamp(self, offset_s):
        """Readings taken before the clock was set hold raw RTC seconds: add the era's offset."""
        n = 0
        for i in range(len(self.points)):
            p = self.points[i]
            if p.ts is None:
                # a new Point (points are never changed), made without a new name (RAM)
                self.points[i] = p.__class__(p.metric, p.value, self.read_s[i] + offset_s, p.tags)
                n += 1
        return n

    def take(self, max_points, max_bytes):
        """The next batch of stamped readings from RAM, cut by ``opentsdb.batches``: a tuple
        ``(body, point count, points)`` (no class: each costs an ESP8266 RAM), or None."""
        ready = [p for p in self.points if p.ts is not None]
        if not ready:
            return None
        from tspush.core.opentsdb import batches

        for body, pts in batches(ready, max_points, max_bytes):
            return body, len(pts), pts
        return None

    def ack(self, pending):
        """Forget the points of a delivered (or refused) RAM batch."""
        gone = {}
        for p in pending[2]:
            gone[id(p)] = True
        keep = []
        keep_ms = []
        for i in range(len(self.points)):
            if id(self.points[i]) not in gone:
                keep.append(self.points[i])
                keep_ms.append(self.read_s[i])
        self.points = keep
        self.read_s = keep_ms

    def reject(self, pending, reason):
        """The server refused these points for good (no spool: no dead-letter file)."""
        self.ack(pending)

"""Sending the readings that wait in RAM (a board without a spool), through the same engine.

Loaded only without a spool (``spool_dir = ""``): a board that spools to
flash never holds this code (RAM on an ESP8266). Batches are cut by the
core's ``opentsdb.batches``; each goes through ``Pusher``'s delivery
(``core.answer.deliver``) and its back-off; the points a server refuses are
dropped and counted (there is no dead-letter file without a spool).
"""


def take(buffer, max_points, max_bytes):
    """The next batch of stamped readings: ``(body, points)``, or None."""
    ready = [p for p in buffer.points if p.ts is not None]
    if not ready:
        return None
    from tspush.core.opentsdb import batches

    for body, pts in batches(ready, max_points, max_bytes):
        return body, pts
    return None


def forget(buffer, points):
    """Drop ``points`` (delivered or refused) from the RAM queue, with their reading times."""
    gone = {}
    for p in points:
        gone[id(p)] = True
    keep = []
    keep_s = []
    for i in range(len(buffer.points)):
        if id(buffer.points[i]) not in gone:
            keep.append(buffer.points[i])
            keep_s.append(buffer.read_s[i])
    buffer.points = keep
    buffer.read_s = keep_s


def push(pusher, buffer, max_requests):
    """Send RAM batches until none is left, a failure, or ``max_requests``: points sent."""
    from tspush.core.opentsdb import encode

    sent = 0
    for _ in range(max_requests):
        pending = take(buffer, pusher.max_points, pusher.max_bytes)
        if pending is None:
            break
        body, first = pending

        def body_of(points):
            return body if points is first else encode(points)  # made already, or a half

        n, refused, stop = pusher._deliver(first, body_of)
        if stop is not None:
            pusher._failed(stop, buffer.pending())
            break
        forget(buffer, first)
        pusher.rejected += len(refused)
        sent += n
        pusher.ack(n)
    return sent

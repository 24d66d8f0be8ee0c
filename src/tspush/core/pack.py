"""Packing encoded points into request bodies bounded by count and bytes.

Every wire format (OpenTSDB JSON, Influx lines, Warp 10 GTS, remote write),
on the board and on the computer, cuts batches here; only the encoder and
the framing differ (``[`` ``,`` ``]`` for a JSON array, nothing for
newline-terminated lines).
"""

from tspush.core.errors import PointError


def describe(p) -> str:
    """A point's short form for messages, even for a malformed point."""
    try:
        return p.describe()
    except Exception:
        return repr(getattr(p, "metric", p))


def pack(points, encode, max_points: int, max_bytes: int, head=b"", sep=b"", tail=b"", whole=None):
    """Yield ``(body, points_in_body)``, each body at most ``max_bytes``.

    ``encode(p)`` gives one point's bytes. A point whose encoding cannot fit
    a body alone raises PointError once the points before it are yielded: it
    can never be sent, and the caller decides what happens to it.

    ``whole(chunk)`` (optional: the computer's fast encoders) gives the body
    of up to ``max_points`` points in one call, or None; a body that fits is
    sent as it is, else the chunk is packed point by point and the points
    left over start the next chunk. The bodies are the same either way.
    """
    if whole is None:
        yield from _each(points, encode, max_points, max_bytes, head, sep, tail)
        return
    it = iter(points)
    carry = []
    while True:
        chunk = carry
        for p in it:
            chunk.append(p)
            if len(chunk) >= max_points:
                break
        if not chunk:
            return
        body = whole(chunk)
        if body is not None and len(body) <= max_bytes:
            carry = []
            yield body, chunk
            continue
        for body, batch in _each(chunk, encode, max_points, max_bytes, head, sep, tail):
            yield body, batch
            break
        carry = chunk[len(batch) :]


def _each(points, encode, max_points: int, max_bytes: int, head, sep, tail):
    frame = len(head) + len(tail)
    parts = []
    batch = []
    size = frame
    for p in points:
        b = encode(p)
        if frame + len(b) > max_bytes:
            if parts:  # the points before it can still be sent
                yield head + sep.join(parts) + tail, batch
            raise PointError(
                "%s: one point encodes to %d bytes, over the %d-byte body limit: shorten its tags"
                % (describe(p), len(b), max_bytes),
                "too-large",
                p,
            )
        extra = len(b) + (len(sep) if parts else 0)
        if parts and (len(parts) >= max_points or size + extra > max_bytes):
            yield head + sep.join(parts) + tail, batch
            parts = []
            batch = []
            size = frame
            extra = len(b)
        parts.append(b)
        batch.append(p)
        size += extra
    if parts:
        yield head + sep.join(parts) + tail, batch

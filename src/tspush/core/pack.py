"""Packing encoded points into request bodies bounded by count and bytes.

Every wire format (OpenTSDB JSON, Influx lines, Warp 10 GTS) cuts batches the
same way; only the encoder and the framing differ (``[`` ``,`` ``]`` for a
JSON array, nothing for newline-terminated lines).
"""

from tspush.core.errors import PointError


def describe(p) -> str:
    """A point's short form for messages, even for a malformed point."""
    try:
        return p.describe()
    except Exception:
        return repr(getattr(p, "metric", p))


def pack(points, encode, max_points: int, max_bytes: int, head=b"", sep=b"", tail=b""):
    """Yield ``(body, points_in_body)``, each body at most ``max_bytes``.

    ``encode(p)`` gives one point's bytes. A point whose encoding cannot fit
    a body alone raises PointError once the points before it are yielded: it
    can never be sent, and the caller decides what happens to it.
    """
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

"""OpenTSDB ``/api/put`` JSON: one point to bytes, and points to bounded bodies.

Written by hand so that the board and the computer produce the same bytes:
ints stay ints, floats keep every digit (``repr``), strings are escaped the
same way everywhere (non-ASCII kept as UTF-8).

Stock OpenTSDB refuses bodies over 8192 bytes (and chunked bodies), so a
batch is cut by point count and by encoded size.
"""

DEFAULT_MAX_POINTS = 50
DEFAULT_MAX_BYTES = 8192
CONTENT_TYPE = "application/json"

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def json_str(s: str) -> str:
    """A JSON string literal; only quote, backslash and control characters escaped."""
    for c in s:
        if c in _ESCAPES or ord(c) < 32:
            break
    else:
        return '"' + s + '"'
    out = []
    for c in s:
        e = _ESCAPES.get(c)
        if e is not None:
            out.append(e)
        elif ord(c) < 32:
            out.append("\\u%04x" % ord(c))
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def json_num(v) -> str:
    if isinstance(v, float):
        return repr(v)
    return str(v)


def encode_point(p) -> bytes:
    """``{"metric":..,"timestamp":..,"value":..,"tags":{..}}`` as UTF-8 bytes."""
    tags = p.tags
    if tags:
        tag_s = ",".join(json_str(k) + ":" + json_str(tags[k]) for k in tags)
    else:
        tag_s = ""
    if p.ts is None:
        s = '{"metric":%s,"value":%s,"tags":{%s}}' % (json_str(p.metric), json_num(p.value), tag_s)
    else:
        s = '{"metric":%s,"timestamp":%d,"value":%s,"tags":{%s}}' % (
            json_str(p.metric),
            p.ts,
            json_num(p.value),
            tag_s,
        )
    return s.encode()


def encode(points) -> bytes:
    """All points as one JSON array (no size limit: see ``batches``)."""
    return b"[" + b",".join(encode_point(p) for p in points) + b"]"


def batches(points, max_points: int = DEFAULT_MAX_POINTS, max_bytes: int = DEFAULT_MAX_BYTES):
    """Yield ``(body, points_in_body)`` pairs, each body a JSON array of at most
    ``max_bytes``; a point too large to fit alone raises PointError."""
    from tspush.core.pack import pack

    return pack(points, encode_point, max_points, max_bytes, b"[", b",", b"]")

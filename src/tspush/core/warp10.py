"""Warp 10 GTS input format: one point to a line, and points to bounded bodies.

``TS/LAT:LON/ELEV class{label=value,...} VALUE`` with TS in microseconds,
location and elevation left empty: ``1700000000000000// temp{room=k} 21.5``.
Without a timestamp the line starts ``//`` and Warp 10 stamps it on arrival.

Class names, label names and label values are percent-encoded UTF-8. Warp 10
decodes them like an HTML form (``+`` would become a space), so everything
but ``A-Z a-z 0-9 - _ . /`` is encoded: the braces, comma and equals sign the
format needs, ``%`` and ``+``, spaces, and every non-ASCII byte.

Values: ints as longs (``42``), floats with every digit (``repr``: Warp 10
reads ``0.1``, ``1e+300`` and ``-2.5e-08`` as doubles), booleans ``T``/``F``.
Labels are written sorted by name (the board's dicts have no order).
"""

from tspush.core.errors import PointError
from tspush.core.pack import describe as _desc
from tspush.core.point import MAX_SECONDS

DEFAULT_MAX_POINTS = 50
DEFAULT_MAX_BYTES = 8192
CONTENT_TYPE = "text/plain; charset=utf-8"
LONG_MIN = -9223372036854775808
LONG_MAX = 9223372036854775807

_SAFE = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./"


def pct(s, what: str = "name") -> str:
    """``s`` percent-encoded as UTF-8, keeping only ``A-Z a-z 0-9 - _ . /``."""
    if not isinstance(s, str):
        raise PointError("%s %r must be a string" % (what, s), "warp10-type")
    for c in s:
        if c not in _SAFE:
            break
    else:
        return s
    out = []
    for c in s:
        if c in _SAFE:
            out.append(c)
        else:
            for b in c.encode():
                out.append("%%%02X" % b)
    return "".join(out)


def class_name(name) -> str:
    if not name:
        raise PointError("class name is empty: give the metric a name", "warp10-empty")
    return pct(name, "class name")


def labels(tags) -> str:
    """``{k=v,...}`` sorted by key, keys and values percent-encoded."""
    parts = []
    for k in sorted(tags):
        if not k:
            raise PointError("a label name is empty: give every tag a name", "warp10-empty")
        if k[0] == ".":
            raise PointError(
                "label %r starts with '.': Warp 10 keeps those names for itself; rename it" % k,
                "warp10-reserved",
            )
        parts.append(pct(k, "label name") + "=" + pct(tags[k], "label value of " + str(k)))
    return "{" + ",".join(parts) + "}"


def value(v) -> str:
    if v is True:
        return "T"
    if v is False:
        return "F"
    if isinstance(v, int):
        if v < LONG_MIN or v > LONG_MAX:
            raise PointError(
                "value %d does not fit in a Warp 10 long: send it as a float" % v,
                "warp10-long-range",
            )
        return str(v)
    if isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            raise PointError(
                "value %r is not finite: NaN and Infinity cannot be sent as text" % v,
                "value-finite",
            )
        return repr(v)
    raise PointError("value %r is not a number or boolean" % (v,), "value-type")


def timestamp_us(ts) -> int:
    """A seconds-or-milliseconds int timestamp in microseconds."""
    if ts <= MAX_SECONDS:
        return ts * 1000000
    return ts * 1000


def encode_point(p) -> bytes:
    """One line, without its newline, as UTF-8 bytes."""
    try:
        ts = "" if p.ts is None else "%d" % timestamp_us(p.ts)
        s = "%s// %s%s %s" % (ts, class_name(p.metric), labels(p.tags), value(p.value))
    except PointError as e:
        e.point = p
        e.message = "%s: %s" % (_desc(p), e.message)
        raise e
    return s.encode()


def encode(points) -> bytes:
    """All points, one line each, every line ending in a newline (no size limit)."""
    return b"".join(encode_point(p) + b"\n" for p in points)


def batches(points, max_points: int = DEFAULT_MAX_POINTS, max_bytes: int = DEFAULT_MAX_BYTES):
    """Yield ``(body, points_in_body)`` pairs, each body at most ``max_bytes``.

    Same contract as ``tspush.core.opentsdb.batches``.
    """
    from tspush.core.pack import pack

    return pack(points, _line, max_points, max_bytes)


def _line(p) -> bytes:
    return encode_point(p) + b"\n"

"""Influx line protocol: one point to a line, and points to bounded bodies.

``measurement,tag=v,tag2=v2 value=42i 1700000000000000000``

Escaping (backslash before the character):

* measurement: comma and space;
* tag keys, tag values, field keys: comma, equals sign and space;
* string field values are double-quoted, with ``"`` and ``\\`` escaped.

A backslash is kept as it is, except where engines read it differently
(at the end of a name, or right before a character that is escaped): such a
name is refused rather than stored wrong. Newlines cannot be written at all.

Tags are sorted by key (the form InfluxDB indexes fastest, and the same on
the board, whose dicts have no order). Ints are written ``42i``, floats with
every digit (``repr``). The timestamp is converted from the point's seconds
or milliseconds to the body's precision; nanoseconds by default, because
every engine reads a body without a ``precision`` parameter as nanoseconds.
A point without a timestamp is written without one (stamped on arrival).
"""

from tspush.core.errors import PointError
from tspush.core.pack import describe as _desc
from tspush.core.point import MAX_SECONDS

DEFAULT_MAX_POINTS = 50
DEFAULT_MAX_BYTES = 8192
DEFAULT_FIELD = "value"
DEFAULT_PRECISION = "ns"
CONTENT_TYPE = "text/plain; charset=utf-8"

# how many of each unit make one millisecond, or how many ms make one unit
_PER_MS = {"ns": 1000000, "us": 1000, "ms": 1}
PRECISIONS = ("s", "ms", "us", "ns")
INT64_MIN = -9223372036854775808
INT64_MAX = 9223372036854775807

_MEASUREMENT_SPECIAL = ", "
_KEY_SPECIAL = ",= "


def _escape(s, special: str, what: str):
    if not isinstance(s, str):
        raise PointError("%s %r must be a string" % (what, s), "influx-type")
    if not s:
        raise PointError("%s is empty: give it a name" % what, "influx-empty")
    if "\n" in s or "\r" in s:
        raise PointError(
            "%s %r has a line break: line protocol cannot carry one; remove it" % (what, s),
            "influx-newline",
        )
    if "\\" in s:
        n = len(s)
        for i in range(n):
            if s[i] == "\\" and (i + 1 == n or s[i + 1] in special):
                raise PointError(
                    "%s %r has a backslash at its end or before %r: engines read that "
                    "differently; remove the backslash" % (what, s, special),
                    "influx-backslash",
                )
    for c in special:
        if c in s:
            break
    else:
        return s
    out = []
    for c in s:
        if c in special:
            out.append("\\")
        out.append(c)
    return "".join(out)


def measurement(name) -> str:
    """The measurement with commas and spaces escaped."""
    if isinstance(name, str) and name[:1] == "#":
        raise PointError(
            "measurement %r starts with '#': line protocol reads that line as a comment; rename it"
            % name,
            "influx-comment",
        )
    return _escape(name, _MEASUREMENT_SPECIAL, "measurement")


def key(name, what: str = "tag key") -> str:
    """A tag key, tag value or field key with commas, equals signs and spaces escaped."""
    return _escape(name, _KEY_SPECIAL, what)


def quote(s: str) -> str:
    """A string field value: in double quotes, with ``"`` and ``\\`` escaped."""
    if '"' in s or "\\" in s:
        s = s.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + s + '"'


def field_value(v) -> str:
    """``42i`` for ints, ``repr`` for floats, ``true``/``false``, quoted strings."""
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        if v < INT64_MIN or v > INT64_MAX:
            raise PointError(
                "value %d does not fit in a 64-bit integer: send it as a float" % v,
                "influx-int-range",
            )
        return "%di" % v
    if isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            raise PointError(
                "value %r is not finite: line protocol cannot carry NaN or Infinity" % v,
                "value-finite",
            )
        return repr(v)
    if isinstance(v, str):
        return quote(v)
    raise PointError("value %r is not a number, boolean or string" % (v,), "value-type")


def timestamp(ts, precision: str = DEFAULT_PRECISION) -> int:
    """A seconds-or-milliseconds int timestamp in ``precision`` units (s, ms, us, ns).

    Milliseconds written with ``precision="s"`` are cut to the whole second.
    """
    ms = ts * 1000 if ts <= MAX_SECONDS else ts
    if precision == "s":
        return ms // 1000
    per = _PER_MS.get(precision)
    if per is None:
        raise PointError(
            "precision %r: use one of %s" % (precision, ", ".join(PRECISIONS)), "precision"
        )
    return ms * per


def encode_point(p, precision: str = DEFAULT_PRECISION, field: str = DEFAULT_FIELD) -> bytes:
    """One line, without its newline, as UTF-8 bytes."""
    try:
        parts = [measurement(p.metric)]
        tags = p.tags
        for k in sorted(tags):
            parts.append(key(k) + "=" + key(tags[k], "tag value of " + str(k)))
        s = ",".join(parts) + " " + key(field, "field key") + "=" + field_value(p.value)
        if p.ts is not None:
            s += " %d" % timestamp(p.ts, precision)
    except PointError as e:
        e.point = p
        e.message = "%s: %s" % (_desc(p), e.message)
        raise e
    return s.encode()


def encode(points, precision: str = DEFAULT_PRECISION, field: str = DEFAULT_FIELD) -> bytes:
    """All points, one line each, every line ending in a newline (no size limit)."""
    return b"".join(encode_point(p, precision, field) + b"\n" for p in points)


def batches(
    points,
    max_points: int = DEFAULT_MAX_POINTS,
    max_bytes: int = DEFAULT_MAX_BYTES,
    precision: str = DEFAULT_PRECISION,
    field: str = DEFAULT_FIELD,
):
    """Yield ``(body, points_in_body)`` pairs, each body at most ``max_bytes``.

    Same contract as ``tspush.core.opentsdb.batches``: a point that cannot be
    encoded, or that alone is over ``max_bytes``, raises PointError.
    """
    from tspush.core.pack import pack

    def line(p):
        return encode_point(p, precision, field) + b"\n"

    return pack(points, line, max_points, max_bytes)

"""Text forms of points: OpenTSDB telnet ``put`` lines and plain ``metric value``.

``put sys.cpu.user 1356998400 42.5 host=webserver01 cpu=0``
``sys.cpu.user 42.5`` (no timestamp: stamped on arrival or by the caller)
"""

from tspush.core.errors import PointError
from tspush.core.point import LENIENT, Point, validate


def number(text: str, what: str = "value"):
    try:
        if "." in text or "e" in text or "E" in text or "n" in text.lower():
            return float(text)
        return int(text)
    except ValueError:
        raise PointError("%s %r is not a number" % (what, text), "value-type")


def _tags(words, line: str) -> dict:
    tags = {}
    for w in words:
        k, sep, v = w.partition("=")
        if not sep:
            raise PointError(
                "line %r: tag %r is not key=value" % (line, w),
                "tag-format",
            )
        tags[k] = v
    return tags


def parse_line(line: str, mode: str = LENIENT, now_s=None):
    """One line to a Point; None for blank lines and ``#`` comments."""
    s = line.strip()
    if not s or s[0] == "#":
        return None
    words = s.split()
    if words[0] == "put":
        if len(words) < 4:
            raise PointError(
                "line %r: a put line is 'put METRIC TIMESTAMP VALUE [k=v ...]'" % line,
                "line-format",
            )
        metric = words[1]
        ts = None if words[2] in ("now", "-") else number(words[2], "timestamp")
        if ts is not None and not isinstance(ts, int):
            raise PointError("line %r: timestamp must be an integer" % line, "timestamp-type")
        value = number(words[3])
        tags = _tags(words[4:], line)
    else:
        if len(words) < 2:
            raise PointError(
                "line %r: expected 'METRIC VALUE [k=v ...]' or a 'put' line" % line,
                "line-format",
            )
        metric = words[0]
        value = number(words[1])
        ts = None
        tags = _tags(words[2:], line)
    return validate(Point(metric, value, ts, tags), mode).stamped(now_s)


def format_put(p) -> str:
    """The telnet ``put`` form of a point (timestamp must be set)."""
    tags = " ".join("%s=%s" % (k, p.tags[k]) for k in p.tags)
    v = repr(p.value) if isinstance(p.value, float) else str(p.value)
    return ("put %s %d %s %s" % (p.metric, p.ts, v, tags)).rstrip()

"""A data point and the rules a point must follow before it may be sent.

Two rule sets:

* ``STRICT``: real OpenTSDB 2.x. Metric, tag keys and values use
  ``a-z A-Z 0-9 - _ . /`` and Unicode letters; 1 to 8 tags; an integer
  timestamp (seconds, or milliseconds with 13 digits: anything above
  4294967295 is milliseconds); the value an int or a finite float.
* ``LENIENT``: what OVH Metrics and VictoriaMetrics accept: no tags is fine
  and a missing timestamp means "stamp it on arrival", as the original board did.
* ``OPEN``: Influx line protocol and remote write, whose names may hold any
  UTF-8 (spaces too: the encoder escapes them); only control characters and
  empty names are refused. OpenTSDB's character rules apply to OpenTSDB alone.

Timestamps are kept as ints exactly as given (seconds or milliseconds), never
as floats: an ESP8266 float has about 7 significant digits.
"""

from tspush.core.errors import PointError

STRICT = "strict"
LENIENT = "lenient"
OPEN = "open"
MODES = (STRICT, LENIENT, OPEN)

MAX_SECONDS = 4294967295
MAX_MS = 9999999999999
MAX_TAGS_STRICT = 8

_ASCII_OK = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./"
# MicroPython's str.isalpha() knows ASCII only; there any non-ASCII character
# that is not a space or control is taken as a letter and the server decides.
_UNICODE_AWARE = "\u00e9".isalpha()


# Where the interpreter calls a class's __setattr__ it also has object.__setattr__
# (CPython, the unix port, ESP32, RP2040); the ESP8266 build has neither, so there
# a Point is kept unchanged by convention alone (no code assigns to one).
_put = getattr(object, "__setattr__", None)


class Point:
    """One reading: metric, value, optional int timestamp, tags (str -> str).

    A point is never changed after it is made (assigning raises AttributeError):
    ``with_ts``, ``stamped`` and ``with_tags`` return a new one. Code that
    keeps a point (a RAM queue, a batch in flight) can rely on it staying as it
    was; the tags dict is shared with the copies, so it is never written to either.
    """

    __slots__ = ("metric", "value", "ts", "tags")

    def __init__(self, metric, value, ts=None, tags=None):
        if tags is None:
            tags = {}
        put = _put
        if put is None:
            self.metric = metric
            self.value = value
            self.ts = ts
            self.tags = tags
        else:
            put(self, "metric", metric)
            put(self, "value", value)
            put(self, "ts", ts)
            put(self, "tags", tags)

    def __setattr__(self, name, value):
        raise AttributeError("a Point cannot be changed (%s): use with_ts or with_tags" % name)

    def __delattr__(self, name):
        raise AttributeError("a Point cannot be changed (%s)" % name)

    def __eq__(self, other) -> bool:
        return (
            isinstance(other, Point)
            and self.metric == other.metric
            and self.value == other.value
            and type(self.value) is type(other.value)
            and self.ts == other.ts
            and self.tags == other.tags
        )

    def __repr__(self) -> str:
        return "Point(%r, %r, ts=%r, tags=%r)" % (self.metric, self.value, self.ts, self.tags)

    def with_ts(self, ts) -> "Point":
        """The same reading at ``ts``."""
        return Point(self.metric, self.value, ts, self.tags)

    def stamped(self, ts) -> "Point":
        """This point when it has a timestamp (or ``ts`` is None), else it at ``ts``."""
        if self.ts is not None or ts is None:
            return self
        return Point(self.metric, self.value, ts, self.tags)

    def with_tags(self, defaults) -> "Point":
        """This point with ``defaults`` added under its own tags (its own win)."""
        return with_tags(self, defaults)

    def describe(self) -> str:
        """Short human form used in error messages: ``metric{k=v} = value @ ts``."""
        tags = ",".join("%s=%s" % (k, self.tags[k]) for k in sorted(self.tags))
        if self.ts is None:  # the server stamps it
            return "%s{%s} = %r" % (self.metric, tags, self.value)
        return "%s{%s} = %r @ %s" % (self.metric, tags, self.value, self.ts)

    def ts_ms(self):
        """The timestamp in milliseconds, or None when the server is to stamp it."""
        return ts_to_ms(self.ts)

    def to_dict(self) -> dict:
        d = {"metric": self.metric, "value": self.value, "tags": self.tags}
        if self.ts is not None:
            d["timestamp"] = self.ts
        return d


def ts_to_ms(ts):
    if ts is None:
        return None
    if ts > MAX_SECONDS:
        return ts
    return ts * 1000


def point_from_dict(d, mode: str = LENIENT, now_s=None) -> Point:
    """Build a point from an OpenTSDB JSON object, checking types on the way."""
    if not isinstance(d, dict):
        # the type, not the value: the repr of a deeply nested list would recurse
        raise PointError(
            "a data point must be a JSON object, got a %s" % type(d).__name__, "object"
        )
    metric = d.get("metric")
    value = d.get("value")
    ts = d.get("timestamp")
    tags = d.get("tags")
    if tags is None:
        tags = {}
    if isinstance(value, str):
        value = _number_from_str(value, metric)
    if isinstance(ts, str):
        try:
            ts = int(ts)
        except ValueError:
            raise PointError(
                "%s: timestamp %r is not an integer: send Unix seconds or milliseconds"
                % (metric, ts),
                "timestamp",
            )
    return validate(Point(metric, value, ts, tags), mode).stamped(now_s)


def _number_from_str(text: str, metric):
    try:
        if "." in text or "e" in text or "E" in text:
            return float(text)
        return int(text)
    except ValueError:
        raise PointError(
            "%s: value %r is not a number: send an integer or a decimal" % (metric, text), "value"
        )


def _name_problem(what: str, name, mode=LENIENT):
    """``(message_tail, rule)`` when ``name`` is not a valid name, else None."""
    if not isinstance(name, str):
        return "%s must be a string, got %r" % (what, name), what + "-type"
    if not name:
        return "%s is empty: give it a name" % what, what + "-empty"
    for c in name:
        if c in _ASCII_OK:
            continue
        o = ord(c)
        if mode == OPEN:
            if o < 32 or o == 127:
                return (
                    "%s %r has the control character %r: remove it" % (what, name, c),
                    what + "-control",
                )
            continue
        if o > 127 and (c.isalpha() if _UNICODE_AWARE else (o > 159 and not c.isspace())):
            continue
        return (
            "%s %r has the character %r: use only a-z A-Z 0-9 - _ . / and letters"
            % (what, name, c),
            what + "-chars",
        )
    return None


def _problem(p: Point, mode: str):
    """``(message_tail, rule)`` for the first rule ``p`` breaks, or None.

    Kept free of string building on the good path: it runs for every point.
    """
    bad = _name_problem("metric", p.metric, mode)
    if bad:
        return bad
    bad = reading_problem(p.value, p.ts, mode)
    if bad:
        return bad
    tags = p.tags
    if not isinstance(tags, dict):
        return "tags must be a map of names to values", "tags-type"
    if mode == STRICT:
        if not tags:
            return (
                "no tags: OpenTSDB needs at least one tag (set a default tag such as host=...)",
                "tags-missing",
            )
        if len(tags) > MAX_TAGS_STRICT:
            return (
                "%d tags: OpenTSDB allows at most %d" % (len(tags), MAX_TAGS_STRICT),
                "tags-too-many",
            )
    for k in tags:
        bad = _name_problem("tag key", k, mode)
        if bad:
            return bad
        bad = _name_problem("tag value", tags[k], mode)
        if bad:
            return "tag %s: %s" % (k, bad[0]), bad[1]
    return None


def reading_problem(v, ts, mode: str):
    """The value and timestamp part of ``_problem``: all a known series needs checked."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return "value %r is not a number: send an int or a float" % (v,), "value-type"
    if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
        return "value %r is not finite: NaN and Infinity cannot be stored" % v, "value-finite"
    if ts is None:
        if mode == STRICT:
            return (
                "no timestamp: OpenTSDB needs one (Unix seconds or milliseconds)",
                "timestamp-missing",
            )
    elif isinstance(ts, bool) or not isinstance(ts, int):
        return (
            "timestamp %r is not an integer: send Unix seconds or milliseconds" % (ts,),
            "timestamp-type",
        )
    elif ts <= 0 or ts > MAX_MS:
        return (
            "timestamp %d is out of range: use Unix seconds (10 digits) or milliseconds "
            "(13 digits)" % ts,
            "timestamp-range",
        )
    return None


def check(p: Point, mode: str = LENIENT):
    """Return a PointError for the first rule ``p`` breaks, or None."""
    bad = _problem(p, mode)
    if bad is None:
        return None
    return PointError("%s: %s" % (_safe_desc(p), bad[0]), bad[1])


def validate(p: Point, mode: str = LENIENT) -> Point:
    """Raise PointError naming the point and the rule it breaks; return ``p`` when fine."""
    err = check(p, mode)
    if err is not None:
        err.point = p
        raise err
    return p


def _safe_desc(p: Point) -> str:
    try:
        return p.describe()
    except Exception:
        return repr(p.metric)


def with_tags(p: Point, defaults) -> Point:
    """``p`` with default tags added (the point's own win); ``p`` itself when none are new."""
    if not defaults:
        return p
    own = p.tags
    for k in defaults:
        if k not in own:
            break
    else:
        return p
    tags = dict(defaults)
    tags.update(p.tags)
    return Point(p.metric, p.value, p.ts, tags)

"""Making points ready to send: the one step every entry point takes.

The agent's sources, ``tspush push``, the relay and the board's slow path all
call ``Preparer.prepare``: a point without a time is stamped, default tags go
under its own, a destination that wants one gets ``host=`` on a point left
without tags, and the result is checked in the destination's mode
(``core.point``: strict, lenient, open). A series (metric and tags) that
passed once is remembered, so a source reading the same series again only
has its value and timestamp checked; the cache is bounded.
"""

from tspush.core.errors import PointError
from tspush.core.point import LENIENT, Point, check, reading_problem, with_tags

MAX_SERIES = 50000


class Preparer:
    """``prepare(point, now) -> ready point`` for one destination's rules.

    ``tags``: default tags (a point's own win); ``host``: the ``host`` tag
    value for points with no tags (None: none added); ``clock``: where a
    point without a time is stamped when the caller gives no ``now`` (None:
    the server stamps it on arrival); ``max_series``: the series remembered
    (0: none, as on the board).
    """

    def __init__(self, mode=LENIENT, tags=None, host=None, clock=None, max_series=MAX_SERIES):
        self.mode = mode
        self.tags = tags or {}
        self.host = host
        self.clock = clock
        self.max_series = max_series
        self.series = {}

    def prepare(self, p, now=None):
        """``p`` ready to send (``p`` itself when nothing is added), else raise the
        PointError naming the point and the rule; its ``point`` is ``p`` as given."""
        q = p
        if q.ts is None:
            if now is None and self.clock is not None:
                now = int(self.clock())
            q = q.stamped(now)
        q = with_tags(q, self.tags)
        if self.host is not None and not q.tags:
            q = Point(q.metric, q.value, q.ts, {"host": self.host})
        err = self.check(q)
        if err is not None:
            err.point = p
            raise err
        return q

    def check(self, p):
        """``core.point.check`` in this mode, a known series checked by its reading only."""
        if self.max_series <= 0:
            return check(p, self.mode)
        known = self.known(p.metric, p.tags)
        if known and reading_problem(p.value, p.ts, self.mode) is None:
            return None
        err = check(p, self.mode)
        if err is None and not known:
            self.remember(p.metric, p.tags)
        return err

    def known(self, metric, tags):
        """Whether the series (``metric`` and ``tags``) passed the full check before:
        the one series cache (the receiver's ingest keeps its own memo in a Preparer)."""
        try:
            return (metric,) + tuple(tags.items()) in self.series
        except (TypeError, AttributeError):  # unhashable names: the full check says why
            return False

    def remember(self, metric, tags):
        """Note a series that passed the full check; all are forgotten when the cache is full."""
        if self.max_series > 0:
            if len(self.series) >= self.max_series:
                self.series = {}
            self.series[(metric,) + tuple(tags.items())] = True

    def split(self, points, now=None):
        """``(ready, refused)``: the points that passed and the PointErrors of the rest."""
        ok = []
        refused = []
        for p in points:
            try:
                ok.append(self.prepare(p, now))
            except PointError as e:
                refused.append(e)
        return ok, refused

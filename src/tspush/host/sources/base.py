"""What every source shares: a name, an interval, default tags, and tag hygiene."""

from __future__ import annotations

from tspush.core.point import Point, with_tags
from tspush.host.options import Option

_TAG_OK = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./")


def clean_tag(value: str) -> str:
    """A tag value OpenTSDB accepts: other characters become ``_``; never empty."""
    out = "".join(c if c in _TAG_OK or (ord(c) > 127 and c.isalpha()) else "_" for c in value)
    return out or "_"


COMMON_OPTIONS = (
    Option("type", "str", None, "which source (required)"),
    Option("name", "str", None, "names it in logs, state and self-metrics (default: the type)"),
    Option("interval_s", "pos", None, "seconds between readings (default: [agent] interval_s)"),
    Option("tags", "tags", {}, "added to each of its points; a point's own tags win"),
)


class Source:
    """Base class: subclasses implement ``sample(now_s)``; ``read`` adds the tags.

    A subclass declares its own keys once in ``OPTIONS`` (the config check,
    ``--check``, the docs table and the sample config come from them) and
    says what it reads in ``about``.
    """

    kind = "source"
    about = ""
    OPTIONS: tuple[Option, ...] = ()

    def __init__(
        self, name: str | None = None, interval_s: float = 10.0, tags: dict[str, str] | None = None
    ) -> None:
        if interval_s <= 0:
            raise ValueError(f"interval_s must be > 0, got {interval_s!r}")
        self.name = name or self.kind
        self.interval_s = float(interval_s)
        self.tags = dict(tags or {})

    def sample(self, now_s: int) -> list[Point]:
        raise NotImplementedError

    def read(self, now_s: int) -> list[Point]:
        """This interval's points, stamped ``now_s`` unless they carry a time, with tags added."""
        return self.add_tags([p.stamped(now_s) for p in self.sample(now_s)])

    def add_tags(self, points: list[Point]) -> list[Point]:
        """New points with the source's tags added (the point's own win)."""
        tags = self.tags
        return [with_tags(p, tags) for p in points] if tags else points

    def close(self) -> None:
        """Release what the source holds (threads, pipes); default: nothing."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, interval_s={self.interval_s})"
